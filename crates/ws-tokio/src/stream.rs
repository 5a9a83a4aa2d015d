//! [`WebSocketStream`]: an open connection over one transport.

use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncWrite};
use ws_proto::{CloseCode, Closed, Connection, Message, Open, State};

use crate::core::{Core, Outgoing};
use crate::error::Error;
use crate::split::{ReadHalf, WriteHalf};
use crate::wake::Wakers;

/// An open WebSocket connection over the transport `S`.
///
/// Receive with [`recv`](Self::recv) or as a
/// [`Stream`](futures_core::Stream) of `Result<Message, Error>`; send with
/// [`send`](Self::send) (and [`send_text`](Self::send_text),
/// [`send_binary`](Self::send_binary)) or as a
/// [`Sink<Message>`](futures_sink::Sink); end with [`close`](Self::close).
/// To receive and send from two tasks, [`split`](Self::split) it.
///
/// Pongs to the peer's pings and the answer to its close frame are sent
/// by the connection itself, whenever it is polled (receiving is enough).
/// The stream ends (`None`) after a clean closing handshake; a failed
/// connection yields its [`Error`] once, then `None`.
/// [`closed`](Self::closed) tells how it ended.
///
/// # Cancel safety
/// [`recv`](Self::recv) is cancel safe: a message leaves the connection
/// only when `recv` returns it, so dropping a pending `recv` (a losing
/// branch of `tokio::select!`, a timeout) loses nothing. A dropped
/// [`send`](Self::send) has either queued the whole message (it is
/// written by the next call that writes) or nothing.
pub struct WebSocketStream<S> {
    core: Core<S>,
    /// `Sink::poll_close` has started the closing handshake.
    closing: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocketStream<S> {
    /// Runs the opening handshake of `core`'s connection over its transport.
    pub(crate) async fn handshake(mut core: Core<S>) -> Result<Self, Error> {
        poll_fn(|cx| core.poll_handshake(&Wakers::Direct(cx.waker()))).await?;
        Ok(Self::from_core(core))
    }

    pub(crate) fn from_core(core: Core<S>) -> Self {
        Self {
            core,
            closing: false,
        }
    }

    fn poll_with<T>(
        &mut self,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut Core<S>, &Wakers<'_>) -> Poll<T>,
    ) -> Poll<T> {
        f(&mut self.core, &Wakers::Direct(cx.waker()))
    }

    /// The next message: `None` once the connection is closed cleanly; the
    /// error once, then `None`, when it failed. Cancel safe.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.poll_with(cx, Core::poll_recv)).await
    }

    /// Sends a message and waits until it is written to the transport.
    ///
    /// Waits (back-pressure) while the peer does not read; fails with
    /// [`Error::Send`] (`WriteBufferFull`) when the message does not fit
    /// the write buffer's limit, and [`Error::ConnectionClosed`] once the
    /// connection is closing. A `Text` or `Binary` payload is taken over
    /// without a copy where ws-proto can (see
    /// [`Connection::send_binary_bytes`]).
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        self.send_with(|core, w| core.send(w, message)).await
    }

    /// Sends a text message (copied once, into the connection's buffer);
    /// see [`send`](Self::send).
    pub async fn send_text(&mut self, text: &str) -> Result<(), Error> {
        self.send_with(|core, w| core.send_lent(w, Outgoing::Text(text)))
            .await
    }

    /// Sends a binary message (copied once, into the connection's
    /// buffer); see [`send`](Self::send).
    pub async fn send_binary(&mut self, data: &[u8]) -> Result<(), Error> {
        self.send_with(|core, w| core.send_lent(w, Outgoing::Binary(data)))
            .await
    }

    /// Waits for room, sends with `send`, then waits until it is written
    /// (`Core::poll_send`).
    async fn send_with(
        &mut self,
        send: impl FnOnce(&mut Core<S>, &Wakers<'_>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut send = Some(send);
        poll_fn(|cx| self.poll_with(cx, |core, w| core.poll_send(w, &mut send))).await
    }

    /// Sends a ping with up to 125 bytes of payload. Its pong is not
    /// surfaced; [`Connection::rtt`] measures keepalive round trips.
    pub async fn send_ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.core.check_open()?;
        self.core.conn.send_ping(payload)?;
        self.flush().await
    }

    /// Waits until everything queued is written to the transport.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.poll_with(cx, Core::poll_write_out)).await
    }

    /// Closes the connection: sends a close frame with `code` and `reason`
    /// (at most 123 bytes), waits for the peer's (at most
    /// [`Config::close_timeout`](ws_proto::Config::close_timeout)), then
    /// shuts the transport down. `Ok` after a clean closing handshake.
    ///
    /// Messages that arrive meanwhile are kept for [`recv`](Self::recv),
    /// up to [`Config::max_message_size`](ws_proto::Config::max_message_size)
    /// bytes in all; any more are dropped. Closing a closed connection
    /// returns at once.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.core.start_close(code, reason)?;
        poll_fn(|cx| self.poll_with(cx, Core::poll_closed)).await
    }

    /// Splits the stream into a receiving and a sending half, each usable
    /// from its own task; see [`ReadHalf`].
    pub fn split(self) -> (ReadHalf<S>, WriteHalf<S>) {
        crate::split::split(self.core)
    }
}

impl<S> WebSocketStream<S> {
    /// The outcome of the opening handshake: the subprotocol, the resource
    /// and the peer's headers.
    pub fn handshake_info(&self) -> &Open {
        self.core
            .open
            .as_ref()
            .expect("a WebSocketStream is made once open")
    }

    /// The subprotocol both sides agreed on, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.core.conn.subprotocol()
    }

    /// How the connection ended (code, reason, clean or not), once it has.
    pub fn closed(&self) -> Option<&Closed> {
        self.core.closed.as_ref()
    }

    /// Where the connection is in its life.
    pub fn state(&self) -> State {
        self.core.conn.state()
    }

    /// The state machine under the stream, for its getters
    /// ([`buffered_amount`](Connection::buffered_amount),
    /// [`deflate`](Connection::deflate), [`rtt`](Connection::rtt), ...).
    pub fn connection(&self) -> &Connection {
        &self.core.conn
    }

    /// The transport.
    pub fn get_ref(&self) -> &S {
        &self.core.io
    }
}

impl<S> fmt::Debug for WebSocketStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketStream")
            .field("connection", &self.core.conn)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for WebSocketStream<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_with(cx, Core::poll_recv)
    }
}

/// Messages sent through the `Sink` wait in the connection's buffer until
/// `poll_flush` (or a `poll_ready` over [`Builder::write_buffer_high_water`](crate::Builder::write_buffer_high_water)
/// bytes); `poll_close` is [`close`](WebSocketStream::close) with 1000.
impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WebSocketStream<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_with(cx, Core::poll_ready)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        self.get_mut().core.queue(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_with(cx, Core::poll_write_out)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if !this.closing {
            this.closing = true;
            this.core.start_close(CloseCode::NORMAL, "")?;
        }
        this.poll_with(cx, Core::poll_closed)
    }
}
