//! The WebSocket wire by hand, for the fixed peers every client meets alike:
//! the opening handshake (client and server halves, reading the head byte
//! by byte so that nothing after it is consumed), frame encoding, the TLS
//! configurations of the `wss` runs, and three blocking server threads: an
//! echo that parses and answers frames itself, the market-data source of
//! the `stream` part and the byte-counting sink of the `send` part.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use ws_mio::rustls::pki_types::pem::PemObject as _;
use ws_mio::rustls::pki_types::{CertificateDer, ServerName};
use ws_mio::rustls::{self, ClientConfig, RootCertStore, ServerConfig};

use crate::{IO_TIMEOUT, KIB};

/// The request key every hand-made client sends (RFC 6455's example).
pub(crate) const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// A self-signed certificate for `localhost` and `127.0.0.1`, made once with
/// rcgen's `generate_simple_self_signed` (as ws-mio's TLS tests make theirs),
/// valid until 4096.
const CERT_PEM: &[u8] = include_bytes!("cert.pem");
const KEY_PEM: &[u8] = include_bytes!("key.pem");

// ---- TLS -----------------------------------------------------------------------

/// The server side of every `wss` run (ring provider).
pub(crate) fn server_tls() -> Arc<ServerConfig> {
    ws_mio::server_config_from_pem(CERT_PEM, KEY_PEM).expect("server TLS configuration")
}

/// One client configuration for every `wss` client, trusting only the
/// bench's certificate (ring provider), so all negotiate the same suite.
pub(crate) fn client_tls() -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(CERT_PEM) {
        roots
            .add(cert.expect("certificate PEM"))
            .expect("trust root");
    }
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
    Arc::new(config)
}

/// The name the `wss` clients verify (the certificate has it as an IP SAN).
pub(crate) fn server_name() -> ServerName<'static> {
    ServerName::try_from("127.0.0.1").expect("server name")
}

/// A blocking TLS client stream over `tcp`.
pub(crate) fn tls_client(
    tcp: TcpStream,
    config: &Arc<ClientConfig>,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let conn =
        rustls::ClientConnection::new(config.clone(), server_name()).expect("TLS client session");
    rustls::StreamOwned::new(conn, tcp)
}

// ---- the opening handshake -------------------------------------------------------

/// Reads an HTTP head one byte at a time, so that whatever follows it stays
/// in the stream.
pub(crate) fn read_head(stream: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 8 * KIB {
            return Err(io::Error::other("HTTP head too long"));
        }
        stream.read_exact(&mut byte)?;
        head.push(byte[0]);
    }
    Ok(head)
}

/// The value of header `name` in an HTTP head.
fn header<'a>(head: &'a [u8], name: &str) -> Option<&'a str> {
    std::str::from_utf8(head).ok()?.lines().find_map(|line| {
        let (n, value) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then_some(value.trim())
    })
}

/// The client's upgrade request.
pub(crate) fn request(host: &str) -> String {
    format!(
        "GET / HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
}

/// Checks the server's answer to [`request`].
pub(crate) fn check_answer(head: &[u8]) -> io::Result<()> {
    let accepted = head.starts_with(b"HTTP/1.1 101")
        && header(head, "sec-websocket-accept")
            == Some(ws_proto::handshake::accept_key(KEY.as_bytes()).as_str());
    if accepted {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "handshake refused: {}",
            String::from_utf8_lossy(head)
        )))
    }
}

/// The server's 101 answer to a request head.
pub(crate) fn answer(request: &[u8]) -> io::Result<String> {
    let key = header(request, "sec-websocket-key")
        .ok_or_else(|| io::Error::other("no Sec-WebSocket-Key"))?;
    Ok(format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        ws_proto::handshake::accept_key(key.as_bytes())
    ))
}

/// The server's half of the handshake on a blocking stream.
pub(crate) fn server_handshake(stream: &mut (impl Read + Write)) -> io::Result<()> {
    let head = read_head(stream)?;
    stream.write_all(answer(&head)?.as_bytes())?;
    stream.flush()
}

// ---- frames ----------------------------------------------------------------------

pub(crate) const OP_BINARY: u8 = 0x2;
pub(crate) const OP_CLOSE: u8 = 0x8;
pub(crate) const OP_PING: u8 = 0x9;
pub(crate) const OP_PONG: u8 = 0xA;

/// Appends one final frame; masked with `mask` when given (client frames).
pub(crate) fn push_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) {
    out.push(0x80 | opcode);
    let bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(bit | n as u8),
        n if n < 65536 => {
            out.push(bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        None => out.extend_from_slice(payload),
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
    }
}

/// The length on the wire of a frame with `payload` bytes.
pub(crate) fn frame_len(payload: usize, masked: bool) -> usize {
    let length = match payload {
        n if n < 126 => 0,
        n if n < 65536 => 2,
        _ => 8,
    };
    2 + length + if masked { 4 } else { 0 } + payload
}

/// A frame found by [`parse`]: (first byte, payload range, mask, frame
/// length).
type Parsed = (u8, std::ops::Range<usize>, Option<[u8; 4]>, usize);

/// One complete frame at the start of `buf`, or `None` if more bytes are
/// needed.
fn parse(buf: &[u8]) -> Option<Parsed> {
    let (&b0, &b1) = (buf.first()?, buf.get(1)?);
    let (len, mut at) = match b1 & 0x7F {
        126 => (
            u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?) as usize,
            4,
        ),
        127 => (
            u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?) as usize,
            10,
        ),
        n => (n as usize, 2),
    };
    let mask = if b1 & 0x80 != 0 {
        let key: [u8; 4] = buf.get(at..at + 4)?.try_into().ok()?;
        at += 4;
        Some(key)
    } else {
        None
    };
    (buf.len() >= at + len).then_some((b0, at..at + len, mask, at + len))
}

// ---- the fixed echo ----------------------------------------------------------------

/// The fixed echo of the application-thread latency part: the handshake by
/// hand, then every frame unmasked and sent back, the answers to one read
/// in one write. (No fragmentation: the clients here send none.)
pub(crate) fn ws_echo(mut stream: TcpStream) {
    if server_handshake(&mut stream).is_err() {
        return;
    }
    let mut buf = vec![0u8; 256 * KIB];
    let mut filled = 0;
    let mut out = Vec::with_capacity(256 * KIB);
    loop {
        let mut start = 0;
        let mut closing = false;
        while let Some((b0, payload, mask, len)) = parse(&buf[start..filled]) {
            let frame = &mut buf[start..start + len];
            if let Some(key) = mask {
                for (i, b) in frame[payload.clone()].iter_mut().enumerate() {
                    *b ^= key[i % 4];
                }
            }
            let opcode = match b0 & 0x0F {
                OP_PING => OP_PONG,
                OP_PONG => 0xFF,
                op => op,
            };
            if opcode != 0xFF {
                push_frame(&mut out, opcode, &frame[payload], None);
            }
            closing |= opcode == OP_CLOSE;
            start += len;
        }
        if !out.is_empty() {
            if stream.write_all(&out).is_err() {
                return;
            }
            out.clear();
        }
        if closing {
            return;
        }
        buf.copy_within(start..filled, 0);
        filled -= start;
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        match stream.read(&mut buf[filled..]) {
            Ok(0) | Err(_) => return,
            Ok(n) => filled += n,
        }
    }
}

// ---- the stream source -------------------------------------------------------------

/// How the `stream` source speaks to its client.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// The opening handshake, then frames.
    WebSocket,
    /// The frames' bytes with no handshake: for the raw reader.
    Bytes,
}

/// The fixed server of the `stream` part: accepts one connection (over
/// TLS when `tls` is given), then writes `total` unmasked binary frames of
/// `size` bytes, pre-encoded, in writes of about 256 KiB, then a close
/// frame, and waits (bounded) for the client to go.
pub(crate) fn stream_source(
    tls: Option<Arc<ServerConfig>>,
    source: Source,
    size: usize,
    total: u64,
) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().unwrap();
    let thread = thread::spawn(move || {
        let (tcp, _) = listener.accept().expect("accept");
        tcp.set_nodelay(true).unwrap();
        tcp.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        tcp.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        match tls {
            Some(config) => {
                let conn = rustls::ServerConnection::new(config).expect("TLS server session");
                serve_stream(rustls::StreamOwned::new(conn, tcp), source, size, total);
            }
            None => serve_stream(tcp, source, size, total),
        }
    });
    (addr, thread)
}

fn serve_stream(mut stream: impl Read + Write, source: Source, size: usize, total: u64) {
    if source == Source::WebSocket && server_handshake(&mut stream).is_err() {
        return;
    }
    let payload = vec![0xA5u8; size];
    let per_chunk = (256 * KIB / frame_len(size, false)).max(1) as u64;
    let mut chunk = Vec::new();
    for _ in 0..per_chunk {
        push_frame(&mut chunk, OP_BINARY, &payload, None);
    }
    let frame = frame_len(size, false);
    let mut sent = 0;
    while sent < total {
        let n = per_chunk.min(total - sent);
        if stream.write_all(&chunk[..n as usize * frame]).is_err() {
            return;
        }
        sent += n;
    }
    if source == Source::WebSocket {
        let mut close = Vec::new();
        push_frame(&mut close, OP_CLOSE, &1000u16.to_be_bytes(), None);
        let _ = stream.write_all(&close);
    }
    let _ = stream.flush();
    // Until the client goes (or the read timeout).
    let mut buf = [0u8; 4096];
    while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
}

// ---- the send sink -----------------------------------------------------------------

/// The fixed server of the `send` part: answers the handshake by hand (when
/// asked to), then reads in 1 MiB reads, publishing the bytes it has seen,
/// and reports the instant it has seen `target` bytes; then it ends (the
/// client's close, if any, goes unanswered).
pub(crate) struct Sink {
    pub(crate) addr: SocketAddr,
    /// Bytes read after the handshake.
    pub(crate) bytes: Arc<AtomicU64>,
    /// `read` calls made after the handshake.
    pub(crate) reads: Arc<AtomicU64>,
    done: mpsc::Receiver<Instant>,
    thread: JoinHandle<()>,
}

impl Sink {
    pub(crate) fn start(handshake: bool, target: u64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().unwrap();
        let bytes = Arc::new(AtomicU64::new(0));
        let seen = bytes.clone();
        let reads = Arc::new(AtomicU64::new(0));
        let calls = reads.clone();
        let (tx, done) = mpsc::channel();
        let thread = thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("accept");
            stream.set_nodelay(true).unwrap();
            stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
            if handshake && server_handshake(&mut stream).is_err() {
                return;
            }
            let mut buf = vec![0u8; 1024 * KIB];
            let mut total = 0u64;
            loop {
                let read = stream.read(&mut buf);
                calls.fetch_add(1, Ordering::AcqRel);
                match read {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        total += n as u64;
                        seen.store(total, Ordering::Release);
                        if total >= target {
                            let _ = tx.send(Instant::now());
                            return;
                        }
                    }
                }
            }
        });
        Self {
            addr,
            bytes,
            reads,
            done,
            thread,
        }
    }

    /// Waits (bounded) until the sink has seen `bytes` bytes.
    pub(crate) fn wait_for(&self, bytes: u64) {
        let deadline = Instant::now() + IO_TIMEOUT;
        while self.bytes.load(Ordering::Acquire) < bytes {
            assert!(Instant::now() < deadline, "the sink saw no more bytes");
            thread::sleep(Duration::from_micros(200));
        }
    }

    /// The instant the sink saw its target.
    pub(crate) fn done(&self) -> Instant {
        self.done
            .recv_timeout(crate::DEADLINE)
            .expect("the sink never saw every byte")
    }

    /// Waits for the sink thread, once the client has gone.
    pub(crate) fn finish(self) {
        self.thread.join().expect("sink thread");
    }
}
