//! The `tracing` feature: a connection's stages, open, error and end reach
//! a subscriber, with the connection's id. Its own test binary (it sets
//! the process-wide subscriber), built only with the feature.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use ws_mio::{ClientOptions, Conn, EchoServer, Event, EventLoop, ServerOptions};
use ws_proto::{ClientRequest, CloseCode};
use ws_test_support::trace_lines;

const DEADLINE: Duration = Duration::from_secs(20);

#[test]
fn a_connection_logs_its_stages_its_open_and_its_end_and_a_refused_one_its_error() {
    trace_lines::install("ws_mio");

    let server =
        EchoServer::start("127.0.0.1:0".parse().unwrap(), ServerOptions::default()).unwrap();
    let mut event_loop = EventLoop::new().unwrap();
    let handle = event_loop.handle();
    let looping = thread::spawn(move || event_loop.run());
    let (tx, rx) = mpsc::channel();
    let port = server.local_addr().port();
    let open = {
        let tx = tx.clone();
        handle
            .connect(
                &ClientRequest::new("127.0.0.1", port, "/"),
                ClientOptions::default(),
                move |conn: &Conn, event: Event| match event {
                    Event::Open(_) => conn.close(CloseCode::NORMAL, "done").unwrap(),
                    Event::Closed(_) => tx.send(()).unwrap(),
                    _ => {}
                },
            )
            .unwrap()
    };
    rx.recv_timeout(DEADLINE)
        .expect("the echo connection's end");
    // Nothing listens on port 9 of the loopback (discard).
    let refused = handle
        .connect(
            &ClientRequest::new("127.0.0.1", 9, "/"),
            ClientOptions::default(),
            move |_: &Conn, event: Event| {
                if let Event::Closed(_) = event {
                    tx.send(()).unwrap();
                }
            },
        )
        .unwrap();
    rx.recv_timeout(DEADLINE)
        .expect("the refused connection's end");

    let lines = trace_lines::with_field("conn", open.id());
    let has = |level: &str, message: &str| {
        lines
            .iter()
            .any(|l| l.starts_with(level) && l.contains(message))
    };
    assert!(has("DEBUG", "connecting"), "{lines:#?}");
    assert!(has("DEBUG", "TCP connected"), "{lines:#?}");
    assert!(has("INFO", "open"), "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("INFO") && l.contains("closed") && l.contains("code=1000")),
        "{lines:#?}"
    );
    assert!(!has("WARN", ""), "no error on a clean close: {lines:#?}");

    let lines = trace_lines::with_field("conn", refused.id());
    assert!(
        lines.iter().any(|l| l.starts_with("WARN")
            && l.contains("connection error")
            && l.contains("refused")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("closed") && l.contains("code=1006")),
        "{lines:#?}"
    );

    handle.stop();
    looping.join().unwrap().unwrap();
    server.stop();
}
