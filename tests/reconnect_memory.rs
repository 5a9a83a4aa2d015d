//! What a reconnecting ws-client connection holds on the heap: a server
//! that accepts and drops every connection makes the client reconnect
//! again and again; the heap held at the 40th end must be what it was at
//! the 10th (each attempt's connection, loop entry and dispatcher freed
//! once the next one runs). Counted by a global allocator on the worker's
//! thread, which runs the whole client side; the server's thread is not
//! counted.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use ws_client::{Handler, ReconnectPolicy, TerminateEvent, WebSocket, Worker};
use ws_test_support::counting_alloc::{self, Scope, live_bytes, track_current_thread};
use ws_test_support::{handshake, raw_server};

// Counts what the library allocates (ws-test-support's counter).
#[global_allocator]
static GLOBAL: counting_alloc::CountingAlloc = counting_alloc::CountingAlloc;

const ATTEMPTS: usize = 40;
/// The most the held heap may grow between the 10th and the last end.
const GROWTH_LIMIT: isize = 1 << 10;

/// Records the live heap at each `on_terminate` (into room reserved
/// before counting began, so recording allocates nothing).
struct Sampler {
    samples: Vec<isize>,
}

impl Handler for Sampler {
    fn on_terminate(&mut self, _ws: &WebSocket<Self>, _event: &TerminateEvent) {
        if self.samples.len() < self.samples.capacity() {
            self.samples.push(live_bytes());
        }
    }
}

/// Accepts, answers the handshake, drops: up to `max` times.
fn dropping_server(max: usize) -> String {
    let addr = raw_server::serve_in_turn(max, Duration::from_secs(10), |_, mut stream| {
        let head = handshake::read_head(&mut stream).unwrap_or_default();
        let _ = handshake::answer(&mut stream, &head, "");
    });
    raw_server::ws_url(addr, "/")
}

#[test]
fn reconnecting_holds_no_more_after_forty_attempts_than_after_ten() {
    let url = dropping_server(ATTEMPTS + 1);
    let scope = Scope::open();
    let (tx, rx) = mpsc::channel();
    let client = thread::spawn(move || {
        track_current_thread();
        let mut worker = Worker::new().expect("worker");
        let policy = ReconnectPolicy::default()
            .initial_delay(Duration::from_millis(1))
            .max_delay(Duration::from_millis(2))
            .max_attempts(Some(u32::try_from(ATTEMPTS).unwrap()));
        let sampler = Sampler {
            samples: Vec::with_capacity(ATTEMPTS + 1),
        };
        let ws = WebSocket::builder(&url)
            .worker(&worker)
            .reconnect(policy)
            .connect(sampler)
            .expect("connect");
        worker.run_until_idle().expect("worker");
        let sampler = ws.into_handler().expect("over: the handler comes back");
        tx.send(sampler.samples).unwrap();
    });
    let samples = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the attempts end in time");
    client.join().unwrap();
    drop(scope);
    assert_eq!(
        samples.len(),
        ATTEMPTS + 1,
        "the first connect and every reconnect"
    );
    let (tenth, last) = (samples[9], samples[ATTEMPTS]);
    println!(
        "heap held at the end of attempt 1: {} B, 10: {tenth} B, {}: {last} B",
        samples[0],
        ATTEMPTS + 1
    );
    assert!(
        last - tenth <= GROWTH_LIMIT,
        "the heap held grew by {} B over {} reconnects: {samples:?}",
        last - tenth,
        ATTEMPTS - 9
    );
}
