//! Helpers shared by the ws-mio integration tests (`tls`, `timeouts`,
//! `many`, `loopback`, `robustness`): a loop on a thread that is joined with
//! a deadline, a server loop with the handlers a test gives it, a client
//! whose events arrive on a channel, an echo server that reports its own
//! events, and raw `std::net` peers with a by-hand WebSocket handshake.
//!
//! Every wait here is bounded: nothing joins a thread without a deadline.

#![allow(dead_code)] // each test file uses a different part of this module

use std::io::{self, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use ws_mio::{ClientOptions, Conn, Event, EventLoop, Handle, Handler, ServerOptions};
use ws_proto::{ClientRequest, CloseCode, Message};
use ws_test_support::raw_server::{accept_within, drain_until_eof};
use ws_test_support::{frames, handshake};

/// How long any single expected event may take. Generous: the machine is
/// shared and has two cores.
pub(crate) const DEADLINE: Duration = Duration::from_secs(30);

/// An event as a test compares it: owned, comparable, printable.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Seen {
    Open,
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Drain,
    Error {
        component: &'static str,
        message: String,
    },
    Closed {
        code: u16,
        reason: String,
        clean: bool,
    },
}

impl Seen {
    pub(crate) fn closed(code: u16, reason: &str, clean: bool) -> Self {
        Self::Closed {
            code,
            reason: reason.to_owned(),
            clean,
        }
    }

    /// A one-line description that never prints a large payload.
    pub(crate) fn short(&self) -> String {
        match self {
            Self::Text(t) if t.len() > 64 => format!("Text({} bytes)", t.len()),
            Self::Binary(b) if b.len() > 64 => format!("Binary({} bytes)", b.len()),
            other => format!("{other:?}"),
        }
    }
}

impl From<Event> for Seen {
    fn from(event: Event) -> Self {
        match event {
            Event::Open(_) => Self::Open,
            Event::Message(Message::Text(t)) => Self::Text(t.as_str().to_owned()),
            Event::Message(Message::Binary(b)) => Self::Binary(b.to_vec()),
            Event::Ping(p) => Self::Ping(p.to_vec()),
            Event::Pong(p) => Self::Pong(p.to_vec()),
            Event::Drain => Self::Drain,
            Event::Error(e) => Self::Error {
                component: e.component(),
                message: e.to_string(),
            },
            Event::Closed(c) => Self::Closed {
                code: c.code.0,
                reason: c.reason,
                clean: c.was_clean,
            },
            other => panic!("an event these tests do not know: {other:?}"),
        }
    }
}

/// The next event, or a panic naming what was awaited.
pub(crate) fn next(rx: &Receiver<Seen>, what: &str) -> Seen {
    next_within(rx, DEADLINE, what)
}

pub(crate) fn next_within(rx: &Receiver<Seen>, timeout: Duration, what: &str) -> Seen {
    match rx.recv_timeout(timeout) {
        Ok(seen) => seen,
        Err(RecvTimeoutError::Timeout) => panic!("no event within {timeout:?} (awaiting {what})"),
        Err(RecvTimeoutError::Disconnected) => {
            panic!("the handler is gone without a further event (awaiting {what})")
        }
    }
}

/// Asserts that the next event is `expected`, printing large payloads by size.
pub(crate) fn expect(rx: &Receiver<Seen>, expected: Seen) {
    let got = next(rx, &expected.short());
    assert!(
        got == expected,
        "expected {}, got {}",
        expected.short(),
        got.short()
    );
}

/// Asserts that nothing more arrives: the handler was dropped (the normal
/// end after `Closed`) or stays silent for `quiet`.
pub(crate) fn expect_no_more(rx: &Receiver<Seen>, quiet: Duration) {
    match rx.recv_timeout(quiet) {
        Ok(seen) => panic!("unexpected event after the last one: {}", seen.short()),
        Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {}
    }
}

/// An event loop running on a thread; `run()`'s result comes back on a
/// channel, so waiting for it is bounded.
pub(crate) struct LoopThread {
    pub(crate) handle: Handle,
    done: Receiver<io::Result<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl LoopThread {
    pub(crate) fn spawn(mut event_loop: EventLoop, name: &str) -> Self {
        let handle = event_loop.handle();
        let (tx, done) = mpsc::channel();
        let thread = thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let result = event_loop.run();
                drop(event_loop); // before reporting: the loop is gone once run() has returned
                let _ = tx.send(result);
            })
            .expect("spawn a loop thread");
        Self {
            handle,
            done,
            thread: Some(thread),
        }
    }

    /// Waits for `run()` to return; panics if it does not within `timeout`
    /// or if it failed or panicked.
    pub(crate) fn wait(mut self, timeout: Duration, what: &str) {
        match self.done.recv_timeout(timeout) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("{what}: run() failed: {e}"),
            Err(RecvTimeoutError::Timeout) => {
                panic!("{what}: run() did not return within {timeout:?}")
            }
            Err(RecvTimeoutError::Disconnected) => panic!("{what}: the loop thread panicked"),
        }
        // It has reported, so it is finishing: this join is immediate.
        if let Some(thread) = self.thread.take() {
            thread.join().expect("loop thread");
        }
    }

    /// Whether `run()` has returned by now (without waiting).
    pub(crate) fn has_returned(&self) -> bool {
        !matches!(self.done.try_recv(), Err(mpsc::TryRecvError::Empty))
    }

    /// Stops the loop and waits (bounded) for `run()` to return.
    pub(crate) fn stop(self, what: &str) {
        self.handle.stop();
        self.wait(DEADLINE, what);
    }
}

/// An echo server on its own loop thread, on 127.0.0.1. Besides echoing,
/// it obeys two text commands: `ping-me` (it pings with payload `srv`) and
/// `close-me <reason>` (it closes with 4002 and that reason). With `report`,
/// each of its connections' events arrives on the returned channel.
pub(crate) fn echo_server(
    options: ServerOptions,
    report: bool,
) -> (SocketAddr, LoopThread, Receiver<Seen>) {
    let (tx, rx) = mpsc::channel::<Seen>();
    let (addr, server) = serve(options, "echo-server", move || {
        let tx = tx.clone();
        move |conn: &Conn, event: Event| {
            // A send can fail only once the connection is closing; the
            // client then sees its messages go unanswered, which the
            // tests catch.
            let _ = match &event {
                Event::Message(Message::Text(t)) if t.as_str() == "ping-me" => {
                    conn.send_ping(b"srv")
                }
                Event::Message(Message::Text(t)) if t.as_str().starts_with("close-me ") => {
                    conn.close(CloseCode(4002), &t.as_str()["close-me ".len()..])
                }
                Event::Message(Message::Text(t)) => conn.send_text(t),
                Event::Message(Message::Binary(b)) => conn.send_binary(b),
                _ => Ok(()),
            };
            if report {
                let _ = tx.send(Seen::from(event));
            }
        }
    });
    (addr, server, rx)
}

/// A server on its own loop thread (named `name`), listening on a free port
/// of 127.0.0.1; each connection gets a handler from `new_handler`.
pub(crate) fn serve<H: Handler>(
    options: ServerOptions,
    name: &str,
    new_handler: impl FnMut() -> H + Send + 'static,
) -> (SocketAddr, LoopThread) {
    let mut event_loop = EventLoop::new().expect("event loop");
    let addr = event_loop
        .listen("127.0.0.1:0".parse().unwrap(), options, new_handler)
        .expect("listen");
    (addr, LoopThread::spawn(event_loop, name))
}

/// Starts a client connection on `handle`; its events arrive on the returned
/// channel. `on_open` runs in the handler, on the loop thread, at `Open`.
pub(crate) fn connect(
    handle: &Handle,
    request: &ClientRequest,
    options: ClientOptions,
    mut on_open: impl FnMut(&Conn) + Send + 'static,
) -> (Conn, Receiver<Seen>) {
    let (tx, rx) = mpsc::channel();
    let conn = handle
        .connect(request, options, move |conn: &Conn, event: Event| {
            if let Event::Open(_) = event {
                on_open(conn);
            }
            let _ = tx.send(Seen::from(event));
        })
        .expect("connect starts");
    (conn, rx)
}

/// A client loop on its own thread.
pub(crate) fn client_loop() -> LoopThread {
    LoopThread::spawn(EventLoop::new().expect("event loop"), "client-loop")
}

/// Plays the server's part of the opening handshake by hand on a raw
/// socket: reads the request, answers 101 with the right accept key.
pub(crate) fn accept_by_hand(stream: &mut TcpStream) -> io::Result<()> {
    handshake::accept(stream).map(drop)
}

/// A raw `std::net` server for one connection, on a free port of
/// 127.0.0.1: a helper thread (named `name`) accepts it, giving up after
/// [`DEADLINE`], and runs `on_accept` on it. Returns the address and the channel
/// on which the outcome arrives (wait for it with [`recv`]).
pub(crate) fn raw_server<T: Send + 'static>(
    name: &str,
    on_accept: impl FnOnce(&mut TcpStream) -> io::Result<T> + Send + 'static,
) -> (SocketAddr, Receiver<io::Result<T>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a raw server");
    let addr = listener.local_addr().expect("the raw server's address");
    let outcome = spawn_helper(name, move || {
        let mut stream = accept_within(&listener, Instant::now() + DEADLINE)?;
        on_accept(&mut stream)
    });
    (addr, outcome)
}

/// What a raw server that reads until the client closes reports: the
/// bytes it read, and whether the close came in time.
pub(crate) type Received = io::Result<(Vec<u8>, bool)>;

/// A [`raw_server`] that answers the opening handshake by hand, writes
/// `burst` in one write, then reads until the client closes (within
/// [`DEADLINE`]): what it read, and whether the close came.
pub(crate) fn burst_server(name: &str, burst: Vec<u8>) -> (SocketAddr, Receiver<Received>) {
    raw_server(name, move |stream| {
        accept_by_hand(stream)?;
        stream.write_all(&burst)?;
        Ok(drain_until_eof(stream, Instant::now() + DEADLINE))
    })
}

/// Waits for a value from a helper thread, bounded.
pub(crate) fn recv<T>(rx: &Receiver<T>, timeout: Duration, what: &str) -> T {
    match rx.recv_timeout(timeout) {
        Ok(v) => v,
        Err(e) => panic!("{what}: nothing within {timeout:?} ({e:?})"),
    }
}

/// A sender for a helper thread's result; the receiving side waits with
/// [`recv`].
pub(crate) fn spawn_helper<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Receiver<T> {
    let (tx, rx): (Sender<T>, Receiver<T>) = mpsc::channel();
    thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .expect("spawn a helper thread");
    rx
}

/// Plays the client's part of the opening handshake by hand: connects to
/// `addr`, sends the request, reads the 101 answer.
pub(crate) fn connect_by_hand(addr: SocketAddr) -> io::Result<TcpStream> {
    let mut stream = TcpStream::connect_timeout(&addr, DEADLINE)?;
    stream.set_read_timeout(Some(DEADLINE))?;
    stream.write_all(handshake::request("127.0.0.1", "/", "").as_bytes())?;
    let head = handshake::read_head_within(&mut stream, 4096, None)?;
    if !head.starts_with(b"HTTP/1.1 101") {
        return Err(io::Error::other("the handshake was refused"));
    }
    Ok(stream)
}

/// One frame as a peer writes it by hand: `first` is the first byte (FIN,
/// RSV, opcode), masked with a fixed key when `masked` (a client's).
pub(crate) fn frame(first: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    frames::encode(first, payload, masked.then_some([0x37, 0xfa, 0x21, 0x3d]))
}
