//! ws-client through real proxies on loopback: tinyproxy (HTTP CONNECT)
//! and Dante (SOCKS5), started by `support/proxies.rs` on free ports. ws
//! and wss through each, with and without credentials, wrong credentials,
//! and a proxy that refuses the target; the error stack names the proxy
//! and its answer.
//!
//! Each test skips with a loud `SKIPPED:` line when its proxy is not
//! installed, unless `WS_REQUIRE_PROXIES=1` (CI sets it);
//! `tests/support/setup-proxies.sh` prepares a machine.

#[path = "support/proxies.rs"]
mod proxies;

use std::net::SocketAddr;
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use proxies::{Dante, DanteOptions, SOCKS_PASSWORD, SOCKS_USER, Tinyproxy, TinyproxyOptions};
use ws_client::{
    Builder, Callbacks, Data, ErrorEvent, ErrorItem, MessageEvent, OpenEvent, TerminateEvent,
    WebSocket,
};
use ws_mio::{EchoServer, ServerOptions};

/// The longest a test waits for one callback.
const WAIT: Duration = Duration::from_secs(20);

/// An echo server on 127.0.0.1, plain or with TLS (a certificate for the
/// IP address, and the DER to trust it).
fn echo_server(tls: bool) -> (EchoServer, Option<Vec<u8>>) {
    let mut options = ServerOptions::default();
    let mut trust = None;
    if tls {
        let rcgen::CertifiedKey { cert, signing_key } =
            rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("certificate");
        let config = ws_mio::server_config_from_pem(
            cert.pem().as_bytes(),
            signing_key.serialize_pem().as_bytes(),
        )
        .expect("server TLS configuration");
        options.tls = Some(config);
        trust = Some(cert.der().to_vec());
    }
    let loopback: SocketAddr = "127.0.0.1:0".parse().expect("address");
    (
        EchoServer::start(loopback, options).expect("echo server"),
        trust,
    )
}

/// What the callbacks saw, in order.
#[derive(Debug)]
enum Seen {
    Open(Option<ws_mio::TlsInfo>),
    Message(String),
    Error(Vec<ErrorItem>),
    Terminate { code: u16, clean: bool },
}

/// Connects with `builder`, sends `hello` at open and terminates at the
/// first message; returns everything seen, up to `on_terminate`.
fn run(builder: Builder) -> Vec<Seen> {
    let (tx, rx) = mpsc::channel();
    let (t1, t2, t3) = (tx.clone(), tx.clone(), tx.clone());
    let handler = Callbacks::new()
        .on_open(move |ws: &WebSocket<_>, event: &OpenEvent| {
            let _ = t1.send(Seen::Open(event.tls.clone()));
            ws.send("hello").expect("send");
        })
        .on_message(move |ws: &WebSocket<_>, event: MessageEvent| {
            if let Data::Text(text) = &event.data {
                let _ = t2.send(Seen::Message(text.to_string()));
            }
            ws.terminate(None, None).expect("terminate");
        })
        .on_error(move |_: &WebSocket<_>, event: &ErrorEvent| {
            let _ = t3.send(Seen::Error(event.errors.clone()));
        })
        .on_terminate(move |_: &WebSocket<_>, event: &TerminateEvent| {
            let _ = tx.send(Seen::Terminate {
                code: event.code,
                clean: event.was_clean,
            });
        });
    let _ws = builder.connect(handler).expect("the connection starts");
    until_terminate(&rx)
}

fn until_terminate(rx: &Receiver<Seen>) -> Vec<Seen> {
    let mut seen = Vec::new();
    loop {
        let event = rx
            .recv_timeout(WAIT)
            .unwrap_or_else(|_| panic!("no callback within {WAIT:?}; so far: {seen:?}"));
        let end = matches!(event, Seen::Terminate { .. });
        seen.push(event);
        if end {
            return seen;
        }
    }
}

/// The builder for the echo server, trusting its certificate for wss.
fn builder(server: &EchoServer, trust: &Option<Vec<u8>>) -> Builder {
    let addr = server.local_addr();
    match trust {
        None => WebSocket::builder(&format!("ws://{addr}/")),
        Some(der) => WebSocket::builder(&format!("wss://{addr}/"))
            .tls_roots(ws_mio::Roots::Empty)
            .ca_der(der.clone()),
    }
}

/// The echo went through, and the connection closed cleanly.
fn assert_echoed(seen: &[Seen], tls: bool) {
    match seen {
        [
            Seen::Open(info),
            Seen::Message(text),
            Seen::Terminate {
                code: 1000,
                clean: true,
            },
        ] => {
            assert_eq!(text, "hello");
            assert_eq!(info.is_some(), tls, "TLS info: {info:?}");
        }
        other => panic!("expected open, the echo, a clean end; got {other:?}"),
    }
}

/// The connection failed in the proxy stage with ws-client code `code`;
/// returns the proxy's own item (its status or reply code).
fn proxy_failure(seen: &[Seen], code: i64) -> ErrorItem {
    let [Seen::Error(stack), Seen::Terminate { clean: false, .. }] = seen else {
        panic!("expected an error then the end; got {seen:?}")
    };
    assert_eq!(stack[0].err_code, code, "{stack:?}");
    for item in stack {
        assert!(
            !item.message.contains(SOCKS_PASSWORD) && !item.message.contains("s3cret"),
            "credentials in the error stack: {stack:?}"
        );
    }
    stack
        .iter()
        .find(|item| item.component_signature == "proxy")
        .cloned()
        .unwrap_or_else(|| panic!("no proxy item in {stack:?}"))
}

// ---- HTTP CONNECT: tinyproxy -------------------------------------------------

#[test]
fn ws_and_wss_through_tinyproxy() {
    let Some(proxy) = Tinyproxy::start(TinyproxyOptions::default()) else {
        return;
    };
    for tls in [false, true] {
        let (server, trust) = echo_server(tls);
        let seen = run(builder(&server, &trust).proxy(proxy.url()));
        assert_echoed(&seen, tls);
    }
}

fn tinyproxy_with_auth() -> Option<Tinyproxy> {
    Tinyproxy::start(TinyproxyOptions {
        basic_auth: Some(("alice".into(), "s3cret".into())),
        ..TinyproxyOptions::default()
    })
}

#[test]
fn wss_through_tinyproxy_with_credentials() {
    let Some(proxy) = tinyproxy_with_auth() else {
        return;
    };
    let (server, trust) = echo_server(true);
    let url = proxy.url_with_credentials().expect("credentials");
    assert_echoed(&run(builder(&server, &trust).proxy(url)), true);
}

#[test]
fn tinyproxy_without_or_with_wrong_credentials() {
    let Some(proxy) = tinyproxy_with_auth() else {
        return;
    };
    let (server, trust) = echo_server(false);
    // None: 407, the proxy wants credentials.
    let item = proxy_failure(&run(builder(&server, &trust).proxy(proxy.url())), 30);
    assert_eq!(item.err_code, 407, "{item:?}");
    // Wrong ones: tinyproxy answers 401.
    let wrong = format!("http://alice:wrong-s3cret@{}", proxy.addr());
    let item = proxy_failure(&run(builder(&server, &trust).proxy(wrong)), 30);
    assert!(matches!(item.err_code, 401 | 407), "{item:?}");
}

#[test]
fn tinyproxy_refusing_the_target() {
    let Some(proxy) = Tinyproxy::start(TinyproxyOptions {
        connect_ports: Some(vec![1]),
        ..TinyproxyOptions::default()
    }) else {
        return;
    };
    let (server, trust) = echo_server(false);
    let item = proxy_failure(&run(builder(&server, &trust).proxy(proxy.url())), 30);
    assert_eq!(item.err_code, 403, "{item:?}");
}

// ---- SOCKS5: Dante -----------------------------------------------------------

#[test]
fn ws_and_wss_through_dante_socks5_and_socks5h() {
    let Some(proxy) = Dante::start(DanteOptions::default()) else {
        return;
    };
    let port = proxy.port();
    for tls in [false, true] {
        let (server, trust) = echo_server(tls);
        for scheme in ["socks5", "socks5h"] {
            let url = format!("{scheme}://127.0.0.1:{port}");
            assert_echoed(&run(builder(&server, &trust).proxy(url)), tls);
        }
    }
    // socks5h: the proxy resolves the server's name.
    let (server, _) = echo_server(false);
    let url = format!("ws://localhost:{}/", server.local_addr().port());
    let seen = run(WebSocket::builder(&url).proxy(format!("socks5h://127.0.0.1:{port}")));
    assert_echoed(&seen, false);
}

fn dante_with_auth() -> Option<Dante> {
    Dante::start(DanteOptions {
        username_auth: true,
        ..DanteOptions::default()
    })
}

#[test]
fn wss_through_dante_with_credentials() {
    let Some(proxy) = dante_with_auth() else {
        return;
    };
    let (server, trust) = echo_server(true);
    let url = proxy.url_with_credentials().expect("credentials");
    assert_echoed(&run(builder(&server, &trust).proxy(url)), true);
}

#[test]
fn dante_without_or_with_wrong_credentials() {
    let Some(proxy) = dante_with_auth() else {
        return;
    };
    let (server, trust) = echo_server(false);
    let seen = run(builder(&server, &trust).proxy(proxy.url()));
    let item = proxy_failure(&seen, 30);
    assert!(
        item.message.contains("no acceptable authentication"),
        "{item:?}"
    );
    let wrong = format!("socks5://{SOCKS_USER}:not-the-password@{}", proxy.addr());
    let item = proxy_failure(&run(builder(&server, &trust).proxy(wrong)), 30);
    assert!(item.message.contains("authentication failed"), "{item:?}");
}

#[test]
fn dante_refusing_the_target() {
    let (server, trust) = echo_server(false);
    let Some(proxy) = Dante::start(DanteOptions {
        deny_port: Some(server.local_addr().port()),
        ..DanteOptions::default()
    }) else {
        return;
    };
    let item = proxy_failure(&run(builder(&server, &trust).proxy(proxy.url())), 30);
    assert_eq!(item.err_code, 2, "not allowed by the ruleset: {item:?}");
}

#[test]
#[allow(unsafe_code)] // std::env::set_var, see below
fn the_environment_is_read_only_when_asked() {
    let Some(proxy) = Tinyproxy::start(TinyproxyOptions::default()) else {
        return;
    };
    let (server, trust) = echo_server(false);
    let tunnels = || proxy.log().matches("Established connection").count();
    // SAFETY: edition 2024 makes changing the environment unsafe because
    // another thread may read it at the same time. No other test of this
    // binary reads the environment (only `proxy_from_env` does), and the
    // harness's child processes get theirs at spawn.
    unsafe {
        std::env::set_var("all_proxy", proxy.url());
        std::env::remove_var("no_proxy");
        std::env::remove_var("NO_PROXY");
    }
    let before = tunnels();
    assert_echoed(&run(builder(&server, &trust)), false);
    assert_eq!(tunnels(), before, "a builder read the environment unasked");
    assert_echoed(&run(builder(&server, &trust).proxy_from_env()), false);
    assert_eq!(
        tunnels(),
        before + 1,
        "proxy_from_env did not use all_proxy"
    );
    unsafe { std::env::remove_var("all_proxy") };
}
