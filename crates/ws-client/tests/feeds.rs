//! What long-lived feeds need: pings and their round trip, keepalive on
//! by default (and what it does against a peer that stops answering), and
//! settings that `config()` does not undo.

mod common;

use std::io::{Read as _, Write as _};
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use ws_client::{Callbacks, PongEvent, WebSocket};
use ws_proto::Config;
use ws_test_support::frames;
use ws_test_support::handshake::accept;

/// What the feed handler saw, in order.
#[derive(Debug)]
enum Heard {
    Open,
    Message,
    Ping(Vec<u8>),
    Pong(Vec<u8>, Option<Duration>),
    Error(i64),
    Terminate(u16),
}

/// A handler that reports every callback; `on_open` runs `opened` too.
fn feed(
    opened: impl FnMut(&WebSocket<Callbacks>) + Send + 'static,
) -> (Callbacks, mpsc::Receiver<Heard>) {
    let (tx, rx) = mpsc::channel();
    let (t1, t2, t3, t4, t5) = (tx.clone(), tx.clone(), tx.clone(), tx.clone(), tx.clone());
    let mut opened = opened;
    let handler = Callbacks::new()
        .on_open(move |ws, _| {
            let _ = t1.send(Heard::Open);
            opened(ws);
        })
        .on_message(move |_, _| {
            let _ = t2.send(Heard::Message);
        })
        .on_ping(move |_, payload| {
            let _ = t3.send(Heard::Ping(payload.to_vec()));
        })
        .on_pong(move |_, event: &PongEvent| {
            let _ = t4.send(Heard::Pong(event.payload.to_vec(), event.rtt));
        })
        .on_error(move |_, event| {
            let _ = t5.send(Heard::Error(event.error.code()));
        })
        .on_terminate(move |_, event| {
            let _ = tx.send(Heard::Terminate(event.code));
        });
    (handler, rx)
}

fn next(rx: &mpsc::Receiver<Heard>) -> Heard {
    rx.recv_timeout(WAIT).expect("a callback in time")
}

#[test]
fn a_ping_measures_the_round_trip() {
    let server = TestServer::start();
    let (handler, rx) = feed(|ws| {
        ws.ping(b"first").unwrap();
        ws.ping(b"second").unwrap();
    });
    let ws = WebSocket::new(&server.url("/echo"), handler).unwrap();
    assert!(matches!(next(&rx), Heard::Open));
    for expected in [&b"first"[..], b"second"] {
        match next(&rx) {
            Heard::Pong(payload, rtt) => {
                assert_eq!(payload, expected);
                let rtt = rtt.expect("a pong to our ping has a round trip");
                assert!(rtt < WAIT, "{rtt:?}");
            }
            other => panic!("expected a pong, got {other:?}"),
        }
    }
    assert!(ws.rtt().is_some());
    assert!(
        ws.ping(&[0; 126]).is_err(),
        "a ping payload is at most 125 bytes"
    );
    ws.terminate(None, None).unwrap();
    assert!(matches!(next(&rx), Heard::Terminate(1000)));
}

#[test]
fn keepalive_pongs_measure_the_round_trip_too() {
    let server = TestServer::start();
    let (handler, rx) = feed(|_| {});
    let ws = WebSocket::builder(&server.url("/echo"))
        .keepalive(Some(Duration::from_millis(100)))
        .connect(handler)
        .unwrap();
    assert!(matches!(next(&rx), Heard::Open));
    match next(&rx) {
        Heard::Pong(payload, rtt) => {
            assert!(payload.starts_with(b"keepalive "), "{payload:?}");
            assert!(rtt.is_some(), "the keepalive pong has a round trip");
        }
        other => panic!("expected the keepalive pong, got {other:?}"),
    }
    assert!(ws.rtt().is_some());
    ws.terminate(None, None).unwrap();
}

/// A server that completes the handshake, sends a ping and then a pong
/// nobody asked for, then reads without ever answering anything.
fn pinging_then_deaf_server() -> String {
    raw_server(|mut stream| {
        accept(&mut stream).unwrap();
        // Unmasked: a ping "srv", then an unsolicited pong "zzz".
        stream.write_all(&[0x89, 3, b's', b'r', b'v']).unwrap();
        stream.write_all(&[0x8A, 3, b'z', b'z', b'z']).unwrap();
        let mut sink = [0u8; 1024];
        while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
    })
}

#[test]
fn keepalive_fails_a_connection_whose_peer_stopped_answering() {
    let (handler, rx) = feed(|_| {});
    let ws = WebSocket::builder(&pinging_then_deaf_server())
        .keepalive(Some(Duration::from_millis(200)))
        .keepalive_timeout(Duration::from_millis(300))
        .connect(handler)
        .unwrap();
    assert!(matches!(next(&rx), Heard::Open));
    match next(&rx) {
        Heard::Ping(payload) => assert_eq!(payload, b"srv"),
        other => panic!("expected the server's ping, got {other:?}"),
    }
    match next(&rx) {
        Heard::Pong(payload, rtt) => {
            assert_eq!(payload, b"zzz");
            assert_eq!(rtt, None, "an unsolicited pong measures nothing");
        }
        other => panic!("expected the unsolicited pong, got {other:?}"),
    }
    assert_eq!(ws.rtt(), None);
    // Then the keepalive ping goes unanswered: timeout, 1006.
    assert!(matches!(next(&rx), Heard::Error(25)));
    assert!(matches!(next(&rx), Heard::Terminate(1006)));
}

#[test]
fn keepalive_is_on_by_default_and_can_be_turned_off() {
    let default = format!("{:?}", WebSocket::builder("ws://127.0.0.1:9/"));
    assert!(
        default.contains("keepalive_interval: Some(20s)"),
        "{default}"
    );
    let (handler, rx) = feed(|_| {});
    let ws = WebSocket::builder(&pinging_then_deaf_server())
        .keepalive(None)
        .connect(handler)
        .unwrap();
    assert!(matches!(next(&rx), Heard::Open));
    assert!(matches!(next(&rx), Heard::Ping(_)));
    assert!(matches!(next(&rx), Heard::Pong(..)));
    // Nothing more while the server stays silent.
    assert!(rx.recv_timeout(Duration::from_millis(500)).is_err());
    ws.terminate(None, None).unwrap();
}

#[test]
fn config_does_not_undo_the_settings_made_before_it() {
    // A 100-byte limit set before `config()`: the 200-byte echo breaks it.
    let server = TestServer::start();
    let (handler, rx) = feed(|ws| ws.send("x".repeat(200)).unwrap());
    let _ws = WebSocket::builder(&server.url("/echo"))
        .max_message_size(100)
        .config(Config::default())
        .connect(handler)
        .unwrap();
    assert!(matches!(next(&rx), Heard::Open));
    assert!(matches!(next(&rx), Heard::Error(23)), "the limit held");
    assert!(matches!(next(&rx), Heard::Terminate(_)));
}

#[test]
fn on_drain_follows_a_refused_send_once_the_peer_reads() {
    // A server that reads nothing until told, then everything.
    let (go, wait) = mpsc::channel::<()>();
    let url = raw_server(move |mut stream| {
        accept(&mut stream).unwrap();
        let _ = wait.recv_timeout(WAIT);
        let mut sink = vec![0u8; 1 << 16];
        while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
    });
    let (drained, drains) = mpsc::channel();
    let (handler, rx) = feed(|_| {});
    let handler = handler.on_drain(move |_| {
        let _ = drained.send(());
    });
    let ws = WebSocket::builder(&url)
        .max_write_buffer(256 << 10)
        .connect(handler)
        .unwrap();
    assert!(matches!(next(&rx), Heard::Open));
    let chunk = vec![1u8; 64 << 10];
    let mut sent = 0usize;
    loop {
        match ws.send(&chunk[..]) {
            Ok(()) => sent += chunk.len(),
            Err(ws_client::Error::WriteBufferFull { .. }) => break,
            Err(e) => panic!("send: {e}"),
        }
        assert!(
            sent < 512 << 20,
            "512 MiB went out to a peer that reads nothing"
        );
    }
    assert!(drains.try_recv().is_err(), "a drain before the peer read");
    go.send(()).unwrap();
    drains.recv_timeout(WAIT).expect("on_drain");
    ws.send(&chunk[..]).expect("room again after the drain");
    assert!(
        drains.recv_timeout(Duration::from_millis(300)).is_err(),
        "one drain per refusal"
    );
    ws.terminate(None, None).unwrap();
}

/// Pongs with the wrong payload, a flood of pongs nobody asked for, and an
/// answer to a ping too old to be remembered measure nothing; only the
/// right answer to a remembered ping does.
#[test]
fn wrong_unsolicited_and_stale_pongs_measure_nothing() {
    const PINGS: u8 = 20;
    const FLOOD: usize = 5_000;
    let url = raw_server(|mut stream| {
        accept(&mut stream).unwrap();
        let mut pings = 0;
        while pings < PINGS {
            match frames::read_client_frame(&mut stream)
                .ok()
                .map(|f| (f.opcode, f.payload))
            {
                Some((0x9, _)) => {
                    pings += 1;
                    stream.write_all(&[0x8A, 5]).unwrap();
                    stream.write_all(b"wrong").unwrap();
                }
                Some(_) => {}
                None => return,
            }
        }
        let flood: Vec<u8> = [0x8A, 3, b'z', b'z', b'z'].repeat(FLOOD);
        stream.write_all(&flood).unwrap();
        // The answer to the oldest ping (no longer remembered), then to
        // the latest.
        stream
            .write_all(&[0x8A, 1, b'1', 0x8A, 2, b'2', b'0'])
            .unwrap();
        let mut sink = [0u8; 1024];
        while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
    });
    let (handler, rx) = feed(|ws| {
        for n in 1..=PINGS {
            ws.ping(n.to_string().as_bytes()).unwrap();
        }
    });
    let ws = WebSocket::builder(&url)
        .keepalive(None)
        .close_timeout(Some(Duration::from_millis(200)))
        .connect(handler)
        .unwrap();
    assert!(matches!(next(&rx), Heard::Open));
    let mut pongs = Vec::new();
    while pongs.len() < usize::from(PINGS) + FLOOD + 2 {
        match next(&rx) {
            Heard::Pong(payload, rtt) => pongs.push((payload, rtt)),
            other => panic!("expected pongs, got {other:?}"),
        }
    }
    let (last, rest) = pongs.split_last().unwrap();
    for (payload, rtt) in rest {
        assert_eq!(*rtt, None, "the pong {payload:?} measured a round trip");
    }
    assert_eq!(last.0, b"20");
    assert!(last.1.is_some(), "the answer to the latest ping measures");
    assert_eq!(ws.rtt(), last.1);
    ws.terminate(None, None).unwrap();
}
