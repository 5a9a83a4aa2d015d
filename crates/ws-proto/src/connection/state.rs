//! Every state of a connection and every transition between them, in one
//! place.
//!
//! ```text
//!            handshake ok                close sent or received
//! Connecting ------------> Open ----------------------------------> Closing
//!     |                     |                                          |
//!     | handshake failed,   | transport lost, keepalive timeout        | both close frames exchanged
//!     | timeout, eof, close |                                          | (+ server's eof, for a client),
//!     |                     |                                          | close timeout, eof; failed:
//!     v                     v                                          v close frame written, drain timeout
//!   Closed <--------------- Closed <--------------------------------- Closed
//! ```
//!
//! Theory of operation:
//! - A close frame is sent at most once. Receiving one while open answers it
//!   with the same code; failing the connection (a [`ProtocolError`]) sends
//!   one with the violation's code.
//! - Once a close frame has been sent, no data frame can be sent; once one has
//!   been received, nothing more is decoded.
//! - A server ends the transport as soon as both close frames are exchanged.
//!   A client waits for the server to do it (RFC 6455 section 7.1.1), up to
//!   the close timeout.
//! - A connection this side failed (a violation, or the driver's
//!   [`Connection::fail`]) waits for nothing but the write of its close
//!   frame: it ends once the frame is written, or at the drain timeout, and
//!   the driver closes the transport (section 7.1.7).
//! - [`Event::Error`] comes at most once (`report` is the one place that
//!   queues it), [`Event::Closed`] exactly once and last; after it the
//!   connection ignores every input. Nothing but `Closed` follows an
//!   error: a failed connection decodes nothing more. A driver's own
//!   failures come in as inputs ([`Connection::fail`],
//!   [`Connection::transport_failed`]) and take the error's place only
//!   when no other came first, so a driver never counts errors itself.

use std::fmt;
use std::time::Instant;

use crate::close::{CloseCode, CloseFrame, MAX_CLOSE_REASON};
use crate::connection::reader::Inbound;
use crate::connection::timer::Timer;
use crate::connection::{Connection, Handshake, Role, rng};
use crate::error::{Error, ProtocolError, TimeoutKind};
use crate::event::{Closed, Event, Initiator, Open};
use crate::handshake::Completed;

/// Where a connection is in its life (the browser API's `readyState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// The opening handshake is under way.
    Connecting,
    /// Messages flow both ways.
    Open,
    /// A close frame has been sent or received; no more messages can be sent.
    Closing,
    /// The connection is over.
    Closed,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connecting => "connecting",
            Self::Open => "open",
            Self::Closing => "closing",
            Self::Closed => "closed",
        })
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Connecting,
    Open,
    Closing(Closing),
    Closed,
}

impl Phase {
    pub(crate) fn state(&self) -> State {
        match self {
            Self::Connecting => State::Connecting,
            Self::Open => State::Open,
            Self::Closing(_) => State::Closing,
            Self::Closed => State::Closed,
        }
    }
}

/// The closing handshake in progress. A close frame has always been sent by
/// the time a connection is closing (an answer goes out at once).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Closing {
    sent: CloseFrame,
    /// `Some(None)`: a close frame without a code arrived.
    received: Option<Option<CloseFrame>>,
    initiator: Initiator,
    /// This side failed the connection; `sent` holds the violation's code.
    failed: bool,
}

impl Closing {
    fn complete(&self) -> bool {
        self.received.is_some()
    }

    /// What the closed event reports (see [`Closed::code`]).
    fn outcome(&self) -> Closed {
        let (code, reason) = match &self.received {
            _ if self.failed => (self.sent.code, self.sent.reason.clone()),
            Some(Some(frame)) => (frame.code, frame.reason.clone()),
            Some(None) => (CloseCode::NO_STATUS_RECEIVED, String::new()),
            None => (CloseCode::ABNORMAL, String::new()),
        };
        Closed {
            code,
            reason,
            was_clean: self.complete(),
            initiator: self.initiator,
        }
    }
}

impl Connection {
    // ---- the opening handshake --------------------------------------------

    pub(super) fn receive_handshake(&mut self, now: Instant, data: &[u8]) {
        let result = match &mut self.handshake {
            Handshake::Client(hs) => hs.receive(data, &self.config),
            Handshake::Server(server) => {
                let (hs, server) = &mut **server;
                let config = &self.config;
                self.writer
                    .with_raw(|out| hs.receive(data, config, server, out))
            }
            Handshake::Done => return,
        };
        match result {
            Ok(None) => {}
            Ok(Some(opened)) => self.open(now, opened),
            Err(e) => self.fail_handshake(Error::Handshake(e)),
        }
    }

    fn open(&mut self, now: Instant, completed: Completed) {
        let Completed {
            subprotocol,
            resource,
            headers,
            extensions,
            rest,
        } = completed;
        let open = Open {
            subprotocol,
            resource,
            headers,
        };
        self.handshake = Handshake::Done;
        self.phase = Phase::Open;
        self.timers.stop(Timer::Handshake);
        self.note_activity(now);
        self.subprotocol.clone_from(&open.subprotocol);
        self.reader.allow_rsv(extensions.rsv_bits());
        if let Some((deflater, inflater)) = extensions.codecs(self.role, &self.config) {
            self.writer.set_deflater(deflater);
            self.reader.set_inflater(inflater);
        }
        self.deflate = extensions.deflate;
        self.reader.push(&rest);
        self.events.push_back(Event::Open(open));
    }

    /// The handshake failed or was abandoned: nothing was ever open, so
    /// there is no close frame to exchange.
    pub(super) fn fail_handshake(&mut self, error: Error) {
        if self.phase != Phase::Connecting {
            return;
        }
        let initiator = match error {
            Error::Timeout(_) => Initiator::Local,
            _ => Initiator::Remote,
        };
        self.handshake = Handshake::Done;
        self.report(error);
        self.finish(Closed::abnormal(initiator));
    }

    // ---- decoding ----------------------------------------------------------

    /// Decodes one item of buffered input, or acts on the end of the
    /// transport once nothing is left. A decoded message, ping or pong is
    /// returned directly rather than queued: the common case costs no trip
    /// through the event queue.
    /// Whether received frames are still decoded: while open, and while
    /// closing until the closing handshake is complete.
    pub(super) fn decoding(&self) -> bool {
        match &self.phase {
            Phase::Open => true,
            Phase::Closing(closing) => !closing.complete(),
            Phase::Connecting | Phase::Closed => false,
        }
    }

    pub(super) fn step(&mut self) -> Step {
        if self.decoding() {
            match self.reader.next() {
                Ok(Some(inbound)) => return self.on_inbound(inbound),
                Ok(None) => {}
                Err(violation) => {
                    self.fail_protocol(violation);
                    return Step::Progressed;
                }
            }
        }
        if self.eof && self.phase != Phase::Closed {
            self.on_eof();
            return Step::Progressed;
        }
        Step::Idle
    }

    fn on_inbound(&mut self, inbound: Inbound) -> Step {
        match inbound {
            Inbound::Message(message) => Step::Event(Event::Message(message)),
            Inbound::Ping(payload) => {
                // A peer that pings without reading must not make the output
                // grow: the writer answers within the write buffer's limit,
                // and only the latest of the pings it cannot keep up with
                // (RFC 6455 section 5.5.3).
                if self.config.auto_pong && self.phase == Phase::Open {
                    self.writer.auto_pong(&payload, rng(&mut self.rng));
                }
                Step::Event(Event::Ping(payload))
            }
            Inbound::Pong(payload) => {
                self.measure_rtt(&payload);
                Step::Event(Event::Pong(payload))
            }
            Inbound::Close(frame) => {
                self.on_remote_close(frame);
                Step::Progressed
            }
        }
    }

    // ---- closing -----------------------------------------------------------

    /// The peer's close frame arrived.
    fn on_remote_close(&mut self, frame: Option<CloseFrame>) {
        match &mut self.phase {
            Phase::Open => {
                // Echo the code (section 5.5.1); an empty close is answered empty.
                let sent = match &frame {
                    Some(f) => {
                        self.writer.close(f.code, &f.reason, rng(&mut self.rng));
                        f.clone()
                    }
                    None => {
                        self.writer.close_empty(rng(&mut self.rng));
                        CloseFrame {
                            code: CloseCode::NO_STATUS_RECEIVED,
                            reason: String::new(),
                        }
                    }
                };
                let closing = Closing {
                    sent,
                    received: Some(frame),
                    initiator: Initiator::Remote,
                    failed: false,
                };
                self.enter_closing(closing);
            }
            Phase::Closing(closing) => closing.received = Some(frame),
            Phase::Connecting | Phase::Closed => return,
        }
        self.reader.stop();
        self.after_close_exchange();
    }

    /// Both close frames are out: a server ends now, a client waits for the
    /// server to end the transport (its close timer keeps running).
    fn after_close_exchange(&mut self) {
        if self.role == Role::Server {
            self.finish_closing();
        }
    }

    /// The application asked to close.
    pub(super) fn close_local(&mut self, code: CloseCode, reason: &str) {
        match self.phase {
            Phase::Connecting => {
                self.handshake = Handshake::Done;
                self.finish(Closed::abnormal(Initiator::Local));
            }
            Phase::Open => {
                self.writer.close(code, reason, rng(&mut self.rng));
                let sent = CloseFrame {
                    code,
                    reason: reason.to_owned(),
                };
                self.enter_closing(Closing {
                    sent,
                    received: None,
                    initiator: Initiator::Local,
                    failed: false,
                });
            }
            Phase::Closing(_) | Phase::Closed => {}
        }
    }

    /// The peer broke the protocol: fail the connection (section 7.1.7) with
    /// the violation's code, and keep reading only for the peer's close.
    fn fail_protocol(&mut self, violation: ProtocolError) {
        let code = violation.close_code();
        self.reader.drain(violation.keeps_framing());
        if matches!(&self.phase, Phase::Closing(closing) if closing.failed) {
            return; // Only the first violation is reported.
        }
        let reason = truncate(&violation.to_string(), MAX_CLOSE_REASON).to_owned();
        self.report(Error::Protocol(violation));
        self.fail_with(code, reason);
    }

    /// The driver failed the connection for a reason of its own (a memory
    /// budget, say): the same as a violation, reported as
    /// [`Error::Failed`] (the driver puts its cause in its place), and
    /// nothing more read.
    pub(super) fn fail_local(&mut self, code: CloseCode, reason: &str) {
        match self.phase {
            Phase::Connecting => {
                self.report(Error::Failed(code));
                self.close_local(code, reason);
            }
            // Both close frames are exchanged (a client waiting for the
            // server's end): nothing is left to fail.
            Phase::Closing(ref closing) if closing.complete() => {}
            Phase::Open | Phase::Closing(_) => {
                self.reader.stop();
                self.report(Error::Failed(code));
                self.fail_with(code, reason.to_owned());
            }
            Phase::Closed => {}
        }
    }

    /// Queues the connection's error: the first one only, and none once
    /// the connection has ended. The one place that keeps
    /// [`Event::Error`] to at most one, before [`Event::Closed`].
    fn report(&mut self, error: Error) {
        if !self.error_reported && self.phase != Phase::Closed {
            self.error_reported = true;
            self.events.push_back(Event::Error(error));
        }
    }

    /// What the end of the transport is reported as, when it cuts the
    /// connection short: the driver's failure, or a plain loss.
    fn lost(&self) -> Error {
        if self.transport_failed {
            Error::Transport
        } else {
            Error::ConnectionLost
        }
    }

    /// Whether what the peer sends is still decoded and handed out: not
    /// once the connection failed (a violation, [`Connection::fail`], the
    /// transport), once the peer's close frame arrived, or once it ended.
    pub(super) fn receiving(&self) -> bool {
        match &self.phase {
            Phase::Open => true,
            Phase::Closing(closing) => !closing.complete() && !closing.failed,
            Phase::Connecting | Phase::Closed => false,
        }
    }

    /// Sends the close frame of a failure (or marks the one already sent as
    /// such), and gives it the drain time to be written.
    fn fail_with(&mut self, code: CloseCode, reason: String) {
        match &mut self.phase {
            Phase::Open => {
                self.writer.close(code, &reason, rng(&mut self.rng));
                let sent = CloseFrame { code, reason };
                self.enter_closing(Closing {
                    sent,
                    received: None,
                    initiator: Initiator::Local,
                    failed: true,
                });
            }
            // Our close frame is already out and cannot be sent again; the
            // closed event still reports the code that was sent.
            Phase::Closing(closing) => closing.failed = true,
            Phase::Connecting | Phase::Closed => return,
        }
        self.arm_drain_timer();
    }

    /// A failed connection waits for nothing but its close frame's write
    /// (section 7.1.7: the failing side closes the transport): it ends as
    /// soon as the frame is written, or at the drain time, whichever is
    /// first (and never later than the close timeout).
    fn arm_drain_timer(&mut self) {
        let Some(input) = self.input_time() else {
            return; // armed when the time is known (`on_timeout`)
        };
        let at = if self.writer.close_written() {
            input
        } else {
            match self.config.drain_timeout {
                Some(drain) => input + drain,
                None => return,
            }
        };
        let at = self.timers.get(Timer::Close).map_or(at, |t| t.min(at));
        self.timers.set(Timer::Close, at);
    }

    /// Bytes were written: a failed connection may now be done.
    pub(super) fn after_transmit(&mut self) {
        if matches!(&self.phase, Phase::Closing(closing) if closing.failed)
            && self.writer.close_written()
        {
            self.arm_drain_timer();
        }
    }

    fn enter_closing(&mut self, closing: Closing) {
        self.phase = Phase::Closing(closing);
        self.timers.stop(Timer::Keepalive);
        self.timers.stop(Timer::KeepaliveDeadline);
        self.arm_close_timer();
    }

    fn arm_close_timer(&mut self) {
        if let Some(timeout) = self.config.close_timeout {
            // `now` is not known here; the close timer counts from the last
            // input, which is when this transition happened or just before.
            if let Some(input) = self.input_time() {
                self.timers.set(Timer::Close, input + timeout);
            }
            // Else armed when the time is known (`on_timeout`).
        }
    }

    /// The time of the latest input, if it is known; if not, the driver
    /// is asked for the time (`Timer::Stamp`, due at once), and the
    /// timers that count from the input are armed in `on_timeout`.
    fn input_time(&mut self) -> Option<Instant> {
        if self.input_unstamped {
            self.timers.set(Timer::Stamp, self.last_input);
            return None;
        }
        Some(self.last_input)
    }

    /// Time is `now`: the latest input came no later.
    pub(super) fn note_time(&mut self, now: Instant) {
        self.last_input = self.last_input.max(now);
        self.input_unstamped = false;
    }

    /// Arms what `input_time` put off: the closing timers, from the time
    /// just noted, as if it were the input's.
    fn arm_put_off_timers(&mut self) {
        if let Phase::Closing(closing) = &self.phase {
            let failed = closing.failed;
            if self.timers.get(Timer::Close).is_none() {
                self.arm_close_timer();
            }
            if failed {
                self.arm_drain_timer();
            }
        }
    }

    /// The transport ended.
    fn on_eof(&mut self) {
        match &self.phase {
            Phase::Connecting | Phase::Closed => {}
            Phase::Open => {
                self.report(self.lost());
                self.finish(Closed::abnormal(Initiator::Remote));
            }
            Phase::Closing(closing) => {
                if !closing.complete() && !closing.failed {
                    self.report(self.lost());
                }
                self.finish_closing();
            }
        }
    }

    /// This side ended the connection at once ([`Connection::abandon`]):
    /// not a loss to report.
    pub(super) fn abandon_now(&mut self) {
        match self.phase {
            Phase::Connecting | Phase::Open => {
                self.handshake = Handshake::Done;
                self.finish(Closed::abnormal(Initiator::Local));
            }
            // What the closing handshake got to: 1006 unless complete.
            Phase::Closing(_) => self.finish_closing(),
            Phase::Closed => {}
        }
    }

    fn finish_closing(&mut self) {
        if let Phase::Closing(closing) = &self.phase {
            let outcome = closing.outcome();
            self.finish(outcome);
        }
    }

    fn finish(&mut self, closed: Closed) {
        self.phase = Phase::Closed;
        self.timers.stop_all();
        self.reader.stop();
        self.events.push_back(Event::Closed(closed));
    }

    // ---- time --------------------------------------------------------------

    /// A pong answering the keepalive ping in flight gives the round trip,
    /// up to the input that brought it.
    fn measure_rtt(&mut self, payload: &[u8]) {
        if let Some((number, sent)) = self.keepalive_ping {
            let mut buf = [0; KEEPALIVE_PAYLOAD_MAX];
            if payload == keepalive_payload(number, &mut buf) {
                self.rtt = Some(self.last_input.saturating_duration_since(sent));
                self.keepalive_ping = None;
            }
        }
    }

    /// Something arrived: the peer is alive, so the keepalive ping can wait.
    pub(super) fn note_activity(&mut self, now: Instant) {
        self.last_input = now;
        self.input_unstamped = false;
        if self.phase == Phase::Open {
            self.timers.stop(Timer::KeepaliveDeadline);
            if let Some(interval) = self.config.keepalive_interval {
                self.timers.set(Timer::Keepalive, now + interval);
            }
        }
    }

    pub(super) fn on_timeout(&mut self, now: Instant) {
        self.note_time(now);
        if self.timers.take_expired(Timer::Stamp, now) {
            self.arm_put_off_timers();
        }
        if self.timers.take_expired(Timer::Handshake, now) {
            self.fail_handshake(Error::Timeout(TimeoutKind::Handshake));
        }
        if self.timers.take_expired(Timer::Keepalive, now) && self.phase == Phase::Open {
            // Numbered, so that only its own pong measures the round trip;
            // and recognisable in a capture.
            self.keepalive_pings += 1;
            let mut buf = [0; KEEPALIVE_PAYLOAD_MAX];
            let payload = keepalive_payload(self.keepalive_pings, &mut buf);
            self.writer.keepalive_ping(payload, rng(&mut self.rng));
            self.keepalive_ping = Some((self.keepalive_pings, now));
            self.timers.set(
                Timer::KeepaliveDeadline,
                now + self.config.keepalive_timeout,
            );
        }
        if self.timers.take_expired(Timer::KeepaliveDeadline, now) && self.phase == Phase::Open {
            // The peer is gone: say why on the wire, then end at once rather
            // than wait for a close frame that will not come.
            let reason = "keepalive ping timeout";
            self.writer
                .close(CloseCode::INTERNAL_ERROR, reason, rng(&mut self.rng));
            self.report(Error::Timeout(TimeoutKind::Keepalive));
            self.finish(Closed::abnormal(Initiator::Local));
        }
        if self.timers.take_expired(Timer::Close, now) {
            if let Phase::Closing(closing) = &self.phase {
                if !closing.complete() && !closing.failed {
                    self.report(Error::Timeout(TimeoutKind::Close));
                }
                self.finish_closing();
            }
        }
    }
}

/// What one decoding step did.
pub(super) enum Step {
    /// An event to hand out now.
    Event(Event),
    /// State changed; events may have been queued.
    Progressed,
    /// Nothing to do until more input.
    Idle,
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Room for `keepalive ` and any `u64`.
const KEEPALIVE_PAYLOAD_MAX: usize = 30;

/// The payload of keepalive ping number `n`: `keepalive N`, written into
/// `buf` (no allocation on the pong path).
fn keepalive_payload(n: u64, buf: &mut [u8; KEEPALIVE_PAYLOAD_MAX]) -> &[u8] {
    use std::io::Write as _;
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    write!(cursor, "keepalive {n}").expect("30 bytes hold any u64");
    let len = cursor.position() as usize;
    &buf[..len]
}
