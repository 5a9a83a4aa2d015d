//! Heap held per connection with permessage-deflate on, measured by a
//! global allocator that tracks live bytes (run with `--nocapture` to see
//! the table): nothing until the first compressed message (the compressor
//! and decompressor are created on first use), the deflate states after it,
//! and nothing again after `release_buffers` without context takeover.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

use rand::SeedableRng;
use ws_proto::{ClientRequest, Config, Connection, DeflateConfig, Event, ServerConfig};

/// `System`, keeping count of the bytes live that the measuring thread
/// allocated while its `COUNTING` flag is set.
struct LiveBytes;

static LIVE: AtomicIsize = AtomicIsize::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

/// One measurement at a time, since the counter is global.
static MEASURE: Mutex<()> = Mutex::new(());

fn counting() -> bool {
    COUNTING.try_with(Cell::get).unwrap_or(false)
}

fn add(n: usize, sign: isize) {
    if counting() {
        LIVE.fetch_add(sign * n as isize, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to `System`; the only addition is
// updating an atomic counter, which does not allocate.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for LiveBytes {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(layout.size(), 1);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        add(layout.size(), 1);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add(layout.size(), -1);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        add(layout.size(), -1);
        add(new_size, 1);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: LiveBytes = LiveBytes;

fn pump(from: &mut Connection, to: &mut Connection, now: Instant) {
    while let Some(bytes) = from.poll_transmit() {
        let n = bytes.len();
        to.receive(now, bytes);
        from.advance_transmit(n);
    }
}

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
    let _guard = MEASURE.lock().unwrap_or_else(|e| e.into_inner());
    let now = Instant::now();
    let config = Config {
        deflate,
        ..Config::default()
    };
    let server_config = Config {
        deflate: server_deflate,
        ..Config::default()
    };
    let message = r#"{"type":"ticker","product_id":"BTC-USD","price":"43125.10","best_bid":"43120.00","best_ask":"43121.50"}"#;
    COUNTING.with(|c| c.set(true));
    let request = ClientRequest::new("example.com", 80, "/");
    let rng = rand::rngs::StdRng::seed_from_u64(1);
    let mut client = Connection::client(now, config.clone(), &request, rng).unwrap();
    let mut server = Connection::server(now, server_config, ServerConfig::default());
    pump(&mut client, &mut server, now);
    drop(drain(&mut server));
    pump(&mut server, &mut client, now);
    drop(drain(&mut client));
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
    let before = LIVE.load(Ordering::Relaxed);
    drop(client);
    let after_client = LIVE.load(Ordering::Relaxed);
    drop(server);
    let after_server = LIVE.load(Ordering::Relaxed);
    COUNTING.with(|c| c.set(false));
    (before - after_client, after_client - after_server)
}

#[test]
fn heap_per_connection_with_deflate_on() {
    let on = DeflateConfig::default;
    let no_takeover = || DeflateConfig {
        client_no_context_takeover: true,
        server_no_context_takeover: true,
        ..DeflateConfig::default()
    };
    let small_windows = || DeflateConfig {
        client_max_window_bits: 9,
        server_max_window_bits: 9,
        ..DeflateConfig::default()
    };
    let never_compresses = || DeflateConfig {
        compression_threshold: usize::MAX,
        ..DeflateConfig::default()
    };
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
