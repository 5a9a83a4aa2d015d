//! The order of a connection's events when the handler or the transport
//! fails it: ws-proto decides it (at most one `Error`, nothing but
//! `Closed` after it), and the loop only delivers, even the messages it
//! decoded ahead in a batch.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::{burst_server, client_loop, frame, recv};
use ws_mio::{ClientOptions, Conn, Error, Event};
use ws_proto::{ClientRequest, CloseCode, Message};
use ws_test_support::frames::first_close_code;

const DEADLINE: Duration = Duration::from_secs(20);

#[test]
fn a_handler_that_fails_its_connection_hears_nothing_after_but_the_error_and_closed() {
    // One write of four messages: the loop decodes them in one batch.
    let mut burst = Vec::new();
    for text in ["one", "bad", "three", "four"] {
        burst.extend(frame(0x81, text.as_bytes(), false));
    }
    let (addr, server) = burst_server("burst-server", burst);
    let client = client_loop();
    let (tx, rx) = mpsc::channel();
    let request = ClientRequest::new("127.0.0.1", addr.port(), "/");
    client
        .handle
        .connect(
            &request,
            ClientOptions::default(),
            move |conn: &Conn, event: Event| {
                let seen = match event {
                    Event::Message(Message::Text(t)) => {
                        if &*t == "bad" {
                            conn.fail(CloseCode::INVALID_PAYLOAD, "not for me").unwrap();
                        }
                        format!("message {}", &*t)
                    }
                    Event::Error(Error::Protocol(ws_proto::Error::Failed(code))) => {
                        format!("failed {}", code.0)
                    }
                    Event::Error(e) => format!("error {e}"),
                    Event::Closed(c) => format!("closed {} {}", c.code.0, c.was_clean),
                    _ => return,
                };
                let _ = tx.send(seen);
            },
        )
        .unwrap();
    let mut seen = Vec::new();
    while seen
        .last()
        .is_none_or(|s: &String| !s.starts_with("closed"))
    {
        seen.push(rx.recv_timeout(DEADLINE).expect("the connection's events"));
    }
    assert_eq!(
        seen,
        [
            "message one",
            "message bad",
            "failed 1007",
            "closed 1007 false"
        ]
    );
    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
    let (bytes, eof) = recv(&server, DEADLINE, "the server's view").unwrap();
    assert_eq!(first_close_code(&bytes), Some(1007));
    assert!(eof, "the failing side closes the transport");
    client.stop("client loop");
}
