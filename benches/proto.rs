//! Comparative benchmarks of the protocol core: ws-proto against tungstenite
//! and a `memcpy` ceiling, each doing the same work in the same group.
//!
//! - `decode_server_frames/{16B,1KiB,64KiB,1MiB}`: a client decodes unmasked
//!   binary frames from the server (64 frames per iteration at 16 B and 1 KiB,
//!   one at 64 KiB and 1 MiB); `decode_server_frames_text/1MiB` does the same
//!   with a text frame, so it includes UTF-8 validation.
//! - `encode_client_frames/{16B,1KiB,64KiB,1MiB}`: a client encodes and masks
//!   binary messages (64 per iteration at 16 B and 1 KiB, one above).
//! - `mask/1MiB`: `apply_mask` against a plain u64-word XOR loop and the
//!   scalar reference (tungstenite's masking is private in 0.30).
//! - `utf8/1MiB`: `Utf8Validator` against `std::str::from_utf8`, on mixed
//!   ASCII/multi-byte text and on ASCII-only text.
//!
//! Throughput counts payload bytes (and messages, where there are messages).
//! The `memcpy` ceiling copies the same bytes the protocol code is fed: the
//! whole wire buffer (headers included) for decoding, the payload for
//! encoding.
//!
//! Run with short settings on a shared machine:
//! `cargo bench --bench proto -- --warm-up-time 1 --measurement-time 2`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{open_client, push_server_frame};
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput, measurement::WallTime};
use rand::rngs::StdRng;
use rand::{Rng as _, RngExt as _, SeedableRng as _};
use tungstenite::protocol::{Role as TRole, WebSocket};
use ws_proto::frame::{OpCode, Utf8Validator, apply_mask, apply_mask_scalar};
use ws_proto::{Connection, Event};

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

/// The message sizes of the decode and encode groups, with their labels.
const SIZES: [(&str, usize); 4] = [
    ("16B", 16),
    ("1KiB", KIB),
    ("64KiB", 64 * KIB),
    ("1MiB", MIB),
];

/// Messages per iteration: enough small ones that an iteration is not
/// dominated by the harness; one large one.
fn batch(size: usize) -> usize {
    if size <= KIB { 64 } else { 1 }
}

fn group_settings(group: &mut BenchmarkGroup<'_, WallTime>) {
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
}

// ---- inputs ----------------------------------------------------------------

fn random_bytes(rng: &mut StdRng, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    rng.fill_bytes(&mut v);
    v
}

/// Exactly `len` bytes of valid UTF-8 mixing ASCII words with 2-, 3- and
/// 4-byte code points.
fn mixed_text(rng: &mut StdRng, len: usize) -> Vec<u8> {
    const PIECES: [&str; 8] = [
        "hello ",
        "world, ",
        "κόσμε ",
        "日本語の文章 ",
        "🎉🚀 ",
        "Grüße aus Köln ",
        "the quick brown fox ",
        "€100 ",
    ];
    let mut s = String::with_capacity(len + 64);
    while s.len() < len {
        s.push_str(PIECES[rng.random_range(0..PIECES.len())]);
    }
    let mut end = len;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    while s.len() < len {
        s.push('.');
    }
    assert!(std::str::from_utf8(s.as_bytes()).is_ok());
    s.into_bytes()
}

fn ascii_text(rng: &mut StdRng, len: usize) -> Vec<u8> {
    (0..len).map(|_| b' ' + rng.random_range(0..95u8)).collect()
}

/// `count` frames of `payload`, back to back.
fn server_frames(opcode: OpCode, payload: &[u8], count: usize) -> Vec<u8> {
    let mut wire = Vec::new();
    for _ in 0..count {
        push_server_frame(opcode, payload, &mut wire);
    }
    wire
}

// ---- ws-proto ---------------------------------------------------------------

/// Feeds `wire` (holding `count` frames) and takes the `count` messages.
#[inline]
fn ws_proto_decode(conn: &mut Connection, now: Instant, wire: &[u8], count: usize) {
    conn.receive(now, black_box(wire));
    for _ in 0..count {
        match conn.poll_event() {
            Some(Event::Message(m)) => {
                black_box(m);
            }
            other => panic!("expected a message, got {other:?}"),
        }
    }
}

// ---- tungstenite --------------------------------------------------------------

/// An in-memory transport: reads serve `input` again and again (reads never
/// cross the end of `input`, as a socket delivers one batch at a time);
/// writes are discarded.
struct MemStream {
    input: Vec<u8>,
    pos: usize,
}

impl MemStream {
    fn new(input: Vec<u8>) -> Self {
        Self { input, pos: 0 }
    }
}

impl Read for MemStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.input.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let rest = &self.input[self.pos..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos = (self.pos + n) % self.input.len();
        Ok(n)
    }
}

impl Write for MemStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        black_box(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn tungstenite_client(input: Vec<u8>) -> WebSocket<MemStream> {
    WebSocket::from_raw_socket(MemStream::new(input), TRole::Client, None)
}

#[inline]
fn tungstenite_decode(ws: &mut WebSocket<MemStream>, count: usize) {
    for _ in 0..count {
        match ws.read() {
            Ok(m @ (tungstenite::Message::Binary(_) | tungstenite::Message::Text(_))) => {
                black_box(m);
            }
            other => panic!("expected a message, got {other:?}"),
        }
    }
}

// ---- benchmarks -------------------------------------------------------------

fn decode_group(
    c: &mut Criterion,
    name: &str,
    opcode: OpCode,
    sizes: &[(&str, usize)],
    payload_of: impl Fn(&mut StdRng, usize) -> Vec<u8>,
) {
    let mut group = c.benchmark_group(name);
    group_settings(&mut group);
    let mut rng = StdRng::seed_from_u64(1);
    for &(label, size) in sizes {
        let count = batch(size);
        let payload = payload_of(&mut rng, size);
        let wire = server_frames(opcode, &payload, count);
        group.throughput(Throughput::ElementsAndBytes {
            elements: count as u64,
            bytes: (count * size) as u64,
        });

        // Check both decoders return the payload before timing them.
        let (mut conn, now) = open_client(2);
        conn.receive(now, &wire);
        for _ in 0..count {
            match conn.poll_event() {
                Some(Event::Message(m)) => assert_eq!(m.as_bytes(), &payload[..]),
                other => panic!("expected a message, got {other:?}"),
            }
        }
        assert!(conn.poll_event().is_none());
        group.bench_function(BenchmarkId::new("ws-proto", label), |b| {
            b.iter(|| ws_proto_decode(&mut conn, now, &wire, count));
        });
        drop(conn);

        let mut ws = tungstenite_client(wire.clone());
        for _ in 0..count {
            let m = ws.read().expect("message");
            assert_eq!(&m.into_data()[..], &payload[..]);
        }
        group.bench_function(BenchmarkId::new("tungstenite", label), |b| {
            b.iter(|| tungstenite_decode(&mut ws, count));
        });
        drop(ws);

        let mut dst = vec![0u8; wire.len()];
        group.bench_function(BenchmarkId::new("memcpy", label), |b| {
            b.iter(|| {
                dst.copy_from_slice(black_box(&wire));
                black_box(&mut dst);
            });
        });
    }
    group.finish();
}

fn decode_server_frames(c: &mut Criterion) {
    decode_group(
        c,
        "decode_server_frames",
        OpCode::Binary,
        &SIZES,
        random_bytes,
    );
    decode_group(
        c,
        "decode_server_frames_text",
        OpCode::Text,
        &[("1MiB", MIB)],
        mixed_text,
    );
}

fn encode_client_frames(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode_client_frames");
    group_settings(&mut group);
    let mut rng = StdRng::seed_from_u64(3);
    for (label, size) in SIZES {
        let count = batch(size);
        let payload = random_bytes(&mut rng, size);
        group.throughput(Throughput::ElementsAndBytes {
            elements: count as u64,
            bytes: (count * size) as u64,
        });

        // ws-proto copies from the caller's slice into its output buffer and
        // masks there; the frame is handed out by `poll_transmit`, not copied.
        let (mut conn, _) = open_client(4);
        group.bench_function(BenchmarkId::new("ws-proto", label), |b| {
            b.iter(|| {
                for _ in 0..count {
                    conn.send_binary(black_box(&payload)).expect("open");
                    let n = black_box(conn.poll_transmit().expect("a frame")).len();
                    conn.advance_transmit(n);
                }
            });
        });
        drop(conn);

        // The same with the payload given away (`Vec<u8>`, as a caller that
        // built the message for sending has it): from 16 KiB on it is masked
        // in place and handed out as its own segment, without a copy. The
        // payloads are cloned in the untimed setup.
        let (mut conn, _) = open_client(5);
        group.bench_function(BenchmarkId::new("ws-proto owned", label), |b| {
            b.iter_batched(
                || vec![payload.clone(); count],
                |payloads| {
                    for p in payloads {
                        conn.send_binary_owned(p).expect("open");
                        while let Some(bytes) = conn.poll_transmit() {
                            let n = black_box(bytes).len();
                            conn.advance_transmit(n);
                        }
                    }
                },
                criterion::BatchSize::PerIteration,
            );
        });
        drop(conn);

        // tungstenite takes the payload as `Bytes`: the message is built from
        // a clone of a `Bytes::from_static` (a pointer copy: no allocation, no
        // reference count, no copy of the payload), so tungstenite, like
        // ws-proto, copies the payload once, into its output buffer, and
        // masks it there. `write` + `flush` hand the frame to a discarding
        // writer.
        let shared = Bytes::from_static(Vec::leak(payload.clone()));
        let mut ws = tungstenite_client(Vec::new());
        group.bench_function(BenchmarkId::new("tungstenite", label), |b| {
            b.iter(|| {
                for _ in 0..count {
                    let message = tungstenite::Message::Binary(black_box(shared.clone()));
                    ws.write(message).expect("write");
                    ws.flush().expect("flush");
                }
            });
        });
        drop(ws);

        let mut dst = vec![0u8; size];
        group.bench_function(BenchmarkId::new("memcpy", label), |b| {
            b.iter(|| {
                for _ in 0..count {
                    dst.copy_from_slice(black_box(&payload));
                    black_box(&mut dst);
                }
            });
        });
    }
    group.finish();
}

/// A plain word-at-a-time XOR: the reference `apply_mask` is held to.
#[inline(never)]
fn xor_u64_words(buf: &mut [u8], key: [u8; 4]) {
    let word = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut words = buf.chunks_exact_mut(8);
    for w in &mut words {
        let v = u64::from_ne_bytes((&*w).try_into().expect("8 bytes")) ^ word;
        w.copy_from_slice(&v.to_ne_bytes());
    }
    for (i, byte) in words.into_remainder().iter_mut().enumerate() {
        *byte ^= key[i & 3];
    }
}

fn mask(c: &mut Criterion) {
    let mut group = c.benchmark_group("mask");
    group_settings(&mut group);
    group.throughput(Throughput::Bytes(MIB as u64));
    let mut rng = StdRng::seed_from_u64(5);
    let mut buf = random_bytes(&mut rng, MIB);
    let key = [0x37, 0xfa, 0x21, 0x3d];

    // The three agree (masking twice is the identity).
    let mut check = buf.clone();
    apply_mask(&mut check, key, 0);
    xor_u64_words(&mut check, key);
    assert_eq!(check, buf);
    apply_mask_scalar(&mut check, key, 0);
    apply_mask(&mut check, key, 0);
    assert_eq!(check, buf);

    group.bench_function(BenchmarkId::new("ws-proto apply_mask", "1MiB"), |b| {
        b.iter(|| apply_mask(black_box(&mut buf), black_box(key), 0));
    });
    group.bench_function(BenchmarkId::new("u64 xor", "1MiB"), |b| {
        b.iter(|| xor_u64_words(black_box(&mut buf), black_box(key)));
    });
    group.bench_function(
        BenchmarkId::new("ws-proto apply_mask_scalar", "1MiB"),
        |b| {
            b.iter(|| apply_mask_scalar(black_box(&mut buf), black_box(key), 0));
        },
    );
    // tungstenite 0.30 keeps its masking in a private module: not benchmarked.
    group.finish();
}

fn utf8(c: &mut Criterion) {
    let mut group = c.benchmark_group("utf8");
    group_settings(&mut group);
    group.throughput(Throughput::Bytes(MIB as u64));
    let mut rng = StdRng::seed_from_u64(6);
    for (label, text) in [
        ("1MiB_mixed", mixed_text(&mut rng, MIB)),
        ("1MiB_ascii", ascii_text(&mut rng, MIB)),
    ] {
        group.bench_function(BenchmarkId::new("ws-proto Utf8Validator", label), |b| {
            b.iter(|| {
                let mut v = Utf8Validator::new();
                v.feed(black_box(&text)).expect("valid");
                v.finish().expect("complete");
            });
        });
        group.bench_function(BenchmarkId::new("std from_utf8", label), |b| {
            b.iter(|| std::str::from_utf8(black_box(&text)).expect("valid").len());
        });
    }
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    decode_server_frames(&mut c);
    encode_client_frames(&mut c);
    mask(&mut c);
    utf8(&mut c);
    c.final_summary();
}
