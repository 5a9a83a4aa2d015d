//! The events handed to a [`Handler`](crate::Handler), with the fields of
//! the 4D WebSocket events. Serialized (serde), each gives the 4D object:
//! `{"type":"open"}`, `{"type":"message","data":...}`,
//! `{"type":"error","errors":[...]}`,
//! `{"type":"terminate","code":1000,"reason":"","wasClean":true}`.

use bytes::Bytes;
#[cfg(feature = "json")]
use serde::Serialize;
#[cfg(feature = "json")]
use serde::ser::{SerializeMap as _, Serializer};
use ws_proto::Utf8Bytes;

use crate::error::{Error, ErrorItem};

/// Any of the four events, tagged with its `type` when serialized.
///
/// ```
/// use ws_client::{Event, TerminateEvent};
///
/// let t = TerminateEvent { code: 1000, reason: String::new(), was_clean: true, reconnect: None };
/// assert_eq!(
///     serde_json::to_string(&Event::Terminate(&t)).unwrap(),
///     r#"{"type":"terminate","code":1000,"reason":"","wasClean":true}"#
/// );
/// ```
#[derive(Debug)]
#[cfg_attr(feature = "json", derive(Serialize))]
#[cfg_attr(feature = "json", serde(tag = "type", rename_all = "lowercase"))]
#[non_exhaustive]
pub enum Event<'a> {
    /// See [`OpenEvent`].
    Open(&'a OpenEvent),
    /// See [`MessageEvent`].
    Message(&'a MessageEvent),
    /// See [`ErrorEvent`].
    Error(&'a ErrorEvent),
    /// See [`TerminateEvent`].
    Terminate(&'a TerminateEvent),
}

/// The opening handshake succeeded: `on_open`, once.
///
/// ```
/// use ws_client::{Callbacks, OpenEvent};
///
/// let handler = Callbacks::new().on_open(|ws, event: &OpenEvent| {
///     println!("{} open, subprotocol {:?}", ws.url(), event.protocol);
/// });
/// ```
#[derive(Clone, Debug)]
#[cfg_attr(feature = "json", derive(Serialize))]
pub struct OpenEvent {
    /// The subprotocol the server chose, if any.
    #[cfg_attr(feature = "json", serde(skip_serializing_if = "Option::is_none"))]
    pub protocol: Option<String>,
    /// The headers of the server's handshake answer (`Set-Cookie`...).
    #[cfg_attr(feature = "json", serde(skip))]
    pub headers: ws_proto::Headers,
    /// What TLS negotiated, for `wss://`: version, cipher suite, ALPN, and
    /// whether the session was resumed (always `None` without the `tls`
    /// feature).
    #[cfg_attr(feature = "json", serde(skip))]
    pub tls: Option<ws_mio::TlsInfo>,
}

impl OpenEvent {
    /// The 4D `type` field: always `"open"`.
    pub fn event_type(&self) -> &'static str {
        "open"
    }
}

/// A received message's content, as the connection's
/// [`DataType`](crate::DataType) makes it.
///
/// ```
/// use ws_client::Data;
///
/// fn show(data: &Data) -> String {
///     match data {
///         Data::Text(text) => text.to_string(),
///         Data::Blob(bytes) => format!("{} bytes", bytes.len()),
///         Data::Object(value) => value["price"].to_string(),
///         // `Data` is `#[non_exhaustive]`: a later data type may come.
///         _ => String::new(),
///     }
/// }
/// assert_eq!(show(&Data::Object(serde_json::json!({"price": 1.5}))), "1.5");
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Data {
    /// A text message (data type "text"), UTF-8 checked; it derefs to
    /// `&str` and holds the received bytes without a copy.
    Text(Utf8Bytes),
    /// A binary message (any data type), or any message with the data
    /// type "blob".
    Blob(Bytes),
    /// A text message parsed as JSON (data type "object").
    #[cfg(feature = "json")]
    #[cfg_attr(docsrs, doc(cfg(feature = "json")))]
    Object(serde_json::Value),
}

impl Data {
    /// The text, if this is text.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(t) => Some(t.as_str()),
            _ => None,
        }
    }

    /// The bytes, if this is a blob.
    pub fn as_blob(&self) -> Option<&[u8]> {
        match self {
            Self::Blob(b) => Some(b),
            _ => None,
        }
    }

    /// The JSON value, if this is an object.
    #[cfg(feature = "json")]
    #[cfg_attr(docsrs, doc(cfg(feature = "json")))]
    pub fn as_object(&self) -> Option<&serde_json::Value> {
        match self {
            Self::Object(v) => Some(v),
            _ => None,
        }
    }
}

/// A message arrived: `on_message`, zero or more times.
///
/// ```
/// use ws_client::{Data, MessageEvent};
///
/// let event = MessageEvent { data: Data::Blob(ws_client::Bytes::from_static(b"hi")) };
/// assert_eq!(event.event_type(), "message");
/// assert_eq!(
///     serde_json::to_string(&ws_client::Event::Message(&event)).unwrap(),
///     r#"{"type":"message","data":"aGk=","encoding":"base64"}"#
/// );
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct MessageEvent {
    /// The message's content.
    pub data: Data,
}

impl MessageEvent {
    /// The 4D `type` field: always `"message"`.
    pub fn event_type(&self) -> &'static str {
        "message"
    }
}

/// `data` as a JSON string (text), the JSON value (object), or base64
/// with `"encoding":"base64"` beside it (blob).
#[cfg(feature = "json")]
impl Serialize for MessageEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let blob = matches!(self.data, Data::Blob(_));
        let mut map = serializer.serialize_map(Some(if blob { 2 } else { 1 }))?;
        match &self.data {
            Data::Text(text) => map.serialize_entry("data", text.as_str())?,
            Data::Object(value) => map.serialize_entry("data", value)?,
            Data::Blob(bytes) => {
                use base64::Engine as _;
                let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
                map.serialize_entry("data", &encoded)?;
                map.serialize_entry("encoding", "base64")?;
            }
        }
        map.end()
    }
}

/// The connection failed: `on_error`, at most once, and nothing but
/// `on_terminate` after it.
///
/// ```
/// use ws_client::Callbacks;
///
/// let handler = Callbacks::new().on_error(|_ws, event| {
///     for e in &event.errors {
///         eprintln!("[{} {}] {}", e.component_signature, e.err_code, e.message);
///     }
/// });
/// ```
#[derive(Debug)]
#[cfg_attr(feature = "json", derive(Serialize))]
pub struct ErrorEvent {
    /// The error stack: this crate's summary first, then the causes (see
    /// [the code table](crate::error)).
    pub errors: Vec<ErrorItem>,
    /// The error itself, typed.
    #[cfg_attr(feature = "json", serde(skip))]
    pub error: Error,
}

impl ErrorEvent {
    /// The event for `error`, with its stack.
    pub fn new(error: Error) -> Self {
        Self {
            errors: error.stack(),
            error,
        }
    }

    /// The 4D `type` field: always `"error"`.
    pub fn event_type(&self) -> &'static str {
        "error"
    }
}

/// A pong arrived (`on_pong`).
///
/// ```
/// use ws_client::Callbacks;
///
/// let handler = Callbacks::new().on_pong(|_ws, event| {
///     if let Some(rtt) = event.rtt {
///         println!("round trip: {} µs", rtt.as_micros());
///     }
/// });
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PongEvent {
    /// The pong's payload.
    pub payload: bytes::Bytes,
    /// The round trip, when this pong answered a ping of this connection
    /// (`WebSocket::ping`, or a keepalive ping); `None` for an unsolicited
    /// pong or one whose payload matches no ping in flight.
    pub rtt: Option<std::time::Duration>,
}

/// The connection is over: `on_terminate`, exactly once, always last.
///
/// ```
/// use ws_client::Callbacks;
///
/// let handler = Callbacks::new().on_terminate(|_ws, event| {
///     println!("closed {} {:?} clean: {}", event.code, event.reason, event.was_clean);
/// });
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "json", derive(Serialize))]
#[cfg_attr(feature = "json", serde(rename_all = "camelCase"))]
pub struct TerminateEvent {
    /// The close code: the one in the close frame (1005 when it had none);
    /// 1006 when the connection ended without a closing handshake; the code
    /// this side sent when it failed the connection (1002, 1007, 1009...).
    pub code: u16,
    /// The reason that came with the code.
    pub reason: String,
    /// Whether the closing handshake completed.
    pub was_clean: bool,
    /// The attempt that follows, with [`Builder::reconnect`](crate::Builder::reconnect):
    /// `None` when this is the end for good. Serialized as
    /// `"reconnect":{"attempt":1,"delayMs":850}` when there is one.
    #[cfg_attr(feature = "json", serde(skip_serializing_if = "Option::is_none"))]
    pub reconnect: Option<crate::Reconnect>,
}

impl TerminateEvent {
    /// The 4D `type` field: always `"terminate"`.
    pub fn event_type(&self) -> &'static str {
        "terminate"
    }
}
