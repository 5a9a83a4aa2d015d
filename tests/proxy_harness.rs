//! Smoke tests of the real-proxy harness (`support/proxies.rs`): tunnels
//! through a real tinyproxy (HTTP CONNECT) and a real Dante (SOCKS5) on
//! loopback, driven with blocking `std::net::TcpStream`s and the
//! `ws_proto::proxy` codecs, and what each proxy answers when it refuses.
//!
//! Each test skips (with a loud `SKIPPED:` line) when its proxy is not
//! installed, unless `WS_REQUIRE_PROXIES=1`; `tests/support/setup-proxies.sh`
//! sets a machine up. `cargo test --test proxy_harness`.
//!
//! What the real proxies answer (tinyproxy 1.11.1, Dante 1.4.2, Debian
//! bookworm), asserted below:
//!
//! | case                            | tinyproxy                         | Dante                           |
//! |---------------------------------|-----------------------------------|---------------------------------|
//! | no credentials, auth required   | 407 Proxy Authentication Required | method 0xFF (none acceptable)   |
//! | wrong credentials               | 401 Unauthorized                  | auth status 0x01                |
//! | target refused by configuration | 403 Access violation              | reply 0x02 (not allowed)        |
//! | target port closed              | 500 Unable to connect             | reply 0x05 (connection refused) |

#[path = "support/proxies.rs"]
mod proxies;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use proxies::{
    Dante, DanteOptions, EchoTarget, SOCKS_PASSWORD, SOCKS_USER, TIMEOUT, Tinyproxy,
    TinyproxyOptions,
};
use ws_proto::proxy::{
    Credentials, HttpConnect, Progress, ProxyError, ProxyUrl, Socks5, Socks5Reply, Socks5Target,
    Tunnel,
};

/// What the echo targets send first: it may arrive in the same read as
/// the proxy's answer, as leftover bytes.
const BANNER: &[u8] = b"echo-target ready\r\n";

/// A connection to the proxy named by `url`, with the harness's timeouts.
fn connect_to(url: &ProxyUrl) -> TcpStream {
    let addr: SocketAddr = format!("{}:{}", url.host(), url.port())
        .parse()
        .expect("a loopback proxy address");
    proxies::connect(addr).expect("connect to the proxy")
}

/// Drives `tunnel` over `stream` until it is established (its leftover
/// bytes) or fails.
///
/// With `banner`, the read that carries the proxy's final answer waits
/// (bounded) until the target's banner is buffered behind it, so that
/// this read takes both: the leftover bytes are then exactly the banner,
/// every time.
fn establish(
    stream: &mut TcpStream,
    mut tunnel: Tunnel,
    banner: Option<&[u8]>,
) -> Result<Vec<u8>, ProxyError> {
    let deadline = Instant::now() + TIMEOUT;
    let mut buf = [0; 4096];
    // The first byte of each message written, one per round trip.
    let mut messages = Vec::new();
    loop {
        assert!(
            Instant::now() < deadline,
            "the tunnel took over {TIMEOUT:?}"
        );
        let mut first = true;
        while let Some(bytes) = tunnel.poll_transmit() {
            if first {
                messages.push(bytes[0]);
                first = false;
            }
            let n = retry(|| stream.write(bytes)).expect("write to the proxy");
            tunnel.advance_transmit(n);
        }
        if let Some(banner) = banner {
            if final_answer_next(&tunnel, &messages) {
                wait_until_buffered(stream, banner, deadline);
            }
        }
        let n = retry(|| stream.read(&mut buf)).expect("read from the proxy");
        if n == 0 {
            tunnel.receive_eof()?;
            unreachable!("receive_eof fails before the tunnel is established");
        }
        match tunnel.receive(&buf[..n])? {
            Progress::NeedMore => {}
            Progress::Established { leftover } => return Ok(leftover),
        }
    }
}

/// `io` again while it fails with `Interrupted`. A read of a socket with a
/// timeout (all of ours) is not restarted after a signal, nor after the
/// process was stopped and continued (signal(7)): it happened once in a
/// few hundred runs under load.
fn retry<T>(mut io: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match io() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            result => return result,
        }
    }
}

/// Whether the next answer is the last one: HTTP has one; SOCKS5 answers
/// the greeting, the login (a message starting 0x01) and then CONNECT (a
/// message after the greeting starting 0x05).
fn final_answer_next(tunnel: &Tunnel, messages: &[u8]) -> bool {
    match tunnel {
        Tunnel::Http(_) => true,
        Tunnel::Socks5(_) => messages.len() >= 2 && messages.last() == Some(&5),
    }
}

/// Waits until the bytes buffered on `stream` contain `wanted`, or until
/// `deadline`.
fn wait_until_buffered(stream: &TcpStream, wanted: &[u8], deadline: Instant) {
    let mut buf = [0; 4096];
    while Instant::now() < deadline {
        match stream.peek(&mut buf) {
            Ok(n) if n == 0 || buf[..n].windows(wanted.len()).any(|w| w == wanted) => return,
            Ok(_) => thread::sleep(Duration::from_millis(2)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// Checks an established tunnel end to end: `received`, what came after
/// the proxy's answer, is the target's banner; then an echo, and the
/// close.
fn check_echo(mut stream: TcpStream, received: Vec<u8>) {
    assert_eq!(received, BANNER, "the banner, whole, first");
    let message = b"through the tunnel and back\n";
    stream.write_all(message).expect("write to the target");
    let mut echoed = vec![0; message.len()];
    stream.read_exact(&mut echoed).expect("the echo");
    assert_eq!(echoed, message);
    // Our EOF reaches the target, which closes: its EOF comes back.
    stream
        .shutdown(std::net::Shutdown::Write)
        .expect("shut the tunnel down for writing");
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).expect("the target's close");
    assert_eq!(rest, b"");
}

/// A tunnel through tinyproxy to `target` with `credentials`.
fn http_tunnel(
    proxy: &Tinyproxy,
    target: SocketAddr,
    credentials: Option<&Credentials>,
    banner: Option<&[u8]>,
) -> Result<(TcpStream, Vec<u8>), ProxyError> {
    let url = ProxyUrl::parse(&proxy.url()).unwrap();
    let mut stream = connect_to(&url);
    let tunnel = HttpConnect::new(&target.ip().to_string(), target.port(), credentials)?;
    let leftover = establish(&mut stream, tunnel.into(), banner)?;
    Ok((stream, leftover))
}

/// A tunnel through Dante to `target` with `credentials`.
fn socks_tunnel(
    proxy: &Dante,
    target: Socks5Target,
    credentials: Option<&Credentials>,
    banner: Option<&[u8]>,
) -> Result<(TcpStream, Vec<u8>), ProxyError> {
    let url = ProxyUrl::parse(&proxy.url()).unwrap();
    let mut stream = connect_to(&url);
    let leftover = establish(
        &mut stream,
        Socks5::new(target, credentials)?.into(),
        banner,
    )?;
    Ok((stream, leftover))
}

/// The status and reason of tinyproxy's refusal (a panic for anything else).
fn http_status(result: Result<(TcpStream, Vec<u8>), ProxyError>) -> (u16, String) {
    match result {
        Err(ProxyError::HttpRefused { status, reason }) => (status, reason),
        Err(e) => panic!("expected a refusal, got {e:?}"),
        Ok(_) => panic!("expected a refusal, the tunnel opened"),
    }
}

/// Dante's refusal (a panic if the tunnel opened).
fn socks_error(result: Result<(TcpStream, Vec<u8>), ProxyError>) -> ProxyError {
    match result {
        Err(e) => e,
        Ok(_) => panic!("expected a refusal, the tunnel opened"),
    }
}

#[test]
fn tinyproxy_tunnel_echoes() {
    let Some(proxy) = Tinyproxy::start(TinyproxyOptions::default()) else {
        return;
    };
    assert!(proxy.url_with_credentials().is_none());
    let target = EchoTarget::start_with_banner(BANNER);
    let (stream, leftover) = http_tunnel(&proxy, target.addr(), None, Some(BANNER)).unwrap();
    check_echo(stream, leftover);
    // Without waiting for the banner: whatever comes with the answer.
    let (mut stream, leftover) = http_tunnel(&proxy, target.addr(), None, None).unwrap();
    let mut received = leftover;
    while received.len() < BANNER.len() {
        let mut buf = [0; 64];
        let n = retry(|| stream.read(&mut buf)).expect("the banner");
        assert_ne!(n, 0, "the banner is complete");
        received.extend_from_slice(&buf[..n]);
    }
    check_echo(stream, received);
    assert_eq!(target.accepted(), 2);
}

#[test]
fn tinyproxy_basic_auth() {
    let options = TinyproxyOptions {
        basic_auth: Some(("wsuser".into(), "ws-pass.1".into())),
        ..TinyproxyOptions::default()
    };
    let Some(proxy) = Tinyproxy::start(options) else {
        return;
    };
    let target = EchoTarget::start_with_banner(BANNER);

    let url = ProxyUrl::parse(&proxy.url_with_credentials().unwrap()).unwrap();
    let credentials = url.credentials().expect("credentials in the URL");
    assert_eq!(
        (credentials.username(), credentials.password()),
        ("wsuser", "ws-pass.1")
    );
    let (stream, leftover) =
        http_tunnel(&proxy, target.addr(), Some(credentials), Some(BANNER)).unwrap();
    check_echo(stream, leftover);

    // No Proxy-Authorization header: 407.
    let (status, reason) = http_status(http_tunnel(&proxy, target.addr(), None, None));
    assert_eq!(
        (status, reason.as_str()),
        (407, "Proxy Authentication Required")
    );
    // Wrong credentials: tinyproxy 1.11.1 answers 401 (with
    // WWW-Authenticate, as an origin server would), not 407.
    let wrong = Credentials::new("wsuser", "wrong");
    let (status, reason) = http_status(http_tunnel(&proxy, target.addr(), Some(&wrong), None));
    assert_eq!((status, reason.as_str()), (401, "Unauthorized"));
    assert_eq!(
        target.accepted(),
        1,
        "only the right credentials got through"
    );
}

#[test]
fn tinyproxy_refuses_target_port() {
    let options = TinyproxyOptions {
        connect_ports: Some(vec![1]),
        ..TinyproxyOptions::default()
    };
    let Some(proxy) = Tinyproxy::start(options) else {
        return;
    };
    let target = EchoTarget::start();
    let (status, reason) = http_status(http_tunnel(&proxy, target.addr(), None, None));
    assert_eq!((status, reason.as_str()), (403, "Access violation"));
    assert_eq!(target.accepted(), 0);
}

#[test]
fn tinyproxy_closed_target() {
    let Some(proxy) = Tinyproxy::start(TinyproxyOptions::default()) else {
        return;
    };
    let closed = SocketAddr::from(([127, 0, 0, 1], proxies::closed_port()));
    let (status, reason) = http_status(http_tunnel(&proxy, closed, None, None));
    assert_eq!((status, reason.as_str()), (500, "Unable to connect"));
}

#[test]
fn dante_tunnel_echoes() {
    let Some(proxy) = Dante::start(DanteOptions::default()) else {
        return;
    };
    assert!(proxy.url_with_credentials().is_none());
    let target = EchoTarget::start_with_banner(BANNER);
    // By address (socks5://).
    let by_addr = Socks5Target::Addr(target.addr());
    let (stream, leftover) = socks_tunnel(&proxy, by_addr, None, Some(BANNER)).unwrap();
    check_echo(stream, leftover);
    // By name, resolved by Dante (socks5h://).
    let by_name = Socks5Target::domain("localhost", target.addr().port());
    let (stream, leftover) = socks_tunnel(&proxy, by_name, None, Some(BANNER)).unwrap();
    check_echo(stream, leftover);
    assert_eq!(target.accepted(), 2);
}

#[test]
fn dante_username_auth() {
    let options = DanteOptions {
        username_auth: true,
        ..DanteOptions::default()
    };
    let Some(proxy) = Dante::start(options) else {
        return;
    };
    let target = EchoTarget::start_with_banner(BANNER);
    let url = ProxyUrl::parse(&proxy.url_with_credentials().unwrap()).unwrap();
    let credentials = url.credentials().expect("credentials in the URL");
    assert_eq!(
        (credentials.username(), credentials.password()),
        (SOCKS_USER, SOCKS_PASSWORD)
    );
    let to_target = || Socks5Target::Addr(target.addr());

    let (stream, leftover) =
        socks_tunnel(&proxy, to_target(), Some(credentials), Some(BANNER)).unwrap();
    check_echo(stream, leftover);

    let wrong = Credentials::new(SOCKS_USER, "wrong");
    let error = socks_error(socks_tunnel(&proxy, to_target(), Some(&wrong), None));
    assert_eq!(error, ProxyError::Socks5AuthFailed { status: 0x01 });

    let error = socks_error(socks_tunnel(&proxy, to_target(), None, None));
    assert_eq!(error, ProxyError::Socks5NoAcceptableMethod);
    assert_eq!(
        target.accepted(),
        1,
        "only the right credentials got through"
    );
}

#[test]
fn dante_refuses_target_port() {
    let target = EchoTarget::start();
    let options = DanteOptions {
        deny_port: Some(target.addr().port()),
        ..DanteOptions::default()
    };
    let Some(proxy) = Dante::start(options) else {
        return;
    };
    let error = socks_error(socks_tunnel(
        &proxy,
        Socks5Target::Addr(target.addr()),
        None,
        None,
    ));
    assert_eq!(error, ProxyError::Socks5Refused(Socks5Reply::NOT_ALLOWED));
    assert_eq!(target.accepted(), 0);
}

#[test]
fn dante_closed_target() {
    let Some(proxy) = Dante::start(DanteOptions::default()) else {
        return;
    };
    let closed = SocketAddr::from(([127, 0, 0, 1], proxies::closed_port()));
    let error = socks_error(socks_tunnel(&proxy, closed.into(), None, None));
    assert_eq!(
        error,
        ProxyError::Socks5Refused(Socks5Reply::CONNECTION_REFUSED)
    );
}

/// Once dropped, a proxy no longer accepts connections (within the bound:
/// Dante's workers exit a moment after their parent) and its directory is
/// gone.
#[test]
fn proxies_stop_on_drop() {
    fn stopped(addr: SocketAddr) -> bool {
        let until = Instant::now() + TIMEOUT;
        while Instant::now() < until {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => return true,
                _ => thread::sleep(Duration::from_millis(20)),
            }
        }
        false
    }
    if let Some(proxy) = Tinyproxy::start(TinyproxyOptions::default()) {
        let (addr, dir) = (proxy.addr(), proxy.dir().to_owned());
        assert!(dir.join("tinyproxy.conf").is_file());
        assert!(proxy.log().contains("Accepting connections"));
        drop(proxy);
        assert!(stopped(addr), "tinyproxy still accepts on {addr}");
        assert!(!dir.exists(), "{} is left", dir.display());
    }
    if let Some(proxy) = Dante::start(DanteOptions::default()) {
        let (addr, dir) = (proxy.addr(), proxy.dir().to_owned());
        assert!(dir.join("dante.conf").is_file());
        drop(proxy);
        assert!(stopped(addr), "dante still accepts on {addr}");
        assert!(!dir.exists(), "{} is left", dir.display());
    }
}
