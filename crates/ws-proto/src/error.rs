//! Error types.
//!
//! Errors are split by who caused them, as in h11/wsproto:
//! - remote: the peer broke the protocol ([`ProtocolError`], which carries the
//!   close code to send) or the opening handshake ([`HandshakeError`]);
//!   these, with timeouts and a lost transport, reach the caller as
//!   [`Event::Error`](crate::Event::Error) wrapped in [`Error`];
//! - local: the caller asked for something impossible ([`RequestError`] when
//!   building a handshake, [`SendError`] when sending); these are returned
//!   directly and change nothing.
//!
//! A normal close is not an error.

use std::fmt;

use crate::close::CloseCode;
use crate::connection::State;
use crate::handshake::Headers;

/// Something went wrong with the connection; reported once, through
/// [`Event::Error`](crate::Event::Error), and always followed by
/// [`Event::Closed`](crate::Event::Closed).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The opening handshake failed.
    Handshake(HandshakeError),
    /// The peer broke RFC 6455 after the handshake; the connection was failed
    /// with [`ProtocolError::close_code`].
    Protocol(ProtocolError),
    /// A timer expired.
    Timeout(TimeoutKind),
    /// The transport ended before the closing handshake finished.
    ConnectionLost,
    /// The driver said the transport failed
    /// ([`Connection::transport_failed`](crate::Connection::transport_failed)):
    /// an I/O error, a reset, a TLS alert. The driver holds the cause and
    /// reports it in this error's place.
    Transport,
    /// The driver or the application failed the connection with
    /// [`Connection::fail`](crate::Connection::fail) and this code. It knows
    /// why, and reports its own cause in this error's place.
    Failed(CloseCode),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Handshake(e) => write!(f, "opening handshake failed: {e}"),
            Self::Protocol(e) => write!(f, "protocol error: {e}"),
            Self::Timeout(kind) => write!(f, "{kind}"),
            Self::ConnectionLost => f.write_str("connection lost without a close frame"),
            Self::Transport => f.write_str("the transport failed"),
            Self::Failed(code) => write!(f, "failed by this side with close code {code}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Handshake(e) => Some(e),
            Self::Protocol(e) => Some(e),
            Self::Timeout(_) | Self::ConnectionLost | Self::Transport | Self::Failed(_) => None,
        }
    }
}

/// Which timer expired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// The opening handshake did not finish within
    /// [`Config::handshake_timeout`](crate::Config::handshake_timeout).
    Handshake,
    /// The peer did not complete the closing handshake within
    /// [`Config::close_timeout`](crate::Config::close_timeout).
    Close,
    /// Nothing arrived within
    /// [`Config::keepalive_timeout`](crate::Config::keepalive_timeout) of a
    /// keepalive ping.
    Keepalive,
}

impl fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Handshake => "opening handshake timed out",
            Self::Close => "closing handshake timed out",
            Self::Keepalive => "keepalive ping timed out: the peer stopped answering",
        })
    }
}

/// The peer broke RFC 6455 after the opening handshake.
///
/// Each variant maps to the close code the connection is failed with
/// ([`ProtocolError::close_code`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// RSV1-3 set without a negotiated extension that defines them (5.2).
    ReservedBitsSet(u8),
    /// A reserved opcode (3-7, 0xB-0xF) (5.2).
    ReservedOpcode(u8),
    /// A 64-bit payload length with the most significant bit set (5.2).
    InvalidPayloadLength,
    /// A control frame with more than 125 bytes of payload (5.5).
    ControlFrameTooLong(u64),
    /// A control frame without FIN (5.5).
    FragmentedControlFrame,
    /// A continuation frame with no fragmented message in progress (5.4).
    UnexpectedContinuation,
    /// A new text or binary frame inside a fragmented message (5.4).
    ExpectedContinuation,
    /// A server sent a masked frame (5.1).
    MaskedFrameFromServer,
    /// A client sent an unmasked frame (5.1).
    UnmaskedFrameFromClient,
    /// A text message or close reason that is not UTF-8 (8.1); close 1007.
    InvalidUtf8,
    /// A close frame with a one-byte payload (5.5.1).
    CloseFrameTooShort,
    /// A close frame with a code not allowed on the wire (7.4).
    InvalidCloseCode(u16),
    /// A close reason that is not UTF-8 (5.5.1); close 1007.
    InvalidCloseReason,
    /// A frame payload over [`Config::max_frame_size`](crate::Config::max_frame_size); close 1009.
    FrameTooLarge {
        /// The announced payload length.
        size: u64,
        /// The configured limit.
        limit: usize,
    },
    /// A message over [`Config::max_message_size`](crate::Config::max_message_size); close 1009.
    MessageTooLarge {
        /// The size the message would reach.
        size: u64,
        /// The configured limit.
        limit: usize,
    },
    /// RSV1 (compressed) on a control frame, with permessage-deflate in
    /// force (RFC 7692 section 6.1).
    CompressedControlFrame,
    /// RSV1 (compressed) on a continuation frame: only a message's first
    /// frame carries it (RFC 7692 section 6.1).
    CompressedContinuation,
    /// A compressed message whose payload is not valid deflate data (RFC
    /// 7692 section 6.2); close 1007, as the framing is intact.
    InvalidCompressedData,
    /// A control frame payload over
    /// [`Config::max_control_payload`](crate::Config::max_control_payload); close 1009.
    ControlPayloadTooLarge {
        /// The announced payload length.
        size: u64,
        /// The configured limit.
        limit: usize,
    },
}

impl ProtocolError {
    /// The close code this violation fails the connection with.
    pub fn close_code(&self) -> CloseCode {
        match self {
            Self::InvalidUtf8 | Self::InvalidCloseReason | Self::InvalidCompressedData => {
                CloseCode::INVALID_PAYLOAD
            }
            Self::FrameTooLarge { .. }
            | Self::MessageTooLarge { .. }
            | Self::ControlPayloadTooLarge { .. } => CloseCode::MESSAGE_TOO_BIG,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }

    /// Whether the frame boundaries are still known after this error, so that
    /// the peer's close frame can still be found in what follows.
    pub(crate) fn keeps_framing(&self) -> bool {
        matches!(
            self,
            Self::InvalidUtf8
                | Self::InvalidCompressedData
                | Self::InvalidCloseReason
                | Self::InvalidCloseCode(_)
                | Self::CloseFrameTooShort
                | Self::UnexpectedContinuation
                | Self::ExpectedContinuation
                | Self::MessageTooLarge { .. }
        )
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ReservedBitsSet(bits) => {
                write!(
                    f,
                    "reserved bits {bits:#05b} set without a negotiated extension"
                )
            }
            Self::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            Self::InvalidPayloadLength => {
                f.write_str("64-bit payload length with the high bit set")
            }
            Self::ControlFrameTooLong(n) => {
                write!(f, "control frame with {n} bytes of payload (max 125)")
            }
            Self::FragmentedControlFrame => f.write_str("fragmented control frame"),
            Self::UnexpectedContinuation => {
                f.write_str("continuation frame without a message in progress")
            }
            Self::ExpectedContinuation => f.write_str("new data frame inside a fragmented message"),
            Self::MaskedFrameFromServer => f.write_str("masked frame from the server"),
            Self::UnmaskedFrameFromClient => f.write_str("unmasked frame from the client"),
            Self::InvalidUtf8 => f.write_str("text message is not valid UTF-8"),
            Self::CloseFrameTooShort => f.write_str("close frame with a one-byte payload"),
            Self::InvalidCloseCode(code) => {
                write!(f, "close code {code} is not allowed on the wire")
            }
            Self::InvalidCloseReason => f.write_str("close reason is not valid UTF-8"),
            Self::CompressedControlFrame => f.write_str("compressed (RSV1) control frame"),
            Self::CompressedContinuation => f.write_str("compressed (RSV1) continuation frame"),
            Self::InvalidCompressedData => {
                f.write_str("compressed message is not valid deflate data")
            }
            Self::FrameTooLarge { size, limit } => {
                write!(
                    f,
                    "frame of {size} bytes exceeds the {limit}-byte frame limit"
                )
            }
            Self::MessageTooLarge { size, limit } => {
                write!(
                    f,
                    "message of {size} bytes exceeds the {limit}-byte message limit"
                )
            }
            Self::ControlPayloadTooLarge { size, limit } => {
                write!(
                    f,
                    "control frame of {size} bytes exceeds the {limit}-byte limit"
                )
            }
        }
    }
}

impl std::error::Error for ProtocolError {}

/// The opening handshake failed (RFC 6455 section 4).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The server answered with a status other than 101. The caller can act on
    /// it (a 401 asks for credentials, a 3xx names another location).
    Rejected(Box<Rejection>),
    /// The HTTP head could not be parsed.
    Malformed(String),
    /// The HTTP head grew over
    /// [`Config::max_handshake_size`](crate::Config::max_handshake_size) bytes.
    HeadTooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// The HTTP head had more than
    /// [`Config::max_handshake_headers`](crate::Config::max_handshake_headers) headers.
    TooManyHeaders {
        /// The configured limit.
        limit: usize,
    },
    /// A required header is missing or has the wrong value (`Upgrade`,
    /// `Connection`, `Sec-WebSocket-Accept`, `Sec-WebSocket-Key`, `Host`...).
    InvalidHeader {
        /// The header's name.
        name: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The server chose a subprotocol the client did not offer, or several.
    UnexpectedSubprotocol(String),
    /// The server accepted an extension the client did not offer.
    UnexpectedExtension(String),
    /// The server's `Sec-WebSocket-Extensions` answer does not parse, or
    /// accepts permessage-deflate with parameters RFC 7692 does not allow
    /// in answer to the offer (unknown, repeated, out of range, not
    /// offered, or missing where the offer required them).
    InvalidExtension(String),
    /// (server) The request was not a WebSocket GET over HTTP/1.1.
    BadRequest(String),
    /// (server) The client asked for a WebSocket version other than 13.
    UnsupportedVersion(String),
    /// The transport ended before the handshake finished.
    UnexpectedEof,
}

/// A non-101 answer to the opening handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The HTTP status code.
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// The response headers.
    pub headers: Headers,
    /// The start of the body: at most 1 KiB, as much as had arrived when the
    /// head plus `Content-Length` (or the transport's end) said it was complete.
    pub body: Vec<u8>,
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rejected(r) => {
                write!(f, "server answered {} {}", r.status, r.reason)?;
                if !r.body.is_empty() {
                    let body = String::from_utf8_lossy(&r.body);
                    write!(f, ": {}", body.trim())?;
                }
                Ok(())
            }
            Self::Malformed(why) => write!(f, "malformed HTTP head: {why}"),
            Self::HeadTooLarge { limit } => write!(f, "HTTP head larger than {limit} bytes"),
            Self::TooManyHeaders { limit } => write!(f, "more than {limit} HTTP headers"),
            Self::InvalidHeader { name, problem } => write!(f, "header {name}: {problem}"),
            Self::UnexpectedSubprotocol(p) => {
                write!(f, "server chose subprotocol {p:?}, which was not offered")
            }
            Self::UnexpectedExtension(e) => {
                write!(f, "server accepted extension {e:?}, which was not offered")
            }
            Self::InvalidExtension(why) => {
                write!(f, "invalid Sec-WebSocket-Extensions answer: {why}")
            }
            Self::BadRequest(why) => write!(f, "bad request: {why}"),
            Self::UnsupportedVersion(v) => write!(
                f,
                "unsupported Sec-WebSocket-Version {v:?} (13 is supported)"
            ),
            Self::UnexpectedEof => f.write_str("transport closed during the opening handshake"),
        }
    }
}

impl std::error::Error for HandshakeError {}

/// A handshake request the caller built cannot be sent. Nothing was sent.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// A header name that is not an HTTP token.
    InvalidHeaderName(String),
    /// A header value with CR, LF, NUL or another control character.
    InvalidHeaderValue {
        /// The header's name.
        name: String,
    },
    /// A header the handshake sets itself (`Sec-WebSocket-Key`,
    /// `Sec-WebSocket-Version`, `Upgrade`, `Connection`, ...).
    ReservedHeader(String),
    /// A host that is empty or has characters not allowed in a host.
    InvalidHost(String),
    /// A resource name (path and query) that does not start with `/`, or has
    /// spaces, control characters or a `#`.
    InvalidResource(String),
    /// A subprotocol name that is not an HTTP token.
    InvalidSubprotocol(String),
    /// A cookie name that is not a token, or a value with `;`, `,`, spaces,
    /// quotes, backslashes or control characters.
    InvalidCookie(String),
    /// An `http::Request` that cannot be a WebSocket request: not `GET`,
    /// or a URI that is not absolute with scheme ws, wss, http or https
    /// (the `http` feature's conversion).
    InvalidHttpRequest(String),
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidHeaderName(n) => write!(f, "invalid header name {n:?}"),
            Self::InvalidHeaderValue { name } => {
                write!(
                    f,
                    "invalid value for header {name:?}: control characters (CR, LF, NUL...) are not allowed"
                )
            }
            Self::ReservedHeader(n) => write!(
                f,
                "header {n:?} is set by the WebSocket handshake and cannot be overridden"
            ),
            Self::InvalidHost(h) => write!(f, "invalid host {h:?}"),
            Self::InvalidResource(r) => write!(f, "invalid resource name {r:?}"),
            Self::InvalidSubprotocol(p) => write!(f, "invalid subprotocol name {p:?}"),
            Self::InvalidCookie(c) => write!(f, "invalid cookie {c:?}"),
            Self::InvalidHttpRequest(why) => write!(f, "not a WebSocket request: {why}"),
        }
    }
}

impl std::error::Error for RequestError {}

/// A send or close command was refused. Nothing was queued.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// The connection is not open (still connecting, closing or closed).
    NotOpen(State),
    /// Queuing this would take the unsent bytes over
    /// [`Config::max_write_buffer`](crate::Config::max_write_buffer).
    WriteBufferFull {
        /// Bytes already waiting to be transmitted.
        buffered: usize,
        /// Bytes this message needs.
        needed: usize,
        /// The configured limit.
        limit: usize,
    },
    /// A close code an endpoint may not send (1005, 1006, 1015, or one outside
    /// 1000-4999's valid ranges).
    InvalidCloseCode(u16),
    /// A close reason longer than 123 bytes.
    CloseReasonTooLong(usize),
    /// A ping or pong payload longer than 125 bytes.
    ControlPayloadTooLong(usize),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotOpen(state) => write!(f, "the connection is not open (it is {state})"),
            Self::WriteBufferFull {
                buffered,
                needed,
                limit,
            } => write!(
                f,
                "write buffer full: {buffered} bytes buffered, {needed} more needed, limit {limit}"
            ),
            Self::InvalidCloseCode(code) => write!(f, "close code {code} cannot be sent"),
            Self::CloseReasonTooLong(n) => write!(f, "close reason of {n} bytes (max 123)"),
            Self::ControlPayloadTooLong(n) => write!(f, "control payload of {n} bytes (max 125)"),
        }
    }
}

impl std::error::Error for SendError {}
