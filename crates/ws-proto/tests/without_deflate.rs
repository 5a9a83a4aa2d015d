//! ws-proto built without its `deflate` feature: `Config::deflate` is
//! accepted and ignored. A client offers no extension and refuses a server
//! that answers with permessage-deflate anyway (as it refuses any extension
//! it did not offer); a server declines every offer. Run with
//! `cargo test -p ws-proto --no-default-features`.

#![cfg(not(feature = "deflate"))]

mod common;

use std::time::Instant;

use common::*;
use ws_proto::{
    ClientRequest, Config, Connection, DeflateConfig, Error, Event, HandshakeError, ServerConfig,
    handshake,
};

fn with_deflate() -> Config {
    Config::default().deflate(Some(DeflateConfig::default()))
}

#[test]
fn a_client_offers_nothing_and_refuses_a_deflate_answer() {
    let now = Instant::now();
    let request = ClientRequest::new("example.com", 80, "/");
    let mut client = Connection::client(now, with_deflate(), &request, rng(1)).unwrap();
    let head = String::from_utf8(take_output(&mut client)).unwrap();
    assert!(!head.contains("Sec-WebSocket-Extensions"), "{head}");
    let key = head
        .lines()
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
        .unwrap();
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
        handshake::accept_key(key.as_bytes())
    );
    client.receive(now, answer.as_bytes());
    match events(&mut client).as_slice() {
        [Event::Error(Error::Handshake(e)), Event::Closed(_)] => assert_eq!(
            *e,
            HandshakeError::UnexpectedExtension("permessage-deflate".into())
        ),
        other => panic!("expected a handshake error, got {other:?}"),
    }
    assert_eq!(client.deflate(), None);
}

#[test]
fn a_server_declines_every_offer() {
    let now = Instant::now();
    let mut server = Connection::server(now, with_deflate(), ServerConfig::default());
    let request = REQUEST.replace(
        "\r\n\r\n",
        "\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n",
    );
    server.receive(now, request.as_bytes());
    assert!(matches!(server.poll_event(), Some(Event::Open(_))));
    let answer = String::from_utf8(take_output(&mut server)).unwrap();
    assert!(answer.starts_with("HTTP/1.1 101"), "{answer}");
    assert!(!answer.contains("Sec-WebSocket-Extensions"), "{answer}");
    assert_eq!(server.deflate(), None);
}
