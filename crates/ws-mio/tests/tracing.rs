//! The `tracing` feature: a connection's stages, open, error and end reach
//! a subscriber, with the connection's id. Its own test binary (it sets
//! the process-wide subscriber), built only with the feature.

use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event as TraceEvent, Metadata, Subscriber};
use ws_mio::{ClientOptions, Conn, EchoServer, Event, EventLoop, ServerOptions};
use ws_proto::{ClientRequest, CloseCode};

const DEADLINE: Duration = Duration::from_secs(20);

/// Every event as one line: `LEVEL message field=value ...`.
static LINES: OnceLock<Mutex<Vec<String>>> = OnceLock::new();

struct Lines;

struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?} {}", self.0);
        } else {
            self.0.push_str(&format!(" {}={value:?}", field.name()));
        }
    }
}

impl Subscriber for Lines {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target().starts_with("ws_mio")
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &TraceEvent<'_>) {
        let mut line = Line(String::new());
        event.record(&mut line);
        let line = format!("{} {}", event.metadata().level(), line.0);
        LINES.get().unwrap().lock().unwrap().push(line);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn lines_of(conn: u64) -> Vec<String> {
    let tag = format!("conn={conn}");
    LINES
        .get()
        .unwrap()
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.split(' ').any(|w| w == tag))
        .cloned()
        .collect()
}

#[test]
fn a_connection_logs_its_stages_its_open_and_its_end_and_a_refused_one_its_error() {
    LINES.set(Mutex::new(Vec::new())).unwrap();
    tracing::subscriber::set_global_default(Lines).unwrap();

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

    let lines = lines_of(open.id());
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

    let lines = lines_of(refused.id());
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
