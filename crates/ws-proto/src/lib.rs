//! `ws-proto`: the WebSocket protocol (RFC 6455) as a state machine with no
//! I/O of its own.
//!
//! A [`Connection`] takes bytes, the end of the transport and the time as
//! inputs, and gives back events, bytes to send and the next deadline. It
//! has no socket, thread, clock or global random number generator: the
//! caller supplies all four, which makes it usable from any I/O layer
//! (`ws-mio` drives it over mio) and testable without a network.
//!
//! It covers both roles: the opening handshake ([`ClientRequest`],
//! [`ServerConfig`]), framing, masking, incremental UTF-8 validation,
//! fragmentation, ping/pong, the closing handshake with its close codes
//! ([`CloseCode`]), size limits and the handshake, close and keepalive
//! timers ([`Config`]), and permessage-deflate compression (RFC 7692,
//! [`DeflateConfig`]), off by default. The [`proxy`] module opens tunnels
//! through HTTP CONNECT and SOCKS5 proxies, sans-io as well.
//!
//! # Features
//!
//! | Feature   | Default | Enables |
//! |-----------|---------|---------|
//! | `deflate` | on      | permessage-deflate (RFC 7692) and its `flate2` (zlib-rs) dependency. |
//! | `url`     | off     | `WsUrl`: a `ws://`, `wss://`, `ws+unix://` URL checked and taken apart (the `url` crate), what ws-client and ws-tokio start from. |
//! | `http`    | off     | Conversions from and to the `http` crate's types: a [`ClientRequest`] from an `http::Request<()>`, [`Headers`] to and from an `http::HeaderMap`. |
//!
//! Without `deflate` the crate needs no compression library. The deflate
//! types ([`DeflateConfig`], [`DeflateParams`]) and [`Config::deflate`]
//! stay, so that code setting them compiles under every feature set, but
//! the setting is ignored: a client offers no extension and refuses a
//! server that answers with one (like any extension it did not offer), a
//! server declines every offer, and [`Connection::deflate`] is always
//! `None`.
//!
//! # The driving loop
//!
//! After every input (bytes read, end of transport, a timer) and every
//! command (send, close), drain the outputs: events first, then bytes to
//! write, then sleep until the next deadline or input. Here a client and a
//! server talk through two in-memory pipes:
//!
//! ```
//! use std::time::Instant;
//! use ws_proto::{ClientRequest, CloseCode, Config, Connection, Event, Message, ServerConfig};
//!
//! let now = Instant::now();
//! let request = ClientRequest::new("example.com", 80, "/chat");
//! let mut client = Connection::client(now, Config::default(), &request, ws_proto::default_rng())?;
//! let mut server = Connection::server(now, Config::default(), ServerConfig::default());
//!
//! // Moves what `from` wants to send into `to`, as a socket would.
//! fn pump(from: &mut Connection, to: &mut Connection, now: Instant) {
//!     while let Some(bytes) = from.poll_transmit() {
//!         let n = bytes.len();
//!         to.receive(now, bytes);
//!         from.advance_transmit(n);
//!     }
//! }
//!
//! let mut received = Vec::new();
//! let mut closed = None;
//! for _ in 0..8 {
//!     pump(&mut client, &mut server, now);
//!     while let Some(event) = server.poll_event() {
//!         if let Event::Message(Message::Text(text)) = event {
//!             server.send_text(&text.to_uppercase())?; // an echo that shouts
//!         }
//!     }
//!     pump(&mut server, &mut client, now);
//!     while let Some(event) = client.poll_event() {
//!         match event {
//!             Event::Open(_) => client.send_text("hello")?,
//!             Event::Message(message) => {
//!                 received.push(message);
//!                 client.close(now, CloseCode::NORMAL, "done")?;
//!             }
//!             Event::Closed(c) => closed = Some(c),
//!             _ => {}
//!         }
//!     }
//!     if closed.is_none() && server.state() == ws_proto::State::Closed {
//!         client.receive_eof(); // the server ended the TCP connection
//!     }
//! }
//! assert_eq!(received, [Message::Text("HELLO".into())]);
//! let closed = closed.expect("closed");
//! assert_eq!((closed.code, closed.was_clean), (CloseCode::NORMAL, true));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A real driver also calls [`Connection::handle_timeout`] when the clock
//! reaches [`Connection::poll_timeout`], and [`Connection::receive_eof`] when
//! a read returns 0. It may read straight into the connection's buffer
//! ([`Connection::receive_buffer`], then [`Connection::commit_received`], or
//! [`Connection::commit_received_with`], which reads the clock only when
//! the connection needs the time), so that a received byte is copied once.
//!
//! # Errors
//!
//! A peer that breaks the protocol never makes a call fail: the connection
//! sends the right close code, reports [`Event::Error`] once, then
//! [`Event::Closed`]. Calls that return `Err` are local mistakes
//! ([`RequestError`], [`SendError`]) and change nothing.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod bounded;
mod close;
mod config;
mod connection;
mod error;
mod event;
mod extension;
pub mod frame;
pub mod handshake;
mod key_source;
pub mod proxy;
#[cfg(feature = "url")]
mod ws_url;

pub use close::{CloseCode, CloseFrame, MAX_CLOSE_REASON};
pub use config::Config;
pub use connection::{Connection, Role, SpareBuffer, State};
pub use error::{
    Error, HandshakeError, ProtocolError, Rejection, RequestError, SendError, TimeoutKind,
};
pub use event::{Closed, Event, Initiator, Message, MessageRef, Open};
pub use extension::{DeflateConfig, DeflateParams};
pub use frame::Utf8Bytes;
pub use handshake::{ClientRequest, Headers, ServerConfig};
pub use key_source::{DefaultKeySource, KeySource};
#[cfg(feature = "url")]
pub use ws_url::{UrlError, WsUrl, without_credentials};

pub use bytes::Bytes;

/// A CSPRNG (ChaCha12) seeded from the operating system, for masking keys
/// and `Sec-WebSocket-Key`. Tests pass a seeded `rand::rngs::StdRng` instead
/// (any [`KeySource`]).
pub fn default_rng() -> DefaultKeySource {
    DefaultKeySource::new()
}

// The README, compiled as doctests (run where they need no network), so its
// examples keep up with the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
