//! permessage-deflate throughput: what compression costs a sender and a
//! receiver, for a typical market-data JSON message (about 200 bytes) and for
//! a 64 KiB JSON snapshot, with and without context takeover.
//!
//! Neither tungstenite 0.30 nor fastwebsockets 0.10 implements
//! permessage-deflate, so each group compares ws-proto with deflate against
//! two references on the same bytes in the same run:
//! - `plain`: ws-proto with deflate off (what compression adds);
//! - `flate2`: the bare deflate stream with zlib-rs at the default level,
//!   sync flush per message (the floor: what framing, masking, UTF-8 checks and the
//!   per-message bookkeeping add).
//!
//! Groups (throughput counts uncompressed payload bytes):
//! - `deflate_send/{ticker,64KiB}/{takeover,takeover_level6,no_takeover,
//!   plain,flate2}`: a client compresses, frames and masks messages and
//!   hands out the bytes (256 tickers or 16 snapshots per iteration). The
//!   default level is 1; `takeover_level6` shows what zlib's usual level
//!   costs in time and saves in size.
//! - `deflate_receive/...`: a client takes the frames a deflate server sent
//!   for the same messages, inflates them, checks the UTF-8 and hands out the
//!   messages. Each iteration starts on a fresh connection, as the compressed
//!   stream only decodes from its start (setup not timed).
//!
//! Memory per connection with deflate on is measured by
//! `cargo test --test deflate_memory -- --nocapture` (it prints
//! a table); the ratio each case compresses to is printed when this runs.
//!
//! `cargo bench --bench deflate -- --warm-up-time 1 --measurement-time 2`

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::open_pair;
use criterion::{BatchSize, BenchmarkGroup, Criterion, Throughput, measurement::WallTime};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use ws_proto::{Connection, DeflateConfig, Event};

/// A ticker message like a market-data feed sends, `n` making each unique
/// (about 200 bytes).
fn ticker(n: usize) -> String {
    format!(
        r#"{{"type":"ticker","sequence":{},"product_id":"BTC-USD","price":"{}.{:02}","open_24h":"63120.00","volume_24h":"12873.51","best_bid":"{}.00","best_ask":"{}.01","side":"buy","time":"2026-11-26T02:{:02}:{:02}.{:06}Z"}}"#,
        1_000_000 + n * 7,
        63_000 + n % 97,
        n % 100,
        63_000 + n % 89,
        63_000 + n % 83,
        n / 60 % 60,
        n % 60,
        n * 7919 % 1_000_000
    )
}

/// A 64 KiB JSON array of tickers (a snapshot), `n` making each unique.
fn snapshot(n: usize) -> String {
    let mut s = String::from("[");
    let mut i = n * 1000;
    while s.len() < 64 * 1024 - 300 {
        s.push_str(&ticker(i));
        s.push(',');
        i += 1;
    }
    s.pop();
    s.push(']');
    while s.len() < 64 * 1024 {
        s.push(' ');
    }
    s
}

struct Case {
    label: &'static str,
    messages: Vec<String>,
}

fn cases() -> [Case; 2] {
    [
        Case {
            label: "ticker",
            messages: (0..256).map(ticker).collect(),
        },
        Case {
            label: "64KiB",
            messages: (0..16).map(snapshot).collect(),
        },
    ]
}

/// The deflate settings compared: `None` is deflate off.
fn variants() -> [(&'static str, Option<DeflateConfig>); 4] {
    [
        ("takeover", Some(DeflateConfig::default())),
        (
            "takeover_level6",
            Some(DeflateConfig::default().compression_level(6)),
        ),
        (
            "no_takeover",
            Some(
                DeflateConfig::default()
                    .client_no_context_takeover(true)
                    .server_no_context_takeover(true),
            ),
        ),
        ("plain", None),
    ]
}

/// A client and a server, both with `deflate`, past the opening handshake.
fn open(deflate: Option<DeflateConfig>) -> (Connection, Connection, Instant) {
    let now = Instant::now();
    let (client, server) = open_pair(now, deflate.clone(), deflate.clone());
    assert_eq!(client.deflate().is_some(), deflate.is_some());
    (client, server, now)
}

/// Hands out and discards everything `conn` has to send; returns its size.
fn discard_output(conn: &mut Connection) -> usize {
    let mut total = 0;
    while let Some(bytes) = conn.poll_transmit() {
        let n = black_box(bytes).len();
        total += n;
        conn.advance_transmit(n);
    }
    total
}

/// What a deflate server sends for `messages`.
fn server_wire(deflate: Option<DeflateConfig>, messages: &[String]) -> Vec<u8> {
    let (_, mut server, _) = open(deflate);
    let mut wire = Vec::new();
    for m in messages {
        server.send_text(m).unwrap();
        while let Some(bytes) = server.poll_transmit() {
            wire.extend_from_slice(bytes);
            let n = bytes.len();
            server.advance_transmit(n);
        }
    }
    wire
}

/// The bare deflate stream: one sync-flushed block per message, minus the
/// `00 00 ff ff` tail, as RFC 7692 sends it.
fn flate2_compress(z: &mut Compress, message: &[u8], out: &mut Vec<u8>) {
    out.clear();
    z.compress_vec(message, out, FlushCompress::Sync).unwrap();
    out.truncate(out.len() - 4);
}

fn flate2_messages(messages: &[String]) -> Vec<Vec<u8>> {
    let mut z = Compress::new(default_level(), false);
    messages
        .iter()
        .map(|m| {
            let mut out = Vec::with_capacity(m.len() + 64);
            flate2_compress(&mut z, m.as_bytes(), &mut out);
            out
        })
        .collect()
}

/// The level `DeflateConfig::default()` compresses at.
fn default_level() -> Compression {
    Compression::new(DeflateConfig::default().compression_level)
}

fn settings(group: &mut BenchmarkGroup<'_, WallTime>) {
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
}

fn send(c: &mut Criterion) {
    let mut group = c.benchmark_group("deflate_send");
    settings(&mut group);
    for case in cases() {
        let bytes: usize = case.messages.iter().map(String::len).sum();
        group.throughput(Throughput::Bytes(bytes as u64));
        for (name, deflate) in variants() {
            let (mut client, _server, _) = open(deflate);
            let mut wire = 0;
            group.bench_function(format!("{}/{name}", case.label), |b| {
                b.iter(|| {
                    for m in &case.messages {
                        client.send_text(black_box(m)).unwrap();
                    }
                    wire = discard_output(&mut client);
                })
            });
            if wire > 0 {
                println!(
                    "deflate_send/{}/{name}: {bytes} payload bytes -> {wire} on the wire ({:.2}x)",
                    case.label,
                    bytes as f64 / wire as f64
                );
            }
        }
        let mut z = Compress::new(default_level(), false);
        let mut out = Vec::with_capacity(128 * 1024);
        group.bench_function(format!("{}/flate2", case.label), |b| {
            b.iter(|| {
                for m in &case.messages {
                    flate2_compress(&mut z, black_box(m.as_bytes()), &mut out);
                    black_box(&out);
                }
            })
        });
    }
    group.finish();
}

fn receive(c: &mut Criterion) {
    let mut group = c.benchmark_group("deflate_receive");
    settings(&mut group);
    for case in cases() {
        let bytes: usize = case.messages.iter().map(String::len).sum();
        let count = case.messages.len();
        group.throughput(Throughput::Bytes(bytes as u64));
        for (name, deflate) in variants() {
            let wire = server_wire(deflate.clone(), &case.messages);
            group.bench_function(format!("{}/{name}", case.label), |b| {
                b.iter_batched(
                    || open(deflate.clone()),
                    |(mut client, server, now)| {
                        client.receive(now, black_box(&wire));
                        for _ in 0..count {
                            match client.poll_event() {
                                Some(Event::Message(m)) => {
                                    black_box(m);
                                }
                                other => panic!("expected a message, got {other:?}"),
                            }
                        }
                        (client, server)
                    },
                    BatchSize::LargeInput,
                )
            });
        }
        let compressed = flate2_messages(&case.messages);
        let largest = case.messages.iter().map(String::len).max().unwrap_or(0);
        let mut out = Vec::with_capacity(largest + 1024);
        let mut input = Vec::with_capacity(largest + 1024);
        group.bench_function(format!("{}/flate2", case.label), |b| {
            b.iter_batched(
                || Decompress::new(false),
                |mut z| {
                    for m in &compressed {
                        input.clear();
                        input.extend_from_slice(m);
                        input.extend_from_slice(&[0, 0, 0xff, 0xff]);
                        out.clear();
                        z.decompress_vec(&input, &mut out, FlushDecompress::Sync)
                            .unwrap();
                        black_box(&out);
                    }
                    z
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion::criterion_group!(benches, send, receive);
criterion::criterion_main!(benches);
