//! Loopback benchmark of ws-tokio against the two tokio anchors,
//! tokio-tungstenite and fastwebsockets, in the same run (issue 16). A
//! plain program like `benches/echo.rs`, not criterion:
//! `cargo bench --bench tokio -- [--quick] [--only PART]...` (`--quick`:
//! 10x fewer messages, one run instead of three; `--only` runs one part:
//! `latency`, `throughput`, or one throughput size: `16B`, `1KiB`,
//! `64KiB`, `1MiB`; `--lib NAME` runs the latency part for that
//! contestant alone, e.g. `--lib ws-tokio`, for `strace`, `perf` or
//! callgrind, and prints its percentiles only). At full size it takes about 3 minutes pinned to one
//! CPU under load, `--quick` under 10 s.
//!
//! To pin every thread to one CPU, build with
//! `cargo bench --bench tokio --no-run` and run the binary it names:
//! `taskset -c 0 target/release/deps/tokio-HASH --quick`.
//!
//! Every contestant runs as its users run it: the client and the server
//! each on a thread of its own with its own current-thread runtime
//! (`Builder::new_current_thread().enable_all()`), over loopback TCP
//! (127.0.0.1) with nodelay on both ends; each server serves one
//! connection and echoes every data message with one send (written and
//! flushed) per message read:
//! - ws-tokio: the client `ws_tokio::connect("ws://127.0.0.1:PORT/")`
//!   (which sets nodelay), the server `ws_tokio::accept(stream)` over the
//!   accepted tokio `TcpStream`; default settings; the server loops on
//!   `recv` and `send`; the client sends with `send_binary(&[u8])` (copied
//!   into the connection's buffer, written, flushed) and reads with
//!   `recv`;
//! - tokio-tungstenite 0.30 (over the workspace's tungstenite 0.30, no
//!   TLS features): the client `client_async("ws://...", tcp)` over a
//!   `TcpStream` it connected, the server `accept_async(stream)`; both
//!   with `futures_util::{SinkExt, StreamExt}`: `send(Message::Binary)`
//!   (a `Bytes` clone, so no copy of the payload), `next()`;
//! - fastwebsockets 0.10 as `benches/echo.rs` drives it (`echo/fws.rs`,
//!   the same code): the opening handshake written by hand on both sides
//!   (the crate's `upgrade` feature is off; the server answers with
//!   `ws_proto::handshake::accept_key`), then `WebSocket::after_handshake`;
//!   `write_frame` (the client copies the payload into a scratch buffer,
//!   since it masks in place) and `read_frame`.
//!
//! 1. `latency`: round trips of a 32-byte binary message, one in flight at
//!    a time, each timed with `Instant` around the send and the receipt of
//!    its echo, on one task; 5,000 warm-up round trips, then 100,000
//!    measured, in 5 rounds that take every contestant in turn (so that
//!    what other jobs do to the machine falls on all of them alike).
//!    p50/p90/p99/p99.9, max, mean, and the ratios of p50 and p99 to
//!    fastwebsockets' and tokio-tungstenite's.
//! 2. `throughput`: for 16 B, 1 KiB, 64 KiB and 1 MiB payloads, the client
//!    sends as fast as a window of messages in flight lets it (the same
//!    window for every contestant: 64, 64, 16, 4; the writer waits when it
//!    is full and is woken when half of it has drained, `shared/window.rs`)
//!    and counts the echoes; one tenth of the messages first as warm-up,
//!    then the clock runs. MB/s counts echoed payload bytes (10^6), one
//!    direction. Best of 3 runs, the contestants taking turns. The
//!    concurrent reader and writer each library's users write:
//!    - ws-tokio: `split()`, the `ReadHalf` in a `tokio::spawn`ed task
//!      looping on `recv`, the `WriteHalf` on the main task calling
//!      `send_binary` per message;
//!    - ws-tokio, one task: the same halves polled together on one task
//!      (a join of the two futures), the way the fastwebsockets row runs;
//!    - tokio-tungstenite: `StreamExt::split`, the `SplitStream` in a
//!      spawned task looping on `next()`, the `SplitSink` on the main task
//!      calling `SinkExt::send` per message;
//!    - fastwebsockets: its `split` is behind the `unstable-split` feature,
//!      which is off; a reading and a writing `WebSocket` over the two
//!      halves of one socket, polled together on one task, `write_frame`
//!      per message (as in `benches/echo.rs`).
//!
//! Every run is one `block_on` under a `tokio::time::timeout` of
//! [`DEADLINE`] (client and server alike), so nothing can hang. Results go
//! to stdout as tables, with the CPU affinity and the load average the run
//! had.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as TMessage;
use ws_tokio::{CloseCode, Message};

// The fastwebsockets driver of `benches/echo.rs` and the hand-written
// handshake it uses; this program needs part of each.
#[allow(dead_code, reason = "shared with benches/echo.rs, which uses the rest")]
#[path = "echo/fws.rs"]
mod fws;
#[allow(
    dead_code,
    reason = "shared with benches/echo.rs, which reads --sender"
)]
#[path = "shared/plan.rs"]
mod plan;
#[path = "shared/report.rs"]
mod report;
#[path = "shared/window.rs"]
mod window;
#[allow(dead_code, reason = "shared with benches/echo.rs, which uses the rest")]
#[path = "echo/wire.rs"]
mod wire;

use plan::{
    Args, DEADLINE, IO_TIMEOUT, KIB, LATENCY_PAYLOAD, LATENCY_ROUND_TRIPS, LATENCY_ROUNDS,
    LATENCY_WARM_UP, serve_one,
};
use report::{Clock, Percentiles};
use window::{Window, join2};

fn main() {
    let args = Args::from_env();
    let (quick, scale, runs) = (args.quick, args.scale, args.runs);
    let wanted = |part: &str| args.wanted(part);
    let sizes = args.sizes();
    let started = Instant::now();

    report::print_environment(
        "tokio benchmark: ws-tokio vs tokio-tungstenite vs fastwebsockets over loopback",
        quick,
    );

    let latencies = if wanted("latency") {
        latency(scale, args.value("--lib"))
    } else {
        Vec::new()
    };
    let rows = if sizes.is_empty() {
        Vec::new()
    } else {
        throughput(&sizes, scale, runs)
    };
    print_targets(&latencies, &rows);
    report::print_finish(started);
}

// ---- contestants ---------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Lib {
    WsTokio,
    Tung,
    Fws,
}

impl Lib {
    fn name(self) -> &'static str {
        match self {
            Self::WsTokio => "ws-tokio",
            Self::Tung => "tokio-tungstenite",
            Self::Fws => "fastwebsockets",
        }
    }
}

/// The throughput contestants, in the order of the table: the library and
/// whether its reader and writer share one task.
const CONTESTANTS: [(&str, Lib, bool); 4] = [
    ("ws-tokio", Lib::WsTokio, false),
    ("ws-tokio, one task", Lib::WsTokio, true),
    ("tokio-tungstenite", Lib::Tung, false),
    ("fastwebsockets", Lib::Fws, true),
];

/// Indices of the rows the ratios and targets name.
const WS_TOKIO: usize = 0;
const TUNG: usize = 2;
const FWS: usize = 3;

// ---- servers -------------------------------------------------------------------

/// An echo server for one connection, on a thread (and a current-thread
/// runtime) of its own.
struct Server {
    addr: SocketAddr,
    thread: JoinHandle<()>,
}

impl Server {
    fn start(lib: Lib) -> Self {
        let serve: fn(std::net::TcpStream) = match lib {
            Lib::WsTokio => ws_tokio_echo,
            Lib::Tung => tung_echo,
            Lib::Fws => fws::echo,
        };
        let (addr, thread) = serve_one(serve);
        Self { addr, thread }
    }

    /// Waits for the server to end with its connection.
    fn finish(self) {
        self.thread.join().expect("server thread");
    }
}

/// A tokio stream over an accepted std one.
fn tokio_stream(stream: std::net::TcpStream) -> TcpStream {
    stream.set_nonblocking(true).unwrap();
    TcpStream::from_std(stream).expect("tokio stream")
}

fn ws_tokio_echo(stream: std::net::TcpStream) {
    fws::block_on(async move {
        let Ok(mut ws) = ws_tokio::accept(tokio_stream(stream)).await else {
            return;
        };
        // `None` after the closing handshake (answered inside `recv`), an
        // error if the client went away: either way this connection is over.
        while let Some(Ok(message)) = ws.recv().await {
            if ws.send(message).await.is_err() {
                return;
            }
        }
    });
}

fn tung_echo(stream: std::net::TcpStream) {
    fws::block_on(async move {
        let Ok(mut ws) = tokio_tungstenite::accept_async(tokio_stream(stream)).await else {
            return;
        };
        // The close frame is answered inside `next`; the stream then ends.
        while let Some(Ok(message)) = ws.next().await {
            if (message.is_binary() || message.is_text()) && ws.send(message).await.is_err() {
                return;
            }
        }
    });
}

// ---- clients -------------------------------------------------------------------

async fn ws_tokio_connect(addr: SocketAddr) -> ws_tokio::WebSocketStream<ws_tokio::MaybeTlsStream> {
    ws_tokio::connect(format!("ws://{addr}/"))
        .await
        .expect("ws-tokio connect")
}

async fn tung_connect(addr: SocketAddr) -> tokio_tungstenite::WebSocketStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.set_nodelay(true).unwrap();
    let (ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/"), tcp)
        .await
        .expect("tokio-tungstenite handshake");
    ws
}

fn latency_of(lib: Lib, addr: SocketAddr, warm: usize, n: usize) -> Vec<Duration> {
    match lib {
        Lib::WsTokio => ws_tokio_latency(addr, warm, n),
        Lib::Tung => tung_latency(addr, warm, n),
        Lib::Fws => fws::latency(addr, warm, n),
    }
}

fn ws_tokio_latency(addr: SocketAddr, warm: usize, n: usize) -> Vec<Duration> {
    fws::block_on(async move {
        let mut ws = ws_tokio_connect(addr).await;
        let message = [0xA5u8; LATENCY_PAYLOAD];
        let mut samples = Vec::with_capacity(n);
        for i in 0..warm + n {
            let t0 = Instant::now();
            ws.send_binary(&message).await.expect("ws-tokio send");
            loop {
                match ws.recv().await {
                    Some(Ok(Message::Binary(echo))) => {
                        assert_eq!(echo.len(), LATENCY_PAYLOAD);
                        break;
                    }
                    Some(Ok(_)) => {}
                    other => panic!("ws-tokio recv: {other:?}"),
                }
            }
            let rtt = t0.elapsed();
            if i >= warm {
                samples.push(rtt);
            }
        }
        ws.close(CloseCode::NORMAL, "")
            .await
            .expect("ws-tokio close");
        samples
    })
}

fn tung_latency(addr: SocketAddr, warm: usize, n: usize) -> Vec<Duration> {
    fws::block_on(async move {
        let mut ws = tung_connect(addr).await;
        let message = Bytes::from(vec![0xA5u8; LATENCY_PAYLOAD]);
        let mut samples = Vec::with_capacity(n);
        for i in 0..warm + n {
            let t0 = Instant::now();
            ws.send(TMessage::Binary(message.clone()))
                .await
                .expect("tokio-tungstenite send");
            loop {
                match ws.next().await {
                    Some(Ok(TMessage::Binary(echo))) => {
                        assert_eq!(echo.len(), LATENCY_PAYLOAD);
                        break;
                    }
                    Some(Ok(_)) => {}
                    other => panic!("tokio-tungstenite next: {other:?}"),
                }
            }
            let rtt = t0.elapsed();
            if i >= warm {
                samples.push(rtt);
            }
        }
        tung_close(ws).await;
        samples
    })
}

/// The closing handshake: `close`, then the stream until its end (the
/// server's close frame; bounded by the caller's deadline).
async fn tung_close(mut ws: tokio_tungstenite::WebSocketStream<TcpStream>) {
    if ws.close(None).await.is_ok() {
        while let Some(Ok(_)) = ws.next().await {}
    }
}

/// The windowed echo: `messages` measured after `warm`, `window` in flight.
#[derive(Clone, Copy)]
struct Run {
    size: usize,
    window: u64,
    warm: u64,
    messages: u64,
}

impl Run {
    /// The reader's side: counts echoes of `size` bytes, tells the window,
    /// and returns the measured time once all have come.
    fn count(
        &self,
        window: &Window,
        received: &mut u64,
        clock: &mut Clock,
        len: usize,
    ) -> Option<Duration> {
        assert_eq!(len, self.size);
        *received += 1;
        window.received(*received);
        clock.at(*received)
    }
}

fn throughput_of(lib: Lib, one_task: bool, addr: SocketAddr, run: &Run) -> Duration {
    match lib {
        Lib::WsTokio => ws_tokio_throughput(addr, run, one_task),
        Lib::Tung => tung_throughput(addr, run),
        Lib::Fws => fws::throughput(addr, run.size, run.window, run.warm, run.messages),
    }
}

/// ws-tokio: `split()`, the reader in a spawned task (or, `one_task`, both
/// halves polled on one task), `send_binary` per message.
fn ws_tokio_throughput(addr: SocketAddr, run: &Run, one_task: bool) -> Duration {
    let run = *run;
    fws::block_on(async move {
        let ws = ws_tokio_connect(addr).await;
        let (mut reader, mut writer) = ws.split();
        let window = Arc::new(Window::new(run.window));
        let total = run.warm + run.messages;
        let counter = window.clone();
        let reading = async move {
            let mut clock = Clock::new(run.warm, run.messages);
            let mut received = 0;
            loop {
                match reader.recv().await {
                    Some(Ok(Message::Binary(echo))) => {
                        if let Some(elapsed) =
                            run.count(&counter, &mut received, &mut clock, echo.len())
                        {
                            // The half goes back: the writer closes below.
                            return (elapsed, reader);
                        }
                    }
                    Some(Ok(_)) => {}
                    other => panic!("ws-tokio recv: {other:?}"),
                }
            }
        };
        let writing = async {
            let message = vec![0xA5u8; run.size];
            for sent in 0..total {
                window.wait_for_room().await;
                writer.send_binary(&message).await.expect("ws-tokio send");
                window.sent(sent + 1);
            }
        };
        let (elapsed, reader) = if one_task {
            join2(writing, reading).await.1
        } else {
            let reading = tokio::spawn(reading);
            writing.await;
            reading.await.expect("ws-tokio reader task")
        };
        writer
            .close(CloseCode::NORMAL, "")
            .await
            .expect("ws-tokio close");
        drop(reader);
        elapsed
    })
}

/// tokio-tungstenite: `StreamExt::split`, the `SplitStream` in a spawned
/// task, `SinkExt::send` per message on the `SplitSink`.
fn tung_throughput(addr: SocketAddr, run: &Run) -> Duration {
    let run = *run;
    fws::block_on(async move {
        let ws = tung_connect(addr).await;
        let (mut writer, mut reader) = ws.split();
        let window = Arc::new(Window::new(run.window));
        let total = run.warm + run.messages;
        let counter = window.clone();
        let reading = tokio::spawn(async move {
            let mut clock = Clock::new(run.warm, run.messages);
            let mut received = 0;
            loop {
                match reader.next().await {
                    Some(Ok(TMessage::Binary(echo))) => {
                        if let Some(elapsed) =
                            run.count(&counter, &mut received, &mut clock, echo.len())
                        {
                            return (elapsed, reader);
                        }
                    }
                    Some(Ok(_)) => {}
                    other => panic!("tokio-tungstenite next: {other:?}"),
                }
            }
        });
        let message = Bytes::from(vec![0xA5u8; run.size]);
        for sent in 0..total {
            window.wait_for_room().await;
            writer
                .send(TMessage::Binary(message.clone()))
                .await
                .expect("tokio-tungstenite send");
            window.sent(sent + 1);
        }
        let (elapsed, reader) = reading.await.expect("tokio-tungstenite reader task");
        let ws = reader.reunite(writer).expect("halves of one stream");
        tung_close(ws).await;
        elapsed
    })
}

// ---- the parts -----------------------------------------------------------------

const LATENCY_LIBS: [Lib; 3] = [Lib::WsTokio, Lib::Tung, Lib::Fws];

fn latency(scale: usize, only_lib: Option<&str>) -> Vec<LatencyRow> {
    let n = LATENCY_ROUND_TRIPS / scale / LATENCY_ROUNDS;
    let warm = LATENCY_WARM_UP / scale / LATENCY_ROUNDS;
    println!();
    println!(
        "Latency: {LATENCY_PAYLOAD}-byte binary echo, one in flight; {} round trips after {} warm-up, \
         in {LATENCY_ROUNDS} interleaved rounds (µs)",
        n * LATENCY_ROUNDS,
        warm * LATENCY_ROUNDS
    );
    if let Some(only) = only_lib {
        // One contestant alone, for a profiler: no anchors, no ratios.
        let lib = *LATENCY_LIBS
            .iter()
            .find(|lib| lib.name() == only)
            .unwrap_or_else(|| panic!("--lib {only}: no contestant of that name"));
        let mut samples = Vec::new();
        for _ in 0..LATENCY_ROUNDS {
            let server = Server::start(lib);
            samples.extend(latency_of(lib, server.addr, warm, n));
            server.finish();
        }
        let p = Percentiles::of(samples);
        println!(
            "{}: p50 {:.1}  p99 {:.1}  p99.9 {:.1}",
            lib.name(),
            p.p50,
            p.p99,
            p.p999
        );
        return Vec::new();
    }
    // Per contestant, the samples of each round.
    let mut rounds: Vec<Vec<Vec<Duration>>> = LATENCY_LIBS.iter().map(|_| Vec::new()).collect();
    for _ in 0..LATENCY_ROUNDS {
        for (&lib, rounds) in LATENCY_LIBS.iter().zip(&mut rounds) {
            let server = Server::start(lib);
            rounds.push(latency_of(lib, server.addr, warm, n));
            server.finish();
        }
    }
    let rows: Vec<LatencyRow> = LATENCY_LIBS
        .iter()
        .zip(rounds)
        .map(|(lib, rounds)| {
            let per_round: Vec<Percentiles> =
                rounds.iter().map(|r| Percentiles::of(r.clone())).collect();
            let span = |f: fn(&Percentiles) -> f64| Span::of(per_round.iter().map(f));
            LatencyRow {
                name: lib.name(),
                p50_rounds: span(|p| p.p50),
                p99_rounds: span(|p| p.p99),
                all: Percentiles::of(rounds.concat()),
            }
        })
        .collect();
    let (tung, fws) = (&rows[1].all, &rows[2].all);
    println!(
        "{:<20} {:>7} {:>7} {:>7} {:>7} {:>8} {:>7} {:>8} {:>8} {:>9} {:>9}",
        "client -> server",
        "p50",
        "p90",
        "p99",
        "p99.9",
        "max",
        "mean",
        "p50/fws",
        "p99/fws",
        "p50/tung",
        "p99/tung"
    );
    for LatencyRow { name, all: p, .. } in &rows {
        println!(
            "{:<20} {:>7.1} {:>7.1} {:>7.1} {:>7.1} {:>8.1} {:>7.1} {:>7.2}x {:>7.2}x {:>8.2}x {:>8.2}x",
            name,
            p.p50,
            p.p90,
            p.p99,
            p.p999,
            p.max,
            p.mean,
            p.p50 / fws.p50,
            p.p99 / fws.p99,
            p.p50 / tung.p50,
            p.p99 / tung.p99,
        );
    }
    println!("per-round p50 and p99 (lowest..highest of the {LATENCY_ROUNDS} rounds):");
    for row in &rows {
        println!(
            "  {:<18} p50 [{:.1}..{:.1}]  p99 [{:.1}..{:.1}]",
            row.name, row.p50_rounds.lo, row.p50_rounds.hi, row.p99_rounds.lo, row.p99_rounds.hi
        );
    }
    rows
}

struct LatencyRow {
    name: &'static str,
    /// Every round's samples together.
    all: Percentiles,
    /// The spread of the rounds' own p50 and p99.
    p50_rounds: Span,
    p99_rounds: Span,
}

/// The lowest and highest of a few measurements of one figure.
#[derive(Clone, Copy)]
struct Span {
    lo: f64,
    hi: f64,
}

impl Span {
    fn of(values: impl Iterator<Item = f64>) -> Self {
        values.fold(
            Self {
                lo: f64::INFINITY,
                hi: f64::NEG_INFINITY,
            },
            |s, v| Self {
                lo: s.lo.min(v),
                hi: s.hi.max(v),
            },
        )
    }

    /// How `self` compares with `other` when more is better: ahead or
    /// behind only when the spreads do not overlap.
    fn versus(self, other: Self) -> &'static str {
        if self.lo > other.hi {
            "ahead"
        } else if self.hi < other.lo {
            "BEHIND"
        } else if self.hi >= other.hi {
            "spreads overlap, best ahead"
        } else {
            "spreads overlap, best BEHIND"
        }
    }

    /// The same for times, where less is better.
    fn negated(self) -> Self {
        Self {
            lo: -self.hi,
            hi: -self.lo,
        }
    }
}

struct Rate {
    /// Messages per second, best and worst run.
    best: f64,
    worst: f64,
}

type ThroughputRow = (&'static str, usize, u64, u64, Vec<Rate>);

fn throughput(
    sizes: &[(&'static str, usize, u64, u64)],
    scale: usize,
    runs: usize,
) -> Vec<ThroughputRow> {
    println!();
    println!(
        "Throughput: echo with a window of messages in flight; best of {runs} interleaved run(s), \
         range in brackets"
    );
    println!(
        "{:<7} {:<19} {:>10} {:>21} {:>9} {:>8} {:>8}",
        "size", "contestant", "msg/s", "(range of runs)", "MB/s", "vs tung", "vs fws"
    );
    let mut rows = Vec::new();
    for &(label, size, window, messages) in sizes {
        let messages = (messages / scale as u64).max(10);
        let run = Run {
            size,
            window,
            warm: (messages / 10).max(window),
            messages,
        };
        let mut rates: Vec<Vec<f64>> = CONTESTANTS.iter().map(|_| Vec::new()).collect();
        for _ in 0..runs {
            for (&(_, lib, one_task), rates) in CONTESTANTS.iter().zip(&mut rates) {
                let server = Server::start(lib);
                let elapsed = throughput_of(lib, one_task, server.addr, &run);
                server.finish();
                rates.push(messages as f64 / elapsed.as_secs_f64());
            }
        }
        let rates: Vec<Rate> = rates
            .into_iter()
            .map(|mut rates| {
                rates.sort_by(f64::total_cmp);
                Rate {
                    best: rates[rates.len() - 1],
                    worst: rates[0],
                }
            })
            .collect();
        let (tung, fws) = (rates[TUNG].best, rates[FWS].best);
        for ((name, ..), rate) in CONTESTANTS.iter().zip(&rates) {
            println!(
                "{:<7} {:<19} {:>10.0} {:>21} {:>9.1} {:>7.2}x {:>7.2}x",
                label,
                name,
                rate.best,
                format!("[{:.0}..{:.0}]", rate.worst, rate.best),
                rate.best * size as f64 / 1e6,
                rate.best / tung,
                rate.best / fws
            );
        }
        println!("        (window {window}, {messages} messages measured per run)");
        rows.push((label, size, window, messages, rates));
    }
    rows
}

/// Issue 16's target: ws-tokio ahead of both anchors at every row. A
/// verdict says "ahead" or "BEHIND" only when the spreads (latency: the
/// rounds' p50 or p99; throughput: the runs) do not overlap.
fn print_targets(latencies: &[LatencyRow], rows: &[ThroughputRow]) {
    let pct = |ours: f64, other: f64| (ours / other - 1.0) * 100.0;
    println!();
    println!(
        "Target (issue 16): ws-tokio ahead of tokio-tungstenite and fastwebsockets at every row"
    );
    if let [ours, tung, fws] = latencies {
        type Pick = fn(&LatencyRow) -> (f64, Span);
        let figures: [(&str, Pick); 2] = [
            ("p50", |r| (r.all.p50, r.p50_rounds)),
            ("p99", |r| (r.all.p99, r.p99_rounds)),
        ];
        for (what, pick) in figures {
            let ((o, os), (t, ts), (f, fs)) = (pick(ours), pick(tung), pick(fws));
            println!(
                "  latency {what}: ws-tokio {o:.1} µs; fastwebsockets {f:.1} ({:+.1}%, {}); \
                 tokio-tungstenite {t:.1} ({:+.1}%, {})",
                pct(o, f),
                os.negated().versus(fs.negated()),
                pct(o, t),
                os.negated().versus(ts.negated()),
            );
        }
    }
    for (label, _, _, _, rates) in rows {
        let span = |r: &Rate| Span {
            lo: r.worst,
            hi: r.best,
        };
        let (ours, tung, fws) = (&rates[WS_TOKIO], &rates[TUNG], &rates[FWS]);
        println!(
            "  throughput {label}: ws-tokio {:.0} msg/s; fastwebsockets {:.0} ({:+.1}%, {}); \
             tokio-tungstenite {:.0} ({:+.1}%, {})",
            ours.best,
            fws.best,
            pct(ours.best, fws.best),
            span(ours).versus(span(fws)),
            tung.best,
            pct(ours.best, tung.best),
            span(ours).versus(span(tung)),
        );
    }
}
