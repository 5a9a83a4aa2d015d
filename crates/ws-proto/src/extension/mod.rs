//! Extensions (RFC 6455 section 9): the one place where they are offered,
//! negotiated and told to the framing layer.
//!
//! permessage-deflate (RFC 7692) is the only one: a client offers it when
//! [`Config::deflate`] is set, and refuses any other extension a server
//! accepts (section 9.1: the server may only answer with extensions the
//! client offered); a server with [`Config::deflate`] set accepts the first
//! permessage-deflate offer it can honour. What is agreed gives RSV1 its
//! meaning ([`Negotiated::rsv_bits`]) and sets up the codec the reader and
//! writer call ([`deflate::codec`]).
//!
//! Without the `deflate` feature, [`Config::deflate`] is read as `None`
//! ([`deflate_config`]): nothing is offered or accepted, and a server's
//! permessage-deflate answer is an unexpected extension like any other.
//! Negotiation is compiled either way (it needs no flate2), so only the
//! codec has a stand-in.

pub(crate) mod deflate;
mod header;

use crate::config::Config;
use crate::connection::Role;
use crate::error::HandshakeError;
use crate::handshake::Headers;

use deflate::codec::{Deflater, Inflater};
pub use deflate::{DeflateConfig, DeflateParams};

/// RSV1, which permessage-deflate sets on the first frame of a compressed
/// message (RFC 7692 section 6).
pub(crate) const RSV1: u8 = 0b100;

/// The extensions in force on a connection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Negotiated {
    pub(crate) deflate: Option<DeflateParams>,
}

impl Negotiated {
    /// The RSV bits (RSV1 = 0b100) that negotiated extensions give a meaning
    /// to; a frame with any other RSV bit set is a protocol error.
    pub(crate) fn rsv_bits(&self) -> u8 {
        if self.deflate.is_some() { RSV1 } else { 0 }
    }

    /// The compressor for what `role` sends and the decompressor for what
    /// it receives, when permessage-deflate is in force.
    #[cfg(feature = "deflate")]
    pub(crate) fn codecs(&self, role: Role, config: &Config) -> Option<(Deflater, Inflater)> {
        let (params, config) = (self.deflate?, deflate_config(config)?);
        let client = (
            params.client_max_window_bits,
            params.client_no_context_takeover,
        );
        let server = (
            params.server_max_window_bits,
            params.server_no_context_takeover,
        );
        let (sent, received) = match role {
            Role::Client => (client, server),
            Role::Server => (server, client),
        };
        Some((
            Deflater::new(sent.0, sent.1, config),
            Inflater::new(received.0, received.1),
        ))
    }

    /// Never any codec: without the feature nothing is negotiated.
    #[cfg(not(feature = "deflate"))]
    pub(crate) fn codecs(&self, _role: Role, _config: &Config) -> Option<(Deflater, Inflater)> {
        None
    }
}

/// The permessage-deflate settings in force: [`Config::deflate`], or `None`
/// when the crate is built without the `deflate` feature (the field stays so
/// that code setting it compiles under every feature set).
fn deflate_config(config: &Config) -> Option<&DeflateConfig> {
    if cfg!(feature = "deflate") {
        config.deflate.as_ref()
    } else {
        None
    }
}

/// The client's `Sec-WebSocket-Extensions` offer, if any.
pub(crate) fn client_offer(config: &Config) -> Option<String> {
    deflate_config(config).map(deflate::negotiate::offer)
}

/// Checks the server's `Sec-WebSocket-Extensions` answer against the offer.
pub(crate) fn negotiate_client(
    config: &Config,
    response: &Headers,
) -> Result<Negotiated, HandshakeError> {
    let invalid = |why: String| HandshakeError::InvalidExtension(why);
    let elements = header::parse(response).map_err(invalid)?;
    let mut negotiated = Negotiated::default();
    for element in elements {
        let offered =
            deflate_config(config).filter(|_| element.name.eq_ignore_ascii_case(deflate::NAME));
        let Some(offered) = offered else {
            return Err(HandshakeError::UnexpectedExtension(element.name));
        };
        if negotiated.deflate.is_some() {
            return Err(invalid(format!("{} accepted twice", deflate::NAME)));
        }
        let params = deflate::negotiate::check_answer(offered, &element.params)
            .map_err(|why| invalid(format!("{}: {why}", deflate::NAME)))?;
        negotiated.deflate = Some(params);
    }
    Ok(negotiated)
}

/// Chooses among the client's offers; returns what is in force and the
/// answer header's value. A header that does not parse declines them all.
pub(crate) fn negotiate_server(config: &Config, request: &Headers) -> (Negotiated, Option<String>) {
    let Some(deflate_config) = deflate_config(config) else {
        return (Negotiated::default(), None);
    };
    let offers = header::parse(request).unwrap_or_default();
    let accepted = offers
        .iter()
        .filter(|offer| offer.name.eq_ignore_ascii_case(deflate::NAME))
        .find_map(|offer| deflate::negotiate::answer_offer(deflate_config, &offer.params));
    match accepted {
        Some((params, answer)) => (
            Negotiated {
                deflate: Some(params),
            },
            Some(answer),
        ),
        None => (Negotiated::default(), None),
    }
}
