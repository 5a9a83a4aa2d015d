//! From the URL given to `WebSocket::new` to what the handshake needs: the
//! URL is ws-proto's [`WsUrl`] (one parser for ws-client and ws-tokio);
//! what is this crate's own is where to connect.

use std::net::SocketAddr;

use ws_mio::Resolver;
use ws_proto::{UrlError, WsUrl};

use crate::error::Error;

pub(crate) use ws_proto::without_credentials;

/// A usable `ws://` or `wss://` URL, taken apart.
pub(crate) type Target = WsUrl;

impl From<UrlError> for Error {
    fn from(e: UrlError) -> Self {
        Error::InvalidUrl {
            url: e.url,
            reason: e.reason,
        }
    }
}

/// The addresses to try, in order: the IP literal, or what `resolve` (by
/// default the system resolver) answers for the host.
pub(crate) fn addresses(
    target: &Target,
    resolve: Option<&Resolver>,
) -> Result<Vec<SocketAddr>, Error> {
    if let Some(ip) = target.ip {
        return Ok(vec![SocketAddr::new(ip, target.port)]);
    }
    Resolver::lookup(resolve, &target.host, target.port).map_err(|error| Error::Resolve {
        host: target.host.clone(),
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_literals_need_no_resolving() {
        let t = Target::parse("ws://[::1]:9001/").unwrap();
        assert_eq!(
            addresses(&t, None).unwrap(),
            vec!["[::1]:9001".parse().unwrap()]
        );
        let t = Target::parse("ws://127.0.0.1:1234").unwrap();
        assert_eq!(addresses(&t, None).unwrap()[0].port(), 1234);
    }

    #[test]
    fn a_refused_url_is_invalid_url_without_credentials() {
        let e = Error::from(Target::parse("http://u:pw@example.com/").unwrap_err());
        match e {
            Error::InvalidUrl { url, reason } => {
                assert_eq!(url, "http://example.com/");
                assert!(reason.contains("scheme"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
}
