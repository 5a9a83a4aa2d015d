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
//! # Features
//!
//! | Feature | Default | Enables |
//! |---------|---------|---------|
//! | `tls` | on | `wss://` clients and TLS listeners with rustls: `server_config`, `server_config_from_pem`, `TlsOptions::config`, `ServerOptions::tls`, `Error::Tls`, the `rustls` re-export. |
//! | `ring` | on | rustls' ring crypto provider (implies `tls`). |
//! | `aws-lc-rs` | off | rustls' aws-lc-rs crypto provider (implies `tls`; builds aws-lc's C code). |
//! | `webpki-roots` | on | Mozilla's root store compiled in: [`Roots::WebPki`] (implies `tls`). |
//! | `native-roots` | off | The operating system's trust store: [`Roots::System`] (implies `tls`). |
//! | `deflate` | on | permessage-deflate, through `ws-proto/deflate`. |
//! | `danger-accept-invalid-certs` | off | `TlsOptions::danger_accept_invalid_certs`, which accepts any server certificate (implies `tls`). |
//! | `tracing` | off | Diagnostics through `tracing`: connect stages (debug), open and close (info), errors and the loop's own failures of a connection (warn), each with the connection's id as `conn`. |
//!
//! Without `tls`, no TLS code is built: a `wss://` request fails at once
//! with [`Error::TlsUnavailable`], and [`Conn::tls_info`] is always `None`.
//! [`TlsOptions`] and [`Roots`] stay (so code that sets them compiles
//! under every feature set) and are not looked at.
//!
//! **Crypto provider.** One is built in by default (ring). With both
//! `ring` and `aws-lc-rs` on, aws-lc-rs is used (turning it on is the
//! explicit choice; turn off the default features to build only it). With
//! neither, `tls` uses the process-level provider the application installs
//! (`rustls::crypto::CryptoProvider::install_default`); without one a TLS
//! connect fails with [`Error::TlsConfig`].
//!
//! **Roots.** [`Roots::default`] is [`Roots::WebPki`] with `webpki-roots`,
//! else [`Roots::System`] with `native-roots`, else [`Roots::Empty`]. With
//! both root features on, both variants work and the default stays WebPki;
//! the two stores are never merged (choose one per connection). A variant
//! whose feature is off fails a TLS connect with [`Error::TlsConfig`]
//! naming the feature. Without either feature, a TLS connect needs your
//! own CAs ([`TlsOptions::extra_ca_files`], [`TlsOptions::extra_ca_der`])
//! or a complete `TlsOptions::config`, and fails with [`Error::TlsConfig`]
//! otherwise.
//!
//! `danger-accept-invalid-certs` accepts any server certificate: the
//! connection is then open to man-in-the-middle attacks. For development
//! against self-signed servers only.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod conn;
mod echo;
mod error;
mod event_loop;
mod link;
mod memory;
mod options;
mod stream;
#[cfg(feature = "tls")]
mod tls;
mod tls_info;
#[cfg(feature = "danger-accept-invalid-certs")]
mod tls_insecure;
#[cfg(feature = "tls")]
mod tls_stream;
#[cfg(not(feature = "tls"))]
#[path = "tls_stream_off.rs"]
mod tls_stream;
mod trace;
mod transport;

pub use conn::{Batch, Conn, Event, Handler};
pub use echo::{EchoServer, echo};
pub use error::Error;
pub use event_loop::{EventLoop, Handle};
pub use options::{ClientIdentity, ClientOptions, Resolver, Roots, ServerOptions, TlsOptions};
pub use stream::Stream;
#[cfg(feature = "tls")]
pub use tls::{server_config, server_config_from_pem};
pub use tls_info::TlsInfo;

#[cfg(feature = "tls")]
pub use rustls;
pub use ws_proto;

// The README, compiled as doctests (run where they need no network), so its
// examples keep up with the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
