//! [`Conn`]: a handle on one connection, usable from any thread.

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use bytes::Bytes;
use ws_proto::{CloseCode, SendError, State};

use crate::error::Error;
use crate::event_loop::LoopShared;
use crate::link::{Link, lock};
use crate::transport::Transport;

thread_local! {
    /// The loop running on this thread, if any (its `LoopShared` address).
    static CURRENT_LOOP: Cell<usize> = const { Cell::new(0) };
    /// The connection whose handler runs now on this thread, if any (its
    /// `Shared` address).
    static SERVICING: Cell<usize> = const { Cell::new(0) };
    /// The handler running on this thread closed or failed its own
    /// connection (see [`handler_ended`]).
    static ENDED_BY_HANDLER: Cell<bool> = const { Cell::new(false) };
}

/// Whether the handler running on this thread closed or failed its own
/// connection since the last call (which clears it): only then can the
/// state machine have stopped handing out messages the loop decoded
/// ahead. Sends do not count, so an echoing handler costs no check.
pub(crate) fn handler_ended() -> bool {
    ENDED_BY_HANDLER.with(|c| c.replace(false))
}

/// Runs `f` (a handler call) as the handler of `shared`: its sends need
/// not put the connection on the loop's list, since the loop writes the
/// connection it is serving once the handler returns.
pub(crate) fn serving<R>(shared: &Arc<Shared>, f: impl FnOnce() -> R) -> R {
    let previous = SERVICING.with(|c| c.replace(Arc::as_ptr(shared) as usize));
    let result = f();
    SERVICING.with(|c| c.set(previous));
    result
}

/// Marks this thread as running `shared`'s loop for the guard's lifetime.
pub(crate) struct OnLoopThread(usize);

impl OnLoopThread {
    pub(crate) fn enter(shared: &Arc<LoopShared>) -> Self {
        let previous = CURRENT_LOOP.with(|c| c.replace(Arc::as_ptr(shared) as usize));
        Self(previous)
    }
}

impl Drop for OnLoopThread {
    fn drop(&mut self) {
        CURRENT_LOOP.with(|c| c.set(self.0));
    }
}

/// Whether this thread runs `event_loop`.
fn on_loop_thread(event_loop: &Arc<LoopShared>) -> bool {
    CURRENT_LOOP.with(|c| c.get()) == Arc::as_ptr(event_loop) as usize
}

/// The part of a connection shared between the loop and every handle.
pub(crate) struct Shared {
    pub(crate) id: u64,
    pub(crate) link: Mutex<Link>,
    /// The loop's token for the connection, set when it is registered.
    pub(crate) token: AtomicUsize,
    /// On the loop's dirty list (connections with output to write or a
    /// new state to act on; see `LoopShared::push_dirty`).
    pub(crate) dirty: AtomicBool,
    /// The heap its state machine's buffers held when last measured, as
    /// counted in the loop's memory total (updated under `proto`'s lock).
    pub(crate) held: AtomicUsize,
    /// Weak: a connection must not keep its loop's shared part (waker,
    /// queues) alive once the loop is gone, nor form a cycle with it.
    pub(crate) event_loop: Weak<LoopShared>,
    /// A send was refused for a full write buffer: [`Event::Drain`] is
    /// owed once the buffer falls to its low-water mark.
    pub(crate) drain_wanted: AtomicBool,
}

impl Shared {
    /// Notes a refusal for a full buffer, so that the drain is signalled.
    fn note_refusal<T>(&self, result: Result<T, SendError>) -> Result<T, SendError> {
        if let Err(SendError::WriteBufferFull { .. }) = &result {
            self.drain_wanted.store(true, Ordering::Release);
        }
        result
    }
}

/// The low-water mark of [`Event::Drain`]: half the write buffer's limit.
pub(crate) fn drained(proto: &ws_proto::Connection) -> bool {
    proto.buffered_amount() <= proto.config().max_write_buffer / 2
}

/// A connection driven by an event loop. Cheap to clone; every method can
/// be called from any thread.
///
/// A send goes straight into the connection's state machine, so its result
/// (such as [`SendError::WriteBufferFull`]) is known at once and messages
/// keep the order they were sent in, across threads. From any thread but
/// the loop's, a send with nothing queued before it then writes the frame
/// to the socket at once, from the sender's thread (through TLS, if any):
/// one syscall, and the loop is not woken. Only when the socket will not
/// take it all does the loop write the rest, once the socket is writable.
/// From a handler, on the loop's own thread, nothing is written yet: the
/// loop writes when the handler returns, so a handler's sends coalesce
/// into one write with the loop's own.
#[derive(Clone)]
pub struct Conn {
    pub(crate) shared: Arc<Shared>,
}

impl Conn {
    /// A number that identifies the connection within the process.
    pub fn id(&self) -> u64 {
        self.shared.id
    }

    /// Where the connection is in its life.
    pub fn state(&self) -> State {
        lock(&self.shared.link).proto.state()
    }

    /// Bytes queued and not yet written to the socket (before TLS).
    pub fn buffered_amount(&self) -> usize {
        lock(&self.shared.link).proto.buffered_amount()
    }

    /// What TLS negotiated (version, cipher suite, ALPN, resumption), once
    /// its handshake is complete; `None` for a plain connection or before.
    pub fn tls_info(&self) -> Option<crate::TlsInfo> {
        match &lock(&self.shared.link).transport {
            Some(Transport::Tls(_, tls)) => tls.info(),
            _ => None,
        }
    }

    /// The negotiated subprotocol, once open.
    pub fn subprotocol(&self) -> Option<String> {
        lock(&self.shared.link)
            .proto
            .subprotocol()
            .map(str::to_owned)
    }

    /// Sends a text message.
    ///
    /// Every `send_*` fails with [`SendError::WriteBufferFull`] when the
    /// connection's write buffer is full, or when its loop has a memory
    /// budget ([`EventLoop::set_memory_budget`](crate::EventLoop::set_memory_budget))
    /// that the message would take it over.
    pub fn send_text(&self, text: &str) -> Result<(), SendError> {
        self.lent_message(Lent::Text(text))
    }

    /// Sends a binary message.
    pub fn send_binary(&self, data: &[u8]) -> Result<(), SendError> {
        self.lent_message(Lent::Binary(data))
    }

    /// Sends a binary message from a buffer the caller lets the connection
    /// scramble: a client masks it in place instead of copying it first,
    /// when the message can be written from the caller's thread at once
    /// (16 KiB or more, plain TCP, nothing waiting, one frame, not
    /// compressed). **Treat the buffer's contents as unspecified
    /// afterwards**: a client may leave it masked, or intact when the
    /// message went the ordinary way; a server never changes it. For large
    /// messages sent from an application thread: the copy saved is the
    /// size of the message. See `ws_proto::Connection::send_binary_in_place`.
    pub fn send_binary_in_place(&self, data: &mut [u8]) -> Result<(), SendError> {
        self.lent_message(Lent::InPlace(data))
    }

    /// Sends a text message without copying a large payload.
    pub fn send_text_owned(&self, text: String) -> Result<(), SendError> {
        if lent_is_cheaper(text.len()) {
            return self.lent_message(Lent::Text(&text));
        }
        self.message(text.len(), |c| c.send_text_owned(text))
    }

    /// Sends a binary message without copying a large payload.
    pub fn send_binary_owned(&self, data: Vec<u8>) -> Result<(), SendError> {
        if lent_is_cheaper(data.len()) {
            return self.lent_message(Lent::Binary(&data));
        }
        self.message(data.len(), |c| c.send_binary_owned(data))
    }

    /// Sends a binary message held in `Bytes`, without copying a large one
    /// where it can (see [`ws_proto::Connection::send_binary_bytes`]): a
    /// server echoing a received message this way copies nothing.
    pub fn send_bytes(&self, data: Bytes) -> Result<(), SendError> {
        if lent_is_cheaper(data.len()) {
            return self.lent_message(Lent::Binary(&data));
        }
        self.message(data.len(), |c| c.send_binary_bytes(data))
    }

    /// Sends a text message held in [`ws_proto::Utf8Bytes`] (a received
    /// one, for example), without copying a large one where it can.
    pub fn send_text_bytes(&self, text: ws_proto::Utf8Bytes) -> Result<(), SendError> {
        if lent_is_cheaper(text.len()) {
            return self.lent_message(Lent::Text(text.as_str()));
        }
        self.message(text.len(), |c| c.send_text_bytes(text))
    }

    /// Sends several messages together: `f` queues them through the
    /// [`Batch`] under one lock, and they are written as one, with one
    /// syscall (from a thread other than the loop's). For a burst sent
    /// from an application thread, where a send per message would cost a
    /// write each. Returns what `f` returns; each message's own result
    /// comes from its `Batch` call, and a refused message does not stop
    /// the others.
    ///
    /// ```no_run
    /// # fn demo(conn: &ws_mio::Conn) -> Result<(), ws_proto::SendError> {
    /// conn.send_batch(|batch| {
    ///     for tick in ["a", "b", "c"] {
    ///         batch.send_text(tick)?;
    ///     }
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn send_batch<R>(&self, f: impl FnOnce(&mut Batch<'_>) -> R) -> R {
        let event_loop = self.shared.event_loop.upgrade();
        let memory = event_loop.clone();
        self.run(event_loop, |proto| {
            f(&mut Batch {
                proto,
                shared: &self.shared,
                memory: memory.as_deref().map(|l| &l.memory),
                admitted: 0,
            })
        })
    }

    /// Sends a ping (at most 125 bytes of payload).
    pub fn send_ping(&self, payload: &[u8]) -> Result<(), SendError> {
        self.command(|c| c.send_ping(payload))
    }

    /// The round trip time of the last keepalive ping the peer answered
    /// (see `ws_proto::Connection::rtt`).
    pub fn rtt(&self) -> Option<std::time::Duration> {
        lock(&self.shared.link).proto.rtt()
    }

    /// Starts the closing handshake. A connection still connecting is
    /// abandoned; closing twice is harmless.
    pub fn close(&self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        self.ending(|c| c.close(Instant::now(), code, reason))
    }

    /// Fails the connection for a reason of the caller's own (RFC 6455
    /// section 7.1.7), such as a message the application cannot accept
    /// (1007 for JSON that does not parse): the close frame with `code`
    /// and `reason` goes out, nothing more is decoded or handed to the
    /// handler (not even messages the loop decoded ahead), and the
    /// connection ends once the frame is written (or at the drain
    /// timeout) without waiting for the peer's answer.
    ///
    /// The handler hears [`Event::Error`] with
    /// `Error::Protocol(ws_proto::Error::Failed(code))`, in which place the
    /// caller reports its own cause, unless another error came first; then
    /// [`Event::Closed`] with `code`. The code and reason are checked as
    /// for [`close`](Self::close); failing a closed connection does
    /// nothing.
    pub fn fail(&self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        self.ending(|c| c.fail(Instant::now(), code, reason))
    }

    /// A command that may end the connection: noted for the loop when its
    /// own handler gives it (see [`handler_ended`]).
    fn ending<T>(&self, f: impl FnOnce(&mut ws_proto::Connection) -> T) -> T {
        if SERVICING.with(|c| c.get()) == Arc::as_ptr(&self.shared) as usize {
            ENDED_BY_HANDLER.with(|c| c.set(true));
        }
        self.command(f)
    }

    /// Sends a message of `len` bytes, unless the loop's memory budget
    /// would not hold it.
    fn message(
        &self,
        len: usize,
        send: impl FnOnce(&mut ws_proto::Connection) -> Result<(), SendError>,
    ) -> Result<(), SendError> {
        self.admitted(len, |link, _| send(&mut link.proto))
    }

    /// Runs `send` (given the link and whether this is the loop's thread)
    /// as [`run_link`](Self::run_link) does, unless the loop's memory
    /// budget would not hold `len` more bytes; notes a refusal.
    fn admitted(
        &self,
        len: usize,
        send: impl FnOnce(&mut Link, bool) -> Result<(), SendError>,
    ) -> Result<(), SendError> {
        let event_loop = self.shared.event_loop.upgrade();
        if let Some(event_loop) = &event_loop {
            self.shared.note_refusal(event_loop.memory.admit(len))?;
        }
        let result = self.run_link(event_loop, Sends::Message, send);
        self.shared.note_refusal(result)
    }

    /// Sends a message the caller lends. From a thread other than the
    /// loop's, with the socket free to write (plain TCP), it is written in
    /// the same call through `ws_proto::Connection::send_binary_through`,
    /// which picks the cheapest way by size: a small frame assembled on
    /// the stack (no queue), a large payload straight from the caller's
    /// buffer (one copy fewer), the queue in between. On the loop's thread
    /// the message is queued, to go out with the loop's own writes.
    fn lent_message(&self, payload: Lent<'_>) -> Result<(), SendError> {
        self.admitted(payload.len(), |link, on_loop| {
            if !on_loop && link.can_write_through() {
                link.write_through(|c, write| match payload {
                    Lent::Text(text) => c.send_text_through(text, write),
                    Lent::Binary(data) => c.send_binary_through(data, write),
                    Lent::InPlace(data) => c.send_binary_in_place(data, write),
                })
            } else {
                match payload {
                    Lent::Text(text) => link.proto.send_text(text),
                    Lent::Binary(data) => link.proto.send_binary(data),
                    Lent::InPlace(data) => link.proto.send_binary(data),
                }
            }
        })
    }

    /// Runs a command on the state machine, then has the loop write.
    fn command<T>(&self, f: impl FnOnce(&mut ws_proto::Connection) -> T) -> T {
        self.run(self.shared.event_loop.upgrade(), f)
    }

    /// Runs `f` on the state machine, writes what it queued when this
    /// thread may (see [`Conn`]), records what the connection holds now
    /// with `event_loop` (the loop, if it is still there), and tells the
    /// loop when it has something to do.
    fn run<T>(
        &self,
        event_loop: Option<Arc<LoopShared>>,
        f: impl FnOnce(&mut ws_proto::Connection) -> T,
    ) -> T {
        self.run_link(event_loop, Sends::Command, |link, _| f(&mut link.proto))
    }

    /// [`run`](Self::run), with `f` given the whole link and whether this
    /// is the loop's thread.
    fn run_link<T>(
        &self,
        event_loop: Option<Arc<LoopShared>>,
        sends: Sends,
        f: impl FnOnce(&mut Link, bool) -> T,
    ) -> T {
        let Some(event_loop) = event_loop else {
            // The loop is gone: the state machine answers (not open), and
            // nothing can write.
            return f(&mut lock(&self.shared.link), false);
        };
        let on_loop = on_loop_thread(&event_loop);
        let (result, settled) = {
            let mut link = lock(&self.shared.link);
            let before = match sends {
                Sends::Message => None,
                Sends::Command => Some((link.proto.state(), link.proto.poll_timeout())),
            };
            // Blocked before this send: the loop waits for the socket.
            let loop_writes = link.blocked;
            let result = f(&mut link, on_loop);
            if !on_loop && link.proto.buffered_amount() > 0 && link.writable_now() {
                link.write();
            }
            // The loop need not hear of it when everything is written, or
            // when it waits for the socket to write the rest anyway; unless
            // the state or a deadline changed (a close, or the end of a
            // failed connection once its close frame is out), or a write
            // failed.
            let drain_owed =
                self.shared.drain_wanted.load(Ordering::Acquire) && drained(&link.proto);
            let settled = !on_loop
                && !drain_owed
                && (link.proto.buffered_amount() == 0 || loop_writes)
                && link.failed.is_none()
                && before.is_none_or(|b| b == (link.proto.state(), link.proto.poll_timeout()));
            event_loop.memory.account(&self.shared, &link.proto);
            (result, settled)
        };
        let served = on_loop && SERVICING.with(|c| c.get()) == Arc::as_ptr(&self.shared) as usize;
        if !settled && !served {
            self.mark_dirty(&event_loop, on_loop);
        }
        result
    }

    /// Puts this connection on the loop's dirty list: it has something to
    /// write (or a new state to act on). Wakes the loop from another
    /// thread.
    fn mark_dirty(&self, event_loop: &Arc<LoopShared>, on_loop: bool) {
        if self.shared.dirty.swap(true, Ordering::AcqRel) {
            return; // already on the list
        }
        if !event_loop.push_dirty(self.shared.clone()) {
            return; // the loop has stopped; nothing will write
        }
        if !on_loop {
            event_loop.wake();
        }
    }
}

/// Messages queued together on one connection, written as one once
/// [`Conn::send_batch`]'s closure returns. Each call's result is known at
/// once, as with [`Conn`]'s own sends.
pub struct Batch<'a> {
    proto: &'a mut ws_proto::Connection,
    shared: &'a Shared,
    memory: Option<&'a crate::memory::Memory>,
    /// Bytes admitted in this batch, not yet counted by the loop.
    admitted: usize,
}

impl Batch<'_> {
    /// Queues a text message.
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.admit(text.len())?;
        self.shared.note_refusal(self.proto.send_text(text))
    }

    /// Queues a binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.admit(data.len())?;
        self.shared.note_refusal(self.proto.send_binary(data))
    }

    /// Queues a binary message held in `Bytes` (see [`Conn::send_bytes`]).
    pub fn send_bytes(&mut self, data: Bytes) -> Result<(), SendError> {
        self.admit(data.len())?;
        self.shared.note_refusal(self.proto.send_binary_bytes(data))
    }

    /// Checks the loop's memory budget for `len` more bytes, counting what
    /// this batch queued already.
    fn admit(&mut self, len: usize) -> Result<(), SendError> {
        if let Some(memory) = self.memory {
            let admitted = memory.admit(self.admitted.saturating_add(len));
            self.shared.note_refusal(admitted)?;
        }
        self.admitted = self.admitted.saturating_add(len);
        Ok(())
    }
}

impl fmt::Debug for Batch<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batch")
            .field("buffered_amount", &self.proto.buffered_amount())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn")
            .field("id", &self.id())
            .field("state", &self.state())
            .finish()
    }
}

/// The masking-key generator of every client connection: a handle on the
/// calling thread's CSPRNG (rand's `ThreadRng`, ChaCha12 reseeded from the
/// operating system). It has no state of its own, so an idle connection
/// carries none; keys are drawn on whichever thread sends.
pub(crate) struct ThreadCsprng;

impl ws_proto::KeySource for ThreadCsprng {
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        rand::Rng::fill_bytes(&mut rand::rng(), dest);
    }

    fn mask_key(&mut self) -> [u8; 4] {
        rand::Rng::next_u32(&mut rand::rng()).to_ne_bytes()
    }
}

/// What happened on a connection, as a [`Handler`] sees it.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// The opening handshake succeeded.
    Open(ws_proto::Open),
    /// A message arrived.
    Message(ws_proto::Message),
    /// A ping arrived (already answered, unless auto-pong is off).
    Ping(Bytes),
    /// A pong arrived.
    Pong(Bytes),
    /// The write buffer, full when a send was refused with
    /// `WriteBufferFull` (by its limit or the loop's memory budget), has
    /// fallen to half its limit: sending can resume. Once per refusal
    /// (the next refusal arms it again); never before a refusal.
    Drain,
    /// The connection failed; [`Event::Closed`] follows.
    Error(Error),
    /// The connection is over; always the last event.
    Closed(ws_proto::Closed),
}

/// Receives a connection's events, on the loop's thread.
///
/// Order: at most one `Open`, then messages, pings and pongs, then at most
/// one `Error`, then exactly one `Closed`.
pub trait Handler: Send + 'static {
    /// Called for each event, with the connection it happened on.
    fn on_event(&mut self, conn: &Conn, event: Event);

    /// Whether this handler takes received messages lent, through
    /// [`on_message_ref`](Self::on_message_ref), instead of owned, through
    /// `on_event`. Off by default. Asked each time the loop hands events
    /// out, so it should not change.
    ///
    /// Lent messages cost less: a small message (up to 256 bytes) is not
    /// split off the read buffer as `Bytes` (no atomic reference count
    /// raised and dropped per message) but copied into a buffer the loop
    /// thread reuses; a larger one is kept as `Bytes`, with no copy. For a
    /// handler that reads each message and keeps nothing of it (a market
    /// data feed parsing updates into its own structures); one that keeps
    /// a message copies it ([`MessageRef::to_message`](ws_proto::MessageRef::to_message)).
    fn lends_messages(&self) -> bool {
        false
    }

    /// Called for each received message when [`lends_messages`](Self::lends_messages)
    /// says so, in the place of `on_event` with [`Event::Message`]; the
    /// message is lent for the length of the call. Order and everything
    /// else are as for `on_event`. The default hands an owned copy to
    /// `on_event`.
    fn on_message_ref(&mut self, conn: &Conn, message: ws_proto::MessageRef<'_>) {
        self.on_event(conn, Event::Message(message.to_message()));
    }
}

impl<F: FnMut(&Conn, Event) + Send + 'static> Handler for F {
    fn on_event(&mut self, conn: &Conn, event: Event) {
        self(conn, event)
    }
}

/// Whether a payload given away is better sent as lent: below
/// `OWNED_PAYLOAD_MIN`, ws-proto copies a given payload into its queue
/// anyway, and a lent one may go out from the caller's thread at once,
/// with no queue (see [`Conn::lent_message`]).
fn lent_is_cheaper(len: usize) -> bool {
    len < ws_proto::Connection::OWNED_PAYLOAD_MIN
}

/// What a call into the state machine may change, for what the loop
/// must hear of afterwards.
#[derive(Clone, Copy)]
enum Sends {
    /// A data message: queued or written, never a change of state or of
    /// a deadline (ws-proto's sends touch neither), so those need not be
    /// compared before and after.
    Message,
    /// Anything else (a ping, a close, a batch).
    Command,
}

/// A payload a send borrows from its caller.
enum Lent<'a> {
    Text(&'a str),
    Binary(&'a [u8]),
    /// Binary, in a buffer the send may mask in place.
    InPlace(&'a mut [u8]),
}

impl Lent<'_> {
    fn len(&self) -> usize {
        match self {
            Self::Text(text) => text.len(),
            Self::Binary(data) => data.len(),
            Self::InPlace(data) => data.len(),
        }
    }
}
