//! The loop's memory budget (`EventLoop::set_memory_budget`): a connection
//! whose input takes the loop over it is failed (1013 from a server, 1009
//! from a client) and the others keep working; sends that would pass it
//! are refused. And a failed connection's transport is closed as soon as
//! its close frame is out, not after the close timeout.

mod common;

use std::io::Write as _;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{
    LoopThread, Seen, accept_by_hand, burst_server, connect_by_hand, expect, frame, next,
    raw_server, recv,
};
use ws_mio::{ClientOptions, Conn, Event, EventLoop, ServerOptions};
use ws_proto::{ClientRequest, Config, Message, SendError};
use ws_test_support::frames::first_close_code;
use ws_test_support::raw_server::drain_until_eof;

const DEADLINE: Duration = Duration::from_secs(20);

/// A server loop with `budget`, each connection's events on the channel.
fn budget_server(
    budget: usize,
    config: Config,
) -> (
    std::net::SocketAddr,
    LoopThread,
    mpsc::Receiver<(u64, Seen)>,
) {
    let mut event_loop = EventLoop::new().unwrap();
    event_loop.set_memory_budget(Some(budget));
    let (tx, rx) = mpsc::channel();
    let options = ServerOptions::default().config(config);
    let addr = event_loop
        .listen("127.0.0.1:0".parse().unwrap(), options, move || {
            let tx = tx.clone();
            move |conn: &Conn, event: Event| {
                if let Event::Message(Message::Text(t)) = &event {
                    let _ = conn.send_text(t);
                }
                let _ = tx.send((conn.id(), Seen::from(event)));
            }
        })
        .unwrap();
    (addr, LoopThread::spawn(event_loop, "budget-server"), rx)
}

#[test]
fn the_connection_that_passes_the_budget_is_failed_with_1013_and_the_others_go_on() {
    let budget = 3 << 20;
    let config = Config::default()
        .max_message_size(16 << 20)
        .max_frame_size(1 << 20);
    let (addr, server, events) = budget_server(budget, config);

    // A well-behaved client, open before and after.
    let mut polite = connect_by_hand(addr).unwrap();
    let polite_id = match recv(&events, DEADLINE, "the first Open") {
        (id, Seen::Open) => id,
        other => panic!("{other:?}"),
    };

    // A hostile one: an unfinished message, 512 KiB at a time, up to 8 MiB.
    let hog = thread::spawn(move || {
        let mut stream = connect_by_hand(addr).unwrap();
        let fragment = vec![b'x'; 512 << 10];
        let mut first = true;
        for _ in 0..16 {
            let opcode = if first { 0x01 } else { 0x00 };
            first = false;
            if stream.write_all(&frame(opcode, &fragment, true)).is_err() {
                break; // failed and closed already
            }
        }
        drain_until_eof(&mut stream, Instant::now() + DEADLINE)
    });
    let (wire, eof) = hog.join().unwrap();
    assert!(eof, "the hostile connection was not closed");
    assert_eq!(first_close_code(&wire), Some(1013), "{} bytes", wire.len());

    // The server reported why, then the close with the code it sent.
    let mut hog_events = Vec::new();
    while hog_events.len() < 3 {
        let (id, seen) = recv(&events, DEADLINE, "the hostile connection's events");
        if id != polite_id {
            hog_events.push(seen);
        }
    }
    assert_eq!(hog_events[0], Seen::Open);
    assert!(
        matches!(&hog_events[1], Seen::Error { component: "ws-mio", message } if message.contains("memory budget")),
        "{:?}",
        hog_events[1]
    );
    assert!(matches!(hog_events[2], Seen::Closed { code: 1013, .. }));
    assert!(server.handle.memory_held() < budget);

    // The other connection still works.
    polite
        .write_all(&frame(0x81, b"still here?", true))
        .unwrap();
    assert_eq!(
        recv(&events, DEADLINE, "the echo"),
        (polite_id, Seen::Text("still here?".into()))
    );
    let mut echo = [0u8; 13];
    std::io::Read::read_exact(&mut polite, &mut echo).unwrap();
    assert_eq!(&echo[2..], b"still here?");
    server.stop("budget server");
}

#[test]
fn a_send_that_would_pass_the_budget_is_refused_with_the_budget_as_limit() {
    let (addr, deaf) = raw_server("deaf-server", |stream| {
        accept_by_hand(stream)?;
        thread::sleep(Duration::from_secs(3));
        Ok(())
    });
    let budget = 1 << 20;
    let mut event_loop = EventLoop::new().unwrap();
    event_loop.set_memory_budget(Some(budget));
    let client = LoopThread::spawn(event_loop, "client-loop");
    let (tx, rx) = mpsc::channel();
    let request = ClientRequest::new("127.0.0.1", addr.port(), "/");
    let conn = client
        .handle
        .connect(
            &request,
            ClientOptions::default(),
            move |_: &Conn, e: Event| {
                let _ = tx.send(matches!(e, Event::Open(_)));
            },
        )
        .unwrap();
    assert!(rx.recv_timeout(DEADLINE).unwrap());
    let message = vec![0u8; 200 << 10];
    let started = Instant::now();
    let refusal = loop {
        match conn.send_binary(&message) {
            Ok(()) => assert!(started.elapsed() < DEADLINE, "never refused"),
            Err(e) => break e,
        }
    };
    match refusal {
        SendError::WriteBufferFull {
            limit, buffered, ..
        } => {
            assert_eq!(limit, budget);
            assert!(buffered <= budget + (200 << 10) + (512 << 10), "{buffered}");
        }
        other => panic!("{other}"),
    }
    assert!(client.handle.memory_held() <= budget + (1 << 20));
    assert_eq!(conn.state(), ws_proto::State::Open);
    client.stop("client loop");
    recv(&deaf, DEADLINE, "deaf server").unwrap();
}

#[test]
fn a_failed_connection_closes_its_transport_once_the_close_frame_is_out() {
    // The close timeout is long: an end within the deadline can only be
    // the drain rule (7.1.7), not a timer.
    let (addr, server) = burst_server("bad-utf8-server", frame(0x81, b"\xff\xfe", false));
    let client = common::client_loop();
    let options = ClientOptions::default()
        .config(Config::default().close_timeout(Some(Duration::from_secs(120))));
    let request = ClientRequest::new("127.0.0.1", addr.port(), "/");
    let (_conn, events) = common::connect(&client.handle, &request, options, |_| {});
    expect(&events, Seen::Open);
    assert!(matches!(next(&events, "Error"), Seen::Error { .. }));
    assert!(matches!(
        next(&events, "Closed"),
        Seen::Closed {
            code: 1007,
            clean: false,
            ..
        }
    ));
    let (wire, eof) = recv(&server, DEADLINE, "server").unwrap();
    assert!(eof, "the client did not end the transport");
    assert_eq!(first_close_code(&wire), Some(1007));
    client.stop("client loop");
}
