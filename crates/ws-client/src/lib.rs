//! `ws-client`: a WebSocket client (RFC 6455) with the API of the 4D
//! `WebSocket` class, on the [`ws_mio`] event loop and the [`ws_proto`]
//! state machine.
//!
//! A connection is made with a URL and a handler: an object whose
//! callbacks (`on_open`, `on_message`, `on_error`, `on_terminate`) hear
//! what happens, in that order, and whose settings (`data_type`,
//! `headers`) say how. The handler is a type implementing [`Handler`], or
//! closures in [`Callbacks`].
//!
//! The 4D example, in Rust:
//!
//! ```no_run
//! use ws_client::{Handler, MessageEvent, TerminateEvent, WebSocket};
//!
//! // The WSConnectionHandler class.
//! struct WsConnectionHandler;
//!
//! impl Handler for WsConnectionHandler {
//!     fn on_message(&mut self, _ws: &WebSocket<Self>, event: MessageEvent) {
//!         println!("{:?}", event.data);
//!     }
//!     fn on_terminate(&mut self, _ws: &WebSocket<Self>, _event: &TerminateEvent) {
//!         println!("Connection closed");
//!     }
//! }
//!
//! let ws = WebSocket::new("wss://example.com/chat", WsConnectionHandler)?;
//! // once connected (on_open):
//! ws.send("Hello world")?;
//! # Ok::<(), ws_client::Error>(())
//! ```
//!
//! Callbacks run on a shared background thread by default, or on a thread
//! of yours with a [`Worker`]. `send` and `terminate` work from any
//! thread; from a callback they go straight to the connection.
//!
//! Errors carry a stack of [`ErrorItem`]s (code, message, component); the
//! codes are listed in [`error`].
//!
//! # Features
//!
//! | Feature | Default | Enables |
//! |---------|---------|---------|
//! | `json` | on | serde and serde_json: the "object" data type (`DataType::Object`, `Data::Object`), `send` of a `serde_json::Value` or of `Json(anything Serialize)`, the serde serialization of the events and [`ErrorItem`] (4D field names), `Error::Serialize`, `Error::InvalidJson` and the `serde_json` re-export. |
//! | `tls` | on | `wss://` (ws-mio's `tls`) and `Builder::tls_config`. Without it a `wss://` URL fails with error code 10 (`ws_mio::Error::TlsUnavailable`). |
//! | `ring` | on | rustls' ring crypto provider (implies `tls`). |
//! | `aws-lc-rs` | off | rustls' aws-lc-rs crypto provider (implies `tls`); used instead of ring when both are on. |
//! | `webpki-roots` | on | Mozilla's root store compiled in: [`Roots::WebPki`], the default (implies `tls`). |
//! | `native-roots` | off | The operating system's trust store: [`Roots::System`] (implies `tls`). |
//! | `deflate` | on | permessage-deflate ([`Builder::deflate`]); without it the setting is ignored. |
//! | `danger-accept-invalid-certs` | off | `Builder::danger_accept_invalid_certs` (implies `tls`). |
//! | `tracing` | off | Diagnostics through `tracing`: `terminate`, each `on_error`, redirects and reconnects, with the `WebSocket`'s id as `ws`; turns on ws-mio's, which logs each connection's stages, open, errors and close. |
//! | `http` | off | ws-proto's conversions from and to the `http` crate's types: [`Headers`] to and from an `http::HeaderMap`, a `ws_proto::ClientRequest` from an `http::Request<()>`. |
//!
//! The TLS features are ws-mio's, passed through: see [`ws_mio`]'s
//! documentation for what happens with both providers or both root stores
//! on, or with neither. `danger-accept-invalid-certs` accepts any server
//! certificate: a connection made with it does not know who it talks to
//! and is open to man-in-the-middle attacks. For development against
//! self-signed servers only, never for real traffic.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod attempt;
mod builder;
mod dispatch;
pub mod error;
mod event;
mod handler;
mod message;
mod reconnect;
mod redirect;
mod socket;
mod target;
mod trace;
mod worker;

pub use builder::Builder;
pub use error::{Error, ErrorItem};
pub use event::{Data, ErrorEvent, Event, MessageEvent, OpenEvent, PongEvent, TerminateEvent};
pub use handler::{Callbacks, DataType, Handler};
#[cfg(feature = "json")]
pub use message::Json;
pub use message::Outgoing;
pub use reconnect::{Reconnect, ReconnectPolicy};
pub use socket::{HandlerGuard, Status, WebSocket, check_terminate};
pub use worker::{Stopper, Worker};

pub use bytes::Bytes;
#[cfg(feature = "json")]
pub use serde_json;
pub use ws_mio::{Resolver, Roots};
/// The extra headers of the opening handshake, in order (ws-proto's one
/// header list, also what [`OpenEvent::headers`] holds).
///
/// Names and values are checked when the connection is created: a name
/// that is not an HTTP token, a value that is not text or has CR, LF or
/// NUL, or a header the handshake sets itself (`Upgrade`, `Connection`,
/// `Sec-WebSocket-*`...) makes [`WebSocket::new`] fail. `Host` may be set,
/// to address a virtual host other than the URL's. `Cookie` is sent as one
/// header, `"name=value; name2=value2"`.
pub use ws_proto::Headers;
pub use ws_proto::{DeflateConfig, Utf8Bytes};
pub use {ws_mio, ws_proto};

// The README, compiled as doctests (run where they need no network), so its
// examples keep up with the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
