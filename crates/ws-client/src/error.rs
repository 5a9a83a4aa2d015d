//! Errors, and the error stack an `on_error` event carries.
//!
//! # Error codes
//!
//! Every [`ErrorItem`] has a numeric code (`errCode`), a message and the
//! signature of the component that raised it (`componentSignature`). The
//! stack starts with this crate's summary and goes down to the cause.
//!
//! | component     | code   | meaning |
//! |---------------|--------|---------|
//! | `ws-client`   | 1      | invalid URL |
//! | `ws-client`   | 2      | invalid request: header, cookie, subprotocol, host |
//! | `ws-client`   | 3      | the host name did not resolve |
//! | `ws-client`   | 4      | not connected (send while connecting or after closing) |
//! | `ws-client`   | 5      | invalid close code for `terminate` (1000 or 3000-4999) |
//! | `ws-client`   | 6      | close reason longer than 123 bytes |
//! | `ws-client`   | 7      | the value to send could not be serialized to JSON |
//! | `ws-client`   | 8      | write buffer full (back-pressure) |
//! | `ws-client`   | 9      | the worker or event loop has stopped |
//! | `ws-client`   | 10     | invalid TLS configuration, or `wss://` in a build without the `tls` feature |
//! | `ws-client`   | 11     | other send error (see the message) |
//! | `ws-client`   | 12     | invalid proxy setting (URL, unsupported scheme, credentials too long) |
//! | `ws-client`   | 13     | settings that cannot work together (reconnecting over a caller's stream) |
//! | `ws-client`   | 20     | the connection could not be made (resolve, TCP, timeout) |
//! | `ws-client`   | 21     | TLS failed (certificate not trusted, expired, wrong host...) |
//! | `ws-client`   | 22     | the opening handshake failed (rejected, malformed answer, an extension answer that was not offered or is invalid: `HandshakeError::InvalidExtension`) |
//! | `ws-client`   | 23     | the server violated the protocol (including permessage-deflate's rules: `CompressedControlFrame` and `CompressedContinuation` close 1002, `InvalidCompressedData` 1007, a message inflating past the limit 1009) |
//! | `ws-client`   | 24     | the connection was lost without a closing handshake |
//! | `ws-client`   | 25     | a timeout fired (handshake, close, keepalive) |
//! | `ws-client`   | 26     | a received text message is not valid JSON (data type "object") |
//! | `ws-client`   | 27     | the socket failed while streaming |
//! | `ws-client`   | 28     | the event loop's memory budget was exhausted by this connection's input |
//! | `ws-client`   | 29     | the proxy could not be reached (its name did not resolve, TCP failed or timed out) |
//! | `ws-client`   | 30     | the proxy did not open the tunnel (refused, authentication failed, closed, garbage) |
//! | `ws-client`   | 31     | the proxy did not open the tunnel within the proxy timeout |
//! | `ws-client`   | 32     | more redirects in a row than [`Builder::follow_redirects`](crate::Builder::follow_redirects) allows |
//! | `ws-client`   | 33     | a redirect that cannot be followed (no or unusable `Location`, another scheme, a downgrade to `ws://`) |
//! | `os`          | errno  | the operating system's error number (111: connection refused...) |
//! | `rustls`      | 1      | invalid certificate |
//! | `rustls`      | 2      | other TLS error |
//! | `rustls`      | 3      | the TLS handshake did not complete within the handshake timeout |
//! | `ws-proto`    | 1000-4999 | a protocol violation: the close code sent (1002, 1007, 1009...) |
//! | `ws-proto`    | 100-599 | the handshake was answered with this HTTP status |
//! | `ws-proto`    | 0      | other handshake, timeout or connection-lost detail |
//! | `proxy`       | 100-599 | the HTTP proxy answered CONNECT with this status (407: credentials wanted) |
//! | `proxy`       | 1-255  | the SOCKS5 proxy refused with this reply code (RFC 1928: 2 not allowed, 5 refused...) |
//! | `proxy`       | 0      | other proxy failure (see the message) |
//! | `ws-mio`      | 1      | TCP connect timed out |
//! | `ws-mio`      | 2      | the loop's memory budget (the bytes held and the budget are in the message) |
//! | `ws-mio`      | 3      | the proxy did not open the tunnel in time |
//! | `serde_json`  | line   | the JSON error, at this line of the input |

use std::fmt;
use std::io;

#[cfg(feature = "json")]
use serde::Serialize;

use crate::socket::Status;

/// One entry of an error stack, with the 4D field names when serialized
/// (`errCode`, `message`, `componentSignature`).
///
/// ```
/// let stack = ws_client::Error::NotConnected(ws_client::Status::Closed).stack();
/// assert_eq!(stack[0].err_code, 4);
/// assert_eq!(stack[0].component_signature, "ws-client");
/// assert_eq!(
///     serde_json::to_value(&stack[0]).unwrap()["componentSignature"],
///     "ws-client"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "json", derive(Serialize))]
#[cfg_attr(feature = "json", serde(rename_all = "camelCase"))]
pub struct ErrorItem {
    /// The code; its meaning depends on the component (see the table in
    /// the [module documentation](self)).
    pub err_code: i64,
    /// What went wrong, in words.
    pub message: String,
    /// The component that raised it: `ws-client`, `ws-mio`, `ws-proto`,
    /// `rustls`, `os` or `serde_json`.
    pub component_signature: &'static str,
}

impl ErrorItem {
    fn new(component: &'static str, code: i64, message: impl Into<String>) -> Self {
        Self {
            err_code: code,
            message: message.into(),
            component_signature: component,
        }
    }
}

/// What can go wrong: returned by [`WebSocket::new`](crate::WebSocket::new),
/// `send` and `terminate`, or reported (inside an
/// [`ErrorEvent`](crate::ErrorEvent)) once a connection has started.
///
/// ```
/// use ws_client::{Callbacks, Error, WebSocket};
///
/// match WebSocket::new("http://example.com/", Callbacks::new()) {
///     Err(e @ Error::InvalidUrl { .. }) => {
///         assert_eq!(e.code(), 1);
///         assert!(e.to_string().contains("scheme"));
///     }
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The URL cannot be used.
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// A header, cookie, subprotocol or host in the request is invalid.
    InvalidRequest(ws_proto::RequestError),
    /// The host name did not resolve.
    Resolve {
        /// The host that was looked up.
        host: String,
        /// Why it failed.
        error: io::Error,
    },
    /// The connection is not open: nothing was sent.
    NotConnected(Status),
    /// `terminate` accepts 1000 or a code in 3000-4999.
    InvalidCloseCode(u16),
    /// `terminate` accepts a reason of at most 123 bytes of UTF-8.
    ReasonTooLong(usize),
    /// The value to send could not be serialized to JSON.
    #[cfg(feature = "json")]
    #[cfg_attr(docsrs, doc(cfg(feature = "json")))]
    Serialize(serde_json::Error),
    /// The write buffer would go over its limit: nothing was queued.
    WriteBufferFull {
        /// Bytes already queued.
        buffered: usize,
        /// Bytes the message needs.
        needed: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The worker or event loop the connection belongs to has stopped.
    Stopped,
    /// The TLS configuration could not be built.
    TlsConfig(String),
    /// The proxy setting cannot be used (an invalid URL, an `https://`
    /// proxy, credentials SOCKS5 cannot carry).
    InvalidProxy(ws_proto::proxy::ProxyError),
    /// Another refusal from the protocol layer.
    Send(ws_proto::SendError),
    /// The connection failed after it had started (connect, TLS,
    /// handshake, protocol, transport, timeout).
    Connection(ws_mio::Error),
    /// A text message received with the data type "object" is not JSON.
    #[cfg(feature = "json")]
    #[cfg_attr(docsrs, doc(cfg(feature = "json")))]
    InvalidJson(serde_json::Error),
    /// Settings that cannot work together.
    Unsupported(&'static str),
    /// The server redirected more times in a row than allowed.
    TooManyRedirects {
        /// The limit.
        max: u32,
        /// Where the last redirect led (without credentials).
        location: String,
    },
    /// A redirect that cannot be followed.
    InvalidRedirect {
        /// The HTTP status of the redirect.
        status: u16,
        /// Its `Location` (without credentials).
        location: String,
        /// Why it cannot be followed.
        reason: String,
    },
}

impl Error {
    /// This error's code in the `ws-client` rows of the table above.
    pub fn code(&self) -> i64 {
        use ws_mio::Error as M;
        use ws_proto::Error as P;
        match self {
            Self::InvalidUrl { .. } => 1,
            Self::InvalidRequest(_) => 2,
            Self::Resolve { .. } => 3,
            Self::NotConnected(_) => 4,
            Self::InvalidCloseCode(_) => 5,
            Self::ReasonTooLong(_) => 6,
            #[cfg(feature = "json")]
            Self::Serialize(_) => 7,
            Self::WriteBufferFull { .. } => 8,
            Self::Stopped | Self::Connection(M::LoopStopped) => 9,
            Self::TlsConfig(_)
            | Self::Connection(M::TlsConfig(_))
            | Self::Connection(M::TlsUnavailable) => 10,
            Self::Send(_) => 11,
            Self::InvalidProxy(_) => 12,
            Self::Unsupported(_) => 13,
            Self::TooManyRedirects { .. } => 32,
            Self::InvalidRedirect { .. } => 33,
            Self::Connection(e) => match e {
                M::Resolve { .. }
                | M::Connect { .. }
                | M::ConnectPath { .. }
                | M::ConnectTimeout => 20,
                #[cfg(feature = "tls")]
                M::Tls(_) => 21,
                M::Protocol(P::Handshake(_)) | M::Request(_) => 22,
                M::Protocol(P::Protocol(_)) => 23,
                M::Protocol(P::ConnectionLost | P::Transport) => 24,
                M::Protocol(P::Timeout(_)) | M::TlsTimeout => 25,
                M::Io(_) => 27,
                M::MemoryBudget { .. } => 28,
                M::ProxyUnreachable { .. } => 29,
                M::Proxy { error, .. } if !error.caused_by_proxy() => 12,
                M::Proxy { .. } => 30,
                M::ProxyTimeout { .. } => 31,
                _ => 11,
            },
            #[cfg(feature = "json")]
            Self::InvalidJson(_) => 26,
        }
    }

    /// The error stack: this crate's summary first, then the causes, down
    /// to the component where it started.
    pub fn stack(&self) -> Vec<ErrorItem> {
        let mut stack = vec![ErrorItem::new("ws-client", self.code(), self.summary())];
        match self {
            Self::Resolve { error, .. } => stack.push(os_item(error)),
            Self::InvalidRequest(e) => stack.push(ErrorItem::new("ws-proto", 0, e.to_string())),
            Self::Send(e) => stack.push(ErrorItem::new("ws-proto", 0, e.to_string())),
            Self::InvalidProxy(e) => stack.push(proxy_item(e)),
            #[cfg(feature = "json")]
            Self::Serialize(e) | Self::InvalidJson(e) => stack.push(json_item(e)),
            Self::Connection(e) => push_connection_causes(e, &mut stack),
            _ => {}
        }
        stack
    }

    /// The first line of the stack.
    fn summary(&self) -> String {
        match self {
            Self::Connection(e) => match self.code() {
                20 => "the connection could not be made".to_owned(),
                21 => "the TLS handshake failed".to_owned(),
                22 => "the WebSocket handshake failed".to_owned(),
                23 => "the server violated the WebSocket protocol".to_owned(),
                24 => "the connection was lost".to_owned(),
                25 => "a timeout fired".to_owned(),
                27 => "the socket failed".to_owned(),
                28 => "the event loop's memory budget was exhausted".to_owned(),
                29 => "the proxy could not be reached".to_owned(),
                30 => "the proxy did not open the tunnel".to_owned(),
                31 => "the proxy did not answer in time".to_owned(),
                _ => e.to_string(),
            },
            other => other.to_string(),
        }
    }
}

fn os_item(error: &io::Error) -> ErrorItem {
    let code = error.raw_os_error().map_or(0, i64::from);
    ErrorItem::new("os", code, error.to_string())
}

#[cfg(feature = "json")]
fn json_item(error: &serde_json::Error) -> ErrorItem {
    ErrorItem::new("serde_json", error.line() as i64, error.to_string())
}

/// The proxy's own item: its HTTP status or SOCKS5 reply code, when it
/// gave one.
fn proxy_item(error: &ws_proto::proxy::ProxyError) -> ErrorItem {
    use ws_proto::proxy::ProxyError as X;
    let code = match error {
        X::HttpRefused { status, .. } => i64::from(*status),
        X::Socks5Refused(reply) => i64::from(reply.0),
        _ => 0,
    };
    ErrorItem::new("proxy", code, error.to_string())
}

fn push_connection_causes(error: &ws_mio::Error, stack: &mut Vec<ErrorItem>) {
    use ws_mio::Error as M;
    use ws_proto::Error as P;
    match error {
        M::ProxyUnreachable {
            proxy,
            error: cause,
        } => {
            let message = format!("cannot reach the proxy {proxy}");
            stack.push(ErrorItem::new("ws-mio", 0, message));
            push_connection_causes(cause, stack);
        }
        M::Proxy { error: cause, .. } => {
            stack.push(ErrorItem::new("ws-mio", 0, error.to_string()));
            stack.push(proxy_item(cause));
        }
        M::ProxyTimeout { .. } => stack.push(ErrorItem::new("ws-mio", 3, error.to_string())),
        M::TlsTimeout => stack.push(ErrorItem::new("rustls", 3, error.to_string())),
        M::Resolve { error: io, .. }
        | M::Connect { error: io, .. }
        | M::ConnectPath { error: io, .. }
        | M::Io(io) => {
            stack.push(ErrorItem::new("ws-mio", 0, error.to_string()));
            stack.push(os_item(io));
        }
        M::ConnectTimeout => stack.push(ErrorItem::new("ws-mio", 1, error.to_string())),
        M::MemoryBudget { .. } => stack.push(ErrorItem::new("ws-mio", 2, error.to_string())),
        #[cfg(feature = "tls")]
        M::Tls(tls) => {
            let code = if matches!(tls, ws_mio::rustls::Error::InvalidCertificate(_)) {
                1
            } else {
                2
            };
            stack.push(ErrorItem::new("rustls", code, error.to_string()));
        }
        M::TlsConfig(_) | M::TlsUnavailable | M::LoopStopped => {
            stack.push(ErrorItem::new("ws-mio", 0, error.to_string()))
        }
        M::Request(e) => stack.push(ErrorItem::new("ws-proto", 0, e.to_string())),
        M::Protocol(p) => {
            let code = match p {
                P::Protocol(violation) => i64::from(violation.close_code().0),
                P::Handshake(ws_proto::HandshakeError::Rejected(rejection)) => {
                    i64::from(rejection.status)
                }
                _ => 0,
            };
            stack.push(ErrorItem::new("ws-proto", code, p.to_string()));
        }
        // An error of a later ws-mio: its message, with no code of its own.
        _ => stack.push(ErrorItem::new(error.component(), 0, error.to_string())),
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidUrl { url, reason } => write!(f, "invalid URL {url:?}: {reason}"),
            Self::InvalidRequest(e) => write!(f, "invalid request: {e}"),
            Self::Resolve { host, error } => write!(f, "cannot resolve {host:?}: {error}"),
            Self::NotConnected(status) => write!(f, "not connected (status: {status})"),
            Self::InvalidCloseCode(code) => write!(
                f,
                "invalid close code {code}: terminate accepts 1000 or 3000-4999"
            ),
            Self::ReasonTooLong(len) => {
                write!(f, "close reason of {len} bytes: at most 123 are allowed")
            }
            #[cfg(feature = "json")]
            Self::Serialize(e) => write!(f, "cannot serialize to JSON: {e}"),
            Self::WriteBufferFull {
                buffered,
                needed,
                limit,
            } => write!(
                f,
                "write buffer full: {buffered} bytes queued, {needed} more needed, limit {limit}"
            ),
            Self::Stopped => f.write_str("the worker or event loop has stopped"),
            Self::TlsConfig(why) => write!(f, "TLS configuration: {why}"),
            Self::InvalidProxy(e) => write!(f, "invalid proxy setting: {e}"),
            Self::Send(e) => write!(f, "cannot send: {e}"),
            Self::Connection(e) => write!(f, "{e}"),
            #[cfg(feature = "json")]
            Self::InvalidJson(e) => write!(f, "received text is not valid JSON: {e}"),
            Self::Unsupported(why) => write!(f, "unsupported settings: {why}"),
            Self::TooManyRedirects { max, location } => {
                write!(
                    f,
                    "more than {max} redirects in a row (the last to {location})"
                )
            }
            Self::InvalidRedirect {
                status,
                location,
                reason,
            } => write!(
                f,
                "cannot follow the {status} redirect to {location:?}: {reason}"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::InvalidRequest(e) => Some(e),
            Self::Resolve { error, .. } => Some(error),
            #[cfg(feature = "json")]
            Self::Serialize(e) | Self::InvalidJson(e) => Some(e),
            Self::Send(e) => Some(e),
            Self::InvalidProxy(e) => Some(e),
            Self::Connection(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ws_proto::SendError> for Error {
    fn from(e: ws_proto::SendError) -> Self {
        use ws_proto::SendError as S;
        match e {
            S::NotOpen(state) => Self::NotConnected(state.into()),
            S::WriteBufferFull {
                buffered,
                needed,
                limit,
            } => Self::WriteBufferFull {
                buffered,
                needed,
                limit,
            },
            S::InvalidCloseCode(code) => Self::InvalidCloseCode(code),
            S::CloseReasonTooLong(len) => Self::ReasonTooLong(len),
            other => Self::Send(other),
        }
    }
}

/// For the calls that cannot start (`new`): what ws-mio refuses at once.
impl From<ws_mio::Error> for Error {
    fn from(e: ws_mio::Error) -> Self {
        match e {
            ws_mio::Error::Request(e) => Self::InvalidRequest(e),
            ws_mio::Error::TlsConfig(why) => Self::TlsConfig(why),
            ws_mio::Error::LoopStopped => Self::Stopped,
            ws_mio::Error::Resolve { host, error } => Self::Resolve { host, error },
            other => Self::Connection(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ws_mio::Error as M;
    use ws_proto::Error as P;

    /// Each stack entry's component and code.
    type Stack = Vec<(&'static str, i64)>;

    fn components(e: &Error) -> Stack {
        e.stack()
            .iter()
            .map(|i| (i.component_signature, i.err_code))
            .collect()
    }

    fn refused() -> io::Error {
        io::Error::from_raw_os_error(111)
    }

    #[test]
    fn every_connection_failure_has_its_row_in_the_table() {
        let addr = "127.0.0.1:1".parse().unwrap();
        // Extended below with the rows that need the `tls` feature.
        #[cfg_attr(not(feature = "tls"), allow(unused_mut))]
        let mut cases: Vec<(M, i64, Stack)> = vec![
            (
                M::Connect {
                    addr,
                    error: refused(),
                },
                20,
                vec![("ws-client", 20), ("ws-mio", 0), ("os", 111)],
            ),
            (
                M::ConnectTimeout,
                20,
                vec![("ws-client", 20), ("ws-mio", 1)],
            ),
            (
                M::Resolve {
                    host: "h".into(),
                    error: refused(),
                },
                20,
                vec![("ws-client", 20), ("ws-mio", 0), ("os", 111)],
            ),
            (
                M::TlsUnavailable,
                10,
                vec![("ws-client", 10), ("ws-mio", 0)],
            ),
            (
                M::Protocol(P::Protocol(ws_proto::ProtocolError::ReservedBitsSet(4))),
                23,
                vec![("ws-client", 23), ("ws-proto", 1002)],
            ),
            (
                M::Protocol(P::Handshake(ws_proto::HandshakeError::InvalidExtension(
                    "server_max_window_bits=7".into(),
                ))),
                22,
                vec![("ws-client", 22), ("ws-proto", 0)],
            ),
            (
                M::Protocol(P::Protocol(ws_proto::ProtocolError::CompressedControlFrame)),
                23,
                vec![("ws-client", 23), ("ws-proto", 1002)],
            ),
            (
                M::Protocol(P::Protocol(ws_proto::ProtocolError::CompressedContinuation)),
                23,
                vec![("ws-client", 23), ("ws-proto", 1002)],
            ),
            (
                M::Protocol(P::Protocol(ws_proto::ProtocolError::InvalidCompressedData)),
                23,
                vec![("ws-client", 23), ("ws-proto", 1007)],
            ),
            (
                M::Protocol(P::ConnectionLost),
                24,
                vec![("ws-client", 24), ("ws-proto", 0)],
            ),
            (
                M::Protocol(P::Timeout(ws_proto::TimeoutKind::Close)),
                25,
                vec![("ws-client", 25), ("ws-proto", 0)],
            ),
            (
                M::Io(refused()),
                27,
                vec![("ws-client", 27), ("ws-mio", 0), ("os", 111)],
            ),
            (M::LoopStopped, 9, vec![("ws-client", 9), ("ws-mio", 0)]),
            (
                M::MemoryBudget {
                    held: 2 << 20,
                    budget: 1 << 20,
                },
                28,
                vec![("ws-client", 28), ("ws-mio", 2)],
            ),
        ];
        #[cfg(feature = "tls")]
        cases.extend([
            (
                M::Tls(ws_mio::rustls::Error::InvalidCertificate(
                    ws_mio::rustls::CertificateError::UnknownIssuer,
                )),
                21,
                vec![("ws-client", 21), ("rustls", 1)],
            ),
            (
                M::Tls(ws_mio::rustls::Error::DecryptError),
                21,
                vec![("ws-client", 21), ("rustls", 2)],
            ),
        ]);
        for (error, code, stack) in cases {
            let shown = error.to_string();
            let error = Error::Connection(error);
            assert_eq!(error.code(), code, "{shown}");
            assert_eq!(components(&error), stack, "{shown}");
            assert!(!error.stack()[0].message.is_empty());
        }
    }

    #[test]
    fn refusals_before_connecting_have_their_codes() {
        assert_eq!(Error::NotConnected(Status::Closing).code(), 4);
        assert_eq!(Error::InvalidCloseCode(1001).code(), 5);
        assert_eq!(Error::ReasonTooLong(124).code(), 6);
        assert_eq!(Error::Stopped.code(), 9);
        assert_eq!(Error::TlsConfig("x".into()).code(), 10);
        #[cfg(feature = "json")]
        {
            let json = serde_json::from_str::<serde_json::Value>("{").unwrap_err();
            let e = Error::InvalidJson(json);
            assert_eq!(components(&e)[0], ("ws-client", 26));
            assert_eq!(components(&e)[1].0, "serde_json");
        }
        let full = Error::from(ws_proto::SendError::WriteBufferFull {
            buffered: 1,
            needed: 2,
            limit: 3,
        });
        assert_eq!(full.code(), 8);
        assert!(full.to_string().contains("limit 3"));
    }
}
