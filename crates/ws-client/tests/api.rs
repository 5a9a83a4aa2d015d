//! The object's methods and settings: data types, headers and cookies,
//! URL and header validation, terminate's checks, ids, sends from several
//! threads, JSON, the resolver, `handler()`.

mod common;

use std::collections::HashSet;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::*;
use ws_client::{Bytes, Callbacks, Data, DataType, Error, Headers, Json, Status, WebSocket};

/// Opens `path` with `data_type` and returns the messages the server sends
/// at once (`/send-kinds`: text, binary, JSON text).
fn received_with(server: &TestServer, data_type: DataType) -> Vec<Data> {
    let (handler, log) = Recorder::new();
    let handler = handler.with_data_type(data_type).on_message({
        let mut n = 0;
        move |ws, _| {
            n += 1;
            if n == 3 {
                ws.terminate(None, None).unwrap();
            }
        }
    });
    let ws = WebSocket::new(&server.url("/send-kinds"), handler).unwrap();
    assert_eq!(ws.data_type(), data_type);
    log.until_terminate()
        .into_iter()
        .filter_map(|s| match s {
            Seen::Message(data) => Some(data),
            _ => None,
        })
        .collect()
}

#[test]
fn every_data_type_with_text_binary_and_json() {
    let server = TestServer::start();
    let text = received_with(&server, DataType::Text);
    assert_eq!(text[0].as_text(), Some("hello"));
    assert_eq!(text[1].as_blob(), Some(&[1u8, 2, 3][..]));
    assert_eq!(text[2].as_text(), Some(r#"{"a":1}"#));

    let blob = received_with(&server, DataType::Blob);
    assert_eq!(blob[0].as_blob(), Some(&b"hello"[..]));
    assert_eq!(blob[1].as_blob(), Some(&[1u8, 2, 3][..]));
    assert_eq!(blob[2].as_blob(), Some(&br#"{"a":1}"#[..]));

    // "hello" is not JSON: the object data type fails on it.
    let (handler, log) = Recorder::new();
    WebSocket::new(
        &server.url("/send-kinds"),
        handler.with_data_type(DataType::Object),
    )
    .unwrap();
    let seen = log.until_terminate();
    assert_eq!(kinds(&seen), ["open", "error", "terminate"]);
    assert_eq!(terminate_of(&seen).code, 1007);
}

#[test]
fn object_data_type_parses_json_and_keeps_binary_as_bytes() {
    let server = TestServer::start();
    let (handler, log) = Recorder::new();
    let handler = handler
        .with_data_type(DataType::Object)
        .on_open(|ws| {
            ws.send(serde_json::json!({"op": "sub", "ids": [1, 2]}))
                .unwrap();
            ws.send(&[9u8, 8, 7]).unwrap();
            ws.send(Json(&vec!["a", "b"])).unwrap();
        })
        .on_message({
            let mut n = 0;
            move |ws, _| {
                n += 1;
                if n == 3 {
                    ws.terminate(None, None).unwrap();
                }
            }
        });
    WebSocket::new(&server.url("/echo"), handler).unwrap();
    let seen = log.until_terminate();
    assert_eq!(
        kinds(&seen),
        ["open", "message", "message", "message", "terminate"]
    );
    assert!(matches!(&seen[1], Seen::Message(Data::Object(v)) if v["ids"][1] == 2));
    assert!(matches!(&seen[2], Seen::Message(Data::Blob(b)) if b[..] == [9, 8, 7]));
    assert!(matches!(&seen[3], Seen::Message(Data::Object(v)) if v[1] == "b"));
}

#[test]
fn every_kind_of_payload_can_be_sent() {
    let server = TestServer::start();
    let big = vec![7u8; 200_000];
    let (handler, log) = Recorder::new();
    let handler = handler.on_open({
        let big = big.clone();
        move |ws| {
            ws.send("str").unwrap();
            ws.send(String::from("string")).unwrap();
            let owned = String::from("&string");
            ws.send(&owned).unwrap();
            ws.send(&b"bytes"[..]).unwrap();
            ws.send(b"array").unwrap();
            ws.send(Bytes::from_static(b"Bytes")).unwrap();
            ws.send(big.clone()).unwrap();
            ws.send(Vec::<u8>::new()).unwrap();
            ws.send("").unwrap();
        }
    });
    // The last echo ends it (no message is delivered after terminate).
    let mut echoed = 0;
    let handler = handler.on_message(move |ws, _| {
        echoed += 1;
        if echoed == 9 {
            ws.terminate(None, None).unwrap();
        }
    });
    WebSocket::new(&server.url("/echo"), handler).unwrap();
    let messages: Vec<Data> = log
        .until_terminate()
        .into_iter()
        .filter_map(|s| match s {
            Seen::Message(d) => Some(d),
            _ => None,
        })
        .collect();
    assert_eq!(messages.len(), 9);
    assert_eq!(messages[0].as_text(), Some("str"));
    assert_eq!(messages[1].as_text(), Some("string"));
    assert_eq!(messages[2].as_text(), Some("&string"));
    assert_eq!(messages[3].as_blob(), Some(&b"bytes"[..]));
    assert_eq!(messages[4].as_blob(), Some(&b"array"[..]));
    assert_eq!(messages[5].as_blob(), Some(&b"Bytes"[..]));
    assert_eq!(messages[6].as_blob(), Some(&big[..]));
    assert_eq!(messages[7].as_blob(), Some(&b""[..]));
    assert_eq!(messages[8].as_text(), Some(""));
}

#[test]
fn headers_with_repeated_names_and_cookies_arrive_as_sent() {
    let server = TestServer::start();
    let (mut handler, log) = Recorder::new();
    handler.headers = Headers::new()
        .with("X-Authorization", "token-1")
        .with("X-Multi", "one")
        .with("X-Multi", "two")
        .with("Cookie", "yummy_cookie=choco; tasty_cookie=strawberry");
    let handler = handler.on_message(|ws, _| ws.terminate(None, None).unwrap());
    WebSocket::builder(&server.url("/headers"))
        .header("X-From-Builder", "yes")
        .cookie("third=3")
        .origin("https://app.example")
        .connect(handler)
        .unwrap();
    let seen = log.until_terminate();
    let pairs: Vec<(String, String)> = match &seen[1] {
        Seen::Message(Data::Text(t)) => serde_json::from_str(t.as_str()).unwrap(),
        other => panic!("{other:?}"),
    };
    let all = |name: &str| -> Vec<&str> {
        pairs
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    };
    assert_eq!(all("x-authorization"), ["token-1"]);
    assert_eq!(all("x-multi"), ["one", "two"]);
    assert_eq!(all("x-from-builder"), ["yes"]);
    assert_eq!(all("origin"), ["https://app.example"]);
    assert_eq!(
        all("cookie"),
        ["yummy_cookie=choco; tasty_cookie=strawberry; third=3"]
    );
}

fn refused_at_once(url: &str, headers: Headers) -> Error {
    let (mut handler, log) = Recorder::new();
    handler.headers = headers;
    let error = WebSocket::new(url, handler).expect_err("must fail at once");
    log.assert_quiet(Duration::from_millis(50));
    error
}

#[test]
fn invalid_urls_fail_at_once_with_no_callback() {
    for url in [
        "http://127.0.0.1:9/",
        "ws://127.0.0.1:9/#fragment",
        "ws://127.0.0.1:99999/",
        "ws://",
        "127.0.0.1:9",
        "",
    ] {
        let error = refused_at_once(url, Headers::new());
        assert!(
            matches!(error, Error::InvalidUrl { .. }),
            "{url}: {error:?}"
        );
        assert_eq!(error.code(), 1);
        assert!(error.to_string().contains("invalid URL"), "{error}");
    }
}

#[test]
fn invalid_headers_fail_at_once_with_no_callback() {
    let url = refused_url(); // never reached: the headers fail first
    for headers in [
        Headers::new().with("Bad Name", "x"),
        Headers::new().with("X-Ok", "line\r\nInjected: yes"),
        Headers::new().with("X-Ok", "nul\0"),
        Headers::new().with("Sec-WebSocket-Key", "mine"),
        Headers::new().with("upgrade", "h2c"),
        Headers::new().with("Connection", "close"),
    ] {
        let error = refused_at_once(&url, headers.clone());
        assert!(
            matches!(error, Error::InvalidRequest(_)),
            "{headers:?}: {error:?}"
        );
        assert_eq!(error.code(), 2);
    }
}

#[test]
fn a_host_that_does_not_resolve_fails_at_once() {
    let (handler, log) = Recorder::new();
    let error = WebSocket::builder("ws://no-such-host.test/")
        .resolver(|_, _| {
            Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "unknown host",
            ))
        })
        .connect(handler)
        .expect_err("must fail");
    assert!(matches!(&error, Error::Resolve { host, .. } if host == "no-such-host.test"));
    assert_eq!(error.code(), 3);
    assert_eq!(error.stack().last().unwrap().component_signature, "os");
    log.assert_quiet(Duration::from_millis(50));
}

#[test]
fn a_resolver_can_point_a_name_at_loopback() {
    let server = TestServer::start();
    let addr = server.addr;
    let (handler, log) = Recorder::new();
    let handler = handler.on_open(|ws| ws.terminate(None, None).unwrap());
    WebSocket::builder(&format!("ws://echo.test:{}/", addr.port()))
        .resolver(move |host, port| {
            assert_eq!((host, port), ("echo.test", addr.port()));
            Ok(vec![addr])
        })
        .connect(handler)
        .unwrap();
    assert_eq!(kinds(&log.until_terminate()), ["open", "terminate"]);
}

#[test]
fn terminate_checks_code_and_reason_and_changes_nothing_on_error() {
    let server = TestServer::start();
    let (handler, log) = Recorder::new();
    let ws = WebSocket::new(&server.url("/echo"), handler).unwrap();
    assert!(matches!(log.next(), Seen::Open { .. }));
    for code in [0, 999, 1001, 1005, 1006, 1011, 2999, 5000, 65535] {
        assert!(
            matches!(ws.terminate(Some(code), None), Err(Error::InvalidCloseCode(c)) if c == code),
            "{code}"
        );
    }
    let long = "é".repeat(62); // 124 bytes
    assert!(matches!(
        ws.terminate(Some(1000), Some(&long)),
        Err(Error::ReasonTooLong(124))
    ));
    assert_eq!(ws.status(), Status::Connected);
    ws.send("still open").unwrap();
    assert!(matches!(log.next(), Seen::Message(_)));
    // The limits themselves are fine.
    ws.terminate(Some(4999), Some(&"x".repeat(123))).unwrap();
    ws.terminate(Some(3000), None).unwrap(); // twice: harmless
    let seen = log.until_terminate();
    assert_eq!(terminate_of(&seen).code, 4999);
    ws.terminate(None, None).unwrap(); // closed: harmless
    assert!(matches!(
        ws.send("late"),
        Err(Error::NotConnected(Status::Closed))
    ));
}

#[test]
fn ids_are_unique() {
    let server = TestServer::start();
    let mut ids = HashSet::new();
    let mut logs = Vec::new();
    for _ in 0..20 {
        let (handler, log) = Recorder::new();
        let handler = handler.on_open(|ws| ws.terminate(None, None).unwrap());
        let ws = WebSocket::new(&server.url("/echo"), handler).unwrap();
        assert!(ids.insert(ws.id()));
        assert_eq!(ws.clone().id(), ws.id());
        logs.push(log);
    }
    for log in logs {
        log.until_terminate();
    }
}

#[test]
fn sends_from_several_threads_arrive_complete_and_in_per_thread_order() {
    const THREADS: usize = 4;
    const EACH: usize = 250;
    let server = TestServer::start();
    let (handler, log) = Recorder::new();
    let (opened_tx, opened_rx) = mpsc::channel();
    let handler = handler.on_open(move |_| opened_tx.send(()).unwrap());
    let ws = WebSocket::new(&server.url("/echo"), handler).unwrap();
    opened_rx.recv_timeout(WAIT).unwrap();
    let senders: Vec<_> = (0..THREADS)
        .map(|t| {
            let ws = ws.clone();
            thread::spawn(move || {
                for i in 0..EACH {
                    // A full write buffer is an error to the sender: retry.
                    loop {
                        match ws.send(format!("{t}:{i}")) {
                            Ok(()) => break,
                            Err(Error::WriteBufferFull { .. }) => thread::yield_now(),
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
            })
        })
        .collect();
    for s in senders {
        s.join().unwrap();
    }
    assert!(matches!(log.next(), Seen::Open { .. }));
    let mut next = [0usize; THREADS];
    for _ in 0..THREADS * EACH {
        match log.next() {
            Seen::Message(Data::Text(text)) => {
                let (t, i) = text.as_str().split_once(':').unwrap();
                let (t, i): (usize, usize) = (t.parse().unwrap(), i.parse().unwrap());
                assert_eq!(i, next[t], "thread {t} out of order");
                next[t] += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(next, [EACH; THREADS]);
    ws.terminate(None, None).unwrap();
    log.until_terminate();
}

#[test]
fn the_handler_is_reachable_through_the_object() {
    let server = TestServer::start();
    let (handler, log) = Recorder::new();
    let handler = handler
        .on_open(|ws| ws.send("one").unwrap())
        .on_message(|ws, _| ws.terminate(None, None).unwrap());
    let ws = WebSocket::new(&server.url("/echo"), handler).unwrap();
    log.until_terminate();
    assert_eq!(ws.handler().messages, 1);
    assert_eq!(ws.handler().data_type, DataType::Text);
}

#[test]
fn handler_from_inside_its_own_callback_is_a_clear_panic_not_a_deadlock() {
    let server = TestServer::start();
    let (handler, log) = Recorder::new();
    let handler = handler.on_open(|ws| {
        // Panics; the loop fails the connection with 1011.
        drop(ws.handler());
    });
    WebSocket::new(&server.url("/echo"), handler).unwrap();
    let seen = log.until_terminate();
    assert_eq!(terminate_of(&seen).code, 1011);
}

#[test]
fn callbacks_run_on_the_shared_background_thread_by_default() {
    let server = TestServer::start();
    let (handler, log) = Recorder::new();
    let handler = handler.on_open(|ws| ws.terminate(None, None).unwrap());
    WebSocket::new(&server.url("/echo"), handler).unwrap();
    let seen = log.until_terminate();
    for s in &seen {
        match s {
            Seen::Open { thread, .. } | Seen::Terminate { thread, .. } => {
                assert_eq!(thread.as_deref(), Some("ws-client"));
            }
            _ => {}
        }
    }
}

#[test]
fn closures_work_as_a_handler() {
    let server = TestServer::start();
    let (tx, rx) = mpsc::channel();
    let handler = Callbacks::new()
        .data_type(DataType::Blob)
        .on_open(|ws, event| {
            assert_eq!(event.event_type(), "open");
            ws.send("ping").unwrap();
        })
        .on_message(|ws, event| {
            assert_eq!(event.event_type(), "message");
            assert_eq!(event.data.as_blob(), Some(&b"ping"[..]));
            ws.terminate(Some(4100), Some("ok")).unwrap();
        })
        .on_terminate(move |_, event| tx.send(event.clone()).unwrap());
    let ws = WebSocket::new(&server.url("/echo"), handler).unwrap();
    assert_eq!(ws.data_type(), DataType::Blob);
    let event = rx.recv_timeout(WAIT).unwrap();
    assert_eq!((event.code, event.reason.as_str()), (4100, "ok"));
}

#[test]
fn events_serialize_with_the_4d_field_names() {
    use ws_client::{Event, MessageEvent, TerminateEvent};
    let message = MessageEvent {
        data: Data::Blob(Bytes::from_static(b"\x00\x01")),
    };
    assert_eq!(
        serde_json::to_string(&Event::Message(&message)).unwrap(),
        r#"{"type":"message","data":"AAE=","encoding":"base64"}"#
    );
    let message = MessageEvent {
        data: Data::Object(serde_json::json!({"a": [1]})),
    };
    assert_eq!(
        serde_json::to_string(&Event::Message(&message)).unwrap(),
        r#"{"type":"message","data":{"a":[1]}}"#
    );
    let mut terminate = TerminateEvent {
        code: 1000,
        reason: String::new(),
        was_clean: true,
        reconnect: None,
    };
    assert_eq!(
        serde_json::to_string(&Event::Terminate(&terminate)).unwrap(),
        r#"{"type":"terminate","code":1000,"reason":"","wasClean":true}"#
    );
    terminate.reconnect = Some(ws_client::Reconnect {
        attempt: 2,
        delay: std::time::Duration::from_millis(1500),
    });
    assert_eq!(
        serde_json::to_string(&Event::Terminate(&terminate)).unwrap(),
        r#"{"type":"terminate","code":1000,"reason":"","wasClean":true,"reconnect":{"attempt":2,"delayMs":1500}}"#
    );
    let error = ws_client::ErrorEvent::new(Error::Stopped);
    let json = serde_json::to_value(Event::Error(&error)).unwrap();
    assert_eq!(json["type"], "error");
    assert!(json["errors"][0]["errCode"].is_number());
    assert_eq!(json["errors"][0]["componentSignature"], "ws-client");
}

/// The request headers the `/headers` path of the test server sends back.
fn headers_sent(
    url: &str,
    builder: impl FnOnce(ws_client::Builder) -> ws_client::Builder,
) -> Vec<(String, String)> {
    let (handler, log) = Recorder::new();
    let handler = handler.on_message(|ws, _| ws.terminate(None, None).unwrap());
    let ws = builder(WebSocket::builder(url)).connect(handler).unwrap();
    assert!(
        !ws.url().contains("s3cr"),
        "url() shows the password: {}",
        ws.url()
    );
    let seen = log.until_terminate();
    match &seen[1] {
        Seen::Message(Data::Text(t)) => serde_json::from_str(t.as_str()).unwrap(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn url_credentials_become_basic_authorization() {
    let server = TestServer::start();
    let url = format!("ws://alice:s3cr%40t@{}/headers", server.addr);
    let authorization = |pairs: Vec<(String, String)>| -> Vec<String> {
        pairs
            .into_iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("authorization"))
            .map(|(_, v)| v)
            .collect()
    };
    // base64("alice:s3cr@t")
    assert_eq!(
        authorization(headers_sent(&url, |b| b)),
        ["Basic YWxpY2U6czNjckB0"]
    );
    // An Authorization header of the caller's wins.
    let pairs = headers_sent(&url, |b| b.header("Authorization", "Bearer xyz"));
    assert_eq!(authorization(pairs), ["Bearer xyz"]);
    // Never shown: Debug, url(), errors.
    let debug = format!("{:?}", WebSocket::builder(&url));
    assert!(
        !debug.contains("s3cr") && !debug.contains("alice"),
        "{debug}"
    );
    let bad = format!("ws://alice:s3cr%40t@{}:99999/", server.addr.ip());
    match WebSocket::new(&bad, Recorder::new().0) {
        Err(e) => assert!(!e.to_string().contains("s3cr"), "{e}"),
        Ok(_) => panic!("port 99999 accepted"),
    }
}
