//! Heap held per connection with permessage-deflate on, measured by the
//! counting allocator of ws-test-support (`cargo test --test
//! deflate_memory -- --nocapture` prints the table): nothing until the
//! first compressed message (the compressor and decompressor are created
//! on first use), the deflate states after it, and nothing again after
//! `release_buffers` without context takeover.

mod common;

use std::time::Instant;

use common::{open_pair, pump};
use ws_test_support::counting_alloc::{self, live_bytes, measure};

use ws_proto::{Connection, DeflateConfig, Event};

// Counts what the library allocates (ws-test-support's counter).
#[global_allocator]
static GLOBAL: counting_alloc::CountingAlloc = counting_alloc::CountingAlloc;

fn drain(conn: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| conn.poll_event()).collect()
}

/// Heap held by a client and a server after `messages` messages each way
/// (and `release_buffers` if asked), each measured as what dropping it
/// frees. The server uses `server_deflate` when given, else `deflate`.
fn held(deflate: Option<DeflateConfig>, messages: usize, release: bool) -> (isize, isize) {
    held_with(deflate.clone(), deflate, messages, release)
}

fn held_with(
    deflate: Option<DeflateConfig>,
    server_deflate: Option<DeflateConfig>,
    messages: usize,
    release: bool,
) -> (isize, isize) {
    let now = Instant::now();
    let message = r#"{"type":"ticker","product_id":"BTC-USD","price":"43125.10","best_bid":"43120.00","best_ask":"43121.50"}"#;
    measure(|| {
        let (mut client, mut server) = open_pair(now, deflate, server_deflate);
        for _ in 0..messages {
            client.send_text(message).unwrap();
            server.send_text(message).unwrap();
            pump(&mut client, &mut server, now);
            pump(&mut server, &mut client, now);
            assert_eq!(drain(&mut server).len(), 1);
            assert_eq!(drain(&mut client).len(), 1);
        }
        if release {
            client.release_buffers();
            server.release_buffers();
        }
        let before = live_bytes();
        drop(client);
        let after_client = live_bytes();
        drop(server);
        let after_server = live_bytes();
        (before - after_client, after_client - after_server)
    })
    .0
}

#[test]
fn heap_per_connection_with_deflate_on() {
    let on = DeflateConfig::default;
    let no_takeover = || {
        DeflateConfig::default()
            .client_no_context_takeover(true)
            .server_no_context_takeover(true)
    };
    let small_windows = || {
        DeflateConfig::default()
            .client_max_window_bits(9)
            .server_max_window_bits(9)
    };
    let never_compresses = || DeflateConfig::default().compression_threshold(usize::MAX);
    let rows = [
        ("deflate off, idle", held(None, 0, true)),
        ("deflate off, after messages", held(None, 3, true)),
        (
            "deflate on, idle (nothing allocated yet)",
            held(Some(on()), 0, true),
        ),
        ("deflate on, after messages", held(Some(on()), 3, true)),
        (
            "deflate on, windows of 9 bits",
            held(Some(small_windows()), 3, true),
        ),
        (
            "only the client compresses: compressor | decompressor",
            held_with(Some(on()), Some(never_compresses()), 3, true),
        ),
        (
            "no context takeover, before release",
            held(Some(no_takeover()), 3, false),
        ),
        (
            "no context takeover, after release",
            held(Some(no_takeover()), 3, true),
        ),
    ];
    println!(
        "{:<55} {:>10} {:>10}",
        "heap per connection (bytes)", "client", "server"
    );
    for (name, (client, server)) in &rows {
        println!("{name:<55} {client:>10} {server:>10}");
    }
    let base = rows[1].1;
    // Lazy: an open connection that compressed nothing holds no deflate state.
    assert_eq!(rows[2].1, rows[0].1);
    // The deflate states are what an active connection adds...
    let (client, server) = rows[3].1;
    assert!(client > base.0 + (32 << 10) && server > base.1 + (32 << 10));
    assert!(client < base.0 + (600 << 10) && server < base.1 + (600 << 10));
    // ...less with small windows...
    assert!(rows[4].1.0 < client && rows[4].1.1 < server);
    // ...and nothing once released without context takeover.
    // The compressor is most of it.
    let (compressor, decompressor) = rows[5].1;
    assert!(compressor > 4 * decompressor, "{compressor} {decompressor}");
    assert_eq!(rows[7].1, base);
}

#[test]
fn compressed_messages_allocate_nothing_in_steady_state() {
    let now = Instant::now();
    let on = Some(DeflateConfig::default());
    let (mut client, mut server) = open_pair(now, on.clone(), on);
    assert!(client.deflate().is_some());
    let messages: Vec<String> = (0..1_016)
        .map(|n| {
            format!(
                r#"{{"type":"ticker","sequence":{n},"product_id":"BTC-USD","price":"{}.10"}}"#,
                43_000 + n % 300
            )
        })
        .collect();
    // One message each way: compress, hand out, inflate, take, drop.
    let mut exchange = |m: &str| {
        client.send_text(m).unwrap();
        server.send_text(m).unwrap();
        pump(&mut client, &mut server, now);
        pump(&mut server, &mut client, now);
        assert!(matches!(server.poll_event(), Some(Event::Message(_))));
        assert!(matches!(client.poll_event(), Some(Event::Message(_))));
    };
    // Warm-up: the deflate states and buffers are created here.
    for m in &messages[..16] {
        exchange(m);
    }
    let ((), counted) = measure(|| {
        for m in &messages[16..] {
            exchange(m);
        }
    });
    println!("compressed, both ways: {counted:?} over 1000 messages");
    assert_eq!(counted.total(), 0, "{counted:?}");
}
