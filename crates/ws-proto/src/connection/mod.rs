//! [`Connection`]: one WebSocket connection as a state machine.

mod output;
mod read_buf;
mod reader;
mod state;
mod timer;
mod writer;

use std::collections::VecDeque;
use std::fmt;
use std::io::IoSlice;
use std::time::{Duration, Instant};

use crate::key_source::KeySource;
use bytes::Bytes;

use crate::close::{CloseCode, MAX_CLOSE_REASON};
use crate::config::Config;
use crate::error::{RequestError, SendError};
use crate::event::{Event, Message, MessageRef};
use crate::extension::DeflateParams;
use crate::frame::{OpCode, Utf8Bytes};
use crate::handshake::client::ClientHandshake;
use crate::handshake::server::ServerHandshake;
use crate::handshake::{ClientRequest, ServerConfig};

use reader::Reader;
pub use state::State;
use state::{Phase, Step};
use timer::{Timer, Timers};
use writer::Writer;

/// A read buffer a drained connection gave back
/// ([`Connection::receive_drained_spare`]), for a driver to keep and give
/// to the next connection that needs one
/// ([`Connection::adopt_spare_buffer`]), sparing the allocation (and the
/// zeroing) a new buffer costs.
#[derive(Debug)]
pub struct SpareBuffer(bytes::BytesMut);

impl SpareBuffer {
    /// Its size in bytes: what it holds on the heap.
    pub fn capacity(&self) -> usize {
        self.0.capacity()
    }
}

/// Which end of the connection this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Opens the connection, masks what it sends.
    Client,
    /// Accepts the connection, never masks.
    Server,
}

/// The opening handshake's state, until it is over. Boxed: it is large
/// and dead once the connection is open, and an idle connection should cost
/// little.
enum Handshake {
    Client(Box<ClientHandshake>),
    Server(Box<(ServerHandshake, ServerConfig)>),
    Done,
}

/// One WebSocket connection, client or server, with no I/O of its own.
///
/// Its methods come in four families:
/// - inputs: [`receive`](Self::receive) (bytes from the transport), or
///   [`receive_buffer`](Self::receive_buffer) and
///   [`commit_received`](Self::commit_received) (the transport reads
///   straight into the connection's buffer),
///   [`receive_eof`](Self::receive_eof) (the transport ended),
///   [`transport_failed`](Self::transport_failed) (it failed),
///   [`abandon`](Self::abandon) (this side ends it at once),
///   [`handle_timeout`](Self::handle_timeout) (the clock reached
///   [`poll_timeout`](Self::poll_timeout));
/// - commands: [`send_text`](Self::send_text), [`send_binary`](Self::send_binary),
///   [`send_text_owned`](Self::send_text_owned), [`send_binary_owned`](Self::send_binary_owned),
///   [`send_binary_through`](Self::send_binary_through), [`send_text_through`](Self::send_text_through),
///   [`send_binary_in_place`](Self::send_binary_in_place) (they also write, through a closure),
///   [`send_ping`](Self::send_ping), [`send_pong`](Self::send_pong), [`close`](Self::close),
///   [`fail`](Self::fail);
/// - outputs: [`poll_event`](Self::poll_event), [`poll_transmit`](Self::poll_transmit)
///   (or [`poll_transmit_vectored`](Self::poll_transmit_vectored)) with
///   [`advance_transmit`](Self::advance_transmit), [`poll_timeout`](Self::poll_timeout);
/// - getters: [`state`](Self::state), [`buffered_amount`](Self::buffered_amount),
///   [`subprotocol`](Self::subprotocol), [`role`](Self::role).
///
/// The driving loop: after every input or command, drain the outputs, in
/// this order: every event from `poll_event` (a handler may send in answer),
/// then the bytes of `poll_transmit`, then sleep until `poll_timeout` or the
/// next input. After [`Event::Closed`], write what `poll_transmit` still
/// holds and close the transport. The crate documentation has the loop as
/// code.
pub struct Connection {
    role: Role,
    config: Config,
    phase: Phase,
    handshake: Handshake,
    subprotocol: Option<String>,
    deflate: Option<DeflateParams>,
    reader: Reader,
    writer: Writer,
    timers: Timers,
    events: VecDeque<Event>,
    /// The transport ended; acted on once the buffered bytes are decoded.
    eof: bool,
    /// ... because it failed ([`Connection::transport_failed`]).
    transport_failed: bool,
    /// An [`Event::Error`] was queued: no other comes.
    error_reported: bool,
    /// The time of the latest input; timers started while decoding count from it.
    last_input: Instant,
    /// An input came after `last_input` without its time
    /// ([`Connection::commit_received_with`]): a timer that must count
    /// from it is armed at the next `handle_timeout` (see `Timer::Stamp`).
    input_unstamped: bool,
    /// Draws masking keys and the handshake key; clients only.
    rng: Option<Box<dyn KeySource>>,
    /// The keepalive ping waiting for its pong: its number and when it
    /// was queued.
    keepalive_ping: Option<(u64, Instant)>,
    keepalive_pings: u64,
    /// The round trip of the last keepalive ping answered.
    rtt: Option<Duration>,
}

impl Connection {
    /// The least payload that [`send_binary_bytes`](Self::send_binary_bytes),
    /// [`send_text_bytes`](Self::send_text_bytes) and the `send_*_owned`
    /// sends keep as given, with no copy (16 KiB). A smaller one is copied
    /// into the queue, which costs less than a segment of its own: a
    /// driver that can write at once may as well lend it to
    /// [`send_binary_through`](Self::send_binary_through), the same copy
    /// without the queue.
    pub const OWNED_PAYLOAD_MIN: usize = writer::OWNED_SEGMENT_MIN;

    /// A client connection that has queued its opening handshake request.
    ///
    /// `rng` draws the `Sec-WebSocket-Key` and every masking key; they must
    /// be unpredictable to the network (RFC 6455 section 10.3), so give it a
    /// CSPRNG: [`default_rng`](crate::default_rng), or a seeded
    /// `rand::rngs::StdRng` in tests. Fails, before anything is queued, on
    /// an invalid request.
    pub fn client(
        now: Instant,
        config: Config,
        request: &ClientRequest,
        rng: impl KeySource + 'static,
    ) -> Result<Self, RequestError> {
        let mut rng: Box<dyn KeySource> = Box::new(rng);
        let mut conn = Self::new(now, Role::Client, config, Handshake::Done);
        let config = &conn.config;
        let handshake = conn
            .writer
            .with_raw(|out| ClientHandshake::start(request, config, &mut *rng, out))?;
        conn.handshake = Handshake::Client(Box::new(handshake));
        conn.rng = Some(rng);
        Ok(conn)
    }

    /// A server connection waiting for the client's opening handshake.
    pub fn server(now: Instant, config: Config, server: ServerConfig) -> Self {
        Self::new(
            now,
            Role::Server,
            config,
            Handshake::Server(Box::new((ServerHandshake::default(), server))),
        )
    }

    fn new(now: Instant, role: Role, config: Config, handshake: Handshake) -> Self {
        let mut timers = Timers::default();
        if let Some(timeout) = config.handshake_timeout {
            timers.set(Timer::Handshake, now + timeout);
        }
        Self {
            role,
            reader: Reader::new(role, &config),
            writer: Writer::new(config.send_fragment_size, config.max_write_buffer),
            config,
            phase: Phase::Connecting,
            handshake,
            subprotocol: None,
            deflate: None,
            timers,
            events: VecDeque::new(),
            eof: false,
            transport_failed: false,
            error_reported: false,
            last_input: now,
            input_unstamped: false,
            rng: None,
            keepalive_ping: None,
            keepalive_pings: 0,
            rtt: None,
        }
    }

    // ---- inputs ----------------------------------------------------------

    /// Feeds bytes read from the transport. Any split is fine, one byte at a
    /// time included. The bytes are decoded by [`poll_event`](Self::poll_event).
    pub fn receive(&mut self, now: Instant, data: &[u8]) {
        if data.is_empty() || self.eof {
            return;
        }
        self.note_activity(now);
        self.writer.note_input();
        match self.phase {
            Phase::Connecting => self.receive_handshake(now, data),
            Phase::Open | Phase::Closing(_) => self.reader.push(data),
            Phase::Closed => {}
        }
    }

    /// Room to read the next bytes from the transport into, for a driver
    /// that reads straight into the connection's buffer: the bytes are
    /// then copied once (by the transport's read), not a second time as
    /// with [`receive`](Self::receive). Read into a prefix of it, then call
    /// [`commit_received`](Self::commit_received) with how many bytes the
    /// read wrote; reading nothing needs no call.
    ///
    /// Its size follows what the connection receives: the rest of a large
    /// frame under way, plus a window that starts at 512 bytes, doubles each
    /// time a read fills it (up to 256 KiB) and shrinks when reads are
    /// small.
    #[inline]
    pub fn receive_buffer(&mut self) -> &mut [u8] {
        self.reader.room()
    }

    /// Counts the first `n` bytes of [`receive_buffer`](Self::receive_buffer)
    /// as received: the same input as [`receive`](Self::receive) with those
    /// bytes.
    ///
    /// # Panics
    /// If `n` is more than the length of the buffer lent.
    #[inline]
    pub fn commit_received(&mut self, now: Instant, n: usize) {
        if n == 0 || self.eof {
            self.reader.commit(0);
            return;
        }
        match self.phase {
            Phase::Open | Phase::Closing(_) => {
                self.note_activity(now);
                self.writer.note_input();
                self.reader.commit(n);
            }
            Phase::Connecting => {
                // The handshake parses its own copy, once per connection.
                let data = self.reader.uncommitted(n).to_vec();
                self.receive(now, &data);
            }
            Phase::Closed => {}
        }
    }

    /// [`commit_received`](Self::commit_received) for a driver that reads
    /// the clock only when the connection needs the time of this input:
    /// `clock` is called (once) while connecting or closing, or with
    /// keepalive on. An open connection without keepalive notes the input
    /// without its time. Should it turn out to close or fail the
    /// connection, the timers that count from it are armed at the next
    /// [`handle_timeout`](Self::handle_timeout), from the time given there:
    /// [`poll_timeout`](Self::poll_timeout) returns a deadline already past
    /// until then, so a driver that waits for it calls `handle_timeout` at
    /// once.
    ///
    /// A clock read costs about as much as decoding a small message (some
    /// 25 ns on a virtual machine), and request and answer traffic reads
    /// once per message: this saves it.
    #[inline]
    pub fn commit_received_with(&mut self, n: usize, clock: impl FnOnce() -> Instant) {
        if n == 0 || self.eof {
            // No input: its time is not used.
            self.commit_received(self.last_input, n);
        } else if self.phase == Phase::Open && self.config.keepalive_interval.is_none() {
            self.input_unstamped = true;
            self.writer.note_input();
            self.reader.commit(n);
        } else {
            self.commit_received(clock(), n);
        }
    }

    /// Tells the connection that the transport has no more input for now
    /// (a read would block). A connection whose buffer holds nothing and
    /// whose recent reads were small returns its read buffer's memory, so
    /// an idle connection holds none; a busy one keeps it for the next
    /// read.
    pub fn receive_drained(&mut self) {
        self.reader.drained();
    }

    /// [`receive_drained`](Self::receive_drained) for a driver that keeps
    /// spare read buffers: the buffer the connection gives back is
    /// returned (when no message split off it is still alive) instead of
    /// freed, for any connection's next read
    /// ([`adopt_spare_buffer`](Self::adopt_spare_buffer)). In
    /// request-and-answer traffic, where the transport drains after every
    /// message, this saves an allocation per message, and the idle
    /// connection still holds no read buffer.
    pub fn receive_drained_spare(&mut self) -> Option<SpareBuffer> {
        self.reader.drained_spare().map(SpareBuffer)
    }

    /// Whether the connection holds no read buffer, so that its next
    /// [`receive_buffer`](Self::receive_buffer) would allocate one unless
    /// it adopts a spare.
    pub fn wants_spare_buffer(&self) -> bool {
        self.reader.wants_spare()
    }

    /// Gives the connection `spare` as its read buffer if it holds none
    /// ([`wants_spare_buffer`](Self::wants_spare_buffer)); otherwise hands
    /// it back. Nothing the spare held before is ever received: its bytes
    /// are only room for the next reads.
    pub fn adopt_spare_buffer(&mut self, spare: SpareBuffer) -> Option<SpareBuffer> {
        self.reader.adopt_spare(spare.0).map(SpareBuffer)
    }

    /// Tells the connection that the transport has ended (read returned 0).
    /// Bytes received before are still decoded first. A connection cut
    /// short this way reports [`Error::ConnectionLost`](crate::Error::ConnectionLost).
    pub fn receive_eof(&mut self) {
        if self.eof {
            return;
        }
        self.eof = true;
        if let Phase::Connecting = self.phase {
            let error = match &mut self.handshake {
                _ if self.transport_failed => crate::Error::Transport,
                Handshake::Client(hs) => crate::Error::Handshake(hs.receive_eof()),
                _ => crate::Error::Handshake(crate::error::HandshakeError::UnexpectedEof),
            };
            self.fail_handshake(error);
        }
    }

    /// Tells the connection that the transport failed (an I/O error, a
    /// reset, a TLS alert, a proxy or connect failure before the handshake):
    /// nothing more will be read or written. Bytes received before are
    /// still decoded first, then the connection ends as at
    /// [`receive_eof`](Self::receive_eof), except that the error it reports,
    /// if it reports one, is [`Error::Transport`](crate::Error::Transport):
    /// the driver holds the cause and reports it in that error's place.
    ///
    /// No error is reported when another came first, or when the
    /// connection had no more to lose (its closing handshake was complete,
    /// or this side had failed it), so a driver never decides whether its
    /// failure is the one to report.
    pub fn transport_failed(&mut self) {
        if !self.eof {
            self.transport_failed = true;
        }
        self.receive_eof();
    }

    /// Ends the connection at once, by this side's own choice (a driver
    /// shutting down): nothing more is decoded or sent, and
    /// [`Event::Closed`] comes at once with no [`Event::Error`] for it (an
    /// error already queued still comes first): 1006, not clean, unless
    /// the closing handshake was complete or this side had failed the
    /// connection (then what those report). What is queued for the transport stays in
    /// [`poll_transmit`](Self::poll_transmit) for a last best-effort
    /// write: call [`close`](Self::close) first to have a close frame
    /// among it. Abandoning a closed connection does nothing.
    pub fn abandon(&mut self) {
        self.eof = true;
        self.abandon_now();
    }

    /// Acts on the timers that have expired by `now`. Calling it early does
    /// nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.on_timeout(now);
    }

    // ---- commands --------------------------------------------------------

    /// Queues a text message.
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.send_message(OpCode::Text, text.as_bytes())
    }

    /// Queues a binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.send_message(OpCode::Binary, data)
    }

    /// Sends a binary message and makes one attempt to write it, and
    /// whatever else waits, through `write`: the way for a driver that can
    /// write at once to skip the copy into the output queue.
    ///
    /// `write` gets the bytes to write, in order, as slices for one
    /// vectored write, and returns how many it wrote: 0 when the transport
    /// would block or failed (keep the I/O error yourself, in a variable
    /// the closure captures, and act on it after the call, as after any
    /// write). What it did not take stays queued, in order, for
    /// [`poll_transmit`](Self::poll_transmit) and
    /// [`advance_transmit`](Self::advance_transmit) as usual.
    ///
    /// When nothing is waiting ([`buffered_amount`](Self::buffered_amount)
    /// is 0) and the message is one frame (no larger than
    /// [`Config::send_fragment_size`]) that is not compressed
    /// (permessage-deflate's threshold), it goes the fast way, by size:
    /// - a frame of up to 2 KiB with its header (a 1 KiB message fits) is
    ///   assembled on the stack, masked on the way for a client, and
    ///   `write` gets it as one slice: no queue, and one plain write;
    /// - from 16 KiB of payload, a server's `write` gets the frame's header
    ///   and `data` itself, with no copy.
    ///
    /// Only the bytes `write` does not take are copied into the queue. In
    /// every other case (output waiting, fragments, compression, a size
    /// between the two, a client's large message, which must be masked
    /// while `data` stays as it is: see
    /// [`send_binary_in_place`](Self::send_binary_in_place)), the message
    /// is queued as [`send_binary`](Self::send_binary) queues it and
    /// `write` gets what [`poll_transmit_vectored`](Self::poll_transmit_vectored)
    /// holds (up to 16 slices; one, in the usual case).
    ///
    /// A message refused (as `send_binary` refuses it:
    /// [`SendError::NotOpen`] unless open, [`SendError::WriteBufferFull`]
    /// over [`Config::max_write_buffer`], counting the whole message as if
    /// it were queued) queues nothing and never calls `write`; an accepted
    /// one calls it exactly once. Advancing by what `write` took has the
    /// effects of [`advance_transmit`](Self::advance_transmit).
    ///
    /// A vectored write of two slices saves a copy of the payload, but on
    /// Linux `writev` on a TCP socket costs more per call than `send`
    /// (about 0.4 µs, measured by ws-mio: the time of copying several
    /// KiB); hence the copy below 16 KiB. For a driver that can write at
    /// once, this is never slower than [`send_binary`](Self::send_binary)
    /// and a write of [`poll_transmit`](Self::poll_transmit).
    ///
    /// # Panics
    /// If `write` returns more than the total length of the slices it got.
    pub fn send_binary_through(
        &mut self,
        data: &[u8],
        write: impl FnOnce(&[IoSlice<'_>]) -> usize,
    ) -> Result<(), SendError> {
        self.send_message_through(OpCode::Binary, data, write)
    }

    /// Sends a text message and makes one attempt to write it, with
    /// whatever else waits, through `write`; see
    /// [`send_binary_through`](Self::send_binary_through).
    ///
    /// # Panics
    /// If `write` returns more than the total length of the slices it got.
    pub fn send_text_through(
        &mut self,
        text: &str,
        write: impl FnOnce(&[IoSlice<'_>]) -> usize,
    ) -> Result<(), SendError> {
        self.send_message_through(OpCode::Text, text.as_bytes(), write)
    }

    /// Sends a binary message as [`send_binary_through`](Self::send_binary_through)
    /// does, but a client masks `data` where it is instead of copying it.
    ///
    /// **A client leaves `data` masked, that is scrambled**, when the
    /// message goes the fast way with no copy (nothing waiting, one frame of
    /// 16 KiB or more, not compressed): `data` is XOR-ed with a fresh masking key (drawn from
    /// the connection's key source, as for every frame) and written from
    /// where it is, with no copy; only the bytes `write` does not take are
    /// copied into the queue. Do not read `data` afterwards, and refill it
    /// before sending it again. Otherwise (a small frame, assembled and
    /// masked on the stack as by [`send_binary_through`](Self::send_binary_through);
    /// output already waiting; a fragmented or compressed message; a size
    /// in between) the message is masked on its way and `data` is left
    /// unchanged. Which of the two happened is not reported: treat the
    /// buffer's contents as unspecified after the call.
    ///
    /// A server never masks: `data` is left unchanged, and this is
    /// [`send_binary_through`](Self::send_binary_through).
    ///
    /// A refused message leaves `data` unchanged, queues nothing and never
    /// calls `write`.
    ///
    /// # Panics
    /// If `write` returns more than the total length of the slices it got.
    pub fn send_binary_in_place(
        &mut self,
        data: &mut [u8],
        write: impl FnOnce(&[IoSlice<'_>]) -> usize,
    ) -> Result<(), SendError> {
        if self.phase != Phase::Open {
            return Err(SendError::NotOpen(self.state()));
        }
        self.writer
            .message_in_place(OpCode::Binary, data, rng(&mut self.rng), write)?;
        // What `advance_transmit` does after the writer advanced.
        self.after_transmit();
        Ok(())
    }

    /// Queues a text message the caller gives away. A large one (16 KiB or
    /// more) is not copied: it is masked in place and sent from where it
    /// is, as its own [`poll_transmit`](Self::poll_transmit) segment.
    pub fn send_text_owned(&mut self, text: String) -> Result<(), SendError> {
        self.send_message_shared(OpCode::Text, text.into_bytes().into())
    }

    /// Queues a binary message the caller gives away; see
    /// [`send_text_owned`](Self::send_text_owned).
    pub fn send_binary_owned(&mut self, data: Vec<u8>) -> Result<(), SendError> {
        self.send_message_shared(OpCode::Binary, data.into())
    }

    /// Queues a text message held in [`Utf8Bytes`] (a received one, for
    /// example); see [`send_binary_bytes`](Self::send_binary_bytes).
    pub fn send_text_bytes(&mut self, text: Utf8Bytes) -> Result<(), SendError> {
        self.send_message_shared(OpCode::Text, text.into_bytes())
    }

    /// Queues a binary message held in [`Bytes`]. A large one (16 KiB or
    /// more) is not copied when no mask is needed (a server), or when the
    /// caller held the only reference (it is masked in place); a client
    /// sending bytes others still share copies them, as
    /// [`send_binary`](Self::send_binary) does. Echoing a received message
    /// from a server this way costs no copy.
    pub fn send_binary_bytes(&mut self, data: Bytes) -> Result<(), SendError> {
        self.send_message_shared(OpCode::Binary, data)
    }

    /// Queues a ping with up to 125 bytes of payload.
    pub fn send_ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.send_control(OpCode::Ping, payload)
    }

    /// Queues an unsolicited pong (a one-way heartbeat), or answers a ping
    /// when [`Config::auto_pong`] is off.
    pub fn send_pong(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.send_control(OpCode::Pong, payload)
    }

    /// Starts the closing handshake with `code` and `reason`; the close
    /// timer counts from `now`.
    ///
    /// The code must be one allowed on the wire
    /// ([`CloseCode::is_valid_on_wire`]) and the reason at most 123 bytes;
    /// otherwise nothing changes. Closing while connecting abandons the
    /// handshake ([`Event::Closed`] with 1006). Closing a connection that is
    /// already closing or closed does nothing.
    pub fn close(&mut self, now: Instant, code: CloseCode, reason: &str) -> Result<(), SendError> {
        check_close_frame(code, reason)?;
        self.note_time(now);
        self.close_local(code, reason);
        Ok(())
    }

    /// Fails the connection for a reason of the caller's own, such as a
    /// memory budget or an application-level violation by the peer (a
    /// message that is not the JSON it must be: 1007): the close frame
    /// with `code` and `reason` goes out (if none has yet), nothing more is
    /// decoded, and the connection ends as a failed one does: once the
    /// close frame is written or at [`Config::drain_timeout`], with
    /// [`Event::Closed`] reporting `code`.
    ///
    /// The failure is reported as [`Error::Failed`](crate::Error::Failed),
    /// in which place the caller puts its own cause, unless an error was
    /// reported already: then only `Closed` follows.
    ///
    /// Closing while connecting abandons the handshake (as
    /// [`close`](Self::close) does); failing a closed connection does
    /// nothing. The code and reason are checked as for `close`.
    pub fn fail(&mut self, now: Instant, code: CloseCode, reason: &str) -> Result<(), SendError> {
        check_close_frame(code, reason)?;
        self.note_time(now);
        self.fail_local(code, reason);
        Ok(())
    }

    fn send_message(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), SendError> {
        if self.phase != Phase::Open {
            return Err(SendError::NotOpen(self.state()));
        }
        self.writer.message(opcode, payload, rng(&mut self.rng))
    }

    fn send_message_through(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        write: impl FnOnce(&[IoSlice<'_>]) -> usize,
    ) -> Result<(), SendError> {
        if self.phase != Phase::Open {
            return Err(SendError::NotOpen(self.state()));
        }
        self.writer
            .message_through(opcode, payload, rng(&mut self.rng), write)?;
        // What `advance_transmit` does after the writer advanced.
        self.after_transmit();
        Ok(())
    }

    fn send_message_shared(&mut self, opcode: OpCode, payload: Bytes) -> Result<(), SendError> {
        if self.phase != Phase::Open {
            return Err(SendError::NotOpen(self.state()));
        }
        self.writer
            .message_shared(opcode, payload, rng(&mut self.rng))
    }

    fn send_control(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), SendError> {
        if payload.len() > 125 {
            return Err(SendError::ControlPayloadTooLong(payload.len()));
        }
        if self.phase != Phase::Open {
            return Err(SendError::NotOpen(self.state()));
        }
        self.writer.control(opcode, payload, rng(&mut self.rng))
    }

    // ---- outputs ---------------------------------------------------------

    /// The next event. Decodes buffered input as it goes: call it until it
    /// returns `None` after every input.
    #[must_use]
    #[inline]
    pub fn poll_event(&mut self) -> Option<Event> {
        // Nothing to give: no event queued, nothing to decode, no end of
        // the transport to act on (what `step` would find, at the cost of
        // a call per layer). Every read is preceded by such a poll, so
        // this check is inlined into the driver: it costs no call.
        if self.events.is_empty() && self.reader.idle() && !self.eof {
            return None;
        }
        self.decode_event()
    }

    /// [`poll_event`](Self::poll_event) past its first check.
    fn decode_event(&mut self) -> Option<Event> {
        // The common case first, with none of the general path's layers:
        // a whole message with nothing queued before it.
        if let Some(message) = self.poll_message() {
            return Some(Event::Message(message));
        }
        loop {
            if let Some(event) = self.events.pop_front() {
                return Some(event);
            }
            match self.step() {
                Step::Event(event) => return Some(event),
                Step::Progressed => {}
                Step::Idle => return None,
            }
        }
    }

    /// The next event if it is a message already received whole in one
    /// frame, decoded with no other effect; `None`, consuming nothing, when
    /// the next thing to decode is anything else (a control frame, a
    /// fragment, a violation, an event decoded already, or bytes still to
    /// come), which [`poll_event`](Self::poll_event) then takes.
    ///
    /// For a driver that decodes several messages at once (under one lock,
    /// say) and hands them out after: decoding such a message queues
    /// nothing and changes no state, so an answer to it queued later still
    /// goes out before anything decoded after it, as with `poll_event`.
    #[must_use]
    #[inline]
    pub fn poll_message(&mut self) -> Option<Message> {
        if !self.decoding() || !self.events.is_empty() {
            return None;
        }
        self.reader.next_whole_message()
    }

    /// [`poll_message`](Self::poll_message), lent where it lies in the
    /// read buffer instead of handed over as `Bytes`: the fastest way to
    /// read a message one keeps nothing of (no reference count is raised
    /// and dropped per message). The borrow ends at the next call on the
    /// connection, which drops the message's bytes; to keep it,
    /// [`keep_lent_message`](Self::keep_lent_message) right after (no
    /// copy) or [`MessageRef::to_message`] (a copy). `None`,
    /// consuming nothing, when the next thing to decode is not such a
    /// message: then [`poll_event`](Self::poll_event) takes it.
    ///
    /// ```
    /// # use ws_proto::{Connection, Event, MessageRef};
    /// fn drain(conn: &mut Connection, total: &mut usize) {
    ///     loop {
    ///         if let Some(message) = conn.poll_message_ref() {
    ///             *total += message.len(); // read it; nothing is kept
    ///             continue;
    ///         }
    ///         match conn.poll_event() {
    ///             Some(Event::Message(message)) => *total += message.len(),
    ///             Some(_) => {} // open, ping, pong, error, closed
    ///             None => return, // read more input
    ///         }
    ///     }
    /// }
    /// ```
    #[must_use]
    pub fn poll_message_ref(&mut self) -> Option<MessageRef<'_>> {
        if !self.decoding() || !self.events.is_empty() {
            return None;
        }
        self.reader.next_whole_message_ref()
    }

    /// Keeps the message [`poll_message_ref`](Self::poll_message_ref) lent
    /// last, as an owned [`Message`] sharing the read buffer, without a
    /// copy: for a caller that decides, having looked at a message, to
    /// keep it (a large one, say). Call it right after; `None` once the
    /// loan is over (any input or decoding since).
    pub fn keep_lent_message(&mut self) -> Option<Message> {
        self.reader.keep_lent_message()
    }

    /// The next bytes to write to the transport, if any: a contiguous run
    /// of what is waiting (call it again after advancing for the rest).
    /// Write as many as the transport takes, then call [`advance_transmit`](Self::advance_transmit) with
    /// that number.
    #[must_use]
    pub fn poll_transmit(&self) -> Option<&[u8]> {
        let pending = self.writer.pending();
        (!pending.is_empty()).then_some(pending)
    }

    /// All the bytes to write, as up to `slices.len()` slices in order, for
    /// one vectored write; returns how many slices it filled. Call
    /// [`advance_transmit`](Self::advance_transmit) with the number of bytes
    /// written.
    pub fn poll_transmit_vectored<'a>(&'a self, slices: &mut [std::io::IoSlice<'a>]) -> usize {
        self.writer.pending_vectored(slices)
    }

    /// Marks the first `n` bytes of [`poll_transmit`](Self::poll_transmit) as written.
    ///
    /// Once the close frame of a connection this side failed is written,
    /// there is nothing more to wait for: [`poll_timeout`](Self::poll_timeout)
    /// then returns a deadline already passed, and
    /// [`handle_timeout`](Self::handle_timeout) ends the connection.
    pub fn advance_transmit(&mut self, n: usize) {
        self.writer.advance(n);
        self.after_transmit();
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called.
    #[must_use]
    #[inline]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    // ---- getters ---------------------------------------------------------

    /// Whether what the peer sends is still decoded and handed out: `false`
    /// once the connection failed (a violation, [`fail`](Self::fail), the
    /// transport), once the peer's close frame arrived, and once it ended.
    ///
    /// A driver that decodes messages ahead with
    /// [`poll_message`](Self::poll_message) and hands them out later drops
    /// those not handed out yet when a handler's command turns this
    /// `false`: the state machine would not have handed them out.
    pub fn is_receiving(&self) -> bool {
        self.receiving()
    }

    /// Where the connection is in its life.
    pub fn state(&self) -> State {
        self.phase.state()
    }

    /// Which end this is.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The round trip time of the last keepalive ping the peer answered:
    /// from the timer that queued it to the input that brought its pong
    /// (so it includes the peer's and this side's processing). `None`
    /// until one is answered. Each keepalive ping carries its own number
    /// (`keepalive N`); a pong with another payload (an unsolicited one, an
    /// answer to an older ping) changes nothing.
    pub fn rtt(&self) -> Option<Duration> {
        self.rtt
    }

    /// Bytes queued and not yet written to the transport (the browser API's
    /// `bufferedAmount`).
    pub fn buffered_amount(&self) -> usize {
        self.writer.buffered()
    }

    /// The negotiated subprotocol, once open.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// The permessage-deflate parameters agreed in the opening handshake;
    /// `None` when it is not in force (not configured, declined, not open
    /// yet, or the crate built without its `deflate` feature).
    pub fn deflate(&self) -> Option<DeflateParams> {
        self.deflate
    }

    /// The settings this connection runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Heap bytes held by the connection's read, write and event buffers
    /// (not counting permessage-deflate's compressor and decompressor).
    pub fn buffer_capacity(&self) -> usize {
        self.reader.capacity()
            + self.writer.capacity()
            + self.events.capacity() * size_of::<Event>()
    }

    /// Frees read and write buffer capacity that holds no data, for a
    /// connection expected to stay idle, and permessage-deflate's
    /// compressor and decompressor when they keep no context between
    /// messages (no context takeover). The next message allocates again.
    pub fn release_buffers(&mut self) {
        self.reader.release_buffers();
        self.writer.release_buffers();
        if self.events.is_empty() {
            self.events = VecDeque::new();
        }
    }
}

/// A close frame this side may send: a code allowed on the wire and a
/// reason that fits.
fn check_close_frame(code: CloseCode, reason: &str) -> Result<(), SendError> {
    if !code.is_valid_on_wire() {
        return Err(SendError::InvalidCloseCode(code.0));
    }
    if reason.len() > MAX_CLOSE_REASON {
        return Err(SendError::CloseReasonTooLong(reason.len()));
    }
    Ok(())
}

/// The masking RNG as the writer takes it.
fn rng(rng: &mut Option<Box<dyn KeySource>>) -> Option<&mut dyn KeySource> {
    rng.as_deref_mut().map(|r| r as &mut dyn KeySource)
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("state", &self.state())
            .field("buffered_amount", &self.buffered_amount())
            .field("pending_input", &self.reader.buffered())
            .finish_non_exhaustive()
    }
}
