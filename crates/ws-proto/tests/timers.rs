//! Every timer: opening handshake, closing handshake, keepalive. Time is
//! simulated; nothing sleeps.

mod common;

use std::time::{Duration, Instant};

use common::*;
use ws_proto::frame::OpCode;
use ws_proto::{
    ClientRequest, CloseCode, Config, Connection, Error, Event, Initiator, ServerConfig, State,
    TimeoutKind,
};

const SEC: Duration = Duration::from_secs(1);

/// What a connection reports when one of its timers fails it: the timeout,
/// then an abnormal (1006) close of its own, since no closing handshake
/// completed.
fn failed_by_timer(kind: TimeoutKind) -> [Event; 2] {
    [
        Event::Error(Error::Timeout(kind)),
        closed_uncleanly(CloseCode::ABNORMAL, "", Initiator::Local),
    ]
}

#[test]
fn handshake_timeout_fires_at_its_deadline_and_not_before() {
    let now = Instant::now();
    let config = Config::default().handshake_timeout(Some(10 * SEC));
    let request = ClientRequest::new("h", 80, "/");
    let mut client = Connection::client(now, config, &request, rng(1)).unwrap();
    assert_eq!(client.poll_timeout(), Some(now + 10 * SEC));
    client.handle_timeout(now + 9 * SEC);
    assert_eq!(client.poll_event(), None, "an early call does nothing");
    client.handle_timeout(now + 10 * SEC);
    assert_eq!(events(&mut client), failed_by_timer(TimeoutKind::Handshake));
    assert_eq!(client.poll_timeout(), None);
}

#[test]
fn handshake_timeout_applies_to_servers_too_and_is_cancelled_by_success() {
    let now = Instant::now();
    let mut server = Connection::server(now, Config::default(), ServerConfig::default());
    server.receive(now, &REQUEST.as_bytes()[..20]);
    server.handle_timeout(now + 10 * SEC);
    assert!(matches!(
        events(&mut server)[0],
        Event::Error(Error::Timeout(TimeoutKind::Handshake))
    ));

    let server = open_server(now, Config::default());
    assert_eq!(server.poll_timeout(), None);
}

#[test]
fn close_timeout_when_the_peer_never_answers() {
    let now = Instant::now();
    let config = Config::default().close_timeout(Some(5 * SEC));
    let mut client = open_client(now, config);
    let later = now + 100 * SEC; // long idle before closing: the timer counts from the close
    client.close(later, CloseCode::NORMAL, "").unwrap();
    assert_eq!(client.poll_timeout(), Some(later + 5 * SEC));
    client.handle_timeout(later + 4 * SEC);
    assert_eq!(client.poll_event(), None);
    client.handle_timeout(later + 5 * SEC);
    assert_eq!(events(&mut client), failed_by_timer(TimeoutKind::Close));
}

#[test]
fn close_timeout_when_the_server_never_ends_tcp_after_the_handshake_is_still_clean() {
    let now = Instant::now();
    let mut client = open_client(now, Config::default());
    client.receive(now, &server_frame(true, OpCode::Close, &[0x03, 0xE8]));
    assert_eq!(client.poll_event(), None);
    client.handle_timeout(now + 5 * SEC);
    assert_eq!(
        events(&mut client),
        [closed_cleanly(CloseCode::NORMAL, "", Initiator::Remote)]
    );
}

#[test]
fn a_failed_connection_whose_close_frame_is_not_written_ends_at_the_drain_timeout() {
    let now = Instant::now();
    let mut client = failed_client(now, Config::default());
    // The peer reads nothing: the close frame stays in the buffer.
    client.handle_timeout(now + SEC - Duration::from_millis(1));
    assert_eq!(events(&mut client), []);
    client.handle_timeout(now + SEC);
    // One error only: the violation, not also the timeout.
    assert_eq!(events(&mut client), [closed_after_invalid_utf8()]);
}

#[test]
fn keepalive_pings_when_idle_and_fails_when_the_peer_is_silent() {
    let now = Instant::now();
    let config = Config::default()
        .keepalive_interval(Some(SEC))
        .keepalive_timeout(2 * SEC);
    let mut client = open_client(now, config);
    assert_eq!(client.poll_timeout(), Some(now + SEC));

    // Traffic pushes the ping back.
    client.receive(now + SEC / 2, &server_frame(true, OpCode::Text, b"tick"));
    let _ = events(&mut client);
    assert_eq!(client.poll_timeout(), Some(now + SEC + SEC / 2));
    client.handle_timeout(now + SEC);
    assert!(client.poll_transmit().is_none());

    // Idle: a ping goes out; the pong (any input) cancels the deadline.
    let t1 = now + SEC + SEC / 2;
    client.handle_timeout(t1);
    let sent = output_frames(&mut client);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].opcode, OpCode::Ping);
    assert_eq!(client.poll_timeout(), Some(t1 + 2 * SEC));
    client.receive(
        t1 + SEC,
        &server_frame(true, OpCode::Pong, &sent[0].payload),
    );
    assert_eq!(
        events(&mut client),
        [Event::Pong(sent[0].payload.clone().into())]
    );
    assert_eq!(
        client.poll_timeout(),
        Some(t1 + 2 * SEC),
        "next ping one interval after the pong"
    );

    // Silent peer: ping, then the deadline fails the connection with 1011.
    let t2 = t1 + 2 * SEC;
    client.handle_timeout(t2);
    assert_eq!(output_frames(&mut client)[0].opcode, OpCode::Ping);
    client.handle_timeout(t2 + 2 * SEC);
    let sent = output_frames(&mut client);
    assert_eq!(sent[0].close_code(), Some(1011));
    assert_eq!(events(&mut client), failed_by_timer(TimeoutKind::Keepalive));
    assert_eq!(client.state(), State::Closed);
}

#[test]
fn a_keepalive_pong_measures_the_round_trip_and_nothing_else_does() {
    let now = Instant::now();
    let config = Config::default()
        .keepalive_interval(Some(SEC))
        .keepalive_timeout(10 * SEC);
    let mut client = open_client(now, config);
    assert_eq!(client.rtt(), None);
    client.handle_timeout(now + SEC);
    let ping = output_frames(&mut client).remove(0);
    assert_eq!(ping.payload, b"keepalive 1");
    // Unsolicited pongs, and a pong with another payload, measure nothing.
    for payload in [&b"keepalive"[..], b"keepalive 2", b"", b"x"] {
        client.receive(
            now + SEC + SEC / 4,
            &server_frame(true, OpCode::Pong, payload),
        );
        let _ = events(&mut client);
        assert_eq!(client.rtt(), None, "{payload:?}");
    }
    // Its own pong, 300 ms after the ping.
    let rtt = Duration::from_millis(300);
    client.receive(
        now + SEC + rtt,
        &server_frame(true, OpCode::Pong, b"keepalive 1"),
    );
    let _ = events(&mut client);
    assert_eq!(client.rtt(), Some(rtt));
    // A second copy of it changes nothing: the ping is answered.
    client.receive(
        now + 2 * SEC,
        &server_frame(true, OpCode::Pong, b"keepalive 1"),
    );
    let _ = events(&mut client);
    assert_eq!(client.rtt(), Some(rtt));
    // The next ping is number 2.
    client.handle_timeout(now + 3 * SEC);
    assert_eq!(output_frames(&mut client)[0].payload, b"keepalive 2");
}

#[test]
fn no_timer_without_configuration() {
    let now = Instant::now();
    let config = Config::default()
        .handshake_timeout(None)
        .close_timeout(None);
    let request = ClientRequest::new("h", 80, "/");
    let client = Connection::client(now, config.clone(), &request, rng(1)).unwrap();
    assert_eq!(client.poll_timeout(), None);
    let mut client = open_client(now, config);
    client.close(now, CloseCode::NORMAL, "").unwrap();
    assert_eq!(client.poll_timeout(), None);
}

#[test]
fn pair_close_timeout_with_simulated_time() {
    let mut pair = Pair::open(5, Config::default(), 8);
    let now = pair.now;
    pair.client.close(now, CloseCode::NORMAL, "").unwrap();
    // The server is gone: nothing it would send arrives any more.
    pair.client
        .handle_timeout(now + Duration::from_millis(4999));
    assert_eq!(pair.client.poll_event(), None);
    pair.client.handle_timeout(now + 5 * SEC);
    assert!(matches!(
        pair.client.poll_event(),
        Some(Event::Error(Error::Timeout(TimeoutKind::Close)))
    ));
    assert!(matches!(pair.client.poll_event(), Some(Event::Closed(_))));
}

// ---- inputs that come without their time (`commit_received_with`) ----------

/// Reads `bytes` through the connection's own buffer, as a driver does,
/// telling it the time only if it calls `clock`; returns whether it did.
fn read_timed_lazily(conn: &mut Connection, bytes: &[u8], at: Instant) -> bool {
    let mut rest = bytes;
    let mut asked = false;
    while !rest.is_empty() {
        let room = conn.receive_buffer();
        let n = room.len().min(rest.len());
        room[..n].copy_from_slice(&rest[..n]);
        conn.commit_received_with(n, || {
            asked = true;
            at
        });
        rest = &rest[n..];
    }
    asked
}

#[test]
fn an_open_connection_without_keepalive_reads_no_clock_for_its_messages() {
    let now = Instant::now();
    let mut client = open_client(now, Config::default());
    for i in 0..100u8 {
        let frame = server_frame(true, OpCode::Binary, &[i; 40]);
        assert!(!read_timed_lazily(&mut client, &frame, now + SEC));
        match client.poll_event() {
            Some(Event::Message(m)) => assert_eq!(m.as_bytes(), &[i; 40]),
            other => panic!("expected the message, got {other:?}"),
        }
    }
    assert_eq!(
        client.poll_timeout(),
        None,
        "nothing to count from the reads"
    );
    let _ = client.receive_buffer();
    client.commit_received_with(0, || panic!("a read of nothing needs no time"));
}

#[test]
fn with_keepalive_every_input_is_timed() {
    let now = Instant::now();
    let config = Config::default().keepalive_interval(Some(SEC));
    let mut client = open_client(now, config);
    let at = now + SEC / 2;
    let frame = server_frame(true, OpCode::Text, b"tick");
    assert!(read_timed_lazily(&mut client, &frame, at));
    let _ = events(&mut client);
    assert_eq!(
        client.poll_timeout(),
        Some(at + SEC),
        "the ping waits from the input"
    );
}

#[test]
fn a_close_that_came_without_its_time_starts_the_close_timer_at_the_next_timeout_call() {
    let now = Instant::now();
    let config = Config::default().close_timeout(Some(5 * SEC));
    let mut client = open_client(now, config);
    let close = server_frame(true, OpCode::Close, &[0x03, 0xE8]);
    assert!(!read_timed_lazily(&mut client, &close, now + 100 * SEC));
    assert_eq!(
        client.poll_event(),
        None,
        "the client waits for the end of TCP"
    );
    assert_eq!(client.state(), State::Closing);
    // The time is asked for at once (a deadline already past) ...
    let due = client.poll_timeout().expect("a deadline");
    assert!(due <= now, "due at once, not at {:?}", due - now);
    // ... and the close timer counts from the time given then, not from
    // the last time the connection knew (100 s earlier).
    let later = now + 100 * SEC;
    client.handle_timeout(later);
    assert_eq!(client.poll_event(), None);
    assert_eq!(client.poll_timeout(), Some(later + 5 * SEC));
    client.handle_timeout(later + 4 * SEC);
    assert_eq!(client.poll_event(), None);
    client.handle_timeout(later + 5 * SEC);
    assert_eq!(
        events(&mut client),
        [closed_cleanly(CloseCode::NORMAL, "", Initiator::Remote)]
    );
}

#[test]
fn a_violation_that_came_without_its_time_ends_at_the_drain_timeout_from_the_next_timeout_call() {
    let now = Instant::now();
    let mut client = open_client(now, Config::default());
    let bad = server_frame(true, OpCode::Text, b"\xff");
    assert!(!read_timed_lazily(&mut client, &bad, now + 50 * SEC));
    assert!(matches!(events(&mut client)[..], [Event::Error(_)]));
    assert!(client.poll_timeout().is_some_and(|at| at <= now));
    let later = now + 50 * SEC;
    client.handle_timeout(later);
    // The peer reads nothing: the close frame stays queued, and the drain
    // time (1 s) counts from `later`.
    assert_eq!(events(&mut client), []);
    assert_eq!(client.poll_timeout(), Some(later + SEC));
    client.handle_timeout(later + SEC - Duration::from_millis(1));
    assert_eq!(events(&mut client), []);
    client.handle_timeout(later + SEC);
    assert_eq!(events(&mut client), [closed_after_invalid_utf8()]);
}

#[test]
fn a_violation_that_came_without_its_time_ends_once_its_close_frame_is_written() {
    let now = Instant::now();
    let mut client = open_client(now, Config::default());
    let bad = server_frame(true, OpCode::Text, b"\xff");
    assert!(!read_timed_lazily(&mut client, &bad, now + 50 * SEC));
    let _ = events(&mut client);
    let sent = output_frames(&mut client);
    assert_eq!(sent.last().and_then(WireFrame::close_code), Some(1007));
    // Written: the connection is done as soon as it is told the time.
    assert!(fire_due(&mut client, now + 50 * SEC));
    assert_eq!(events(&mut client), [closed_after_invalid_utf8()]);
    assert_eq!(client.poll_timeout(), None);
}

#[test]
fn a_local_close_after_an_untimed_input_counts_from_its_own_time() {
    let now = Instant::now();
    let config = Config::default().close_timeout(Some(5 * SEC));
    let mut client = open_client(now, config);
    let frame = server_frame(true, OpCode::Binary, b"x");
    assert!(!read_timed_lazily(&mut client, &frame, now + 10 * SEC));
    let _ = events(&mut client);
    let at = now + 20 * SEC;
    client.close(at, CloseCode::NORMAL, "").unwrap();
    assert_eq!(client.poll_timeout(), Some(at + 5 * SEC));
}
