//! Write-through sends (`send_binary_through`, `send_text_through`,
//! `send_binary_in_place`): whatever the transport takes in the call and
//! whatever is drained afterwards, the peer reads exactly the messages
//! sent, in order; the write buffer's limit, the closing state, the close
//! frame's place and the automatic pong's replacement rule hold as for the
//! ordinary sends.

mod common;

use std::cell::Cell;
use std::io::IoSlice;
use std::time::{Duration, Instant};

use common::*;
use proptest::prelude::*;
use rand::RngExt as _;
use ws_proto::frame::OpCode;
use ws_proto::{CloseCode, Config, Connection, Event, Message, Role, SendError, State};

/// How much of what it is offered a transport's write takes.
#[derive(Clone, Copy, Debug)]
enum Take {
    /// Nothing: the write would block.
    Nothing,
    /// This many bytes at most: a small number ends inside the header.
    AtMost(usize),
    /// This share (in 1/256ths) of what is offered.
    Share(u8),
    All,
}

impl Take {
    fn of(self, offered: usize) -> usize {
        match self {
            Take::Nothing => 0,
            Take::AtMost(n) => n.min(offered),
            Take::Share(share) => offered * share as usize / 256,
            Take::All => offered,
        }
    }
}

fn take() -> impl Strategy<Value = Take> {
    prop_oneof![
        1 => Just(Take::Nothing),
        2 => (1usize..15).prop_map(Take::AtMost),
        2 => any::<u8>().prop_map(Take::Share),
        3 => Just(Take::All),
    ]
}

/// A transport write taking `take` of `slices`, appending it to `wire`.
fn write_into(wire: &mut Vec<u8>, take: Take, slices: &[IoSlice<'_>]) -> usize {
    let offered: usize = slices.iter().map(|s| s.len()).sum();
    let mut n = take.of(offered);
    let taken = n;
    for slice in slices {
        let k = slice.len().min(n);
        wire.extend_from_slice(&slice[..k]);
        n -= k;
    }
    taken
}

/// Drains `share` (in 1/256ths) of what `conn` holds through
/// `poll_transmit` / `advance_transmit`, in pieces of at most 7000 bytes.
fn drain_share(conn: &mut Connection, wire: &mut Vec<u8>, share: u16) {
    let mut left = conn.buffered_amount() * share as usize / 256;
    while left > 0 {
        let bytes = conn.poll_transmit().expect("bytes are waiting");
        let n = bytes.len().min(left).min(7000);
        wire.extend_from_slice(&bytes[..n]);
        conn.advance_transmit(n);
        left -= n;
    }
}

#[derive(Clone, Copy, Debug)]
enum How {
    Ordinary,
    Through,
    Text,
    InPlace,
}

#[derive(Clone, Debug)]
enum Op {
    Send(How, usize, Take),
    /// Drains this share (in 1/256ths, 256 = all) of what waits.
    Drain(u16),
    /// The peer pings: the sender queues an automatic pong.
    Ping,
}

fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        3 => 0usize..200,
        2 => 0usize..40_000,
        2 => prop::sample::select(vec![0, 1, 125, 126, 127, 65_535, 65_536, 65_537]),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let how = prop_oneof![
        Just(How::Ordinary),
        Just(How::Through),
        Just(How::Text),
        Just(How::InPlace),
    ];
    prop_oneof![
        6 => (how, size(), take()).prop_map(|(h, s, t)| Op::Send(h, s, t)),
        2 => (0u16..=256).prop_map(Op::Drain),
        1 => Just(Op::Ping),
    ]
}

/// A payload of `len` bytes that differs from message to message; ASCII,
/// so that it serves as text too.
fn payload(seed: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| b'a' + ((i * 7 + seed) % 26) as u8)
        .collect()
}

/// The sender and the peer of an open pair.
fn ends(pair: &mut Pair, role: Role) -> (&mut Connection, &mut Connection) {
    match role {
        Role::Client => (&mut pair.client, &mut pair.server),
        Role::Server => (&mut pair.server, &mut pair.client),
    }
}

/// Sends one message `how`, writing through `take`; returns how many times
/// the write closure was called.
fn send(conn: &mut Connection, wire: &mut Vec<u8>, how: How, data: &[u8], take: Take) -> usize {
    let calls = Cell::new(0);
    let write = |slices: &[IoSlice<'_>]| {
        calls.set(calls.get() + 1);
        write_into(wire, take, slices)
    };
    match how {
        How::Ordinary => conn.send_binary(data),
        How::Through => conn.send_binary_through(data, write),
        How::Text => conn.send_text_through(std::str::from_utf8(data).unwrap(), write),
        How::InPlace => conn.send_binary_in_place(&mut data.to_vec(), write),
    }
    .expect("open and within the limit");
    calls.get()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the mix of sends, partial writes and drains, the peer
    /// reads exactly the messages sent, in order, with the pongs where
    /// they may be.
    #[test]
    fn the_peer_reads_every_message_in_order(
        ops in proptest::collection::vec(op(), 1..24),
        client in any::<bool>(),
        fragment in prop_oneof![Just(None), (100usize..20_000).prop_map(Some)],
        deflate in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let role = if client { Role::Client } else { Role::Server };
        let mut config = Config::default()
            .send_fragment_size(fragment)
            .max_message_size(1 << 20);
        if deflate {
            config = config.deflate(Some(ws_proto::DeflateConfig::default().compression_threshold(1000)));
        }
        let mut pair = Pair::open(seed, config, 1 << 20);
        let now = pair.now;
        // Without the crate's `deflate` feature the offer is ignored.
        prop_assert_eq!(pair.client.deflate().is_some(), deflate && cfg!(feature = "deflate"));
        let (sender, peer) = ends(&mut pair, role);
        let mut wire = Vec::new();
        let mut sent = Vec::new();
        for (i, op) in ops.into_iter().enumerate() {
            match op {
                Op::Send(how, len, take) => {
                    let data = payload(i, len);
                    let calls = send(sender, &mut wire, how, &data, take);
                    let expected_calls = if matches!(how, How::Ordinary) { 0 } else { 1 };
                    prop_assert_eq!(calls, expected_calls);
                    sent.push(match how {
                        How::Text => Message::Text(String::from_utf8(data).unwrap().into()),
                        _ => Message::Binary(data.into()),
                    });
                }
                Op::Drain(share) => drain_share(sender, &mut wire, share),
                Op::Ping => {
                    peer.send_ping(b"are you there").unwrap();
                    let ping = take_output(peer);
                    sender.receive(now, &ping);
                    prop_assert!(matches!(sender.poll_event(), Some(Event::Ping(_))));
                    prop_assert!(sender.poll_event().is_none());
                }
            }
        }
        drain_share(sender, &mut wire, 256);
        prop_assert_eq!(sender.buffered_amount(), 0);
        let mut rng = rng(seed);
        let mut received = Vec::new();
        let mut rest = &wire[..];
        while !rest.is_empty() {
            let n = rng.random_range(1..=rest.len().min(70_000));
            peer.receive(now, &rest[..n]);
            rest = &rest[n..];
            while let Some(event) = peer.poll_event() {
                match event {
                    Event::Message(m) => received.push(m),
                    Event::Pong(p) => prop_assert_eq!(&p[..], b"are you there"),
                    other => prop_assert!(false, "unexpected {other:?}"),
                }
            }
        }
        prop_assert_eq!(received, sent);
    }
}

/// An open server or client with the given config.
fn open(role: Role, config: Config) -> Connection {
    match role {
        Role::Client => open_client(Instant::now(), config),
        Role::Server => open_server(Instant::now(), config),
    }
}

/// From this size on, a payload is written from the caller's buffer.
const LARGE: usize = 16 << 10;

#[test]
fn a_server_writes_the_callers_buffer_with_no_copy() {
    let mut server = open(Role::Server, Config::default());
    let data = vec![5u8; LARGE];
    let mut seen = None;
    server
        .send_binary_through(&data, |slices| {
            seen = Some((slices.len(), slices[1].as_ptr()));
            0
        })
        .unwrap();
    assert_eq!(
        seen,
        Some((2, data.as_ptr())),
        "header and the caller's payload"
    );
    // Nothing taken: all of it waits, the same bytes as an ordinary send.
    let mut ordinary = open(Role::Server, Config::default());
    ordinary.send_binary(&data).unwrap();
    assert_eq!(take_output(&mut server), take_output(&mut ordinary));
}

#[test]
fn a_client_in_place_masks_the_buffer_and_writes_it_with_no_copy() {
    let mut client = open(Role::Client, Config::default());
    let mut data = vec![5u8; LARGE];
    let ptr = data.as_ptr();
    let mut wire = Vec::new();
    client
        .send_binary_in_place(&mut data, |slices| {
            assert_eq!(slices[1].as_ptr(), ptr, "the payload was copied");
            write_into(&mut wire, Take::All, slices)
        })
        .unwrap();
    assert_eq!(client.buffered_amount(), 0);
    assert_ne!(data, vec![5u8; LARGE], "the buffer was not masked");
    assert_eq!(
        &wire[wire.len() - LARGE..],
        &data[..],
        "the masked buffer went out"
    );
    let frames = parse_frames(&wire);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].payload, vec![5u8; LARGE]);
}

/// A small frame (up to a 1 KiB message, and a little more) is assembled
/// on the stack, masked on the way for a client, and offered as one slice
/// (one plain write); the caller's buffer is left as it was, even by
/// `send_binary_in_place`. What the write does not take waits, in order.
#[test]
fn a_small_frame_goes_as_one_slice_and_leaves_the_buffer_intact() {
    for role in [Role::Client, Role::Server] {
        for len in [0, 1, 125, 126, 1024, 2000] {
            for take in [
                Take::All,
                Take::Nothing,
                Take::AtMost(1),
                Take::AtMost(len / 2 + 3),
            ] {
                let mut conn = open(role, Config::default());
                let mut data = payload(len, len);
                let original = data.clone();
                let mut wire = Vec::new();
                let mut slices_seen = 0;
                conn.send_binary_in_place(&mut data, |slices| {
                    slices_seen = slices.len();
                    write_into(&mut wire, take, slices)
                })
                .unwrap();
                assert_eq!(slices_seen, 1, "{role:?} {len}");
                assert_eq!(data, original, "{role:?} {len}: the buffer changed");
                wire.extend(take_output(&mut conn));
                let frames = parse_frames(&wire);
                assert_eq!(frames.len(), 1, "{role:?} {len}");
                assert_eq!(frames[0].payload, original, "{role:?} {len}");
                assert_eq!(frames[0].masked, role == Role::Client, "{role:?} {len}");
            }
        }
    }
}

/// Between the stack's frames and [`LARGE`], a vectored write would cost
/// more than the copy it saves: the message is queued and the whole of
/// what waits is offered as one slice.
#[test]
fn a_medium_message_is_copied_and_goes_as_one_slice() {
    let mut server = open(Role::Server, Config::default());
    let data = vec![3u8; 4000];
    let mut wire = Vec::new();
    server
        .send_binary_through(&data, |slices| {
            assert_eq!(slices.len(), 1);
            write_into(&mut wire, Take::All, slices)
        })
        .unwrap();
    assert_eq!(server.buffered_amount(), 0);
    assert_eq!(parse_frames(&wire)[0].payload, data);
}

#[test]
fn a_client_falling_back_leaves_the_buffer_as_it_was() {
    let mut client = open(Role::Client, Config::default());
    client.send_binary(b"waiting").unwrap();
    let mut data = vec![5u8; LARGE];
    let mut wire = Vec::new();
    client
        .send_binary_in_place(&mut data, |slices| write_into(&mut wire, Take::All, slices))
        .unwrap();
    assert_eq!(data, vec![5u8; LARGE]);
    let payloads: Vec<_> = parse_frames(&wire).into_iter().map(|f| f.payload).collect();
    assert_eq!(payloads, [b"waiting".to_vec(), vec![5u8; LARGE]]);
    // A client's `send_binary_through` never touches the buffer either.
    let data = vec![6u8; LARGE];
    client
        .send_binary_through(&data, |slices| write_into(&mut wire, Take::All, slices))
        .unwrap();
    assert_eq!(data, vec![6u8; LARGE]);
}

#[test]
fn what_waits_goes_first_in_the_one_write() {
    let mut server = open(Role::Server, Config::default());
    server.send_binary(b"first").unwrap();
    let mut wire = Vec::new();
    let mut calls = 0;
    server
        .send_binary_through(b"second", |slices| {
            calls += 1;
            write_into(&mut wire, Take::All, slices)
        })
        .unwrap();
    assert_eq!(calls, 1);
    assert_eq!(server.buffered_amount(), 0);
    let payloads: Vec<_> = parse_frames(&wire).into_iter().map(|f| f.payload).collect();
    assert_eq!(payloads, [b"first".to_vec(), b"second".to_vec()]);
}

#[test]
fn a_send_refused_for_the_limit_calls_nothing_and_queues_nothing() {
    for role in [Role::Client, Role::Server] {
        let mut conn = open(role, Config::default().max_write_buffer(1000));
        // Alone, a message over the limit is refused too: it would not fit
        // the queue if the transport took none of it.
        let mut big = vec![1u8; 1000];
        let refused = conn.send_binary_through(&big, |_| panic!("write called"));
        assert!(matches!(refused, Err(SendError::WriteBufferFull { .. })));
        let refused = conn.send_binary_in_place(&mut big, |_| panic!("write called"));
        assert!(matches!(refused, Err(SendError::WriteBufferFull { .. })));
        assert_eq!(big, vec![1u8; 1000], "a refused message was masked");
        assert_eq!(conn.buffered_amount(), 0);
        // Behind what waits.
        conn.send_binary(&[0; 600]).unwrap();
        let before = conn.buffered_amount();
        let mut data = vec![2u8; 500];
        let refused = conn.send_binary_in_place(&mut data, |_| panic!("write called"));
        assert!(matches!(refused, Err(SendError::WriteBufferFull { .. })));
        let refused = conn.send_text_through("x".repeat(500).as_str(), |_| panic!("write called"));
        assert!(matches!(refused, Err(SendError::WriteBufferFull { .. })));
        assert_eq!(conn.buffered_amount(), before);
        assert_eq!(data, vec![2u8; 500]);
    }
}

#[test]
fn a_closing_connection_refuses_and_calls_nothing() {
    for role in [Role::Client, Role::Server] {
        let mut conn = open(role, Config::default());
        conn.close(Instant::now(), CloseCode::NORMAL, "").unwrap();
        let before = conn.buffered_amount();
        let mut data = vec![3u8; 10];
        let refused = conn.send_binary_through(&data, |_| panic!("write called"));
        assert_eq!(refused, Err(SendError::NotOpen(State::Closing)));
        let refused = conn.send_binary_in_place(&mut data, |_| panic!("write called"));
        assert_eq!(refused, Err(SendError::NotOpen(State::Closing)));
        let refused = conn.send_text_through("hi", |_| panic!("write called"));
        assert_eq!(refused, Err(SendError::NotOpen(State::Closing)));
        assert_eq!(conn.buffered_amount(), before);
        assert_eq!(data, vec![3u8; 10]);
    }
}

#[test]
fn a_close_frame_goes_after_the_rest_of_a_message_written_in_part() {
    let now = Instant::now();
    let config = Config::default()
        .close_timeout(Some(Duration::from_secs(5)))
        .drain_timeout(Some(Duration::from_secs(1)));
    let mut server = open_server(now, config);
    let mut wire = Vec::new();
    let data = payload(0, 3000);
    server
        .send_binary_through(&data, |slices| {
            write_into(&mut wire, Take::AtMost(3), slices)
        })
        .unwrap();
    assert_eq!(wire.len(), 3, "inside the header");
    server.close(now, CloseCode::NORMAL, "bye").unwrap();
    assert_eq!(server.poll_timeout(), Some(now + Duration::from_secs(5)));
    wire.extend(take_output(&mut server));
    let frames = parse_frames(&wire);
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[0].payload, data);
    assert_eq!(frames[1].close_code(), Some(1000));
}

#[test]
fn a_failed_connection_ends_once_its_close_frame_after_a_direct_write_is_out() {
    let now = Instant::now();
    let config = Config::default()
        .close_timeout(Some(Duration::from_secs(5)))
        .drain_timeout(Some(Duration::from_secs(1)));
    let mut client = open_client(now, config);
    let mut wire = Vec::new();
    let mut data = payload(0, 3000);
    client
        .send_binary_in_place(&mut data, |slices| {
            write_into(&mut wire, Take::AtMost(1500), slices)
        })
        .unwrap();
    client.fail(now, CloseCode::POLICY_VIOLATION, "no").unwrap();
    let close_frame_len = 2 + 4 + 4; // header, mask key, code and reason
    let rest = client.buffered_amount() - close_frame_len;
    let mut written = 0;
    while written < rest + close_frame_len - 1 {
        let bytes = client.poll_transmit().unwrap();
        let n = bytes.len().min(rest + close_frame_len - 1 - written);
        wire.extend_from_slice(&bytes[..n]);
        client.advance_transmit(n);
        written += n;
    }
    assert!(
        client.poll_timeout().unwrap() > now,
        "the close frame is not out yet"
    );
    wire.extend(take_output(&mut client));
    assert!(
        client.poll_timeout().unwrap() <= now,
        "nothing left to wait for"
    );
    client.handle_timeout(now);
    assert!(
        events(&mut client)
            .iter()
            .any(|e| matches!(e, Event::Closed(_)))
    );
    let frames = parse_frames(&wire);
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[0].payload, payload(0, 3000));
    assert_eq!(frames[1].close_code(), Some(1008));
}

#[test]
fn an_automatic_pong_is_never_spliced_into_a_frame_written_in_part() {
    let now = Instant::now();
    for take in [Take::Nothing, Take::AtMost(1), Take::AtMost(300), Take::All] {
        let mut server = open_server(now, Config::default());
        let mut wire = Vec::new();
        // A pong queued and written: the latest automatic one.
        server.receive(now, &client_frame(true, OpCode::Ping, b"1"));
        assert!(matches!(server.poll_event(), Some(Event::Ping(_))));
        wire.extend(take_output(&mut server));
        let data = payload(1, 500);
        server
            .send_binary_through(&data, |slices| write_into(&mut wire, take, slices))
            .unwrap();
        // Pings arrive while the rest waits (the peer is not reading): each
        // pong may replace the previous one, never the message's bytes.
        for ping in [b"2", b"3", b"4"] {
            server.receive(now, &client_frame(true, OpCode::Ping, ping));
            assert!(matches!(server.poll_event(), Some(Event::Ping(_))));
        }
        wire.extend(take_output(&mut server));
        let frames = parse_frames(&wire);
        let payloads: Vec<_> = frames.iter().map(|f| f.payload.clone()).collect();
        assert_eq!(payloads[..2], [b"1".to_vec(), data.clone()], "{take:?}");
        let pongs = &payloads[2..];
        assert!(
            !pongs.is_empty() && pongs.last().unwrap() == b"4",
            "{take:?}: {pongs:?}"
        );
    }
}
