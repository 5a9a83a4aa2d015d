//! [`ReadHalf`] and [`WriteHalf`]: one connection used from two tasks.
//!
//! Both halves share the connection and its transport in an
//! `Arc<Mutex<..>>`. The mutex is a std one, taken only inside a poll
//! function and never held across an await, so a half never blocks the
//! other for longer than one poll's work. Each source the connection
//! waits on (reads, writes, the timer) wakes every half that polled it
//! (see `wake.rs`): the reader also writes (the pongs it owes), and the
//! writer also reads (while it closes).

use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncWrite};
use ws_proto::{CloseCode, Closed, Message};

use crate::core::{Core, Outgoing};
use crate::error::Error;
use crate::stream::WebSocketStream;
use crate::wake::{Fanouts, Half, Wakers};

struct Shared<S> {
    core: Mutex<Core<S>>,
    fanouts: Fanouts,
}

impl<S> Shared<S> {
    fn lock(&self) -> MutexGuard<'_, Core<S>> {
        // A panic inside a poll leaves the state machine consistent
        // between calls: take the lock anyway.
        self.core.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn poll<T>(
        &self,
        half: Half,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut Core<S>, &Wakers<'_>) -> Poll<T>,
    ) -> Poll<T> {
        let wakers = Wakers::Split {
            fanouts: &self.fanouts,
            half,
            waker: cx.waker(),
        };
        f(&mut self.lock(), &wakers)
    }
}

pub(crate) fn split<S>(core: Core<S>) -> (ReadHalf<S>, WriteHalf<S>) {
    let shared = Arc::new(Shared {
        core: Mutex::new(core),
        fanouts: Fanouts::new(),
    });
    (
        ReadHalf {
            shared: shared.clone(),
        },
        WriteHalf {
            shared,
            closing: false,
        },
    )
}

/// The receiving half of a split [`WebSocketStream`]: [`recv`](Self::recv)
/// or a [`Stream`](futures_core::Stream) of messages, cancel safe as the
/// whole stream's.
///
/// It also writes what the connection owes the peer (pongs, the answer to
/// a close frame) and runs the connection's timers, so keep polling it
/// (a task that loops on `recv`) for as long as the connection lives,
/// even when the messages do not matter.
///
/// The two halves share the connection behind an `Arc<Mutex<..>>` (a std
/// mutex, held only for one poll's work, never across an await); either
/// may be moved to its own task, on any runtime flavour.
pub struct ReadHalf<S> {
    shared: Arc<Shared<S>>,
}

/// The sending half of a split [`WebSocketStream`]: [`send`](Self::send)
/// and [`close`](Self::close), or a [`Sink<Message>`](futures_sink::Sink).
/// See [`ReadHalf`].
pub struct WriteHalf<S> {
    shared: Arc<Shared<S>>,
    /// `Sink::poll_close` has started the closing handshake.
    closing: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> ReadHalf<S> {
    /// The next message; see [`WebSocketStream::recv`]. Cancel safe.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.shared.poll(Half::Read, cx, Core::poll_recv)).await
    }

    /// How the connection ended, once it has.
    pub fn closed(&self) -> Option<Closed> {
        self.shared.lock().closed.clone()
    }

    /// Puts the two halves of one stream back together; gives them back
    /// if they are not from the same stream.
    #[allow(clippy::result_large_err, reason = "the halves go back as they came")]
    pub fn reunite(
        self,
        other: WriteHalf<S>,
    ) -> Result<WebSocketStream<S>, (ReadHalf<S>, WriteHalf<S>)> {
        if !Arc::ptr_eq(&self.shared, &other.shared) {
            return Err((self, other));
        }
        drop(other);
        let shared =
            Arc::try_unwrap(self.shared).unwrap_or_else(|_| unreachable!("both halves were given"));
        let core = shared
            .core
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(WebSocketStream::from_core(core))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WriteHalf<S> {
    fn poll<T>(
        &self,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut Core<S>, &Wakers<'_>) -> Poll<T>,
    ) -> Poll<T> {
        self.shared.poll(Half::Write, cx, f)
    }

    /// Sends a message and waits until it is written; see
    /// [`WebSocketStream::send`].
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        self.send_with(|core, w| core.send(w, message)).await
    }

    /// Sends a text message; see [`WebSocketStream::send_text`].
    pub async fn send_text(&mut self, text: &str) -> Result<(), Error> {
        self.send_with(|core, w| core.send_lent(w, Outgoing::Text(text)))
            .await
    }

    /// Sends a binary message; see [`WebSocketStream::send_binary`].
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
        poll_fn(|cx| self.poll(cx, |core, w| core.poll_send(w, &mut send))).await
    }

    /// Sends a ping; see [`WebSocketStream::send_ping`].
    pub async fn send_ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        {
            let mut core = self.shared.lock();
            core.check_open()?;
            core.conn.send_ping(payload)?;
        }
        self.flush().await
    }

    /// Waits until everything queued is written to the transport.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.poll(cx, Core::poll_write_out)).await
    }

    /// Closes the connection; see [`WebSocketStream::close`]. Messages
    /// that arrive meanwhile still reach the [`ReadHalf`].
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.shared.lock().start_close(code, reason)?;
        poll_fn(|cx| self.poll(cx, Core::poll_closed)).await
    }
}

impl<S> fmt::Debug for ReadHalf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadHalf").finish_non_exhaustive()
    }
}

impl<S> fmt::Debug for WriteHalf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteHalf").finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for ReadHalf<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.shared.poll(Half::Read, cx, Core::poll_recv)
    }
}

/// As [`WebSocketStream`]'s `Sink`.
impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WriteHalf<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll(cx, Core::poll_ready)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        self.shared.lock().queue(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll(cx, Core::poll_write_out)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if !this.closing {
            this.closing = true;
            this.shared.lock().start_close(CloseCode::NORMAL, "")?;
        }
        this.poll(cx, Core::poll_closed)
    }
}
