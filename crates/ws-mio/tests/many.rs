//! Many connections on one loop, and what an idle connection costs.
//!
//! - 1,000 concurrent clients on ONE client loop against one echo server
//!   loop: each sends 5 messages, checks the 5 echoes, closes; all must
//!   close cleanly on both ends.
//! - Live heap per idle connection, with a counting global allocator:
//!   client side alone (against a raw `std::net` server that answers the
//!   handshake by hand and holds the sockets), server side alone (against
//!   raw `std::net` clients), and both together. The figures are printed
//!   (`--nocapture`); only a generous bound is asserted.
//! - Leaks: the heap and the file descriptors come back once the loops are
//!   gone, including when a `Conn` is used after its loop has stopped.
//!
//! The tests of this file share the allocator's counter, so they run one
//! at a time (`SERIAL`). Every wait is bounded.

mod common;

use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use common::{
    DEADLINE, LoopThread, Seen, accept_by_hand, client_loop, connect, expect, recv, serve,
    spawn_helper,
};
use ws_mio::{ClientOptions, Conn, Event, EventLoop, Handler, ServerOptions};
use ws_proto::{ClientRequest, CloseCode, Message};
use ws_test_support::counting_alloc::{CountingAlloc, held_blocks, held_bytes};
use ws_test_support::handshake;
use ws_test_support::raw_server::accept_within;

// ---- counting allocator -----------------------------------------------------

// ws-test-support's: it keeps the live heap of the whole process.
#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Live heap: (bytes, blocks).
fn live() -> (isize, isize) {
    (held_bytes(), held_blocks())
}

// ---- helpers ------------------------------------------------------------------

/// The tests of this file run one at a time: they share the allocator's
/// counters and the file descriptor table.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// The soft limit on open files, where the platform says (Linux).
fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// How many connections to open when each needs `fds_each` descriptors:
/// `wanted`, or fewer if the open-file limit is too low (said on stdout).
fn connection_budget(wanted: usize, fds_each: usize) -> usize {
    match open_file_limit() {
        Some(limit) => {
            let budget = (limit as usize).saturating_sub(100) / fds_each;
            if budget < wanted {
                println!("open-file limit {limit}: using {budget} connections instead of {wanted}");
            }
            wanted.min(budget).max(1)
        }
        None => wanted,
    }
}

/// The number of open file descriptors (Linux), for leak checks.
fn open_fds() -> Option<usize> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count())
}

/// Waits until `done()` holds, polling; panics after `timeout`.
fn wait_until(timeout: Duration, what: impl Fn() -> String, done: impl Fn() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out: {}", what());
        thread::sleep(Duration::from_millis(5));
    }
}

/// Open/close counters shared by the handlers of one side.
#[derive(Default)]
struct Counters {
    opened: AtomicUsize,
    clean: AtomicUsize,
    unclean: AtomicUsize,
}

impl Counters {
    fn closed(&self) -> usize {
        self.clean.load(Ordering::SeqCst) + self.unclean.load(Ordering::SeqCst)
    }

    fn describe(&self) -> String {
        format!(
            "opened {}, closed clean {}, closed unclean {}",
            self.opened.load(Ordering::SeqCst),
            self.clean.load(Ordering::SeqCst),
            self.unclean.load(Ordering::SeqCst)
        )
    }
}

/// An echo server loop counting its connections' opens and closes.
fn counting_echo_server(counters: Arc<Counters>) -> (SocketAddr, LoopThread) {
    serve(ServerOptions::default(), "echo-server", move || {
        let mut count = counting_handler(counters.clone());
        move |conn: &Conn, event: Event| {
            match &event {
                Event::Message(Message::Text(t)) => {
                    let _ = conn.send_text(t);
                }
                Event::Message(Message::Binary(b)) => {
                    let _ = conn.send_binary(b);
                }
                _ => {}
            }
            count(conn, event);
        }
    })
}

/// A server loop (named `name`) whose connections only count.
fn counting_server(name: &str, counters: &Arc<Counters>) -> (SocketAddr, LoopThread) {
    let counters = counters.clone();
    serve(ServerOptions::default(), name, move || {
        counting_handler(counters.clone())
    })
}

// ---- 1,000 concurrent connections ---------------------------------------------

const MESSAGES: usize = 5;

/// The `i`th message of connection `index`: text or binary, of varied
/// sizes (up to a few KiB), unique to the connection.
fn message(index: usize, i: usize) -> Message {
    if i % 2 == 0 {
        Message::Text(format!("connection {index} message {i} {}", "é".repeat(index % 50)).into())
    } else {
        let len = 1 + (index * 7 + i * 131) % 3000;
        let bytes: Vec<u8> = (0..len).map(|k| (k + index + i) as u8).collect();
        Message::Binary(bytes.into())
    }
}

/// One client of the crowd: sends its messages at `Open`, checks each
/// echo, closes after the last; reports the outcome at `Closed`.
struct Crowd {
    index: usize,
    opened: bool,
    received: usize,
    problem: Option<String>,
    done: Sender<Result<(), String>>,
}

impl Handler for Crowd {
    fn on_event(&mut self, conn: &Conn, event: Event) {
        match event {
            Event::Open(_) => {
                self.opened = true;
                for i in 0..MESSAGES {
                    let sent = match message(self.index, i) {
                        Message::Text(t) => conn.send_text(&t),
                        Message::Binary(b) => conn.send_binary(&b),
                    };
                    if let Err(e) = sent {
                        self.problem.get_or_insert(format!("send {i}: {e}"));
                    }
                }
            }
            Event::Message(m) => {
                if self.received >= MESSAGES {
                    self.problem.get_or_insert("more echoes than sent".into());
                } else if m != message(self.index, self.received) {
                    self.problem
                        .get_or_insert(format!("echo {} differs", self.received));
                }
                self.received += 1;
                if self.received == MESSAGES {
                    let _ = conn.close(CloseCode::NORMAL, "done");
                }
            }
            Event::Error(e) => {
                self.problem.get_or_insert(format!("error: {e}"));
            }
            Event::Closed(c) => {
                let ok = self.opened
                    && self.received == MESSAGES
                    && c.code == CloseCode::NORMAL
                    && c.was_clean
                    && self.problem.is_none();
                let _ = self.done.send(if ok {
                    Ok(())
                } else {
                    Err(format!(
                        "connection {}: opened {}, {} echoes, closed {} {:?} clean={}, problem {:?}",
                        self.index,
                        self.opened,
                        self.received,
                        c.code.0,
                        c.reason,
                        c.was_clean,
                        self.problem
                    ))
                });
            }
            _ => {}
        }
    }
}

#[test]
fn a_thousand_concurrent_clients_on_one_loop() {
    let _serial = serial();
    // Each connection holds two descriptors here: its client and server ends.
    let n = connection_budget(1000, 2);
    let server_counters = Arc::new(Counters::default());
    let (addr, server) = counting_echo_server(server_counters.clone());
    let client = client_loop();
    let request = ClientRequest::new("127.0.0.1", addr.port(), "/");
    // Generous handshake timer: 1,000 handshakes at once on a busy 2-core
    // machine, some of them retrying a SYN dropped by the full backlog.
    let mut options = ClientOptions::default();
    options.config.handshake_timeout = Some(Duration::from_secs(50));
    let (done_tx, done_rx) = mpsc::channel();
    for index in 0..n {
        let handler = Crowd {
            index,
            opened: false,
            received: 0,
            problem: None,
            done: done_tx.clone(),
        };
        client
            .handle
            .connect(&request, options.clone(), handler)
            .expect("connect starts");
    }
    drop(done_tx);

    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut ok, mut failures) = (0, Vec::new());
    while ok + failures.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        match done_rx.recv_timeout(left) {
            Ok(Ok(())) => ok += 1,
            Ok(Err(why)) => failures.push(why),
            Err(RecvTimeoutError::Timeout) => break,
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    println!(
        "{n} concurrent connections: {ok} closed cleanly after {MESSAGES} echoes, {} failed, {} unaccounted",
        failures.len(),
        n - ok - failures.len()
    );
    assert!(
        failures.is_empty() && ok == n,
        "{ok} of {n} ok; first failures: {:#?}",
        &failures[..failures.len().min(10)]
    );
    // The server side closed each of them cleanly too.
    wait_until(
        DEADLINE,
        || format!("server side: {}", server_counters.describe()),
        || server_counters.closed() >= n,
    );
    assert_eq!(server_counters.opened.load(Ordering::SeqCst), n);
    assert_eq!(
        server_counters.clean.load(Ordering::SeqCst),
        n,
        "server side: {}",
        server_counters.describe()
    );
    client.stop("client loop");
    server.stop("server loop");
}

// ---- heap per idle connection -------------------------------------------------

/// A handler that only counts.
fn counting_handler(counters: Arc<Counters>) -> impl FnMut(&Conn, Event) + Send + 'static {
    move |_: &Conn, event: Event| match event {
        Event::Open(_) => {
            counters.opened.fetch_add(1, Ordering::SeqCst);
        }
        Event::Closed(c) => {
            let counter = if c.was_clean {
                &counters.clean
            } else {
                &counters.unclean
            };
            counter.fetch_add(1, Ordering::SeqCst);
        }
        _ => {}
    }
}

/// A client loop for idle connections to 127.0.0.1:`port` whose handlers
/// only count. All of it is made before the heap is measured, so that only
/// the connections themselves are.
struct IdleClients {
    client: LoopThread,
    request: ClientRequest,
    options: ClientOptions,
    counters: Arc<Counters>,
}

impl IdleClients {
    fn new(port: u16) -> Self {
        let counters = Arc::new(Counters::default());
        let client = client_loop();
        let request = ClientRequest::new("127.0.0.1", port, "/");
        // Generous handshake timer: all the handshakes start at once, on a
        // busy machine.
        let mut options = ClientOptions::default();
        options.config.handshake_timeout = Some(Duration::from_secs(60));
        Self {
            client,
            request,
            options,
            counters,
        }
    }

    /// Starts `n` connections.
    fn connect(&self, n: usize) {
        for _ in 0..n {
            // The returned `Conn` is dropped: the loop keeps what it needs.
            self.client
                .handle
                .connect(
                    &self.request,
                    self.options.clone(),
                    counting_handler(self.counters.clone()),
                )
                .expect("connect starts");
        }
    }
}

/// Lets the loops finish the turn they are in before the heap is read.
fn settle() {
    thread::sleep(Duration::from_millis(200));
}

/// One measurement: live heap added by `n` idle connections.
struct Figure {
    bytes: isize,
    blocks: isize,
    n: usize,
}

impl Figure {
    fn between(before: (isize, isize), after: (isize, isize), n: usize) -> Self {
        Self {
            bytes: after.0 - before.0,
            blocks: after.1 - before.1,
            n,
        }
    }

    fn per_connection(&self) -> f64 {
        self.bytes as f64 / self.n as f64
    }

    fn line(&self, what: &str) -> String {
        format!(
            "{what}: {:.0} bytes/connection in {:.1} allocations/connection ({} bytes over {} connections)",
            self.per_connection(),
            self.blocks as f64 / self.n as f64,
            self.bytes,
            self.n
        )
    }
}

/// ws-mio clients against a raw server that answers the handshakes by hand
/// and holds the sockets: only the client side is on the ws-mio heap.
fn idle_clients(n: usize) -> Figure {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held: Vec<TcpStream> = Vec::with_capacity(n); // allocated before measuring
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let raw_ready = Arc::new(AtomicUsize::new(0));
    let ready = raw_ready.clone();
    let raw = spawn_helper("raw-server", move || -> std::io::Result<()> {
        let mut held = held;
        let deadline = Instant::now() + Duration::from_secs(60);
        while held.len() < n {
            let mut stream = accept_within(&listener, deadline)?;
            accept_by_hand(&mut stream)?;
            held.push(stream);
            ready.fetch_add(1, Ordering::SeqCst);
        }
        let _ = release_rx.recv_timeout(Duration::from_secs(120));
        drop(held); // the clients see the end of their streams
        Ok(())
    });
    let clients = IdleClients::new(port);
    let counters = &clients.counters;
    settle();

    let before = live();
    clients.connect(n);
    wait_until(
        Duration::from_secs(60),
        || {
            format!(
                "{} of {n} clients open; raw server answered {}",
                counters.describe(),
                raw_ready.load(Ordering::SeqCst)
            )
        },
        || counters.opened.load(Ordering::SeqCst) == n && raw_ready.load(Ordering::SeqCst) == n,
    );
    settle();
    let figure = Figure::between(before, live(), n);

    let _ = release_tx.send(());
    wait_until(DEADLINE, || counters.describe(), || counters.closed() == n);
    clients.client.stop("client loop");
    recv(&raw, DEADLINE, "raw server").expect("raw server");
    figure
}

/// A ws-mio server against raw clients that send a handshake by hand and
/// hold the sockets: only the server side is on the ws-mio heap.
fn idle_server_connections(n: usize) -> Figure {
    let counters = Arc::new(Counters::default());
    let (addr, server) = counting_server("idle-server", &counters);
    let request = handshake::request(&format!("127.0.0.1:{}", addr.port()), "/", "");
    let mut held: Vec<TcpStream> = Vec::with_capacity(n);
    settle();

    let before = live();
    for _ in 0..n {
        let mut stream = TcpStream::connect_timeout(&addr, DEADLINE).expect("raw connect");
        stream.write_all(request.as_bytes()).expect("raw request");
        held.push(stream);
    }
    for stream in &mut held {
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        let head = handshake::read_head_within(stream, 1024, None).expect("a response");
        assert!(head.starts_with(b"HTTP/1.1 101 "));
    }
    wait_until(
        DEADLINE,
        || counters.describe(),
        || counters.opened.load(Ordering::SeqCst) == n,
    );
    settle();
    let figure = Figure::between(before, live(), n);

    drop(held); // the server sees the end of every stream
    wait_until(DEADLINE, || counters.describe(), || counters.closed() == n);
    server.stop("server loop");
    figure
}

/// ws-mio clients against a ws-mio server, on two loops: both sides.
fn idle_pairs(n: usize) -> Figure {
    let server_counters = Arc::new(Counters::default());
    let (addr, server) = counting_server("pair-server", &server_counters);
    let clients = IdleClients::new(addr.port());
    let client_counters = &clients.counters;
    settle();

    let before = live();
    clients.connect(n);
    wait_until(
        Duration::from_secs(60),
        || {
            format!(
                "clients: {}; server: {}",
                client_counters.describe(),
                server_counters.describe()
            )
        },
        || {
            client_counters.opened.load(Ordering::SeqCst) == n
                && server_counters.opened.load(Ordering::SeqCst) == n
        },
    );
    settle();
    let figure = Figure::between(before, live(), n);

    clients.client.stop("client loop"); // closes every connection with 1001
    wait_until(
        DEADLINE,
        || server_counters.describe(),
        || server_counters.closed() == n,
    );
    assert_eq!(client_counters.clean.load(Ordering::SeqCst), n);
    assert_eq!(server_counters.clean.load(Ordering::SeqCst), n);
    server.stop("server loop");
    figure
}

/// Moves what `from` wants to send into `to`, as a socket would.
fn pump(from: &mut ws_proto::Connection, to: &mut ws_proto::Connection, now: Instant) {
    while let Some(bytes) = from.poll_transmit() {
        let n = bytes.len();
        to.receive(now, bytes);
        from.advance_transmit(n);
    }
}

/// Heap held by one open, idle `ws_proto::Connection` of each role (its
/// inline size not included), and its buffer capacity: the part of the
/// per-connection cost that is ws-proto's.
struct ProtoHeap {
    client: isize,
    client_buffers: usize,
    client_released: isize,
    server: isize,
    server_buffers: usize,
    server_released: isize,
}

fn proto_heap() -> ProtoHeap {
    use ws_proto::{Config, Connection, ServerConfig, State};
    let now = Instant::now();
    let request = ClientRequest::new("127.0.0.1", 9001, "/");
    // One role is measured while the other is dropped before reading.
    let measure = |keep_client: bool| {
        let before = live().0;
        let mut client =
            Connection::client(now, Config::default(), &request, ws_proto::default_rng()).unwrap();
        let mut server = Connection::server(now, Config::default(), ServerConfig::default());
        for _ in 0..4 {
            pump(&mut client, &mut server, now);
            while server.poll_event().is_some() {}
            pump(&mut server, &mut client, now);
            while client.poll_event().is_some() {}
        }
        assert_eq!((client.state(), server.state()), (State::Open, State::Open));
        let mut kept = if keep_client {
            drop(server);
            client
        } else {
            drop(client);
            server
        };
        let heap = live().0 - before;
        let buffers = kept.buffer_capacity();
        kept.release_buffers();
        let released = live().0 - before;
        (heap, buffers, released)
    };
    let (client, client_buffers, client_released) = measure(true);
    let (server, server_buffers, server_released) = measure(false);
    ProtoHeap {
        client,
        client_buffers,
        client_released,
        server,
        server_buffers,
        server_released,
    }
}

#[test]
fn heap_per_idle_connection() {
    let _serial = serial();
    // Up to 3 descriptors per connection at a time (a raw peer and a ws-mio
    // end, or two ws-mio ends), with margin.
    let n = connection_budget(1000, 3);
    println!(); // stdout's buffer is allocated before any measurement
    let start = live();
    let fds_start = open_fds();

    let clients = idle_clients(n);
    let servers = idle_server_connections(n);
    let pairs = idle_pairs(n);
    settle();
    let end = live();
    let fds_end = open_fds();

    println!(
        "--- heap per idle plain (ws://) connection, {n} connections, live bytes requested from the allocator (no allocator overhead) ---"
    );
    println!("{}", clients.line("client side alone (vs raw server)"));
    println!("{}", servers.line("server side alone (vs raw clients)"));
    println!(
        "{} => {:.0} bytes per connection if split evenly",
        pairs.line("client + server pair (both ws-mio)"),
        pairs.per_connection() / 2.0
    );
    let proto = proto_heap();
    println!(
        "of which ws_proto::Connection: {} bytes inline (inside ws-mio's shared per-connection Arc) + heap: client {} bytes ({} of them read/write buffer capacity; {} after release_buffers()), server {} bytes ({} buffer capacity; {} after release_buffers())",
        std::mem::size_of::<ws_proto::Connection>(),
        proto.client,
        proto.client_buffers,
        proto.client_released,
        proto.server,
        proto.server_buffers,
        proto.server_released,
    );
    println!(
        "target <= 1024 bytes per idle client connection: {}",
        if clients.per_connection() <= 1024.0 {
            "met"
        } else {
            "NOT met"
        }
    );
    println!(
        "after all loops are gone: {} bytes / {} blocks still live vs the start; open fds {:?} -> {:?}",
        end.0 - start.0,
        end.1 - start.1,
        fds_start,
        fds_end
    );

    for (what, figure) in [("client", &clients), ("server", &servers), ("pair", &pairs)] {
        assert!(
            figure.per_connection() < 64.0 * 1024.0,
            "{}",
            figure.line(what)
        );
    }
    // Everything is given back once the loops are gone (a generous margin
    // for one-time allocations: far less than one connection's worth each).
    assert!(
        end.0 - start.0 < (n as isize) * 16,
        "{} bytes still live after {} connections were closed and their loops stopped",
        end.0 - start.0,
        3 * n
    );
    if let (Some(a), Some(b)) = (fds_start, fds_end) {
        assert!(b <= a, "file descriptors leaked: {a} -> {b}");
    }
}

// ---- leaks after the loop has stopped -----------------------------------------

/// A client loop, one connection to a port nobody listens on (error, then
/// closed), the loop stopped; then, with `late_use`, the `Conn` used after
/// its loop is gone. Everything is dropped before returning.
fn refused_then_stopped(late_use: bool) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = client_loop();
    let request = ClientRequest::new("127.0.0.1", port, "/");
    let (conn, rx) = connect(&client.handle, &request, ClientOptions::default(), |_| {});
    match recv(&rx, DEADLINE, "the connection to fail") {
        Seen::Error { .. } => {}
        other => panic!("expected an error, got {other:?}"),
    }
    expect(&rx, Seen::closed(1006, "", false));
    client.stop("client loop");
    if late_use {
        assert!(conn.send_text("too late").is_err());
    }
    drop(conn);
}

/// Heap bytes and file descriptors still held after `scenario` has run
/// and dropped everything (it runs once before, for one-time allocations).
fn left_behind(scenario: impl Fn()) -> (isize, Option<isize>) {
    scenario();
    settle();
    let (bytes, fds) = (live().0, open_fds());
    scenario();
    settle();
    let fds = match (fds, open_fds()) {
        (Some(a), Some(b)) => Some(b as isize - a as isize),
        _ => None,
    };
    (live().0 - bytes, fds)
}

/// A loop's whole life (connect, fail, stop) gives back all it took.
#[test]
fn a_loops_life_leaves_nothing_behind() {
    let _serial = serial();
    let (bytes, fds) = left_behind(|| refused_then_stopped(false));
    println!("left behind by a loop's life: {bytes} bytes, {fds:?} fds");
    assert!(bytes <= 64, "{bytes} bytes leaked");
    assert!(fds.unwrap_or(0) <= 0, "{fds:?} file descriptors leaked");
}

/// Using a `Conn` after its loop is gone must not keep the loop's shared
/// part (and its waker's file descriptor) alive.
#[test]
fn conn_used_after_its_loop_is_gone_leaks_nothing() {
    let _serial = serial();
    let (bytes, fds) = left_behind(|| refused_then_stopped(true));
    println!("left behind by a Conn used after its loop stopped: {bytes} bytes, {fds:?} fds");
    assert!(
        bytes <= 64,
        "a Conn used after its loop stopped leaked {bytes} bytes"
    );
    assert!(
        fds.unwrap_or(0) <= 0,
        "a Conn used after its loop stopped leaked {fds:?} file descriptors"
    );
}

/// A connection started on a loop that is dropped before it ever ran.
#[test]
fn connect_on_a_loop_dropped_before_running_leaks_nothing() {
    let _serial = serial();
    let (bytes, fds) = left_behind(|| {
        let event_loop = EventLoop::new().unwrap();
        let handle = event_loop.handle();
        let request = ClientRequest::new("127.0.0.1", 9, "/");
        let conn = handle
            .connect(&request, ClientOptions::default(), |_: &Conn, _| {})
            .expect("connect starts");
        drop(event_loop);
        drop(conn);
    });
    println!(
        "left behind by a connect on a loop dropped before running: {bytes} bytes, {fds:?} fds"
    );
    assert!(bytes <= 64, "{bytes} bytes leaked");
    assert!(fds.unwrap_or(0) <= 0, "{fds:?} file descriptors leaked");
}
