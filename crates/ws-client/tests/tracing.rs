//! The `tracing` feature: a `WebSocket`'s attempt names its ws-mio
//! connection, so that ws-client's lines (`ws`) and ws-mio's (`conn`) can
//! be read together; terminate and the end are logged. Its own test
//! binary (it sets the process-wide subscriber), built only with the
//! feature.

use std::sync::mpsc;
use std::time::Duration;

use ws_client::{Callbacks, WebSocket};
use ws_mio::{EchoServer, ServerOptions};
use ws_test_support::trace_lines;

#[test]
fn an_attempt_names_its_connection_and_the_end_is_logged() {
    trace_lines::install("ws_");
    let server =
        EchoServer::start("127.0.0.1:0".parse().unwrap(), ServerOptions::default()).unwrap();
    let (tx, rx) = mpsc::channel();
    let handler = Callbacks::new()
        .on_open(|ws, _| {
            ws.terminate(None, Some("done")).unwrap();
        })
        .on_terminate(move |_, event| {
            let _ = tx.send(event.code);
        });
    let ws = WebSocket::new(&server.url(), handler).unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(20)).unwrap(), 1000);

    let mine = trace_lines::with_field("ws", ws.id());
    let attempt = mine
        .iter()
        .find(|l| l.contains("first attempt"))
        .unwrap_or_else(|| panic!("{mine:#?}"));
    let conn = attempt
        .split(' ')
        .find_map(|w| w.strip_prefix("conn="))
        .expect("the attempt's connection id");
    assert!(
        mine.iter()
            .any(|l| l.contains("terminate") && l.contains("reason=\"done\"")),
        "{mine:#?}"
    );
    // ws-mio's lines for that connection: its stages, open and close.
    let conn_lines = trace_lines::with_field("conn", conn);
    assert!(
        conn_lines.iter().any(|l| l.starts_with("INFO open")),
        "{conn_lines:#?}"
    );
    assert!(
        conn_lines
            .iter()
            .any(|l| l.contains("closed") && l.contains("code=1000")),
        "{conn_lines:#?}"
    );
    server.stop();
}
