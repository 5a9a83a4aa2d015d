//! The server side: listening sockets, and a connection for each one
//! accepted (TLS first when the listener has a configuration).

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use mio::Interest;
use mio::net::{TcpListener, TcpStream};

use super::{Entry, EventLoop, Listener, Slot, Stage, token};
use crate::conn::{Conn, Handler, Shared};
use crate::link::{Link, lock};
use crate::options::ServerOptions;
use crate::transport::Transport;

impl EventLoop {
    /// Listens on `addr` (port 0 picks a free one) and serves WebSocket
    /// connections there, each with a handler from `factory`. Returns the
    /// bound address.
    pub fn listen<H: Handler>(
        &mut self,
        addr: SocketAddr,
        options: ServerOptions,
        mut factory: impl FnMut() -> H + Send + 'static,
    ) -> io::Result<SocketAddr> {
        let mut socket = TcpListener::bind(addr)?;
        let local = socket.local_addr()?;
        let index = self.allocate();
        self.poll
            .registry()
            .register(&mut socket, token(index), Interest::READABLE)?;
        let factory = Box::new(move || Box::new(factory()) as Box<dyn Handler>);
        self.slots[index] = Slot::Listener(Box::new(Listener {
            socket,
            options,
            factory,
        }));
        Ok(local)
    }

    pub(super) fn accept(&mut self, index: usize) {
        let Slot::Listener(mut listener) = std::mem::replace(&mut self.slots[index], Slot::Free)
        else {
            return;
        };
        loop {
            match listener.socket.accept() {
                Ok((stream, _)) => self.add_server_connection(stream, &mut listener),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // Out of file descriptors and the like: try again on the
                // next readiness rather than spin.
                Err(_) => break,
            }
        }
        self.slots[index] = Slot::Listener(listener);
    }

    fn add_server_connection(&mut self, stream: TcpStream, listener: &mut Listener) {
        let _ = stream.set_nodelay(true);
        let transport = match &listener.options.tls {
            None => Transport::Plain(stream),
            Some(config) => match rustls::ServerConnection::new(config.clone()) {
                Ok(tls) => Transport::Tls(stream, Box::new(tls.into())),
                Err(_) => return,
            },
        };
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
            queued: AtomicBool::new(false),
            held: AtomicUsize::new(0),
            event_loop: Arc::downgrade(&self.shared),
        });
        lock(&shared.link).transport = Some(transport);
        let entry = Box::new(Entry {
            conn: Conn { shared },
            handler: (listener.factory)(),
            stage: Stage::Streaming { linger: None },
            interest: None,
            scheduled: None,
            error_reported: false,
            closed: false,
            hot: false,
        });
        self.connections += 1;
        self.settle(index, entry);
    }
}
