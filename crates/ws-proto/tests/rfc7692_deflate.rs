//! RFC 7692 (permessage-deflate): negotiation in both roles, every
//! parameter, the framing rules of RSV1, context takeover, fragmentation,
//! and the limits on inflated messages (decompression bombs).

mod common;

use std::time::Instant;

use common::deflate::*;
use common::*;
use proptest::prelude::*;
use ws_proto::frame::OpCode;
use ws_proto::{
    CloseCode, Config, DeflateConfig, DeflateParams, Error, Event, HandshakeError, Message,
    ProtocolError,
};
use ws_test_support::frames;

const RSV1: u8 = 0b100;

fn params(client: u8, server: u8, client_nct: bool, server_nct: bool) -> DeflateParams {
    DeflateParams {
        client_max_window_bits: client,
        server_max_window_bits: server,
        client_no_context_takeover: client_nct,
        server_no_context_takeover: server_nct,
    }
}

/// An open client that agreed to `answer` (default deflate settings otherwise).
fn deflate_client(config: Config, answer: &str) -> ws_proto::Connection {
    let (client, _, events) = client_answered(config, Some(answer));
    assert!(matches!(events[..], [Event::Open(_)]), "{events:?}");
    assert!(client.deflate().is_some());
    client
}

/// Asserts the connection failed with `violation`: the error event, and
/// one close frame with its code.
fn assert_failed(conn: &mut ws_proto::Connection, violation: ProtocolError) {
    let events = events(conn);
    assert!(
        events.contains(&Event::Error(Error::Protocol(violation.clone()))),
        "expected {violation:?} in {events:?}"
    );
    let closes: Vec<_> = output_frames(conn)
        .into_iter()
        .filter(|f| f.opcode == OpCode::Close)
        .collect();
    assert_eq!(closes.len(), 1);
    assert_eq!(closes[0].close_code(), Some(violation.close_code().0));
}

// ---- negotiation: the client's offer -------------------------------------------

#[test]
fn s7_1_the_offer_follows_the_config() {
    let cases = [
        (None, None),
        (
            Some(DeflateConfig::default()),
            Some("permessage-deflate; client_max_window_bits"),
        ),
        (
            Some(
                DeflateConfig::default()
                    .client_max_window_bits(12)
                    .server_max_window_bits(8)
                    .client_no_context_takeover(true)
                    .server_no_context_takeover(true),
            ),
            Some(
                "permessage-deflate; client_max_window_bits=12; server_max_window_bits=8; \
                 client_no_context_takeover; server_no_context_takeover",
            ),
        ),
        (
            // 8 for the window this side compresses with is read as 9.
            Some(
                DeflateConfig::default()
                    .client_max_window_bits(8)
                    .server_max_window_bits(99),
            ),
            Some("permessage-deflate; client_max_window_bits=9"),
        ),
    ];
    for (deflate, expected) in cases {
        let config = Config::default().deflate(deflate);
        let (_, offer, _) = client_answered(config, None);
        assert_eq!(offer.as_deref(), expected);
    }
}

// ---- negotiation: the client checks the answer ---------------------------------

#[test]
fn s7_1_the_client_accepts_every_answer_the_rfc_allows() {
    let limited = DeflateConfig::default()
        .client_max_window_bits(12)
        .server_max_window_bits(10);
    let wants_no_server_context = DeflateConfig::default().server_no_context_takeover(true);
    let offers_no_client_context = DeflateConfig::default().client_no_context_takeover(true);
    let d = DeflateConfig::default;
    let cases = [
        (d(), "permessage-deflate", params(15, 15, false, false)),
        (d(), "PerMessage-Deflate", params(15, 15, false, false)),
        (
            d(),
            "permessage-deflate; client_max_window_bits=10; server_max_window_bits=12; \
             server_no_context_takeover; client_no_context_takeover",
            params(10, 12, true, true),
        ),
        // Quoted values, odd spacing.
        (
            d(),
            "permessage-deflate ;server_max_window_bits = \"9\"",
            params(15, 9, false, false),
        ),
        // A server may limit its own window unasked, and ask for no client
        // context unasked.
        (
            d(),
            "permessage-deflate; server_max_window_bits=8; client_no_context_takeover",
            params(15, 8, true, false),
        ),
        // The client's window of 8 is accepted (and honoured by sending
        // uncompressed).
        (
            d(),
            "permessage-deflate; client_max_window_bits=8",
            params(8, 15, false, false),
        ),
        (
            limited.clone(),
            "permessage-deflate; server_max_window_bits=10",
            params(12, 10, false, false),
        ),
        (
            limited,
            "permessage-deflate; server_max_window_bits=9; client_max_window_bits=11",
            params(11, 9, false, false),
        ),
        (
            wants_no_server_context,
            "permessage-deflate; server_no_context_takeover",
            params(15, 15, false, true),
        ),
        // What the client offered holds whether or not the server repeats it.
        (
            offers_no_client_context,
            "permessage-deflate",
            params(15, 15, true, false),
        ),
    ];
    for (config, answer, expected) in cases {
        let client = deflate_client(deflate_config(config), answer);
        assert_eq!(client.deflate(), Some(expected), "{answer}");
    }
}

#[test]
fn s7_1_a_declined_offer_opens_without_compression() {
    let (mut client, offer, events) = client_answered(deflate_all(), None);
    assert!(offer.is_some());
    assert!(matches!(events[..], [Event::Open(_)]));
    assert_eq!(client.deflate(), None);
    client.send_text(&"x".repeat(1000)).unwrap();
    let frames = output_frames(&mut client);
    assert_eq!((frames[0].rsv, frames[0].payload.len()), (0, 1000));
}

#[test]
fn s7_1_the_client_fails_on_an_answer_it_did_not_ask_for_or_that_is_malformed() {
    let invalid = |why: &str| HandshakeError::InvalidExtension(why.to_owned());
    let unexpected = |name: &str| HandshakeError::UnexpectedExtension(name.to_owned());
    let limited = DeflateConfig::default()
        .client_max_window_bits(10)
        .server_max_window_bits(10)
        .server_no_context_takeover(true);
    let d = DeflateConfig::default;
    let cases: Vec<(Option<DeflateConfig>, &str, HandshakeError)> = vec![
        (None, "permessage-deflate", unexpected("permessage-deflate")),
        (
            Some(d()),
            "x-webkit-deflate-frame",
            unexpected("x-webkit-deflate-frame"),
        ),
        (Some(d()), "permessage-deflate, x-foo", unexpected("x-foo")),
        (
            Some(d()),
            "permessage-deflate, permessage-deflate",
            invalid("permessage-deflate accepted twice"),
        ),
        (
            Some(d()),
            "permessage-deflate; foo",
            invalid("permessage-deflate: unknown parameter \"foo\""),
        ),
        (
            Some(d()),
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            invalid("permessage-deflate: server_no_context_takeover appears twice"),
        ),
        (
            Some(d()),
            "permessage-deflate; server_no_context_takeover=1",
            invalid("permessage-deflate: server_no_context_takeover takes no value (got \"1\")"),
        ),
        (
            Some(d()),
            "permessage-deflate; client_no_context_takeover=\"x\"",
            invalid("permessage-deflate: client_no_context_takeover takes no value (got \"x\")"),
        ),
        (
            Some(d()),
            "permessage-deflate; server_max_window_bits",
            invalid("permessage-deflate: server_max_window_bits needs a value"),
        ),
        (
            Some(d()),
            "permessage-deflate; server_max_window_bits=16",
            invalid("permessage-deflate: server_max_window_bits=\"16\" is not 8 to 15"),
        ),
        (
            Some(d()),
            "permessage-deflate; server_max_window_bits=7",
            invalid("permessage-deflate: server_max_window_bits=\"7\" is not 8 to 15"),
        ),
        (
            Some(d()),
            "permessage-deflate; client_max_window_bits=010",
            invalid("permessage-deflate: client_max_window_bits=\"010\" is not 8 to 15"),
        ),
        (
            Some(d()),
            "permessage-deflate; client_max_window_bits",
            invalid("permessage-deflate: client_max_window_bits needs a value in an answer"),
        ),
        (
            Some(limited.clone()),
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=11",
            invalid("permessage-deflate: client_max_window_bits=11 is over the offered 10"),
        ),
        (
            Some(limited.clone()),
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=11",
            invalid("permessage-deflate: server_max_window_bits=11 is over the offered 10"),
        ),
        (
            Some(limited.clone()),
            "permessage-deflate; server_no_context_takeover",
            invalid(
                "permessage-deflate: server_max_window_bits was asked for (10) and not answered",
            ),
        ),
        (
            Some(limited),
            "permessage-deflate; server_max_window_bits=10",
            invalid(
                "permessage-deflate: server_no_context_takeover was asked for and not answered",
            ),
        ),
        (
            Some(d()),
            "permessage-deflate;",
            invalid("expected a token at \"\""),
        ),
        (
            Some(d()),
            "permessage-deflate; server_max_window_bits=\"1",
            invalid("unterminated quoted string \"\\\"1\""),
        ),
    ];
    for (deflate, answer, expected) in cases {
        let config = Config::default().deflate(deflate);
        let (client, _, events) = client_answered(config, Some(answer));
        assert_eq!(
            events.first(),
            Some(&Event::Error(Error::Handshake(expected))),
            "{answer}"
        );
        assert!(matches!(events.last(), Some(Event::Closed(c)) if c.code == CloseCode::ABNORMAL));
        assert_eq!(client.state(), ws_proto::State::Closed);
    }
}

#[test]
fn s7_1_handshake_errors_say_what_is_wrong() {
    let (_, _, events) = client_answered(
        deflate_all(),
        Some("permessage-deflate; client_max_window_bits"),
    );
    let Event::Error(e) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(
        e.to_string(),
        "opening handshake failed: invalid Sec-WebSocket-Extensions answer: \
         permessage-deflate: client_max_window_bits needs a value in an answer"
    );
}

// ---- negotiation: the server's choice --------------------------------------------

#[test]
fn s7_1_the_server_accepts_the_first_offer_it_can_honour() {
    let d = DeflateConfig::default;
    // (server settings, the client's offers, the answer, what is agreed)
    type Case = (
        Option<DeflateConfig>,
        Option<&'static str>,
        Option<&'static str>,
        Option<DeflateParams>,
    );
    let cases: Vec<Case> = vec![
        (None, Some("permessage-deflate"), None, None),
        (Some(d()), None, None, None),
        (Some(d()), Some("x-foo"), None, None),
        (
            Some(d()),
            Some("permessage-deflate; client_max_window_bits"),
            Some("permessage-deflate"),
            Some(params(15, 15, false, false)),
        ),
        (
            Some(d()),
            Some("x-foo; a=1, permessage-deflate"),
            Some("permessage-deflate"),
            Some(params(15, 15, false, false)),
        ),
        // 8 for the server's own window cannot be honoured: the next offer is.
        (
            Some(d()),
            Some(
                "permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=9",
            ),
            Some("permessage-deflate; server_max_window_bits=9"),
            Some(params(15, 9, false, false)),
        ),
        (
            Some(d()),
            Some("permessage-deflate; server_max_window_bits=8"),
            None,
            None,
        ),
        // Invalid offers are declined, not fatal.
        (
            Some(d()),
            Some(
                "permessage-deflate; unknown, permessage-deflate; server_max_window_bits=16, \
                  permessage-deflate; client_max_window_bits; client_max_window_bits, \
                  permessage-deflate; server_max_window_bits=12",
            ),
            Some("permessage-deflate; server_max_window_bits=12"),
            Some(params(15, 12, false, false)),
        ),
        (
            Some(d()),
            Some(
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
                  client_max_window_bits=12",
            ),
            Some(
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
                  client_max_window_bits=12",
            ),
            Some(params(12, 15, true, true)),
        ),
        // The server's own limits.
        (
            Some(
                d().server_max_window_bits(11)
                    .server_no_context_takeover(true)
                    .client_no_context_takeover(true),
            ),
            Some("permessage-deflate; client_max_window_bits"),
            Some(
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
                  server_max_window_bits=11",
            ),
            Some(params(15, 11, true, true)),
        ),
        (
            Some(d().client_max_window_bits(10)),
            Some("permessage-deflate, permessage-deflate; client_max_window_bits=12"),
            Some("permessage-deflate; client_max_window_bits=10"),
            Some(params(10, 15, false, false)),
        ),
        // A client window limit needs the client to have offered one.
        (
            Some(d().client_max_window_bits(10)),
            Some("permessage-deflate"),
            None,
            None,
        ),
        // Server config 8 for its own window is read as 9.
        (
            Some(d().server_max_window_bits(8)),
            Some("permessage-deflate"),
            Some("permessage-deflate; server_max_window_bits=9"),
            Some(params(15, 9, false, false)),
        ),
        // A header that does not parse declines everything.
        (Some(d()), Some("permessage-deflate; a=\"1"), None, None),
    ];
    for (deflate, offer, answer, agreed) in cases {
        let config = Config::default().deflate(deflate);
        let (server, got, events) = server_offered(config, offer);
        assert!(
            matches!(events[..], [Event::Open(_)]),
            "{offer:?}: {events:?}"
        );
        let squeeze = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(got.map(|s| squeeze(&s)), answer.map(squeeze), "{offer:?}");
        assert_eq!(server.deflate(), agreed, "{offer:?}");
    }
}

#[test]
fn s7_1_both_ends_agree_on_every_combination_of_parameters() {
    let bits = [8u8, 9, 12, 15];
    let mut seed = 0;
    for &client_window in &bits {
        for &server_window in &bits {
            for nct in 0..4 {
                seed += 1;
                let client = DeflateConfig::default()
                    .client_max_window_bits(client_window)
                    .server_max_window_bits(server_window)
                    .client_no_context_takeover(nct & 1 != 0)
                    .server_no_context_takeover(nct & 2 != 0)
                    .compression_threshold(0);
                let server = DeflateConfig::default().compression_threshold(0);
                let mut pair = Pair::new(seed, deflate_config(client), deflate_config(server), 50);
                pair.run();
                let agreed = pair.client.deflate();
                assert_eq!(agreed, pair.server.deflate());
                // Only a server window of 8 is declined.
                assert_eq!(
                    agreed.is_some(),
                    server_window != 8,
                    "{client_window} {server_window}"
                );
                if let Some(agreed) = agreed {
                    assert_eq!(agreed.client_max_window_bits, client_window.max(9));
                    assert_eq!(agreed.server_max_window_bits, server_window);
                    assert_eq!(agreed.client_no_context_takeover, nct & 1 != 0);
                    assert_eq!(agreed.server_no_context_takeover, nct & 2 != 0);
                }
                exchange(&mut pair, 5);
            }
        }
    }
}

/// Sends `n` messages each way and checks they arrive intact.
fn exchange(pair: &mut Pair, n: usize) {
    pair.client_events.clear();
    pair.server_events.clear();
    let text = |i: usize| format!("{{\"seq\":{i},\"body\":\"{}\"}}", "hello ".repeat(i * 30));
    for i in 0..n {
        pair.client.send_text(&text(i)).unwrap();
        pair.server.send_binary(text(i).as_bytes()).unwrap();
    }
    pair.run();
    let expected = |binary: bool| -> Vec<Event> {
        (0..n)
            .map(|i| {
                Event::Message(if binary {
                    Message::Binary(text(i).into_bytes().into())
                } else {
                    Message::Text(text(i).into())
                })
            })
            .collect()
    };
    assert_eq!(pair.server_events, expected(false));
    assert_eq!(pair.client_events, expected(true));
}

// ---- the transform (7.2) -----------------------------------------------------------

#[test]
fn s7_2_3_1_the_rfc_example_hello_on_the_wire() {
    let mut client = deflate_client(deflate_all(), "permessage-deflate");
    // Section 7.2.3.1: "Hello" in one compressed frame.
    client.receive(
        Instant::now(),
        &[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
    );
    assert_eq!(
        events(&mut client),
        [Event::Message(Message::Text("Hello".into()))]
    );
    // Section 7.2.3.2: the same, fragmented in two frames.
    client.receive(
        Instant::now(),
        &[
            0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00,
        ],
    );
    // (With context takeover the second "Hello" is inflated after the first.)
    assert_eq!(
        events(&mut client),
        [Event::Message(Message::Text("Hello".into()))]
    );
    // What the client sends: RSV1 on the frame, the same deflate bytes.
    let mut fresh = deflate_client(deflate_all(), "permessage-deflate");
    fresh.send_text("Hello").unwrap();
    let frames = output_frames(&mut fresh);
    assert_eq!(frames[0].rsv, RSV1);
    assert_eq!(
        frames[0].payload,
        [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
    );
}

#[test]
fn s7_2_3_6_empty_messages_compressed_either_way() {
    let mut client = deflate_client(deflate_all(), "permessage-deflate");
    let mut peer = PeerDeflater::new(15);
    // The RFC's form (an empty stored block), then no payload at all (read
    // as an empty message too), then a message that must still inflate.
    let mut wire = frames::encode(0xc1, &[0x00], None);
    wire.extend(frames::encode(0xc1, &[], None));
    wire.extend(frames::encode(0xc1, &peer.message(b"after"), None));
    client.receive(Instant::now(), &wire);
    assert_eq!(
        events(&mut client),
        [
            Event::Message(Message::Text("".into())),
            Event::Message(Message::Text("".into())),
            Event::Message(Message::Text("after".into())),
        ]
    );
    client.send_text("").unwrap();
    let frames = output_frames(&mut client);
    assert_eq!((frames[0].rsv, &frames[0].payload[..]), (RSV1, &[0x00][..]));
}

#[test]
fn s7_2_messages_under_the_threshold_go_uncompressed() {
    let config = deflate_config(DeflateConfig::default().compression_threshold(100));
    let mut client = deflate_client(config, "permessage-deflate");
    client.send_text(&"a".repeat(99)).unwrap();
    client.send_text(&"a".repeat(100)).unwrap();
    client.send_binary_owned(vec![7; 100_000]).unwrap();
    let frames = output_frames(&mut client);
    assert_eq!((frames[0].rsv, frames[0].payload.len()), (0, 99));
    assert_eq!(frames[1].rsv, RSV1);
    assert!(frames[1].payload.len() < 20);
    assert_eq!(frames[2].rsv, RSV1);
    assert!(frames[2].payload.len() < 1000);
}

#[test]
fn s7_2_a_client_told_to_use_a_window_of_8_sends_uncompressed() {
    let mut client = deflate_client(
        deflate_all(),
        "permessage-deflate; client_max_window_bits=8",
    );
    client.send_text(&"compressible ".repeat(100)).unwrap();
    let frames = output_frames(&mut client);
    assert_eq!((frames[0].rsv, frames[0].payload.len()), (0, 1300));
    // It still inflates what the server compresses.
    let mut peer = PeerDeflater::new(15);
    let payload = peer.message(b"from the server");
    client.receive(
        Instant::now(),
        &frames::encode(0x80 | 0x40 | 0x1, &payload, None),
    );
    assert_eq!(
        events(&mut client),
        [Event::Message(Message::Text("from the server".into()))]
    );
}

#[test]
fn s7_2_context_takeover_shrinks_similar_messages_and_can_be_turned_off() {
    let message = |i: usize| {
        format!(
            r#"{{"type":"ticker","product_id":"BTC-USD","price":"{}.{:02}","best_bid":"43120.00","best_ask":"43121.50","volume_24h":"12345.6789","sequence":{}}}"#,
            43000 + i,
            i % 100,
            1_000_000 + i
        )
    };
    let n = 200;
    let raw: usize = (0..n).map(|i| message(i).len()).sum();
    // Bytes the client queues for `n` messages under each setting.
    let sent = |deflate: Option<DeflateConfig>| {
        let config = Config::default().deflate(deflate);
        let mut pair = Pair::open(1, config, 1 << 20);
        for i in 0..n {
            pair.client.send_text(&message(i)).unwrap();
        }
        let queued = pair.client.buffered_amount();
        pair.run();
        let expected: Vec<Event> = (0..n)
            .map(|i| Event::Message(Message::Text(message(i).into())))
            .collect();
        assert_eq!(pair.server_events, expected);
        queued
    };
    let plain = sent(None);
    let takeover = sent(Some(DeflateConfig::default()));
    let no_takeover = sent(Some(
        DeflateConfig::default().client_no_context_takeover(true),
    ));
    println!(
        "{n} ticker messages, {raw} bytes: plain {plain}, deflate {takeover} \
         ({:.1}x), without context takeover {no_takeover} ({:.1}x)",
        plain as f64 / takeover as f64,
        plain as f64 / no_takeover as f64
    );
    assert!(plain > raw);
    assert!(takeover * 4 < plain, "takeover {takeover} vs plain {plain}");
    assert!(takeover * 2 < no_takeover, "{takeover} vs {no_takeover}");
    assert!(no_takeover < plain);
}

#[test]
fn s7_2_server_no_context_takeover_is_honoured_by_the_server() {
    // The client asks; every message from the server must then inflate
    // with a fresh window: a peer inflating each one alone reads it.
    let config = deflate_config(
        DeflateConfig::default()
            .server_no_context_takeover(true)
            .compression_threshold(0),
    );
    let mut pair = Pair::open(3, config, 1 << 20);
    let message = "the same message, again and again";
    for _ in 0..3 {
        pair.server.send_text(message).unwrap();
    }
    let frames = parse_frames(&take_output(&mut pair.server));
    assert_eq!(frames.len(), 3);
    assert!(
        frames
            .iter()
            .all(|f| f.rsv == RSV1 && f.payload == frames[0].payload)
    );
}

#[test]
fn s7_2_fragmented_compressed_messages_both_ways() {
    // Sent: fragmented after compression, RSV1 on the first frame only.
    let config = deflate_all().send_fragment_size(Some(7));
    let mut client = deflate_client(config.clone(), "permessage-deflate");
    let text = "fragmented and compressed ".repeat(20);
    client.send_text(&text).unwrap();
    let frames = output_frames(&mut client);
    assert!(frames.len() > 3);
    assert_eq!((frames[0].opcode, frames[0].rsv), (OpCode::Text, RSV1));
    assert!(
        frames[1..]
            .iter()
            .all(|f| f.opcode == OpCode::Continuation && f.rsv == 0)
    );
    assert!(frames[..frames.len() - 1].iter().all(|f| !f.fin));
    assert!(frames.last().unwrap().fin);

    // Received: compressed data split over frames anywhere, with a ping
    // between fragments, fed a byte at a time.
    let mut client = deflate_client(deflate_all(), "permessage-deflate");
    let mut peer = PeerDeflater::new(15);
    let payload = peer.message(text.as_bytes());
    let (a, rest) = payload.split_at(1);
    let (b, c) = rest.split_at(rest.len() / 2);
    let mut wire = frames::encode(0x40 | 0x1, a, None);
    wire.extend(frames::encode(0x00, b, None));
    wire.extend(frames::encode(0x89, b"ping", None));
    wire.extend(frames::encode(0x00, &[], None));
    wire.extend(frames::encode(0x80, c, None));
    let events = feed_split(&mut client, Instant::now(), &wire, &mut rng(5), 1);
    assert_eq!(
        events,
        [
            Event::Ping(ws_proto::Bytes::from_static(b"ping")),
            Event::Message(Message::Text(text.clone().into()))
        ]
    );

    // And through a pair, with one-byte reads.
    let mut pair = Pair::open(9, config, 1);
    pair.client.send_text(&text).unwrap();
    pair.server.send_text(&text).unwrap();
    pair.run();
    assert_eq!(
        pair.server_events,
        [Event::Message(Message::Text(text.clone().into()))]
    );
    assert_eq!(
        pair.client_events,
        [Event::Message(Message::Text(text.into()))]
    );
}

#[test]
fn s7_2_a_send_refused_for_room_leaves_both_contexts_in_step() {
    // Room is checked against the most the message could compress to, before
    // compressing: a message compressed and then dropped would leave the
    // receiver's context behind the sender's.
    // "b" x 1900 needs 2203 bytes of room (its bound plus a header).
    let config = deflate_all().max_write_buffer(2210);
    let mut pair = Pair::open(4, config, 1 << 20);
    pair.client.send_text(&"a".repeat(1500)).unwrap();
    let queued = pair.client.buffered_amount();
    assert!(queued < 100, "{queued}");
    assert!(matches!(
        pair.client.send_text(&"b".repeat(1900)),
        Err(ws_proto::SendError::WriteBufferFull { .. })
    ));
    assert_eq!(pair.client.buffered_amount(), queued);
    pair.client.send_text(&"a".repeat(1000)).unwrap();
    pair.run();
    pair.client.send_text(&"b".repeat(1900)).unwrap();
    pair.run();
    let expected: Vec<Event> = ["a".repeat(1500), "a".repeat(1000), "b".repeat(1900)]
        .into_iter()
        .map(|t| Event::Message(Message::Text(t.into())))
        .collect();
    assert_eq!(pair.server_events, expected);
}

#[test]
fn s7_2_uncompressed_messages_still_flow_with_deflate_on() {
    let mut client = deflate_client(deflate_all(), "permessage-deflate");
    let mut wire = server_frame(true, OpCode::Text, b"plain");
    let mut peer = PeerDeflater::new(15);
    wire.extend(frames::encode(
        0x80 | 0x40 | 0x2,
        &peer.message(b"packed"),
        None,
    ));
    wire.extend(server_frame(false, OpCode::Binary, b"pl"));
    wire.extend(server_frame(true, OpCode::Continuation, b"ain"));
    assert_eq!(
        feed_split(&mut client, Instant::now(), &wire, &mut rng(2), 3),
        [
            Event::Message(Message::Text("plain".into())),
            Event::Message(Message::Binary(ws_proto::Bytes::from_static(b"packed"))),
            Event::Message(Message::Binary(ws_proto::Bytes::from_static(b"plain"))),
        ]
    );
}

#[test]
fn s7_2_a_final_deflate_block_ends_the_context_without_breaking_the_next_message() {
    // RFC 7692 section 7.2.3.4 allows a block with BFINAL set; what follows
    // it in the message is ignored and the next message starts afresh.
    let mut client = deflate_client(deflate_all(), "permessage-deflate");
    let mut final_block = Vec::with_capacity(64);
    let mut c = flate2::Compress::new(flate2::Compression::default(), false);
    c.compress_vec(
        b"last words",
        &mut final_block,
        flate2::FlushCompress::Finish,
    )
    .unwrap();
    client.receive(Instant::now(), &frames::encode(0xc1, &final_block, None));
    let mut peer = PeerDeflater::new(15);
    client.receive(
        Instant::now(),
        &frames::encode(0xc1, &peer.message(b"afresh"), None),
    );
    assert_eq!(
        events(&mut client),
        [
            Event::Message(Message::Text("last words".into())),
            Event::Message(Message::Text("afresh".into()))
        ]
    );
}

// ---- framing rules (6.1) -------------------------------------------------------------

#[test]
fn s6_1_rsv1_on_a_continuation_frame_fails_with_1002() {
    let mut client = deflate_client(deflate_all(), "permessage-deflate");
    let mut peer = PeerDeflater::new(15);
    let payload = peer.message(b"split message");
    let mut wire = frames::encode(0x40 | 0x1, &payload[..3], None);
    wire.extend(frames::encode(0x80 | 0x40, &payload[3..], None));
    client.receive(Instant::now(), &wire);
    assert_failed(&mut client, ProtocolError::CompressedContinuation);
}

#[test]
fn s6_1_rsv1_on_a_control_frame_fails_with_1002() {
    for opcode in [0x9, 0xA, 0x8] {
        let mut client = deflate_client(deflate_all(), "permessage-deflate");
        client.receive(
            Instant::now(),
            &frames::encode(0x80 | 0x40 | opcode, &[], None),
        );
        assert_failed(&mut client, ProtocolError::CompressedControlFrame);
    }
}

#[test]
fn s6_1_rsv1_without_the_extension_and_rsv2_with_it_fail_with_1002() {
    let mut declined = client_answered(deflate_all(), None).0;
    declined.receive(Instant::now(), &frames::encode(0xc1, &[0x00], None));
    assert_failed(&mut declined, ProtocolError::ReservedBitsSet(RSV1));
    let mut client = deflate_client(deflate_all(), "permessage-deflate");
    client.receive(
        Instant::now(),
        &frames::encode(0x80 | 0x60 | 0x1, &[0x00], None),
    );
    assert_failed(&mut client, ProtocolError::ReservedBitsSet(0b110));
}

#[test]
fn s6_2_invalid_deflate_data_fails_with_1007() {
    let mut client = deflate_client(deflate_all(), "permessage-deflate");
    // BTYPE 11 (reserved) in the first block.
    client.receive(
        Instant::now(),
        &frames::encode(0xc2, &[0xff, 0xff, 0xff], None),
    );
    assert_failed(&mut client, ProtocolError::InvalidCompressedData);
    assert_eq!(
        ProtocolError::InvalidCompressedData.close_code(),
        CloseCode::INVALID_PAYLOAD
    );
}

// ---- UTF-8 (RFC 6455 8.1) on inflated text -----------------------------------------------

#[test]
fn s8_1_inflated_text_that_is_not_utf8_fails_with_1007() {
    let mut client = deflate_client(deflate_all(), "permessage-deflate");
    let mut peer = PeerDeflater::new(15);
    client.receive(
        Instant::now(),
        &frames::encode(0xc1, &peer.message(b"caf\xc3"), None),
    );
    assert_failed(&mut client, ProtocolError::InvalidUtf8);
    // The same bytes as a binary message are fine.
    let mut client = deflate_client(deflate_all(), "permessage-deflate");
    let mut peer = PeerDeflater::new(15);
    client.receive(
        Instant::now(),
        &frames::encode(0xc2, &peer.message(b"caf\xc3"), None),
    );
    assert!(matches!(
        events(&mut client)[..],
        [Event::Message(Message::Binary(_))]
    ));
}

#[test]
fn s8_1_bad_text_fails_in_the_first_fragment_before_the_message_ends() {
    let mut client = deflate_client(deflate_all(), "permessage-deflate");
    let mut peer = PeerDeflater::new(15);
    let mut text = "valid text ".repeat(100).into_bytes();
    text.extend_from_slice(b"\xff then more");
    let payload = peer.message(&text);
    // Only the first fragment arrives: all of the compressed data, FIN clear.
    client.receive(Instant::now(), &frames::encode(0x40 | 0x1, &payload, None));
    assert_failed(&mut client, ProtocolError::InvalidUtf8);
}

// ---- limits (RFC 6455 10.4 and RFC 7692 section 8.1) -----------------------------------------

#[test]
fn s8_a_decompression_bomb_closes_with_1009_with_bounded_memory() {
    let limit = 1 << 20;
    let config = deflate_all()
        .max_message_size(limit)
        .max_frame_size(64 << 10);
    let mut client = deflate_client(config, "permessage-deflate");
    // 1 MiB of zeros compresses to about 1 KiB, and after it each repeat of
    // those bytes inflates to another MiB: frames of 32 KiB that would make
    // a message of 32 GiB, sent as a fragmented message of 1,000 frames.
    let mut peer = PeerDeflater::new(15);
    let block = peer.flushed(&vec![0u8; 1 << 20]);
    assert!(block.len() < 1100, "{}", block.len());
    let frame_payload: Vec<u8> = block.iter().copied().cycle().take(32 << 10).collect();
    let mut frames = frames::encode(0x40 | 0x2, &frame_payload, None);
    let continuation = frames::encode(0x00, &frame_payload, None);
    let now = Instant::now();
    let mut peak = 0;
    let mut events_seen = Vec::new();
    for i in 0..1000 {
        client.receive(now, &frames);
        events_seen.extend(events(&mut client));
        peak = peak.max(client.buffer_capacity());
        if !events_seen.is_empty() {
            assert_eq!(i, 0, "failed on the first frame");
            break;
        }
        frames = continuation.clone();
    }
    assert_eq!(
        events_seen[0],
        Event::Error(Error::Protocol(ProtocolError::MessageTooLarge {
            size: limit as u64 + 1,
            limit
        }))
    );
    let closes: Vec<_> = output_frames(&mut client)
        .into_iter()
        .filter(|f| f.opcode == OpCode::Close)
        .collect();
    assert_eq!(closes[0].close_code(), Some(CloseCode::MESSAGE_TOO_BIG.0));
    // The inflated buffer stopped at the limit (plus one byte) and the read
    // buffer held one compressed frame.
    println!("peak buffer capacity during the bomb: {peak} bytes");
    assert!(peak < limit + (256 << 10), "peak {peak}");
}

#[test]
fn s8_limits_a_message_at_its_inflated_size_across_fragments() {
    let limit = 10_000;
    let config = deflate_all().max_message_size(limit);
    // Exactly at the limit passes; one byte over fails (fragmented).
    let mut client = deflate_client(config.clone(), "permessage-deflate");
    let mut peer = PeerDeflater::new(15);
    client.receive(
        Instant::now(),
        &frames::encode(0xc2, &peer.message(&vec![1; limit]), None),
    );
    assert!(
        matches!(&events(&mut client)[..], [Event::Message(Message::Binary(b))] if b.len() == limit)
    );

    let mut client = deflate_client(config, "permessage-deflate");
    let mut peer = PeerDeflater::new(15);
    let payload = peer.message(&vec![1; limit + 1]);
    let (a, b) = payload.split_at(payload.len() / 2);
    let mut wire = frames::encode(0x42, a, None);
    wire.extend(frames::encode(0x80, b, None));
    client.receive(Instant::now(), &wire);
    assert_failed(
        &mut client,
        ProtocolError::MessageTooLarge {
            size: limit as u64 + 1,
            limit,
        },
    );
}

#[test]
fn s8_the_frame_limit_applies_to_the_compressed_frame() {
    let config = deflate_all().max_frame_size(1000);
    // 100 KB that compress to a few hundred bytes pass a 1000-byte frame limit.
    let mut client = deflate_client(config, "permessage-deflate");
    let mut peer = PeerDeflater::new(15);
    let payload = peer.message(&vec![b'a'; 100_000]);
    assert!(payload.len() < 1000);
    client.receive(Instant::now(), &frames::encode(0xc2, &payload, None));
    assert!(
        matches!(&events(&mut client)[..], [Event::Message(Message::Binary(b))] if b.len() == 100_000)
    );
    // A compressed frame over it fails before its payload arrives.
    client.receive(Instant::now(), &frames::encode(0xc2, &[0; 1001], None)[..4]);
    assert_failed(
        &mut client,
        ProtocolError::FrameTooLarge {
            size: 1001,
            limit: 1000,
        },
    );
}

// ---- round trips under any parameters and split ------------------------------------------

fn window() -> impl Strategy<Value = u8> {
    8u8..=15
}

fn deflate_settings() -> impl Strategy<Value = DeflateConfig> {
    (
        window(),
        window(),
        any::<bool>(),
        any::<bool>(),
        prop_oneof![Just(0usize), 0usize..300],
        0u32..=9,
    )
        .prop_map(|(cw, sw, cnct, snct, threshold, level)| {
            DeflateConfig::default()
                .client_max_window_bits(cw)
                .server_max_window_bits(sw)
                .client_no_context_takeover(cnct)
                .server_no_context_takeover(snct)
                .compression_threshold(threshold)
                .compression_level(level)
        })
}

#[derive(Clone, Debug)]
enum Payload {
    Text(String),
    Binary(Vec<u8>),
}

fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        "\\PC{0,300}".prop_map(Payload::Text),
        // Repetitive text, so that windows and context matter.
        (1usize..2000, "[a-c ]{1,40}")
            .prop_map(|(n, unit)| Payload::Text(unit.repeat(n / unit.len() + 1))),
        proptest::collection::vec(any::<u8>(), 0..3000).prop_map(Payload::Binary),
        (0usize..70_000).prop_map(|n| Payload::Binary((0..n).map(|i| (i / 100) as u8).collect())),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn what_is_sent_is_received_with_deflate_on(
        client in deflate_settings(),
        server in deflate_settings(),
        messages in proptest::collection::vec((payload(), any::<bool>()), 1..10),
        fragment in prop_oneof![Just(None), (1usize..500).prop_map(Some)],
        max_piece in prop_oneof![Just(1usize), 2usize..200, Just(1 << 20)],
        seed in any::<u64>(),
    ) {
        let config = |deflate| Config::default().deflate(Some(deflate)).send_fragment_size(fragment);
        let mut pair = Pair::new(seed, config(client), config(server), max_piece);
        pair.run();
        prop_assert!(matches!(pair.client_events.remove(0), Event::Open(_)));
        prop_assert!(matches!(pair.server_events.remove(0), Event::Open(_)));
        prop_assert_eq!(pair.client.deflate(), pair.server.deflate());
        let mut to_server = Vec::new();
        let mut to_client = Vec::new();
        for (payload, from_client) in &messages {
            let conn = if *from_client { &mut pair.client } else { &mut pair.server };
            let message = match payload {
                Payload::Text(t) => { conn.send_text(t).unwrap(); Message::Text(t.clone().into()) }
                Payload::Binary(b) => { conn.send_binary_owned(b.clone()).unwrap(); Message::Binary(b.clone().into()) }
            };
            if *from_client { to_server.push(Event::Message(message)) } else { to_client.push(Event::Message(message)) }
        }
        pair.run();
        prop_assert_eq!(&pair.server_events, &to_server);
        prop_assert_eq!(&pair.client_events, &to_client);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn any_compressed_frames_never_panic_and_fail_at_most_once(
        frames in proptest::collection::vec(
            (0u8..16, any::<bool>(), proptest::collection::vec(any::<u8>(), 0..200), any::<bool>()),
            1..12,
        ),
        max_piece in 1usize..64,
        seed in any::<u64>(),
    ) {
        // First-byte flags and opcode chosen at random, RSV1 mostly set; the
        // payload is either random bytes or a valid compressed message.
        let config = deflate_all().max_message_size(5000);
        let mut client = deflate_client(config, "permessage-deflate; server_no_context_takeover");
        let mut peer = PeerDeflater::new(15);
        let mut wire = Vec::new();
        for (opcode, fin, data, compress) in &frames {
            let payload = if *compress { peer.message(data) } else { data.clone() };
            let b0 = (u8::from(*fin) << 7) | 0x40 | opcode;
            wire.extend(frames::encode(b0, &payload, None));
        }
        let events = feed_split(&mut client, Instant::now(), &wire, &mut rng(seed), max_piece);
        let errors = events.iter().filter(|e| matches!(e, Event::Error(_))).count();
        prop_assert!(errors <= 1);
        if let Some(at) = events.iter().position(|e| matches!(e, Event::Error(_))) {
            prop_assert!(!events[at..].iter().any(|e| matches!(e, Event::Message(_))));
        }
    }
}
