//! The `tracing` feature: connect stages, open and close reach a
//! subscriber. Its own test binary (it sets the process-wide subscriber),
//! built only with the feature.

mod common;

use common::{bounded, echo_server};
use ws_test_support::trace_lines;
use ws_tokio::{Builder, CloseCode, Message};

#[tokio::test]
async fn a_connection_logs_its_stages_its_open_and_its_end() {
    trace_lines::install("ws_tokio");
    let url = echo_server().await;
    let mut ws = bounded(Builder::new(url).connect()).await.unwrap();
    ws.send_text("hi").await.unwrap();
    assert!(matches!(
        bounded(ws.recv()).await,
        Some(Ok(Message::Text(_)))
    ));
    bounded(ws.close(CloseCode::NORMAL, "done")).await.unwrap();

    let lines = trace_lines::all();
    let has = |level: &str, words: &[&str]| {
        lines
            .iter()
            .any(|l| l.starts_with(level) && words.iter().all(|w| l.contains(w)))
    };
    assert!(
        has("DEBUG", &["connecting", "host=127.0.0.1"]),
        "{lines:#?}"
    );
    assert!(has("DEBUG", &["TCP connected"]), "{lines:#?}");
    // Both ends of the loopback connection: the client and the echo server.
    let opens = lines.iter().filter(|l| l.starts_with("INFO open")).count();
    assert_eq!(opens, 2, "{lines:#?}");
    assert!(
        has("INFO", &["closed", "code=1000", "was_clean=true"]),
        "{lines:#?}"
    );
    assert!(!has("WARN", &[]), "no error on a clean close: {lines:#?}");
}
