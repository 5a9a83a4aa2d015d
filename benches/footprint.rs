//! Memory per connection at 1,000 client connections: heap and RSS, idle
//! (once every connection is open) and after one small echo (32 bytes
//! each way on every connection). Printed, not timed. A plain program:
//! `cargo bench --bench footprint` (or the binary `cargo bench --bench
//! footprint --no-run` names; `--connections N` to choose another count).
//!
//! Clients, each library in a process of its own (the program re-executes
//! itself with `--client KIND`), so that one library's freed memory does
//! not lower the next one's RSS:
//! - ws-mio: 1,000 connections on one `EventLoop` (its thread);
//! - tungstenite: 1,000 `WebSocket<TcpStream>` held on the main thread,
//!   blocking, the echo done one connection after the other;
//! - fastwebsockets: 1,000 `WebSocket<TcpStream>` on one tokio
//!   current-thread runtime, the handshake written by hand.
//!
//! Heap: a counting `#[global_allocator]` keeps the bytes currently
//! allocated by the whole process (alloc adds, dealloc subtracts, realloc
//! adds the difference); per connection is (held after - held before) /
//! connections, where "before" is taken before the event loop or runtime
//! exists (so their own memory is shared out over the connections).
//! RSS: `VmRSS` of `/proc/self/status`, before and after the same way.
//! The echo server (ws-mio's `echo` on one `EventLoop`) runs in a child
//! process (`--server`), so its heap is not counted.
//!
//! File descriptors: each side needs one per connection. Raising the soft
//! limit needs `setrlimit`, and `libc` is not a dependency of this package:
//! when the soft limit is too low the program says so and uses 500
//! connections (raise it with `ulimit -n 4096` before running).
//!
//! The project's target: at most 2 KiB of heap per ws-mio connection after
//! one small echo.
//!
//! Every socket is on 127.0.0.1; every child process ends itself after
//! [`DEADLINE`], and every wait is bounded.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use fastwebsockets::{Frame, OpCode, Payload, Role, WebSocket};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tungstenite::Message as TMessage;
use ws_mio::{ClientOptions, Conn, EchoServer, Event, EventLoop, ServerOptions};
use ws_proto::{ClientRequest, Message};
use ws_test_support::counting_alloc::{CountingAlloc, held_bytes};
use ws_test_support::handshake;

/// The connections each library opens (unless `--connections` says).
const CONNECTIONS: usize = 1_000;

/// The echo's payload.
const PAYLOAD: usize = 32;

/// How long any child process may live, and any one wait.
const DEADLINE: Duration = Duration::from_secs(120);

/// The target for ws-mio, after one small echo.
const TARGET: f64 = 2048.0;

// ---- the counting allocator ------------------------------------------------------

// ws-test-support's: it keeps the bytes the whole process holds.
#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Heap bytes held now.
fn heap() -> isize {
    held_bytes()
}

/// Resident set size now, in bytes.
fn rss() -> isize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<isize>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Heap and RSS at one moment.
#[derive(Clone, Copy)]
struct Mark {
    heap: isize,
    rss: isize,
}

impl Mark {
    fn now() -> Self {
        Self {
            heap: heap(),
            rss: rss(),
        }
    }
}

// ---- the parent --------------------------------------------------------------------

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| args.windows(2).find(|w| w[0] == name).map(|w| w[1].clone());
    // Children end themselves, whatever happens.
    if args.iter().any(|a| a == "--server" || a == "--client") {
        thread::spawn(|| {
            thread::sleep(DEADLINE);
            eprintln!("footprint child: deadline passed");
            std::process::exit(2);
        });
    }
    if args.iter().any(|a| a == "--server") {
        return server();
    }
    let connections =
        value("--connections").map_or(CONNECTIONS, |n| n.parse().expect("--connections N"));
    if let Some(kind) = value("--client") {
        let addr: SocketAddr = value("--addr").expect("--addr").parse().expect("address");
        let (idle, echo) = match kind.as_str() {
            "mio" => mio_client(addr, connections),
            "tung" => tung_client(addr, connections),
            "fws" => fws_client(addr, connections),
            other => panic!("unknown client {other}"),
        };
        println!(
            "RESULT {} {} {} {}",
            idle.heap, idle.rss, echo.heap, echo.rss
        );
        return;
    }
    parent(connections);
}

/// The soft limit on open files, from `/proc/self/limits`.
fn open_files_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn parent(mut connections: usize) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let affinity = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map_or("unknown", str::trim);
    println!("footprint: memory per client connection, servers in a child process");
    println!(
        "CPU affinity: {affinity}; load average: {}",
        std::fs::read_to_string("/proc/loadavg")
            .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    );
    let needed = connections + 64;
    match open_files_limit() {
        Some(limit) if limit < needed => {
            println!(
                "The soft limit on open files is {limit}, under the {needed} that {connections} \
                 connections need, and libc (setrlimit) is not a dependency here: using 500 \
                 connections. Run under `ulimit -n 4096` for {connections}."
            );
            connections = 500;
        }
        _ => {}
    }
    let exe = std::env::current_exe().expect("current exe");
    let mut server = Command::new(&exe)
        .arg("--server")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("server process");
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("server address");
    let addr = line
        .strip_prefix("ADDR ")
        .expect("ADDR line")
        .trim()
        .to_owned();

    println!();
    println!(
        "{connections} connections; heap = (held after - held before) / connections, RSS the same \
         with VmRSS (bytes per connection)"
    );
    println!(
        "{:<16} {:>11} {:>11} {:>13} {:>13} {:>9}",
        "client", "idle heap", "idle RSS", "echoed heap", "echoed RSS", "heap/tung"
    );
    let mut rows = Vec::new();
    for (kind, name) in [
        ("mio", "ws-mio"),
        ("tung", "tungstenite"),
        ("fws", "fastwebsockets"),
    ] {
        let output = Command::new(&exe)
            .args(["--client", kind, "--addr", &addr])
            .args(["--connections", &connections.to_string()])
            .stderr(Stdio::inherit())
            .output()
            .expect("client process");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let numbers: Vec<f64> = stdout
            .lines()
            .find_map(|l| l.strip_prefix("RESULT "))
            .unwrap_or_else(|| panic!("{name}: no result ({})", output.status))
            .split_whitespace()
            .map(|n| n.parse::<f64>().unwrap() / connections as f64)
            .collect();
        rows.push((name, numbers));
    }
    let tung = rows[1].1[2];
    for (name, n) in &rows {
        println!(
            "{:<16} {:>11.0} {:>11.0} {:>13.0} {:>13.0} {:>8.2}x",
            name,
            n[0],
            n[1],
            n[2],
            n[3],
            n[2] / tung
        );
    }
    let fws = rows[2].1[2];
    let mio = rows[0].1[2];
    println!();
    println!(
        "Target: ws-mio heap per connection after one small echo <= {TARGET:.0} B: {mio:.0} B -> {} \
         ({:.2}x tungstenite, {:.2}x fastwebsockets)",
        if mio <= TARGET { "MET" } else { "NOT MET" },
        mio / tung,
        mio / fws
    );
    drop(server.stdin.take());
    let _ = server.wait();
}

// ---- the server child ----------------------------------------------------------------

/// ws-mio's echo on one loop; prints its address, stops when stdin closes.
fn server() {
    let server = EchoServer::start("127.0.0.1:0".parse().unwrap(), ServerOptions::default())
        .expect("echo server");
    println!("ADDR {}", server.local_addr());
    std::io::stdout().flush().unwrap();
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    server.stop();
}

// ---- the client children ---------------------------------------------------------------

/// Waits (bounded) until `count` reaches `n`.
fn wait_for(count: &AtomicUsize, n: usize, failed: &AtomicUsize, what: &str) {
    let deadline = Instant::now() + DEADLINE;
    while count.load(Ordering::SeqCst) < n {
        assert_eq!(
            failed.load(Ordering::SeqCst),
            0,
            "{what}: a connection failed"
        );
        assert!(
            Instant::now() < deadline,
            "{what}: not all within the deadline"
        );
        thread::sleep(Duration::from_millis(5));
    }
}

/// Lets the loop finish what it was doing before a measurement.
fn settle() {
    thread::sleep(Duration::from_millis(300));
}

fn delta(before: Mark) -> Mark {
    let now = Mark::now();
    Mark {
        heap: now.heap - before.heap,
        rss: now.rss - before.rss,
    }
}

fn mio_client(addr: SocketAddr, n: usize) -> (Mark, Mark) {
    let before = Mark::now();
    // Allocated after `before`: what holding the connections costs counts.
    let conns: Arc<Mutex<Vec<Conn>>> = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let (opened, echoed, failed) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let request = ClientRequest::new(addr.ip().to_string(), addr.port(), "/");
    let mut event_loop = EventLoop::new().expect("event loop");
    let handle = event_loop.handle();
    for _ in 0..n {
        let (conns, opened, echoed, failed) = (
            conns.clone(),
            opened.clone(),
            echoed.clone(),
            failed.clone(),
        );
        handle
            .connect(
                &request,
                ClientOptions::default(),
                move |conn: &Conn, event: Event| match event {
                    Event::Open(_) => {
                        conns.lock().unwrap().push(conn.clone());
                        opened.fetch_add(1, Ordering::SeqCst);
                    }
                    Event::Message(Message::Binary(_)) => {
                        echoed.fetch_add(1, Ordering::SeqCst);
                    }
                    Event::Error(_) => {
                        failed.fetch_add(1, Ordering::SeqCst);
                    }
                    _ => {}
                },
            )
            .expect("connect");
    }
    let thread = thread::spawn(move || event_loop.run().expect("client loop"));
    wait_for(&opened, n, &failed, "ws-mio open");
    settle();
    let idle = delta(before);
    let message = [0xA5u8; PAYLOAD];
    for conn in conns.lock().unwrap().iter() {
        conn.send_binary(&message).expect("ws-mio send");
    }
    wait_for(&echoed, n, &failed, "ws-mio echo");
    settle();
    let echo = delta(before);
    handle.stop();
    thread.join().expect("client loop thread");
    (idle, echo)
}

fn tung_client(addr: SocketAddr, n: usize) -> (Mark, Mark) {
    let url = format!("ws://{addr}/");
    let before = Mark::now();
    // Allocated after `before`: the `WebSocket`s themselves count.
    let mut sockets = Vec::with_capacity(n);
    for _ in 0..n {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).unwrap();
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        let (ws, _) = tungstenite::client(url.as_str(), stream).expect("tungstenite handshake");
        sockets.push(ws);
    }
    let idle = delta(before);
    let message = ws_proto::Bytes::from_static(&[0xA5u8; PAYLOAD]);
    for ws in &mut sockets {
        ws.send(TMessage::Binary(message.clone()))
            .expect("tungstenite send");
        loop {
            if let TMessage::Binary(_) = ws.read().expect("tungstenite read") {
                break;
            }
        }
    }
    let echo = delta(before);
    drop(sockets);
    (idle, echo)
}

async fn fws_connect(addr: SocketAddr) -> WebSocket<tokio::net::TcpStream> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).unwrap();
    let request = handshake::request(&addr.to_string(), "/", "");
    stream.write_all(request.as_bytes()).await.expect("write");
    // The head one byte at a time: nothing after it is taken.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert!(head.len() < 8192, "answer head too long");
        stream.read_exact(&mut byte).await.expect("read");
        head.push(byte[0]);
    }
    let accept = handshake::accept_key(handshake::SAMPLE_KEY.as_bytes());
    let head = String::from_utf8_lossy(&head);
    assert!(
        head.starts_with("HTTP/1.1 101") && head.contains(&accept),
        "handshake refused: {head}"
    );
    WebSocket::after_handshake(stream, Role::Client)
}

fn fws_client(addr: SocketAddr, n: usize) -> (Mark, Mark) {
    let before = Mark::now();
    // Allocated after `before`: the `WebSocket`s themselves count.
    let mut sockets = Vec::with_capacity(n);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .expect("tokio runtime");
    let marks = runtime.block_on(async {
        tokio::time::timeout(DEADLINE, async {
            for _ in 0..n {
                sockets.push(fws_connect(addr).await);
            }
            let idle = delta(before);
            for ws in &mut sockets {
                let frame = Frame::binary(Payload::Owned(vec![0xA5u8; PAYLOAD]));
                ws.write_frame(frame).await.expect("fastwebsockets write");
                loop {
                    let frame = ws.read_frame().await.expect("fastwebsockets read");
                    if frame.opcode == OpCode::Binary {
                        break;
                    }
                }
            }
            let echo = delta(before);
            (idle, echo)
        })
        .await
        .expect("fastwebsockets: deadline passed")
    });
    drop(sockets);
    marks
}
