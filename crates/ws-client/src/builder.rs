//! [`Builder`]: the settings of a connection beyond its handler's.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ws_mio::{ClientOptions, Resolver, Roots};
use ws_proto::Config;
use ws_proto::proxy::ProxyUrl;

use crate::attempt::{Plan, ProxyChoice, Start};
use crate::error::Error;
use crate::handler::{DataType, Handler};
use crate::reconnect::ReconnectPolicy;
use crate::redirect::RedirectPolicy;
use crate::socket::{DEFAULT_KEEPALIVE, WebSocket};
use crate::target::without_credentials;
use crate::worker::{Worker, shared_loop};
use ws_proto::Headers;

/// Settings for a connection beyond the handler's; ends with
/// [`connect`](Self::connect). Settings given here win over the handler's
/// `data_type`; headers given here are sent after the handler's.
///
/// ```no_run
/// use std::time::Duration;
/// use ws_client::{Callbacks, Roots, WebSocket};
///
/// let ws = WebSocket::builder("wss://feed.example/v1")
///     .tls_roots(Roots::System)
///     .ca_file("/etc/my-ca.pem")
///     .cookie("session=abc")
///     .keepalive(Some(Duration::from_secs(15)))
///     .max_write_buffer(8 << 20)
///     .connect(Callbacks::new())?;
/// # Ok::<(), ws_client::Error>(())
/// ```
pub struct Builder {
    url: String,
    data_type: Option<DataType>,
    headers: Headers,
    protocols: Vec<String>,
    origin: Option<String>,
    options: ClientOptions,
    event_loop: Option<ws_mio::Handle>,
    resolver: Option<Resolver>,
    proxy: ProxyChoice,
    via: Via,
    reconnect: Option<ReconnectPolicy>,
    redirects: RedirectPolicy,
    /// Changes to `options.config` by the specific setters, applied over
    /// it at connect (see [`Builder::config`]).
    tweaks: Vec<ConfigChange>,
}

/// A change a [`Builder`] setter makes to the protocol settings.
type ConfigChange = Box<dyn FnOnce(&mut Config) + Send>;

/// How [`Builder`] reaches the server.
enum Via {
    /// Over TCP to the URL's host (or the proxy's).
    Network,
    /// Over a Unix domain socket ([`Builder::unix_socket`], `ws+unix://`).
    Unix(PathBuf),
    /// Over a stream the caller made ([`Builder::stream`]).
    Stream(ws_mio::Stream),
}

impl Builder {
    /// Default settings: the shared background loop, data type from the
    /// handler, the defaults of [`ws_proto::Config`] and
    /// [`ws_mio::ClientOptions`], except keepalive, which is on (a ping
    /// after 20 s without input, 20 s for its answer).
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            data_type: None,
            headers: Headers::new(),
            protocols: Vec::new(),
            origin: None,
            // Long-lived connections die silently (a NAT forgets them, a
            // peer vanishes): ping when idle, by default, as Python
            // websockets does.
            options: ClientOptions::default().config(
                Config::default()
                    .keepalive_interval(Some(DEFAULT_KEEPALIVE))
                    .keepalive_timeout(DEFAULT_KEEPALIVE),
            ),
            event_loop: None,
            resolver: None,
            proxy: ProxyChoice::Direct,
            via: Via::Network,
            reconnect: None,
            redirects: RedirectPolicy::default(),
            tweaks: Vec::new(),
        }
    }

    /// Sets the data type (instead of the handler's).
    pub fn data_type(mut self, data_type: DataType) -> Self {
        self.data_type = Some(data_type);
        self
    }

    /// Adds a request header (a name given again is sent again).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.append(name, value.into());
        self
    }

    /// Adds request headers.
    pub fn headers(mut self, headers: Headers) -> Self {
        self.headers.extend(headers.iter());
        self
    }

    /// Adds cookies, as `"name=value; name2=value2"`.
    pub fn cookie(self, cookies: impl Into<String>) -> Self {
        self.header("Cookie", cookies)
    }

    /// Offers a subprotocol (call again to offer several, in order of
    /// preference).
    pub fn protocol(mut self, name: impl Into<String>) -> Self {
        self.protocols.push(name.into());
        self
    }

    /// Sends an `Origin` header.
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// The base trust store for `wss://` (default: webpki-roots, see
    /// [`Roots`] for builds without that feature).
    pub fn tls_roots(mut self, roots: Roots) -> Self {
        self.options.tls.roots = roots;
        self
    }

    /// Trusts the CA certificates in a PEM file as well.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.options.tls.extra_ca_files.push(path.into());
        self
    }

    /// Trusts a DER certificate as well.
    pub fn ca_der(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.options.tls.extra_ca_der.push(der.into());
        self
    }

    /// Presents this client certificate to servers that ask for one
    /// (mutual TLS): a PEM certificate chain (leaf first) and a PEM
    /// private key. Read at connect; a file that cannot be used fails
    /// `connect` with [`Error::TlsConfig`].
    pub fn client_auth_pem(mut self, chain: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.options.tls.client_auth = Some(ws_mio::ClientIdentity::PemFiles {
            chain: chain.into(),
            key: key.into(),
        });
        self
    }

    /// Like [`client_auth_pem`](Self::client_auth_pem), from DER bytes.
    pub fn client_auth_der(mut self, chain: Vec<Vec<u8>>, key: Vec<u8>) -> Self {
        self.options.tls.client_auth = Some(ws_mio::ClientIdentity::Der { chain, key });
        self
    }

    /// **DANGER: accepts any server certificate.** The `wss://` connection
    /// no longer checks who the server is: a self-signed, expired or
    /// unknown-CA certificate, or one for another host, is accepted, so
    /// anyone who can intercept the connection can pose as the server and
    /// read and change everything sent and received (a man-in-the-middle
    /// attack). For development against a server with a throwaway
    /// certificate only; never for real traffic. The handshake is still
    /// encrypted and its signatures checked against the certificate
    /// shown.
    ///
    /// The trust settings ([`tls_roots`](Self::tls_roots),
    /// [`ca_file`](Self::ca_file), [`ca_der`](Self::ca_der)) are then not
    /// used; a client certificate still is; a [`tls_config`](Self::tls_config)
    /// wins over this. See [`ws_mio::TlsOptions::danger_accept_invalid_certs`].
    ///
    /// Exists only with the cargo feature `danger-accept-invalid-certs`
    /// (off by default).
    #[cfg(feature = "danger-accept-invalid-certs")]
    pub fn danger_accept_invalid_certs(mut self) -> Self {
        self.options.tls.danger_accept_invalid_certs = true;
        self
    }

    /// Uses a complete rustls configuration for `wss://`.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls_config(mut self, config: std::sync::Arc<ws_mio::rustls::ClientConfig>) -> Self {
        self.options.tls.config = Some(config);
        self
    }

    /// How long a TCP connect to one address may take (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.options.connect_timeout = timeout;
        self
    }

    /// How long the opening handshake may take once connected (default 10 s).
    pub fn handshake_timeout(self, timeout: Option<Duration>) -> Self {
        self.tweak(move |c| c.handshake_timeout = timeout)
    }

    /// How long to wait for the server's close frame (default 5 s).
    pub fn close_timeout(self, timeout: Option<Duration>) -> Self {
        self.tweak(move |c| c.close_timeout = timeout)
    }

    /// Sends a ping after this long without input (default 20 s; `None`
    /// turns keepalive off), and fails the connection (close 1011, then
    /// `on_error` and `on_terminate` with 1006) when nothing comes back
    /// within [`keepalive_timeout`](Self::keepalive_timeout). A dead peer
    /// or a silently dropped network path is found within the sum; its
    /// pongs also measure [`WebSocket::rtt`].
    pub fn keepalive(self, interval: Option<Duration>) -> Self {
        self.tweak(move |c| c.keepalive_interval = interval)
    }

    /// How long a keepalive ping may go unanswered (default 20 s).
    pub fn keepalive_timeout(self, timeout: Duration) -> Self {
        self.tweak(move |c| c.keepalive_timeout = timeout)
    }

    /// The largest message accepted (larger ones close with 1009).
    pub fn max_message_size(self, bytes: usize) -> Self {
        self.tweak(move |c| c.max_message_size = bytes)
    }

    /// The largest frame accepted (larger ones close with 1009).
    pub fn max_frame_size(self, bytes: usize) -> Self {
        self.tweak(move |c| c.max_frame_size = bytes)
    }

    /// The most bytes `send` may queue before it refuses.
    pub fn max_write_buffer(self, bytes: usize) -> Self {
        self.tweak(move |c| c.max_write_buffer = bytes)
    }

    /// Offers permessage-deflate (RFC 7692) with these parameters
    /// (`DeflateConfig::default()`: 15-bit windows, context takeover,
    /// level 1, messages under 32 bytes sent as they are). Off by default:
    /// it costs CPU time on every message (latency) and about 430 KB per
    /// connection once used, and compressing secrets beside data an
    /// attacker chooses can leak them (CRIME/BREACH); turn it on for bulky,
    /// repetitive payloads such as JSON feeds.
    pub fn deflate(self, deflate: Option<ws_proto::DeflateConfig>) -> Self {
        self.tweak(move |c| c.deflate = deflate)
    }

    /// Every protocol setting at once, as the base the specific setters
    /// (`keepalive`, `max_message_size`, `deflate`...) then change,
    /// whichever order they are called in: a setter always wins over
    /// `config`. Note that `ws_proto::Config::default()` has keepalive
    /// off, where this builder's own default has it on.
    pub fn config(mut self, config: Config) -> Self {
        self.options.config = config;
        self
    }

    /// Records a change to the protocol settings, applied over the base
    /// ([`config`](Self::config)) at connect, in the order made.
    fn tweak(mut self, change: impl FnOnce(&mut Config) + Send + 'static) -> Self {
        self.tweaks.push(Box::new(change));
        self
    }

    /// Disables Nagle's algorithm (default: yes).
    pub fn nodelay(mut self, nodelay: bool) -> Self {
        self.options.nodelay = nodelay;
        self
    }

    /// Runs the connection, and its callbacks, on `worker` (on the thread
    /// that drives it) instead of the shared background loop.
    pub fn worker(mut self, worker: &Worker) -> Self {
        self.event_loop = Some(worker.loop_handle());
        self
    }

    /// Resolves host names with `resolve` instead of the system resolver
    /// (a custom DNS, a fixed address for tests...).
    pub fn resolver(
        mut self,
        resolve: impl Fn(&str, u16) -> std::io::Result<Vec<SocketAddr>> + Send + Sync + 'static,
    ) -> Self {
        self.resolver = Some(Resolver::new(resolve));
        self
    }

    /// Connects through the proxy at `url`: `http://[user:password@]host[:port]`
    /// (HTTP CONNECT, with Basic authentication when credentials are
    /// given), `socks5://...` (SOCKS5; this client resolves the server's
    /// name, with the system resolver) or `socks5h://...` (the proxy
    /// resolves it). The URL is read by [`connect`](Self::connect), which
    /// fails with [`Error::InvalidProxy`] if it cannot be used (`https://`
    /// proxies are not supported). Credentials never appear in errors or
    /// `Debug` output. Replaces an earlier [`proxy_from_env`](Self::proxy_from_env)
    /// or [`no_proxy`](Self::no_proxy).
    ///
    /// ```no_run
    /// use ws_client::{Callbacks, WebSocket};
    ///
    /// let ws = WebSocket::builder("wss://feed.example.com/quotes")
    ///     .proxy("http://alice:secret@proxy.corp:3128")
    ///     .connect(Callbacks::new())?;
    /// # Ok::<(), ws_client::Error>(())
    /// ```
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = ProxyChoice::Url(url.into());
        self
    }

    /// How long the proxy may take to open the tunnel once the TCP
    /// connection to it is made (default 10 s).
    pub fn proxy_timeout(mut self, timeout: Duration) -> Self {
        self.options.proxy_timeout = timeout;
        self
    }

    /// Connects over the Unix domain socket at `path` (a local gateway or
    /// sidecar) instead of TCP; the URL still gives the handshake's `Host`
    /// and resource, and `wss://` runs TLS over the socket with the URL's
    /// host as the server name. A `ws+unix:///path/to.sock:/resource` URL
    /// says the same in one string.
    pub fn unix_socket(mut self, path: impl Into<PathBuf>) -> Self {
        self.via = Via::Unix(path.into());
        self
    }

    /// Runs the connection over `stream`, a socket the caller connected
    /// (a connection pool's, a tunnel of its own, one end of a
    /// socketpair): [`ws_mio::Stream::from_std_tcp`],
    /// [`ws_mio::Stream::from_std_unix`], or a mio socket.
    /// The URL gives the handshake's `Host` and resource, and `wss://`
    /// runs TLS over it; a proxy set too is asked for a tunnel over it.
    pub fn stream(mut self, stream: impl Into<ws_mio::Stream>) -> Self {
        self.via = Via::Stream(stream.into());
        self
    }

    /// Connects directly, whatever the environment says (the default).
    pub fn no_proxy(mut self) -> Self {
        self.proxy = ProxyChoice::Direct;
        self
    }

    /// Chooses the proxy from the environment, as curl does, when
    /// [`connect`](Self::connect) runs: `https_proxy` (or `HTTPS_PROXY`)
    /// for `wss://`, `http_proxy` (lowercase only: `HTTP_PROXY` can be set
    /// by a web server's request headers in CGI programs) for `ws://`, else
    /// `all_proxy` / `ALL_PROXY`; none for a host that `no_proxy` /
    /// `NO_PROXY` lists (comma-separated host suffixes, IP addresses, CIDR
    /// blocks, `host:port`, or `*` for all). The environment is never read
    /// unless this is called.
    pub fn proxy_from_env(mut self) -> Self {
        self.proxy = ProxyChoice::FromEnv;
        self
    }

    /// Connects again, by `policy`, when the connection ends uncleanly or
    /// cannot be made (see [`ReconnectPolicy`] for when and when not).
    /// Off by default.
    ///
    /// Each attempt is a whole 4D sequence on the same handler and
    /// `WebSocket`: `on_open`, messages, `on_error`?, `on_terminate`, whose
    /// [`TerminateEvent::reconnect`](crate::TerminateEvent::reconnect)
    /// says when the next attempt starts (`None`: this was the last).
    /// Between attempts [`WebSocket::status`] is `Connecting` and `send`
    /// fails with [`Error::NotConnected`]; `terminate` then cancels the
    /// next attempt (which ends with `on_terminate`, code 1006, as any
    /// connection abandoned while connecting). Every attempt resolves the
    /// host again; only the first one's failure to resolve is returned by
    /// `connect` (later ones are reported by `on_error`).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use ws_client::{Callbacks, ReconnectPolicy, WebSocket};
    ///
    /// let ws = WebSocket::builder("wss://feed.example.com/quotes")
    ///     .reconnect(ReconnectPolicy::default().max_delay(Duration::from_secs(30)))
    ///     .connect(Callbacks::new().on_terminate(|_ws, event| {
    ///         if let Some(next) = event.reconnect {
    ///             eprintln!("lost; attempt {} in {:?}", next.attempt, next.delay);
    ///         }
    ///     }))?;
    /// # Ok::<(), ws_client::Error>(())
    /// ```
    pub fn reconnect(mut self, policy: ReconnectPolicy) -> Self {
        self.reconnect = Some(policy);
        self
    }

    /// Follows up to `max` redirects in a row (301, 302, 303, 307, 308
    /// answers to the handshake; 0, the default, follows none): their
    /// `Location`, relative or absolute, `ws`/`wss` or `http`/`https`
    /// (taken as `ws`/`wss`). A redirect from `wss://` to `ws://` is an
    /// error unless [`allow_redirect_downgrade`](Self::allow_redirect_downgrade);
    /// cookies, `Authorization` headers and URL credentials are not sent to
    /// another host or port. No callback runs for a redirect;
    /// [`WebSocket::effective_url`] tells where the connection went.
    /// Not with a caller's [`stream`](Self::stream) or a Unix socket.
    pub fn follow_redirects(mut self, max: u32) -> Self {
        self.redirects.max = max;
        self
    }

    /// Lets a redirect lead from `wss://` to `ws://` (unencrypted).
    pub fn allow_redirect_downgrade(mut self) -> Self {
        self.redirects.allow_downgrade = true;
        self
    }

    /// The proxy choice as `Debug` shows it: the URL without credentials.
    fn proxy_for_debug(&self) -> String {
        match &self.proxy {
            ProxyChoice::Direct => "direct".to_owned(),
            ProxyChoice::FromEnv => "from the environment".to_owned(),
            ProxyChoice::Url(url) => match ProxyUrl::parse(url) {
                Ok(url) => url.to_string(),
                Err(_) => "<invalid URL>".to_owned(),
            },
        }
    }

    /// Opens the connection with `handler`; see [`WebSocket::new`].
    pub fn connect<H: Handler>(mut self, handler: H) -> Result<WebSocket<H>, Error> {
        let stream = match std::mem::replace(&mut self.via, Via::Network) {
            Via::Stream(stream) => Some(stream),
            Via::Unix(path) => {
                self.via = Via::Unix(path);
                None
            }
            Via::Network => None,
        };
        if stream.is_some() && (self.reconnect.is_some() || self.redirects.max > 0) {
            return Err(Error::Unsupported(
                "a caller's stream is used once: it cannot be reconnected or redirected",
            ));
        }
        let mut options = self.options;
        for change in std::mem::take(&mut self.tweaks) {
            change(&mut options.config);
        }
        let mut headers = handler.headers();
        headers.extend(self.headers.iter());
        let plan = Plan {
            url: self.url,
            headers,
            protocols: self.protocols,
            origin: self.origin,
            options,
            proxy: self.proxy,
            unix: match self.via {
                Via::Unix(path) => Some(path),
                _ => None,
            },
            event_loop: match self.event_loop {
                Some(handle) => handle,
                None => shared_loop()?,
            },
            resolver: self.resolver,
            reconnect: self.reconnect,
            redirects: self.redirects,
        };
        let data_type = self.data_type.unwrap_or_else(|| handler.data_type());
        WebSocket::start(plan, data_type, handler, Start::First(stream))
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("url", &without_credentials(&self.url))
            .field("data_type", &self.data_type)
            .field("headers", &self.headers)
            .field("protocols", &self.protocols)
            .field("options", &self.options)
            .field("proxy", &self.proxy_for_debug())
            .field("reconnect", &self.reconnect)
            .field("redirects", &self.redirects)
            .field("settings_changed", &self.tweaks.len())
            .finish_non_exhaustive()
    }
}
