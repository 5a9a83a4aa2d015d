//! Client against this crate's server on loopback: messages of every kind
//! and size, pings, closing from either side. Every test bounds itself in
//! time: the loop runs on a thread and the test waits with a deadline.

mod common;

use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::{LoopThread, client_loop, serve};
use ws_mio::{ClientOptions, Conn, Event, ServerOptions};
use ws_proto::{ClientRequest, CloseCode, Message};

const DEADLINE: Duration = Duration::from_secs(20);

/// An echo server on a loop thread that answers with the received payloads
/// themselves (no copy), unlike `common::echo_server`.
fn echo_server(options: ServerOptions) -> (SocketAddr, LoopThread) {
    serve(options, "echo-server", || ws_mio::echo)
}

/// What a client handler saw, as text lines, sent to the test thread.
fn describe(event: &Event) -> String {
    match event {
        Event::Open(_) => "open".into(),
        Event::Message(Message::Text(t)) if t.len() > 64 => format!("text {} bytes", t.len()),
        Event::Message(Message::Text(t)) => format!("text {t}"),
        Event::Message(Message::Binary(b)) => format!("binary {} bytes", b.len()),
        Event::Ping(p) => format!("ping {}", String::from_utf8_lossy(p)),
        Event::Pong(p) => format!("pong {}", String::from_utf8_lossy(p)),
        Event::Drain => "drain".into(),
        Event::Error(e) => format!("error {e}"),
        Event::Closed(c) => format!("closed {} {:?} clean={}", c.code.0, c.reason, c.was_clean),
        other => format!("{other:?}"),
    }
}

/// Starts a client loop thread; events arrive on the returned channel.
fn client(
    addr: SocketAddr,
    on_open: impl Fn(&Conn) + Send + 'static,
) -> (Conn, mpsc::Receiver<String>, LoopThread) {
    let client = client_loop();
    let (tx, rx) = mpsc::channel();
    let request = ClientRequest::new(addr.ip().to_string(), addr.port(), "/");
    let options =
        ClientOptions::default().config(ws_proto::Config::default().max_message_size(64 << 20));
    let conn = client
        .handle
        .connect(&request, options, move |conn: &Conn, event: Event| {
            if let Event::Open(_) = event {
                on_open(conn);
            }
            let _ = tx.send(describe(&event));
        })
        .unwrap();
    (conn, rx, client)
}

fn next(rx: &mpsc::Receiver<String>) -> String {
    rx.recv_timeout(DEADLINE)
        .expect("an event within the deadline")
}

#[test]
fn echo_of_every_kind_and_size_then_client_close() {
    let (addr, server) = echo_server(ServerOptions::default());
    let big = "x".repeat(16 << 20);
    let (conn, rx, client_loop) = client(addr, move |conn| {
        conn.send_text("hello").unwrap();
        conn.send_binary(&[1, 2, 3]).unwrap();
        conn.send_text("").unwrap();
        conn.send_binary(&[]).unwrap();
        conn.send_text_owned(big.clone()).unwrap();
        conn.send_binary_owned(vec![7; 100_000]).unwrap();
        conn.send_ping(b"p").unwrap();
    });
    assert_eq!(next(&rx), "open");
    assert_eq!(next(&rx), "text hello");
    assert_eq!(next(&rx), "binary 3 bytes");
    assert_eq!(next(&rx), "text ");
    assert_eq!(next(&rx), "binary 0 bytes");
    assert_eq!(next(&rx), format!("text {} bytes", 16 << 20));
    assert_eq!(next(&rx), "binary 100000 bytes");
    assert_eq!(next(&rx), "pong p");
    conn.close(CloseCode(4000), "bye").unwrap();
    assert_eq!(next(&rx), "closed 4000 \"bye\" clean=true");
    client_loop.stop("client loop");
    server.stop("server loop");
}

#[test]
fn server_side_close_reaches_the_client() {
    let (addr, server) = serve(ServerOptions::default(), "closing-server", || {
        |conn: &Conn, event: Event| {
            if let Event::Open(_) = event {
                conn.close(CloseCode::GOING_AWAY, "maintenance").unwrap();
            }
        }
    });
    let (_conn, rx, client_loop) = client(addr, |_| {});
    assert_eq!(next(&rx), "open");
    assert_eq!(next(&rx), "closed 1001 \"maintenance\" clean=true");
    client_loop.stop("client loop");
    server.stop("server loop");
}

#[test]
fn refused_connection_gives_an_error_then_closed() {
    // A port nothing listens on: bind one, then drop the listener.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (_conn, rx, client_loop) = client(addr, |_| {});
    let error = next(&rx);
    assert!(
        error.starts_with("error cannot connect to 127.0.0.1:"),
        "{error}"
    );
    assert_eq!(next(&rx), "closed 1006 \"\" clean=false");
    client_loop.stop("client loop");
}

#[test]
fn sends_from_several_threads_arrive_complete_and_in_per_thread_order() {
    let (addr, server) = echo_server(ServerOptions::default());
    let (conn, rx, client_loop) = client(addr, |_| {});
    assert_eq!(next(&rx), "open");
    let senders: Vec<_> = (0..4)
        .map(|t| {
            let conn = conn.clone();
            thread::spawn(move || {
                for i in 0..500 {
                    conn.send_text(&format!("{t}:{i}")).unwrap();
                }
            })
        })
        .collect();
    for s in senders {
        s.join().unwrap();
    }
    let mut last = [-1i64; 4];
    for _ in 0..2000 {
        let line = next(&rx);
        let body = line.strip_prefix("text ").expect(&line);
        let (t, i) = body.split_once(':').unwrap();
        let (t, i): (usize, i64) = (t.parse().unwrap(), i.parse().unwrap());
        assert_eq!(i, last[t] + 1, "thread {t} out of order");
        last[t] = i;
    }
    conn.close(CloseCode::NORMAL, "").unwrap();
    assert!(next(&rx).starts_with("closed 1000"));
    client_loop.stop("client loop");
    server.stop("server loop");
}
