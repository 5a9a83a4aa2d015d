//! Loopback benchmarks of ws-mio (and ws-client) against two anchors,
//! tungstenite (blocking) and fastwebsockets (tokio current-thread
//! runtime), with raw TCP as the floor (latency) and the ceiling
//! (throughput). A plain program, not criterion:
//! `cargo bench --bench echo -- [--quick] [--only PART]...` (`--quick`: 10x
//! fewer messages, one run instead of three; `--only` runs one part:
//! `latency`, `throughput`, `stream`, `send`, `app-latency`, `busy`, or one
//! throughput size: `16B`, `1KiB`, `64KiB`, `1MiB`; `--sender KEY` limits
//! `send` to one sender: `raw`, `mio`, `mio-batch`, `client`, `tung`, `fws`;
//! `--pair NAME` limits `latency` to the row of that name, e.g.
//! `--pair ws-mio`, for `strace` or `perf`). At full size
//! it takes about 9 minutes on 2 cores (pinned to one, under load), `--quick`
//! about one.
//!
//! fastwebsockets runs as its users run it: a current-thread runtime per
//! thread, tokio `TcpStream` with nodelay (tokio-rustls for `wss`), the
//! opening handshake written by hand (the crate's `upgrade` feature is
//! off), then `WebSocket::after_handshake`; its server answers the
//! handshake by hand as well (`ws_proto::handshake::accept_key`).
//!
//! 1. `latency`: round trips of a 32-byte binary message, one in flight at
//!    a time, each timed with `Instant`; 5,000 warm-up round trips, then
//!    100,000 measured, in 5 rounds that take every pair in turn (so that
//!    what other jobs do to the machine falls on all of them alike). Pairs
//!    (client against server):
//!    - raw TCP: blocking `std::net::TcpStream` (nodelay) against a blocking
//!      echo thread;
//!    - ws-mio: a client `EventLoop` thread whose handler sends the next
//!      message from inside the callback when the echo arrives, against a
//!      ws-mio echo server (`EventLoop::listen`) on another loop thread;
//!    - tungstenite: `tungstenite::client` over a blocking `TcpStream`
//!      (nodelay) against `tungstenite::accept` on a thread per connection;
//!    - fastwebsockets: `write_frame` then `read_frame` on one task, against
//!      a fastwebsockets echo (`read_frame`, `write_frame`) on a runtime of
//!      its own;
//!    - the crossed pairs: the ws-mio client against the tungstenite and the
//!      fastwebsockets servers (the server fixed, the client isolated), and
//!      the tungstenite and fastwebsockets clients against ws-mio's;
//!    - ws-client (the 4D-style `WebSocket` and a `Handler` that sends the
//!      next message from `on_message`, on its shared background loop)
//!      against the ws-mio server: what the user-facing API costs.
//!
//!    Ratios: p50 against raw TCP, tungstenite and fastwebsockets; p99
//!    against fastwebsockets.
//! 2. `throughput`: for 16 B, 1 KiB, 64 KiB and 1 MiB payloads, the client
//!    sends as fast as a window of messages in flight lets it (the same
//!    window for every contestant: 64, 64, 16, 4) and counts echoes; one
//!    tenth of the messages first as warm-up, then the clock runs. MB/s
//!    counts echoed payload bytes (10^6), one direction. Best of 3 runs,
//!    the contestants taking turns.
//!    - raw TCP: one `write_all` per message of the same size, a reader
//!      thread counting echoed bytes; the server echoes what each read got;
//!    - raw TCP, batched: the same, but one `write_all` of as many messages
//!      as the window has room for: what coalescing writes can reach;
//!    - ws-mio: sends from inside the handler (the loop thread), refilling
//!      the window at each echo, against the ws-mio echo server;
//!    - tungstenite: `send` (write + flush) per message on the client's
//!      thread, a second `WebSocket` over a clone of the socket reading the
//!      echoes on another thread (a single blocking thread that both writes
//!      and reads can deadlock with large messages); the server answers each
//!      `read` with a `send`;
//!    - tungstenite, batched: the same, but `write` per message and one
//!      `flush` when the window is full, so the client's writes coalesce the
//!      way ws-mio's do;
//!    - fastwebsockets: a writing and a reading `WebSocket` over the two
//!      halves of one tokio socket (the crate's split is behind a feature
//!      that is off), polled together on one task, `write_frame` per
//!      message, against the fastwebsockets echo;
//!    - ws-mio -> fws server: the ws-mio client against the fastwebsockets
//!      echo, to set beside the fastwebsockets row with the server fixed.
//!
//!    The blocking writers park when the window is full and are woken when
//!    half of it has drained (so a wake-up is not paid per message); the
//!    fastwebsockets writer waits on a waker the same way.
//! 3. `stream` (the market-data direction), over `ws` and over `wss`: ONE
//!    fixed server for every client, a raw TCP thread that answers the
//!    handshake by hand and writes pre-encoded unmasked binary frames of
//!    16 B, 1 KiB or 64 KiB (4 M, 1 M, 40 k of them after a tenth as
//!    warm-up) in writes of about 256 KiB as fast as the socket takes them,
//!    then a close frame; for `wss` it wraps the socket in a rustls
//!    `ServerConnection` (the self-signed certificate in `benches/echo/`,
//!    ring provider). The clients count messages where their users see
//!    them: ws-mio in its handler (`Event::Message`; `wss` with a
//!    `ClientOptions` TLS config trusting the certificate), tungstenite in a
//!    `read()` loop on a blocking socket (`wss`: rustls `StreamOwned`),
//!    fastwebsockets in a `read_frame().await` loop (`wss`: tokio-rustls),
//!    and raw TCP (`wss`: raw rustls) reading the same bytes, counting whole
//!    frames: the ceiling. M msg/s, with ratios to raw, tungstenite and
//!    fastwebsockets; best of 3 interleaved runs.
//! 4. `send`: one message per send call from an APPLICATION thread (the
//!    main thread, not a handler), 16 B (1 M messages) and 1 KiB (300 k),
//!    after a tenth as warm-up: ws-mio `Conn::send_binary` (the loop on its
//!    own thread), ws-client `WebSocket::send`, tungstenite `send` (write +
//!    flush) on a blocking socket, fastwebsockets `write_frame().await`, raw
//!    TCP `write_all`; and, as a reference for bursts rather than one
//!    message per call, ws-mio `Conn::send_batch` with 64 messages per
//!    call (one write each). A send refused with a full write buffer is retried
//!    after `yield_now` (and counted). All against ONE fixed sink thread
//!    that answers the handshake by hand and reads in 1 MiB reads; the
//!    rate is messages / the time from the first measured send until the
//!    sink has seen every byte. k msg/s, ratios to raw TCP, tungstenite and
//!    fastwebsockets; context switches per message (all threads) and the
//!    sink's reads per message. Syscall counts of one sender (the sink's
//!    reads and both sizes' 110,000 + 33,000 messages of `--quick`
//!    included; `-e trace=sendto,writev,write,recvfrom,read,futex,epoll_wait` narrows it):
//!    `strace -f -c -o /tmp/send-mio.txt taskset -c 0 target/release/deps/echo-HASH --quick --only send --sender mio`.
//! 5. `app-latency`: latency from an application thread that sends and
//!    waits: the main thread sends 32 bytes through ws-mio's `Conn` (the
//!    loop on its own thread) or ws-client's `WebSocket`, and waits until
//!    the handler signals the echo, by an `std::sync::mpsc` channel or by
//!    an `AtomicBool` and `Thread::unpark` (both measured); beside raw TCP,
//!    tungstenite and fastwebsockets, whose natural way is that the same
//!    thread writes and then reads, and ws-mio's handler ping-pong as the
//!    reference. All against ONE fixed echo thread that parses frames by
//!    hand (raw TCP: the byte echo). Same counts and rounds as `latency`.
//! 6. `busy`: busy-poll latency, 32 bytes, one in flight: raw TCP with
//!    non-blocking sockets and spinning reads, the client and the echo
//!    thread pinned to CPUs 0 and 1 (by `taskset -p` on each thread's id;
//!    skipped, with a message, when they cannot be), beside the blocking
//!    raw TCP ping-pong. The ws-mio row (`EventLoop::set_busy_poll`, being
//!    added on main) has a marked place in `benches/echo/busy.rs`.
//!
//! Every socket is on 127.0.0.1; every wait is bounded (read timeouts,
//! `DEADLINE`s, `tokio::time::timeout`). Results go to stdout as tables,
//! with the CPU affinity and load average the run had. To pin, build with
//! `cargo bench --bench echo --no-run` and run the binary it names under
//! `taskset -c 0` (every thread on one CPU) or `taskset -c 0,1`.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tungstenite::protocol::Role as TRole;
use tungstenite::{Message as TMessage, WebSocket};
use ws_mio::{ClientOptions, Conn, Event, EventLoop, ServerOptions};
use ws_proto::{ClientRequest, CloseCode, Message};

#[path = "echo/app.rs"]
mod app;
#[path = "echo/busy.rs"]
mod busy;
#[path = "echo/fws.rs"]
mod fws;
#[path = "echo/send.rs"]
mod send;
#[path = "echo/stream.rs"]
mod stream;
#[path = "echo/wire.rs"]
mod wire;
// Shared with benches/tokio.rs.
#[path = "shared/plan.rs"]
mod plan;
#[path = "shared/report.rs"]
mod report;
#[path = "shared/window.rs"]
mod window;

use plan::{
    Args, DEADLINE, IO_TIMEOUT, KIB, LATENCY_PAYLOAD, LATENCY_ROUND_TRIPS, LATENCY_ROUNDS,
    LATENCY_WARM_UP, serve_one,
};
use report::{Clock, Percentiles};

fn main() {
    let args = Args::from_env();
    let (quick, scale, runs) = (args.quick, args.scale, args.runs);
    let wanted = |part: &str| args.wanted(part);
    let sizes = args.sizes();
    let started = Instant::now();
    report::print_environment(
        "echo benchmark: ws-mio vs tungstenite vs raw TCP over loopback",
        quick,
    );

    let latencies = if wanted("latency") {
        latency(scale, args.value("--pair"))
    } else {
        Vec::new()
    };
    let rows = if sizes.is_empty() {
        Vec::new()
    } else {
        throughput(&sizes, scale, runs)
    };
    if wanted("stream") {
        stream::stream(scale as u64, runs);
    }
    if wanted("send") {
        let sender = args.value("--sender");
        send::send(scale as u64, runs, sender);
    }
    if wanted("app-latency") {
        app::app_latency(scale);
    }
    if wanted("busy") {
        busy::busy(scale);
    }
    if !latencies.is_empty() || !rows.is_empty() {
        print_targets(&latencies, &rows);
    }
    report::print_finish(started);
}

fn latency(scale: usize, only_pair: Option<&str>) -> Vec<(&'static str, Percentiles)> {
    // In rounds, every pair once per round, so that what other jobs do to
    // the machine falls on all of them alike.
    let n = LATENCY_ROUND_TRIPS / scale / LATENCY_ROUNDS;
    let warm = LATENCY_WARM_UP / scale / LATENCY_ROUNDS;
    println!();
    println!(
        "Latency: {LATENCY_PAYLOAD}-byte binary echo, one in flight; {} round trips after {} warm-up, \
         in {LATENCY_ROUNDS} interleaved rounds (µs)",
        n * LATENCY_ROUNDS,
        warm * LATENCY_ROUNDS
    );
    let pairs = [
        ("raw TCP", Kind::Raw, Kind::Raw),
        ("ws-mio", Kind::Mio, Kind::Mio),
        ("tungstenite", Kind::Tung, Kind::Tung),
        ("ws-mio client -> tungstenite server", Kind::Mio, Kind::Tung),
        ("tungstenite client -> ws-mio server", Kind::Tung, Kind::Mio),
        ("fastwebsockets", Kind::Fws, Kind::Fws),
        (
            "ws-mio client -> fastwebsockets server",
            Kind::Mio,
            Kind::Fws,
        ),
        (
            "fastwebsockets client -> ws-mio server",
            Kind::Fws,
            Kind::Mio,
        ),
        (CLIENT_PAIR, Kind::Client, Kind::Mio),
    ];
    // `--pair NAME`: that row alone (for strace or perf).
    let pairs: Vec<_> = pairs
        .into_iter()
        .filter(|(name, ..)| only_pair.is_none_or(|only| only == *name))
        .collect();
    let mut samples: Vec<Vec<Duration>> = pairs.iter().map(|_| Vec::new()).collect();
    for _ in 0..LATENCY_ROUNDS {
        for ((_, client, server), samples) in pairs.iter().zip(&mut samples) {
            let server = Server::start(*server);
            samples.extend(match client {
                Kind::Raw => raw_latency(server.addr, warm, n),
                Kind::Mio => mio_latency(server.addr, warm, n),
                Kind::Tung => tung_latency(server.addr, warm, n),
                Kind::Client => client_latency(server.addr, warm, n),
                Kind::Fws => fws::latency(server.addr, warm, n),
            });
            server.finish();
        }
    }
    let latencies: Vec<_> = pairs
        .iter()
        .zip(samples)
        .map(|((name, _, _), samples)| (*name, Percentiles::of(samples)))
        .collect();
    print_latency_table(&latencies, "raw TCP", "tungstenite", "fastwebsockets");
    latencies
}

fn throughput(
    sizes: &[(&'static str, usize, u64, u64)],
    scale: usize,
    runs: usize,
) -> Vec<ThroughputRow<'static>> {
    println!();
    println!(
        "Throughput: echo with a window of messages in flight; best of {runs} interleaved run(s), \
         range in brackets"
    );
    let mut rows = Vec::new();
    for &(label, size, window, messages) in sizes {
        let messages = (messages / scale as u64).max(10);
        let warm = (messages / 10).max(window);
        let mut rates: Vec<Vec<f64>> = CONTESTANTS.iter().map(|_| Vec::new()).collect();
        for _ in 0..runs {
            for (contestant, rates) in CONTESTANTS.iter().zip(&mut rates) {
                let server = Server::start(contestant.server());
                let (addr, w) = (server.addr, window);
                let elapsed = match contestant {
                    Contestant::Raw => raw_throughput(addr, size, w, warm, messages, false),
                    Contestant::RawBatched => raw_throughput(addr, size, w, warm, messages, true),
                    Contestant::Mio => mio_throughput(addr, size, w, warm, messages),
                    Contestant::Tung => tung_throughput(addr, size, w, warm, messages, false),
                    Contestant::TungBatched => tung_throughput(addr, size, w, warm, messages, true),
                    Contestant::Fws => fws::throughput(addr, size, w, warm, messages),
                    Contestant::MioFws => mio_throughput(addr, size, w, warm, messages),
                };
                server.finish();
                rates.push(messages as f64 / elapsed.as_secs_f64());
            }
        }
        let per_size = CONTESTANTS
            .iter()
            .zip(rates)
            .map(|(contestant, mut rates)| {
                rates.sort_by(f64::total_cmp);
                Rate {
                    name: contestant.name(),
                    best: rates[rates.len() - 1],
                    worst: rates[0],
                    size,
                }
            })
            .collect();
        rows.push((label, window, messages, per_size));
    }
    print_throughput_table(&rows);
    rows
}

/// The throughput contestants, in the order of the table.
const CONTESTANTS: [Contestant; 7] = [
    Contestant::Raw,
    Contestant::RawBatched,
    Contestant::Mio,
    Contestant::Tung,
    Contestant::TungBatched,
    Contestant::Fws,
    Contestant::MioFws,
];

#[derive(Clone, Copy)]
enum Contestant {
    /// One `write_all` per message: the ceiling the targets name.
    Raw,
    /// One `write_all` per refill of the window: what coalescing can reach.
    RawBatched,
    Mio,
    /// `send` (write and flush) per message.
    Tung,
    /// `write` per message, `flush` when the window is full.
    TungBatched,
    /// `write_frame` per message, against the fastwebsockets server.
    Fws,
    /// The ws-mio client against the fastwebsockets server.
    MioFws,
}

impl Contestant {
    fn name(self) -> &'static str {
        match self {
            Self::Raw => "raw TCP",
            Self::RawBatched => "raw TCP, batched",
            Self::Mio => "ws-mio",
            Self::Tung => "tungstenite",
            Self::TungBatched => "tungstenite, batched",
            Self::Fws => "fastwebsockets",
            Self::MioFws => "ws-mio -> fws server",
        }
    }

    fn server(self) -> Kind {
        match self {
            Self::Raw | Self::RawBatched => Kind::Raw,
            Self::Mio => Kind::Mio,
            Self::Tung | Self::TungBatched => Kind::Tung,
            Self::Fws | Self::MioFws => Kind::Fws,
        }
    }
}

// ---- environment -------------------------------------------------------------

// ---- servers -------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Raw,
    Mio,
    Tung,
    /// ws-client (the 4D-style API over ws-mio); a client only.
    Client,
    /// fastwebsockets on a tokio current-thread runtime.
    Fws,
}

/// The latency pair that measures what ws-client adds over ws-mio.
const CLIENT_PAIR: &str = "ws-client -> ws-mio server";

/// An echo server for one connection (the blocking ones) or any number
/// (ws-mio), on threads of its own.
struct Server {
    addr: SocketAddr,
    stop: Option<ws_mio::Handle>,
    thread: JoinHandle<()>,
}

impl Server {
    fn start(kind: Kind) -> Self {
        match kind {
            Kind::Raw => Self::blocking(raw_echo),
            Kind::Tung => Self::blocking(tung_echo),
            Kind::Fws => Self::blocking(fws::echo),
            Kind::Mio | Kind::Client => {
                let mut event_loop = EventLoop::new().expect("event loop");
                let addr = event_loop
                    .listen(
                        "127.0.0.1:0".parse().unwrap(),
                        ServerOptions::default(),
                        || ws_mio::echo,
                    )
                    .expect("listen");
                let stop = Some(event_loop.handle());
                let thread = thread::spawn(move || event_loop.run().expect("server loop"));
                Self { addr, stop, thread }
            }
        }
    }

    /// Accepts one connection and serves it on a thread.
    fn blocking(serve: fn(TcpStream)) -> Self {
        let (addr, thread) = serve_one(serve);
        Self {
            addr,
            stop: None,
            thread,
        }
    }

    /// Waits for the server to end (the blocking ones end with their
    /// connection; ws-mio is told to stop).
    fn finish(self) {
        if let Some(handle) = self.stop {
            handle.stop();
        }
        self.thread.join().expect("server thread");
    }
}

fn raw_echo(mut stream: TcpStream) {
    let mut buf = vec![0u8; 256 * KIB];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if stream.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

fn tung_echo(stream: TcpStream) {
    let mut ws = tungstenite::accept(stream).expect("tungstenite handshake");
    loop {
        match ws.read() {
            Ok(message @ (TMessage::Binary(_) | TMessage::Text(_))) => {
                if ws.send(message).is_err() {
                    return;
                }
            }
            Ok(_) => {}
            // ConnectionClosed after the closing handshake, or the client
            // went away: either way this connection is over.
            Err(_) => return,
        }
    }
}

// ---- latency clients -----------------------------------------------------------

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream
}

fn raw_latency(addr: SocketAddr, warm: usize, n: usize) -> Vec<Duration> {
    let mut stream = connect(addr);
    let message = [0xA5u8; LATENCY_PAYLOAD];
    let mut echo = [0u8; LATENCY_PAYLOAD];
    let mut samples = Vec::with_capacity(n);
    for i in 0..warm + n {
        let t0 = Instant::now();
        stream.write_all(&message).unwrap();
        stream.read_exact(&mut echo).unwrap();
        let rtt = t0.elapsed();
        if i >= warm {
            samples.push(rtt);
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
    samples
}

fn tung_latency(addr: SocketAddr, warm: usize, n: usize) -> Vec<Duration> {
    let (mut ws, _) =
        tungstenite::client(format!("ws://{addr}/"), connect(addr)).expect("client handshake");
    let message = Bytes::from(vec![0xA5u8; LATENCY_PAYLOAD]);
    let mut samples = Vec::with_capacity(n);
    for i in 0..warm + n {
        let t0 = Instant::now();
        ws.send(TMessage::Binary(message.clone())).unwrap();
        loop {
            if let TMessage::Binary(echo) = ws.read().unwrap() {
                assert_eq!(echo.len(), LATENCY_PAYLOAD);
                break;
            }
        }
        let rtt = t0.elapsed();
        if i >= warm {
            samples.push(rtt);
        }
    }
    tung_close(&mut ws);
    samples
}

/// The closing handshake, then the server's end of the TCP stream.
fn tung_close(ws: &mut WebSocket<TcpStream>) {
    let _ = ws.close(None);
    while ws.read().is_ok() {}
}

/// Starts a ws-mio client on a loop thread of its own; the handler reports
/// its result on the returned channel, then closes the connection.
/// The same ping-pong as `mio_latency`, through ws-client's `WebSocket`
/// and `Handler` (on its shared background loop thread).
fn client_latency(addr: SocketAddr, warm: usize, n: usize) -> Vec<Duration> {
    struct Pinger {
        message: Vec<u8>,
        samples: Vec<Duration>,
        done: usize,
        warm: usize,
        n: usize,
        t0: Instant,
        tx: mpsc::Sender<Result<Vec<Duration>, String>>,
    }

    impl ws_client::Handler for Pinger {
        fn on_open(&mut self, ws: &ws_client::WebSocket<Self>, _: &ws_client::OpenEvent) {
            self.t0 = Instant::now();
            if let Err(e) = ws.send(&self.message[..]) {
                let _ = self.tx.send(Err(e.to_string()));
            }
        }

        fn on_message(&mut self, ws: &ws_client::WebSocket<Self>, event: ws_client::MessageEvent) {
            let now = Instant::now();
            if event.data.as_blob().map(<[u8]>::len) != Some(LATENCY_PAYLOAD) {
                let _ = self
                    .tx
                    .send(Err(format!("unexpected echo {:?}", event.data)));
                return;
            }
            if self.done >= self.warm {
                self.samples.push(now - self.t0);
            }
            self.done += 1;
            if self.done == self.warm + self.n {
                let _ = self.tx.send(Ok(std::mem::take(&mut self.samples)));
                let _ = ws.terminate(None, None);
                return;
            }
            self.t0 = Instant::now();
            if let Err(e) = ws.send(&self.message[..]) {
                let _ = self.tx.send(Err(e.to_string()));
            }
        }

        fn on_error(&mut self, _: &ws_client::WebSocket<Self>, event: &ws_client::ErrorEvent) {
            let _ = self.tx.send(Err(event.error.to_string()));
        }
    }

    let (tx, rx) = mpsc::channel();
    let pinger = Pinger {
        message: vec![0xA5u8; LATENCY_PAYLOAD],
        samples: Vec::with_capacity(n),
        done: 0,
        warm,
        n,
        t0: Instant::now(),
        tx,
    };
    let _ws = ws_client::WebSocket::new(&format!("ws://{addr}/"), pinger).expect("connect");
    let result = rx.recv_timeout(DEADLINE).expect("ws-client result");
    result.unwrap_or_else(|e| panic!("ws-client: {e}"))
}

fn mio_client<T: Send + 'static>(
    addr: SocketAddr,
    handler: impl FnMut(&Conn, Event) -> Option<Result<T, String>> + Send + 'static,
) -> T {
    let request = ClientRequest::new(addr.ip().to_string(), addr.port(), "/");
    mio_client_with(&request, ClientOptions::default(), handler)
}

/// [`mio_client`] with a request and options of the caller's (`wss`).
fn mio_client_with<T: Send + 'static>(
    request: &ClientRequest,
    options: ClientOptions,
    mut handler: impl FnMut(&Conn, Event) -> Option<Result<T, String>> + Send + 'static,
) -> T {
    let mut event_loop = EventLoop::new().expect("event loop");
    let handle = event_loop.handle();
    let (tx, rx) = mpsc::channel();
    let mut reported = false;
    handle
        .connect(request, options, move |conn: &Conn, event: Event| {
            if reported {
                return;
            }
            let result = match event {
                Event::Error(e) => Some(Err(format!("connection error: {e}"))),
                Event::Closed(c) => Some(Err(format!("closed early: {c:?}"))),
                event => handler(conn, event),
            };
            if let Some(result) = result {
                reported = true;
                let _ = tx.send(result);
                let _ = conn.close(CloseCode::NORMAL, "");
            }
        })
        .expect("connect");
    let thread = thread::spawn(move || event_loop.run().expect("client loop"));
    let result = rx.recv_timeout(DEADLINE).expect("ws-mio client result");
    handle.stop();
    thread.join().expect("client loop thread");
    result.unwrap_or_else(|e| panic!("ws-mio client: {e}"))
}

fn mio_latency(addr: SocketAddr, warm: usize, n: usize) -> Vec<Duration> {
    let message = vec![0xA5u8; LATENCY_PAYLOAD];
    let mut samples = Vec::with_capacity(n);
    let mut done = 0;
    let mut t0 = Instant::now();
    mio_client(addr, move |conn, event| {
        match event {
            Event::Open(_) => {}
            Event::Message(Message::Binary(echo)) => {
                let now = Instant::now();
                if echo.len() != LATENCY_PAYLOAD {
                    return Some(Err(format!("echo of {} bytes", echo.len())));
                }
                if done >= warm {
                    samples.push(now - t0);
                }
                done += 1;
                if done == warm + n {
                    return Some(Ok(std::mem::take(&mut samples)));
                }
            }
            _ => return None,
        }
        t0 = Instant::now();
        conn.send_binary(&message).err().map(|e| Err(e.to_string()))
    })
}

// ---- throughput clients --------------------------------------------------------

/// The window of a blocking client whose writer and reader are two threads:
/// the writer parks when `limit` messages are in flight, the reader wakes
/// it once no more than half of them are.
struct Window {
    limit: u64,
    sent: AtomicU64,
    received: AtomicU64,
    parked: AtomicBool,
    writer: Thread,
}

impl Window {
    fn new(limit: u64) -> Arc<Self> {
        Arc::new(Self {
            limit,
            sent: AtomicU64::new(0),
            received: AtomicU64::new(0),
            parked: AtomicBool::new(false),
            writer: thread::current(),
        })
    }

    /// How many more messages the writer, having sent `sent`, may send.
    fn room(&self, sent: u64) -> u64 {
        self.limit - (sent - self.received.load(Ordering::SeqCst)).min(self.limit)
    }

    /// Whether the writer, having sent `sent` messages, may send another.
    fn has_room(&self, sent: u64) -> bool {
        self.room(sent) > 0
    }

    /// Writer: waits until another message may be sent.
    fn wait_for_room(&self, sent: u64) {
        while !self.has_room(sent) {
            self.parked.store(true, Ordering::SeqCst);
            if self.has_room(sent) {
                self.parked.store(false, Ordering::SeqCst);
                return;
            }
            thread::park();
        }
    }

    /// Writer: `sent` messages are written.
    fn sent(&self, sent: u64) {
        self.sent.store(sent, Ordering::SeqCst);
    }

    /// Reader: echoes received in total.
    fn received(&self, received: u64) {
        self.received.store(received, Ordering::SeqCst);
        if self.parked.load(Ordering::SeqCst)
            && self.sent.load(Ordering::SeqCst) - received <= self.limit / 2
            && self.parked.swap(false, Ordering::SeqCst)
        {
            self.writer.unpark();
        }
    }
}

fn raw_throughput(
    addr: SocketAddr,
    size: usize,
    window: u64,
    warm: u64,
    messages: u64,
    batched: bool,
) -> Duration {
    let mut stream = connect(addr);
    let mut reader = stream.try_clone().unwrap();
    let limit = window;
    let window = Window::new(limit);
    let total = warm + messages;
    let counter = window.clone();
    let reading = thread::spawn(move || {
        let mut clock = Clock::new(warm, messages);
        let mut buf = vec![0u8; 256 * KIB];
        let mut bytes = 0u64;
        loop {
            let n = reader.read(&mut buf).expect("raw read");
            assert!(n > 0, "raw echo server ended early");
            bytes += n as u64;
            let received = bytes / size as u64;
            counter.received(received);
            if let Some(elapsed) = clock.tick(received) {
                return elapsed;
            }
        }
    });
    // Batched: as many messages as the window has room for, in one write.
    let messages_per_write = if batched { limit as usize } else { 1 };
    let bytes = vec![0xA5u8; size * messages_per_write];
    let mut sent = 0;
    while sent < total {
        window.wait_for_room(sent);
        let room = window
            .room(sent)
            .min(total - sent)
            .min(messages_per_write as u64);
        stream
            .write_all(&bytes[..room as usize * size])
            .expect("raw write");
        sent += room;
        window.sent(sent);
    }
    let elapsed = reading.join().expect("raw reader");
    let _ = stream.shutdown(Shutdown::Both);
    elapsed
}

fn tung_throughput(
    addr: SocketAddr,
    size: usize,
    window: u64,
    warm: u64,
    messages: u64,
    batched: bool,
) -> Duration {
    let (mut ws, _) =
        tungstenite::client(format!("ws://{addr}/"), connect(addr)).expect("client handshake");
    // The server says nothing before the client's first message, so the
    // handshake left no bytes behind in `ws`'s read buffer.
    let mut reader =
        WebSocket::from_raw_socket(ws.get_ref().try_clone().unwrap(), TRole::Client, None);
    let window = Window::new(window);
    let total = warm + messages;
    let counter = window.clone();
    let reading = thread::spawn(move || {
        let mut clock = Clock::new(warm, messages);
        let mut received = 0;
        loop {
            if let TMessage::Binary(echo) = reader.read().expect("tungstenite read") {
                assert_eq!(echo.len(), size);
                received += 1;
                counter.received(received);
                if let Some(elapsed) = clock.tick(received) {
                    return elapsed;
                }
            }
        }
    });
    let message = Bytes::from(vec![0xA5u8; size]);
    for sent in 0..total {
        if batched {
            if !window.has_room(sent) {
                ws.flush().expect("tungstenite flush");
                window.wait_for_room(sent);
            }
            ws.write(TMessage::Binary(message.clone()))
                .expect("tungstenite write");
        } else {
            window.wait_for_room(sent);
            ws.send(TMessage::Binary(message.clone()))
                .expect("tungstenite send");
        }
        window.sent(sent + 1);
    }
    ws.flush().expect("tungstenite flush");
    let elapsed = reading.join().expect("tungstenite reader");
    // Close, then wait for the server's end of the stream on a raw clone
    // (the reading `WebSocket` is gone with its thread).
    let mut drain = ws.get_ref().try_clone().unwrap();
    let _ = ws.close(None);
    let _ = ws.flush();
    let mut buf = [0u8; 1024];
    while matches!(drain.read(&mut buf), Ok(n) if n > 0) {}
    elapsed
}

fn mio_throughput(
    addr: SocketAddr,
    size: usize,
    window: u64,
    warm: u64,
    messages: u64,
) -> Duration {
    let message = vec![0xA5u8; size];
    let total = warm + messages;
    let mut clock = Clock::new(warm, messages);
    let (mut sent, mut received) = (0u64, 0u64);
    mio_client(addr, move |conn, event| {
        match event {
            Event::Open(_) => {}
            Event::Message(Message::Binary(echo)) => {
                if echo.len() != size {
                    return Some(Err(format!("echo of {} bytes", echo.len())));
                }
                received += 1;
                if let Some(elapsed) = clock.tick(received) {
                    return Some(Ok(elapsed));
                }
            }
            _ => return None,
        }
        // Refill the window from inside the handler: the loop writes
        // everything queued once the handler returns.
        while sent < total && sent - received < window {
            if let Err(e) = conn.send_binary(&message) {
                return Some(Err(e.to_string()));
            }
            sent += 1;
        }
        None
    })
}

// ---- results -------------------------------------------------------------------

struct Rate {
    name: &'static str,
    /// Messages per second, best and worst run.
    best: f64,
    worst: f64,
    size: usize,
}

impl Rate {
    fn mb_per_s(&self) -> f64 {
        self.best * self.size as f64 / 1e6
    }
}

/// The latency table, with the p50 and p99 of each row against the rows
/// named `raw`, `tung` and `fws` (the anchors).
fn print_latency_table(rows: &[(&str, Percentiles)], raw: &str, tung: &str, fws: &str) {
    let find = |name: &str| rows.iter().find(|(n, _)| *n == name).map(|(_, p)| p);
    let (raw, tung, fws) = (find(raw), find(tung), find(fws));
    println!(
        "{:<40} {:>7} {:>7} {:>7} {:>7} {:>8} {:>7} {:>8} {:>9} {:>8} {:>8}",
        "client -> server",
        "p50",
        "p90",
        "p99",
        "p99.9",
        "max",
        "mean",
        "p50/raw",
        "p50/tung",
        "p50/fws",
        "p99/fws"
    );
    let ratio = |a: f64, b: Option<f64>| b.map_or("-".into(), |b| format!("{:.2}x", a / b));
    for (name, p) in rows {
        println!(
            "{:<40} {:>7.1} {:>7.1} {:>7.1} {:>7.1} {:>8.1} {:>7.1} {:>8} {:>9} {:>8} {:>8}",
            name,
            p.p50,
            p.p90,
            p.p99,
            p.p999,
            p.max,
            p.mean,
            ratio(p.p50, raw.map(|r| r.p50)),
            ratio(p.p50, tung.map(|r| r.p50)),
            ratio(p.p50, fws.map(|r| r.p50)),
            ratio(p.p99, fws.map(|r| r.p99)),
        );
    }
}

type ThroughputRow<'a> = (&'a str, u64, u64, Vec<Rate>);

fn print_throughput_table(rows: &[ThroughputRow<'_>]) {
    println!(
        "{:<7} {:<21} {:>10} {:>21} {:>9} {:>7} {:>9} {:>8} {:>8}",
        "size",
        "contestant",
        "msg/s",
        "(range of runs)",
        "MB/s",
        "vs raw",
        "vs raw-b",
        "vs tung",
        "vs fws"
    );
    for (label, window, messages, rates) in rows {
        let raw = rates[RAW].best;
        let raw_batched = rates[RAW_BATCHED].best;
        let tung = rates[TUNG].best;
        let fws = rates[FWS].best;
        for rate in rates {
            println!(
                "{:<7} {:<21} {:>10.0} {:>21} {:>9.1} {:>6.2}x {:>8.2}x {:>7.2}x {:>7.2}x",
                label,
                rate.name,
                rate.best,
                format!("[{:.0}..{:.0}]", rate.worst, rate.best),
                rate.mb_per_s(),
                rate.best / raw,
                rate.best / raw_batched,
                rate.best / tung,
                rate.best / fws
            );
        }
        println!("        (window {window}, {messages} messages measured per run)");
    }
}

/// Indices of the contestants in a throughput row.
const RAW: usize = 0;
const RAW_BATCHED: usize = 1;
const MIO: usize = 2;
const TUNG: usize = 3;
const TUNG_BATCHED: usize = 4;
const FWS: usize = 5;
const MIO_FWS: usize = 6;

fn print_targets(latencies: &[(&str, Percentiles)], rows: &[ThroughputRow<'_>]) {
    let verdict = |ok: bool| if ok { "MET" } else { "NOT MET" };
    println!();
    println!("Targets:");
    if let [(_, raw), (_, mio), ..] = latencies {
        let ratio = mio.p50 / raw.p50;
        println!(
            "  ws-mio p50 within 10% of raw TCP p50: {:.1} vs {:.1} µs = {:.2}x -> {}",
            mio.p50,
            raw.p50,
            ratio,
            verdict(ratio <= 1.10)
        );
    }
    let p50 = |name: &str| {
        latencies
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| p.p50)
    };
    if let (Some(client), Some(mio)) = (p50(CLIENT_PAIR), p50("ws-mio")) {
        let ratio = client / mio;
        println!(
            "  ws-client p50 within 10% of ws-mio p50: {client:.1} vs {mio:.1} µs = {ratio:.2}x -> {}",
            verdict(ratio <= 1.10)
        );
    }
    for (label, _, _, rates) in rows {
        let mio = &rates[MIO];
        if mio.size == 16 {
            let ratio = mio.best / rates[RAW].best;
            println!(
                "  16 B throughput within 5% of raw TCP (one write per message): \
                 {:.0} vs {:.0} msg/s = {:.2}x -> {} (against batched raw TCP: {:.2}x)",
                mio.best,
                rates[RAW].best,
                ratio,
                verdict(ratio >= 0.95),
                mio.best / rates[RAW_BATCHED].best
            );
        }
        let vs_tung = mio.best / rates[TUNG].best;
        let vs_batched = mio.best / rates[TUNG_BATCHED].best;
        println!(
            "  {label}: ws-mio >= 1.2x tungstenite: {vs_tung:.2}x -> {} \
             (against batched tungstenite: {vs_batched:.2}x -> {})",
            verdict(vs_tung >= 1.2),
            verdict(vs_batched >= 1.2)
        );
        println!(
            "  {label}: ws-mio / fastwebsockets: {:.2}x (ws-mio client against the fastwebsockets server: {:.2}x)",
            mio.best / rates[FWS].best,
            rates[MIO_FWS].best / rates[FWS].best
        );
    }
}
