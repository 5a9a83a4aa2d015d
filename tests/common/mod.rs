//! Helpers shared by the root package's tests (`tests/send_allocations.rs`,
//! `tests/deflate_memory.rs`) and benchmarks (`benches/proto.rs`,
//! `benches/deflate.rs`, which include this file with `#[path]`): all drive
//! `ws_proto::Connection`s by hand, with no I/O. Each uses some of them.

#![allow(dead_code)]

use std::time::Instant;

use rand::SeedableRng as _;
use rand::rngs::StdRng;
use ws_proto::frame::OpCode;
use ws_proto::{ClientRequest, Config, Connection, DeflateConfig, Event, ServerConfig, State};
use ws_test_support::{frames, handshake};

/// Moves everything `from` has to send into `to`.
pub(crate) fn pump(from: &mut Connection, to: &mut Connection, now: Instant) {
    while let Some(bytes) = from.poll_transmit() {
        let n = bytes.len();
        to.receive(now, bytes);
        from.advance_transmit(n);
    }
}

/// A client and a server, each with its deflate settings, past the opening
/// handshake (each has taken its `Open` event).
pub(crate) fn open_pair(
    now: Instant,
    client_deflate: Option<DeflateConfig>,
    server_deflate: Option<DeflateConfig>,
) -> (Connection, Connection) {
    let config = |deflate| Config::default().deflate(deflate);
    let request = ClientRequest::new("example.com", 80, "/");
    let rng = StdRng::seed_from_u64(1);
    let mut client = Connection::client(now, config(client_deflate), &request, rng).unwrap();
    let mut server = Connection::server(now, config(server_deflate), ServerConfig::default());
    pump(&mut client, &mut server, now);
    assert!(matches!(server.poll_event(), Some(Event::Open(_))));
    pump(&mut server, &mut client, now);
    assert!(matches!(client.poll_event(), Some(Event::Open(_))));
    (client, server)
}

/// A client connection whose opening handshake is complete: the 101 answer
/// carries the accept key computed from the request's own key.
pub(crate) fn open_client(seed: u64) -> (Connection, Instant) {
    let now = Instant::now();
    let request = ClientRequest::new("example.com", 80, "/");
    let mut conn = Connection::client(
        now,
        Config::default(),
        &request,
        StdRng::seed_from_u64(seed),
    )
    .expect("valid request");
    let head = conn.poll_transmit().expect("request queued").to_vec();
    conn.advance_transmit(head.len());
    let head = String::from_utf8(head).expect("ASCII request");
    let key = handshake::header_str(&head, "sec-websocket-key").expect("Sec-WebSocket-Key");
    let answer = handshake::answer_101(key.as_bytes(), "");
    conn.receive(now, answer.as_bytes());
    assert!(matches!(conn.poll_event(), Some(Event::Open(_))));
    assert!(conn.poll_event().is_none());
    assert_eq!(conn.state(), State::Open);
    (conn, now)
}

/// Appends one unmasked (server-to-client) frame, header and payload, to
/// `out`.
pub(crate) fn push_server_frame(opcode: OpCode, payload: &[u8], out: &mut Vec<u8>) {
    frames::push(out, frames::FIN | opcode.bits(), payload, None);
}
