//! The `send` part: one message per send call from an application thread
//! (the main thread, not a handler), against one fixed sink
//! ([`wire::Sink`]) that reads in 1 MiB reads and counts bytes. The rate is
//! the messages measured over the time from the first measured send until
//! the sink has seen their every byte. Beside it: context switches per
//! message (voluntary and not, every thread of the process, the sink's
//! included, from `/proc/self/task/*/status`), and the sink's `read` calls
//! per message. (`/proc/self/io` cannot count syscalls here: sockets are
//! written with `send`, which it does not count; for syscall counts run one
//! sender under `strace -f -c`, as the program's doc comment shows.)

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tungstenite::Message as TMessage;
use ws_mio::{ClientOptions, Conn, Event, EventLoop};
use ws_proto::{ClientRequest, CloseCode, SendError};

use crate::wire::{self, Sink};
use crate::{DEADLINE, KIB, connect, fws};

/// Label, payload and messages measured at full size.
const SIZES: [(&str, usize, u64); 2] = [("16 B", 16, 1_000_000), ("1 KiB", KIB, 300_000)];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sender {
    Raw,
    Mio,
    /// `Conn::send_batch` with [`BATCH`] messages per call: what one
    /// syscall for a burst gives (not one message per call: a reference).
    MioBatch,
    Client,
    Tung,
    Fws,
}

/// Messages per `Conn::send_batch` call in the [`Sender::MioBatch`] row.
const BATCH: u64 = 64;

const SENDERS: [Sender; 6] = [
    Sender::Raw,
    Sender::Mio,
    Sender::MioBatch,
    Sender::Client,
    Sender::Tung,
    Sender::Fws,
];

impl Sender {
    /// The name `--sender` takes.
    fn key(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::Mio => "mio",
            Self::MioBatch => "mio-batch",
            Self::Client => "client",
            Self::Tung => "tung",
            Self::Fws => "fws",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Raw => "raw TCP write_all",
            Self::Mio => "ws-mio Conn::send_binary",
            Self::MioBatch => "ws-mio send_batch, 64/call",
            Self::Client => "ws-client WebSocket::send",
            Self::Tung => "tungstenite send",
            Self::Fws => "fastwebsockets write_frame",
        }
    }
}

/// What one run measured.
#[derive(Clone, Copy, Default)]
struct Run {
    rate: f64,
    /// Context switches per message, all threads.
    switches: f64,
    /// The sink's reads per message.
    sink_reads: f64,
    /// Sends refused with a full write buffer and retried.
    retries: u64,
}

/// Runs the part (only the sender whose key is `only`, if given: for
/// `strace`); best of `runs` interleaved runs.
pub(crate) fn send(scale: u64, runs: usize, only: Option<&str>) {
    let senders: Vec<Sender> = SENDERS
        .into_iter()
        .filter(|s| only.is_none_or(|o| o == s.key()))
        .collect();
    println!();
    println!(
        "Send: one message per call from the main thread, against one fixed sink counting bytes; \
         rate = messages / time until the sink saw every byte. Best of {runs} interleaved run(s); \
         per message: context switches (all threads) and the sink's reads"
    );
    println!(
        "{:<7} {:<27} {:>9} {:>21} {:>7} {:>8} {:>7} {:>8} {:>9} {:>8}",
        "size",
        "sender",
        "k msg/s",
        "(range of runs)",
        "vs raw",
        "vs tung",
        "vs fws",
        "csw/msg",
        "sink rd/m",
        "retries"
    );
    for (label, size, messages) in SIZES {
        let messages = (messages / scale).max(10);
        let warm = messages / 10;
        let mut results: Vec<Vec<Run>> = senders.iter().map(|_| Vec::new()).collect();
        for _ in 0..runs {
            for (sender, results) in senders.iter().zip(&mut results) {
                results.push(run(*sender, size, warm, messages));
            }
        }
        let best: Vec<(Run, f64)> = results
            .iter()
            .map(|r| {
                let best = *r.iter().max_by(|a, b| a.rate.total_cmp(&b.rate)).unwrap();
                let worst = r.iter().map(|r| r.rate).fold(f64::INFINITY, f64::min);
                (best, worst)
            })
            .collect();
        let anchor = |s: Sender| {
            let i = senders.iter().position(|&x| x == s)?;
            Some(best[i].0.rate)
        };
        let (raw, tung, fws) = (
            anchor(Sender::Raw),
            anchor(Sender::Tung),
            anchor(Sender::Fws),
        );
        let ratio = |a: f64, b: Option<f64>| b.map_or("-".into(), |b| format!("{:.2}x", a / b));
        for (sender, (run, worst)) in senders.iter().zip(&best) {
            println!(
                "{:<7} {:<27} {:>9.0} {:>21} {:>7} {:>8} {:>7} {:>8.2} {:>9.3} {:>8}",
                label,
                sender.name(),
                run.rate / 1e3,
                format!("[{:.0}..{:.0}]", worst / 1e3, run.rate / 1e3),
                ratio(run.rate, raw),
                ratio(run.rate, tung),
                ratio(run.rate, fws),
                run.switches,
                run.sink_reads,
                run.retries
            );
        }
        println!("        ({messages} messages measured per run, after {warm})");
    }
}

/// Context switches of every live thread of this process, so far.
fn switches() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("status")).ok())
        .flat_map(|status| {
            status
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split(':').nth(1)?.trim().parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
}

/// Per message: context switches and sink reads since `(switches, reads)`.
fn per_message(sink: &Sink, since: (u64, u64), messages: u64) -> (f64, f64) {
    let per = |n: u64| n as f64 / messages as f64;
    (
        per(switches().saturating_sub(since.0)),
        per(sink.reads.load(Ordering::Acquire) - since.1),
    )
}

/// Sends `warm` messages, waits until the sink has them, then times
/// `messages` more until the sink has seen them all.
fn measure(
    sink: &Sink,
    frame: u64,
    warm: u64,
    messages: u64,
    mut send: impl FnMut(),
) -> (Duration, f64, f64) {
    for _ in 0..warm {
        send();
    }
    sink.wait_for(warm * frame);
    let since = (switches(), sink.reads.load(Ordering::Acquire));
    let t0 = Instant::now();
    for _ in 0..messages {
        send();
    }
    let elapsed = sink.done() - t0;
    let (switches, reads) = per_message(sink, since, messages);
    (elapsed, switches, reads)
}

fn run(sender: Sender, size: usize, warm: u64, messages: u64) -> Run {
    let websocket = sender != Sender::Raw;
    let frame = if websocket {
        wire::frame_len(size, true) as u64
    } else {
        size as u64
    };
    let sink = Sink::start(websocket, (warm + messages) * frame);
    let message = vec![0xA5u8; size];
    let mut retries = 0;
    let (elapsed, switches, sink_reads) = match sender {
        Sender::Raw => {
            use std::io::Write as _;
            let mut stream = connect(sink.addr);
            measure(&sink, frame, warm, messages, || {
                stream.write_all(&message).expect("raw write");
            })
        }
        Sender::Tung => {
            let (mut ws, _) =
                tungstenite::client(format!("ws://{}/", sink.addr), connect(sink.addr))
                    .expect("tungstenite handshake");
            let message = Bytes::from(message);
            measure(&sink, frame, warm, messages, || {
                ws.send(TMessage::Binary(message.clone()))
                    .expect("tungstenite send");
            })
        }
        Sender::Fws => {
            let addr = sink.addr;
            let sink = &sink;
            fws::block_on(async move {
                let mut ws = fws::connect(addr).await;
                let mut scratch = vec![0u8; size];
                for _ in 0..warm {
                    fws::send(&mut ws, &mut scratch, &message).await;
                }
                sink.wait_for(warm * frame);
                let since = (switches(), sink.reads.load(Ordering::Acquire));
                let t0 = Instant::now();
                for _ in 0..messages {
                    fws::send(&mut ws, &mut scratch, &message).await;
                }
                let elapsed = sink.done() - t0;
                let (switches, reads) = per_message(sink, since, messages);
                (elapsed, switches, reads)
            })
        }
        Sender::Mio => {
            let (conn, stop) = mio_open(sink.addr);
            let result = measure(&sink, frame, warm, messages, || {
                loop {
                    match conn.send_binary(&message) {
                        Ok(()) => break,
                        Err(SendError::WriteBufferFull { .. }) => {
                            retries += 1;
                            thread::yield_now();
                        }
                        Err(e) => panic!("ws-mio send: {e}"),
                    }
                }
            });
            let _ = conn.close(CloseCode::NORMAL, "");
            stop();
            result
        }
        Sender::MioBatch => {
            // Whole batches: the counts are rounded down to a multiple of
            // BATCH, and the figures per message scaled back.
            let (conn, stop) = mio_open(sink.addr);
            let send_burst = || {
                let mut left = BATCH;
                while left > 0 {
                    let sent = conn.send_batch(|batch| {
                        let mut sent = 0;
                        while sent < left && batch.send_binary(&message).is_ok() {
                            sent += 1;
                        }
                        sent
                    });
                    if sent < left {
                        retries += 1;
                        thread::yield_now();
                    }
                    left -= sent;
                }
            };
            for _ in 0..warm % BATCH + messages % BATCH {
                conn.send_binary(&message).expect("ws-mio send");
            }
            let (elapsed, switches, reads) = measure(
                &sink,
                frame * BATCH,
                warm / BATCH,
                messages / BATCH,
                send_burst,
            );
            let _ = conn.close(CloseCode::NORMAL, "");
            stop();
            let scale = (messages / BATCH * BATCH) as f64 / messages as f64;
            (
                elapsed.div_f64(scale),
                switches / BATCH as f64,
                reads / BATCH as f64,
            )
        }
        Sender::Client => {
            struct Opened(mpsc::Sender<()>);
            impl ws_client::Handler for Opened {
                fn on_open(&mut self, _: &ws_client::WebSocket<Self>, _: &ws_client::OpenEvent) {
                    let _ = self.0.send(());
                }
            }
            let (tx, rx) = mpsc::channel();
            let ws = ws_client::WebSocket::new(&format!("ws://{}/", sink.addr), Opened(tx))
                .expect("ws-client");
            rx.recv_timeout(DEADLINE).expect("ws-client open");
            let result = measure(&sink, frame, warm, messages, || {
                loop {
                    match ws.send(&message[..]) {
                        Ok(()) => break,
                        Err(ws_client::Error::WriteBufferFull { .. }) => {
                            retries += 1;
                            thread::yield_now();
                        }
                        Err(e) => panic!("ws-client send: {e}"),
                    }
                }
            });
            let _ = ws.terminate(None, None);
            result
        }
    };
    sink.finish();
    Run {
        rate: messages as f64 / elapsed.as_secs_f64(),
        switches,
        sink_reads,
        retries,
    }
}

/// A ws-mio client on a loop thread of its own: its `Conn` once open, and
/// what stops the loop and joins its thread.
pub(crate) fn mio_open(addr: SocketAddr) -> (Conn, impl FnOnce()) {
    mio_open_with(addr, |_| {})
}

/// [`mio_open`] with a handler for the connection's other events.
pub(crate) fn mio_open_with(
    addr: SocketAddr,
    mut on_event: impl FnMut(Event) + Send + 'static,
) -> (Conn, impl FnOnce()) {
    let mut event_loop = EventLoop::new().expect("event loop");
    let handle = event_loop.handle();
    let (tx, rx) = mpsc::channel();
    let request = ClientRequest::new(addr.ip().to_string(), addr.port(), "/");
    handle
        .connect(
            &request,
            ClientOptions::default(),
            move |conn: &Conn, event: Event| match event {
                Event::Open(_) => {
                    let _ = tx.send(conn.clone());
                }
                event => on_event(event),
            },
        )
        .expect("connect");
    let thread = thread::spawn(move || event_loop.run().expect("client loop"));
    let conn = rx.recv_timeout(DEADLINE).expect("ws-mio open");
    let stop = move || {
        handle.stop();
        thread.join().expect("client loop thread");
    };
    (conn, stop)
}
