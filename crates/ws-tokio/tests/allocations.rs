//! No allocation per message in steady state: heap allocations counted on
//! the test's thread (a current-thread runtime, so both ends and the
//! in-memory pipe run there) over 2,000 round trips of an echo, after a
//! warm-up.

mod common;

use common::bounded;
use ws_test_support::counting_alloc::{CountingAlloc, Measurement};
use ws_tokio::{Builder, Message};

#[global_allocator]
static ALLOCATOR: CountingAlloc = CountingAlloc;

async fn round_trips(ws: &mut ws_tokio::WebSocketStream<tokio::io::DuplexStream>, n: usize) {
    let payload = [7u8; 300];
    for i in 0..n {
        if i % 2 == 0 {
            ws.send_text("a short text message, as most are")
                .await
                .unwrap();
        } else {
            ws.send_binary(&payload).await.unwrap();
        }
        let message = ws.recv().await.unwrap().unwrap();
        assert!(matches!(
            (i % 2, &message),
            (0, Message::Text(_)) | (1, Message::Binary(_))
        ));
    }
}

#[tokio::test(flavor = "current_thread")]
async fn no_allocation_per_message_in_steady_state() {
    let (a, b) = tokio::io::duplex(64 << 10);
    tokio::spawn(common::echo(b));
    let mut ws = bounded(Builder::new("ws://in-memory/").connect_on(a))
        .await
        .unwrap();
    bounded(round_trips(&mut ws, 200)).await;
    const N: usize = 2_000;
    let measurement = Measurement::start();
    bounded(round_trips(&mut ws, N)).await;
    let count = measurement.finish().total() as u64;
    println!("{count} allocations over {N} round trips (both ends)");
    assert!(
        count < (N / 20) as u64,
        "{count} allocations over {N} round trips"
    );
}
