//! The client connection's stages, each with its own deadline and its own
//! error: resolve the host (on a thread of its own: the system resolver
//! blocks), connect over TCP (each address in turn, within the connect
//! timeout), then stream: TLS (for `wss://`) and the WebSocket handshake
//! run over the transport under the state machine's handshake timeout.
//!
//! A connection enters here in one place, [`Handle::start_connect`].

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs as _};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mio::Interest;
use mio::net::TcpStream;
use rustls::pki_types::ServerName;
use ws_proto::ClientRequest;

use super::{Command, Entry, EventLoop, Handle, Slot, Stage, token};
use crate::conn::{Conn, Handler, Shared};
use crate::error::Error;
use crate::link::{Link, lock};
use crate::options::ClientOptions;
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
        self.start_connect(request, None, options, Box::new(handler))
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
        self.start_connect(request, Some(addrs), options, Box::new(handler))
    }

    fn start_connect(
        &self,
        request: &ClientRequest,
        addrs: Option<Vec<SocketAddr>>,
        options: ClientOptions,
        handler: Box<dyn Handler>,
    ) -> Result<Conn, Error> {
        let tls = if request.is_secure() {
            let config = crate::tls::client_config(&options.tls)?;
            let name = ServerName::try_from(request.bare_host().to_owned()).map_err(|e| {
                Error::TlsConfig(format!("server name {:?}: {e}", request.bare_host()))
            })?;
            Some((config, name))
        } else {
            None
        };
        let proto = ws_proto::Connection::client(
            Instant::now(),
            options.config.clone(),
            request,
            crate::conn::ThreadCsprng,
        )?;
        let shared = Arc::new(Shared {
            id: self.shared.next_id.fetch_add(1, Ordering::Relaxed),
            link: Mutex::new(Link::new(proto)),
            token: AtomicUsize::new(usize::MAX),
            queued: AtomicBool::new(false),
            held: AtomicUsize::new(0),
            event_loop: Arc::downgrade(&self.shared),
        });
        let conn = Conn {
            shared: shared.clone(),
        };
        let queued = self
            .shared
            .command(Command::Connect(Box::new(PendingConnect {
                shared,
                handler,
                host: request.bare_host().to_owned(),
                port: request.port(),
                addrs,
                tls,
                connect_timeout: options.connect_timeout,
                nodelay: options.nodelay,
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
    host: String,
    port: u16,
    /// Resolved by the caller already.
    addrs: Option<Vec<SocketAddr>>,
    tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
    connect_timeout: Duration,
    nodelay: bool,
}

/// What connecting needs once the address is known.
pub(super) struct Target {
    host: String,
    tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
    connect_timeout: Duration,
    nodelay: bool,
}

impl EventLoop {
    pub(super) fn start(&mut self, pending: PendingConnect) {
        let PendingConnect {
            shared,
            handler,
            host,
            port,
            addrs,
            tls,
            connect_timeout,
            nodelay,
        } = pending;
        let index = self.allocate();
        shared.token.store(index, Ordering::Release);
        let id = shared.id;
        let target = Box::new(Target {
            host: host.clone(),
            tls,
            connect_timeout,
            nodelay,
        });
        let entry = Box::new(Entry {
            conn: Conn { shared },
            handler,
            stage: Stage::Resolving { target },
            interest: None,
            scheduled: None,
            error_reported: false,
            closed: false,
            hot: false,
        });
        self.slots[index] = Slot::Conn(entry);
        self.connections += 1;
        if let Some(addrs) = addrs {
            self.resolved(index, id, Ok(addrs));
        } else if let Ok(ip) = host.parse::<IpAddr>() {
            self.resolved(index, id, Ok(vec![SocketAddr::new(ip, port)]));
        } else {
            // The system resolver blocks: it runs on a thread of its own.
            let shared = self.shared.clone();
            std::thread::spawn(move || {
                let result = (host.as_str(), port)
                    .to_socket_addrs()
                    .map(Iterator::collect)
                    .and_then(|addrs: Vec<_>| {
                        if addrs.is_empty() {
                            Err(io::Error::new(io::ErrorKind::NotFound, "no address"))
                        } else {
                            Ok(addrs)
                        }
                    });
                let _ = shared.command(Command::Resolved { index, id, result });
            });
            self.with_entry(index, |_, _| {}); // schedules the handshake timer
        }
        if self.stopping {
            self.stop_one(index);
        }
    }

    pub(super) fn resolved(&mut self, index: usize, id: u64, result: io::Result<Vec<SocketAddr>>) {
        let Some(mut entry) = self.take(index, id) else {
            return;
        };
        if let Stage::Resolving { target } = &entry.stage {
            match result {
                Ok(addrs) => self.connect_next(index, &mut entry, addrs, 0, None),
                Err(error) => {
                    let host = target.host.clone();
                    self.fail(&mut entry, Error::Resolve { host, error });
                }
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
                Ok(mut stream) => {
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
        drop(target);
        entry.interest = None;
        self.fail(entry, last.unwrap_or(Error::ConnectTimeout));
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
        let failure = match stream.take_error() {
            Ok(Some(e)) | Err(e) => Some(e),
            Ok(None) => match stream.peer_addr() {
                Ok(_) => None,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return, // not yet
                Err(e) => Some(e),
            },
        };
        if let Some(error) = failure {
            let addr = addrs[*next - 1];
            let _ = self.poll.registry().deregister(stream);
            let (addrs, next) = (std::mem::take(addrs), *next);
            self.connect_next(
                index,
                entry,
                addrs,
                next,
                Some(Error::Connect { addr, error }),
            );
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
        let transport = match &target.tls {
            None => Transport::Plain(stream),
            Some((config, name)) => {
                match rustls::ClientConnection::new(config.clone(), name.clone()) {
                    Ok(tls) => Transport::Tls(stream, Box::new(tls.into())),
                    Err(e) => {
                        let _ = self.poll.registry().deregister(&mut { stream });
                        self.fail(entry, Error::Tls(e));
                        return;
                    }
                }
            }
        };
        lock(&entry.conn.shared.link).transport = Some(transport);
        entry.stage = Stage::Streaming { linger: None };
        self.flush(entry);
    }
}
