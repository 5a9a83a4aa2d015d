//! fastwebsockets 0.10, driven the way its users drive it: on a tokio
//! current-thread runtime (one per thread), over tokio's `TcpStream` with
//! nodelay (or tokio-rustls), the opening handshake done by hand (the
//! crate's `upgrade` feature is off), then `WebSocket::after_handshake`.
//!
//! Every run is one `block_on` under a `tokio::time::timeout` of
//! [`DEADLINE`], so nothing can hang.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use fastwebsockets::{Frame, OpCode, Payload, Role, WebSocket};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_rustls::client::TlsStream;
use ws_mio::rustls::ClientConfig;

use crate::window::{Window, join2};
use crate::wire;
use crate::{Clock, DEADLINE, KIB, LATENCY_PAYLOAD};

/// A current-thread runtime with every driver the features give (I/O and
/// time).
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Runs `f` to completion on a new current-thread runtime, within
/// [`DEADLINE`].
pub(crate) fn block_on<F: Future>(f: F) -> F::Output {
    runtime()
        .block_on(async { tokio::time::timeout(DEADLINE, f).await })
        .expect("fastwebsockets: deadline passed")
}

async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 8 * KIB {
            return Err(io::Error::other("HTTP head too long"));
        }
        stream.read_exact(&mut byte).await?;
        head.push(byte[0]);
    }
    Ok(head)
}

/// The client's half of the opening handshake.
pub(crate) async fn client_handshake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
) -> io::Result<()> {
    stream
        .write_all(wire::request("127.0.0.1").as_bytes())
        .await?;
    stream.flush().await?;
    wire::check_answer(&read_head(stream).await?)
}

/// The server's half of the opening handshake.
async fn server_handshake<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) -> io::Result<()> {
    let head = read_head(stream).await?;
    stream.write_all(wire::answer(&head)?.as_bytes()).await?;
    stream.flush().await
}

async fn tcp(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).unwrap();
    stream
}

/// A client over TCP, past the handshake.
pub(crate) async fn connect(addr: SocketAddr) -> WebSocket<TcpStream> {
    let mut stream = tcp(addr).await;
    client_handshake(&mut stream)
        .await
        .expect("fastwebsockets handshake");
    WebSocket::after_handshake(stream, Role::Client)
}

/// A client over tokio-rustls, past the handshake.
pub(crate) async fn connect_tls(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
) -> WebSocket<TlsStream<TcpStream>> {
    let stream = tcp(addr).await;
    let mut stream = tokio_rustls::TlsConnector::from(config)
        .connect(wire::server_name(), stream)
        .await
        .expect("TLS handshake");
    client_handshake(&mut stream)
        .await
        .expect("fastwebsockets handshake");
    WebSocket::after_handshake(stream, Role::Client)
}

/// Sends `message` as one binary frame: copied into `scratch` first, since
/// the client masks the payload in place.
pub(crate) async fn send<S: AsyncRead + AsyncWrite + Unpin>(
    ws: &mut WebSocket<S>,
    scratch: &mut [u8],
    message: &[u8],
) {
    let scratch = &mut scratch[..message.len()];
    scratch.copy_from_slice(message);
    ws.write_frame(Frame::binary(Payload::BorrowedMut(scratch)))
        .await
        .expect("fastwebsockets write");
}

/// The closing handshake, then the end of the stream (bounded by the
/// caller's deadline).
pub(crate) async fn close<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocket<S>) {
    if ws.write_frame(Frame::close(1000, b"")).await.is_err() {
        return;
    }
    while let Ok(frame) = ws.read_frame().await {
        if frame.opcode == OpCode::Close {
            break;
        }
    }
}

/// The fastwebsockets echo server for one connection (a `Server::blocking`
/// body): its own runtime, the handshake by hand, then every data frame
/// written back as read.
pub(crate) fn echo(stream: std::net::TcpStream) {
    stream.set_nonblocking(true).unwrap();
    block_on(async move {
        let mut stream = TcpStream::from_std(stream).expect("tokio stream");
        if server_handshake(&mut stream).await.is_err() {
            return;
        }
        let mut ws = WebSocket::after_handshake(stream, Role::Server);
        while let Ok(frame) = ws.read_frame().await {
            match frame.opcode {
                OpCode::Binary | OpCode::Text => {
                    // A new frame: the one read keeps its (applied) mask.
                    let echo = Frame::new(frame.fin, frame.opcode, None, frame.payload);
                    if ws.write_frame(echo).await.is_err() {
                        return;
                    }
                }
                // Answered by auto-close: this connection is over.
                OpCode::Close => return,
                _ => {}
            }
        }
    });
}

/// The latency ping-pong: write a frame, read the echo, on one task.
pub(crate) fn latency(addr: SocketAddr, warm: usize, n: usize) -> Vec<Duration> {
    block_on(async move {
        let mut ws = connect(addr).await;
        let message = [0xA5u8; LATENCY_PAYLOAD];
        let mut scratch = [0u8; LATENCY_PAYLOAD];
        let mut samples = Vec::with_capacity(n);
        for i in 0..warm + n {
            let t0 = Instant::now();
            send(&mut ws, &mut scratch, &message).await;
            loop {
                let frame = ws.read_frame().await.expect("fastwebsockets read");
                if frame.opcode == OpCode::Binary {
                    assert_eq!(frame.payload.len(), LATENCY_PAYLOAD);
                    break;
                }
            }
            let rtt = t0.elapsed();
            if i >= warm {
                samples.push(rtt);
            }
        }
        close(&mut ws).await;
        samples
    })
}

// ---- two halves of one socket --------------------------------------------------

/// The read half of a split socket, as the stream of a `WebSocket` that
/// only reads (a write, which only a ping or close would cause, fails).
struct ReadOnly(OwnedReadHalf);

/// The write half of a split socket, as the stream of a `WebSocket` that
/// only writes.
struct WriteOnly(OwnedWriteHalf);

fn one_way() -> io::Error {
    io::Error::other("this half of the socket goes the other way")
}

impl AsyncRead for ReadOnly {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for ReadOnly {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, _: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Err(one_way()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for WriteOnly {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Poll::Ready(Err(one_way()))
    }
}

impl AsyncWrite for WriteOnly {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

/// The windowed echo: a writing and a reading `WebSocket` over the two
/// halves of one socket (the crate's own split is behind a feature that is
/// off), polled together on one task; `write_frame` per message.
pub(crate) fn throughput(
    addr: SocketAddr,
    size: usize,
    window: u64,
    warm: u64,
    messages: u64,
) -> Duration {
    block_on(async move {
        let mut stream = tcp(addr).await;
        client_handshake(&mut stream)
            .await
            .expect("fastwebsockets handshake");
        let (read, write) = stream.into_split();
        let mut reader = WebSocket::after_handshake(ReadOnly(read), Role::Client);
        let mut writer = WebSocket::after_handshake(WriteOnly(write), Role::Client);
        let total = warm + messages;
        let window = Window::new(window);
        let counter = &window;
        let writing = async {
            let message = vec![0xA5u8; size];
            let mut scratch = vec![0u8; size];
            for sent in 0..total {
                window.wait_for_room().await;
                send(&mut writer, &mut scratch, &message).await;
                window.sent(sent + 1);
            }
        };
        let reading = async {
            let mut clock = Clock::new(warm, messages);
            let mut received = 0;
            loop {
                let frame = reader.read_frame().await.expect("fastwebsockets read");
                if frame.opcode == OpCode::Binary {
                    assert_eq!(frame.payload.len(), size);
                    received += 1;
                    counter.received(received);
                    if let Some(elapsed) = clock.tick(received) {
                        return elapsed;
                    }
                }
            }
        };
        let ((), elapsed) = join2(writing, reading).await;
        // Close, then wait for the server's end of the stream.
        let _ = writer.write_frame(Frame::close(1000, b"")).await;
        let mut read = reader.into_inner().0;
        let mut buf = vec![0u8; 64 * KIB];
        while matches!(read.read(&mut buf).await, Ok(n) if n > 0) {}
        elapsed
    })
}
