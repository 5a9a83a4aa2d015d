//! `ws-tokio`: WebSocket (RFC 6455) connections on tokio, driven by the
//! [`ws_proto`] state machine.
//!
//! Every protocol rule (framing, masking, UTF-8, limits, permessage-deflate,
//! the closing handshake, the handshake/close/keepalive timers) is
//! `ws_proto::Connection`'s; this crate only moves bytes between it and
//! any `AsyncRead + AsyncWrite + Unpin` transport, and sleeps until its
//! next deadline.
//!
//! - [`connect`] / [`Builder`]: a client over TCP or TLS (`wss://`, rustls
//!   with ring and Mozilla's roots by default), or over a transport of your own
//!   ([`Builder::connect_on`]);
//! - [`accept`] / [`accept_with`]: the server role over an accepted stream;
//! - [`WebSocketStream`]: `recv` / `send` / `close`, or
//!   [`Stream`](futures_core::Stream) + [`Sink`](futures_sink::Sink);
//!   [`split`](WebSocketStream::split) into a [`ReadHalf`] and a
//!   [`WriteHalf`] for two tasks.
//!
//! ```
//! use ws_tokio::{CloseCode, Message};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let url = format!("ws://{}/echo", listener.local_addr()?);
//!
//! // A server that echoes every message until the client closes.
//! let server = tokio::spawn(async move {
//!     let (tcp, _) = listener.accept().await?;
//!     let mut ws = ws_tokio::accept(tcp).await?;
//!     while let Some(message) = ws.recv().await {
//!         ws.send(message?).await?;
//!     }
//!     Ok::<_, ws_tokio::Error>(())
//! });
//!
//! let mut ws = ws_tokio::connect(&url).await?;
//! ws.send_text("hello").await?;
//! assert_eq!(ws.recv().await.transpose()?, Some(Message::Text("hello".into())));
//! ws.close(CloseCode::NORMAL, "bye").await?;
//! assert!(ws.recv().await.is_none()); // a clean close ends the stream
//! server.await??;
//! # Ok(())
//! # }
//! ```
//!
//! # What a connection costs
//! A received byte is copied once: the transport reads straight into the
//! connection's buffer (`receive_buffer` / `commit_received`), and a
//! message is handed out as a slice of it. Nothing is allocated per
//! message in steady state. What waits to be written is bounded by
//! [`Config::max_write_buffer`]: a peer that does not read makes `send`
//! wait (back-pressure), and a send that would pass the limit fails with
//! [`Error::Send`]; memory never grows without bound.
//!
//! # Features
//!
//! | Feature | Default | Enables |
//! |---------|---------|---------|
//! | `tls` | on | `wss://` in [`connect`] (tokio-rustls): `MaybeTlsStream::Tls`, `Builder::tls_config`. |
//! | `ring` | on | rustls' ring crypto provider (implies `tls`). |
//! | `aws-lc-rs` | off | rustls' aws-lc-rs crypto provider (implies `tls`; builds aws-lc's C code). |
//! | `webpki-roots` | on | Mozilla's root store compiled in, trusted unless [`Builder::webpki_roots`]`(false)` (implies `tls`). |
//! | `deflate` | on | permessage-deflate, through `ws-proto/deflate` (without it [`Config::deflate`] is ignored). |
//! | `tracing` | off | Diagnostics through `tracing`: connect stages (debug), open and close (info), errors (warn), with a per-process connection number as `conn`. |
//!
//! Without `tls` no TLS code is built and a `wss://` URL fails at once with
//! [`Error::Tls`] naming the feature; [`accept`] and
//! [`Builder::connect_on`] take any transport, TLS of your own included.
//! The crypto provider follows ws-mio's rule: with both `ring` and
//! `aws-lc-rs` on, aws-lc-rs is used; with neither, the process-level
//! provider the application installs (`CryptoProvider::install_default`),
//! and without one a `wss://` connect fails with [`Error::Tls`]. Without
//! `webpki-roots`, a `wss://` connect needs roots added
//! ([`Builder::add_root_der`], [`Builder::add_root_pem`],
//! [`Builder::add_root_file`]) or a `Builder::tls_config`, and fails with
//! [`Error::Tls`] otherwise. There is no system root store here (ws-mio has
//! one, `native-roots`).
//!
//! # Runtimes
//! Works on the current-thread and the multi-thread runtime; the runtime
//! must have time enabled (`enable_time`, or `enable_all`): each
//! connection owns one `tokio::time::Sleep`.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod builder;
mod core;
mod error;
mod split;
mod stream;
mod tls;
mod trace;
mod transport;
mod wake;

use tokio::io::{AsyncRead, AsyncWrite};

pub use builder::Builder;
pub use error::Error;
pub use split::{ReadHalf, WriteHalf};
pub use stream::WebSocketStream;
pub use transport::MaybeTlsStream;
pub use ws_proto::{
    Bytes, CloseCode, Closed, Config, DeflateConfig, Message, Open, ServerConfig, State, Utf8Bytes,
};

/// Connects to `url` (`ws://` or `wss://`) with the default settings; see
/// [`Builder`] for the others.
pub async fn connect(url: impl Into<String>) -> Result<WebSocketStream<MaybeTlsStream>, Error> {
    Builder::new(url).connect().await
}

/// Runs the server side of the opening handshake over `stream` (an
/// accepted TCP connection, TLS over it, a Unix socket...) with the
/// default settings. A bad request is answered (400, 426) before the
/// error returns.
pub async fn accept<S>(stream: S) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    accept_with(stream, Config::default(), ServerConfig::default()).await
}

/// [`accept`] with protocol settings (limits, timers, deflate) and the
/// subprotocols the server speaks.
pub async fn accept_with<S>(
    stream: S,
    config: Config,
    server: ServerConfig,
) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let conn = ws_proto::Connection::server(std::time::Instant::now(), config, server);
    let core = core::Core::new(conn, stream, builder::DEFAULT_HIGH_WATER);
    WebSocketStream::handshake(core).await
}

// The README, compiled as doctests (run where they need no network), so its
// examples keep up with the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
