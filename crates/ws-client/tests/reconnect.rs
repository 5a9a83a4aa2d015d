//! Reconnect (`Builder::reconnect`): a server that drops the connection
//! uncleanly a few times and then serves, a storm held by the backoff, and
//! the cases where no attempt may follow (`terminate`, a clean close, a
//! refusal that would repeat); `into_handler` after the end.

mod common;

use std::io::Write as _;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::*;
use ws_client::{Data, ReconnectPolicy, Status, WebSocket};
use ws_test_support::handshake::{accept, read_head};
use ws_test_support::raw_server::wait_for_eof;

/// Quick attempts, so that the tests take little time.
fn quick() -> ReconnectPolicy {
    ReconnectPolicy::default()
        .initial_delay(Duration::from_millis(20))
        .max_delay(Duration::from_millis(200))
}

/// Takes the handler back once the connection is over (bounded wait).
fn take_back<H: ws_client::Handler>(mut ws: WebSocket<H>) -> H {
    let deadline = Instant::now() + WAIT;
    loop {
        match ws.into_handler() {
            Ok(handler) => return handler,
            Err(not_yet) => {
                assert!(Instant::now() < deadline, "into_handler never succeeded");
                ws = not_yet;
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

#[test]
fn a_server_that_drops_three_times_then_serves_is_reached_on_the_fourth_attempt() {
    let (url, accepted) = scripted_server(8, |n, mut stream| {
        accept(&mut stream).unwrap();
        if n < 3 {
            return; // dropped: no close frame, the client sees 1006
        }
        // The fourth: a text message, then it waits for the client.
        stream.write_all(&[0x81, 0x05]).unwrap();
        stream.write_all(b"hello").unwrap();
        wait_for_eof(&mut stream);
    });
    let (recorder, log) = Recorder::new();
    let ws = WebSocket::builder(&format!("{url}/feed"))
        .reconnect(quick())
        .close_timeout(Some(Duration::from_millis(200)))
        .connect(recorder)
        .expect("connect");
    let first_id = ws.id();
    for attempt in 1..=3 {
        let seen = log.until_terminate();
        assert_eq!(kinds(&seen), ["open", "error", "terminate"], "{seen:?}");
        let end = terminate_of(&seen);
        assert_eq!((end.code, end.was_clean), (1006, false));
        let next = end.reconnect.expect("a reconnect follows an unclean end");
        assert_eq!(next.attempt, attempt);
        assert!(next.delay <= quick().ceiling(attempt), "{next:?}");
        match &seen[2] {
            // Between attempts the connection says it is coming back.
            Seen::Terminate { status, .. } => assert_eq!(*status, Status::Connecting),
            _ => unreachable!(),
        }
    }
    assert!(matches!(log.next(), Seen::Open { .. }));
    match log.next() {
        Seen::Message(Data::Text(text)) => assert_eq!(&*text, "hello"),
        other => panic!("expected the message, got {other:?}"),
    }
    assert_eq!(ws.status(), Status::Connected);
    assert_eq!(ws.id(), first_id, "one WebSocket across its attempts");
    ws.terminate(None, None).expect("terminate");
    let seen = log.until_terminate();
    let end = terminate_of(&seen);
    assert_eq!(end.reconnect, None, "no reconnect after terminate()");
    assert_eq!(ws.status(), Status::Closed);
    let recorder = take_back(ws);
    assert_eq!(recorder.messages, 1);
    assert_eq!(accepted.load(Ordering::SeqCst), 4);
}

/// A port that refuses at once: every attempt fails in microseconds, so
/// only the backoff spaces them.
#[test]
fn a_storm_against_a_refusing_port_is_held_by_the_backoff() {
    let policy = ReconnectPolicy::default()
        .initial_delay(Duration::from_millis(10))
        .max_delay(Duration::from_millis(160))
        .max_attempts(Some(8));
    let (recorder, log) = Recorder::new();
    let started = Instant::now();
    let ws = WebSocket::builder(&refused_url())
        .reconnect(policy.clone())
        .connect(recorder)
        .expect("connect starts");
    let mut waited = Duration::ZERO;
    let mut attempts = 0;
    loop {
        let seen = log.until_terminate();
        assert_eq!(kinds(&seen), ["error", "terminate"], "{seen:?}");
        assert_eq!(error_of(&seen).0, 20, "connection refused");
        match terminate_of(&seen).reconnect {
            Some(next) => {
                attempts += 1;
                assert_eq!(next.attempt, attempts);
                assert!(next.delay <= policy.ceiling(attempts));
                waited += next.delay;
            }
            None => break,
        }
    }
    let elapsed = started.elapsed();
    assert_eq!(attempts, 8, "max_attempts bounds the attempts");
    // Each attempt waited its delay at least: the storm is held.
    assert!(
        elapsed >= waited,
        "{attempts} attempts in {elapsed:?}, but their delays add up to {waited:?}"
    );
    println!(
        "9 connects in {elapsed:?}: {:.1} attempts/s (the delays drawn: {waited:?})",
        9.0 / elapsed.as_secs_f64()
    );
    assert_eq!(ws.status(), Status::Closed);
}

#[test]
fn terminate_during_the_wait_cancels_the_next_attempt() {
    let (url, accepted) = scripted_server(4, |_, mut stream| {
        accept(&mut stream).unwrap(); // then dropped
    });
    let (recorder, log) = Recorder::new();
    let policy = ReconnectPolicy::default().initial_delay(Duration::from_secs(3600));
    let ws = WebSocket::builder(&format!("{url}/"))
        .reconnect(policy)
        .connect(recorder)
        .expect("connect");
    let seen = log.until_terminate();
    assert!(terminate_of(&seen).reconnect.is_some());
    assert_eq!(ws.status(), Status::Connecting);
    assert!(matches!(
        ws.send("between attempts"),
        Err(ws_client::Error::NotConnected(Status::Connecting))
    ));
    ws.terminate(None, None).expect("terminate while waiting");
    let seen = log.until_terminate();
    assert_eq!(kinds(&seen), ["terminate"]);
    let end = terminate_of(&seen);
    assert_eq!(
        (end.code, end.was_clean, end.reconnect),
        (1006, false, None)
    );
    assert_eq!(ws.status(), Status::Closed);
    log.assert_quiet(Duration::from_millis(100));
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    take_back(ws);
}

#[test]
fn a_clean_close_from_the_server_ends_it_unless_asked() {
    let server = TestServer::start();
    for (asked, expected_connections) in [(false, 1), (true, 2)] {
        let (recorder, log) = Recorder::new();
        let ws = WebSocket::builder(&server.url("/close?1001&restarting"))
            .reconnect(quick().after_clean_close(asked).max_attempts(Some(1)))
            .connect(recorder)
            .expect("connect");
        let mut ends = Vec::new();
        loop {
            let seen = log.until_terminate();
            let end = terminate_of(&seen).clone();
            assert_eq!((end.code, end.was_clean), (1001, true), "{seen:?}");
            let last = end.reconnect.is_none();
            ends.push(end);
            if last {
                break;
            }
        }
        assert_eq!(ends.len(), expected_connections, "asked: {asked}");
        assert_eq!(ws.status(), Status::Closed);
    }
}

#[test]
fn a_refusal_that_would_repeat_is_not_retried() {
    let (url, accepted) = scripted_server(4, |_, mut stream| {
        read_head(&mut stream);
        let _ = stream.write_all(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n");
    });
    let (recorder, log) = Recorder::new();
    let ws = WebSocket::builder(&format!("{url}/"))
        .reconnect(quick())
        .connect(recorder)
        .expect("connect");
    let seen = log.until_terminate();
    assert_eq!(error_of(&seen).0, 22);
    assert_eq!(terminate_of(&seen).reconnect, None);
    log.assert_quiet(Duration::from_millis(300));
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    assert_eq!(ws.status(), Status::Closed);
}

#[test]
fn a_503_is_retried() {
    let (url, accepted) = scripted_server(4, |n, mut stream| {
        if n == 0 {
            read_head(&mut stream);
            let _ = stream.write_all(b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n");
            return;
        }
        accept(&mut stream).unwrap();
        wait_for_eof(&mut stream);
    });
    let (recorder, log) = Recorder::new();
    let ws = WebSocket::builder(&format!("{url}/"))
        .reconnect(quick())
        .close_timeout(Some(Duration::from_millis(200)))
        .connect(recorder)
        .expect("connect");
    let seen = log.until_terminate();
    assert_eq!(error_of(&seen).0, 22);
    assert!(terminate_of(&seen).reconnect.is_some());
    assert!(matches!(log.next(), Seen::Open { .. }));
    ws.terminate(None, None).expect("terminate");
    log.until_terminate();
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[test]
fn a_worker_runs_until_the_last_attempt_is_over() {
    let mut worker = ws_client::Worker::new().expect("worker");
    let (recorder, log) = Recorder::new();
    let policy = ReconnectPolicy::default()
        .initial_delay(Duration::from_millis(5))
        .max_attempts(Some(2));
    let ws = WebSocket::builder(&refused_url())
        .worker(&worker)
        .reconnect(policy)
        .connect(recorder)
        .expect("connect starts");
    // Bounded: three failed connects, each a few milliseconds apart.
    let runner = std::thread::spawn(move || worker.run_until_idle());
    let deadline = Instant::now() + WAIT;
    while !runner.is_finished() {
        assert!(Instant::now() < deadline, "the worker never went idle");
        std::thread::sleep(Duration::from_millis(5));
    }
    runner.join().expect("worker thread").expect("worker ran");
    let mut ends = 0;
    while let Ok(seen) = std::panic::catch_unwind(|| log.until_terminate()) {
        ends += 1;
        if terminate_of(&seen).reconnect.is_none() {
            break;
        }
    }
    assert_eq!(ends, 3, "the first connect and two reconnects");
    assert_eq!(ws.status(), Status::Closed);
}

#[test]
fn a_callers_stream_cannot_be_reconnected() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (recorder, _log) = Recorder::new();
    let result = WebSocket::builder("ws://feed.local/")
        .stream(ws_mio::Stream::from_std_tcp(stream).expect("stream"))
        .reconnect(quick())
        .connect(recorder);
    match result {
        Err(e) => assert_eq!(e.code(), 13, "{e}"),
        Ok(_) => panic!("a caller's stream was accepted for reconnecting"),
    }
}
