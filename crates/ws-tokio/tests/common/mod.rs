//! What the loopback tests share: a time bound on everything, an echo
//! server on 127.0.0.1, a hand-driven ws-proto server for raw frames, and
//! `Stream`/`Sink` calls without the futures crates.

#![allow(dead_code, unreachable_pub, reason = "each test file uses a part")]

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures_core::Stream;
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpListener;
use ws_proto::{Connection, Event, ServerConfig};

/// Every test step is bounded: a hang fails instead of stalling the suite.
pub const LIMIT: Duration = Duration::from_secs(20);

pub async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(LIMIT, f).await.expect("timed out")
}

/// An echo server on 127.0.0.1 that serves any number of connections
/// (each on its own task) until its task is aborted; returns its URL.
pub async fn echo_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/echo", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            tokio::spawn(echo(tcp));
        }
    });
    url
}

/// Echoes every message of one connection until it ends.
pub async fn echo<S: AsyncRead + AsyncWrite + Unpin>(stream: S) {
    let Ok(mut ws) = ws_tokio::accept(stream).await else {
        return;
    };
    while let Some(Ok(message)) = ws.recv().await {
        if ws.send(message).await.is_err() {
            break;
        }
    }
}

/// A server driven by hand over `stream`: the handshake through ws-proto,
/// then the raw stream, for frames no well-behaved library would send.
pub async fn raw_server<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) {
    let mut conn = Connection::server(Instant::now(), Default::default(), ServerConfig::default());
    let mut buf = [0u8; 4096];
    loop {
        while let Some(event) = conn.poll_event() {
            if let Event::Open(_) = event {
                let answer = conn.poll_transmit().unwrap().to_vec();
                stream.write_all(&answer).await.unwrap();
                return;
            }
        }
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "the client left during the handshake");
        conn.receive(Instant::now(), &buf[..n]);
    }
}

pub async fn next<S: Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    poll_fn(|cx| Pin::new(&mut *stream).poll_next(cx)).await
}

pub async fn feed<T, S: Sink<T> + Unpin>(sink: &mut S, item: T) -> Result<(), S::Error> {
    poll_fn(|cx| Pin::new(&mut *sink).poll_ready(cx)).await?;
    Pin::new(&mut *sink).start_send(item)
}

pub async fn flush<T, S: Sink<T> + Unpin>(sink: &mut S) -> Result<(), S::Error> {
    poll_fn(|cx| Pin::new(&mut *sink).poll_flush(cx)).await
}

pub async fn close<T, S: Sink<T> + Unpin>(sink: &mut S) -> Result<(), S::Error> {
    poll_fn(|cx| Pin::new(&mut *sink).poll_close(cx)).await
}
