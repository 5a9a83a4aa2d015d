//! What [`WebSocket::send`](crate::WebSocket::send) accepts.

use bytes::Bytes;
#[cfg(feature = "json")]
use serde::Serialize;
use ws_mio::Conn;
use ws_proto::{SendError, Utf8Bytes};

use crate::error::Error;

/// A value that can be sent: text as a text frame, bytes as a binary
/// frame, a JSON value (or `Json` of anything `Serialize`; feature `json`)
/// as its JSON text in a text frame. Owned and shared payloads (`String`, `Vec<u8>`,
/// `Bytes`) are not copied when large.
///
/// ```no_run
/// # let ws = ws_client::WebSocket::new("ws://127.0.0.1:9001/", ws_client::Callbacks::new())?;
/// ws.send("text")?;                              // &str, String: text frame
/// ws.send(vec![0u8; 1 << 20])?;                  // Vec<u8>, &[u8], Bytes: binary frame
/// ws.send(serde_json::json!({"op": "ping"}))?;   // JSON text
/// # Ok::<(), ws_client::Error>(())
/// ```
pub trait Outgoing {
    /// Queues `self` on `conn`.
    #[doc(hidden)]
    fn send_on(self, conn: &Conn) -> Result<(), Error>;
}

fn sent(result: Result<(), SendError>) -> Result<(), Error> {
    result.map_err(Error::from)
}

impl Outgoing for &str {
    fn send_on(self, conn: &Conn) -> Result<(), Error> {
        sent(conn.send_text(self))
    }
}

impl Outgoing for &String {
    fn send_on(self, conn: &Conn) -> Result<(), Error> {
        sent(conn.send_text(self))
    }
}

impl Outgoing for String {
    fn send_on(self, conn: &Conn) -> Result<(), Error> {
        sent(conn.send_text_owned(self))
    }
}

impl Outgoing for Utf8Bytes {
    fn send_on(self, conn: &Conn) -> Result<(), Error> {
        sent(conn.send_text_bytes(self))
    }
}

impl Outgoing for &[u8] {
    fn send_on(self, conn: &Conn) -> Result<(), Error> {
        sent(conn.send_binary(self))
    }
}

impl<const N: usize> Outgoing for &[u8; N] {
    fn send_on(self, conn: &Conn) -> Result<(), Error> {
        sent(conn.send_binary(self))
    }
}

impl Outgoing for &Vec<u8> {
    fn send_on(self, conn: &Conn) -> Result<(), Error> {
        sent(conn.send_binary(self))
    }
}

impl Outgoing for Vec<u8> {
    fn send_on(self, conn: &Conn) -> Result<(), Error> {
        sent(conn.send_binary_owned(self))
    }
}

impl Outgoing for Bytes {
    fn send_on(self, conn: &Conn) -> Result<(), Error> {
        sent(conn.send_bytes(self))
    }
}

#[cfg(feature = "json")]
impl Outgoing for &serde_json::Value {
    fn send_on(self, conn: &Conn) -> Result<(), Error> {
        Json(self).send_on(conn)
    }
}

#[cfg(feature = "json")]
impl Outgoing for serde_json::Value {
    fn send_on(self, conn: &Conn) -> Result<(), Error> {
        Json(&self).send_on(conn)
    }
}

/// Sends any `Serialize` value as JSON text.
///
/// ```no_run
/// use ws_client::Json;
///
/// #[derive(serde::Serialize)]
/// struct Subscribe<'a> { op: &'a str, channels: &'a [&'a str] }
///
/// # let ws = ws_client::WebSocket::new("ws://127.0.0.1:9001/", ws_client::Callbacks::new())?;
/// ws.send(Json(&Subscribe { op: "subscribe", channels: &["trades"] }))?;
/// # Ok::<(), ws_client::Error>(())
/// ```
#[cfg(feature = "json")]
#[cfg_attr(docsrs, doc(cfg(feature = "json")))]
#[derive(Clone, Copy, Debug)]
pub struct Json<T>(pub T);

#[cfg(feature = "json")]
impl<T: Serialize> Outgoing for Json<T> {
    fn send_on(self, conn: &Conn) -> Result<(), Error> {
        let text = serde_json::to_string(&self.0).map_err(Error::Serialize)?;
        sent(conn.send_text_owned(text))
    }
}
