//! Back-pressure against a peer that stops reading, and a handler that
//! panics: both stay within one connection, never the loop.

mod common;

use std::io;
use std::net::SocketAddr;
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use common::{accept_by_hand, client_loop, raw_server, recv, serve};
use ws_mio::{ClientOptions, Conn, Event, ServerOptions};
use ws_proto::{ClientRequest, CloseCode, Message, SendError};

const DEADLINE: Duration = Duration::from_secs(20);

/// A server that completes the handshake by hand, then never reads again.
fn deaf_server() -> (SocketAddr, Receiver<io::Result<()>>) {
    raw_server("deaf-server", |stream| {
        accept_by_hand(stream)?;
        // Hold the socket without reading, long enough for the test.
        thread::sleep(Duration::from_secs(5));
        Ok(())
    })
}

#[test]
fn a_peer_that_stops_reading_fills_the_write_buffer_to_its_limit_and_no_further() {
    let (addr, server) = deaf_server();
    let client = client_loop();
    let limit = 4 << 20;
    let options =
        ClientOptions::default().config(ws_proto::Config::default().max_write_buffer(limit));
    let (tx, rx) = mpsc::channel();
    let request = ClientRequest::new("127.0.0.1", addr.port(), "/");
    let conn = client
        .handle
        .connect(&request, options, move |_: &Conn, event: Event| {
            let _ = tx.send(matches!(event, Event::Open(_)));
        })
        .unwrap();
    assert!(rx.recv_timeout(DEADLINE).unwrap(), "open");

    // Send 64 KiB messages until refused: the socket buffers fill, then
    // ours, up to the limit.
    let chunk = vec![0u8; 64 << 10];
    let started = Instant::now();
    let mut sent = 0usize;
    let refusal = loop {
        match conn.send_binary(&chunk) {
            Ok(()) => sent += 1,
            Err(e) => break e,
        }
        assert!(
            started.elapsed() < DEADLINE,
            "never refused after {sent} messages"
        );
        if sent % 16 == 0 {
            thread::sleep(Duration::from_millis(1)); // let the loop write what it can
        }
    };
    match refusal {
        SendError::WriteBufferFull {
            buffered, limit: l, ..
        } => {
            assert_eq!(l, limit);
            assert!(buffered <= limit, "buffered {buffered} over the limit");
        }
        other => panic!("expected WriteBufferFull, got {other}"),
    }
    assert!(conn.buffered_amount() <= limit);
    // The refused message was not queued; the connection is still usable.
    assert_eq!(conn.state(), ws_proto::State::Open);
    client.stop("client loop");
    recv(&server, DEADLINE, "deaf server").expect("deaf server");
}

#[test]
fn a_panicking_handler_fails_its_connection_with_1011_and_the_loop_goes_on() {
    let (addr, server) = serve(ServerOptions::default(), "echo-server", || {
        |conn: &Conn, event: Event| {
            if let Event::Message(Message::Text(t)) = event {
                if &*t == "panic" {
                    panic!("a handler bug");
                }
                let _ = conn.send_text(&t);
            }
        }
    });

    let client = client_loop();
    let (tx, rx) = mpsc::channel();
    let request = ClientRequest::new("127.0.0.1", addr.port(), "/");
    for name in ["first", "second"] {
        let tx = tx.clone();
        client
            .handle
            .connect(
                &request,
                ClientOptions::default(),
                move |conn: &Conn, event: Event| match event {
                    Event::Open(_) => conn
                        .send_text(if name == "first" { "panic" } else { "hello" })
                        .unwrap(),
                    Event::Message(Message::Text(t)) => {
                        let _ = tx.send(format!("{name}: echo {t}"));
                        conn.close(CloseCode::NORMAL, "").unwrap();
                    }
                    Event::Closed(c) => {
                        let _ = tx.send(format!("{name}: closed {}", c.code.0));
                    }
                    _ => {}
                },
            )
            .unwrap();
    }
    let mut seen: Vec<String> = (0..3).map(|_| rx.recv_timeout(DEADLINE).unwrap()).collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            "first: closed 1011",
            "second: closed 1000",
            "second: echo hello"
        ]
    );
    client.stop("client loop");
    server.stop("server loop");
}
