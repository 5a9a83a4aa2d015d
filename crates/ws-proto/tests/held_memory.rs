//! What a connection holds, measured by `Connection::buffer_capacity()`,
//! against peers that try to make it hold more: pings answered while the
//! transport never quite catches up (the reproduction of a bug where the
//! written part of the output was never reclaimed), sends into a full
//! buffer, unfinished messages at the limit, and announced lengths that
//! never come. (A ping flood from a peer that never reads is in
//! `rfc6455_5_framing.rs`, section 5.5.3.)
//!
//! The bounds are the documented ones: the write buffer's limit plus a
//! fixed slack (about 400 KiB: written and spare blocks of at most 64 KiB),
//! a message being assembled within `max_message_size`, a frame received in
//! place within `max_frame_size` plus 64 KiB.

mod common;

use std::time::Instant;

use common::*;
use ws_proto::frame::OpCode;
use ws_proto::{Config, Connection, Event, SendError, State};

/// The writer's slack beyond its limit, with room for the descriptors.
const WRITE_SLACK: usize = 6 * ((64 << 10) + 14) + 131 + 4096;

/// Writes all but `keep` bytes of what `conn` has waiting; returns them.
fn write_all_but(conn: &mut Connection, keep: usize) -> Vec<u8> {
    let n = conn.buffered_amount().saturating_sub(keep);
    let mut out = Vec::new();
    while out.len() < n {
        let bytes = conn.poll_transmit().expect("bytes waiting");
        let step = bytes.len().min(n - out.len());
        out.extend_from_slice(&bytes[..step]);
        conn.advance_transmit(step);
    }
    out
}

#[test]
fn pings_answered_while_the_transport_never_catches_up_hold_a_few_pongs() {
    // The reported reproduction: 400,000 pings, the caller writing all but
    // a little of the output each time. The buffer grew to 67 MB with
    // 1,000 bytes waiting.
    for keep in [1, 1000] {
        let now = Instant::now();
        let mut client = open_client(now, Config::default());
        let ping = server_frame(true, OpCode::Ping, b"are you there?");
        let mut wire = Vec::new();
        let mut peak = 0;
        for _ in 0..400_000 {
            client.receive(now, &ping);
            while client.poll_event().is_some() {}
            wire.extend(write_all_but(&mut client, keep));
            peak = peak.max(client.buffer_capacity());
        }
        assert!(peak <= 64 << 10, "keep {keep}: {peak} bytes held");
        assert!(client.buffered_amount() <= keep + 2 * 20);
        wire.extend(take_output(&mut client));
        let frames = parse_frames(&wire);
        assert!(frames.iter().all(|f| f.opcode == OpCode::Pong));
        assert!(frames.iter().all(|f| f.payload == b"are you there?"));
        assert_eq!(client.state(), State::Open);
    }
}

#[test]
fn a_ping_burst_from_a_peer_that_reads_gets_a_pong_per_ping() {
    // Autobahn 2.10: ten pings in one read, ten pongs expected.
    let now = Instant::now();
    let mut client = open_client(now, Config::default());
    let mut burst = Vec::new();
    for i in 0..10u8 {
        burst.extend(server_frame(true, OpCode::Ping, &[i; 3]));
    }
    client.receive(now, &burst);
    assert_eq!(events(&mut client).len(), 10);
    let sent = output_frames(&mut client);
    let payloads: Vec<_> = sent.iter().map(|f| f.payload[0]).collect();
    assert_eq!(payloads, (0..10).collect::<Vec<_>>());
}

#[test]
fn application_pings_and_pongs_obey_the_write_buffer_limit() {
    let now = Instant::now();
    let config = Config::default().max_write_buffer(1 << 20);
    let mut client = open_client(now, config);
    while client.send_binary(&[0; 60_000]).is_ok() {}
    let before = client.buffered_amount();
    let mut refused = 0;
    for _ in 0..200_000 {
        refused += usize::from(matches!(
            client.send_ping(&[1; 125]),
            Err(SendError::WriteBufferFull { .. })
        ));
    }
    assert!(refused >= 200_000 - (1 << 20) / 131, "{refused} refused");
    assert!(client.buffered_amount() <= 1 << 20);
    assert!(matches!(
        client.send_pong(&[1; 125]),
        Err(SendError::WriteBufferFull { .. })
    ));
    assert!(client.buffered_amount() >= before);
    assert!(client.buffer_capacity() <= (1 << 20) + WRITE_SLACK);
}

#[test]
fn a_peer_that_never_reads_holds_the_limit_and_the_slack_not_twice_the_limit() {
    let now = Instant::now();
    let limit = 64 << 20; // the default
    let mut server = open_server(now, Config::default());
    let message = vec![5u8; 1_000_000];
    let mut accepted = 0;
    loop {
        match server.send_binary(&message) {
            Ok(()) => accepted += 1,
            Err(SendError::WriteBufferFull { limit: l, .. }) => {
                assert_eq!(l, limit);
                break;
            }
            Err(e) => panic!("{e}"),
        }
        // The transport takes a little now and then.
        let keep = server.buffered_amount().saturating_sub(1000);
        let _ = write_all_but(&mut server, keep);
    }
    assert!(accepted >= 66);
    let held = server.buffer_capacity();
    println!("held at the write-buffer limit: {held} bytes ({accepted} messages of 1 MB)");
    assert!(held <= limit + WRITE_SLACK, "{held}");
}

#[test]
fn an_unfinished_message_at_the_limit_holds_no_more_than_the_limit() {
    let now = Instant::now();
    let config = Config::default()
        .max_message_size(8 << 20)
        .max_frame_size(1 << 20);
    let mut server = open_server(now, config.clone());
    // Fragments of 1 MiB - 1 (every size on the way up), never finished.
    let fragment = vec![3u8; (1 << 20) - 1];
    server.receive(now, &client_frame(false, OpCode::Binary, &fragment));
    for _ in 0..7 {
        server.receive(now, &client_frame(false, OpCode::Continuation, &fragment));
        while server.poll_event().is_some() {}
    }
    let held = server.buffer_capacity();
    assert!(
        held <= config.max_message_size + (64 << 10),
        "{held} bytes held for 8 MiB"
    );
    assert_eq!(server.state(), State::Open);
}

#[test]
fn an_announced_length_that_never_comes_reserves_one_step() {
    for announced in [16u64 << 20, 3 << 20] {
        let now = Instant::now();
        let mut client = open_client(now, Config::default());
        let mut header = vec![0x82, 127];
        header.extend_from_slice(&announced.to_be_bytes());
        client.receive(now, &header);
        client.receive(now, &[0; 100]);
        assert_eq!(events(&mut client), []);
        let held = client.buffer_capacity();
        assert!(held <= (1 << 20) + (64 << 10) + 4096, "{held}");
    }
}

#[test]
fn a_large_frame_received_in_place_is_held_at_its_size_not_doubled() {
    let now = Instant::now();
    let mut client = open_client(now, Config::default());
    let payload = vec![9u8; 16 << 20];
    let frame = server_frame(true, OpCode::Binary, &payload);
    let mut peak = 0;
    for piece in frame.chunks(256 << 10) {
        client.receive(now, piece);
        peak = peak.max(client.buffer_capacity());
        if let Some(Event::Message(m)) = client.poll_event() {
            assert_eq!(m.len(), 16 << 20);
        }
    }
    assert!(peak <= (16 << 20) + (256 << 10) + (64 << 10), "{peak}");
}
