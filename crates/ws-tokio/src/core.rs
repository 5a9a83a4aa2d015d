//! [`Core`]: one `ws_proto::Connection` over one transport, with its timer.
//! Every poll function of the public types ends here; nothing in this
//! file awaits, so a lock around a `Core` is never held across an await.
//!
//! The driving loop is ws-proto's: after every input (a read, the end of
//! the transport, a timer), take the events, then write what the
//! connection queued (pongs and close answers go out even when the
//! application never sends), then wait for the next read or the
//! deadline of `poll_timeout`. Reads go straight into the connection's
//! buffer (`receive_buffer` / `commit_received`): a received byte is
//! copied once, by the transport.
//!
//! Cancel safety comes from where the state lives: a message leaves the
//! connection only in the poll that returns it, so a `recv` future
//! dropped while pending has taken nothing.

use std::collections::VecDeque;
use std::future::Future as _;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;
use ws_proto::{CloseCode, Closed, Connection, Event, Message, Open, State};

use crate::error::Error;
use crate::wake::{Source, Wakers};

/// A payload a send borrows from its caller.
pub(crate) enum Outgoing<'a> {
    Text(&'a str),
    Binary(&'a [u8]),
}

/// How long the last bytes of a closed connection may take to be written
/// when the configuration sets no drain timeout.
const DEFAULT_LINGER: Duration = Duration::from_secs(1);

pub(crate) struct Core<S> {
    /// Commands and sends go to it directly; inputs only through
    /// [`input`](Self::input).
    pub(crate) conn: Connection,
    pub(crate) io: S,
    /// The one timer, reset to the connection's `poll_timeout` (or to the
    /// linger deadline once closed). Boxed because `Sleep` is `!Unpin`.
    timer: Pin<Box<Sleep>>,
    /// The deadline the timer is set to.
    armed: Option<Instant>,
    /// The opening handshake's outcome, once open.
    pub(crate) open: Option<Open>,
    /// How the connection ended, once it has.
    pub(crate) closed: Option<Closed>,
    /// The failure reported by the connection, until a caller takes it.
    error: Option<Error>,
    /// A transport error, told to ws-proto with `transport_failed`:
    /// reported in the place of its `Error::Transport`, if it reports one.
    io_error: Option<io::Error>,
    /// The transport's read side ended (or failed).
    read_done: bool,
    /// Reads that found nothing since the last one that brought data.
    idle_polls: u8,
    /// The connection gave every event it had (`poll_event` returned
    /// `None`) and has had no input since. Only an input makes events
    /// (a read, the end of the transport, a timer, a transport failure,
    /// a close), so polling it again before one finds nothing: in request
    /// and answer traffic every `recv` is polled twice per message (pending,
    /// then woken by the read), and the second decode attempt was a fixed
    /// cost per message. Cleared by [`input`](Self::input).
    decoded_all: bool,
    /// A write failed: nothing more is written.
    write_broken: bool,
    /// Bytes were written since the transport was last flushed (TLS keeps
    /// records until then).
    unflushed: bool,
    /// After `Closed`: the last bytes were written (or given up on) and
    /// the transport shut down.
    finished: bool,
    /// After `Closed`: when to stop trying to write the last bytes.
    linger: Option<Instant>,
    /// Messages that arrived while `close` drove the connection, kept for
    /// `recv` (bounded by `stash_limit` bytes; later ones are dropped).
    stash: VecDeque<Message>,
    stash_bytes: usize,
    /// Above this many queued bytes, a sender waits for the transport
    /// (`poll_ready`).
    pub(crate) high_water: usize,
    /// The connection's number in diagnostics (see `trace`).
    id: u64,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Core<S> {
    /// Must run inside a tokio runtime with time enabled (the timer).
    pub(crate) fn new(conn: Connection, io: S, high_water: usize) -> Self {
        Self {
            conn,
            io,
            timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
            armed: None,
            open: None,
            closed: None,
            error: None,
            io_error: None,
            read_done: false,
            idle_polls: 0,
            decoded_all: false,
            write_broken: false,
            unflushed: false,
            finished: false,
            linger: None,
            stash: VecDeque::new(),
            stash_bytes: 0,
            high_water,
            id: crate::trace::next_id(),
        }
    }

    // ---- the opening handshake ------------------------------------------

    /// Drives the opening handshake until the connection is open, or has
    /// failed (the error, after the rejection was written).
    pub(crate) fn poll_handshake(&mut self, w: &Wakers<'_>) -> Poll<Result<(), Error>> {
        loop {
            // Stop at `Open`: messages that came with the handshake stay in
            // the connection for the first `recv`.
            if self.open.is_none() && self.closed.is_none() {
                if let Some(event) = self.conn.poll_event() {
                    self.on_event(event, w);
                    continue;
                }
            }
            if self.closed.is_some() {
                ready!(self.poll_finish(w));
                return Poll::Ready(Err(self.error.take().unwrap_or(Error::ConnectionClosed)));
            }
            match self.poll_write_out(w) {
                Poll::Ready(Err(e)) if self.open.is_some() => return Poll::Ready(Err(e)),
                // Connecting: the connection learned of it, and its events
                // say how it ended.
                Poll::Ready(Err(_)) => {}
                Poll::Ready(Ok(())) if self.open.is_some() => return Poll::Ready(Ok(())),
                _ => {}
            }
            if self.open.is_none() {
                ready!(self.poll_input(w));
            } else {
                // Open, with the request or answer not all written yet.
                return Poll::Pending;
            }
        }
    }

    // ---- receiving -------------------------------------------------------

    /// The next message; `None` after a clean close; the failure once,
    /// then `None`, after a failed one.
    pub(crate) fn poll_recv(&mut self, w: &Wakers<'_>) -> Poll<Option<Result<Message, Error>>> {
        loop {
            if !self.stash.is_empty() {
                return Poll::Ready(Some(Ok(self.unstash())));
            }
            if let Some(message) = self.poll_message(w) {
                // Answers queued while decoding (pongs) leave now, not at
                // the next send.
                let _ = self.poll_write_out(w);
                return Poll::Ready(Some(Ok(message)));
            }
            if self.closed.is_some() {
                return self.poll_recv_closed(w);
            }
            let _ = self.poll_write_out(w);
            ready!(self.poll_input(w));
        }
    }

    /// The oldest message kept while closing. Out of line, as the rest of
    /// what `poll_recv` rarely does: its common path stays short.
    #[cold]
    fn unstash(&mut self) -> Message {
        let message = self.stash.pop_front().expect("checked by the caller");
        self.stash_bytes -= message.len();
        message
    }

    /// `poll_recv` once the connection is closed.
    #[cold]
    fn poll_recv_closed(&mut self, w: &Wakers<'_>) -> Poll<Option<Result<Message, Error>>> {
        ready!(self.poll_finish(w));
        Poll::Ready(self.error.take().map(Err))
    }

    /// Takes events until a message; the others update the state.
    fn poll_message(&mut self, w: &Wakers<'_>) -> Option<Message> {
        if self.decoded_all {
            return None;
        }
        while let Some(event) = self.conn.poll_event() {
            if let Event::Message(message) = event {
                return Some(message);
            }
            self.on_event(event, w);
        }
        self.decoded_all = true;
        None
    }

    /// Gives the connection an input: the one way to it, since only an
    /// input can make events (see `decoded_all`).
    fn input<T>(&mut self, give: impl FnOnce(&mut Connection) -> T) -> T {
        self.decoded_all = false;
        give(&mut self.conn)
    }

    fn on_event(&mut self, event: Event, w: &Wakers<'_>) {
        crate::trace::event(self.id, &event);
        match event {
            Event::Open(open) => self.open = Some(open),
            // Pongs to pings are ws-proto's (auto_pong); nothing to surface.
            Event::Ping(_) | Event::Pong(_) | Event::Message(_) => {}
            Event::Error(e) => {
                self.error = Some(match self.io_error.take() {
                    Some(io) if e == ws_proto::Error::Transport => Error::Io(io),
                    _ => e.into(),
                });
            }
            Event::Closed(closed) => {
                self.closed = Some(closed);
                // The other half may wait for something that will not come.
                w.wake_all();
            }
            // An event of a later ws-proto: nothing to surface.
            _ => {}
        }
    }

    /// One input: an expired timer, or a read (data or the end). Pending
    /// when there is neither, with the wakers registered.
    fn poll_input(&mut self, w: &Wakers<'_>) -> Poll<()> {
        if let Some(at) = self.conn.poll_timeout() {
            if self.poll_timer(at, w).is_ready() {
                self.input(|conn| conn.handle_timeout(Instant::now()));
                return Poll::Ready(());
            }
        }
        if self.read_done {
            return Poll::Pending;
        }
        let mut cx = Context::from_waker(w.get(Source::Read));
        let room = self.conn.receive_buffer();
        let result = if room.is_empty() {
            // ws-proto always lends room while it wants input; should it
            // lend none, read through a small buffer rather than stall.
            let mut scratch = [0u8; 512];
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut self.io).poll_read(&mut cx, &mut buf) {
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => {
                    self.input(|conn| conn.receive(Instant::now(), buf.filled()));
                    return Poll::Ready(());
                }
                other => other.map_ok(|()| 0),
            }
        } else {
            let mut buf = ReadBuf::new(room);
            match Pin::new(&mut self.io).poll_read(&mut cx, &mut buf) {
                Poll::Ready(Ok(())) => Poll::Ready(Ok(buf.filled().len())),
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            }
        };
        match result {
            Poll::Ready(Ok(0)) => {
                self.read_done = true;
                self.input(Connection::receive_eof);
            }
            Poll::Ready(Ok(n)) => {
                self.idle_polls = 0;
                // The clock is read only if the connection needs the time.
                self.input(|conn| conn.commit_received_with(n, Instant::now));
            }
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            Poll::Ready(Err(e)) => {
                // A reset is the end of the transport; ws-proto decides
                // whether it is an error to report.
                self.io_error.get_or_insert(e);
                self.read_done = true;
                self.input(Connection::transport_failed);
            }
            Poll::Pending => {
                // A connection that found nothing to read twice in a row
                // (woken by its timer or a write, not by input) is quiet:
                // ws-proto may then give back its read buffer. Not after
                // the first: in a request-response exchange every read
                // comes after one empty poll, and returning the buffer
                // there would cost an allocation per message.
                if self.idle_polls > 0 {
                    self.conn.receive_drained();
                }
                self.idle_polls = self.idle_polls.saturating_add(1);
                return Poll::Pending;
            }
        }
        Poll::Ready(())
    }

    /// Whether the clock has reached `at`; registers the timer waker when
    /// it has not.
    ///
    /// A deadline that moved later (keepalive, pushed back by every input)
    /// keeps the timer armed at the earlier one: it fires early, finds
    /// nothing due, and is re-armed then, once, instead of at every
    /// message (`Sleep::reset` costs a timer-wheel update).
    fn poll_timer(&mut self, at: Instant, w: &Wakers<'_>) -> Poll<()> {
        let now = Instant::now();
        if at <= now {
            return Poll::Ready(());
        }
        let keep = self.armed.is_some_and(|armed| armed <= at && armed > now);
        if !keep {
            self.timer
                .as_mut()
                .reset(tokio::time::Instant::from_std(at));
            self.armed = Some(at);
        }
        let mut cx = Context::from_waker(w.get(Source::Timer));
        self.timer.as_mut().poll(&mut cx)
    }

    // ---- sending ---------------------------------------------------------

    /// Writes everything the connection has queued, then flushes the
    /// transport. Pending while the transport does not take it all.
    #[inline]
    pub(crate) fn poll_write_out(&mut self, w: &Wakers<'_>) -> Poll<Result<(), Error>> {
        // Nothing queued (what every `recv` finds, and every send that
        // wrote its message through): at most a flush.
        if self.conn.buffered_amount() == 0 && !self.write_broken {
            return self.poll_flush_written(w);
        }
        self.poll_write_queued(w)
    }

    /// [`poll_write_out`](Self::poll_write_out) with something to do.
    fn poll_write_queued(&mut self, w: &Wakers<'_>) -> Poll<Result<(), Error>> {
        if self.write_broken {
            return Poll::Ready(Err(Error::ConnectionClosed));
        }
        loop {
            let waiting = self.conn.buffered_amount();
            if waiting == 0 {
                break;
            }
            let mut cx = Context::from_waker(w.get(Source::Write));
            let io = Pin::new(&mut self.io);
            // One run (a few frames in one block, the common case) goes
            // out with a plain write; only pieces need the vector.
            let result = match self.conn.poll_transmit() {
                Some(run) if run.len() == waiting || !io.is_write_vectored() => {
                    io.poll_write(&mut cx, run)
                }
                _ => {
                    let mut slices = [IoSlice::new(&[]); 32];
                    let n = self.conn.poll_transmit_vectored(&mut slices);
                    io.poll_write_vectored(&mut cx, &slices[..n])
                }
            };
            match ready!(result) {
                Ok(0) => {
                    return Poll::Ready(Err(self.write_failed(io::ErrorKind::WriteZero.into())));
                }
                Ok(n) => {
                    self.conn.advance_transmit(n);
                    self.unflushed = true;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Poll::Ready(Err(self.write_failed(e))),
            }
        }
        self.poll_flush_written(w)
    }

    /// Flushes the transport if bytes were written since it last was.
    #[inline]
    fn poll_flush_written(&mut self, w: &Wakers<'_>) -> Poll<Result<(), Error>> {
        if self.unflushed {
            let mut cx = Context::from_waker(w.get(Source::Write));
            if let Err(e) = ready!(Pin::new(&mut self.io).poll_flush(&mut cx)) {
                return Poll::Ready(Err(self.write_failed(e)));
            }
            self.unflushed = false;
        }
        Poll::Ready(Ok(()))
    }

    /// A write failed: the transport is gone for the connection too.
    fn write_failed(&mut self, e: io::Error) -> Error {
        self.write_broken = true;
        let reported = io::Error::new(e.kind(), e.to_string());
        self.io_error.get_or_insert(e);
        self.input(Connection::transport_failed);
        Error::Io(reported)
    }

    /// Ready when a message may be queued: the connection is open and no
    /// more than `high_water` bytes wait (else this writes them first).
    pub(crate) fn poll_ready(&mut self, w: &Wakers<'_>) -> Poll<Result<(), Error>> {
        self.check_open()?;
        if self.conn.buffered_amount() > self.high_water {
            ready!(self.poll_write_out(w))?;
        }
        Poll::Ready(Ok(()))
    }

    /// Waits for room ([`poll_ready`](Self::poll_ready)), sends with
    /// `send` (once: it is taken), then writes and flushes everything
    /// queued ([`poll_write_out`](Self::poll_write_out)): the one send step
    /// of every `send*` of the stream and of its write half. In one poll,
    /// so a small message written through in `send` costs no second poll
    /// (nor, for a write half, a second lock) to be flushed.
    pub(crate) fn poll_send<F>(
        &mut self,
        w: &Wakers<'_>,
        send: &mut Option<F>,
    ) -> Poll<Result<(), Error>>
    where
        F: FnOnce(&mut Self, &Wakers<'_>) -> Result<(), Error>,
    {
        if send.is_some() {
            ready!(self.poll_ready(w))?;
            let send = send.take().expect("checked above");
            send(self, w)?;
        }
        self.poll_write_out(w)
    }

    /// Sends a message: a small one as [`send_lent`](Self::send_lent)
    /// does (written in this call), a large one queued without a copy.
    /// Call once `poll_ready` is ready.
    pub(crate) fn send(&mut self, w: &Wakers<'_>, message: Message) -> Result<(), Error> {
        // Below this, ws-proto copies a payload given to it anyway: lent,
        // it can go out in this call.
        if message.len() >= Connection::OWNED_PAYLOAD_MIN {
            return self.queue(message);
        }
        match &message {
            Message::Text(text) => self.send_lent(w, Outgoing::Text(text.as_str())),
            Message::Binary(data) => self.send_lent(w, Outgoing::Binary(data)),
        }
    }

    /// Sends a message the caller lends and, when nothing waits before
    /// it, writes it in the same call (`Connection::send_binary_through`:
    /// a small frame, assembled on the stack, goes out in one write with
    /// none of the queue's bookkeeping). What the transport does not take
    /// stays queued for the flush that follows, which also reports a
    /// transport that wrote nothing. Call once `poll_ready` is ready.
    pub(crate) fn send_lent(&mut self, w: &Wakers<'_>, payload: Outgoing<'_>) -> Result<(), Error> {
        self.check_open()?;
        if self.conn.buffered_amount() != 0 {
            let queued = match payload {
                Outgoing::Text(text) => self.conn.send_text(text),
                Outgoing::Binary(data) => self.conn.send_binary(data),
            };
            return queued.map_err(Error::from);
        }
        let mut cx = Context::from_waker(w.get(Source::Write));
        let (mut wrote, mut failure) = (false, None);
        let io = &mut self.io;
        let mut write = |slices: &[IoSlice<'_>]| {
            let io = Pin::new(&mut *io);
            let polled = match slices {
                [one] => io.poll_write(&mut cx, one),
                _ => io.poll_write_vectored(&mut cx, slices),
            };
            match polled {
                Poll::Ready(Ok(n)) => {
                    wrote = n > 0;
                    n
                }
                Poll::Ready(Err(e)) if e.kind() != io::ErrorKind::Interrupted => {
                    failure = Some(e);
                    0
                }
                // Pending (the waker is registered) or interrupted: it
                // waits in the queue for the flush.
                _ => 0,
            }
        };
        let sent = match payload {
            Outgoing::Text(text) => self.conn.send_text_through(text, &mut write),
            Outgoing::Binary(data) => self.conn.send_binary_through(data, &mut write),
        };
        if wrote {
            self.unflushed = true;
        }
        if let Some(e) = failure {
            return Err(self.write_failed(e));
        }
        sent.map_err(Error::from)
    }

    /// Queues a message, without copying a payload it can take over.
    pub(crate) fn queue(&mut self, message: Message) -> Result<(), Error> {
        self.check_open()?;
        match message {
            Message::Text(text) => self.conn.send_text_bytes(text)?,
            Message::Binary(data) => self.conn.send_binary_bytes(data)?,
        }
        Ok(())
    }

    /// `Err` once nothing more can be sent.
    pub(crate) fn check_open(&self) -> Result<(), Error> {
        if self.write_broken || self.conn.state() != State::Open {
            return Err(Error::ConnectionClosed);
        }
        Ok(())
    }

    // ---- closing ---------------------------------------------------------

    /// Starts the closing handshake (nothing if it has started).
    pub(crate) fn start_close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.input(|conn| conn.close(Instant::now(), code, reason))?;
        Ok(())
    }

    /// Drives the connection until it is closed and the transport shut
    /// down. Messages that still arrive are kept for `recv`, up to the
    /// connection's message limit in all; later ones are dropped.
    pub(crate) fn poll_closed(&mut self, w: &Wakers<'_>) -> Poll<Result<(), Error>> {
        loop {
            while let Some(message) = self.poll_message(w) {
                let limit = self.conn.config().max_message_size;
                if self.stash_bytes + message.len() <= limit {
                    self.stash_bytes += message.len();
                    self.stash.push_back(message);
                }
            }
            if self.closed.is_some() {
                ready!(self.poll_finish(w));
                return Poll::Ready(self.error.take().map_or(Ok(()), Err));
            }
            let _ = self.poll_write_out(w);
            ready!(self.poll_input(w));
        }
    }

    /// After `Closed`: writes what is left (until the drain timeout at
    /// most: a peer that does not read cannot hold the connection), then
    /// shuts the transport down (TLS close_notify, then FIN).
    fn poll_finish(&mut self, w: &Wakers<'_>) -> Poll<()> {
        if self.finished {
            return Poll::Ready(());
        }
        let linger = *self.linger.get_or_insert_with(|| {
            let drain = self.conn.config().drain_timeout.unwrap_or(DEFAULT_LINGER);
            Instant::now() + drain
        });
        if !self.write_broken {
            // Written or failed: either way, nothing more to wait for.
            let done = self.poll_write_out(w).is_ready();
            let shut = done && {
                let mut cx = Context::from_waker(w.get(Source::Write));
                Pin::new(&mut self.io).poll_shutdown(&mut cx).is_ready()
            };
            if !shut {
                ready!(self.poll_timer(linger, w));
            }
        }
        self.finished = true;
        Poll::Ready(())
    }
}
