//! Settings of client connections and listeners.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ws_proto::proxy::ProxyUrl;

/// Where a TLS client finds the certificates it trusts.
///
/// Every variant exists under every feature set; one whose cargo feature is
/// off fails a TLS connect with [`Error::TlsConfig`](crate::Error::TlsConfig)
/// naming the feature. The default is the first store built in: `WebPki`
/// (feature `webpki-roots`, on by default), else `System` (feature
/// `native-roots`), else `Empty`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Roots {
    /// Mozilla's root store, compiled in (webpki-roots; feature
    /// `webpki-roots`, on by default). The default when it is built in.
    #[cfg_attr(feature = "webpki-roots", default)]
    WebPki,
    /// The operating system's trust store (feature `native-roots`). The
    /// default when it is built in and `webpki-roots` is not.
    #[cfg_attr(all(feature = "native-roots", not(feature = "webpki-roots")), default)]
    System,
    /// None: only [`TlsOptions::extra_ca_files`] and [`TlsOptions::extra_ca_der`].
    /// The default without either root feature; a TLS connect then needs
    /// one of those (or [`TlsOptions`]' complete rustls configuration), and
    /// fails with `Error::TlsConfig` saying so otherwise.
    #[cfg_attr(not(any(feature = "webpki-roots", feature = "native-roots")), default)]
    Empty,
}

/// TLS settings of a client connection. Whether a connection uses TLS is
/// the request's to say, and only the request's
/// (`ws_proto::ClientRequest::secure`, a `wss://` URL): these settings
/// apply to secure requests and are not looked at otherwise. Without the
/// `tls` feature they are never looked at (a `wss://` request fails), and
/// stay so that code setting them compiles under every feature set.
///
/// The rustls configuration made from them is built once per distinct set
/// of settings and shared by every connection made with it, so a reconnect
/// resumes the TLS session.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct TlsOptions {
    /// The base trust store.
    pub roots: Roots,
    /// PEM files whose certificates are trusted as well.
    pub extra_ca_files: Vec<PathBuf>,
    /// DER certificates trusted as well.
    pub extra_ca_der: Vec<Vec<u8>>,
    /// A client certificate and its key, for servers that ask for one
    /// (mutual TLS).
    pub client_auth: Option<ClientIdentity>,
    /// A complete rustls configuration, used as is instead of the above.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub config: Option<Arc<rustls::ClientConfig>>,
    /// **DANGER: turns off the server's authentication.** When `true`, any
    /// certificate chain for any name is accepted (self-signed, expired,
    /// for another host, from an unknown CA), so anyone who can intercept
    /// the connection can impersonate the server and read and change
    /// everything sent over it (a man-in-the-middle attack). Only for
    /// development against a server with a throwaway certificate; never
    /// for real traffic.
    ///
    /// The handshake is still encrypted and its signatures are still
    /// checked against the certificate the server sent: this is "no
    /// authentication", not "no crypto". The trust settings above
    /// ([`roots`](Self::roots), the extra CAs) are then not used; the
    /// client identity still is. Ignored when [`config`](Self::config) is
    /// set.
    ///
    /// Default `false`. Exists only with the cargo feature
    /// `danger-accept-invalid-certs` (off by default).
    #[cfg(feature = "danger-accept-invalid-certs")]
    #[cfg_attr(docsrs, doc(cfg(feature = "danger-accept-invalid-certs")))]
    pub danger_accept_invalid_certs: bool,
}

/// Chaining setters: `TlsOptions` is `#[non_exhaustive]` (a new setting is
/// not a breaking change), so build one from its default and set what
/// differs, as in `TlsOptions::default().roots(..)`; or set its public
/// fields on a mutable value.
impl TlsOptions {
    /// Sets [`roots`](Self::roots).
    #[must_use]
    pub fn roots(mut self, roots: Roots) -> Self {
        self.roots = roots;
        self
    }

    /// Sets [`extra_ca_files`](Self::extra_ca_files).
    #[must_use]
    pub fn extra_ca_files(mut self, extra_ca_files: Vec<PathBuf>) -> Self {
        self.extra_ca_files = extra_ca_files;
        self
    }

    /// Sets [`extra_ca_der`](Self::extra_ca_der).
    #[must_use]
    pub fn extra_ca_der(mut self, extra_ca_der: Vec<Vec<u8>>) -> Self {
        self.extra_ca_der = extra_ca_der;
        self
    }

    /// Sets [`client_auth`](Self::client_auth).
    #[must_use]
    pub fn client_auth(mut self, client_auth: Option<ClientIdentity>) -> Self {
        self.client_auth = client_auth;
        self
    }

    #[cfg(feature = "tls")]
    /// Sets [`config`](Self::config).
    #[must_use]
    pub fn config(mut self, config: Option<Arc<rustls::ClientConfig>>) -> Self {
        self.config = config;
        self
    }

    #[cfg(feature = "danger-accept-invalid-certs")]
    /// Sets [`danger_accept_invalid_certs`](Self::danger_accept_invalid_certs).
    #[must_use]
    pub fn danger_accept_invalid_certs(mut self, danger_accept_invalid_certs: bool) -> Self {
        self.danger_accept_invalid_certs = danger_accept_invalid_certs;
        self
    }
}

/// A client certificate chain and its private key (mutual TLS).
///
/// `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub enum ClientIdentity {
    /// PEM files: the certificate chain (leaf first) and the private key
    /// (PKCS#8, PKCS#1 or SEC1).
    PemFiles {
        /// The certificate chain.
        chain: PathBuf,
        /// The private key.
        key: PathBuf,
    },
    /// DER bytes: the certificate chain (leaf first) and the private key.
    Der {
        /// The certificate chain.
        chain: Vec<Vec<u8>>,
        /// The private key (PKCS#8, PKCS#1 or SEC1).
        key: Vec<u8>,
    },
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::PemFiles { chain, key } => f
                .debug_struct("PemFiles")
                .field("chain", chain)
                .field("key", key)
                .finish(),
            Self::Der { chain, .. } => f
                .debug_struct("Der")
                .field("chain", &format_args!("{} certificate(s)", chain.len()))
                .field("key", &"<hidden>")
                .finish(),
        }
    }
}

/// Settings of a client connection.
#[derive(Clone, Debug)]
#[non_exhaustive]
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
    /// How long to wait before starting (a reconnect's backoff): the
    /// connection exists at once, `Connecting`, and can be closed while it
    /// waits; its handshake timeout counts from the end of the wait. Zero
    /// (the default): start at once.
    pub delay: Duration,
    /// Resolves the first hop's host name instead of the system resolver,
    /// on the loop's resolver thread (so it may block). `None` (the
    /// default): the system resolver.
    pub resolver: Option<Resolver>,
}

/// Chaining setters: `ClientOptions` is `#[non_exhaustive]` (a new setting is
/// not a breaking change), so build one from its default and set what
/// differs, as in `ClientOptions::default().config(..)`; or set its public
/// fields on a mutable value.
impl ClientOptions {
    /// Sets [`config`](Self::config).
    #[must_use]
    pub fn config(mut self, config: ws_proto::Config) -> Self {
        self.config = config;
        self
    }

    /// Sets [`connect_timeout`](Self::connect_timeout).
    #[must_use]
    pub fn connect_timeout(mut self, connect_timeout: Duration) -> Self {
        self.connect_timeout = connect_timeout;
        self
    }

    /// Sets [`nodelay`](Self::nodelay).
    #[must_use]
    pub fn nodelay(mut self, nodelay: bool) -> Self {
        self.nodelay = nodelay;
        self
    }

    /// Sets [`tls`](Self::tls).
    #[must_use]
    pub fn tls(mut self, tls: TlsOptions) -> Self {
        self.tls = tls;
        self
    }

    /// Sets [`proxy`](Self::proxy).
    #[must_use]
    pub fn proxy(mut self, proxy: Option<ProxyUrl>) -> Self {
        self.proxy = proxy;
        self
    }

    /// Sets [`proxy_timeout`](Self::proxy_timeout).
    #[must_use]
    pub fn proxy_timeout(mut self, proxy_timeout: Duration) -> Self {
        self.proxy_timeout = proxy_timeout;
        self
    }

    /// Sets [`delay`](Self::delay).
    #[must_use]
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Sets [`resolver`](Self::resolver).
    #[must_use]
    pub fn resolver(mut self, resolver: Option<Resolver>) -> Self {
        self.resolver = resolver;
        self
    }
}

/// A host-name resolver of the caller's: a name and a port in, the
/// addresses to try (in order) out.
///
/// ```
/// use std::net::{SocketAddr, ToSocketAddrs as _};
/// use ws_mio::Resolver;
///
/// // Every name is this machine (for tests).
/// let resolver = Resolver::new(|_host, port| Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))]));
/// assert_eq!(resolver.resolve("example.test", 80).unwrap()[0].port(), 80);
/// ```
#[derive(Clone)]
pub struct Resolver(Arc<ResolveFn>);

/// What a [`Resolver`] runs.
type ResolveFn = dyn Fn(&str, u16) -> io::Result<Vec<SocketAddr>> + Send + Sync;

impl Resolver {
    /// A resolver that calls `resolve`.
    pub fn new(
        resolve: impl Fn(&str, u16) -> io::Result<Vec<SocketAddr>> + Send + Sync + 'static,
    ) -> Self {
        Self(Arc::new(resolve))
    }

    /// The addresses of `host:port`.
    pub fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        (self.0)(host, port)
    }

    /// The addresses of `host` (a name, or an IP address without brackets)
    /// and `port`: the address itself, or what `resolver` answers (the
    /// system resolver without one); no address at all is `NotFound`.
    /// Blocks while the resolver does.
    ///
    /// ```
    /// use ws_mio::Resolver;
    ///
    /// let addrs = Resolver::lookup(None, "::1", 443).unwrap();
    /// assert_eq!(addrs[0].to_string(), "[::1]:443");
    /// let none = Resolver::new(|_, _| Ok(Vec::new()));
    /// assert!(Resolver::lookup(Some(&none), "feed.test", 80).is_err());
    /// ```
    pub fn lookup(resolver: Option<&Self>, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        if let Ok(ip) = host.parse::<std::net::IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let addrs: Vec<SocketAddr> = match resolver {
            Some(resolver) => resolver.resolve(host, port)?,
            None => (host, port).to_socket_addrs()?.collect(),
        };
        if addrs.is_empty() {
            return Err(io::Error::new(io::ErrorKind::NotFound, "no address"));
        }
        Ok(addrs)
    }
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Resolver")
    }
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
            delay: Duration::ZERO,
            resolver: None,
        }
    }
}

/// Settings of a listener and the connections it accepts.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ServerOptions {
    /// The protocol's limits and timers.
    pub config: ws_proto::Config,
    /// Subprotocol choice.
    pub server: ws_proto::ServerConfig,
    /// TLS, when set: every accepted connection speaks `wss://`.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// Chaining setters: `ServerOptions` is `#[non_exhaustive]` (a new setting is
/// not a breaking change), so build one from its default and set what
/// differs, as in `ServerOptions::default().config(..)`; or set its public
/// fields on a mutable value.
impl ServerOptions {
    /// Sets [`config`](Self::config).
    #[must_use]
    pub fn config(mut self, config: ws_proto::Config) -> Self {
        self.config = config;
        self
    }

    /// Sets [`server`](Self::server).
    #[must_use]
    pub fn server(mut self, server: ws_proto::ServerConfig) -> Self {
        self.server = server;
        self
    }

    #[cfg(feature = "tls")]
    /// Sets [`tls`](Self::tls).
    #[must_use]
    pub fn tls(mut self, tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        self.tls = tls;
        self
    }
}
