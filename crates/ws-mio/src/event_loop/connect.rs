//! The client connection's stages, each with its own deadline and its own
//! error: resolve the host (on a thread of its own: the system resolver
//! blocks), connect over TCP (each address in turn, within the connect
//! timeout), then stream: TLS (for `wss://`) and the WebSocket handshake
//! run over the transport under the state machine's handshake timeout.
//!
//! A connection enters here in one place, [`Handle::start_connect`].

use std::io::{self, Read as _, Write as _};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mio::Interest;
use mio::net::TcpStream;

use crate::stream::Stream;
#[cfg(feature = "tls")]
use rustls::pki_types::ServerName;
use ws_proto::ClientRequest;
use ws_proto::proxy::{
    Host, HttpConnect, Progress, ProxyError, ProxyProtocol, ProxyUrl, Socks5, Socks5Target, Tunnel,
};

use super::{Command, Entry, EventLoop, Handle, Slot, Stage, dispatch, token};
use crate::conn::{Conn, Handler, Shared};
use crate::error::Error;
use crate::link::{Link, lock};
use crate::options::{ClientOptions, Resolver};
use crate::tls_stream::TlsStream;
use crate::trace;
use crate::transport::Transport;

impl Handle {
    /// Starts a client connection for `request` (`request.is_secure()`
    /// selects TLS). Returns at once; the handler hears the rest, starting
    /// with `Open`, or with `Error` and `Closed` if it cannot be made.
    /// Fails at once on an invalid request or TLS configuration, or when
    /// the loop has stopped.
    pub fn connect(
        &self,
        request: &ClientRequest,
        options: ClientOptions,
        handler: impl Handler,
    ) -> Result<Conn, Error> {
        self.start_connect(request, FirstHop::Resolve, options, Box::new(handler))
    }

    /// Like [`connect`](Self::connect), to addresses the caller resolved
    /// already (tried in order); the request's host is still what the
    /// handshake and TLS name. For a caller that must know at once whether
    /// the host resolves, or that resolves in its own way.
    pub fn connect_to(
        &self,
        request: &ClientRequest,
        addrs: Vec<SocketAddr>,
        options: ClientOptions,
        handler: impl Handler,
    ) -> Result<Conn, Error> {
        if addrs.is_empty() {
            return Err(Error::Resolve {
                host: request.bare_host().to_owned(),
                error: io::Error::new(io::ErrorKind::NotFound, "no address"),
            });
        }
        let hop = FirstHop::Addrs(addrs);
        self.start_connect(request, hop, options, Box::new(handler))
    }

    /// Like [`connect`](Self::connect), over a stream the caller made and
    /// connected (or is connecting: the connection waits until the socket
    /// is writable, within the connect timeout): a socket from a connection
    /// pool, a tunnel of the caller's own, a socketpair. The options' proxy
    /// (a tunnel through the proxy the stream reaches), TLS (for a secure
    /// request, with the request's host for SNI and verification) and the
    /// WebSocket handshake run over it; the request's host and port go in
    /// the handshake's `Host` header only (and, through a proxy, in the
    /// tunnel request: a `socks5://` proxy then gets the name, as with
    /// `socks5h://`).
    pub fn connect_stream(
        &self,
        stream: impl Into<Stream>,
        request: &ClientRequest,
        options: ClientOptions,
        handler: impl Handler,
    ) -> Result<Conn, Error> {
        let hop = FirstHop::Stream(stream.into());
        self.start_connect(request, hop, options, Box::new(handler))
    }

    /// Like [`connect`](Self::connect), over the Unix domain socket at
    /// `path` (a local gateway or sidecar). The request's host and port go
    /// in the handshake's `Host` header only; a secure request runs TLS
    /// over the socket with the request's host as the server name. Fails at
    /// once if the socket cannot be connected.
    #[cfg(unix)]
    pub fn connect_unix(
        &self,
        path: impl AsRef<std::path::Path>,
        request: &ClientRequest,
        options: ClientOptions,
        handler: impl Handler,
    ) -> Result<Conn, Error> {
        let path = path.as_ref();
        if !options.delay.is_zero() {
            // Connected when the wait ends; a failure then is an event.
            let hop = FirstHop::UnixPath(path.to_owned());
            return self.start_connect(request, hop, options, Box::new(handler));
        }
        let stream = mio::net::UnixStream::connect(path).map_err(|error| Error::ConnectPath {
            path: path.to_owned(),
            error,
        })?;
        self.connect_stream(stream, request, options, handler)
    }

    fn start_connect(
        &self,
        request: &ClientRequest,
        hop: FirstHop,
        options: ClientOptions,
        handler: Box<dyn Handler>,
    ) -> Result<Conn, Error> {
        let tls = if request.is_secure() {
            Some(tls_target(request, &options)?)
        } else {
            None
        };
        let (host, port) = (request.bare_host().to_owned(), request.port());
        let proxy = match options.proxy {
            None => None,
            Some(url) => {
                // Everything about the tunnel that can be wrong before a
                // byte is sent (the scheme, the target, the credentials)
                // fails here, at once.
                tunnel_for(&url, &host, port, None).map_err(|error| Error::Proxy {
                    proxy: url.to_string(),
                    error,
                })?;
                Some(ProxyPlan {
                    url,
                    timeout: options.proxy_timeout,
                    target_addr: None,
                })
            }
        };
        if self.shared.stopping.load(Ordering::Acquire) {
            // A stopping loop closes what it starts: a connection made in
            // answer to a close (a reconnect) would never let it finish.
            return Err(Error::LoopStopped);
        }
        // The handshake timeout counts from the end of the wait.
        let start = Instant::now() + options.delay;
        let proto = ws_proto::Connection::client(
            start,
            options.config.clone(),
            request,
            crate::conn::ThreadCsprng,
        )?;
        let shared = Arc::new(Shared {
            id: self.shared.next_id.fetch_add(1, Ordering::Relaxed),
            link: Mutex::new(Link::new(proto)),
            token: AtomicUsize::new(usize::MAX),
            dirty: AtomicBool::new(false),
            held: AtomicUsize::new(0),
            event_loop: Arc::downgrade(&self.shared),
            drain_wanted: AtomicBool::new(false),
        });
        let conn = Conn {
            shared: shared.clone(),
        };
        let target = Box::new(Target {
            host,
            port,
            tls,
            proxy,
            connect_timeout: options.connect_timeout,
            nodelay: options.nodelay,
            resolver: options.resolver,
        });
        let queued = self
            .shared
            .command(Command::Connect(Box::new(PendingConnect {
                shared,
                handler,
                hop,
                target,
                delay: options.delay,
            })));
        match queued {
            Ok(()) => Ok(conn),
            Err(_) => Err(Error::LoopStopped),
        }
    }
}

/// A connection a handle started, on its way to the loop.
pub(super) struct PendingConnect {
    pub(super) shared: Arc<Shared>,
    pub(super) handler: Box<dyn Handler>,
    hop: FirstHop,
    target: Box<Target>,
    /// How long to wait before starting ([`ClientOptions::delay`]).
    delay: Duration,
}

/// How the first TCP connection (to the proxy, when there is one) is made.
pub(super) enum FirstHop {
    /// Resolve the host, then connect to its addresses in turn.
    Resolve,
    /// Connect to these addresses in turn (the caller resolved the host).
    Addrs(Vec<SocketAddr>),
    /// The caller made it.
    Stream(Stream),
    /// Connect to this Unix socket (after a wait: at once, `connect_unix`
    /// connects before it returns).
    #[cfg(unix)]
    UnixPath(std::path::PathBuf),
}

/// What a `wss://` connection's TLS starts from: the shared configuration
/// and the name the certificate must carry.
#[cfg(feature = "tls")]
type TlsTarget = (Arc<rustls::ClientConfig>, ServerName<'static>);
/// No value without the `tls` feature: [`tls_target`] refuses `wss://`, so
/// no connection gets this far with TLS to set up.
#[cfg(not(feature = "tls"))]
type TlsTarget = std::convert::Infallible;

/// The TLS a secure request needs, built (or taken from the cache) before
/// anything is connected, so that a bad setting fails the call at once.
#[cfg(feature = "tls")]
fn tls_target(request: &ClientRequest, options: &ClientOptions) -> Result<TlsTarget, Error> {
    let config = crate::tls::client_config(&options.tls)?;
    let name = ServerName::try_from(request.bare_host().to_owned())
        .map_err(|e| Error::TlsConfig(format!("server name {:?}: {e}", request.bare_host())))?;
    Ok((config, name))
}

/// Without the `tls` feature a `wss://` request fails here, typed.
#[cfg(not(feature = "tls"))]
fn tls_target(_request: &ClientRequest, _options: &ClientOptions) -> Result<TlsTarget, Error> {
    Err(Error::TlsUnavailable)
}

/// The client TLS stream for `target`, fed first with `leftover`: the
/// server's bytes that came with the proxy's answer.
#[cfg(feature = "tls")]
fn client_tls(target: &TlsTarget, leftover: &[u8]) -> Result<TlsStream, Error> {
    TlsStream::client(target.0.clone(), target.1.clone(), leftover)
}

#[cfg(not(feature = "tls"))]
fn client_tls(target: &TlsTarget, _leftover: &[u8]) -> Result<TlsStream, Error> {
    match *target {}
}

/// Where a client connection goes, and how.
pub(super) struct Target {
    /// The server's host (a name, or an IP address without brackets) and
    /// port: what the tunnel asks for and what TLS verifies.
    host: String,
    port: u16,
    tls: Option<TlsTarget>,
    proxy: Option<ProxyPlan>,
    connect_timeout: Duration,
    nodelay: bool,
    /// The caller's resolver, if any, for the names resolved here.
    resolver: Option<Resolver>,
}

/// The proxy a connection goes through.
struct ProxyPlan {
    url: ProxyUrl,
    timeout: Duration,
    /// The server's address, for a `socks5://` proxy: the client resolves
    /// the name and sends the address.
    target_addr: Option<SocketAddr>,
}

impl Target {
    /// The host and port of the first TCP connection: the proxy's, or the
    /// server's.
    fn first_hop(&self) -> (String, u16) {
        match &self.proxy {
            Some(plan) => (host_name(plan.url.host()), plan.url.port()),
            None => (self.host.clone(), self.port),
        }
    }

    /// The server's name the client must resolve itself besides the first
    /// hop: only through a `socks5://` proxy (not `socks5h://`), and only
    /// when it is not an address already.
    fn target_to_resolve(&self) -> Option<(String, u16)> {
        let plan = self.proxy.as_ref()?;
        let local = plan.url.scheme().protocol() == ProxyProtocol::Socks5
            && !plan.url.scheme().proxy_resolves_names();
        (local && self.host.parse::<IpAddr>().is_err()).then(|| (self.host.clone(), self.port))
    }

    /// Wraps an error of the first hop: with a proxy, it is the proxy that
    /// could not be reached.
    fn first_hop_error(&self, error: Error) -> Error {
        match &self.proxy {
            Some(_) => Error::ProxyUnreachable {
                proxy: self.proxy_name(),
                error: Box::new(error),
            },
            None => error,
        }
    }

    /// The proxy as errors name it (`scheme://host:port`, never its
    /// credentials); asked only in the stages that have one.
    fn proxy_name(&self) -> String {
        self.proxy
            .as_ref()
            .map(|plan| plan.url.to_string())
            .unwrap_or_default()
    }
}

/// What the resolver found: the first hop's addresses, and the server's
/// address when the client resolves it for a SOCKS5 proxy.
pub(super) struct Resolution {
    addrs: Vec<SocketAddr>,
    target_addr: Option<SocketAddr>,
}

/// A resolution that failed: for the first hop (the proxy's name, when
/// there is one, which [`Target::first_hop_error`] says), or for the
/// server's name resolved here for a SOCKS5 proxy.
pub(super) enum ResolveError {
    FirstHop(Error),
    Server(Error),
}

/// The host as the resolver takes it (an IPv6 address without brackets).
fn host_name(host: &Host) -> String {
    match host {
        Host::Name(name) => name.clone(),
        Host::Ip(ip) => ip.to_string(),
    }
}

/// Resolves `host:port` with the caller's resolver, or else the system's
/// (both may block).
fn lookup(host: &str, port: u16, resolver: Option<&Resolver>) -> Result<Vec<SocketAddr>, Error> {
    Resolver::lookup(resolver, host, port).map_err(|error| Error::Resolve {
        host: host.to_owned(),
        error,
    })
}

/// The tunnel to `host:port` through `url`. `target_addr`: the server's
/// address, resolved by the client (`socks5://`); without it a SOCKS5
/// proxy gets the name.
fn tunnel_for(
    url: &ProxyUrl,
    host: &str,
    port: u16,
    target_addr: Option<SocketAddr>,
) -> Result<Tunnel, ProxyError> {
    if url.scheme().uses_tls() {
        return Err(ProxyError::Unsupported {
            scheme: url.scheme(),
        });
    }
    Ok(match url.scheme().protocol() {
        ProxyProtocol::HttpConnect => HttpConnect::new(host, port, url.credentials())?.into(),
        ProxyProtocol::Socks5 => {
            let target = match target_addr {
                Some(addr) => Socks5Target::Addr(addr),
                None => Socks5Target::domain(host, port),
            };
            Socks5::new(target, url.credentials())?.into()
        }
    })
}

/// Why a tunnel stage ended without a tunnel.
enum TunnelFailure {
    Proxy(ProxyError),
    Io(io::Error),
}

/// Moves the tunnel's bytes over `stream` as far as the socket allows:
/// `Ok(Some(leftover))` once the proxy opened the tunnel (with the bytes
/// read past its answer), `Ok(None)` to wait for readiness. What is read
/// is bounded by the tunnel's own limits, a small buffer at a time.
fn pump(stream: &mut Stream, tunnel: &mut Tunnel) -> Result<Option<Vec<u8>>, TunnelFailure> {
    let mut buf = [0u8; 4096];
    loop {
        while let Some(bytes) = tunnel.poll_transmit() {
            match stream.write(bytes) {
                Ok(0) => return Err(TunnelFailure::Io(io::ErrorKind::WriteZero.into())),
                Ok(n) => tunnel.advance_transmit(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(TunnelFailure::Io(e)),
            }
        }
        match stream.read(&mut buf) {
            Ok(0) => {
                tunnel.receive_eof().map_err(TunnelFailure::Proxy)?;
                return Err(TunnelFailure::Io(io::ErrorKind::UnexpectedEof.into()));
            }
            Ok(n) => match tunnel.receive(&buf[..n]).map_err(TunnelFailure::Proxy)? {
                Progress::NeedMore => {}
                Progress::Established { leftover } => return Ok(Some(leftover)),
            },
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(TunnelFailure::Io(e)),
        }
    }
}

impl EventLoop {
    pub(super) fn start(&mut self, pending: PendingConnect) {
        let PendingConnect {
            shared,
            handler,
            hop,
            target,
            delay,
        } = pending;
        let index = self.allocate();
        shared.token.store(index, Ordering::Release);
        let id = shared.id;
        trace::debug!(
            conn = id,
            host = %target.host,
            port = target.port,
            delay_ms = delay.as_millis() as u64,
            proxy = target.proxy.is_some(),
            tls = target.tls.is_some(),
            "connecting"
        );
        let (stage, hop) = if delay.is_zero() {
            (Stage::Resolving { target }, Some(hop))
        } else {
            let until = Instant::now() + delay;
            (Stage::Waiting { until, hop, target }, None)
        };
        let entry = Box::new(Entry {
            conn: Conn { shared },
            handler,
            stage,
            interest: None,
            scheduled: None,
            cause: None,
            closed: false,
            hot: false,
        });
        self.slots[index] = Slot::Conn(entry);
        self.connections += 1;
        match hop {
            Some(hop) => self.begin(index, id, hop),
            None => self.with_entry(index, |_, _| {}), // schedules the end of the wait
        }
        if self.stopping {
            self.stop_one(index);
        }
    }

    /// A waiting entry's time has come: it starts as if just made.
    pub(super) fn end_wait(&mut self, index: usize, mut entry: Box<Entry>) {
        let id = entry.conn.id();
        if let Stage::Waiting { hop, target, .. } = std::mem::replace(&mut entry.stage, Stage::Done)
        {
            entry.stage = Stage::Resolving { target };
            self.slots[index] = Slot::Conn(entry);
            self.begin(index, id, hop);
        } else {
            self.settle(index, entry);
        }
    }

    /// Makes the first hop of the entry at `index` (resolving).
    fn begin(&mut self, index: usize, id: u64, hop: FirstHop) {
        let Some(Slot::Conn(entry)) = self.slots.get(index) else {
            return;
        };
        let Stage::Resolving { target } = &entry.stage else {
            return;
        };
        let (host, port) = target.first_hop();
        let also = target.target_to_resolve();
        let resolver = target.resolver.clone();
        let first = match hop {
            FirstHop::Stream(stream) => {
                self.adopt(index, id, stream);
                return;
            }
            #[cfg(unix)]
            FirstHop::UnixPath(path) => {
                match mio::net::UnixStream::connect(&path) {
                    Ok(stream) => self.adopt(index, id, stream.into()),
                    Err(error) => self.with_entry(index, |this, entry| {
                        let error = Error::ConnectPath { path, error };
                        let Stage::Resolving { target } = &entry.stage else {
                            return;
                        };
                        let error = target.first_hop_error(error);
                        entry.stage = Stage::Done;
                        this.fail(entry, error);
                    }),
                }
                return;
            }
            FirstHop::Addrs(addrs) => Some(addrs),
            FirstHop::Resolve => host
                .parse::<IpAddr>()
                .ok()
                .map(|ip| vec![SocketAddr::new(ip, port)]),
        };
        match (first, also) {
            (Some(addrs), None) => {
                let resolution = Resolution {
                    addrs,
                    target_addr: None,
                };
                self.resolved(index, id, Ok(resolution));
            }
            (first, also) => {
                // The system resolver blocks: it runs on a thread of its own.
                let shared = self.shared.clone();
                std::thread::spawn(move || {
                    let result = resolve(first, (&host, port), also, resolver.as_ref());
                    let _ = shared.command(Command::Resolved { index, id, result });
                });
                self.with_entry(index, |_, _| {}); // schedules the handshake timer
            }
        }
    }

    /// A stream the caller made goes straight to the connecting stage's
    /// check (once writable, it is connected).
    fn adopt(&mut self, index: usize, id: u64, mut stream: Stream) {
        let Some(mut entry) = self.take(index, id) else {
            return;
        };
        let Stage::Resolving { target } = std::mem::replace(&mut entry.stage, Stage::Done) else {
            unreachable!("a new entry is resolving")
        };
        let interest = Interest::READABLE | Interest::WRITABLE;
        match self
            .poll
            .registry()
            .register(&mut stream, token(index), interest)
        {
            Ok(()) => {
                entry.interest = Some(interest);
                entry.stage = Stage::Connecting {
                    stream,
                    addrs: Vec::new(),
                    next: 0,
                    deadline: Instant::now() + target.connect_timeout,
                    target,
                };
            }
            Err(e) => {
                let error = target.first_hop_error(Error::Io(e));
                self.fail(&mut entry, error);
            }
        }
        self.settle(index, entry);
        if self.stopping {
            self.stop_one(index);
        }
    }

    pub(super) fn resolved(
        &mut self,
        index: usize,
        id: u64,
        result: Result<Resolution, ResolveError>,
    ) {
        let Some(mut entry) = self.take(index, id) else {
            return;
        };
        if let Stage::Resolving { target } = &mut entry.stage {
            match result {
                Ok(Resolution { addrs, target_addr }) => {
                    if let Some(plan) = &mut target.proxy {
                        plan.target_addr = target_addr;
                    }
                    self.connect_next(index, &mut entry, addrs, 0, None);
                }
                Err(ResolveError::FirstHop(error)) => {
                    let error = target.first_hop_error(error);
                    self.fail(&mut entry, error);
                }
                Err(ResolveError::Server(error)) => self.fail(&mut entry, error),
            }
        }
        self.settle(index, entry);
    }

    /// Starts a non-blocking connect to `addrs[next]`, or fails with the
    /// last error when none is left.
    pub(super) fn connect_next(
        &mut self,
        index: usize,
        entry: &mut Entry,
        addrs: Vec<SocketAddr>,
        mut next: usize,
        mut last: Option<Error>,
    ) {
        let target = match std::mem::replace(&mut entry.stage, Stage::Done) {
            Stage::Resolving { target } | Stage::Connecting { target, .. } => target,
            other => {
                entry.stage = other;
                return;
            }
        };
        while next < addrs.len() {
            let addr = addrs[next];
            next += 1;
            match TcpStream::connect(addr) {
                Ok(stream) => {
                    let mut stream = Stream::Tcp(stream);
                    let interest = Interest::READABLE | Interest::WRITABLE;
                    if let Err(error) =
                        self.poll
                            .registry()
                            .register(&mut stream, token(index), interest)
                    {
                        last = Some(Error::Connect { addr, error });
                        continue;
                    }
                    entry.interest = Some(interest);
                    let deadline = Instant::now() + target.connect_timeout;
                    entry.stage = Stage::Connecting {
                        stream,
                        addrs,
                        next,
                        deadline,
                        target,
                    };
                    return;
                }
                Err(error) => last = Some(Error::Connect { addr, error }),
            }
        }
        entry.interest = None;
        let error = target.first_hop_error(last.unwrap_or(Error::ConnectTimeout));
        self.fail(entry, error);
    }

    /// The socket of a connecting entry became ready: connected, or failed.
    pub(super) fn check_connected(&mut self, index: usize, entry: &mut Entry) {
        let Stage::Connecting {
            stream,
            addrs,
            next,
            ..
        } = &mut entry.stage
        else {
            return;
        };
        let failure = match stream.connected() {
            Ok(true) => None,
            Ok(false) => return, // not yet
            Err(e) => Some(e),
        };
        if let Some(error) = failure {
            let error = match next.checked_sub(1).and_then(|i| addrs.get(i)) {
                Some(&addr) => Error::Connect { addr, error },
                None => Error::Io(error), // a stream the caller made
            };
            let _ = self.poll.registry().deregister(stream);
            let (addrs, next) = (std::mem::take(addrs), *next);
            self.connect_next(index, entry, addrs, next, Some(error));
            return;
        }
        let Stage::Connecting { stream, target, .. } =
            std::mem::replace(&mut entry.stage, Stage::Done)
        else {
            unreachable!("checked above")
        };
        if target.nodelay {
            let _ = stream.set_nodelay(true);
        }
        trace::debug!(conn = entry.conn.id(), "TCP connected");
        match &target.proxy {
            None => self.open_transport(entry, stream, target, &[]),
            Some(plan) => {
                let tunnel = tunnel_for(&plan.url, &target.host, target.port, plan.target_addr);
                match tunnel {
                    Ok(tunnel) => {
                        trace::debug!(conn = entry.conn.id(), proxy = %plan.url, "opening the proxy tunnel");
                        entry.stage = Stage::Tunneling {
                            deadline: Instant::now() + plan.timeout,
                            stream,
                            tunnel: Box::new(tunnel),
                            target,
                        };
                        self.tunnel_io(index, entry);
                    }
                    Err(error) => {
                        let proxy = plan.url.to_string();
                        let _ = self.poll.registry().deregister(&mut { stream });
                        self.fail(entry, Error::Proxy { proxy, error });
                    }
                }
            }
        }
    }

    /// The tunnel stage: moves the proxy's exchange along; once the proxy
    /// opened the tunnel, the next stage starts with the bytes read past
    /// its answer.
    pub(super) fn tunnel_io(&mut self, index: usize, entry: &mut Entry) {
        let Stage::Tunneling {
            stream,
            tunnel,
            target,
            ..
        } = &mut entry.stage
        else {
            return;
        };
        let error = match pump(stream, tunnel) {
            Ok(None) => return,
            Ok(Some(leftover)) => {
                let Stage::Tunneling { stream, target, .. } =
                    std::mem::replace(&mut entry.stage, Stage::Done)
                else {
                    unreachable!("checked above")
                };
                self.open_transport(entry, stream, target, &leftover);
                // The tunnel stage stopped reading at the proxy's answer,
                // and readiness is edge-triggered: whatever else the socket
                // holds would raise no new event, so read it next turn.
                self.again.push(index);
                return;
            }
            Err(TunnelFailure::Proxy(error)) => Error::Proxy {
                proxy: target.proxy_name(),
                error,
            },
            Err(TunnelFailure::Io(e)) => target.first_hop_error(Error::Io(e)),
        };
        let _ = self.poll.registry().deregister(stream);
        entry.stage = Stage::Done;
        self.fail(entry, error);
    }

    /// The tunnel stage's deadline passed.
    pub(super) fn tunnel_timed_out(&mut self, entry: &mut Entry) {
        let Stage::Tunneling { stream, target, .. } = &mut entry.stage else {
            return;
        };
        let _ = self.poll.registry().deregister(stream);
        let proxy = target.proxy_name();
        entry.stage = Stage::Done;
        self.fail(entry, Error::ProxyTimeout { proxy });
    }

    /// The byte stream to the server is there (directly, or through a
    /// tunnel, with `leftover` bytes already read from the server): TLS
    /// (for `wss://`) and the WebSocket handshake run over it from now on.
    #[cfg_attr(
        not(feature = "tls"),
        allow(
            clippy::boxed_local,
            reason = "the box is how the target travels; small only without TLS"
        )
    )]
    fn open_transport(
        &mut self,
        entry: &mut Entry,
        stream: Stream,
        target: Box<Target>,
        leftover: &[u8],
    ) {
        let transport = match &target.tls {
            None => Transport::Plain(stream),
            Some(tls) => {
                // The server's bytes that came with the proxy's answer go
                // first in TLS' input.
                match client_tls(tls, leftover) {
                    Ok(tls) => Transport::Tls(stream, Box::new(tls)),
                    Err(error) => {
                        let _ = self.poll.registry().deregister(&mut { stream });
                        self.fail(entry, error);
                        return;
                    }
                }
            }
        };
        {
            let mut link = lock(&entry.conn.shared.link);
            if matches!(transport, Transport::Plain(_)) && !leftover.is_empty() {
                link.proto.receive(Instant::now(), leftover);
            }
            link.transport = Some(transport);
        }
        trace::debug!(
            conn = entry.conn.id(),
            tls = target.tls.is_some(),
            "transport ready: TLS and the WebSocket handshake follow"
        );
        entry.stage = Stage::Streaming { linger: None };
        if !leftover.is_empty() {
            // Read already: no readiness event will come for these bytes.
            dispatch(entry);
        }
        self.flush(entry);
    }
}

/// The resolver thread's work: the first hop (unless the caller gave its
/// addresses), then the server's name when the client resolves it for a
/// SOCKS5 proxy.
fn resolve(
    first: Option<Vec<SocketAddr>>,
    (host, port): (&str, u16),
    also: Option<(String, u16)>,
    resolver: Option<&Resolver>,
) -> Result<Resolution, ResolveError> {
    let target_addr = match also {
        Some((name, port)) => Some(lookup(&name, port, resolver).map_err(ResolveError::Server)?[0]),
        None => None,
    };
    let addrs = match first {
        Some(addrs) => addrs,
        None => lookup(host, port, resolver).map_err(ResolveError::FirstHop)?,
    };
    Ok(Resolution { addrs, target_addr })
}
