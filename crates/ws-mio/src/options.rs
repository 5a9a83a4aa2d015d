//! Settings of client connections and listeners.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ws_proto::proxy::ProxyUrl;

/// Where a TLS client finds the certificates it trusts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Roots {
    /// Mozilla's root store, compiled in (webpki-roots). The default.
    #[default]
    WebPki,
    /// The operating system's trust store.
    System,
    /// None: only [`TlsOptions::extra_ca_files`] and [`TlsOptions::extra_ca_der`].
    Empty,
}

/// TLS settings of a client connection. Whether a connection uses TLS is
/// the request's to say, and only the request's
/// (`ws_proto::ClientRequest::secure`, a `wss://` URL): these settings
/// apply to secure requests and are not looked at otherwise.
///
/// The rustls configuration made from them is built once per distinct set
/// of settings and shared by every connection made with it, so a reconnect
/// resumes the TLS session.
#[derive(Clone, Debug, Default)]
pub struct TlsOptions {
    /// The base trust store.
    pub roots: Roots,
    /// PEM files whose certificates are trusted as well.
    pub extra_ca_files: Vec<PathBuf>,
    /// DER certificates trusted as well.
    pub extra_ca_der: Vec<Vec<u8>>,
    /// A complete rustls configuration, used as is instead of the above.
    pub config: Option<Arc<rustls::ClientConfig>>,
}

/// Settings of a client connection.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// The protocol's limits and timers.
    pub config: ws_proto::Config,
    /// How long one TCP connect may take (each address gets this long).
    pub connect_timeout: Duration,
    /// Disable Nagle's algorithm (default: yes; it delays small messages by
    /// tens of milliseconds).
    pub nodelay: bool,
    /// TLS settings, for secure requests (`wss://`) only.
    pub tls: TlsOptions,
    /// The proxy to reach the server through: `http://` (HTTP CONNECT) or
    /// `socks5://` / `socks5h://` (SOCKS5; with `socks5h` the proxy
    /// resolves the server's name). `None` (the default): directly. An
    /// `https://` proxy (TLS to the proxy itself) is refused by `connect`.
    pub proxy: Option<ProxyUrl>,
    /// How long the proxy may take to open the tunnel once the TCP
    /// connection to it is made (its answer to CONNECT, or the SOCKS5
    /// exchange).
    pub proxy_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            config: ws_proto::Config::default(),
            connect_timeout: Duration::from_secs(10),
            nodelay: true,
            tls: TlsOptions::default(),
            proxy: None,
            proxy_timeout: Duration::from_secs(10),
        }
    }
}

/// Settings of a listener and the connections it accepts.
#[derive(Clone, Debug, Default)]
pub struct ServerOptions {
    /// The protocol's limits and timers.
    pub config: ws_proto::Config,
    /// Subprotocol choice.
    pub server: ws_proto::ServerConfig,
    /// TLS, when set: every accepted connection speaks `wss://`.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}
