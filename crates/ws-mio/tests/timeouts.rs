//! Timers and stopping, on loopback: the opening handshake timeout against a
//! peer that never answers, the closing handshake timeout against a peer
//! that never answers a close, the TCP connect timeout against a listener
//! whose backlog is full, `Handle::stop` with connections open, and a
//! connection through the resolver thread ("localhost").
//!
//! No assertion is about how long something took: the timers are short so
//! the tests are quick, but the deadlines they are held to are generous.

mod common;

use std::io::{self, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use common::{
    DEADLINE, LoopThread, Received, Seen, accept_by_hand, burst_server, client_loop, connect,
    echo_server, expect, expect_no_more, next_within, raw_server, recv, spawn_helper,
};
use ws_mio::{ClientOptions, Error, EventLoop, ServerOptions};
use ws_proto::{ClientRequest, CloseCode};
use ws_test_support::raw_server::drain_until_eof;

/// How long a short timer (500 ms) may take to show, on a busy machine.
const GENEROUS: Duration = Duration::from_secs(10);

fn expect_error(rx: &Receiver<Seen>, component: &str, words: &str) {
    match next_within(rx, GENEROUS, words) {
        Seen::Error {
            component: got,
            message,
        } => {
            assert_eq!(got, component, "{message}");
            assert!(message.contains(words), "expected {words:?} in: {message}");
        }
        other => panic!("expected an error saying {words:?}, got {}", other.short()),
    }
}

fn expect_closed_within(rx: &Receiver<Seen>, expected: Seen) {
    let got = next_within(rx, GENEROUS, "closed");
    assert_eq!(got, expected);
}

/// The end of a connection that failed: an error from `component` saying
/// `words`, then `Closed` with 1006 (not clean), then nothing more.
fn expect_failure_then_end(rx: &Receiver<Seen>, component: &str, words: &str) {
    expect_error(rx, component, words);
    expect_closed_within(rx, Seen::closed(1006, "", false));
    expect_no_more(rx, Duration::from_millis(200));
}

/// The end of a connection whose loop was dropped: any number of errors,
/// then `Closed` with 1006 (not clean).
fn expect_abnormal_close_after_any_errors(rx: &Receiver<Seen>, what: &str) {
    let mut last = next_within(rx, GENEROUS, what);
    while let Seen::Error { .. } = last {
        last = next_within(rx, GENEROUS, what);
    }
    assert!(
        matches!(
            last,
            Seen::Closed {
                code: 1006,
                clean: false,
                ..
            }
        ),
        "{last:?}"
    );
}

/// What a raw server saw from its one client until the end of the stream
/// (or [`DEADLINE`]): the bytes, and whether the stream ended.
/// A raw server that accepts one connection and never answers: it reads
/// everything until the client closes the socket.
fn silent_server() -> (u16, Receiver<Received>) {
    let (addr, received) = raw_server("silent-server", |stream| {
        Ok(drain_until_eof(stream, Instant::now() + DEADLINE))
    });
    (addr.port(), received)
}

/// A raw server that completes the opening handshake by hand, then reads
/// and ignores everything (no pong, no close) until the client closes the
/// socket.
fn deaf_server() -> (u16, Receiver<Received>) {
    let (addr, received) = burst_server("deaf-server", Vec::new());
    (addr.port(), received)
}

/// A client loop with one connection to 127.0.0.1:`port`, made with
/// `options`; `on_open` runs in its handler at `Open`.
fn client_to(
    port: u16,
    options: ClientOptions,
    on_open: impl FnMut(&ws_mio::Conn) + Send + 'static,
) -> (LoopThread, ws_mio::Conn, Receiver<Seen>) {
    let client = client_loop();
    let request = ClientRequest::new("127.0.0.1", port, "/");
    let (conn, rx) = connect(&client.handle, &request, options, on_open);
    (client, conn, rx)
}

/// (a) The server accepts the TCP connection but never answers the
/// opening handshake.
#[test]
fn opening_handshake_times_out_against_a_silent_server() {
    let (port, silent) = silent_server();
    let mut options = ClientOptions::default();
    options.config.handshake_timeout = Some(Duration::from_millis(500));
    let (client, _conn, rx) = client_to(port, options, |conn| {
        panic!("opened against a silent server: {conn:?}")
    });
    expect_failure_then_end(&rx, "ws-proto", "handshake timed out");
    // The client sent its request, then closed the socket when it gave up.
    let (bytes, eof) = recv(&silent, DEADLINE, "silent server").expect("silent server");
    assert!(
        bytes.starts_with(b"GET / HTTP/1.1\r\n"),
        "{:?}",
        String::from_utf8_lossy(&bytes)
    );
    assert!(eof, "the client kept the socket open after the timeout");
    client.stop("client loop");
}

/// (a') The same silent server for a `wss://` client: the time runs out
/// in the TLS stage, and the error says so.
// A provider feature (implies `tls`), for the configurations.
#[cfg(any(feature = "ring", feature = "aws-lc-rs"))]
#[test]
fn a_tls_handshake_that_never_completes_says_tls() {
    let (port, _silent) = silent_server();
    let client = client_loop();
    let request = ClientRequest::new("127.0.0.1", port, "/").secure(true);
    let mut options = ClientOptions::default();
    options.config.handshake_timeout = Some(Duration::from_millis(500));
    let (_conn, rx) = connect(&client.handle, &request, options, |_| {});
    expect_failure_then_end(&rx, "rustls", "TLS handshake timed out");
    client.stop("client loop");
}

/// (b) The server completes the opening handshake by hand, then reads and
/// ignores everything: the client's close is never answered.
#[test]
fn closing_handshake_times_out_when_the_close_is_never_answered() {
    let (port, deaf) = deaf_server();
    let mut options = ClientOptions::default();
    options.config.close_timeout = Some(Duration::from_millis(500));
    let (client, conn, rx) = client_to(port, options, |_| {});
    expect(&rx, Seen::Open);
    conn.close(CloseCode::NORMAL, "").unwrap();
    expect_failure_then_end(&rx, "ws-proto", "closing handshake timed out");
    // The peer got a masked close frame with code 1000, then the end of
    // the stream.
    let (bytes, eof) = recv(&deaf, DEADLINE, "deaf server").expect("deaf server");
    assert_eq!(
        bytes.first(),
        Some(&0x88),
        "a FIN close frame: {bytes:02x?}"
    );
    assert_eq!(bytes.get(1), Some(&0x82), "masked, 2 bytes: {bytes:02x?}");
    assert_eq!(bytes.len(), 8, "only the close frame: {bytes:02x?}");
    let (mask, code) = (&bytes[2..6], &bytes[6..8]);
    assert_eq!([code[0] ^ mask[0], code[1] ^ mask[1]], [0x03, 0xe8]);
    assert!(eof, "the client kept the socket open after the timeout");
    client.stop("client loop");
}

/// (b) The server answers the close frame but never ends the TCP
/// connection: the client waits for it (RFC 6455 7.1.1) only until its
/// close timeout, and the close is still clean, with no error.
#[test]
fn client_stops_waiting_for_the_servers_end_of_stream_after_the_close_timeout() {
    let (addr, lingering) = raw_server("lingering-server", |stream| {
        accept_by_hand(stream)?;
        // The client's close frame: 2 header bytes, 4 mask bytes, 2 code bytes.
        let mut close = [0u8; 8];
        stream.set_read_timeout(Some(DEADLINE))?;
        stream.read_exact(&mut close)?;
        stream.write_all(&[0x88, 0x02, 0x03, 0xe8])?; // close 1000, unmasked
        Ok((close, drain_until_eof(stream, Instant::now() + DEADLINE)))
    });
    let mut options = ClientOptions::default();
    options.config.close_timeout = Some(Duration::from_millis(500));
    let (client, conn, rx) = client_to(addr.port(), options, |_| {});
    expect(&rx, Seen::Open);
    conn.close(CloseCode::NORMAL, "").unwrap();
    expect_closed_within(&rx, Seen::closed(1000, "", true));
    expect_no_more(&rx, Duration::from_millis(200));
    let (close, (rest, eof)) = recv(&lingering, DEADLINE, "lingering server").expect("server");
    assert_eq!(close[0], 0x88, "{close:02x?}");
    assert!(rest.is_empty(), "bytes after the close frame: {rest:02x?}");
    assert!(
        eof,
        "the client kept the socket open after the close timeout"
    );
    client.stop("client loop");
}

/// Keepalive: the peer never answers the ping, so the connection fails
/// once `keepalive_timeout` has passed after it.
#[test]
fn keepalive_times_out_against_a_deaf_server() {
    let (port, deaf) = deaf_server();
    let mut options = ClientOptions::default();
    options.config.keepalive_interval = Some(Duration::from_millis(300));
    options.config.keepalive_timeout = Duration::from_millis(500);
    let (client, _conn, rx) = client_to(port, options, |_| {});
    expect(&rx, Seen::Open);
    expect_failure_then_end(&rx, "ws-proto", "keepalive ping timed out");
    // On the wire: the ping (masked, "keepalive 1"), then a close 1011.
    let (bytes, eof) = recv(&deaf, DEADLINE, "deaf server").expect("deaf server");
    assert_eq!(bytes.first(), Some(&0x89), "a ping first: {bytes:02x?}");
    let ping_len = 2 + 4 + b"keepalive 1".len();
    assert_eq!(
        bytes.get(ping_len),
        Some(&0x88),
        "then a close: {bytes:02x?}"
    );
    let (mask, code) = (
        &bytes[ping_len + 2..ping_len + 6],
        &bytes[ping_len + 6..ping_len + 8],
    );
    assert_eq!([code[0] ^ mask[0], code[1] ^ mask[1]], [0x03, 0xf3], "1011");
    assert!(
        eof,
        "the client kept the socket open after the keepalive timeout"
    );
    client.stop("client loop");
}

/// (c) A listener that never accepts, with its accept queue full: Linux
/// then drops further SYNs, so a connect neither succeeds nor fails until
/// the connect timeout. Skipped (with a message) where the queue cannot be
/// shown to be full.
#[test]
fn connect_timeout_is_honoured_when_the_backlog_is_full() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap(); // backlog 128, never accepted
    let addr = listener.local_addr().unwrap();
    let mut fill: Vec<TcpStream> = Vec::new();
    let mut timeouts = 0;
    // Two connects in a row that time out: the queue is full (one timeout
    // alone could be a slow machine).
    while timeouts < 2 && fill.len() < 4096 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(stream) => {
                fill.push(stream);
                timeouts = 0;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                ) =>
            {
                timeouts += 1;
            }
            Err(e) => panic!("filling the backlog: {e}"),
        }
    }
    if timeouts < 2 {
        println!(
            "SKIPPED connect_timeout test: the accept queue did not fill after {} connections",
            fill.len()
        );
        return;
    }
    println!("accept queue full after {} connections", fill.len());
    let client = client_loop();
    let mut options = ClientOptions::default().connect_timeout(Duration::from_millis(500));
    // Only the connect timeout may fire.
    options.config.handshake_timeout = Some(Duration::from_secs(120));
    let request = ClientRequest::new("127.0.0.1", addr.port(), "/");
    let (_conn, rx) = connect(&client.handle, &request, options, |conn| {
        panic!("connected through a full backlog: {conn:?}")
    });
    expect_failure_then_end(&rx, "ws-mio", "TCP connect timed out");

    // The same, with the opening handshake timer shorter than the connect
    // timeout: it fires while the TCP connect is still pending.
    let mut options = ClientOptions::default().connect_timeout(Duration::from_secs(120));
    options.config.handshake_timeout = Some(Duration::from_millis(500));
    let (_conn, rx) = connect(&client.handle, &request, options, |conn| {
        panic!("connected through a full backlog: {conn:?}")
    });
    expect_failure_then_end(&rx, "ws-proto", "handshake timed out");
    client.stop("client loop");
    drop(fill);
}

/// (d) Stopping the client's loop closes its open connection with 1001
/// (going away), cleanly on both ends, and `run()` returns; the stopped
/// loop then refuses new connections.
#[test]
fn stopping_the_client_loop_closes_with_going_away() {
    let (addr, server, server_rx) = echo_server(ServerOptions::default(), true);
    let client = client_loop();
    let request = ClientRequest::new("127.0.0.1", addr.port(), "/");
    let (conn, rx) = connect(&client.handle, &request, ClientOptions::default(), |c| {
        c.send_text("hi").unwrap();
    });
    expect(&rx, Seen::Open);
    expect(&rx, Seen::Text("hi".into()));
    expect(&server_rx, Seen::Open);
    expect(&server_rx, Seen::Text("hi".into()));
    let handle = client.handle.clone();
    handle.stop();
    expect(&rx, Seen::closed(1001, "", true));
    expect_no_more(&rx, Duration::from_millis(200));
    expect(&server_rx, Seen::closed(1001, "", true));
    client.wait(DEADLINE, "client loop after stop()");
    assert_eq!(conn.state(), ws_proto::State::Closed);
    match handle.connect(&request, ClientOptions::default(), |_: &ws_mio::Conn, _| {}) {
        Err(Error::LoopStopped) => {}
        other => panic!("connect on a stopped loop: {other:?}"),
    }
    server.stop("server loop");
}

/// (d) Stopping the server's loop closes its connections with 1001; the
/// client sees a clean close started by the server.
#[test]
fn stopping_the_server_loop_closes_with_going_away() {
    let (addr, server, server_rx) = echo_server(ServerOptions::default(), true);
    let client = client_loop();
    let request = ClientRequest::new("127.0.0.1", addr.port(), "/");
    let (_conn, rx) = connect(&client.handle, &request, ClientOptions::default(), |_| {});
    expect(&rx, Seen::Open);
    expect(&server_rx, Seen::Open);
    server.stop("server loop with a connection open");
    expect(&server_rx, Seen::closed(1001, "", true));
    expect(&rx, Seen::closed(1001, "", true));
    expect_no_more(&rx, Duration::from_millis(200));
    // The listener is gone too: a new connection is refused.
    let (_conn, rx) = connect(&client.handle, &request, ClientOptions::default(), |_| {});
    expect_error(&rx, "os", "cannot connect to");
    expect_closed_within(&rx, Seen::closed(1006, "", false));
    client.stop("client loop");
}

/// (d) Stopping a loop whose client is still in its opening handshake
/// abandons it: `Closed` 1006, and `run()` returns.
#[test]
fn stopping_during_the_opening_handshake_abandons_it() {
    let (accepted_tx, accepted_rx) = std::sync::mpsc::channel();
    let (addr, silent) = raw_server("silent-server", move |stream| {
        let _ = accepted_tx.send(());
        Ok(drain_until_eof(stream, Instant::now() + DEADLINE))
    });
    let (client, _conn, rx) = client_to(addr.port(), ClientOptions::default(), |conn| {
        panic!("opened against a silent server: {conn:?}")
    });
    recv(&accepted_rx, DEADLINE, "the silent server to accept");
    client.stop("client loop stopped during a handshake");
    expect(&rx, Seen::closed(1006, "", false));
    expect_no_more(&rx, Duration::from_millis(200));
    let (_, eof) = recv(&silent, DEADLINE, "silent server").expect("silent server");
    assert!(eof, "the abandoned socket was not closed");
}

/// Dropping a loop (driven by hand with `turn`) while a connection is
/// open ends it: its handler hears `Closed`, and the peer gets a close
/// frame with 1001.
#[test]
fn dropping_a_loop_with_an_open_connection_tells_its_handler() {
    let (addr, server, server_rx) = echo_server(ServerOptions::default(), true);
    let mut event_loop = EventLoop::new().unwrap();
    let handle = event_loop.handle();
    let request = ClientRequest::new("127.0.0.1", addr.port(), "/");
    let (_conn, rx) = connect(&handle, &request, ClientOptions::default(), |_| {});
    let (quit_tx, quit_rx) = std::sync::mpsc::channel::<()>();
    let driver = spawn_helper("manual-loop", move || {
        let deadline = Instant::now() + DEADLINE;
        while quit_rx.try_recv().is_err() && Instant::now() < deadline {
            event_loop.turn(Some(Duration::from_millis(10))).unwrap();
        }
        drop(event_loop);
    });
    expect(&rx, Seen::Open);
    expect(&server_rx, Seen::Open);
    quit_tx.send(()).unwrap();
    recv(&driver, DEADLINE, "the loop to be dropped");
    // Whatever came before (an error is allowed), `Closed` comes last.
    expect_abnormal_close_after_any_errors(&rx, "the dropped loop's Closed");
    expect_no_more(&rx, Duration::from_millis(200));
    match next_within(&server_rx, GENEROUS, "the server side's close") {
        Seen::Closed { code, .. } => assert_eq!(code, 1001),
        other => panic!("expected the server side to close with 1001, got {other:?}"),
    }
    server.stop("server loop");
}

/// A connection started on a loop that is dropped before it ever ran:
/// its handler must still hear the end (`connect` promises `Open`, or
/// `Error` and `Closed`; `Handler` promises exactly one `Closed`).
#[test]
fn dropping_a_loop_before_it_ran_ends_a_pending_connect() {
    let event_loop = EventLoop::new().unwrap();
    let handle = event_loop.handle();
    let request = ClientRequest::new("127.0.0.1", 9, "/");
    let (_conn, rx) = connect(&handle, &request, ClientOptions::default(), |conn| {
        panic!("opened on a dropped loop: {conn:?}")
    });
    drop(event_loop);
    expect_abnormal_close_after_any_errors(&rx, "Closed from the dropped loop");
}

/// A loop with only a listener stops at once, and closes its listener.
#[test]
fn stopping_an_idle_loop_returns_and_releases_the_listener() {
    let mut event_loop = EventLoop::new().unwrap();
    let addr = event_loop
        .listen(
            "127.0.0.1:0".parse().unwrap(),
            ServerOptions::default(),
            || |_: &ws_mio::Conn, _| {},
        )
        .unwrap();
    let server = LoopThread::spawn(event_loop, "idle-server");
    server.stop("idle server loop");
    let refused = TcpStream::connect_timeout(&addr, Duration::from_secs(5));
    assert!(
        refused.is_err(),
        "the listener still accepts after the loop stopped"
    );
}

/// (e) "localhost" goes through the resolver thread (and, if it resolves
/// to ::1 first, through the refused ::1 attempt to 127.0.0.1).
#[test]
fn connecting_to_localhost_goes_through_the_resolver() {
    let (addr, server, server_rx) = echo_server(ServerOptions::default(), true);
    let client = client_loop();
    let request = ClientRequest::new("localhost", addr.port(), "/");
    let (conn, rx) = connect(&client.handle, &request, ClientOptions::default(), |c| {
        c.send_text("resolved").unwrap();
    });
    expect(&rx, Seen::Open);
    expect(&rx, Seen::Text("resolved".into()));
    conn.close(CloseCode::NORMAL, "done").unwrap();
    expect(&rx, Seen::closed(1000, "done", true));
    expect(&server_rx, Seen::Open);
    expect(&server_rx, Seen::Text("resolved".into()));
    expect(&server_rx, Seen::closed(1000, "done", true));
    client.stop("client loop");
    server.stop("server loop");
}

/// The caller's bound on a turn rings through the same alarm as the
/// connections' timers (a timerfd on Linux): a turn with nothing to do
/// comes back, and not before its bound, whether the bound is shorter or
/// longer than the last one.
#[test]
fn a_turn_with_nothing_to_do_returns_at_its_bound() {
    let (tx, rx) = std::sync::mpsc::channel();
    let _done = spawn_helper("turning", move || {
        let mut event_loop = EventLoop::new().unwrap();
        for millis in [40, 5, 40, 0] {
            let bound = Duration::from_millis(millis);
            let started = Instant::now();
            let running = event_loop.turn(Some(bound)).unwrap();
            let _ = tx.send((bound, started.elapsed(), running));
        }
    });
    for _ in 0..4 {
        let (bound, took, running) = rx.recv_timeout(GENEROUS).expect("the turn came back");
        assert!(
            took >= bound,
            "back after {took:?}, before its bound {bound:?}"
        );
        assert!(running, "a loop nobody stopped keeps running");
    }
}
