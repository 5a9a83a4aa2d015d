//! Extensions (RFC 6455 section 9): the one place where they are offered,
//! negotiated and told to the framing layer.
//!
//! None is implemented yet, so a client offers nothing, refuses any extension
//! a server accepts (section 9.1: the server may only answer with extensions
//! the client offered), and a server accepts none. permessage-deflate
//! (RFC 7692) plugs in here: its offer, its answer, the RSV1 bit it defines
//! ([`Negotiated::rsv_bits`]), and the per-message transform the reader and
//! writer will call.

use crate::error::HandshakeError;
use crate::handshake::Headers;

/// The extensions in force on a connection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Negotiated {}

impl Negotiated {
    /// The RSV bits (RSV1 = 0b100) that negotiated extensions give a meaning
    /// to; a frame with any other RSV bit set is a protocol error.
    pub(crate) fn rsv_bits(&self) -> u8 {
        0
    }
}

/// The client's `Sec-WebSocket-Extensions` offer, if any.
pub(crate) fn client_offer() -> Option<String> {
    None
}

/// Checks the server's `Sec-WebSocket-Extensions` answer against the offer.
pub(crate) fn negotiate_client(response: &Headers) -> Result<Negotiated, HandshakeError> {
    match response.list("sec-websocket-extensions").next() {
        Some(accepted) => Err(HandshakeError::UnexpectedExtension(accepted.to_owned())),
        None => Ok(Negotiated::default()),
    }
}

/// Chooses among the client's offers; returns what is in force and the
/// answer header's value.
pub(crate) fn negotiate_server(_request: &Headers) -> (Negotiated, Option<String>) {
    (Negotiated::default(), None)
}
