//! RFC 6455 section 7 (closing the connection) and 5.5.1 (close frames).

mod common;

use std::time::{Duration, Instant};

use common::*;
use ws_proto::frame::OpCode;
use ws_proto::{
    CloseCode, Closed, Config, Error, Event, Initiator, Message, ProtocolError, SendError, State,
};
use ws_test_support::frames;

fn closed_events(events: &[Event]) -> Vec<&Closed> {
    events
        .iter()
        .filter_map(|e| {
            if let Event::Closed(c) = e {
                Some(c)
            } else {
                None
            }
        })
        .collect()
}

fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason.as_bytes());
    p
}

#[test]
fn s7_client_starts_the_close_and_waits_for_the_server_to_end_tcp() {
    let mut pair = Pair::open(1, Config::default(), 5);
    let now = pair.now;
    pair.client.close(now, CloseCode::NORMAL, "bye").unwrap();
    assert_eq!(pair.client.state(), State::Closing);
    pair.run();
    assert_eq!(
        pair.server_events,
        [closed_cleanly(CloseCode::NORMAL, "bye", Initiator::Remote)]
    );
    assert_eq!(
        pair.client_events,
        [closed_cleanly(CloseCode::NORMAL, "bye", Initiator::Local)]
    );
}

#[test]
fn s7_client_closed_event_waits_for_the_end_of_the_transport() {
    let now = Instant::now();
    let mut client = open_client(now, Config::default());
    client.close(now, CloseCode(4000), "done").unwrap();
    let sent = output_frames(&mut client);
    assert_eq!(sent[0].payload, close_payload(4000, "done"));
    assert!(sent[0].masked);
    client.receive(
        now,
        &server_frame(true, OpCode::Close, &close_payload(4000, "done")),
    );
    assert_eq!(events(&mut client), []);
    assert_eq!(client.state(), State::Closing);
    client.receive_eof();
    let events = events(&mut client);
    assert_eq!(
        events,
        [closed_cleanly(CloseCode(4000), "done", Initiator::Local)]
    );
    assert_eq!(client.state(), State::Closed);
}

#[test]
fn s7_server_starts_the_close_and_the_client_echoes_the_code() {
    let mut pair = Pair::open(2, Config::default(), 3);
    let now = pair.now;
    pair.server
        .close(now, CloseCode::GOING_AWAY, "restart")
        .unwrap();
    pair.run();
    assert_eq!(
        pair.client_events,
        [closed_cleanly(
            CloseCode::GOING_AWAY,
            "restart",
            Initiator::Remote
        )]
    );
    assert_eq!(
        pair.server_events,
        [closed_cleanly(
            CloseCode::GOING_AWAY,
            "restart",
            Initiator::Local
        )]
    );
}

#[test]
fn s7_1_5_a_close_without_a_code_is_reported_as_1005_and_answered_empty() {
    let now = Instant::now();
    let mut client = open_client(now, Config::default());
    client.receive(now, &server_frame(true, OpCode::Close, b""));
    assert_eq!(events(&mut client), []);
    let sent = output_frames(&mut client);
    assert_eq!((sent[0].opcode, sent[0].payload.len()), (OpCode::Close, 0));
    client.receive_eof();
    let events = events(&mut client);
    assert_eq!(
        closed_events(&events)[0].code,
        CloseCode::NO_STATUS_RECEIVED
    );
    assert!(closed_events(&events)[0].was_clean);
}

#[test]
fn s7_4_received_close_codes_are_validated() {
    for code in [
        0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
    ] {
        let now = Instant::now();
        let mut client = open_client(now, Config::default());
        client.receive(
            now,
            &server_frame(true, OpCode::Close, &close_payload(code, "")),
        );
        let events = events(&mut client);
        assert_eq!(
            events,
            [Event::Error(Error::Protocol(
                ProtocolError::InvalidCloseCode(code)
            ))],
            "code {code}"
        );
        assert_eq!(
            output_frames(&mut client)[0].close_code(),
            Some(1002),
            "code {code}"
        );
    }
    for code in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
        4000, 4999,
    ] {
        let now = Instant::now();
        let mut client = open_client(now, Config::default());
        client.receive(
            now,
            &server_frame(true, OpCode::Close, &close_payload(code, "")),
        );
        assert_eq!(events(&mut client), [], "code {code}");
        assert_eq!(
            output_frames(&mut client)[0].close_code(),
            Some(code),
            "echo of {code}"
        );
    }
}

#[test]
fn s5_5_1_a_one_byte_close_payload_fails_with_1002() {
    let now = Instant::now();
    let mut client = open_client(now, Config::default());
    client.receive(now, &server_frame(true, OpCode::Close, &[3]));
    assert_eq!(
        events(&mut client),
        [Event::Error(Error::Protocol(
            ProtocolError::CloseFrameTooShort
        ))]
    );
    assert_eq!(output_frames(&mut client)[0].close_code(), Some(1002));
}

#[test]
fn s5_5_1_a_close_reason_that_is_not_utf8_fails_with_1007() {
    let now = Instant::now();
    let mut client = open_client(now, Config::default());
    client.receive(
        now,
        &server_frame(
            true,
            OpCode::Close,
            b"\x03\xe8\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80",
        ),
    );
    assert_eq!(
        events(&mut client),
        [Event::Error(Error::Protocol(
            ProtocolError::InvalidCloseReason
        ))]
    );
    assert_eq!(output_frames(&mut client)[0].close_code(), Some(1007));
}

#[test]
fn s7_a_failed_connection_reports_the_code_it_sent_and_whether_the_peer_answered() {
    let now = Instant::now();
    let mut client = open_client(now, Config::default());
    client.receive(now, &server_frame(true, OpCode::Text, b"\xff"));
    client.receive(
        now,
        &server_frame(true, OpCode::Close, &close_payload(1002, "")),
    );
    client.receive_eof();
    let events = events(&mut client);
    assert!(matches!(
        events[0],
        Event::Error(Error::Protocol(ProtocolError::InvalidUtf8))
    ));
    let closed = closed_events(&events);
    assert_eq!(closed.len(), 1);
    assert_eq!(
        (closed[0].code, closed[0].was_clean, closed[0].initiator),
        (CloseCode::INVALID_PAYLOAD, true, Initiator::Local)
    );
    assert_eq!(events.len(), 2, "{events:?}");
}

#[test]
fn s7_1_1_no_data_frame_after_a_close_frame_but_received_data_still_arrives() {
    let now = Instant::now();
    let mut client = open_client(now, Config::default());
    client.close(now, CloseCode::NORMAL, "").unwrap();
    assert_eq!(
        client.send_text("late"),
        Err(SendError::NotOpen(State::Closing))
    );
    assert_eq!(
        client.send_binary(b"late"),
        Err(SendError::NotOpen(State::Closing))
    );
    client.receive(now, &server_frame(true, OpCode::Text, b"in flight"));
    assert_eq!(
        events(&mut client),
        [Event::Message(Message::Text("in flight".into()))]
    );
    let sent = output_frames(&mut client);
    assert_eq!(sent.len(), 1, "only the close frame: {sent:?}");
}

#[test]
fn s7_nothing_is_decoded_after_the_peers_close_frame() {
    let now = Instant::now();
    let mut client = open_client(now, Config::default());
    let mut bytes = server_frame(true, OpCode::Close, &close_payload(1000, ""));
    bytes.extend(server_frame(true, OpCode::Text, b"after close"));
    bytes.extend(frames::encode(0xF1, b"garbage", None));
    client.receive(now, &bytes);
    assert_eq!(events(&mut client), []);
}

#[test]
fn s7_1_4_transport_lost_without_a_close_frame_is_1006_not_clean() {
    let now = Instant::now();
    let mut client = open_client(now, Config::default());
    client.receive(now, &server_frame(true, OpCode::Text, b"last words"));
    client.receive_eof();
    let events = events(&mut client);
    assert_eq!(
        events,
        [
            Event::Message(Message::Text("last words".into())),
            Event::Error(Error::ConnectionLost),
            closed_uncleanly(CloseCode::ABNORMAL, "", Initiator::Remote),
        ]
    );
    // Nothing after Closed, whatever happens.
    client.receive(now, &server_frame(true, OpCode::Text, b"x"));
    client.receive_eof();
    client.handle_timeout(now + Duration::from_secs(3600));
    assert_eq!(client.poll_event(), None);
}

#[test]
fn s7_close_frame_then_eof_in_one_read_is_a_clean_close() {
    let now = Instant::now();
    let mut client = open_client(now, Config::default());
    client.receive(
        now,
        &server_frame(true, OpCode::Close, &close_payload(1001, "going")),
    );
    client.receive_eof();
    let events = events(&mut client);
    assert_eq!(
        events,
        [closed_cleanly(
            CloseCode::GOING_AWAY,
            "going",
            Initiator::Remote
        )]
    );
}

#[test]
fn s7_local_close_arguments_are_checked_and_nothing_changes_on_error() {
    let now = Instant::now();
    let mut client = open_client(now, Config::default());
    for code in [0u16, 999, 1005, 1006, 1015, 2000, 5000] {
        assert_eq!(
            client.close(now, CloseCode(code), ""),
            Err(SendError::InvalidCloseCode(code))
        );
    }
    let long = "x".repeat(124);
    assert_eq!(
        client.close(now, CloseCode::NORMAL, &long),
        Err(SendError::CloseReasonTooLong(124))
    );
    assert_eq!(client.state(), State::Open);
    assert!(client.poll_transmit().is_none());
    client
        .close(now, CloseCode::NORMAL, &"y".repeat(123))
        .unwrap();
    // A second close, or one after the end, is harmless.
    client.close(now, CloseCode::NORMAL, "again").unwrap();
    assert_eq!(output_frames(&mut client).len(), 1);
    client.receive_eof();
    let _ = events(&mut client);
    client.close(now, CloseCode::NORMAL, "").unwrap();
    assert_eq!(client.poll_event(), None);
}

#[test]
fn s7_closing_while_connecting_abandons_the_handshake() {
    let now = Instant::now();
    let request = ws_proto::ClientRequest::new("h", 80, "/");
    let mut client =
        ws_proto::Connection::client(now, Config::default(), &request, rng(1)).unwrap();
    client.close(now, CloseCode::NORMAL, "").unwrap();
    assert_eq!(
        events(&mut client),
        [closed_uncleanly(CloseCode::ABNORMAL, "", Initiator::Local)]
    );
    assert_eq!(client.state(), State::Closed);
}

#[test]
fn s7_both_sides_closing_at_once_is_clean_for_both() {
    let mut pair = Pair::open(3, Config::default(), 64);
    let now = pair.now;
    pair.client.close(now, CloseCode(3001), "client").unwrap();
    pair.server.close(now, CloseCode(3002), "server").unwrap();
    pair.run();
    let c = closed_events(&pair.client_events);
    let s = closed_events(&pair.server_events);
    assert_eq!((c.len(), s.len()), (1, 1));
    assert!(c[0].was_clean && s[0].was_clean);
    // Each reports the code the other sent.
    assert_eq!((c[0].code, s[0].code), (CloseCode(3002), CloseCode(3001)));
}

// ---- the failing side closes the transport (7.1.7) ---------------------------------

#[test]
fn s7_1_7_a_failed_connection_ends_once_its_close_frame_is_written() {
    let now = Instant::now();
    let mut client = failed_client(now, Config::default());
    // Until the close frame is out, it waits (at most the drain time).
    let deadline = client.poll_timeout().expect("a deadline");
    assert!(deadline > now && deadline <= now + Duration::from_secs(1));
    let sent = output_frames(&mut client);
    assert_eq!(sent[0].close_code(), Some(1007));
    // Written: nothing is left to wait for, not even the peer's answer.
    assert!(client.poll_timeout().is_some_and(|at| at <= now));
    client.handle_timeout(now);
    assert_eq!(events(&mut client), [closed_after_invalid_utf8()]);
}

#[test]
fn s7_1_7_without_a_drain_timeout_a_failed_connection_waits_for_the_close_timeout() {
    let now = Instant::now();
    let config = Config::default().drain_timeout(None);
    let mut client = failed_client(now, config);
    client.handle_timeout(now + Duration::from_secs(4));
    assert_eq!(events(&mut client), []);
    client.handle_timeout(now + Duration::from_secs(5));
    assert_eq!(client.state(), State::Closed);
}

#[test]
fn s7_1_7_a_driver_fails_a_connection_with_its_own_code_and_reports_its_cause_in_the_errors_place()
{
    let now = Instant::now();
    let mut server = open_server(now, Config::default());
    server.send_text("before").unwrap();
    server
        .fail(now, CloseCode::TRY_AGAIN_LATER, "memory budget")
        .unwrap();
    assert_eq!(
        events(&mut server),
        [Event::Error(Error::Failed(CloseCode::TRY_AGAIN_LATER))],
        "the error's place, for the driver's cause"
    );
    assert!(!server.is_receiving());
    // Nothing is decoded once failed.
    server.receive(now, &client_frame(true, OpCode::Text, b"after"));
    assert_eq!(events(&mut server), []);
    assert_eq!(
        server.send_text("late"),
        Err(SendError::NotOpen(State::Closing))
    );
    let sent = output_frames(&mut server);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].close_code(), Some(1013));
    server.handle_timeout(now);
    assert_eq!(
        events(&mut server),
        [closed_uncleanly(
            CloseCode::TRY_AGAIN_LATER,
            "memory budget",
            Initiator::Local
        )]
    );
    // Once closed, failing again does nothing.
    server.fail(now, CloseCode::NORMAL, "").unwrap();
    assert_eq!(events(&mut server), []);
}

#[test]
fn s7_1_7_failing_checks_its_arguments_and_abandons_a_handshake() {
    let now = Instant::now();
    let mut server = open_server(now, Config::default());
    assert_eq!(
        server.fail(now, CloseCode::ABNORMAL, ""),
        Err(SendError::InvalidCloseCode(1006))
    );
    assert_eq!(server.state(), State::Open);
    let request = ws_proto::ClientRequest::new("example.com", 80, "/");
    let mut client =
        ws_proto::Connection::client(now, Config::default(), &request, rng(3)).unwrap();
    client.fail(now, CloseCode::TRY_AGAIN_LATER, "").unwrap();
    assert!(matches!(
        events(&mut client)[..],
        [
            Event::Error(Error::Failed(CloseCode::TRY_AGAIN_LATER)),
            Event::Closed(Closed {
                code: CloseCode::ABNORMAL,
                ..
            })
        ]
    ));
}

#[test]
fn s7_1_7_failing_after_a_violation_reports_nothing_more() {
    let now = Instant::now();
    let mut client = open_client(now, Config::default());
    client.receive(now, &frames::encode(0x83, b"x", None)); // reserved opcode
    let first = events(&mut client);
    assert!(
        matches!(&first[..], [Event::Error(Error::Protocol(_))]),
        "{first:?}"
    );
    assert!(!client.is_receiving());
    client
        .fail(now, CloseCode::INVALID_PAYLOAD, "invalid JSON")
        .unwrap();
    client.transport_failed();
    let rest = events(&mut client);
    assert!(
        matches!(&rest[..], [Event::Closed(_)]),
        "one error, the first: {rest:?}"
    );
}

#[test]
fn s7_1_4_a_failed_transport_is_reported_in_place_of_the_loss_after_what_was_received() {
    let now = Instant::now();
    let mut client = open_client(now, Config::default());
    client.receive(now, &server_frame(true, OpCode::Text, b"last words"));
    client.transport_failed();
    assert!(
        client.is_receiving(),
        "what came before is still handed out"
    );
    assert_eq!(
        events(&mut client),
        [
            Event::Message(Message::Text("last words".into())),
            Event::Error(Error::Transport),
            closed_uncleanly(CloseCode::ABNORMAL, "", Initiator::Remote),
        ]
    );
    // A later end of the transport changes nothing.
    client.receive_eof();
    client.transport_failed();
    assert_eq!(client.poll_event(), None);
}

#[test]
fn s7_1_4_a_transport_failure_while_connecting_ends_the_handshake_with_one_error() {
    let now = Instant::now();
    let request = ws_proto::ClientRequest::new("example.com", 80, "/");
    let mut client =
        ws_proto::Connection::client(now, Config::default(), &request, rng(3)).unwrap();
    client.transport_failed();
    client.handle_timeout(now + Duration::from_secs(3600));
    assert!(matches!(
        events(&mut client)[..],
        [
            Event::Error(Error::Transport),
            Event::Closed(Closed {
                code: CloseCode::ABNORMAL,
                was_clean: false,
                ..
            })
        ]
    ));
}

#[test]
fn s7_1_4_a_transport_failure_after_the_closing_handshake_or_a_failure_is_not_an_error() {
    let now = Instant::now();
    // The closing handshake is complete: a client waits for the server's
    // end of the transport, and a reset then is no error.
    let mut client = open_client(now, Config::default());
    client.close(now, CloseCode::NORMAL, "bye").unwrap();
    client.receive(
        now,
        &server_frame(true, OpCode::Close, &close_payload(1000, "")),
    );
    client.transport_failed();
    assert_eq!(
        events(&mut client),
        [Event::Closed(Closed {
            code: CloseCode::NORMAL,
            reason: String::new(),
            was_clean: true,
            initiator: Initiator::Local,
        })]
    );
    // This side failed it: its own error came, the reset adds none.
    let mut server = open_server(now, Config::default());
    server.fail(now, CloseCode::TRY_AGAIN_LATER, "").unwrap();
    server.transport_failed();
    let events = events(&mut server);
    assert!(
        matches!(
            &events[..],
            [Event::Error(Error::Failed(_)), Event::Closed(_)]
        ),
        "{events:?}"
    );
}

#[test]
fn s7_abandoning_ends_at_once_with_no_error() {
    let now = Instant::now();
    let mut client = open_client(now, Config::default());
    client.close(now, CloseCode::GOING_AWAY, "").unwrap();
    client.receive(now, &server_frame(true, OpCode::Text, b"in flight"));
    client.abandon();
    assert_eq!(
        events(&mut client),
        [closed_uncleanly(CloseCode::ABNORMAL, "", Initiator::Local)],
        "nothing decoded, no error"
    );
    let sent = output_frames(&mut client);
    assert_eq!(sent.last().and_then(|f| f.close_code()), Some(1001));
    // Later inputs change nothing.
    client.transport_failed();
    client.abandon();
    assert_eq!(client.poll_event(), None);

    // A complete closing handshake keeps its outcome.
    let mut client = open_client(now, Config::default());
    client.close(now, CloseCode::NORMAL, "").unwrap();
    client.receive(
        now,
        &server_frame(true, OpCode::Close, &close_payload(1000, "")),
    );
    assert_eq!(
        events(&mut client),
        [],
        "a client waits for the server's end"
    );
    client.abandon();
    let events = events(&mut client);
    assert!(
        matches!(
            &events[..],
            [Event::Closed(Closed {
                code: CloseCode::NORMAL,
                was_clean: true,
                ..
            })]
        ),
        "{events:?}"
    );
}
