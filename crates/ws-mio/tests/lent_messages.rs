//! A handler that takes messages lent (`Handler::lends_messages`): every
//! message reaches `on_message_ref`, whatever its size and however it
//! arrived (whole, fragmented; copied out of the read buffer or kept), in
//! order with everything else; failing the connection mid-batch and
//! panicking behave as with owned messages.

mod common;

use std::sync::mpsc::{self, Sender};
use std::time::Duration;

use common::{Seen, burst_server, client_loop, frame, recv};
use ws_mio::{ClientOptions, Conn, Event, Handler};
use ws_proto::{ClientRequest, CloseCode, MessageRef};
use ws_test_support::frames::first_close_code;

const DEADLINE: Duration = Duration::from_secs(20);

/// Reports what it hears; fails the connection on the text "bad" and
/// panics on the text "panic".
struct Lending {
    tx: Sender<Seen>,
}

impl Handler for Lending {
    fn on_event(&mut self, _: &Conn, event: Event) {
        assert!(
            !matches!(event, Event::Message(_)),
            "a lending handler gets messages lent"
        );
        let _ = self.tx.send(Seen::from(event));
    }

    fn lends_messages(&self) -> bool {
        true
    }

    fn on_message_ref(&mut self, conn: &Conn, message: MessageRef<'_>) {
        match message {
            MessageRef::Text("bad") => {
                conn.fail(CloseCode::INVALID_PAYLOAD, "not for me").unwrap();
            }
            MessageRef::Text("panic") => panic!("a handler bug"),
            _ => {}
        }
        let _ = self.tx.send(match message {
            MessageRef::Text(t) => Seen::Text(t.to_owned()),
            MessageRef::Binary(b) => Seen::Binary(b.to_vec()),
        });
    }
}

/// Connects a lending handler to a raw server that writes `burst` in one
/// write after the handshake; returns what the handler heard up to
/// `Closed` and the bytes the server received.
fn hear(burst: Vec<u8>) -> (Vec<Seen>, Vec<u8>) {
    let (addr, server) = burst_server("burst-server", burst);
    let client = client_loop();
    let (tx, rx) = mpsc::channel();
    let request = ClientRequest::new("127.0.0.1", addr.port(), "/");
    client
        .handle
        .connect(&request, ClientOptions::default(), Lending { tx })
        .unwrap();
    let mut seen = Vec::new();
    while !matches!(seen.last(), Some(Seen::Closed { .. })) {
        seen.push(rx.recv_timeout(DEADLINE).expect("the connection's events"));
    }
    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
    let (bytes, _) = recv(&server, DEADLINE, "the server's view").unwrap();
    client.stop("client loop");
    (seen, bytes)
}

fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

#[test]
fn every_message_is_lent_in_order_whatever_its_size_or_framing() {
    let mut burst = Vec::new();
    burst.extend(frame(0x81, b"one", false));
    burst.extend(frame(0x82, &bytes(16, 1), false));
    burst.extend(frame(0x82, &bytes(256, 2), false)); // the largest copied
    burst.extend(frame(0x82, &bytes(257, 3), false)); // kept, not copied
    burst.extend(frame(0x82, &bytes(70_000, 4), false));
    burst.extend(frame(0x81, "h\u{e9}llo \u{1F600}".as_bytes(), false));
    burst.extend(frame(0x01, b"frag", false)); // a fragmented message
    burst.extend(frame(0x89, b"ping", false)); // a ping between its frames
    burst.extend(frame(0x80, b"ment", false));
    burst.extend(frame(0x82, &[], false));
    for i in 0..40u8 {
        burst.extend(frame(0x82, &[i; 3], false)); // more than one batch
    }
    burst.extend(frame(0x88, &1000u16.to_be_bytes(), false));
    let (seen, _) = hear(burst);
    let mut expected = vec![
        Seen::Open,
        Seen::Text("one".into()),
        Seen::Binary(bytes(16, 1)),
        Seen::Binary(bytes(256, 2)),
        Seen::Binary(bytes(257, 3)),
        Seen::Binary(bytes(70_000, 4)),
        Seen::Text("h\u{e9}llo \u{1F600}".into()),
        Seen::Ping(b"ping".to_vec()),
        Seen::Text("fragment".into()),
        Seen::Binary(Vec::new()),
    ];
    expected.extend((0..40u8).map(|i| Seen::Binary(vec![i; 3])));
    expected.push(Seen::closed(1000, "", true));
    let short = |s: &[Seen]| s.iter().map(Seen::short).collect::<Vec<_>>();
    assert_eq!(short(&seen), short(&expected));
    assert_eq!(seen, expected);
}

#[test]
fn a_lending_handler_that_fails_its_connection_hears_nothing_more_of_the_batch() {
    let mut burst = Vec::new();
    for text in ["one", "bad", "three", "four"] {
        burst.extend(frame(0x81, text.as_bytes(), false));
    }
    let (seen, bytes) = hear(burst);
    assert_eq!(
        seen.iter().map(Seen::short).collect::<Vec<_>>(),
        [
            "Open",
            "Text(\"one\")",
            "Text(\"bad\")",
            &format!("{:?}", seen[3]),
            &format!("{:?}", Seen::closed(1007, "not for me", false)),
        ]
    );
    assert!(
        matches!(&seen[3], Seen::Error { message, .. } if message.contains("1007")),
        "{:?}",
        seen[3]
    );
    assert_eq!(first_close_code(&bytes), Some(1007));
}

#[test]
fn a_lending_handler_that_panics_fails_its_connection_with_1011() {
    let mut burst = Vec::new();
    for text in ["one", "panic", "three"] {
        burst.extend(frame(0x81, text.as_bytes(), false));
    }
    let (seen, bytes) = hear(burst);
    assert_eq!(seen[..2], [Seen::Open, Seen::Text("one".into())]);
    assert_eq!(first_close_code(&bytes), Some(1011));
    assert!(
        !seen.contains(&Seen::Text("panic".into())),
        "the panic ended the call"
    );
}
