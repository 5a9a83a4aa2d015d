//! What a connection reports to its driver, through
//! [`Connection::poll_event`](crate::Connection::poll_event).

use bytes::Bytes;

use crate::close::CloseCode;
use crate::error::Error;
use crate::frame::Utf8Bytes;
use crate::handshake::Headers;

/// Something happened on the connection.
///
/// Order: at most one [`Event::Open`]; then messages, pings and pongs; then at
/// most one [`Event::Error`]; then exactly one [`Event::Closed`], always last.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The opening handshake succeeded; messages can be sent.
    Open(Open),
    /// A complete message arrived.
    Message(Message),
    /// A ping arrived (already answered when
    /// [`Config::auto_pong`](crate::Config::auto_pong) is on).
    Ping(Bytes),
    /// A pong arrived.
    Pong(Bytes),
    /// The connection failed; [`Event::Closed`] follows.
    Error(Error),
    /// The connection is over. Flush [`Connection::poll_transmit`](crate::Connection::poll_transmit),
    /// then close the transport.
    Closed(Closed),
}

/// The outcome of a successful opening handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Open {
    /// The subprotocol both sides agreed on, if any.
    pub subprotocol: Option<String>,
    /// The request target (path and query): as requested (client) or as
    /// received (server).
    pub resource: String,
    /// The peer's handshake headers: the response's (client) or the
    /// request's (server).
    pub headers: Headers,
}

/// A complete received message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A text message, validated as UTF-8.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
}

impl Message {
    /// The payload bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Text(t) => t.as_ref(),
            Self::Binary(b) => b,
        }
    }

    /// The payload length in bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A complete received message lent where it lies in the connection's
/// read buffer (see [`Connection::poll_message_ref`](crate::Connection::poll_message_ref)):
/// for a caller that reads a message and keeps nothing of it, such as a
/// market-data handler that parses each update into its own structures.
/// No `Bytes` is split off, so no reference count is raised and dropped
/// per message. The borrow ends at the connection's next call;
/// [`to_message`](Self::to_message) copies what must be kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageRef<'a> {
    /// A text message, validated as UTF-8.
    Text(&'a str),
    /// A binary message.
    Binary(&'a [u8]),
}

impl<'a> MessageRef<'a> {
    /// The payload bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        match *self {
            Self::Text(t) => t.as_bytes(),
            Self::Binary(b) => b,
        }
    }

    /// The payload length in bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// An owned copy, to keep after the borrow ends.
    pub fn to_message(&self) -> Message {
        match *self {
            Self::Text(t) => Message::Text(Utf8Bytes::from(t.to_owned())),
            Self::Binary(b) => Message::Binary(Bytes::copy_from_slice(b)),
        }
    }
}

impl<'a> From<&'a Message> for MessageRef<'a> {
    fn from(message: &'a Message) -> Self {
        match message {
            Message::Text(t) => Self::Text(t.as_str()),
            Message::Binary(b) => Self::Binary(b),
        }
    }
}

impl PartialEq<MessageRef<'_>> for Message {
    fn eq(&self, other: &MessageRef<'_>) -> bool {
        match (self, other) {
            (Self::Text(a), MessageRef::Text(b)) => a.as_str() == *b,
            (Self::Binary(a), MessageRef::Binary(b)) => a[..] == **b,
            _ => false,
        }
    }
}

/// How the connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Closed {
    /// The close code: the one in the peer's close frame; 1005 when it had
    /// none; 1006 when the transport ended (or a timer fired) without one;
    /// the code this side sent when it failed the connection for a protocol
    /// error.
    pub code: CloseCode,
    /// The reason that goes with `code`.
    pub reason: String,
    /// Whether both close frames were exchanged (RFC 6455 section 7.1.4).
    pub was_clean: bool,
    /// Which side started the closing (a lost transport counts as remote).
    pub initiator: Initiator,
}

impl Closed {
    /// The end of a connection whose closing handshake never completed:
    /// 1006 (never sent on the wire, section 7.1.5), not clean.
    pub(crate) fn abnormal(initiator: Initiator) -> Self {
        Self {
            code: CloseCode::ABNORMAL,
            reason: String::new(),
            was_clean: false,
            initiator,
        }
    }
}

/// Which side started something.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Initiator {
    /// This endpoint.
    Local,
    /// The peer.
    Remote,
}
