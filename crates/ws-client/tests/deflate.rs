//! permessage-deflate through the public API: negotiated end to end with a
//! ws-mio server, checked on the wire against a hand-written server that
//! compresses and inflates with flate2 itself, and refused (with the error
//! codes of the table) when a server answers what was not offered or sends
//! data that is not deflate.

mod common;

use std::io::Write as _;
use std::net::TcpStream;

use common::*;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use ws_client::{Data, DeflateConfig, WebSocket};
use ws_test_support::handshake::read_head;
use ws_test_support::raw_server::wait_for_eof;
use ws_test_support::{frames, handshake};

/// A ticker message like a market-data feed sends, `n` making each unique.
fn ticker(n: usize) -> String {
    format!(
        r#"{{"type":"ticker","sequence":{},"product_id":"BTC-USD","price":"{}.{:02}","open_24h":"63120.00","volume_24h":"12873.51","best_bid":"{}.00","best_ask":"{}.01","side":"buy","trade_id":{}}}"#,
        1_000_000 + n,
        63_000 + n % 97,
        n % 100,
        63_000 + n % 97,
        63_000 + n % 97,
        500_000 + n
    )
}

fn messages(seen: &[Seen]) -> Vec<&Data> {
    seen.iter()
        .filter_map(|s| match s {
            Seen::Message(data) => Some(data),
            _ => None,
        })
        .collect()
}

fn extensions(seen: &[Seen]) -> Option<&str> {
    match &seen[0] {
        Seen::Open { extensions, .. } => extensions.as_deref(),
        other => panic!("the first callback is not on_open: {other:?}"),
    }
}

#[test]
fn deflate_is_negotiated_end_to_end_and_every_message_round_trips() {
    let server = TestServer::start();
    let big_text = ticker(0).repeat(800); // ~200 KB, compresses well
    let big_binary: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let (handler, log) = Recorder::new();
    let handler = handler.on_open({
        let big_text = big_text.clone();
        let big_binary = big_binary.clone();
        move |ws| {
            // Context takeover across many small messages, one below the
            // threshold (sent uncompressed), large ones, an empty one.
            for n in 0..200 {
                ws.send(ticker(n)).unwrap();
            }
            ws.send("tiny").unwrap();
            ws.send(big_text.as_str()).unwrap();
            ws.send(big_binary.clone()).unwrap();
            ws.send("").unwrap();
        }
    });
    // The last echo ends it (no message is delivered after terminate).
    let mut echoed = 0;
    let handler = handler.on_message(move |ws, _| {
        echoed += 1;
        if echoed == 204 {
            ws.terminate(None, None).unwrap();
        }
    });
    let ws = WebSocket::builder(&server.url("/echo"))
        .deflate(Some(DeflateConfig::default()))
        .connect(handler)
        .unwrap();
    let seen = log.until_terminate();
    let offered = extensions(&seen).expect("the server answered the offer");
    assert!(offered.starts_with("permessage-deflate"), "{offered}");

    let echoed = messages(&seen);
    assert_eq!(echoed.len(), 204);
    for (n, data) in echoed[..200].iter().enumerate() {
        assert_eq!(data.as_text(), Some(ticker(n).as_str()), "message {n}");
    }
    assert_eq!(echoed[200].as_text(), Some("tiny"));
    assert_eq!(echoed[201].as_text(), Some(big_text.as_str()));
    assert_eq!(echoed[202].as_blob(), Some(&big_binary[..]));
    assert_eq!(echoed[203].as_text(), Some(""));
    let end = terminate_of(&seen);
    assert_eq!((end.code, end.was_clean), (1000, true));
    drop(ws);
}

#[test]
fn without_the_option_nothing_is_offered() {
    let server = TestServer::start();
    let (handler, log) = Recorder::new();
    let handler = handler.on_message(|ws, _| ws.terminate(None, None).unwrap());
    WebSocket::new(&server.url("/headers"), handler).unwrap();
    let seen = log.until_terminate();
    assert_eq!(extensions(&seen), None);
    let request = messages(&seen)[0].as_text().unwrap().to_lowercase();
    assert!(!request.contains("sec-websocket-extensions"), "{request}");
}

// ---- a hand-written server that does its own deflate ------------------------

/// Answers 101 with this `Sec-WebSocket-Extensions` value.
fn answer(stream: &mut TcpStream, head: &str, extensions: &str) {
    let extra = format!("Sec-WebSocket-Extensions: {extensions}\r\n");
    handshake::answer(stream, head, &extra).unwrap();
}

/// Reads one client frame: (first byte, unmasked payload).
fn read_frame(stream: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let frame = frames::read_client_frame(stream).ok()?;
    Some((frame.first_byte(), frame.payload))
}

/// An unmasked server frame.
fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    frames::encode(first, payload, None)
}

/// Raw deflate of one message, without the final empty block's
/// `00 00 ff ff` (RFC 7692 section 7.2.1).
fn deflate(data: &[u8]) -> Vec<u8> {
    let mut z = Compress::new(Compression::default(), false);
    let mut out = Vec::with_capacity(data.len() + 64);
    z.compress_vec(data, &mut out, FlushCompress::Sync).unwrap();
    assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
    out.truncate(out.len() - 4);
    out
}

/// Inflates one message (RFC 7692 section 7.2.2).
fn inflate(data: &[u8]) -> Option<Vec<u8>> {
    let mut z = Decompress::new(false);
    let mut input = data.to_vec();
    input.extend_from_slice(&[0, 0, 0xff, 0xff]);
    let mut out = Vec::with_capacity(1 << 20);
    match z.decompress_vec(&input, &mut out, FlushDecompress::Sync) {
        Ok(Status::Ok | Status::StreamEnd) => Some(out),
        _ => None,
    }
}

/// The text the client sends first in the wire test.
fn wire_text() -> String {
    ticker(1).repeat(50)
}

#[test]
fn on_the_wire_the_offer_is_made_and_messages_are_compressed_both_ways() {
    // The server checks what the client sent and reports in one compressed
    // message; the test reads the verdict from the client's on_message.
    let url = raw_server(|mut stream| {
        let head = read_head(&mut stream).unwrap_or_default();
        let offer = head
            .lines()
            .find(|l| l.to_lowercase().starts_with("sec-websocket-extensions:"))
            .unwrap_or("none")
            .to_owned();
        answer(&mut stream, &head, "permessage-deflate");
        let verdict = match read_frame(&mut stream) {
            None => "no frame".to_owned(),
            Some((first, _)) if first != 0xC1 => {
                format!("first byte {first:#04x}, expected FIN+RSV1+text")
            }
            Some((_, payload)) => match inflate(&payload) {
                Some(text) if text == wire_text().as_bytes() => {
                    format!("ok {} {offer}", payload.len())
                }
                Some(_) => "inflated to other text".to_owned(),
                None => "not deflate data".to_owned(),
            },
        };
        let _ = stream.write_all(&frame(0xC1, &deflate(verdict.as_bytes())));
        // Answer the client's close, then go.
        let _ = read_frame(&mut stream);
        let _ = stream.write_all(&frame(0x88, &1000u16.to_be_bytes()));
    });
    let (handler, log) = Recorder::new();
    let handler = handler
        .on_open(|ws| ws.send(wire_text()).unwrap())
        .on_message(|ws, _| ws.terminate(None, None).unwrap());
    WebSocket::builder(&url)
        .deflate(Some(DeflateConfig::default()))
        .connect(handler)
        .unwrap();
    let seen = log.until_terminate();
    assert_eq!(kinds(&seen), ["open", "message", "terminate"]);
    let verdict = messages(&seen)[0].as_text().unwrap().to_owned();
    let mut words = verdict.splitn(3, ' ');
    assert_eq!(words.next(), Some("ok"), "{verdict}");
    let wire_len: usize = words.next().unwrap().parse().unwrap();
    assert!(
        wire_len * 10 < wire_text().len(),
        "{wire_len} bytes on the wire for {}",
        wire_text().len()
    );
    let offer = words.next().unwrap();
    assert!(
        offer.contains("permessage-deflate") && offer.contains("client_max_window_bits"),
        "{offer}"
    );
    assert_eq!(terminate_of(&seen).code, 1000);
}

/// Connects with deflate offered to a raw server running `script`; returns
/// the callbacks seen.
fn against(script: impl FnOnce(TcpStream) + Send + 'static) -> Vec<Seen> {
    let url = raw_server(script);
    let (handler, log) = Recorder::new();
    WebSocket::builder(&url)
        .deflate(Some(DeflateConfig::default()))
        .connect(handler)
        .unwrap();
    log.until_terminate()
}

fn proto_entry(seen: &[Seen]) -> (i64, i64, String) {
    let (code, stack) = error_of(seen);
    let proto = stack
        .iter()
        .find(|e| e.component_signature == "ws-proto")
        .expect("a ws-proto entry");
    (code, proto.err_code, proto.message.clone())
}

#[test]
fn an_invalid_extension_answer_fails_the_handshake_with_code_22() {
    let seen = against(|mut stream| {
        let head = read_head(&mut stream).unwrap_or_default();
        // 7 is below the range RFC 7692 allows (8 to 15).
        answer(
            &mut stream,
            &head,
            "permessage-deflate; server_max_window_bits=7",
        );
        wait_for_eof(&mut stream);
    });
    assert_eq!(kinds(&seen), ["error", "terminate"]);
    let (code, proto, message) = proto_entry(&seen);
    assert_eq!((code, proto), (22, 0));
    assert!(message.contains("Sec-WebSocket-Extensions"), "{message}");
    assert_eq!(terminate_of(&seen).code, 1006);
}

#[test]
fn an_extension_answer_that_was_not_offered_fails_the_handshake() {
    let url = raw_server(|mut stream| {
        let head = read_head(&mut stream).unwrap_or_default();
        answer(&mut stream, &head, "permessage-deflate");
        wait_for_eof(&mut stream);
    });
    let (handler, log) = Recorder::new();
    WebSocket::new(&url, handler).unwrap(); // deflate not offered
    let seen = log.until_terminate();
    assert_eq!(kinds(&seen), ["error", "terminate"]);
    assert_eq!(proto_entry(&seen).0, 22);
}

/// A server that agrees to deflate, sends `first` (a frame breaking its
/// rules), then answers the client's close with the same code; returns the
/// client's callbacks.
fn after_violation(first: Vec<u8>) -> Vec<Seen> {
    against(move |mut stream| {
        let head = read_head(&mut stream).unwrap_or_default();
        answer(&mut stream, &head, "permessage-deflate");
        let _ = stream.write_all(&first);
        if let Some((_, close)) = read_frame(&mut stream) {
            let _ = stream.write_all(&frame(0x88, &close[..close.len().min(2)]));
        }
    })
}

#[test]
fn data_that_is_not_deflate_closes_with_1007() {
    // RSV1 text whose payload is an invalid deflate block type (0b11).
    let seen = after_violation(frame(0xC1, &[0xff, 0xff, 0xff, 0xff]));
    assert_eq!(kinds(&seen), ["open", "error", "terminate"]);
    let (code, proto, _) = proto_entry(&seen);
    assert_eq!((code, proto), (23, 1007));
    assert_eq!(terminate_of(&seen).code, 1007);
}

#[test]
fn a_compressed_control_frame_closes_with_1002() {
    // A ping with RSV1: control frames are never compressed.
    let seen = after_violation(frame(0xC9, b"hi"));
    assert_eq!(kinds(&seen), ["open", "error", "terminate"]);
    let (code, proto, _) = proto_entry(&seen);
    assert_eq!((code, proto), (23, 1002));
    assert_eq!(terminate_of(&seen).code, 1002);
}
