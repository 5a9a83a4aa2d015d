//! The order and fields of the callbacks on every path: success, refused
//! connection, rejected handshake, server close, client terminate, protocol
//! error, JSON error, dropped connection, timeout.

mod common;

use std::io::Write as _;
use std::time::Duration;

use common::*;
use ws_client::{Data, DataType, Status, WebSocket};
use ws_test_support::frames;
use ws_test_support::handshake::{accept, read_head};
use ws_test_support::raw_server::wait_for_eof;

#[test]
fn success_open_messages_terminate_with_status_at_each_stage() {
    let server = TestServer::start();
    let (handler, log) = Recorder::new();
    let handler = handler
        .on_open(|ws| ws.send("Hello world").unwrap())
        .on_message(|ws, _| {
            ws.terminate(Some(4000), Some("done")).unwrap();
            assert_eq!(ws.status(), Status::Closing);
        });
    let ws = WebSocket::new(&server.url("/echo"), handler).unwrap();
    assert_eq!(ws.url(), server.url("/echo"));
    let seen = log.until_terminate();
    assert_eq!(kinds(&seen), ["open", "message", "terminate"]);
    match &seen[0] {
        Seen::Open { status, .. } => assert_eq!(*status, Status::Connected),
        other => panic!("{other:?}"),
    }
    match &seen[1] {
        Seen::Message(Data::Text(t)) => assert_eq!(t.as_str(), "Hello world"),
        other => panic!("{other:?}"),
    }
    match &seen[2] {
        Seen::Terminate { event, status, .. } => {
            // The server echoes the client's close frame.
            assert_eq!((event.code, event.reason.as_str()), (4000, "done"));
            assert!(event.was_clean);
            assert_eq!(*status, Status::Closed);
            assert_eq!(event.event_type(), "terminate");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(ws.status(), Status::Closed);
    assert_eq!(ws.status().to_string(), "Closed");
    log.assert_quiet(Duration::from_millis(100));
}

#[test]
fn the_status_starts_as_connecting() {
    // A server that accepts and stays silent keeps the client connecting.
    let url = raw_server(|mut stream| {
        let _ = read_head(&mut stream);
        wait_for_eof(&mut stream);
    });
    let (handler, log) = Recorder::new();
    let ws = WebSocket::new(&url, handler).unwrap();
    assert_eq!(ws.status(), Status::Connecting);
    assert_eq!(ws.status().to_string(), "Connecting");
    assert!(matches!(
        ws.send("too early"),
        Err(ws_client::Error::NotConnected(Status::Connecting))
    ));
    // Terminating while connecting abandons the connection.
    ws.terminate(None, None).unwrap();
    let seen = log.until_terminate();
    assert_eq!(kinds(&seen), ["terminate"]);
    assert_eq!(terminate_of(&seen).code, 1006);
    assert!(!terminate_of(&seen).was_clean);
}

#[test]
fn refused_connection_gives_error_then_terminate_and_no_open() {
    let (handler, log) = Recorder::new();
    let ws = WebSocket::new(&refused_url(), handler).unwrap();
    let seen = log.until_terminate();
    assert_eq!(kinds(&seen), ["error", "terminate"]);
    let (code, stack) = error_of(&seen);
    assert_eq!(code, 20);
    assert_eq!(stack[0].component_signature, "ws-client");
    let os = stack.last().unwrap();
    assert_eq!(os.component_signature, "os");
    assert_eq!(os.err_code, 111, "ECONNREFUSED: {stack:?}");
    let terminate = terminate_of(&seen);
    assert_eq!((terminate.code, terminate.was_clean), (1006, false));
    assert_eq!(ws.status(), Status::Closed);
}

#[test]
fn rejected_handshake_names_the_http_status() {
    let url = raw_server(|mut stream| {
        let _ = read_head(&mut stream);
        let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nno socket");
    });
    let (handler, log) = Recorder::new();
    WebSocket::new(&url, handler).unwrap();
    let seen = log.until_terminate();
    assert_eq!(kinds(&seen), ["error", "terminate"]);
    let (code, stack) = error_of(&seen);
    assert_eq!(code, 22);
    assert!(
        stack
            .iter()
            .any(|e| e.component_signature == "ws-proto" && e.err_code == 404),
        "{stack:?}"
    );
    assert_eq!(terminate_of(&seen).code, 1006);
    assert!(!terminate_of(&seen).was_clean);
}

#[test]
fn server_close_reports_its_code_and_reason() {
    let server = TestServer::start();
    let (handler, log) = Recorder::new();
    WebSocket::new(&server.url("/close?4001&going"), handler).unwrap();
    let seen = log.until_terminate();
    assert_eq!(kinds(&seen), ["open", "terminate"]);
    let t = terminate_of(&seen);
    assert_eq!(
        (t.code, t.reason.as_str(), t.was_clean),
        (4001, "going", true)
    );
}

#[test]
fn server_close_without_a_code_reports_1005() {
    let url = raw_server(|mut stream| {
        accept(&mut stream).unwrap();
        let _ = stream.write_all(&[0x88, 0x00]); // close, no payload
        // Read the client's answer, then close the TCP connection first,
        // as a server does (RFC 6455 section 7.1.1).
        let mut answer = [0u8; 64];
        let _ = std::io::Read::read(&mut stream, &mut answer);
    });
    let (handler, log) = Recorder::new();
    WebSocket::new(&url, handler).unwrap();
    let seen = log.until_terminate();
    assert_eq!(kinds(&seen), ["open", "terminate"]);
    let t = terminate_of(&seen);
    assert_eq!((t.code, t.was_clean), (1005, true));
}

#[test]
fn terminate_without_arguments_sends_1000() {
    let server = TestServer::start();
    let (handler, log) = Recorder::new();
    let handler = handler.on_open(|ws| ws.terminate(None, None).unwrap());
    WebSocket::new(&server.url("/echo"), handler).unwrap();
    let seen = log.until_terminate();
    assert_eq!(kinds(&seen), ["open", "terminate"]);
    let t = terminate_of(&seen);
    assert_eq!((t.code, t.was_clean), (1000, true));
}

#[test]
fn no_message_is_delivered_after_terminate() {
    // Three messages are echoed; the handler terminates at the first. The
    // other two echoes may already be on the way (or decoded): none of
    // them reaches on_message, and on_terminate comes last, clean.
    let server = TestServer::start();
    let (handler, log) = Recorder::new();
    let handler = handler
        .on_open(|ws| {
            for text in ["one", "two", "three"] {
                ws.send(text).unwrap();
            }
        })
        .on_message(|ws, _| ws.terminate(Some(4000), Some("enough")).unwrap());
    WebSocket::new(&server.url("/echo"), handler).unwrap();
    let seen = log.until_terminate();
    assert_eq!(kinds(&seen), ["open", "message", "terminate"], "{seen:?}");
    let t = terminate_of(&seen);
    assert_eq!((t.code, t.was_clean), (4000, true));
}

#[test]
fn protocol_error_names_the_violation_and_closes_with_1002() {
    let url = raw_server(|mut stream| {
        accept(&mut stream).unwrap();
        // RSV1 set with no extension negotiated.
        let _ = stream.write_all(&[0xC1, 0x02, b'h', b'i']);
        // Answer the client's close frame, then go.
        let mut close = [0u8; 64];
        let _ = std::io::Read::read(&mut stream, &mut close);
        let _ = stream.write_all(&[0x88, 0x02, 0x03, 0xEA]);
        // and close the TCP connection, as a server does.
    });
    let (handler, log) = Recorder::new();
    WebSocket::new(&url, handler).unwrap();
    let seen = log.until_terminate();
    assert_eq!(kinds(&seen), ["open", "error", "terminate"]);
    let (code, stack) = error_of(&seen);
    assert_eq!(code, 23);
    let proto = stack
        .iter()
        .find(|e| e.component_signature == "ws-proto")
        .expect("a ws-proto entry");
    assert_eq!(proto.err_code, 1002);
    assert!(
        proto.message.to_lowercase().contains("reserved"),
        "{proto:?}"
    );
    assert_eq!(terminate_of(&seen).code, 1002);
}

#[test]
fn invalid_json_with_data_type_object_is_an_error_and_closes_with_1007() {
    let server = TestServer::start();
    let (handler, log) = Recorder::new();
    WebSocket::new(
        &server.url("/send-invalid-json"),
        handler.with_data_type(DataType::Object),
    )
    .unwrap();
    let seen = log.until_terminate();
    // The valid message first; nothing after the error but on_terminate.
    assert_eq!(kinds(&seen), ["open", "message", "error", "terminate"]);
    assert!(matches!(&seen[1], Seen::Message(Data::Object(v)) if v["a"] == 1));
    let (code, stack) = error_of(&seen);
    assert_eq!(code, 26);
    assert!(stack.iter().any(|e| e.component_signature == "serde_json"));
    let t = terminate_of(&seen);
    assert_eq!(t.code, 1007);
    // Failed (RFC 6455 section 7.1.7): the close frame goes out and the
    // connection ends without waiting for the answer.
    assert!(!t.was_clean);
}

#[test]
fn nothing_received_after_invalid_json_reaches_the_handler() {
    // One write: the loop decodes all four messages in one batch, and the
    // failure at the second must hold back the two after it.
    let (tx, rx) = std::sync::mpsc::channel();
    let url = raw_server(move |mut stream| {
        accept(&mut stream).unwrap();
        let mut burst = Vec::new();
        for text in [r#"{"a":1}"#, "not json", r#"{"b":2}"#, r#"{"c":3}"#] {
            frames::push(&mut burst, 0x81, text.as_bytes(), None);
        }
        stream.write_all(&burst).unwrap();
        let close = frames::read_client_frame(&mut stream).ok();
        let _ = tx.send(close.map(|f| (f.first_byte(), f.close_code())));
        wait_for_eof(&mut stream);
    });
    let (handler, log) = Recorder::new();
    WebSocket::new(&url, handler.with_data_type(DataType::Object)).unwrap();
    let seen = log.until_terminate();
    assert_eq!(kinds(&seen), ["open", "message", "error", "terminate"]);
    assert!(matches!(&seen[1], Seen::Message(Data::Object(v)) if v["a"] == 1));
    assert_eq!(error_of(&seen).0, 26);
    assert_eq!(terminate_of(&seen).code, 1007);
    let close = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(
        close,
        Some((0x88, Some(1007))),
        "a close frame with 1007 on the wire"
    );
    log.assert_quiet(Duration::from_millis(200));
}

#[test]
fn dropped_connection_is_an_error_then_1006() {
    let url = raw_server(|mut stream| {
        accept(&mut stream).unwrap();
        let _ = stream.write_all(&[0x81, 0x02, b'h', b'i']);
        // and go away without a close frame
    });
    let (handler, log) = Recorder::new();
    WebSocket::new(&url, handler).unwrap();
    let seen = log.until_terminate();
    assert_eq!(kinds(&seen), ["open", "message", "error", "terminate"]);
    assert_eq!(error_of(&seen).0, 24);
    let t = terminate_of(&seen);
    assert_eq!((t.code, t.was_clean), (1006, false));
}

#[test]
fn handshake_timeout_is_an_error_then_1006() {
    let url = raw_server(|mut stream| {
        let _ = read_head(&mut stream);
        wait_for_eof(&mut stream);
    });
    let (handler, log) = Recorder::new();
    WebSocket::builder(&url)
        .handshake_timeout(Some(Duration::from_millis(200)))
        .connect(handler)
        .unwrap();
    let seen = log.until_terminate();
    assert_eq!(kinds(&seen), ["error", "terminate"]);
    assert_eq!(error_of(&seen).0, 25);
    let t = terminate_of(&seen);
    assert_eq!((t.code, t.was_clean), (1006, false));
}

#[test]
fn close_timeout_is_an_error_then_1006() {
    // The server never answers the client's close frame.
    let url = raw_server(|mut stream| {
        accept(&mut stream).unwrap();
        wait_for_eof(&mut stream);
    });
    let (handler, log) = Recorder::new();
    let handler = handler.on_open(|ws| ws.terminate(None, None).unwrap());
    WebSocket::builder(&url)
        .close_timeout(Some(Duration::from_millis(200)))
        .connect(handler)
        .unwrap();
    let seen = log.until_terminate();
    assert_eq!(kinds(&seen), ["open", "error", "terminate"]);
    assert_eq!(error_of(&seen).0, 25);
    let t = terminate_of(&seen);
    assert_eq!((t.code, t.was_clean), (1006, false));
}

#[test]
fn oversized_message_closes_with_1009() {
    let server = TestServer::start();
    let (handler, log) = Recorder::new();
    let handler = handler.on_open(|ws| ws.send(vec![0u8; 4096]).unwrap());
    WebSocket::builder(&server.url("/echo"))
        .max_message_size(1024)
        .connect(handler)
        .unwrap();
    let seen = log.until_terminate();
    assert_eq!(kinds(&seen), ["open", "error", "terminate"]);
    let (code, stack) = error_of(&seen);
    assert_eq!(code, 23);
    assert!(stack.iter().any(|e| e.err_code == 1009), "{stack:?}");
    assert_eq!(terminate_of(&seen).code, 1009);
}

#[test]
fn the_subprotocol_is_reported_on_open() {
    let server = TestServer::start();
    let (handler, log) = Recorder::new();
    let ws = WebSocket::builder(&server.url("/echo"))
        .protocol("chat.v2")
        .protocol("chat.v1")
        .connect(handler)
        .unwrap();
    match log.next() {
        Seen::Open { protocol, .. } => assert_eq!(protocol.as_deref(), Some("chat.v1")),
        other => panic!("{other:?}"),
    }
    assert_eq!(ws.protocol().as_deref(), Some("chat.v1"));
    ws.terminate(None, None).unwrap();
    log.until_terminate();
}
