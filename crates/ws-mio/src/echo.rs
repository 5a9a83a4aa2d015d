//! [`EchoServer`]: a WebSocket echo server on a loop thread of its own,
//! for a command-line tool's embedded default, tests and benchmarks.

use std::io;
use std::net::SocketAddr;
use std::thread::JoinHandle;

use ws_proto::Message;

use crate::conn::{Conn, Event};
use crate::event_loop::{EventLoop, Handle};
use crate::options::ServerOptions;

/// The echo handler: every message goes back as it came (same type, no
/// copy of a large payload); pings are answered by the state machine.
pub fn echo(conn: &Conn, event: Event) {
    // A full write buffer or a closing connection drops the echo: an echo
    // server has nobody to report it to, and the client sees the gap.
    let _ = match event {
        Event::Message(Message::Text(text)) => conn.send_text_bytes(text),
        Event::Message(Message::Binary(data)) => conn.send_bytes(data),
        _ => Ok(()),
    };
}

/// An echo server running on its own thread until stopped or dropped.
///
/// ```no_run
/// let server = ws_mio::EchoServer::start(
///     "127.0.0.1:0".parse().unwrap(),
///     ws_mio::ServerOptions::default(),
/// )?;
/// println!("echo server at {}", server.url());
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct EchoServer {
    addr: SocketAddr,
    secure: bool,
    handle: Handle,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl EchoServer {
    /// Listens on `addr` (port 0 picks a free one), over TLS when
    /// `options.tls` is set, and serves on a new thread.
    pub fn start(addr: SocketAddr, options: ServerOptions) -> io::Result<Self> {
        Self::start_in(EventLoop::new()?, addr, options)
    }

    /// [`start`](Self::start) on a loop the caller made and set up (with
    /// a memory budget, say); the loop moves to the server's thread.
    pub fn start_in(
        mut event_loop: EventLoop,
        addr: SocketAddr,
        options: ServerOptions,
    ) -> io::Result<Self> {
        #[cfg(feature = "tls")]
        let secure = options.tls.is_some();
        #[cfg(not(feature = "tls"))]
        let secure = false;
        let addr = event_loop.listen(addr, options, || echo)?;
        let handle = event_loop.handle();
        let thread = std::thread::Builder::new()
            .name("ws-mio-echo".to_owned())
            .spawn(move || event_loop.run())?;
        Ok(Self {
            addr,
            secure,
            handle,
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `ws://ADDR/` or `wss://ADDR/`.
    pub fn url(&self) -> String {
        let scheme = if self.secure { "wss" } else { "ws" };
        format!("{scheme}://{}/", self.addr)
    }

    /// Serves until the loop fails (it is never stopped otherwise): for a
    /// process that is only an echo server.
    pub fn wait(mut self) -> io::Result<()> {
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the echo server thread panicked")),
            None => Ok(()),
        }
    }

    /// Closes every connection with 1001 and waits for the thread.
    pub fn stop(mut self) {
        self.shut();
    }

    fn shut(&mut self) {
        self.handle.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.shut();
    }
}

impl std::fmt::Debug for EchoServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EchoServer")
            .field("addr", &self.addr)
            .field("secure", &self.secure)
            .finish()
    }
}
