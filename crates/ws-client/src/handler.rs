//! The handler: the callbacks and settings a connection is created with,
//! as a trait ([`Handler`]) or as closures ([`Callbacks`]).

use std::fmt;
use std::str::FromStr;

use crate::event::{ErrorEvent, MessageEvent, OpenEvent, PongEvent, TerminateEvent};
use crate::socket::WebSocket;
use ws_proto::Headers;

/// How received messages are handed to `on_message` (see [`Data`](crate::Data)).
///
/// ```
/// use ws_client::DataType;
///
/// let data_type: DataType = "object".parse().unwrap();
/// assert_eq!(data_type, DataType::Object);
/// assert_eq!(DataType::default().to_string(), "text");
/// assert!("json".parse::<DataType>().is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DataType {
    /// Text messages as text, binary messages as bytes. The default.
    #[default]
    Text,
    /// Every message as bytes.
    Blob,
    /// Text messages parsed as JSON; binary messages as bytes. Text that is
    /// not JSON fails the connection with 1007.
    #[cfg(feature = "json")]
    #[cfg_attr(docsrs, doc(cfg(feature = "json")))]
    Object,
}

impl DataType {
    /// `"text"`, `"blob"` or `"object"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Blob => "blob",
            #[cfg(feature = "json")]
            Self::Object => "object",
        }
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DataType {
    type Err = String;

    /// Parses `"text"`, `"blob"` or `"object"`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(Self::Text),
            "blob" => Ok(Self::Blob),
            #[cfg(feature = "json")]
            "object" => Ok(Self::Object),
            #[cfg(not(feature = "json"))]
            "object" => Err("the data type \"object\" needs ws-client's `json` feature".into()),
            other => Err(format!(
                "unknown data type {other:?}: expected text, blob or object"
            )),
        }
    }
}

/// What a connection calls back, and the settings it reads when it is
/// created. Every method has a default: implement the ones you need.
///
/// The callbacks run in the connection's context (the shared background
/// thread, or the thread that drives its [`Worker`](crate::Worker)), one
/// at a time, in this order: `on_open` once, then `on_message` zero or
/// more times, then `on_error` at most once, then `on_terminate` exactly
/// once, always last. A failed connect or handshake gives `on_error` and
/// `on_terminate` without `on_open`.
///
/// ```
/// use ws_client::{DataType, Handler, MessageEvent, TerminateEvent, WebSocket};
///
/// struct Printer;
///
/// impl Handler for Printer {
///     fn on_message(&mut self, _ws: &WebSocket<Self>, event: MessageEvent) {
///         println!("{:?}", event.data);
///     }
///     fn on_terminate(&mut self, _ws: &WebSocket<Self>, event: &TerminateEvent) {
///         println!("closed: {}", event.code);
///     }
///     fn data_type(&self) -> DataType {
///         DataType::Object
///     }
/// }
/// ```
pub trait Handler: Send + Sized + 'static {
    /// The opening handshake succeeded.
    fn on_open(&mut self, ws: &WebSocket<Self>, event: &OpenEvent) {
        let _ = (ws, event);
    }

    /// A message arrived.
    fn on_message(&mut self, ws: &WebSocket<Self>, event: MessageEvent) {
        let _ = (ws, event);
    }

    /// A ping arrived (already answered: the pong is queued), among the
    /// messages. Not called after `on_error` or once `terminate` was called.
    fn on_ping(&mut self, ws: &WebSocket<Self>, payload: &[u8]) {
        let _ = (ws, payload);
    }

    /// A pong arrived, among the messages, with the round trip when it
    /// answered one of this connection's pings ([`WebSocket::ping`], or a
    /// keepalive ping). Not called after `on_error` or once `terminate` was
    /// called.
    fn on_pong(&mut self, ws: &WebSocket<Self>, event: &PongEvent) {
        let _ = (ws, event);
    }

    /// The write buffer has drained: a `send` refused with
    /// [`Error::WriteBufferFull`](crate::Error::WriteBufferFull) can be
    /// tried again (the buffer is at most half full). Called once per
    /// refusal, never without one.
    fn on_drain(&mut self, ws: &WebSocket<Self>) {
        let _ = ws;
    }

    /// The connection failed; `on_terminate` follows.
    fn on_error(&mut self, ws: &WebSocket<Self>, event: &ErrorEvent) {
        let _ = (ws, event);
    }

    /// The connection is over.
    fn on_terminate(&mut self, ws: &WebSocket<Self>, event: &TerminateEvent) {
        let _ = (ws, event);
    }

    /// How received messages are delivered (read once, at creation).
    fn data_type(&self) -> DataType {
        DataType::Text
    }

    /// Extra request headers (read once, at creation).
    fn headers(&self) -> Headers {
        Headers::new()
    }
}

/// A closure called with the connection and a borrowed event.
type Callback<E> = Box<dyn FnMut(&WebSocket<Callbacks>, &E) + Send>;

/// A closure called with the connection alone.
type DrainCallback = Box<dyn FnMut(&WebSocket<Callbacks>) + Send>;

/// A closure called with the connection and a ping's payload.
type PingCallback = Box<dyn FnMut(&WebSocket<Callbacks>, &[u8]) + Send>;

/// A closure called with the connection and a message it takes.
type MessageCallback = Box<dyn FnMut(&WebSocket<Callbacks>, MessageEvent) + Send>;

/// A [`Handler`] made of closures, each optional, with the settings beside
/// them: the 4D "object with optional callbacks".
///
/// ```no_run
/// use ws_client::{Callbacks, WebSocket};
///
/// let handler = Callbacks::new()
///     .on_message(|_ws, event| println!("{:?}", event.data))
///     .on_terminate(|_ws, event| println!("closed: {}", event.code));
/// let ws = WebSocket::new("ws://127.0.0.1:9001/", handler)?;
/// # Ok::<(), ws_client::Error>(())
/// ```
#[derive(Default)]
pub struct Callbacks {
    open: Option<Callback<OpenEvent>>,
    message: Option<MessageCallback>,
    ping: Option<PingCallback>,
    pong: Option<Callback<PongEvent>>,
    drain: Option<DrainCallback>,
    error: Option<Callback<ErrorEvent>>,
    terminate: Option<Callback<TerminateEvent>>,
    data_type: DataType,
    headers: Headers,
}

impl Callbacks {
    /// No callbacks, data type "text", no headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `on_open`.
    pub fn on_open(
        mut self,
        f: impl FnMut(&WebSocket<Callbacks>, &OpenEvent) + Send + 'static,
    ) -> Self {
        self.open = Some(Box::new(f));
        self
    }

    /// Sets `on_message`.
    pub fn on_message(
        mut self,
        f: impl FnMut(&WebSocket<Callbacks>, MessageEvent) + Send + 'static,
    ) -> Self {
        self.message = Some(Box::new(f));
        self
    }

    /// Sets `on_ping`.
    pub fn on_ping(mut self, f: impl FnMut(&WebSocket<Callbacks>, &[u8]) + Send + 'static) -> Self {
        self.ping = Some(Box::new(f));
        self
    }

    /// Sets `on_pong`.
    pub fn on_pong(
        mut self,
        f: impl FnMut(&WebSocket<Callbacks>, &PongEvent) + Send + 'static,
    ) -> Self {
        self.pong = Some(Box::new(f));
        self
    }

    /// Sets `on_drain`.
    pub fn on_drain(mut self, f: impl FnMut(&WebSocket<Callbacks>) + Send + 'static) -> Self {
        self.drain = Some(Box::new(f));
        self
    }

    /// Sets `on_error`.
    pub fn on_error(
        mut self,
        f: impl FnMut(&WebSocket<Callbacks>, &ErrorEvent) + Send + 'static,
    ) -> Self {
        self.error = Some(Box::new(f));
        self
    }

    /// Sets `on_terminate`.
    pub fn on_terminate(
        mut self,
        f: impl FnMut(&WebSocket<Callbacks>, &TerminateEvent) + Send + 'static,
    ) -> Self {
        self.terminate = Some(Box::new(f));
        self
    }

    /// Sets the data type.
    pub fn data_type(mut self, data_type: DataType) -> Self {
        self.data_type = data_type;
        self
    }

    /// Sets the extra request headers.
    pub fn headers(mut self, headers: Headers) -> Self {
        self.headers = headers;
        self
    }
}

impl fmt::Debug for Callbacks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Callbacks")
            .field("on_open", &self.open.is_some())
            .field("on_message", &self.message.is_some())
            .field("on_ping", &self.ping.is_some())
            .field("on_pong", &self.pong.is_some())
            .field("on_drain", &self.drain.is_some())
            .field("on_error", &self.error.is_some())
            .field("on_terminate", &self.terminate.is_some())
            .field("data_type", &self.data_type)
            .field("headers", &self.headers)
            .finish()
    }
}

impl Handler for Callbacks {
    fn on_open(&mut self, ws: &WebSocket<Self>, event: &OpenEvent) {
        if let Some(f) = &mut self.open {
            f(ws, event);
        }
    }

    fn on_message(&mut self, ws: &WebSocket<Self>, event: MessageEvent) {
        if let Some(f) = &mut self.message {
            f(ws, event);
        }
    }

    fn on_ping(&mut self, ws: &WebSocket<Self>, payload: &[u8]) {
        if let Some(f) = &mut self.ping {
            f(ws, payload);
        }
    }

    fn on_pong(&mut self, ws: &WebSocket<Self>, event: &PongEvent) {
        if let Some(f) = &mut self.pong {
            f(ws, event);
        }
    }

    fn on_drain(&mut self, ws: &WebSocket<Self>) {
        if let Some(f) = &mut self.drain {
            f(ws);
        }
    }

    fn on_error(&mut self, ws: &WebSocket<Self>, event: &ErrorEvent) {
        if let Some(f) = &mut self.error {
            f(ws, event);
        }
    }

    fn on_terminate(&mut self, ws: &WebSocket<Self>, event: &TerminateEvent) {
        if let Some(f) = &mut self.terminate {
            f(ws, event);
        }
    }

    fn data_type(&self) -> DataType {
        self.data_type
    }

    fn headers(&self) -> Headers {
        self.headers.clone()
    }
}
