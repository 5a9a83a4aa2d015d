//! How a `WebSocket` reaches its server besides a TCP connection of its
//! own: a `ws+unix://` URL and `Builder::unix_socket`, a stream the caller
//! connected (`Builder::stream`), and the proxy settings that are refused
//! before anything is sent. Tunnels through real proxies are in the
//! workspace's `tests/proxies.rs`.

mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use ws_client::{Data, Error, WebSocket};
use ws_mio::{Conn, Event, EventLoop, ServerOptions};
use ws_proto::Message;

/// An echo server on a Unix socket, stopped and its file removed on drop.
struct UnixEcho {
    path: PathBuf,
    handle: ws_mio::Handle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl UnixEcho {
    fn start() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "ws-client-transports-{}-{}.sock",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_file(&path);
        let mut event_loop = EventLoop::new().expect("event loop");
        event_loop
            .listen_unix(&path, ServerOptions::default(), || {
                |conn: &Conn, event: Event| {
                    if let Event::Message(Message::Text(t)) = &event {
                        let _ = conn.send_text(t);
                    }
                }
            })
            .expect("listen on a Unix socket");
        let handle = event_loop.handle();
        let thread = std::thread::spawn(move || event_loop.run().expect("server loop"));
        Self {
            path,
            handle,
            thread: Some(thread),
        }
    }
}

impl Drop for UnixEcho {
    fn drop(&mut self) {
        self.handle.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A handler that sends `hello` at open and terminates at the first
/// message; returns what it saw.
fn hello_once(connect: impl FnOnce(Recorder) -> Result<WebSocket<Recorder>, Error>) -> Vec<Seen> {
    let (handler, log) = Recorder::new();
    let handler = handler
        .on_open(|ws| ws.send("hello").expect("send"))
        .on_message(|ws, _| ws.terminate(None, None).expect("terminate"));
    let _ws = connect(handler).expect("connect");
    log.until_terminate()
}

fn assert_echoed_hello(seen: &[Seen]) {
    assert_eq!(kinds(seen), ["open", "message", "terminate"], "{seen:?}");
    match &seen[1] {
        Seen::Message(Data::Text(text)) => assert_eq!(text, "hello"),
        other => panic!("expected the echo, got {other:?}"),
    }
    assert!(terminate_of(seen).was_clean);
}

#[test]
fn a_ws_unix_url() {
    let server = UnixEcho::start();
    let url = format!("ws+unix://{}:/chat", server.path.display());
    let seen = hello_once(|h| WebSocket::new(&url, h));
    assert_echoed_hello(&seen);
}

#[test]
fn a_unix_socket_with_an_ordinary_url() {
    let server = UnixEcho::start();
    let seen = hello_once(|h| {
        WebSocket::builder("ws://gateway.local/feed")
            .unix_socket(&server.path)
            .connect(h)
    });
    assert_echoed_hello(&seen);
}

#[test]
fn a_stream_the_caller_connected() {
    let server = TestServer::start();
    let stream = std::net::TcpStream::connect(server.addr).expect("connect by hand");
    let stream = ws_mio::Stream::from_std_tcp(stream).expect("non-blocking");
    let seen = hello_once(|h| {
        WebSocket::builder(&server.url("/echo"))
            .stream(stream)
            .connect(h)
    });
    assert_echoed_hello(&seen);
}

#[test]
fn unusable_proxy_settings_fail_at_once() {
    for (proxy, words) in [
        ("ftp://proxy:21", "ftp"),
        ("http://proxy:99999", "port"),
        ("https://proxy:3129", "https"),
        ("http://proxy/some/path", "path"),
    ] {
        let (handler, _log) = Recorder::new();
        let result = WebSocket::builder("ws://127.0.0.1:9/")
            .proxy(proxy)
            .connect(handler);
        match result {
            Err(e @ Error::InvalidProxy(_)) => {
                assert_eq!(e.code(), 12);
                assert!(e.to_string().contains(words), "{proxy}: {e}");
            }
            Err(other) => panic!("{proxy}: expected InvalidProxy, got {other}"),
            Ok(_) => panic!("{proxy}: accepted"),
        }
    }
}

#[test]
fn proxy_credentials_stay_out_of_debug_output() {
    let builder = WebSocket::builder("ws://example.com/").proxy("http://alice:pa55w0rd@proxy:3128");
    let debug = format!("{builder:?}");
    assert!(debug.contains("http://proxy:3128"), "{debug}");
    assert!(
        !debug.contains("pa55w0rd") && !debug.contains("alice"),
        "{debug}"
    );
}
