//! The server side: listening sockets, and a connection for each one
//! accepted (TLS first when the listener has a configuration).

use std::io;
use std::net::SocketAddr;
#[cfg(unix)]
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use mio::Interest;
use mio::net::TcpListener;
#[cfg(unix)]
use mio::net::UnixListener;

use super::{Entry, EventLoop, Listener, Slot, Stage, token};
use crate::conn::{Conn, Handler, Shared};
use crate::link::{Link, lock};
use crate::options::ServerOptions;
use crate::stream::Stream;
#[cfg(feature = "tls")]
use crate::tls_stream::TlsStream;
use crate::transport::Transport;

/// A listening socket: TCP, or a Unix domain socket.
pub(super) enum ListenSocket {
    Tcp(TcpListener),
    #[cfg(unix)]
    Unix(UnixListener),
}

impl ListenSocket {
    fn accept(&self) -> io::Result<Stream> {
        match self {
            Self::Tcp(l) => l.accept().map(|(s, _)| {
                let _ = s.set_nodelay(true);
                Stream::Tcp(s)
            }),
            #[cfg(unix)]
            Self::Unix(l) => l.accept().map(|(s, _)| Stream::Unix(s)),
        }
    }
}

crate::stream::impl_source_by_kind!(ListenSocket);

impl EventLoop {
    /// Listens on `addr` (port 0 picks a free one) and serves WebSocket
    /// connections there, each with a handler from `factory`. Returns the
    /// bound address.
    pub fn listen<H: Handler>(
        &mut self,
        addr: SocketAddr,
        options: ServerOptions,
        factory: impl FnMut() -> H + Send + 'static,
    ) -> io::Result<SocketAddr> {
        let socket = TcpListener::bind(addr)?;
        let local = socket.local_addr()?;
        self.add_listener(ListenSocket::Tcp(socket), options, factory)?;
        Ok(local)
    }

    /// Listens on the Unix domain socket `path` (created; it must not exist
    /// yet) and serves WebSocket connections there, each with a handler
    /// from `factory`, as [`listen`](Self::listen) does over TCP. The
    /// socket file stays after the loop stops: remove it when done.
    #[cfg(unix)]
    pub fn listen_unix<H: Handler>(
        &mut self,
        path: impl AsRef<Path>,
        options: ServerOptions,
        factory: impl FnMut() -> H + Send + 'static,
    ) -> io::Result<()> {
        let socket = UnixListener::bind(path)?;
        self.add_listener(ListenSocket::Unix(socket), options, factory)
    }

    fn add_listener<H: Handler>(
        &mut self,
        mut socket: ListenSocket,
        options: ServerOptions,
        mut factory: impl FnMut() -> H + Send + 'static,
    ) -> io::Result<()> {
        let index = self.allocate();
        let registered =
            self.poll
                .registry()
                .register(&mut socket, token(index), Interest::READABLE);
        if let Err(e) = registered {
            self.free.push(index);
            return Err(e);
        }
        let factory = Box::new(move || Box::new(factory()) as Box<dyn Handler>);
        self.slots[index] = Slot::Listener(Box::new(Listener {
            socket,
            options,
            factory,
        }));
        Ok(())
    }

    pub(super) fn accept(&mut self, index: usize) {
        let Slot::Listener(mut listener) = std::mem::replace(&mut self.slots[index], Slot::Free)
        else {
            return;
        };
        loop {
            match listener.socket.accept() {
                Ok(stream) => self.add_server_connection(stream, &mut listener),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // Out of file descriptors and the like: try again on the
                // next readiness rather than spin.
                Err(_) => break,
            }
        }
        self.slots[index] = Slot::Listener(listener);
    }

    fn add_server_connection(&mut self, stream: Stream, listener: &mut Listener) {
        #[cfg(feature = "tls")]
        let transport = match &listener.options.tls {
            None => Transport::Plain(stream),
            Some(config) => match TlsStream::server(config.clone()) {
                Ok(tls) => Transport::Tls(stream, Box::new(tls)),
                Err(_) => return,
            },
        };
        // No TLS setting on a listener without the feature.
        #[cfg(not(feature = "tls"))]
        let transport = Transport::Plain(stream);
        let proto = ws_proto::Connection::server(
            Instant::now(),
            listener.options.config.clone(),
            listener.options.server.clone(),
        );
        let index = self.allocate();
        let shared = Arc::new(Shared {
            id: self.shared.next_id.fetch_add(1, Ordering::Relaxed),
            link: Mutex::new(Link::new(proto)),
            token: AtomicUsize::new(index),
            dirty: AtomicBool::new(false),
            held: AtomicUsize::new(0),
            event_loop: Arc::downgrade(&self.shared),
            drain_wanted: AtomicBool::new(false),
        });
        lock(&shared.link).transport = Some(transport);
        let entry = Box::new(Entry {
            conn: Conn { shared },
            handler: (listener.factory)(),
            stage: Stage::Streaming { linger: None },
            interest: None,
            scheduled: None,
            cause: None,
            closed: false,
            hot: false,
        });
        self.connections += 1;
        self.settle(index, entry);
    }
}
