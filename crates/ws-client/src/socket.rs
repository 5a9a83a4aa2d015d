//! [`WebSocket`]: one client connection, its [`Builder`], and the adapter
//! that turns the event loop's events into the handler's callbacks.

use std::cell::Cell;
use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use ws_mio::{ClientOptions, Conn, Roots};
use ws_proto::proxy::{Host, ProxyEnv, ProxyError, ProxyUrl};
use ws_proto::{ClientRequest, CloseCode, Config, Message, State};

use crate::error::Error;
use crate::event::{Data, ErrorEvent, MessageEvent, OpenEvent, PongEvent, TerminateEvent};
use crate::handler::{Callbacks, DataType, Handler};
use crate::headers::Headers;
use crate::message::Outgoing;
use crate::target::{Resolver, Target, lookup, without_credentials};
use crate::worker::{Worker, shared_loop};

/// Connection ids, unique within the process.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The connection whose callback this thread is running (0: none), so
    /// that `handler()` from inside it fails clearly instead of deadlocking.
    static IN_CALLBACK: Cell<u64> = const { Cell::new(0) };
}

/// Where a connection is in its life; displayed as `Connecting`,
/// `Connected`, `Closing` or `Closed`.
///
/// ```
/// assert_eq!(ws_client::Status::Connected.to_string(), "Connected");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// The connection or its opening handshake is under way.
    Connecting,
    /// Open: messages can be sent.
    Connected,
    /// The closing handshake is under way.
    Closing,
    /// Over.
    Closed,
}

impl From<State> for Status {
    fn from(state: State) -> Self {
        match state {
            State::Connecting => Self::Connecting,
            State::Open => Self::Connected,
            State::Closing => Self::Closing,
            State::Closed => Self::Closed,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connecting => "Connecting",
            Self::Connected => "Connected",
            Self::Closing => "Closing",
            Self::Closed => "Closed",
        })
    }
}

struct Inner<H> {
    id: u64,
    url: String,
    data_type: DataType,
    /// Set by `new`, or by the first event if that comes first.
    conn: OnceLock<Conn>,
    /// `terminate` was called: from then on no message is delivered, as
    /// in the browser's API (no `message` event once the socket is
    /// closing), whatever the peer still sends before its close answer.
    terminated: AtomicBool,
    /// Pings sent with `ping` and not answered yet (payload, when): the
    /// latest few, so a pong can be matched to its ping.
    pings: Mutex<VecDeque<(Vec<u8>, Instant)>>,
    /// The last round trip measured, in nanoseconds (`NO_RTT`: none yet).
    rtt_nanos: AtomicU64,
    handler: Mutex<H>,
}

/// ws-client's keepalive interval and timeout (see [`Builder::keepalive`]).
const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(20);

/// How many unanswered pings `ping` remembers to match pongs with.
const PINGS_IN_FLIGHT: usize = 8;
/// `Inner::rtt_nanos` before anything was measured.
const NO_RTT: u64 = u64::MAX;

/// A WebSocket client connection, the 4D `WebSocket` object. Cheap to
/// clone (clones are handles on the same connection); every method can be
/// called from any thread.
///
/// The connection lives until it closes, whether or not a handle is kept:
/// as long as its worker (or the shared background loop) runs.
///
/// ```no_run
/// use ws_client::{Callbacks, WebSocket};
///
/// let handler = Callbacks::new().on_message(|_ws, event| println!("{:?}", event.data));
/// let ws = WebSocket::new("wss://example.com/feed", handler)?;
/// // ... once on_open has run:
/// ws.send("Hello world")?;
/// ws.terminate(None, None)?;
/// # Ok::<(), ws_client::Error>(())
/// ```
pub struct WebSocket<H: Handler = Callbacks> {
    inner: Arc<Inner<H>>,
}

impl<H: Handler> Clone for WebSocket<H> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<H: Handler> WebSocket<H> {
    /// Opens a connection to `url` (`ws://host[:port]path[?query]` or
    /// `wss://...`), with `handler`'s callbacks and settings, on the
    /// shared background event loop. Use [`WebSocket::builder`] for more
    /// settings, or a [`Worker`] to run the callbacks on a thread of yours.
    ///
    /// Returns as soon as the connection has started; what follows reaches
    /// the handler. Fails at once, calling no callback, when the URL cannot
    /// be used, the host does not resolve (resolving blocks the caller), or
    /// the handler's headers are invalid.
    ///
    /// ```no_run
    /// use ws_client::{Callbacks, WebSocket};
    ///
    /// let ws = WebSocket::new("ws://127.0.0.1:9001/", Callbacks::new())?;
    /// assert_eq!(ws.url(), "ws://127.0.0.1:9001/");
    /// # Ok::<(), ws_client::Error>(())
    /// ```
    pub fn new(url: &str, handler: H) -> Result<Self, Error> {
        Builder::new(url).connect(handler)
    }

    /// The data type messages are received with: `"text"`, `"blob"` or
    /// `"object"` (read-only).
    ///
    /// ```no_run
    /// # let ws = ws_client::WebSocket::new("ws://127.0.0.1:9001/", ws_client::Callbacks::new())?;
    /// assert_eq!(ws.data_type().as_str(), "text");
    /// # Ok::<(), ws_client::Error>(())
    /// ```
    pub fn data_type(&self) -> DataType {
        self.inner.data_type
    }

    /// The handler given to `new`, locked while the guard lives.
    ///
    /// # Panics
    /// From inside one of this connection's own callbacks, where the
    /// handler is `self` already (waiting for the lock would deadlock).
    ///
    /// ```no_run
    /// # use ws_client::{Handler, WebSocket};
    /// struct Counter(usize);
    /// impl Handler for Counter {}
    /// let ws = WebSocket::new("ws://127.0.0.1:9001/", Counter(0))?;
    /// println!("{}", ws.handler().0);
    /// # Ok::<(), ws_client::Error>(())
    /// ```
    pub fn handler(&self) -> MutexGuard<'_, H> {
        assert!(
            IN_CALLBACK.with(Cell::get) != self.inner.id,
            "WebSocket::handler() called from inside its own callback: use `self` there"
        );
        lock(&self.inner.handler)
    }

    /// A number that identifies the connection within the process.
    ///
    /// ```no_run
    /// # let a = ws_client::WebSocket::new("ws://127.0.0.1:9001/", ws_client::Callbacks::new())?;
    /// # let b = ws_client::WebSocket::new("ws://127.0.0.1:9001/", ws_client::Callbacks::new())?;
    /// assert_ne!(a.id(), b.id());
    /// # Ok::<(), ws_client::Error>(())
    /// ```
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// The URL given to `new`, as given, but for credentials
    /// (`user:password@`), which are taken out.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// Where the connection is: `Connecting`, `Connected`, `Closing` or
    /// `Closed`.
    ///
    /// ```no_run
    /// # let ws = ws_client::WebSocket::new("ws://127.0.0.1:9001/", ws_client::Callbacks::new())?;
    /// println!("{}", ws.status()); // "Connecting", then "Connected"...
    /// # Ok::<(), ws_client::Error>(())
    /// ```
    pub fn status(&self) -> Status {
        self.inner
            .conn
            .get()
            .map_or(Status::Connecting, |conn| conn.state().into())
    }

    /// The subprotocol the server chose, once connected.
    pub fn protocol(&self) -> Option<String> {
        self.inner.conn.get().and_then(Conn::subprotocol)
    }

    /// Bytes queued and not yet written to the socket.
    pub fn buffered_amount(&self) -> usize {
        self.inner.conn.get().map_or(0, Conn::buffered_amount)
    }

    /// Sends a message: text (`&str`, `String`) as a text frame, bytes
    /// (`&[u8]`, `Vec<u8>`, `Bytes`) as a binary frame, a
    /// `serde_json::Value` or a [`Json`](crate::Json) of anything
    /// `Serialize` as JSON text.
    ///
    /// Fails, sending nothing, when the connection is not `Connected` or
    /// its write buffer is full. Messages go out in the order they were
    /// sent. From a callback (on the event loop's thread) the message goes
    /// straight to the connection, with no queue or wake-up between.
    ///
    /// ```no_run
    /// # let ws = ws_client::WebSocket::new("ws://127.0.0.1:9001/", ws_client::Callbacks::new())?;
    /// use ws_client::Json;
    /// ws.send("Hello world")?;
    /// ws.send(&[1u8, 2, 3])?;
    /// ws.send(serde_json::json!({"op": "subscribe", "channel": "trades"}))?;
    /// ws.send(Json(&vec![1, 2, 3]))?;
    /// # Ok::<(), ws_client::Error>(())
    /// ```
    pub fn send(&self, message: impl Outgoing) -> Result<(), Error> {
        match self.inner.conn.get() {
            Some(conn) => message.send_on(conn),
            None => Err(Error::NotConnected(Status::Connecting)),
        }
    }

    /// Sends a ping with `payload` (at most 125 bytes). Its pong reaches
    /// `on_pong` with the round trip, which [`rtt`](Self::rtt) keeps. Use
    /// a payload of your own per ping (a counter, a timestamp) to match
    /// them; the last few unanswered pings are remembered.
    ///
    /// ```no_run
    /// # let ws = ws_client::WebSocket::new("ws://127.0.0.1:9001/", ws_client::Callbacks::new())?;
    /// ws.ping(b"1")?;
    /// // ... later, in on_pong or anywhere:
    /// if let Some(rtt) = ws.rtt() {
    ///     println!("{} µs", rtt.as_micros());
    /// }
    /// # Ok::<(), ws_client::Error>(())
    /// ```
    pub fn ping(&self, payload: &[u8]) -> Result<(), Error> {
        let Some(conn) = self.inner.conn.get() else {
            return Err(Error::NotConnected(Status::Connecting));
        };
        let mut pings = lock(&self.inner.pings);
        conn.send_ping(payload).map_err(Error::from)?;
        if pings.len() == PINGS_IN_FLIGHT {
            pings.pop_front();
        }
        pings.push_back((payload.to_vec(), Instant::now()));
        Ok(())
    }

    /// The round trip time last measured: by a pong answering
    /// [`ping`](Self::ping), or a keepalive ping (on by default, see
    /// [`Builder::keepalive`]). `None` until one is measured.
    pub fn rtt(&self) -> Option<Duration> {
        match self.inner.rtt_nanos.load(Ordering::Relaxed) {
            NO_RTT => None,
            nanos => Some(Duration::from_nanos(nanos)),
        }
    }

    /// Starts the closing handshake with `code` (1000 when `None`; else
    /// 1000 or 3000-4999) and `reason` (at most 123 bytes of UTF-8).
    /// An invalid code or reason is an error and changes nothing. Calling
    /// it again, or on a closed connection, does nothing; while connecting,
    /// it abandons the connection (`on_terminate` with 1006).
    ///
    /// Once it has been called, no `on_message` runs any more, even for
    /// messages the server sent before it saw the close (as in the
    /// browser's API); `on_terminate` still comes, last, with the result
    /// of the closing handshake.
    ///
    /// ```no_run
    /// # let ws = ws_client::WebSocket::new("ws://127.0.0.1:9001/", ws_client::Callbacks::new())?;
    /// ws.terminate(Some(4000), Some("bye"))?;
    /// ws.terminate(None, None)?; // harmless
    /// assert!(ws.terminate(Some(1001), None).is_err()); // not a code an app may send
    /// # Ok::<(), ws_client::Error>(())
    /// ```
    pub fn terminate(&self, code: Option<u16>, reason: Option<&str>) -> Result<(), Error> {
        let (code, reason) = (code.unwrap_or(1000), reason.unwrap_or(""));
        check_terminate(code, reason)?;
        self.inner.terminated.store(true, Ordering::Release);
        match self.inner.conn.get() {
            Some(conn) => conn.close(CloseCode(code), reason).map_err(Error::from),
            None => Ok(()),
        }
    }
}

/// What [`WebSocket::terminate`] accepts: a code of 1000 or in 3000-4999
/// (the others are the protocol's or reserved) and a reason of at most 123
/// bytes. For checking a close request before the connection exists.
///
/// ```
/// use ws_client::check_terminate;
///
/// assert!(check_terminate(4000, "bye").is_ok());
/// assert!(check_terminate(1001, "").is_err());
/// assert!(check_terminate(1000, &"x".repeat(124)).is_err());
/// ```
pub fn check_terminate(code: u16, reason: &str) -> Result<(), Error> {
    if code != 1000 && !(3000..=4999).contains(&code) {
        return Err(Error::InvalidCloseCode(code));
    }
    if reason.len() > ws_proto::MAX_CLOSE_REASON {
        return Err(Error::ReasonTooLong(reason.len()));
    }
    Ok(())
}

impl WebSocket<Callbacks> {
    /// A [`Builder`] for a connection to `url`, for the settings beyond the
    /// handler's: subprotocols, TLS trust, timeouts, limits, a [`Worker`].
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use ws_client::{Callbacks, DataType, WebSocket};
    ///
    /// let ws = WebSocket::builder("wss://example.com/feed")
    ///     .protocol("v2.feed")
    ///     .header("X-Authorization", "token")
    ///     .data_type(DataType::Object)
    ///     .connect_timeout(Duration::from_secs(3))
    ///     .max_message_size(1 << 20)
    ///     .connect(Callbacks::new())?;
    /// # Ok::<(), ws_client::Error>(())
    /// ```
    pub fn builder(url: &str) -> Builder {
        Builder::new(url)
    }
}

impl<H: Handler> fmt::Debug for WebSocket<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocket")
            .field("id", &self.id())
            .field("url", &self.url())
            .field("status", &self.status())
            .field("data_type", &self.data_type())
            .finish()
    }
}

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
    resolver: Option<Arc<Resolver>>,
    proxy: ProxyChoice,
    via: Via,
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

/// How [`Builder`] chooses the proxy. Not `Debug`: the URL may hold
/// credentials (see [`Builder::proxy_for_debug`]).
#[derive(Clone)]
enum ProxyChoice {
    /// Directly (the default, and [`Builder::no_proxy`]).
    Direct,
    /// Through this proxy URL ([`Builder::proxy`]); read at connect.
    Url(String),
    /// As the environment says ([`Builder::proxy_from_env`]).
    FromEnv,
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
            options: ClientOptions {
                config: Config {
                    // Long-lived connections die silently (a NAT forgets
                    // them, a peer vanishes): ping when idle, by default,
                    // as Python websockets does.
                    keepalive_interval: Some(DEFAULT_KEEPALIVE),
                    keepalive_timeout: DEFAULT_KEEPALIVE,
                    ..Config::default()
                },
                ..ClientOptions::default()
            },
            event_loop: None,
            resolver: None,
            proxy: ProxyChoice::Direct,
            via: Via::Network,
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
        self.headers.append(name, value);
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

    /// The base trust store for `wss://` (default: webpki-roots).
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
    pub fn tls_config(mut self, config: Arc<ws_mio::rustls::ClientConfig>) -> Self {
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
        self.resolver = Some(Arc::new(resolve));
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

    /// The proxy for `target`, per the builder's choice.
    fn chosen_proxy(&self, target: &Target) -> Result<Option<ProxyUrl>, Error> {
        let proxy = self.named_proxy(target)?;
        if let Some(url) = &proxy {
            if url.scheme().uses_tls() {
                // Before resolving it: ws-mio would refuse it anyway.
                let scheme = url.scheme();
                return Err(Error::InvalidProxy(ProxyError::Unsupported { scheme }));
            }
        }
        Ok(proxy)
    }

    fn named_proxy(&self, target: &Target) -> Result<Option<ProxyUrl>, Error> {
        match &self.proxy {
            ProxyChoice::Direct => Ok(None),
            ProxyChoice::Url(url) => ProxyUrl::parse(url)
                .map(Some)
                .map_err(|e| Error::InvalidProxy(e.into())),
            ProxyChoice::FromEnv => {
                let env = ProxyEnv::from_lookup(|name| std::env::var(name).ok());
                env.proxy_for(target.secure, &target.host, target.port)
                    .map(Option::<&ProxyUrl>::cloned)
                    .map_err(Error::InvalidProxy)
            }
        }
    }

    /// Opens the connection with `handler`; see [`WebSocket::new`].
    pub fn connect<H: Handler>(mut self, handler: H) -> Result<WebSocket<H>, Error> {
        let target = Target::parse(&self.url)?;
        let proxy = match (&self.via, &target.unix) {
            (Via::Network, None) => self.chosen_proxy(&target)?,
            // A local socket: the environment's proxies are for the network.
            _ if matches!(self.proxy, ProxyChoice::FromEnv) => None,
            _ => self.chosen_proxy(&target)?,
        };
        let mut request =
            ClientRequest::new(target.host.clone(), target.port, target.resource.clone())
                .secure(target.secure);
        for protocol in self.protocols {
            request = request.protocol(protocol);
        }
        if let Some(origin) = self.origin {
            request = request.origin(origin);
        }
        let mut authorization = false;
        for (name, value) in handler.headers().iter().chain(self.headers.iter()) {
            authorization |= name.eq_ignore_ascii_case("authorization");
            request = request.header(name, value);
        }
        // Credentials in the URL, unless an Authorization header says
        // otherwise (RFC 7617).
        if let (Some((user, password)), false) = (&target.credentials, authorization) {
            use base64::Engine as _;
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            request = request.header("Authorization", format!("Basic {token}"));
        }
        request.validate().map_err(Error::InvalidRequest)?;
        let via = match (std::mem::replace(&mut self.via, Via::Network), &target.unix) {
            (Via::Network, Some(path)) => Via::Unix(path.clone()),
            (via, _) => via,
        };
        let addrs = match (&via, &proxy) {
            (Via::Network, None) => target.addresses(self.resolver.as_deref())?,
            (Via::Network, Some(url)) => proxy_addresses(url, self.resolver.as_deref())?,
            _ => Vec::new(),
        };
        self.options.proxy = proxy;
        for change in std::mem::take(&mut self.tweaks) {
            change(&mut self.options.config);
        }
        let event_loop = match self.event_loop {
            Some(handle) => handle,
            None => shared_loop()?,
        };
        let inner = Arc::new(Inner {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            url: without_credentials(&self.url).into_owned(),
            data_type: self.data_type.unwrap_or_else(|| handler.data_type()),
            conn: OnceLock::new(),
            terminated: AtomicBool::new(false),
            pings: Mutex::new(VecDeque::new()),
            rtt_nanos: AtomicU64::new(NO_RTT),

            handler: Mutex::new(handler),
        });
        let ws = WebSocket { inner };
        let dispatch = Dispatch {
            ws: ws.clone(),
            failed: false,
            keepalive_rtt: None,
        };
        let conn = match via {
            Via::Network => event_loop.connect_to(&request, addrs, self.options, dispatch)?,
            Via::Unix(path) => event_loop.connect_unix(path, &request, self.options, dispatch)?,
            Via::Stream(stream) => {
                event_loop.connect_stream(stream, &request, self.options, dispatch)?
            }
        };
        let _ = ws.inner.conn.set(conn);
        Ok(ws)
    }
}

/// The proxy's addresses: the first hop.
fn proxy_addresses(url: &ProxyUrl, resolve: Option<&Resolver>) -> Result<Vec<SocketAddr>, Error> {
    let host = match url.host() {
        Host::Name(name) => name.clone(),
        Host::Ip(ip) => ip.to_string(),
    };
    lookup(&host, url.port(), resolve).map_err(|error| {
        Error::Connection(ws_mio::Error::ProxyUnreachable {
            proxy: url.to_string(),
            error: Box::new(ws_mio::Error::Resolve { host, error }),
        })
    })
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
            .field("settings_changed", &self.tweaks.len())
            .finish_non_exhaustive()
    }
}

/// Turns the event loop's events into the handler's callbacks, keeping
/// the 4D order: nothing but `on_terminate` after `on_error`.
struct Dispatch<H: Handler> {
    ws: WebSocket<H>,
    /// `on_error` has run: later messages and errors are not delivered.
    failed: bool,
    /// The keepalive round trip last seen, so that a pong tells a new
    /// measurement from an old one.
    keepalive_rtt: Option<Duration>,
}

impl<H: Handler> Dispatch<H> {
    fn call(&self, f: impl FnOnce(&mut H, &WebSocket<H>)) {
        let inner = &self.ws.inner;
        let mut handler = lock(&inner.handler);
        let previous = IN_CALLBACK.with(|c| c.replace(inner.id));
        // Restores the marker even if the callback panics (the loop catches
        // the panic and fails the connection with 1011).
        struct Restore(u64);
        impl Drop for Restore {
            fn drop(&mut self) {
                IN_CALLBACK.with(|c| c.set(self.0));
            }
        }
        let _restore = Restore(previous);
        f(&mut handler, &self.ws);
    }

    fn error(&mut self, error: Error) {
        if !self.failed {
            self.failed = true;
            let event = ErrorEvent::new(error);
            self.call(|h, ws| h.on_error(ws, &event));
        }
    }

    /// The round trip this pong ends: a ping sent with `WebSocket::ping`
    /// with the same payload (the oldest such), or the keepalive ping the
    /// state machine just matched it with.
    fn round_trip(&mut self, conn: &Conn, payload: &[u8]) -> Option<Duration> {
        let mut pings = lock(&self.ws.inner.pings);
        if let Some(i) = pings.iter().position(|(p, _)| p[..] == *payload) {
            let (_, sent) = pings.remove(i).expect("found");
            return Some(sent.elapsed());
        }
        drop(pings);
        let keepalive = conn.rtt();
        if keepalive.is_some() && keepalive != self.keepalive_rtt {
            self.keepalive_rtt = keepalive;
            return keepalive;
        }
        None
    }

    /// The message as the data type wants it.
    fn data(&self, message: Message) -> Result<Data, serde_json::Error> {
        Ok(match (self.ws.inner.data_type, message) {
            (_, Message::Binary(bytes)) => Data::Blob(bytes),
            (DataType::Blob, Message::Text(text)) => Data::Blob(text.into_bytes()),
            (DataType::Text, Message::Text(text)) => Data::Text(text),
            (DataType::Object, Message::Text(text)) => {
                Data::Object(serde_json::from_str(text.as_str())?)
            }
        })
    }
}

impl<H: Handler> ws_mio::Handler for Dispatch<H> {
    fn on_event(&mut self, conn: &Conn, event: ws_mio::Event) {
        if self.ws.inner.conn.get().is_none() {
            let _ = self.ws.inner.conn.set(conn.clone());
        }
        match event {
            ws_mio::Event::Open(open) => {
                let event = OpenEvent {
                    protocol: open.subprotocol,
                    headers: open.headers,
                    tls: conn.tls_info(),
                };
                self.call(|h, ws| h.on_open(ws, &event));
            }
            ws_mio::Event::Message(message) => {
                if self.failed || self.ws.inner.terminated.load(Ordering::Acquire) {
                    return;
                }
                match self.data(message) {
                    Ok(data) => self.call(|h, ws| h.on_message(ws, MessageEvent { data })),
                    Err(e) => {
                        // RFC 6455 section 7.4.1: 1007, data inconsistent
                        // with the message's type.
                        let _ = conn.close(CloseCode::INVALID_PAYLOAD, "invalid JSON");
                        self.error(Error::InvalidJson(e));
                    }
                }
            }
            ws_mio::Event::Ping(payload) => {
                if !self.failed && !self.ws.inner.terminated.load(Ordering::Acquire) {
                    self.call(|h, ws| h.on_ping(ws, &payload));
                }
            }
            ws_mio::Event::Pong(payload) => {
                let rtt = self.round_trip(conn, &payload);
                if let Some(rtt) = rtt {
                    let nanos = u64::try_from(rtt.as_nanos()).unwrap_or(NO_RTT - 1);
                    self.ws.inner.rtt_nanos.store(nanos, Ordering::Relaxed);
                }
                if !self.failed && !self.ws.inner.terminated.load(Ordering::Acquire) {
                    let event = PongEvent { payload, rtt };
                    self.call(|h, ws| h.on_pong(ws, &event));
                }
            }
            ws_mio::Event::Drain => {
                if !self.failed && !self.ws.inner.terminated.load(Ordering::Acquire) {
                    self.call(|h, ws| h.on_drain(ws));
                }
            }
            ws_mio::Event::Error(e) => self.error(Error::Connection(e)),
            ws_mio::Event::Closed(closed) => {
                let event = TerminateEvent {
                    code: closed.code.0,
                    reason: closed.reason,
                    was_clean: closed.was_clean,
                };
                self.call(|h, ws| h.on_terminate(ws, &event));
            }
        }
    }
}

/// Locks `m`. A handler that panicked leaves its lock poisoned; the data
/// (the handler, the list of pings) is still whole between calls, so it is
/// taken anyway.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
