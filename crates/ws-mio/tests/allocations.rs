//! No allocation per message in steady state: a client's loop runs on the
//! test's thread, whose heap allocations are counted (ws-test-support's
//! counting allocator), while its handler plays request and answer with
//! an echo server on another loop thread (not counted): each echo is
//! answered with the next message, so the connection's socket drains
//! between messages, as in request-response traffic.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use common::{DEADLINE, echo_server};
use ws_mio::{ClientOptions, Conn, Event, EventLoop, ServerOptions};
use ws_proto::{ClientRequest, Message};
use ws_test_support::counting_alloc::{CountingAlloc, measure};

#[global_allocator]
static ALLOCATOR: CountingAlloc = CountingAlloc;

/// Turns `event_loop` until `echoes` reaches `n` (bounded by [`DEADLINE`]).
fn turn_until(event_loop: &mut EventLoop, echoes: &AtomicUsize, n: usize) {
    let started = Instant::now();
    while echoes.load(Ordering::Relaxed) < n {
        assert!(started.elapsed() < DEADLINE, "stuck at {echoes:?} echoes");
        event_loop.turn(Some(DEADLINE)).expect("turn");
    }
}

#[test]
fn request_and_answer_allocate_nothing_per_message_in_steady_state() {
    let (addr, _server, _) = echo_server(ServerOptions::default(), false);
    let mut event_loop = EventLoop::new().expect("event loop");
    let echoes = Arc::new(AtomicUsize::new(0));
    let seen = echoes.clone();
    let request = ClientRequest::new("127.0.0.1", addr.port(), "/");
    let payload = [7u8; 300];
    let send = move |conn: &Conn, i: usize| {
        // Text and binary in turn, small and a little larger.
        let _ = if i % 2 == 0 {
            conn.send_text("a short text message, as most are")
        } else {
            conn.send_binary(&payload)
        };
    };
    let _conn = event_loop
        .handle()
        .connect(
            &request,
            ClientOptions::default(),
            move |conn: &Conn, event: Event| match event {
                Event::Open(_) => send(conn, 0),
                Event::Message(message) => {
                    let i = seen.fetch_add(1, Ordering::Relaxed);
                    assert!(matches!(
                        (i % 2, &message),
                        (0, Message::Text(_)) | (1, Message::Binary(_))
                    ));
                    send(conn, i + 1);
                }
                _ => {}
            },
        )
        .expect("connect");

    const WARM_UP: usize = 200;
    const N: usize = 2_000;
    turn_until(&mut event_loop, &echoes, WARM_UP);
    let ((), counted) = measure(|| turn_until(&mut event_loop, &echoes, WARM_UP + N));
    let count = counted.total();
    println!("{count} allocations over {N} round trips (the client's loop)");
    assert!(count < N / 20, "{count} allocations over {N} round trips");
}
