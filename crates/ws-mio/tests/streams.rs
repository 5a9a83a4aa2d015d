//! Transports other than a TCP connection the loop makes itself: Unix
//! domain sockets on both sides (`listen_unix`, `connect_unix`), with and
//! without TLS, and streams the caller made (`connect_stream`): a TCP
//! socket from the standard library, one end of a Unix socketpair.
//!
//! Every wait is bounded (see `common`).

#![cfg(unix)]

mod common;

use std::io::{self, Read as _, Write as _};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use common::{LoopThread, Seen, client_loop, echo_server, expect};
use ws_mio::{ClientOptions, Conn, Error, Event, EventLoop, ServerOptions};
use ws_proto::{ClientRequest, CloseCode, Message};
use ws_test_support::frames::{self, FIN, op};
use ws_test_support::handshake;

/// A socket path in the temporary directory, removed when dropped.
struct SocketPath(PathBuf);

impl SocketPath {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "ws-mio-streams-{}-{}.sock",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_file(&path);
        Self(path)
    }
}

impl Drop for SocketPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// An echo server on a Unix socket at `path`, on its own loop thread.
fn unix_echo_server(path: &SocketPath, options: ServerOptions) -> LoopThread {
    let mut event_loop = EventLoop::new().expect("event loop");
    event_loop
        .listen_unix(&path.0, options, || {
            |conn: &Conn, event: Event| {
                let _ = match &event {
                    Event::Message(Message::Text(t)) => conn.send_text(t),
                    Event::Message(Message::Binary(b)) => conn.send_binary(b),
                    _ => Ok(()),
                };
            }
        })
        .expect("listen on a Unix socket");
    LoopThread::spawn(event_loop, "unix-echo-server")
}

/// Sends a text, a binary message and a close on `conn`; checks the echo
/// and the clean end on `rx`.
fn echo_and_close(conn: &Conn, rx: &mpsc::Receiver<Seen>) {
    conn.send_text("over the socket").expect("send text");
    expect(rx, Seen::Text("over the socket".into()));
    conn.send_binary(&[0, 1, 2, 255]).expect("send binary");
    expect(rx, Seen::Binary(vec![0, 1, 2, 255]));
    conn.close(CloseCode::NORMAL, "done").expect("close");
    expect(rx, Seen::closed(1000, "done", true));
}

/// A client connection over the Unix socket at `path`.
fn connect_unix(
    client: &LoopThread,
    path: &SocketPath,
    request: &ClientRequest,
    options: ClientOptions,
) -> (Conn, mpsc::Receiver<Seen>) {
    let (tx, rx) = mpsc::channel();
    let conn = client
        .handle
        .connect_unix(&path.0, request, options, move |_: &Conn, event: Event| {
            let _ = tx.send(Seen::from(event));
        })
        .expect("connect_unix starts");
    (conn, rx)
}

#[test]
fn websocket_over_a_unix_socket() {
    let path = SocketPath::new();
    let server = unix_echo_server(&path, ServerOptions::default());
    let client = client_loop();
    let request = ClientRequest::new("localhost", 80, "/feed");
    let (conn, rx) = connect_unix(&client, &path, &request, ClientOptions::default());
    expect(&rx, Seen::Open);
    echo_and_close(&conn, &rx);
    client.stop("client loop");
    server.stop("server loop");
}

// A provider feature (implies `tls`), for the configurations.
#[cfg(any(feature = "ring", feature = "aws-lc-rs"))]
#[test]
fn tls_over_a_unix_socket() {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["gateway.local".to_owned()]).expect("certificate");
    let tls = ws_mio::server_config_from_pem(
        cert.pem().as_bytes(),
        signing_key.serialize_pem().as_bytes(),
    )
    .expect("server TLS configuration");
    let path = SocketPath::new();
    let server = unix_echo_server(&path, ServerOptions::default().tls(Some(tls)));
    let client = client_loop();
    // The request's host is the name TLS verifies: the socket has none.
    let request = ClientRequest::new("gateway.local", 443, "/").secure(true);
    let options = ClientOptions::default().tls(
        ws_mio::TlsOptions::default()
            .roots(ws_mio::Roots::Empty)
            .extra_ca_der(vec![cert.der().to_vec()]),
    );
    let (conn, rx) = connect_unix(&client, &path, &request, options);
    expect(&rx, Seen::Open);
    echo_and_close(&conn, &rx);
    client.stop("client loop");
    server.stop("server loop");
}

#[test]
fn a_missing_socket_fails_at_once() {
    let path = SocketPath::new(); // never bound
    let client = client_loop();
    let request = ClientRequest::new("localhost", 80, "/");
    let result = client.handle.connect_unix(
        &path.0,
        &request,
        ClientOptions::default(),
        |_: &Conn, _| {},
    );
    match result {
        Err(Error::ConnectPath { path: p, error }) => {
            assert_eq!(p, path.0);
            assert_eq!(error.kind(), io::ErrorKind::NotFound, "{error}");
        }
        Err(other) => panic!("expected ConnectPath, got {other}"),
        Ok(_) => panic!("connected to a socket that does not exist"),
    }
    client.stop("client loop");
}

/// A client connection over `stream`, a socket made here.
fn connect_stream(
    client: &LoopThread,
    stream: ws_mio::Stream,
    request: &ClientRequest,
) -> (Conn, mpsc::Receiver<Seen>) {
    let (tx, rx) = mpsc::channel();
    let conn = client
        .handle
        .connect_stream(
            stream,
            request,
            ClientOptions::default(),
            move |_: &Conn, e| {
                let _ = tx.send(Seen::from(e));
            },
        )
        .expect("connect_stream starts");
    (conn, rx)
}

#[test]
fn a_tcp_stream_the_caller_connected() {
    let (server, server_loop, _) = echo_server(ServerOptions::default(), false);
    let std_stream = std::net::TcpStream::connect(server).expect("connect by hand");
    let stream = ws_mio::Stream::from_std_tcp(std_stream).expect("non-blocking");
    let client = client_loop();
    let request = ClientRequest::new(server.ip().to_string(), server.port(), "/");
    let (conn, rx) = connect_stream(&client, stream, &request);
    expect(&rx, Seen::Open);
    echo_and_close(&conn, &rx);
    client.stop("client loop");
    server_loop.stop("server loop");
}

/// Plays the server on a raw Unix stream: answers the handshake, then
/// echoes one masked text frame back unmasked, then closes with 1000.
fn raw_unix_server(mut stream: StdUnixStream) -> io::Result<()> {
    handshake::accept(&mut stream)?;
    let text = frames::read_frame(&mut stream)?;
    let mut out = frames::server_frame(op::TEXT, &text.payload);
    frames::push(&mut out, FIN | op::CLOSE, &1000u16.to_be_bytes(), None);
    stream.write_all(&out)?;
    // Take the client's answer to the close before closing (a masked close
    // frame with the code: 2 + 4 + 2 bytes): closed first, the socket could
    // fail that answer with EPIPE, a transport error instead of the clean
    // close the test expects.
    let mut answer = [0u8; 8];
    stream.read_exact(&mut answer)?;
    Ok(())
}

#[test]
fn one_end_of_a_socketpair() {
    let (ours, theirs) = StdUnixStream::pair().expect("socketpair");
    let server = std::thread::spawn(move || {
        theirs
            .set_read_timeout(Some(common::DEADLINE))
            .expect("timeout");
        raw_unix_server(theirs)
    });
    let client = client_loop();
    let request = ClientRequest::new("pair.local", 80, "/");
    let stream = ws_mio::Stream::from_std_unix(ours).expect("non-blocking");
    let (conn, rx) = connect_stream(&client, stream, &request);
    expect(&rx, Seen::Open);
    conn.send_text("paired").expect("send");
    expect(&rx, Seen::Text("paired".into()));
    expect(&rx, Seen::closed(1000, "", true));
    server
        .join()
        .expect("server thread")
        .expect("the raw server");
    client.stop("client loop");
}
