//! The `stream` part: the market-data direction. One fixed server for
//! every client ([`wire::stream_source`]: pre-encoded unmasked binary
//! frames in 256 KiB writes, as fast as the socket takes them), and the
//! client counts messages where its user would see them. ws-mio has two
//! rows: a handler that takes each message owned (`Event::Message`) and
//! one that takes it lent (`Handler::lends_messages`, `on_message_ref`),
//! the way for a handler that keeps nothing of a message.

use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Duration;

use tungstenite::Message as TMessage;
use ws_mio::rustls::ClientConfig;
use ws_mio::{ClientOptions, Conn, Event, EventLoop, Handler, TlsOptions};
use ws_proto::{ClientRequest, CloseCode, Message, MessageRef};

use crate::wire::{self, Source};
use crate::{Clock, DEADLINE, KIB, connect, fws, mio_client_with};

/// Label, payload and messages measured at full size.
const SIZES: [(&str, usize, u64); 3] = [
    ("16 B", 16, 4_000_000),
    ("1 KiB", KIB, 1_000_000),
    ("64 KiB", 64 * KIB, 40_000),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Reader {
    /// The same bytes read with no WebSocket (over TLS: the plaintext).
    Raw,
    Mio,
    /// ws-mio with a handler that takes messages lent (`on_message_ref`).
    MioLent,
    Tung,
    Fws,
}

const READERS: [Reader; 5] = [
    Reader::Raw,
    Reader::Mio,
    Reader::MioLent,
    Reader::Tung,
    Reader::Fws,
];

impl Reader {
    fn name(self, tls: bool) -> &'static str {
        match (self, tls) {
            (Self::Raw, false) => "raw TCP (bytes)",
            (Self::Raw, true) => "raw TLS (bytes)",
            (Self::Mio, _) => "ws-mio",
            (Self::MioLent, _) => "ws-mio lent",
            (Self::Tung, _) => "tungstenite",
            (Self::Fws, _) => "fastwebsockets",
        }
    }
}

/// Runs the part over `ws` and over `wss`; best of `runs` interleaved runs.
pub(crate) fn stream(scale: u64, runs: usize) {
    let client_tls = wire::client_tls();
    for tls in [false, true] {
        println!();
        println!(
            "Stream ({}): one fixed raw server writes pre-encoded binary frames as fast as the socket \
             takes them; the client counts messages in its handler / read loop. Best of {runs} \
             interleaved run(s)",
            if tls {
                "wss, rustls on both ends"
            } else {
                "ws"
            }
        );
        println!(
            "{:<7} {:<17} {:>11} {:>23} {:>9} {:>8} {:>8} {:>8}",
            "size", "client", "M msg/s", "(range of runs)", "MB/s", "vs raw", "vs tung", "vs fws"
        );
        for (label, size, messages) in SIZES {
            let messages = (messages / scale).max(10);
            let warm = messages / 10;
            let mut rates: Vec<Vec<f64>> = READERS.iter().map(|_| Vec::new()).collect();
            for _ in 0..runs {
                for (reader, rates) in READERS.iter().zip(&mut rates) {
                    let source = if *reader == Reader::Raw {
                        Source::Bytes
                    } else {
                        Source::WebSocket
                    };
                    let (addr, server) = wire::stream_source(
                        tls.then(wire::server_tls),
                        source,
                        size,
                        warm + messages,
                    );
                    let elapsed = read(
                        *reader,
                        addr,
                        tls.then_some(&client_tls),
                        size,
                        warm,
                        messages,
                    );
                    server.join().expect("stream source");
                    rates.push(messages as f64 / elapsed.as_secs_f64());
                }
            }
            let best: Vec<(f64, f64)> = rates
                .iter()
                .map(|r| {
                    let max = r.iter().copied().fold(0.0, f64::max);
                    let min = r.iter().copied().fold(f64::INFINITY, f64::min);
                    (max, min)
                })
                .collect();
            let (raw, tung, fws) = (best[0].0, best[3].0, best[4].0);
            for (reader, (rate, worst)) in READERS.iter().zip(best) {
                println!(
                    "{:<7} {:<17} {:>11.4} {:>23} {:>9.1} {:>7.2}x {:>7.2}x {:>7.2}x",
                    label,
                    reader.name(tls),
                    rate / 1e6,
                    format!("[{:.4}..{:.4}]", worst / 1e6, rate / 1e6),
                    rate * size as f64 / 1e6,
                    rate / raw,
                    rate / tung,
                    rate / fws
                );
            }
            println!("        ({messages} messages measured per run, after {warm})");
        }
    }
}

/// One run of one client: the time from message `warm` to the last.
fn read(
    reader: Reader,
    addr: SocketAddr,
    tls: Option<&Arc<ClientConfig>>,
    size: usize,
    warm: u64,
    messages: u64,
) -> Duration {
    match (reader, tls) {
        (Reader::Raw, None) => raw(connect(addr), size, warm, messages),
        (Reader::Raw, Some(config)) => raw(
            wire::tls_client(connect(addr), config),
            size,
            warm,
            messages,
        ),
        (Reader::Tung, None) => {
            let (ws, _) = tungstenite::client(format!("ws://{addr}/"), connect(addr))
                .expect("tungstenite handshake");
            tung(ws, size, warm, messages)
        }
        (Reader::Tung, Some(config)) => {
            let stream = wire::tls_client(connect(addr), config);
            let (ws, _) = tungstenite::client(format!("wss://{addr}/"), stream)
                .expect("tungstenite handshake");
            tung(ws, size, warm, messages)
        }
        (Reader::Fws, None) => fws::block_on(async move {
            let mut ws = fws::connect(addr).await;
            fws_count(&mut ws, size, warm, messages).await
        }),
        (Reader::Fws, Some(config)) => {
            let config = config.clone();
            fws::block_on(async move {
                let mut ws = fws::connect_tls(addr, config).await;
                fws_count(&mut ws, size, warm, messages).await
            })
        }
        (Reader::MioLent, tls) => {
            let request =
                ClientRequest::new(addr.ip().to_string(), addr.port(), "/").secure(tls.is_some());
            let options = ClientOptions::default().tls(TlsOptions::default().config(tls.cloned()));
            mio_lent(&request, options, size, Clock::new(warm, messages))
        }
        (Reader::Mio, tls) => {
            let request =
                ClientRequest::new(addr.ip().to_string(), addr.port(), "/").secure(tls.is_some());
            let options = ClientOptions::default().tls(TlsOptions::default().config(tls.cloned()));
            let mut clock = Clock::new(warm, messages);
            let mut received = 0;
            mio_client_with(&request, options, move |_, event| match event {
                Event::Message(Message::Binary(data)) => {
                    if data.len() != size {
                        return Some(Err(format!("message of {} bytes", data.len())));
                    }
                    received += 1;
                    clock.at(received).map(Ok)
                }
                _ => None,
            })
        }
    }
}

/// A ws-mio handler that takes messages lent and counts them; reports the
/// time (or what went wrong) once, then closes.
struct LentCounter {
    size: usize,
    clock: Clock,
    received: u64,
    result: Option<mpsc::Sender<Result<Duration, String>>>,
}

impl LentCounter {
    fn report(&mut self, conn: &Conn, result: Result<Duration, String>) {
        if let Some(tx) = self.result.take() {
            let _ = tx.send(result);
            let _ = conn.close(CloseCode::NORMAL, "");
        }
    }
}

impl Handler for LentCounter {
    fn on_event(&mut self, conn: &Conn, event: Event) {
        match event {
            Event::Error(e) => self.report(conn, Err(format!("connection error: {e}"))),
            Event::Closed(c) => self.report(conn, Err(format!("closed early: {c:?}"))),
            _ => {}
        }
    }

    fn lends_messages(&self) -> bool {
        true
    }

    fn on_message_ref(&mut self, conn: &Conn, message: MessageRef<'_>) {
        if let MessageRef::Binary(data) = message {
            if data.len() != self.size {
                let wrong = format!("message of {} bytes", data.len());
                return self.report(conn, Err(wrong));
            }
            self.received += 1;
            if let Some(elapsed) = self.clock.at(self.received) {
                self.report(conn, Ok(elapsed));
            }
        }
    }
}

/// ws-mio with a [`LentCounter`] on a loop thread of its own.
fn mio_lent(
    request: &ClientRequest,
    options: ClientOptions,
    size: usize,
    clock: Clock,
) -> Duration {
    let mut event_loop = EventLoop::new().expect("event loop");
    let handle = event_loop.handle();
    let (tx, rx) = mpsc::channel();
    let counter = LentCounter {
        size,
        clock,
        received: 0,
        result: Some(tx),
    };
    handle.connect(request, options, counter).expect("connect");
    let thread = thread::spawn(move || event_loop.run().expect("client loop"));
    let result = rx.recv_timeout(DEADLINE).expect("ws-mio lent result");
    handle.stop();
    thread.join().expect("client loop thread");
    result.unwrap_or_else(|e| panic!("ws-mio lent: {e}"))
}

/// Reads the frames' bytes and counts whole frames.
fn raw(mut stream: impl Read, size: usize, warm: u64, messages: u64) -> Duration {
    let frame = wire::frame_len(size, false) as u64;
    let mut clock = Clock::new(warm, messages);
    let mut buf = vec![0u8; 256 * KIB];
    let mut bytes = 0u64;
    loop {
        let n = stream.read(&mut buf).expect("raw read");
        assert!(n > 0, "the stream source ended early");
        bytes += n as u64;
        if let Some(elapsed) = clock.at(bytes / frame) {
            return elapsed;
        }
    }
}

fn tung<S: std::io::Read + std::io::Write>(
    mut ws: tungstenite::WebSocket<S>,
    size: usize,
    warm: u64,
    messages: u64,
) -> Duration {
    let mut clock = Clock::new(warm, messages);
    let mut received = 0;
    loop {
        if let TMessage::Binary(data) = ws.read().expect("tungstenite read") {
            assert_eq!(data.len(), size);
            received += 1;
            if let Some(elapsed) = clock.at(received) {
                return elapsed;
            }
        }
    }
}

async fn fws_count<S>(
    ws: &mut fastwebsockets::WebSocket<S>,
    size: usize,
    warm: u64,
    messages: u64,
) -> Duration
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut clock = Clock::new(warm, messages);
    let mut received = 0;
    loop {
        let frame = ws.read_frame().await.expect("fastwebsockets read");
        if frame.opcode == fastwebsockets::OpCode::Binary {
            assert_eq!(frame.payload.len(), size);
            received += 1;
            if let Some(elapsed) = clock.at(received) {
                return elapsed;
            }
        }
    }
}
