//! `ws-mio` drives [`ws_proto`] connections over non-blocking mio sockets,
//! with TLS from rustls (ring provider). One [`EventLoop`] thread carries
//! any number of client and server connections.
//!
//! ```no_run
//! use ws_mio::{ClientOptions, Conn, Event, EventLoop};
//! use ws_proto::{ClientRequest, Message};
//!
//! let mut event_loop = EventLoop::new()?;
//! let handle = event_loop.handle();
//! let request = ClientRequest::new("127.0.0.1", 9001, "/");
//! let stopper = handle.clone();
//! handle.connect(&request, ClientOptions::default(), move |conn: &Conn, event: Event| match event {
//!     Event::Open(_) => conn.send_text("Hello world").unwrap(),
//!     Event::Message(Message::Text(text)) => println!("{text}"),
//!     Event::Closed(_) => stopper.stop(),
//!     _ => {}
//! })?;
//! event_loop.run()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Handlers run on the loop's thread. A [`Conn`] can be cloned and used
//! from any thread: sends go straight into the connection's state machine
//! (so errors such as a full write buffer are returned to the sender at
//! once, and messages keep their order), and the loop is woken to write.
//!
//! Cargo features: `danger-accept-invalid-certs` (off by default) adds
//! `TlsOptions::danger_accept_invalid_certs`, which accepts any server
//! certificate: the connection is then open to man-in-the-middle attacks.
//! For development against self-signed servers only.

mod conn;
mod echo;
mod error;
mod event_loop;
mod link;
mod memory;
mod options;
mod stream;
mod tls;
#[cfg(feature = "danger-accept-invalid-certs")]
mod tls_insecure;
mod tls_stream;
mod trace;
mod transport;

pub use conn::{Batch, Conn, Event, Handler};
pub use echo::{EchoServer, echo};
pub use error::Error;
pub use event_loop::{EventLoop, Handle};
pub use options::{ClientIdentity, ClientOptions, Resolver, Roots, ServerOptions, TlsOptions};
pub use stream::Stream;
pub use tls::{TlsInfo, server_config, server_config_from_pem};

pub use rustls;
pub use ws_proto;

// The README, compiled as doctests (run where they need no network), so its
// examples keep up with the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
