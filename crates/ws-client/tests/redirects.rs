//! Redirects (`Builder::follow_redirects`): a chain across two servers,
//! what is carried to another host, a loop, unusable `Location`s, and the
//! default (not followed).

mod common;

use std::io::Write as _;
use std::sync::atomic::Ordering;
use std::sync::mpsc;

use common::*;
use ws_client::{Status, WebSocket};
use ws_test_support::handshake::read_head;

/// Answers every request with `status` and `Location: location`.
fn redirecting(
    status: u16,
    location: String,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    scripted_server(16, move |_, mut stream| {
        read_head(&mut stream);
        let answer =
            format!("HTTP/1.1 {status} Moved\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n");
        let _ = stream.write_all(answer.as_bytes());
    })
}

#[test]
fn a_chain_across_two_servers_ends_open_with_the_final_url() {
    // The last server sends the request headers it got as its first message.
    let server = TestServer::start();
    let last = server.url("");
    // The first server: /start -> 302 /middle (same host), /middle -> 307 to
    // the last server (another port: another origin).
    let (first_heads_tx, first_heads) = mpsc::channel::<String>();
    let target = format!("{}/headers?x=1", last.replace("ws://", "http://"));
    let (first, _) = scripted_server(2, move |_, mut stream| {
        let head = read_head(&mut stream).unwrap_or_default();
        let answer = if head.starts_with("GET /start ") {
            "HTTP/1.1 302 Found\r\nLocation: /middle\r\nContent-Length: 0\r\n\r\n".to_owned()
        } else {
            format!(
                "HTTP/1.1 307 Temporary Redirect\r\nLocation: {target}\r\nContent-Length: 0\r\n\r\n"
            )
        };
        let _ = first_heads_tx.send(head);
        let _ = stream.write_all(answer.as_bytes());
    });
    let (recorder, log) = Recorder::new();
    let start = first.replace("ws://", "ws://user:secret@") + "/start";
    let ws = WebSocket::builder(&start)
        .cookie("session=abc")
        .follow_redirects(5)
        .connect(recorder)
        .expect("connect");
    // No callback for the redirects: the first one is on_open.
    assert!(matches!(log.next(), Seen::Open { .. }));
    assert_eq!(ws.effective_url(), format!("{last}/headers?x=1"));
    assert_eq!(ws.url(), format!("{first}/start"), "url() stays as given");
    let first_two: Vec<String> = (0..2)
        .map(|_| first_heads.recv_timeout(WAIT).unwrap())
        .collect();
    for head in &first_two {
        // The same host: the cookie and the credentials go along.
        let lower = head.to_ascii_lowercase();
        assert!(lower.contains("cookie: session=abc"), "{head}");
        assert!(lower.contains("authorization: basic"), "{head}");
    }
    assert!(first_two[1].starts_with("GET /middle "));
    let last_head = match log.next() {
        Seen::Message(ws_client::Data::Text(text)) => text.to_string(),
        other => panic!("expected the headers, got {other:?}"),
    };
    let lower = last_head.to_ascii_lowercase();
    assert!(lower.contains("\"host\""), "{last_head}");
    assert!(
        !lower.contains("cookie"),
        "a cookie went to another host: {last_head}"
    );
    assert!(
        !lower.contains("authorization"),
        "credentials went to another host: {last_head}"
    );
    ws.terminate(None, None).expect("terminate");
    let seen = log.until_terminate();
    assert_eq!(terminate_of(&seen).code, 1000);
}

#[test]
fn a_redirect_loop_ends_after_the_limit() {
    let (url, accepted) = redirecting(301, "/again".to_owned());
    let (recorder, log) = Recorder::new();
    let ws = WebSocket::builder(&format!("{url}/"))
        .follow_redirects(3)
        .connect(recorder)
        .expect("connect");
    let seen = log.until_terminate();
    assert_eq!(kinds(&seen), ["error", "terminate"]);
    let (code, errors) = error_of(&seen);
    assert_eq!(code, 32, "{errors:?}");
    assert!(
        errors[0].message.contains("more than 3 redirects"),
        "{errors:?}"
    );
    assert_eq!(terminate_of(&seen).code, 1006);
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        4,
        "the first request and 3 redirects"
    );
    assert_eq!(ws.status(), Status::Closed);
}

#[test]
fn unusable_locations_are_clear_errors() {
    for (location, why) in [
        ("ftp://127.0.0.1/file", "not a ws, wss, http or https URL"),
        ("http://[::1", "not a URL"),
    ] {
        let (url, _) = redirecting(302, location.to_owned());
        let (recorder, log) = Recorder::new();
        let _ws = WebSocket::builder(&format!("{url}/"))
            .follow_redirects(3)
            .connect(recorder)
            .expect("connect");
        let seen = log.until_terminate();
        let (code, errors) = error_of(&seen);
        assert_eq!(code, 33, "{location}: {errors:?}");
        assert!(errors[0].message.contains(why), "{location}: {errors:?}");
    }
}

#[test]
fn redirects_are_not_followed_by_default() {
    let (url, accepted) = redirecting(302, "/elsewhere".to_owned());
    let (recorder, log) = Recorder::new();
    let _ws = WebSocket::builder(&format!("{url}/"))
        .connect(recorder)
        .expect("connect");
    let seen = log.until_terminate();
    let (code, errors) = error_of(&seen);
    assert_eq!(code, 22);
    assert_eq!(errors[1].err_code, 302, "{errors:?}");
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}
