//! RFC 6455 section 5 (data framing) and section 8.1 (UTF-8 handling):
//! every rule, with the close code each violation is failed with.

mod common;

use std::time::Instant;

use common::*;
use ws_proto::frame::OpCode;
use ws_proto::{
    CloseCode, Config, Connection, Error, Event, Message, ProtocolError, SendError, State,
};
use ws_test_support::frames;

/// Feeds `bytes` to an open client and returns its events and what it sent.
fn client_receives(bytes: &[u8], config: Config) -> (Vec<Event>, Vec<WireFrame>) {
    let now = Instant::now();
    let mut client = open_client(now, config);
    client.receive(now, bytes);
    let events = events(&mut client);
    (events, output_frames(&mut client))
}

/// Asserts that `conn` has failed with `violation`, judging by the events
/// it reports and the frames it wants to send now.
fn assert_connection_failed(conn: &mut Connection, violation: ProtocolError) {
    let events = events(conn);
    assert_failed(&events, &output_frames(conn), violation);
}

/// Asserts that the connection was failed with `violation` and its code.
fn assert_failed(events: &[Event], sent: &[WireFrame], violation: ProtocolError) {
    let code = violation.close_code();
    assert!(
        events.contains(&Event::Error(Error::Protocol(violation.clone()))),
        "expected {violation:?} in {events:?}"
    );
    let closes: Vec<_> = sent.iter().filter(|f| f.opcode == OpCode::Close).collect();
    assert_eq!(closes.len(), 1, "one close frame: {sent:?}");
    assert_eq!(closes[0].close_code(), Some(code.0));
}

// ---- 5.1 overview: masking direction ------------------------------------------

#[test]
fn s5_1_a_masked_frame_from_the_server_fails_with_1002() {
    let (events, sent) = client_receives(
        &frames::encode(0x81, b"hi", Some([1, 2, 3, 4])),
        Config::default(),
    );
    assert_failed(&events, &sent, ProtocolError::MaskedFrameFromServer);
}

#[test]
fn s5_1_an_unmasked_frame_from_a_client_fails_with_1002() {
    let now = Instant::now();
    let mut server = open_server(now, Config::default());
    server.receive(now, &server_frame(true, OpCode::Text, b"hi"));
    assert_connection_failed(&mut server, ProtocolError::UnmaskedFrameFromClient);
}

#[test]
fn s5_3_every_client_frame_is_masked_with_a_fresh_key() {
    let now = Instant::now();
    let mut client = open_client(now, Config::default());
    let payload = b"the same payload every time";
    let mut wire = std::collections::HashSet::new();
    for _ in 0..200 {
        client.send_binary(payload).unwrap();
        let bytes = take_output(&mut client);
        let frames = parse_frames(&bytes);
        assert_eq!(frames.len(), 1);
        assert!(frames[0].masked);
        assert_eq!(frames[0].payload, payload, "unmasks to the payload");
        wire.insert(bytes);
    }
    // Equal payloads look different on the wire: the keys differ.
    assert!(wire.len() > 195, "only {} distinct encodings", wire.len());
}

#[test]
fn s5_3_server_frames_are_never_masked() {
    let now = Instant::now();
    let mut server = open_server(now, Config::default());
    server.send_text("x").unwrap();
    assert!(!output_frames(&mut server)[0].masked);
}

#[test]
fn s5_3_sending_leaves_the_callers_buffer_intact() {
    let now = Instant::now();
    let mut client = open_client(now, Config::default());
    let payload = vec![0xAB; 1000];
    client.send_binary(&payload).unwrap();
    assert_eq!(payload, vec![0xAB; 1000]);
}

// ---- 5.2 base framing protocol ------------------------------------------------

#[test]
fn s5_2_reserved_bits_without_an_extension_fail_with_1002() {
    for (rsv_bits, b0) in [(0b100, 0xC1), (0b010, 0xA1), (0b001, 0x91), (0b111, 0xF1)] {
        let (events, sent) = client_receives(&frames::encode(b0, b"hi", None), Config::default());
        assert_failed(&events, &sent, ProtocolError::ReservedBitsSet(rsv_bits));
    }
}

#[test]
fn s5_2_reserved_opcodes_fail_with_1002() {
    for op in [3u8, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
        let (events, sent) =
            client_receives(&frames::encode(0x80 | op, b"", None), Config::default());
        assert_failed(&events, &sent, ProtocolError::ReservedOpcode(op));
    }
}

#[test]
fn s5_2_a_64_bit_length_with_the_high_bit_set_fails_with_1002() {
    let mut frame = vec![0x82, 127];
    frame.extend_from_slice(&u64::MAX.to_be_bytes());
    let (events, sent) = client_receives(&frame, Config::default());
    assert_failed(&events, &sent, ProtocolError::InvalidPayloadLength);
}

#[test]
fn s5_2_every_length_class_decodes_under_any_split() {
    let mut r = rng(3);
    for len in [0usize, 1, 125, 126, 127, 0xFFFF, 0x1_0000, 200_000] {
        let payload: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        for max_piece in [1, 7, 4096, usize::MAX] {
            if max_piece == 1 && len > 0x1_0000 {
                continue; // byte at a time through 200 kB is slow for no new coverage
            }
            let now = Instant::now();
            let mut client = open_client(now, Config::default());
            let events = feed_split(
                &mut client,
                now,
                &server_frame(true, OpCode::Binary, &payload),
                &mut r,
                max_piece,
            );
            assert_eq!(
                events,
                [Event::Message(Message::Binary(payload.clone().into()))],
                "len {len} piece {max_piece}"
            );
        }
    }
}

#[test]
fn s5_2_a_client_receives_masked_client_frames_on_a_server() {
    let now = Instant::now();
    let mut server = open_server(now, Config::default());
    let mut r = rng(4);
    let mut bytes = client_frame(true, OpCode::Text, "héllo wörld".as_bytes());
    bytes.extend(client_frame(true, OpCode::Binary, &[1, 2, 3]));
    let events = feed_split(&mut server, now, &bytes, &mut r, 1);
    assert_eq!(
        events,
        [
            Event::Message(Message::Text("héllo wörld".into())),
            Event::Message(Message::Binary(vec![1, 2, 3].into()))
        ]
    );
}

// ---- 5.4 fragmentation --------------------------------------------------------

#[test]
fn s5_4_fragments_with_control_frames_between_them() {
    let mut bytes = server_frame(false, OpCode::Text, "frag".as_bytes());
    bytes.extend(server_frame(true, OpCode::Ping, b"p1"));
    bytes.extend(server_frame(false, OpCode::Continuation, "men".as_bytes()));
    bytes.extend(server_frame(true, OpCode::Pong, b"unsolicited"));
    bytes.extend(server_frame(true, OpCode::Continuation, "ted €".as_bytes()));
    for max_piece in [1, 3, 100] {
        let now = Instant::now();
        let mut client = open_client(now, Config::default());
        let events = feed_split(&mut client, now, &bytes, &mut rng(5), max_piece);
        assert_eq!(
            events,
            [
                Event::Ping(b"p1".to_vec().into()),
                Event::Pong(b"unsolicited".to_vec().into()),
                Event::Message(Message::Text("fragmented €".into())),
            ]
        );
        let sent = output_frames(&mut client);
        assert_eq!(sent.len(), 1);
        assert_eq!(
            (sent[0].opcode, sent[0].payload.as_slice()),
            (OpCode::Pong, &b"p1"[..])
        );
    }
}

#[test]
fn s5_4_a_continuation_without_a_message_fails_with_1002() {
    let (events, sent) = client_receives(
        &server_frame(true, OpCode::Continuation, b"x"),
        Config::default(),
    );
    assert_failed(&events, &sent, ProtocolError::UnexpectedContinuation);
}

#[test]
fn s5_4_a_new_message_inside_a_fragmented_one_fails_with_1002() {
    let mut bytes = server_frame(false, OpCode::Text, b"a");
    bytes.extend(server_frame(true, OpCode::Binary, b"b"));
    let (events, sent) = client_receives(&bytes, Config::default());
    assert_failed(&events, &sent, ProtocolError::ExpectedContinuation);
}

#[test]
fn s5_4_outgoing_messages_are_fragmented_at_the_configured_size() {
    let now = Instant::now();
    let config = Config::default().send_fragment_size(Some(10));
    let mut client = open_client(now, config);
    let text = "0123456789abcdefghij€€€";
    client.send_text(text).unwrap();
    let frames = output_frames(&mut client);
    let shape: Vec<_> = frames
        .iter()
        .map(|f| (f.fin, f.opcode, f.payload.len()))
        .collect();
    assert_eq!(
        shape,
        [
            (false, OpCode::Text, 10),
            (false, OpCode::Continuation, 10),
            (true, OpCode::Continuation, 9)
        ]
    );
    let joined: Vec<u8> = frames.iter().flat_map(|f| f.payload.clone()).collect();
    assert_eq!(joined, text.as_bytes());
    // An empty message is one frame.
    client.send_binary(b"").unwrap();
    let frames = output_frames(&mut client);
    assert_eq!(frames.len(), 1);
    assert!(frames[0].fin);
}

#[test]
fn s5_4_fragmented_messages_survive_a_pair_with_one_byte_reads() {
    let config = Config::default().send_fragment_size(Some(3));
    let mut pair = Pair::open(9, config, 1);
    pair.client
        .send_text("a message in many fragments, ünïcödé included")
        .unwrap();
    pair.server.send_binary(&[7; 50]).unwrap();
    pair.run();
    assert_eq!(
        pair.server_events,
        [Event::Message(Message::Text(
            "a message in many fragments, ünïcödé included".into()
        ))]
    );
    assert_eq!(
        pair.client_events,
        [Event::Message(Message::Binary(vec![7; 50].into()))]
    );
}

// ---- 5.5 control frames -------------------------------------------------------

#[test]
fn s5_5_a_control_frame_over_125_bytes_fails_with_1002() {
    let (events, sent) = client_receives(
        &server_frame(true, OpCode::Ping, &[0; 126]),
        Config::default(),
    );
    assert_failed(&events, &sent, ProtocolError::ControlFrameTooLong(126));
}

#[test]
fn s5_5_a_fragmented_control_frame_fails_with_1002() {
    let (events, sent) =
        client_receives(&server_frame(false, OpCode::Ping, b"x"), Config::default());
    assert_failed(&events, &sent, ProtocolError::FragmentedControlFrame);
}

#[test]
fn s5_5_2_pings_are_answered_with_the_same_payload() {
    let (events, sent) = client_receives(
        &server_frame(true, OpCode::Ping, &[9; 125]),
        Config::default(),
    );
    assert_eq!(events, [Event::Ping(vec![9; 125].into())]);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].opcode, sent[0].payload.clone()),
        (OpCode::Pong, vec![9; 125])
    );
}

#[test]
fn s5_5_2_auto_pong_can_be_turned_off() {
    let config = Config::default().auto_pong(false);
    let now = Instant::now();
    let mut client = open_client(now, config);
    client.receive(now, &server_frame(true, OpCode::Ping, b"x"));
    assert_eq!(events(&mut client), [Event::Ping(b"x".to_vec().into())]);
    assert!(client.poll_transmit().is_none());
    client.send_pong(b"x").unwrap();
    assert_eq!(output_frames(&mut client)[0].opcode, OpCode::Pong);
}

#[test]
fn s5_5_control_payloads_sent_are_limited_to_125_bytes() {
    let now = Instant::now();
    let mut client = open_client(now, Config::default());
    assert_eq!(
        client.send_ping(&[0; 126]),
        Err(SendError::ControlPayloadTooLong(126))
    );
    client.send_ping(&[0; 125]).unwrap();
}

// ---- 5.6 data frames / 8.1 UTF-8 ----------------------------------------------

#[test]
fn s8_1_invalid_utf8_fails_with_1007() {
    let (events, sent) = client_receives(
        &server_frame(true, OpCode::Text, b"ok \xff"),
        Config::default(),
    );
    assert_failed(&events, &sent, ProtocolError::InvalidUtf8);
}

#[test]
fn s8_1_invalid_utf8_is_found_as_soon_as_it_arrives_mid_frame() {
    let now = Instant::now();
    let mut client = open_client(now, Config::default());
    let mut payload = "κόσμε".as_bytes().to_vec();
    payload.extend_from_slice(&[0xF4, 0x90, 0x80, 0x80]); // beyond U+10FFFF
    payload.extend_from_slice(&[b'x'; 1000]);
    let frame = server_frame(true, OpCode::Text, &payload);
    // Up to and including the first impossible byte (0x90), not the rest.
    let cut = frame.len() - 1000 - 2;
    client.receive(now, &frame[..cut - 1]);
    assert_eq!(events(&mut client), []);
    client.receive(now, &frame[cut - 1..cut]);
    assert_connection_failed(&mut client, ProtocolError::InvalidUtf8);
}

#[test]
fn s8_1_utf8_is_checked_across_fragments() {
    let euro = "€".as_bytes();
    let mut bytes = server_frame(false, OpCode::Text, &euro[..1]);
    bytes.extend(server_frame(false, OpCode::Continuation, &euro[1..2]));
    bytes.extend(server_frame(true, OpCode::Continuation, &euro[2..]));
    let (events, _) = client_receives(&bytes, Config::default());
    assert_eq!(events, [Event::Message(Message::Text("€".into()))]);

    // A message that ends inside a code point is invalid.
    let mut bytes = server_frame(false, OpCode::Text, b"a");
    bytes.extend(server_frame(true, OpCode::Continuation, &euro[..2]));
    let (events, sent) = client_receives(&bytes, Config::default());
    assert_failed(&events, &sent, ProtocolError::InvalidUtf8);
}

#[test]
fn s5_6_binary_messages_are_not_checked_as_utf8() {
    let (events, _) = client_receives(
        &server_frame(true, OpCode::Binary, b"\xff\xfe"),
        Config::default(),
    );
    assert_eq!(
        events,
        [Event::Message(Message::Binary(b"\xff\xfe".to_vec().into()))]
    );
}

#[test]
fn s5_6_empty_messages() {
    let mut bytes = server_frame(true, OpCode::Text, b"");
    bytes.extend(server_frame(true, OpCode::Binary, b""));
    let (events, _) = client_receives(&bytes, Config::default());
    assert_eq!(
        events,
        [
            Event::Message(Message::Text("".into())),
            Event::Message(Message::Binary(Vec::new().into()))
        ]
    );
}

// ---- limits (section 10.4) -------------------------------------------------------

#[test]
fn s10_4_a_frame_over_the_limit_fails_with_1009_before_its_payload_arrives() {
    let config = Config::default().max_frame_size(1000);
    let mut header = vec![0x82, 127];
    header.extend_from_slice(&(1u64 << 40).to_be_bytes()); // announces a terabyte
    let now = Instant::now();
    let mut client = open_client(now, config);
    client.receive(now, &header);
    assert_connection_failed(
        &mut client,
        ProtocolError::FrameTooLarge {
            size: 1 << 40,
            limit: 1000,
        },
    );
    assert!(
        client.buffer_capacity() < 64 << 10,
        "nothing near the announced size was allocated"
    );
}

#[test]
fn s10_4_a_large_announced_frame_within_the_limit_is_not_reserved_up_front() {
    let now = Instant::now();
    let mut client = open_client(now, Config::default());
    let mut header = vec![0x82, 127];
    header.extend_from_slice(&(16u64 << 20).to_be_bytes()); // 16 MiB, the default limit
    client.receive(now, &header);
    assert_eq!(events(&mut client), []);
    assert!(
        client.buffer_capacity() <= 2 << 20,
        "reserved {}",
        client.buffer_capacity()
    );
}

#[test]
fn s10_4_a_message_over_the_limit_across_fragments_fails_with_1009() {
    let config = Config::default().max_message_size(10);
    let mut bytes = server_frame(false, OpCode::Binary, &[0; 6]);
    bytes.extend(server_frame(true, OpCode::Continuation, &[0; 6]));
    let (events, sent) = client_receives(&bytes, config);
    assert_failed(
        &events,
        &sent,
        ProtocolError::MessageTooLarge {
            size: 12,
            limit: 10,
        },
    );
}

#[test]
fn s10_4_a_control_payload_over_the_configured_limit_fails_with_1009() {
    let config = Config::default().max_control_payload(8);
    let (events, sent) = client_receives(&server_frame(true, OpCode::Ping, &[0; 9]), config);
    assert_failed(
        &events,
        &sent,
        ProtocolError::ControlPayloadTooLarge { size: 9, limit: 8 },
    );
}

#[test]
fn s10_4_the_write_buffer_limit_refuses_a_send_and_queues_nothing() {
    let now = Instant::now();
    let config = Config::default().max_write_buffer(1000);
    let mut client = open_client(now, config);
    client.send_binary(&[0; 500]).unwrap();
    let before = client.buffered_amount();
    let err = client.send_binary(&[0; 500]).unwrap_err();
    assert!(
        matches!(err, SendError::WriteBufferFull { limit: 1000, .. }),
        "{err}"
    );
    assert_eq!(client.buffered_amount(), before);
    take_output(&mut client);
    client.send_binary(&[0; 500]).unwrap();
}

// ---- failing the connection (7.1.7) ------------------------------------------------

#[test]
fn s7_1_7_a_message_before_a_violation_is_delivered_and_can_be_answered_first() {
    let now = Instant::now();
    let mut client = open_client(now, Config::default());
    let mut bytes = server_frame(true, OpCode::Text, b"echo me");
    bytes.extend(frames::encode(0xC1, b"bad", None));
    client.receive(now, &bytes);
    let first = client.poll_event();
    assert_eq!(first, Some(Event::Message(Message::Text("echo me".into()))));
    client.send_text("echo me").unwrap();
    let rest = events(&mut client);
    assert!(matches!(
        rest[0],
        Event::Error(Error::Protocol(ProtocolError::ReservedBitsSet(4)))
    ));
    let sent = output_frames(&mut client);
    assert_eq!(sent[0].payload, b"echo me");
    assert_eq!(sent[1].close_code(), Some(1002));
}

#[test]
fn s7_1_7_failure_is_sticky_and_the_close_frame_goes_out_once() {
    let now = Instant::now();
    let mut client = open_client(now, Config::default());
    client.receive(now, &frames::encode(0xC1, b"bad", None));
    let _ = events(&mut client);
    assert_eq!(client.state(), State::Closing);
    assert_eq!(
        client.send_text("x"),
        Err(SendError::NotOpen(State::Closing))
    );
    assert_eq!(
        client.send_ping(b""),
        Err(SendError::NotOpen(State::Closing))
    );
    client.receive(now, &frames::encode(0xC1, b"bad again", None));
    client.receive(now, &server_frame(true, OpCode::Text, b"ignored"));
    assert_eq!(events(&mut client), []);
    let closes = output_frames(&mut client)
        .iter()
        .filter(|f| f.opcode == OpCode::Close)
        .count();
    assert_eq!(closes, 1);
    // The frame boundaries are lost, so nothing more is read: the end of
    // the transport closes with the code sent, not cleanly.
    client.receive_eof();
    let closed = events(&mut client);
    assert!(
        matches!(&closed[..], [Event::Closed(c)] if c.code == CloseCode::PROTOCOL_ERROR && !c.was_clean)
    );
}

#[test]
fn s8_1_invalid_utf8_in_a_continuation_spread_over_reads_is_found_as_it_arrives() {
    let now = Instant::now();
    let mut client = open_client(now, Config::default());
    let mut payload = vec![b'a'; 100];
    payload.push(0xFF);
    payload.extend([b'b'; 100]);
    let cont = server_frame(true, OpCode::Continuation, &payload); // 4-byte header
    let mut first = server_frame(false, OpCode::Text, b"start ");
    first.extend_from_slice(&cont[..54]);
    client.receive(now, &first);
    assert_eq!(events(&mut client), []);
    client.receive(now, &cont[54..104]); // valid, straight into the message
    assert_eq!(events(&mut client), []);
    client.receive(now, &cont[104..106]); // the 0xFF
    assert_connection_failed(&mut client, ProtocolError::InvalidUtf8);
}

#[test]
fn s5_4_a_large_fragment_over_many_reads_is_assembled_intact() {
    let now = Instant::now();
    let mut client = open_client(now, Config::default());
    let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let mut bytes = server_frame(false, OpCode::Binary, &payload[..10]);
    bytes.extend(server_frame(true, OpCode::Continuation, &payload[10..]));
    let events = feed_split(&mut client, now, &bytes, &mut rng(11), 3000);
    assert_eq!(events, [Event::Message(Message::Binary(payload.into()))]);
}

#[test]
fn s7_1_7_no_message_is_delivered_after_a_violation() {
    // Found by fuzzing: a single-frame message after an error that keeps
    // the framing used to be delivered between Error and Closed.
    let mut bytes = server_frame(true, OpCode::Continuation, b"");
    bytes.extend(server_frame(true, OpCode::Binary, b"A"));
    let now = Instant::now();
    let mut client = open_client(now, Config::default());
    client.receive(now, &bytes);
    client.receive_eof();
    let events = events(&mut client);
    assert!(
        matches!(
            &events[..],
            [
                Event::Error(Error::Protocol(ProtocolError::UnexpectedContinuation)),
                Event::Closed(_)
            ]
        ),
        "{events:?}"
    );
}

#[test]
fn s5_5_3_a_ping_flood_from_a_peer_that_never_reads_costs_one_pong() {
    for server_role in [false, true] {
        let now = Instant::now();
        let (mut conn, ping) = if server_role {
            let ping = client_frame(true, OpCode::Ping, &[7; 125]);
            (open_server(now, Config::default()), ping)
        } else {
            let ping = server_frame(true, OpCode::Ping, &[7; 125]);
            (open_client(now, Config::default()), ping)
        };
        for _ in 0..100_000 {
            conn.receive(now, &ping);
            while conn.poll_event().is_some() {}
        }
        // Nothing was written out: each pong replaced the one before.
        assert!(
            conn.buffered_amount() <= 131,
            "{} bytes queued",
            conn.buffered_amount()
        );
        assert!(
            conn.buffer_capacity() <= 4 << 10,
            "{}",
            conn.buffer_capacity()
        );
        assert_eq!(conn.state(), State::Open);
        let sent = output_frames(&mut conn);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].opcode, OpCode::Pong);
        // Once the transport drains, pings are answered again.
        conn.receive(now, &ping);
        let events = events(&mut conn);
        assert!(matches!(events[..], [Event::Ping(_)]));
        let sent = output_frames(&mut conn);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].opcode, OpCode::Pong);
    }
}
