//! [`Error`]: everything a ws-tokio call can fail with.

use std::fmt;
use std::io;

use ws_proto::{HandshakeError, RequestError, SendError};

/// Why a connection could not be made, or why it failed or refused a call.
///
/// A normal close is not an error: [`recv`](crate::WebSocketStream::recv)
/// returns `None` after it.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The URL is not a usable `ws://` or `wss://` URL.
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The opening handshake request could not be built (a bad header,
    /// subprotocol or host); nothing was sent.
    Request(RequestError),
    /// The transport failed: connecting, reading or writing (TLS errors
    /// during the TLS handshake come as I/O errors too).
    Io(io::Error),
    /// The TLS settings could not be used: an unreadable CA, a host name
    /// that cannot be a TLS server name.
    Tls(String),
    /// Connecting (TCP and TLS, before the WebSocket handshake, which has
    /// its own timer) took longer than the builder's connect timeout.
    ConnectTimeout,
    /// The opening handshake failed: the peer refused the upgrade or
    /// answered something that is not a valid one.
    Handshake(HandshakeError),
    /// The connection failed after it opened: the peer broke RFC 6455 (the
    /// right close code was sent), a timer expired, or the transport ended
    /// without a closing handshake. Reported once, by whichever call
    /// observes it first.
    WebSocket(ws_proto::Error),
    /// A message, ping or close this side asked for was refused and nothing
    /// was queued: a payload too long for a control frame, an invalid close
    /// code, or a message that does not fit
    /// [`Config::max_write_buffer`](ws_proto::Config::max_write_buffer)
    /// (`WriteBufferFull`: the peer does not read fast enough).
    Send(SendError),
    /// The connection is closing or closed: nothing more can be sent.
    ConnectionClosed,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidUrl { url, reason } => {
                write!(f, "invalid WebSocket URL {url:?}: {reason}")
            }
            Self::Request(e) => write!(f, "invalid handshake request: {e}"),
            Self::Io(e) => write!(f, "transport error: {e}"),
            Self::Tls(e) => write!(f, "TLS settings: {e}"),
            Self::ConnectTimeout => f.write_str("connecting timed out"),
            Self::Handshake(e) => write!(f, "opening handshake failed: {e}"),
            Self::WebSocket(e) => write!(f, "{e}"),
            Self::Send(e) => write!(f, "send refused: {e}"),
            Self::ConnectionClosed => f.write_str("the connection is closed"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Request(e) => Some(e),
            Self::Io(e) => Some(e),
            Self::Handshake(e) => Some(e),
            Self::WebSocket(e) => Some(e),
            Self::Send(e) => Some(e),
            Self::InvalidUrl { .. }
            | Self::Tls(_)
            | Self::ConnectTimeout
            | Self::ConnectionClosed => None,
        }
    }
}

impl From<ws_proto::Error> for Error {
    fn from(e: ws_proto::Error) -> Self {
        match e {
            ws_proto::Error::Handshake(e) => Self::Handshake(e),
            e => Self::WebSocket(e),
        }
    }
}

impl From<SendError> for Error {
    fn from(e: SendError) -> Self {
        match e {
            SendError::NotOpen(_) => Self::ConnectionClosed,
            e => Self::Send(e),
        }
    }
}

impl From<RequestError> for Error {
    fn from(e: RequestError) -> Self {
        Self::Request(e)
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}
