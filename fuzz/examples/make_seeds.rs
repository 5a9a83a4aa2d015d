//! Writes the seed corpora (`fuzz/seeds/TARGET/`) and the dictionaries
//! (`fuzz/dict/TARGET.dict`). Deterministic: run it again after changing a
//! target's input format, and commit what changed.
//!
//! ```text
//! cd fuzz && cargo +nightly run --release --example make_seeds
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use arbitrary::{Arbitrary, Unstructured};
use ws_fuzz::VALID_REQUEST;
use ws_fuzz::pair::{DeflateSetup, Input, Op, Side};
use ws_proto::frame::header::MAX_HEADER_LEN;
use ws_proto::frame::{FrameHeader, OpCode};

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let seeds = root.join("seeds");
    let dicts = root.join("dict");
    fs::create_dir_all(&dicts).unwrap();

    let (_client, request) = ws_fuzz::client(ws_fuzz::start(), ws_proto::Config::default());
    let accept = ws_fuzz::expected_accept(&request);
    let response = ws_fuzz::response_101(&request);

    frame_header(&seeds.join("frame_header"));
    handshake_response(&seeds.join("handshake_response"), &response, &accept);
    client_connection(&seeds.join("client_connection"));
    server_connection(&seeds.join("server_connection"));
    pair(&seeds.join("pair"));
    write_dicts(&dicts, &accept);
}

// ---- frames ----------------------------------------------------------------------

fn frame_with(
    fin: bool,
    rsv: u8,
    opcode: OpCode,
    payload: &[u8],
    mask: Option<[u8; 4]>,
) -> Vec<u8> {
    let header = FrameHeader {
        fin,
        rsv,
        opcode,
        mask,
        payload_len: payload.len() as u64,
    };
    let mut head = [0u8; MAX_HEADER_LEN];
    let n = header.encode(&mut head);
    let mut out = head[..n].to_vec();
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        for (i, b) in out[start..].iter_mut().enumerate() {
            *b ^= key[i % 4];
        }
    }
    out
}

/// A server frame (unmasked), or a client frame (masked).
fn f(masked: bool, fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    frame_with(fin, 0, opcode, payload, masked.then_some(MASK))
}

fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason.as_bytes());
    p
}

/// Named frame streams, for either direction.
fn streams(masked: bool) -> Vec<(&'static str, Vec<u8>)> {
    use OpCode::*;
    let cat = |parts: &[Vec<u8>]| parts.concat();
    let close = f(masked, true, Close, &close_payload(1000, "bye"));
    let mut non_minimal = vec![0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0, 3];
    if masked {
        non_minimal[1] |= 0x80;
        non_minimal.extend_from_slice(&MASK);
        non_minimal.extend([1 ^ MASK[0], 2 ^ MASK[1], 3 ^ MASK[2]]);
    } else {
        non_minimal.extend([1, 2, 3]);
    }
    vec![
        (
            "text",
            cat(&[f(masked, true, Text, b"hello"), close.clone()]),
        ),
        (
            "binary",
            cat(&[f(masked, true, Binary, &[0, 1, 2, 0xff]), close.clone()]),
        ),
        (
            "empty_messages",
            cat(&[f(masked, true, Text, b""), f(masked, true, Binary, b"")]),
        ),
        ("text_16bit_len", f(masked, true, Text, &[b'x'; 300])),
        ("binary_64bit_len_non_minimal", non_minimal),
        (
            "fragmented_text",
            cat(&[
                f(masked, false, Text, b"frag"),
                f(masked, false, Continuation, b"men"),
                f(masked, true, Continuation, b"ted"),
                close.clone(),
            ]),
        ),
        (
            "fragmented_utf8_split_in_a_code_point",
            cat(&[
                f(
                    masked,
                    false,
                    Text,
                    "caf\u{e9} \u{20ac}".as_bytes()[..5].as_ref(),
                ),
                f(
                    masked,
                    true,
                    Continuation,
                    &"caf\u{e9} \u{20ac}".as_bytes()[5..],
                ),
            ]),
        ),
        (
            "ping_between_fragments",
            cat(&[
                f(masked, false, Binary, b"ab"),
                f(masked, true, Ping, b"are you there"),
                f(masked, true, Continuation, b"cd"),
            ]),
        ),
        (
            "ping_pong",
            cat(&[
                f(masked, true, Ping, b"p"),
                f(masked, true, Pong, b"q"),
                f(masked, true, Ping, &[7; 125]),
            ]),
        ),
        ("close_normal", close.clone()),
        ("close_empty", f(masked, true, Close, b"")),
        (
            "close_going_away_utf8_reason",
            f(masked, true, Close, &close_payload(1001, "\u{1f44b} bye")),
        ),
        (
            "close_invalid_code_1005",
            f(masked, true, Close, &close_payload(1005, "")),
        ),
        ("close_one_byte", f(masked, true, Close, &[3])),
        (
            "invalid_utf8_text",
            f(masked, true, Text, &[b'a', 0xc3, 0x28]),
        ),
        (
            "unexpected_continuation",
            f(masked, true, Continuation, b"x"),
        ),
        (
            "reserved_opcode",
            frame_with(true, 0, Binary, b"x", masked.then_some(MASK))
                .into_iter()
                .enumerate()
                .map(|(i, b)| if i == 0 { 0x83 } else { b })
                .collect(),
        ),
        (
            "rsv1_set",
            frame_with(true, 0b100, Text, b"x", masked.then_some(MASK)),
        ),
        ("control_too_long", f(masked, true, Ping, &[0; 126])),
        ("fragmented_ping", f(masked, false, Ping, b"x")),
        ("wrong_masking", f(!masked, true, Text, b"hello")),
        (
            "data_after_close",
            cat(&[close, f(masked, true, Text, b"late")]),
        ),
    ]
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join(name), bytes).unwrap();
}

fn with_prefix(prefix: &[u8], rest: &[u8]) -> Vec<u8> {
    [prefix, rest].concat()
}

// ---- targets -----------------------------------------------------------------------

fn frame_header(dir: &Path) {
    use OpCode::*;
    for (name, opcode) in [
        ("cont", Continuation),
        ("text", Text),
        ("binary", Binary),
        ("close", Close),
        ("ping", Ping),
        ("pong", Pong),
    ] {
        for (class, len) in [("7bit", 5u64), ("16bit", 300), ("64bit", 70_000)] {
            for (m, mask) in [("unmasked", None), ("masked", Some(MASK))] {
                let header = FrameHeader {
                    fin: true,
                    rsv: 0,
                    opcode,
                    mask,
                    payload_len: len,
                };
                let mut out = [0u8; MAX_HEADER_LEN];
                let n = header.encode(&mut out);
                write(dir, &format!("{name}_{class}_{m}"), &out[..n]);
            }
        }
    }
    write(
        dir,
        "max_len_63bit",
        &[0x82, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    );
    write(
        dir,
        "len_high_bit_set",
        &[0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0],
    );
    write(dir, "non_minimal_16bit", &[0x81, 0x7e, 0x00, 0x05]);
    write(dir, "rsv_all_no_fin", &[0x71, 0x00]);
    write(dir, "reserved_opcode", &[0x8b, 0x00]);
    write(dir, "short", &[0x81]);
    write(dir, "short_mask", &[0x81, 0x85, 0x01, 0x02]);
}

fn handshake_response(dir: &Path, response: &[u8], accept: &str) {
    let frames = streams(false);
    let text = &frames[0].1;
    let fragmented = &frames[5].1;
    let r = |s: &str| s.replace("{accept}", accept).into_bytes();
    let seeds: Vec<(&str, u8, Vec<u8>)> = vec![
        ("valid_101", 0, response.to_vec()),
        ("valid_101_byte_by_byte", 1, response.to_vec()),
        ("valid_101_random_chunks", 0x90, response.to_vec()),
        (
            "valid_101_then_text_and_close",
            0,
            with_prefix(response, text),
        ),
        (
            "valid_101_then_fragmented_chunks_of_7",
            7,
            with_prefix(response, fragmented),
        ),
        (
            "valid_101_lf_only_mixed_case_tokens",
            0,
            r(
                "HTTP/1.1 101 Switching Protocols\nupgrade: WebSocket\nconnection: keep-alive, UPGRADE\nsec-websocket-accept:   {accept}  \n\n",
            ),
        ),
        (
            // Found by fuzzing: httparse skips an empty line before the
            // status line, and so the connection opens.
            "leading_lf_before_status_line",
            3,
            r(
                "\nHTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n",
            ),
        ),
        (
            "wrong_accept",
            0,
            r(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
            ),
        ),
        (
            "two_accepts",
            0,
            r(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Accept: {accept}\r\n\r\n",
            ),
        ),
        (
            "unoffered_subprotocol",
            0,
            r(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: chat\r\n\r\n",
            ),
        ),
        (
            "unoffered_extension",
            0,
            r(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n",
            ),
        ),
        (
            "missing_upgrade",
            0,
            r(
                "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n",
            ),
        ),
        (
            "rejected_401_with_body",
            0,
            r(
                "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"ws\"\r\nContent-Length: 12\r\n\r\nunauthorized",
            ),
        ),
        (
            "rejected_302_body_in_pieces",
            3,
            r("HTTP/1.1 302 Found\r\nLocation: ws://elsewhere/\r\nContent-Length: 40\r\n\r\nmoved"),
        ),
        (
            "http_1_0_101",
            0,
            r(
                "HTTP/1.0 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n",
            ),
        ),
        (
            "garbage",
            0,
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec(),
        ),
        ("truncated_head", 0, response[..response.len() - 3].to_vec()),
    ];
    for (name, mode, bytes) in seeds {
        write(dir, name, &with_prefix(&[mode], &bytes));
    }
}

fn client_connection(dir: &Path) {
    // flags: see fuzz_targets/client_connection.rs.
    let variants: &[(&str, u8)] = &[
        ("", 0x00),
        ("_byte_by_byte", 0x40),
        ("_random_chunks", 0x80),
        ("_with_101_same_read", 0x20),
        ("_timed_commands", 0x18 | 0xc0),
        ("_keepalive_timed", 0x0c | 0x80),
        ("_small_limits_no_auto_pong", 0x03),
    ];
    for (i, (name, stream)) in streams(false).into_iter().enumerate() {
        let (suffix, flags) = variants[i % variants.len()];
        write(
            dir,
            &format!("{name}{suffix}"),
            &with_prefix(&[flags, i as u8], &stream),
        );
    }
    write(dir, "nothing_timed_commands", &[0x1c, 0x42]);
    // Found by the fuzzer: pings read with the 101 answer queue pongs that
    // are still unwritten when the next read comes, so that read may
    // coalesce them; the output may then differ from one read of it all.
    write(
        dir,
        "pongs_queued_by_the_101_read_random_chunks",
        &[
            0xa2, 0x7e, 0x01, 0x00, 0x89, 0x00, 0x89, 0x01, 0x00, 0x89, 0x00, 0x89, 0x00, 0x00,
            0x04, 0x00, 0x00, 0x00, 0x00, 0x89, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ],
    );
}

fn server_connection(dir: &Path) {
    // flags: see fuzz_targets/server_connection.rs; bit 0 prepends a valid request.
    let variants: &[(&str, u8)] = &[
        ("", 0x01),
        ("_byte_by_byte", 0x41),
        ("_random_chunks", 0x81),
        ("_timed_commands", 0x19 | 0xc0),
        ("_keepalive_timed", 0x0d | 0x80),
        ("_small_limits", 0x03),
    ];
    for (i, (name, stream)) in streams(true).into_iter().enumerate() {
        let (suffix, flags) = variants[i % variants.len()];
        write(
            dir,
            &format!("{name}{suffix}"),
            &with_prefix(&[flags, i as u8], &stream),
        );
    }
    let req = |s: &str| s.as_bytes().to_vec();
    let requests: Vec<(&str, u8, Vec<u8>)> = vec![
        ("request_rfc_example", 0x00, VALID_REQUEST.to_vec()),
        (
            "request_then_text",
            0x80,
            [VALID_REQUEST, &f(true, true, OpCode::Text, b"hi")].concat(),
        ),
        (
            "request_subprotocols",
            0x20,
            req(
                "GET /chat?x=1 HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: superchat, chat\r\nSec-WebSocket-Version: 13\r\nOrigin: http://example.com\r\n\r\n",
            ),
        ),
        (
            "request_extensions_offered",
            0x00,
            req(
                "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n",
            ),
        ),
        (
            "request_post",
            0x00,
            req(
                "POST / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            ),
        ),
        (
            "request_version_8",
            0x00,
            req(
                "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
            ),
        ),
        (
            "request_short_key",
            0x00,
            req(
                "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n\r\n",
            ),
        ),
        (
            "request_http_1_0",
            0x00,
            req(
                "GET / HTTP/1.0\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            ),
        ),
        (
            "request_no_host_lf_only",
            0x40,
            req(
                "GET / HTTP/1.1\nUpgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\n\n",
            ),
        ),
        (
            "request_truncated_timed",
            0x08,
            VALID_REQUEST[..60].to_vec(),
        ),
    ];
    for (name, flags, bytes) in requests {
        write(dir, name, &with_prefix(&[flags, 0x17], &bytes));
    }
}

/// Pair inputs are `arbitrary`-encoded. [`Enc`] writes the bytes that
/// `arbitrary` 1.x decodes to a given [`Input`]; each seed is checked by
/// decoding it back.
fn pair(dir: &Path) {
    use Op::*;
    use Side::*;
    let all = 0; // Deliver(_, 0) moves everything.
    let base = |ops: Vec<Op>| Input {
        client_fragment: None,
        server_fragment: None,
        write_limit: None,
        auto_pong: true,
        keepalive: false,
        client_deflate: None,
        server_deflate: None,
        ops,
    };
    // permessage-deflate settings: windows (8..=15 as they are), no context
    // takeover (client, server), threshold, level.
    let deflate = |cw: u8, sw: u8, cnct: bool, snct: bool, threshold: u8, level: u8| {
        Some(DeflateSetup {
            client_max_window_bits: cw,
            server_max_window_bits: sw,
            client_no_context_takeover: cnct,
            server_no_context_takeover: snct,
            threshold,
            level,
        })
    };
    let plain = deflate(15, 15, false, false, 0, 6);
    // Both sides compress everything, with default windows and takeover.
    let both = |ops: Vec<Op>| Input {
        client_deflate: plain,
        server_deflate: plain,
        ..base(ops)
    };
    let handshake = || vec![Deliver(Client, all), Deliver(Server, all)];
    let with = |mut head: Vec<Op>, tail: Vec<Op>| {
        head.extend(tail);
        head
    };
    // The handshake, `ops`, then everything delivered both ways.
    let exchange = |ops: Vec<Op>| {
        with(
            with(handshake(), ops),
            vec![Deliver(Client, all), Deliver(Server, all)],
        )
    };
    let stories: Vec<(&str, Input)> = vec![
        ("nothing", base(vec![])),
        (
            "echo_text",
            base(with(
                handshake(),
                vec![
                    SendText(Client, "hello".into()),
                    Deliver(Client, all),
                    SendText(Server, "HELLO".into()),
                    Deliver(Server, all),
                ],
            )),
        ),
        (
            "binary_both_ways_partial_deliveries",
            base(with(
                handshake(),
                vec![
                    SendBinary(Server, vec![0, 1, 2, 3, 255]),
                    SendBinary(Client, vec![9, 8, 7, 6]),
                    Deliver(Client, 3),
                    Deliver(Server, 4),
                    Deliver(Client, 100),
                    Deliver(Server, all),
                ],
            )),
        ),
        (
            "fragmented_sends",
            Input {
                client_fragment: Some(3),
                server_fragment: Some(1),
                ..base(with(
                    handshake(),
                    vec![
                        SendText(Client, "fragmented \u{e9}\u{20ac}".into()),
                        SendBinary(Server, vec![1, 2, 3, 4, 5]),
                        Deliver(Client, 5),
                        Deliver(Server, 7),
                    ],
                ))
            },
        ),
        (
            "send_before_the_client_is_open",
            base(vec![
                Deliver(Client, all),
                SendText(Server, "early".into()),
                Deliver(Server, all),
            ]),
        ),
        (
            "ping_pong",
            base(exchange(vec![
                Ping(Client, b"ping".to_vec()),
                Pong(Server, b"unsolicited".to_vec()),
            ])),
        ),
        (
            "client_closes",
            base(exchange(vec![Close(Client, 0, "bye".into())])),
        ),
        (
            "server_closes_after_a_message",
            base(with(
                handshake(),
                vec![
                    SendText(Server, "last".into()),
                    Close(Server, 1, "going away".into()),
                    Deliver(Server, all),
                    Deliver(Client, all),
                ],
            )),
        ),
        (
            "simultaneous_close",
            base(exchange(vec![
                Close(Client, 0, "c".into()),
                Close(Server, 10, "s".into()),
            ])),
        ),
        (
            "invalid_close_code_refused",
            base(with(
                handshake(),
                vec![
                    Close(Client, 1005, String::new()),
                    Close(Server, 1000, "r".repeat(124)),
                ],
            )),
        ),
        (
            "close_timeout",
            base(with(
                handshake(),
                vec![Close(Client, 0, String::new()), AdvanceTime(6000)],
            )),
        ),
        (
            "keepalive",
            Input {
                keepalive: true,
                ..base(with(
                    handshake(),
                    vec![AdvanceTime(1500), Deliver(Client, all), AdvanceTime(5000)],
                ))
            },
        ),
        (
            "handshake_timeout",
            base(vec![AdvanceTime(11_000), Deliver(Client, all)]),
        ),
        (
            "close_while_connecting",
            base(vec![Close(Client, 0, String::new()), Deliver(Client, all)]),
        ),
        (
            "transport_lost",
            base(with(
                handshake(),
                vec![
                    SendText(Client, "lost".into()),
                    Eof(Server),
                    Deliver(Client, all),
                ],
            )),
        ),
        (
            "failed_by_a_side",
            base(with(
                handshake(),
                vec![
                    SendText(Server, "not json".into()),
                    Deliver(Server, all),
                    Fail(Client, 4),
                    SendText(Server, "after".into()),
                    Deliver(Server, all),
                    Deliver(Client, all),
                ],
            )),
        ),
        (
            "transport_failed_then_abandoned",
            base(with(
                handshake(),
                vec![
                    SendText(Client, "last".into()),
                    TransportFailed(Server),
                    Abandon(Client),
                    Deliver(Client, all),
                ],
            )),
        ),
        (
            "small_write_buffer",
            Input {
                write_limit: Some(40),
                auto_pong: false,
                ..base(with(
                    handshake(),
                    vec![
                        SendBinary(Client, vec![7; 30]),
                        SendBinary(Client, vec![8; 30]),
                        ReleaseBuffers(Client),
                        Deliver(Client, all),
                    ],
                ))
            },
        ),
        (
            "deflate_context_takeover",
            both(with(
                handshake(),
                vec![
                    SendText(Client, "hello hello hello hello".into()),
                    SendText(Client, "hello hello hello hello".into()),
                    Deliver(Client, all),
                    SendText(Server, "HELLO HELLO HELLO".into()),
                    SendBinary(Server, vec![1, 2, 3, 1, 2, 3, 1, 2, 3]),
                    SendText(Server, "HELLO HELLO HELLO".into()),
                    Deliver(Server, all),
                ],
            )),
        ),
        (
            "deflate_no_context_takeover",
            Input {
                client_deflate: deflate(15, 15, true, true, 0, 6),
                ..both(exchange(vec![
                    SendText(Client, "again and again".into()),
                    SendText(Client, "again and again".into()),
                    SendText(Server, "again and again".into()),
                    SendText(Server, "again and again".into()),
                ]))
            },
        ),
        (
            "deflate_window_9",
            Input {
                client_deflate: deflate(9, 9, false, false, 0, 9),
                server_deflate: deflate(9, 9, false, false, 0, 1),
                ..base(exchange(vec![
                    SendRepeated(Client, false, "abcdefghij0123456789".into(), 100),
                    SendRepeated(Server, true, "xyz".into(), 1000),
                    SendRepeated(Client, false, "abcdefghij0123456789".into(), 30),
                ]))
            },
        ),
        (
            "deflate_client_told_window_8",
            Input {
                client_deflate: deflate(15, 12, false, false, 0, 6),
                server_deflate: deflate(8, 15, false, false, 0, 6),
                ..base(exchange(vec![
                    SendRepeated(Client, false, "uncompressed ".into(), 10),
                    SendRepeated(Server, false, "compressed ".into(), 10),
                ]))
            },
        ),
        (
            "deflate_server_window_8_declined",
            Input {
                client_deflate: deflate(15, 8, false, false, 0, 6),
                ..both(exchange(vec![
                    SendText(Client, "plain plain plain".into()),
                    SendText(Server, "plain plain plain".into()),
                ]))
            },
        ),
        (
            "deflate_fragmented",
            Input {
                client_fragment: Some(3),
                server_fragment: Some(1),
                ..both(with(
                    handshake(),
                    vec![
                        SendText(Client, "fragments fragments fragments \u{e9}".into()),
                        SendRepeated(Server, true, "ab".into(), 20),
                        Ping(Server, b"between".to_vec()),
                        SendText(Server, "fragments fragments".into()),
                        Deliver(Client, 5),
                        Deliver(Server, 7),
                        Deliver(Client, all),
                    ],
                ))
            },
        ),
        (
            "deflate_threshold",
            Input {
                client_deflate: deflate(15, 15, false, false, 32, 6),
                server_deflate: deflate(15, 15, false, false, 10, 6),
                ..base(exchange(vec![
                    SendText(Client, "small".into()),
                    SendRepeated(Client, false, "long enough ".into(), 3),
                    SendText(Server, "0123456789".into()),
                    SendText(Server, "012345678".into()),
                ]))
            },
        ),
        (
            "deflate_client_only",
            Input {
                client_deflate: plain,
                ..base(exchange(vec![
                    SendText(Client, "no no no no".into()),
                    SendText(Server, "no no no no".into()),
                ]))
            },
        ),
        (
            "deflate_server_only",
            Input {
                server_deflate: plain,
                ..base(exchange(vec![
                    SendText(Client, "no no no no".into()),
                    SendText(Server, "no no no no".into()),
                ]))
            },
        ),
        (
            "deflate_large_messages",
            Input {
                client_deflate: deflate(15, 15, false, false, 0, 1),
                server_deflate: deflate(15, 15, false, false, 0, 9),
                ..base(with(
                    handshake(),
                    vec![
                        SendRepeated(
                            Client,
                            true,
                            "0123456789abcdefghijklmnopqrstuv".into(),
                            2048,
                        ),
                        SendRepeated(Server, false, "the quick brown fox ".into(), 3000),
                        Deliver(Client, 1000),
                        Deliver(Server, all),
                        Deliver(Client, all),
                    ],
                ))
            },
        ),
        (
            "deflate_empty_messages_and_level_0",
            Input {
                client_deflate: deflate(15, 15, false, false, 0, 0),
                ..both(exchange(vec![
                    SendText(Client, String::new()),
                    SendBinary(Server, vec![]),
                    SendText(Client, "a".into()),
                    SendText(Client, "stored stored".into()),
                ]))
            },
        ),
        (
            "deflate_release_buffers",
            Input {
                // A client window of 8 is offered (and agreed) as 9.
                client_deflate: deflate(8, 11, true, false, 0, 6),
                server_deflate: deflate(15, 15, false, true, 0, 6),
                ..base(exchange(vec![
                    SendText(Client, "first first".into()),
                    SendText(Server, "first first".into()),
                    ReleaseBuffers(Client),
                    ReleaseBuffers(Server),
                    SendText(Client, "first first".into()),
                    SendText(Server, "first first".into()),
                ]))
            },
        ),
        (
            "deflate_small_write_buffer",
            Input {
                // A compressed message of 20 bytes needs room for 45 bytes
                // and a frame header: the second does not fit.
                write_limit: Some(60),
                ..both(with(
                    handshake(),
                    vec![
                        SendBinary(Client, vec![7; 20]),
                        SendBinary(Client, vec![8; 20]),
                        Deliver(Client, all),
                        SendBinary(Client, vec![9; 20]),
                    ],
                ))
            },
        ),
    ];
    let mut listing = String::from(
        "# The pair seeds, decoded\n\nGenerated by fuzz/examples/make_seeds.rs: what each file in seeds/pair/ decodes to.\n",
    );
    for (name, input) in stories {
        let bytes = Enc::input(&input);
        assert!(
            bytes.len() <= 256,
            "pair seed {name}: {} bytes, over 256",
            bytes.len()
        );
        let decoded = Input::arbitrary_take_rest(Unstructured::new(&bytes)).expect("decodes");
        assert_eq!(
            format!("{decoded:?}"),
            format!("{input:?}"),
            "pair seed {name} does not round-trip"
        );
        write(dir, name, &bytes);
        listing.push_str(&format!("\n## {name}\n\n```text\n{input:#?}\n```\n"));
    }
    fs::write(dir.with_file_name("pair.md"), listing).unwrap();
}

/// An encoder for `arbitrary` 1.x's format, for inputs of at most 256
/// bytes: integers little-endian from the front, enum variants as a `u32`
/// scaled to the variant count, `Vec` elements each behind a `true` byte,
/// string lengths one byte each, taken from the back (the last byte first).
#[derive(Default)]
struct Enc {
    front: Vec<u8>,
    /// Length bytes, in the order they are read (from the end backwards).
    lengths: Vec<u8>,
}

impl Enc {
    fn input(input: &Input) -> Vec<u8> {
        let mut e = Self::default();
        for v in [
            input.client_fragment,
            input.server_fragment,
            input.write_limit,
        ] {
            e.option_u16(v);
        }
        e.front.push(u8::from(input.auto_pong));
        e.front.push(u8::from(input.keepalive));
        for d in [&input.client_deflate, &input.server_deflate] {
            e.front.push(u8::from(d.is_some()));
            if let Some(d) = d {
                e.front.extend([
                    d.client_max_window_bits,
                    d.server_max_window_bits,
                    u8::from(d.client_no_context_takeover),
                    u8::from(d.server_no_context_takeover),
                    d.threshold,
                    d.level,
                ]);
            }
        }
        for op in &input.ops {
            e.front.push(1);
            e.op(op);
        }
        e.front.push(0);
        let mut out = e.front;
        out.extend(e.lengths.iter().rev());
        out
    }

    fn variant(&mut self, index: u64, count: u64) {
        let tag = (index << 32).div_ceil(count);
        self.front.extend_from_slice(&(tag as u32).to_le_bytes());
    }

    fn side(&mut self, side: Side) {
        self.variant(u64::from(side == Side::Server), 2);
    }

    fn u16(&mut self, v: u16) {
        self.front.extend_from_slice(&v.to_le_bytes());
    }

    fn option_u16(&mut self, v: Option<u16>) {
        self.front.push(u8::from(v.is_some()));
        if let Some(v) = v {
            self.u16(v);
        }
    }

    fn string(&mut self, s: &str) {
        self.lengths
            .push(u8::try_from(s.len()).expect("short strings"));
        self.front.extend_from_slice(s.as_bytes());
    }

    fn bytes(&mut self, b: &[u8]) {
        for &x in b {
            self.front.extend([1, x]);
        }
        self.front.push(0);
    }

    fn op(&mut self, op: &Op) {
        const N: u64 = 13;
        match op {
            Op::SendText(s, t) => {
                self.variant(0, N);
                self.side(*s);
                self.string(t);
            }
            Op::SendBinary(s, b) => {
                self.variant(1, N);
                self.side(*s);
                self.bytes(b);
            }
            Op::Ping(s, b) => {
                self.variant(2, N);
                self.side(*s);
                self.bytes(b);
            }
            Op::Pong(s, b) => {
                self.variant(3, N);
                self.side(*s);
                self.bytes(b);
            }
            Op::Close(s, code, reason) => {
                self.variant(4, N);
                self.side(*s);
                self.u16(*code);
                self.string(reason);
            }
            Op::AdvanceTime(ms) => {
                self.variant(5, N);
                self.u16(*ms);
            }
            Op::Deliver(s, n) => {
                self.variant(6, N);
                self.side(*s);
                self.u16(*n);
            }
            Op::Eof(s) => {
                self.variant(7, N);
                self.side(*s);
            }
            Op::ReleaseBuffers(s) => {
                self.variant(8, N);
                self.side(*s);
            }
            Op::SendRepeated(s, binary, unit, times) => {
                self.variant(9, N);
                self.side(*s);
                self.front.push(u8::from(*binary));
                self.string(unit);
                self.u16(*times);
            }
            Op::Fail(s, code) => {
                self.variant(10, N);
                self.side(*s);
                self.u16(*code);
            }
            Op::TransportFailed(s) => {
                self.variant(11, N);
                self.side(*s);
            }
            Op::Abandon(s) => {
                self.variant(12, N);
                self.side(*s);
            }
        }
    }
}

// ---- dictionaries ------------------------------------------------------------------

fn entry(bytes: &[u8]) -> String {
    let mut s = String::from("\"");
    for &b in bytes {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(char::from(b)),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('"');
    s
}

fn dict(path: &Path, comment: &str, entries: &[Vec<u8>]) {
    let mut out = format!("# {comment}\n# Generated by fuzz/examples/make_seeds.rs.\n");
    for e in entries {
        out.push_str(&entry(e));
        out.push('\n');
    }
    fs::write(path, out).unwrap();
}

fn frame_tokens(masked: bool) -> Vec<Vec<u8>> {
    let m = if masked { 0x80 } else { 0 };
    let mut t: Vec<Vec<u8>> = vec![
        vec![0x81, m],
        vec![0x82, m],
        vec![0x01, m],
        vec![0x02, m],
        vec![0x00, m],
        vec![0x80, m],
        vec![0x88, m],
        vec![0x89, m],
        vec![0x8a, m],
        vec![0x81, m | 0x7e],
        vec![0x82, m | 0x7e, 0x01, 0x00],
        vec![0x82, m | 0x7f],
        vec![0x82, m | 0x7f, 0, 0, 0, 0, 0, 1, 0, 0],
        vec![0x88, m | 0x02, 0x03, 0xe8],
        vec![0x03, 0xe8],
        vec![0x03, 0xe9],
        vec![0x03, 0xed],
        vec![0x03, 0xef],
        vec![0x0f, 0xa0],
        vec![0xc1, m],
        vec![0xf1, m],
        vec![0x83, m],
        vec![0x09, m],
        vec![0x89, m | 0x7d],
        vec![0xc3, 0xa9],
        vec![0xe2, 0x82, 0xac],
        vec![0xf0, 0x9f, 0x98, 0x80],
        vec![0xed, 0xa0, 0x80],
        vec![0xf4, 0x90, 0x80, 0x80],
        vec![0xc0, 0xaf],
        vec![0xff],
    ];
    if masked {
        t.push(MASK.to_vec());
        t.push(vec![0, 0, 0, 0]);
    }
    t
}

fn http_tokens() -> Vec<Vec<u8>> {
    [
        "\r\n",
        "\r\n\r\n",
        "\n\n",
        ": ",
        ", ",
        "HTTP/1.1",
        "HTTP/1.0",
        "Upgrade: websocket\r\n",
        "Connection: Upgrade\r\n",
        "Connection: keep-alive, Upgrade\r\n",
        "upgrade",
        "websocket",
        "Sec-WebSocket-Version: 13\r\n",
        "Sec-WebSocket-Protocol: ",
        "Sec-WebSocket-Extensions: ",
        "permessage-deflate",
        "Content-Length: ",
        "Transfer-Encoding: chunked",
        "Host: h\r\n",
        "chat",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

fn write_dicts(dir: &Path, accept: &str) {
    let b = |s: &str| s.as_bytes().to_vec();
    let mut header = frame_tokens(false);
    header.extend(frame_tokens(true));
    header.extend([
        vec![0xff; 8],
        vec![0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        vec![0x80, 0, 0, 0, 0, 0, 0, 0],
    ]);
    dict(&dir.join("frame_header.dict"), "frame headers", &header);

    let mut response = http_tokens();
    response.extend([
        b("HTTP/1.1 101"),
        b("HTTP/1.1 101 Switching Protocols\r\n"),
        b("HTTP/1.1 200 OK\r\n"),
        b("HTTP/1.1 401 Unauthorized\r\n"),
        b("HTTP/1.1 302 Found\r\nLocation: /\r\n"),
        format!("Sec-WebSocket-Accept: {accept}\r\n").into_bytes(),
        b(accept),
        b("Sec-WebSocket-Accept: "),
        b("Content-Length: 5\r\n"),
    ]);
    response.extend(frame_tokens(false));
    dict(
        &dir.join("handshake_response.dict"),
        "the server's answer to ws://h/ (its accept key), then frames",
        &response,
    );

    dict(
        &dir.join("client_connection.dict"),
        "frames from a server (unmasked)",
        &frame_tokens(false),
    );

    let mut server = http_tokens();
    server.extend([
        b("GET / HTTP/1.1\r\n"),
        b("GET "),
        b("POST "),
        b("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"),
        b("Sec-WebSocket-Key: "),
        b("dGhlIHNhbXBsZSBub25jZQ=="),
        b("Sec-WebSocket-Version: 8\r\n"),
        b("Sec-WebSocket-Protocol: superchat, chat\r\n"),
        b("Origin: http://example.com\r\n"),
        VALID_REQUEST.to_vec(),
    ]);
    server.extend(frame_tokens(true));
    dict(
        &dir.join("server_connection.dict"),
        "a client's request, then frames from a client (masked)",
        &server,
    );

    // The pair input is arbitrary-encoded; these are values that matter to it.
    let pair = vec![
        vec![0x00, 0x00],
        vec![0xff, 0xff],
        vec![0x03, 0xe8],
        vec![0xe8, 0x03],
        vec![0x88, 0x13],
        vec![0x10, 0x27],
        vec![0x01],
        vec![0xff, 0xff, 0xff, 0xff],
        b("hello"),
        "\u{e9}\u{20ac}\u{1f600}".as_bytes().to_vec(),
        // Compressible text, and window bits 8, 9 and 15 (permessage-deflate).
        b("abcabcabcabcabcabcabcabc"),
        vec![0x08, 0x09, 0x0f],
    ];
    dict(
        &dir.join("pair.dict"),
        "values for the arbitrary-encoded pair input",
        &pair,
    );
}
