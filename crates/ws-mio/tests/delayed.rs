//! Connections that wait before they start (`ClientOptions::delay`, a
//! reconnect's backoff), the caller's resolver (`ClientOptions::resolver`),
//! and a stopping loop that takes no new connection.
//!
//! Every wait is bounded (see `common`).

mod common;

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use common::{Seen, client_loop, connect, echo_server, expect, next};
use ws_mio::{ClientOptions, Conn, Error, Event, EventLoop, Resolver, ServerOptions};
use ws_proto::{ClientRequest, CloseCode, State};

fn delayed(delay: Duration) -> ClientOptions {
    ClientOptions::default().delay(delay)
}

#[test]
fn a_delayed_connection_waits_then_opens() {
    let (addr, server, _) = echo_server(ServerOptions::default(), false);
    let client = client_loop();
    let request = ClientRequest::new("127.0.0.1", addr.port(), "/");
    let started = Instant::now();
    let (conn, rx) = connect(
        &client.handle,
        &request,
        delayed(Duration::from_millis(300)),
        |_| {},
    );
    assert_eq!(conn.state(), State::Connecting);
    expect(&rx, Seen::Open);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "opened after {:?}, before the wait ended",
        started.elapsed()
    );
    conn.send_text("after the wait").expect("send");
    expect(&rx, Seen::Text("after the wait".into()));
    conn.close(CloseCode::NORMAL, "").expect("close");
    expect(&rx, Seen::closed(1000, "", true));
    client.stop("client loop");
    server.stop("server loop");
}

#[test]
fn closing_while_waiting_abandons_without_touching_the_network() {
    // A listener nobody accepts on: a connection attempt would show in
    // its backlog.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("non-blocking");
    let client = client_loop();
    let request = ClientRequest::new("127.0.0.1", listener.local_addr().unwrap().port(), "/");
    let (conn, rx) = connect(
        &client.handle,
        &request,
        delayed(Duration::from_secs(60)),
        |_| {},
    );
    conn.close(CloseCode::NORMAL, "")
        .expect("close while waiting");
    // Abandoned while connecting: 1006, and no error (the caller asked).
    expect(&rx, Seen::closed(1006, "", false));
    assert_eq!(conn.state(), State::Closed);
    assert!(
        listener.accept().is_err(),
        "the abandoned connection reached the network"
    );
    client.stop("client loop");
}

#[test]
fn the_handshake_timeout_counts_from_the_end_of_the_wait() {
    let (addr, server, _) = echo_server(ServerOptions::default(), false);
    let client = client_loop();
    let request = ClientRequest::new("127.0.0.1", addr.port(), "/");
    let mut options = delayed(Duration::from_millis(400));
    options.config.handshake_timeout = Some(Duration::from_millis(200));
    let (conn, rx) = connect(&client.handle, &request, options, |_| {});
    expect(&rx, Seen::Open);
    conn.close(CloseCode::NORMAL, "").expect("close");
    expect(&rx, Seen::closed(1000, "", true));
    client.stop("client loop");
    server.stop("server loop");
}

#[test]
fn the_callers_resolver_is_used_on_the_resolver_thread() {
    let (addr, server, _) = echo_server(ServerOptions::default(), false);
    let client = client_loop();
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let port = addr.port();
    let resolver = Resolver::new(move |host, asked| {
        seen.fetch_add(1, Ordering::Relaxed);
        assert_eq!((host, asked), ("feed.example.test", port));
        Ok(vec![SocketAddr::from(([127, 0, 0, 1], asked))])
    });
    let request = ClientRequest::new("feed.example.test", port, "/");
    let options = delayed(Duration::from_millis(50)).resolver(Some(resolver));
    let (conn, rx) = connect(&client.handle, &request, options, |_| {});
    expect(&rx, Seen::Open);
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    conn.close(CloseCode::NORMAL, "").expect("close");
    expect(&rx, Seen::closed(1000, "", true));
    client.stop("client loop");
    server.stop("server loop");
}

#[test]
fn a_resolver_error_is_the_connections_error() {
    let client = client_loop();
    let resolver = Resolver::new(|_, _| Err(std::io::Error::other("no such feed")));
    let request = ClientRequest::new("feed.example.test", 80, "/");
    let options = ClientOptions::default().resolver(Some(resolver));
    let (_conn, rx) = connect(&client.handle, &request, options, |_| {});
    match next(&rx, "the resolve error") {
        Seen::Error { message, .. } => assert!(message.contains("no such feed"), "{message}"),
        other => panic!("expected the resolve error, got {other:?}"),
    }
    expect(&rx, Seen::closed(1006, "", false));
    client.stop("client loop");
}

#[cfg(unix)]
#[test]
fn a_delayed_unix_connect_reports_a_missing_socket_as_an_event() {
    let client = client_loop();
    let path = std::env::temp_dir().join(format!("ws-mio-delayed-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let (tx, rx) = mpsc::channel();
    let request = ClientRequest::new("localhost", 80, "/");
    client
        .handle
        .connect_unix(
            &path,
            &request,
            delayed(Duration::from_millis(20)),
            move |_: &Conn, event: Event| {
                let _ = tx.send(Seen::from(event));
            },
        )
        .expect("a delayed connect_unix starts without touching the path");
    match next(&rx, "the connect error") {
        Seen::Error { message, .. } => {
            assert!(message.contains("ws-mio-delayed"), "{message}")
        }
        other => panic!("expected the connect error, got {other:?}"),
    }
    expect(&rx, Seen::closed(1006, "", false));
    client.stop("client loop");
}

/// A handler that connects again each time its connection closes, as a
/// reconnecting client does: a stopping loop must refuse, or it would never
/// run out of connections.
#[test]
fn a_stopping_loop_refuses_new_connections() {
    let (addr, server, _) = echo_server(ServerOptions::default(), false);
    let mut event_loop = EventLoop::new().expect("event loop");
    let handle = event_loop.handle();
    let request = ClientRequest::new("127.0.0.1", addr.port(), "/");
    let (tx, rx) = mpsc::channel();

    struct Reconnecting {
        handle: ws_mio::Handle,
        request: ClientRequest,
        tx: mpsc::Sender<Result<(), String>>,
    }
    impl ws_mio::Handler for Reconnecting {
        fn on_event(&mut self, _: &Conn, event: Event) {
            if let Event::Closed(_) = event {
                let again = Reconnecting {
                    handle: self.handle.clone(),
                    request: self.request.clone(),
                    tx: self.tx.clone(),
                };
                let result = self
                    .handle
                    .connect(&self.request, ClientOptions::default(), again)
                    .map(drop)
                    .map_err(|e| e.to_string());
                let _ = self.tx.send(result);
            }
        }
    }
    let first = Reconnecting {
        handle: handle.clone(),
        request: request.clone(),
        tx,
    };
    handle
        .connect(&request, ClientOptions::default(), first)
        .expect("connect");
    handle.stop();
    let runner = std::thread::spawn(move || event_loop.run());
    let refused = rx
        .recv_timeout(common::DEADLINE)
        .expect("the connection closes");
    assert_eq!(
        refused,
        Err(Error::LoopStopped.to_string()),
        "a stopping loop started a new connection"
    );
    let deadline = Instant::now() + common::DEADLINE;
    while !runner.is_finished() {
        assert!(Instant::now() < deadline, "the stopping loop never ended");
        std::thread::sleep(Duration::from_millis(10));
    }
    runner.join().expect("loop thread").expect("loop ran");
    server.stop("server loop");
}
