//! `wsc bench [URL]`: round-trip latency of one message at a time.

use std::io::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use ws_client::{
    DataType, ErrorEvent, Handler, MessageEvent, OpenEvent, TerminateEvent, WebSocket,
};

use crate::args::Bench;
use crate::connect::{builder, target};
use crate::{Exit, fail};

/// Sends the next message from `on_message`, timing each round trip.
struct Pinger {
    message: Vec<u8>,
    warmup: usize,
    count: usize,
    done: Arc<AtomicUsize>,
    samples: Vec<Duration>,
    sent_at: Instant,
    started: Option<Instant>,
    result: mpsc::Sender<Result<(Vec<Duration>, Duration), String>>,
}

impl Pinger {
    fn send(&mut self, ws: &WebSocket<Self>) {
        self.sent_at = Instant::now();
        if let Err(e) = ws.send(&self.message[..]) {
            let _ = self.result.send(Err(format!("send: {e}")));
        }
    }
}

impl Handler for Pinger {
    fn on_open(&mut self, ws: &WebSocket<Self>, _: &OpenEvent) {
        self.send(ws);
    }

    fn on_message(&mut self, ws: &WebSocket<Self>, event: MessageEvent) {
        let now = Instant::now();
        let len = event.data.as_blob().map_or(0, <[u8]>::len);
        if len != self.message.len() {
            let _ = self.result.send(Err(format!(
                "the server answered {len} bytes to {}: not an echo server?",
                self.message.len()
            )));
            let _ = ws.terminate(None, None);
            return;
        }
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if done > self.warmup {
            self.samples.push(now - self.sent_at);
        } else if done == self.warmup {
            self.started = Some(now);
        }
        if done == self.warmup + self.count {
            let elapsed = self.started.map_or(Duration::ZERO, |s| now - s);
            let _ = self
                .result
                .send(Ok((std::mem::take(&mut self.samples), elapsed)));
            let _ = ws.terminate(None, None);
            return;
        }
        self.send(ws);
    }

    fn on_error(&mut self, _: &WebSocket<Self>, event: &ErrorEvent) {
        let _ = self.result.send(Err(event.error.to_string()));
    }

    fn on_terminate(&mut self, _: &WebSocket<Self>, event: &TerminateEvent) {
        let _ = self.result.send(Err(format!(
            "the connection closed during the bench (code {})",
            event.code
        )));
    }
}

pub(crate) fn run(bench: Bench) -> Exit {
    let (url, _server) = match target(&bench.connect) {
        Ok(target) => target,
        Err(e) => return fail(Exit::Failed, e),
    };
    let (result, results) = mpsc::channel();
    let done = Arc::new(AtomicUsize::new(0));
    let pinger = Pinger {
        message: vec![0x5A; bench.size],
        warmup: bench.warmup,
        count: bench.count,
        done: done.clone(),
        samples: Vec::with_capacity(bench.count),
        sent_at: Instant::now(),
        // With no warm-up, the clock starts at the first send.
        started: (bench.warmup == 0).then(Instant::now),
        result,
    };
    let max = bench.size.max(1 << 20);
    let connected = builder(&bench.connect, &url)
        .data_type(DataType::Blob)
        .max_message_size(max)
        .max_frame_size(max)
        .connect(pinger);
    if let Err(e) = connected {
        return fail(Exit::Failed, e.to_string());
    }
    let total = bench.warmup + bench.count;
    let started = Instant::now();
    let mut progress_shown = false;
    let outcome = loop {
        match results.recv_timeout(Duration::from_millis(500)) {
            Ok(outcome) => break outcome,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                // A progress line on stderr once a run takes a while.
                if started.elapsed() >= Duration::from_secs(1) {
                    let n = done.load(Ordering::Relaxed);
                    eprint!("\rwsc bench: {n}/{total} round trips");
                    let _ = std::io::stderr().flush();
                    progress_shown = true;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                break Err("the connection ended without a word".into());
            }
        }
    };
    if progress_shown {
        eprintln!();
    }
    match outcome {
        Ok((samples, elapsed)) => {
            report(&url, &bench, samples, elapsed);
            Exit::Clean
        }
        Err(e) => fail(Exit::Failed, e),
    }
}

fn report(url: &str, bench: &Bench, mut samples: Vec<Duration>, elapsed: Duration) {
    samples.sort_unstable();
    let at = |q: f64| {
        let i = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[i].as_secs_f64() * 1e6
    };
    println!(
        "{} round trips of {} bytes to {url} (after {} warm-up)",
        samples.len(),
        bench.size,
        bench.warmup
    );
    println!(
        "latency (µs): p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}",
        at(0.50),
        at(0.90),
        at(0.99),
        at(0.999),
        at(1.0)
    );
    let rate = samples.len() as f64 / elapsed.as_secs_f64().max(1e-9);
    println!("messages per second: {rate:.0}");
}
