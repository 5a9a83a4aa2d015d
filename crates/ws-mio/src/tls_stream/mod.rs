//! [`TlsStream`]: TLS over a non-blocking socket with rustls' unbuffered
//! API, where the buffers are ours and rustls works in them.
//!
//! # Why not `rustls::Connection`
//! Profiling the `wss` streaming benchmark (64 KiB messages) over the
//! buffered API put ~30% of the CPU in the `to_vec` that copies each
//! decrypted record into an owned `Vec` (glibc's `rep movsb` memmove is
//! pathologically slow for some address pairs on that CPU), and showed the
//! rest of the path around it: `read_tls` read at most 4 KiB (a 64 KiB
//! message took 16 reads, each followed by `process_new_packets`), into a
//! record buffer that was resized up and down between reads, before
//! `reader().read` copied the plaintext a second time. The unbuffered API
//! lets the records live in a buffer of ours, read in large reads, and
//! hands out plaintext as slices.
//!
//! With rustls 0.23 the `to_vec` itself stays: its unbuffered API still
//! copies each record into a `Vec` before handing out a slice of it
//! (`ReadTraffic::next_record`). Decryption handing out slices of our own
//! buffer is rustls PR #2746, not in a 0.23 release; this module already
//! adds each record's `discard` to the status', as that API asks, so the
//! copy goes away with the upgrade and nothing else here changes.
//!
//! # The buffers, and the copies of each byte
//! Receiving:
//! 1. the socket reads into [`Incoming`](buffers::Incoming), ours,
//!    bounded, 34 KiB while the peer streams: one read takes 16 to 34 KiB
//!    (a socket read is a copy by the kernel, not counted);
//! 2. rustls decrypts each record in place there, then (0.23) copies its
//!    plaintext into a `Vec` of its own: **copy 1**;
//! 3. [`read`](TlsStream::read) copies the plaintext into the room the
//!    WebSocket state machine lends (`receive_buffer`): **copy 2**, the
//!    only one this module makes. A record that does not fit in what is
//!    left of the room stays in rustls for the next read; one larger than
//!    the whole room is split: the room takes what fits and the rest
//!    waits in the [`Stash`](buffers::Stash) (a copy more, of that rest).
//!
//! Sending: [`flush`](TlsStream::flush) asks rustls to encrypt the state
//! machine's output (64 KiB at a time) straight into
//! [`Outgoing`](buffers::Outgoing), ours, and writes it with one `write`.
//! rustls 0.23 encrypts each record in a `Vec` of its own (**copy 1**, as
//! before) and copies it into `Outgoing` (**copy 2**, where the buffered
//! API wrote its `Vec`s with `writev`). Measured on an echo between two
//! ws-mio ends over `wss` (both directions through here), that copy costs
//! less than the larger reads save.
//!
//! # The handshake
//! It runs from the same two calls the loop makes for any transport:
//! [`read`](TlsStream::read) feeds rustls what the peer sent and puts what
//! rustls answers in `Outgoing`; [`flush`](TlsStream::flush) writes it.
//! The WebSocket handshake request waits in the state machine's output
//! until rustls allows application data (`WriteTraffic`).
//!
//! # Order
//! rustls' states must be handled in the order it gives them, and its
//! [`ReadTraffic`](rustls::unbuffered::ReadTraffic) comes before the
//! right to write. So a flush that meets a decrypted record (one the
//! reader left because its room was full) moves it to the stash, from
//! which the next read returns it first.

mod buffers;
// The tests build configurations, which need a provider feature.
#[cfg(all(test, any(feature = "ring", feature = "aws-lc-rs")))]
mod tests;

use std::io;
use std::num::NonZeroUsize;
use std::sync::Arc;

use rustls::client::UnbufferedClientConnection;
use rustls::pki_types::ServerName;
use rustls::server::UnbufferedServerConnection;
use rustls::unbuffered::{
    ConnectionState, EncodeError, EncryptError, InsufficientSizeError, UnbufferedStatus,
};

use buffers::{Incoming, Outgoing, Stash};

use crate::error::Error;
use crate::tls_info::TlsInfo;
use crate::transport::Read;

/// Plaintext waiting to be sent: the WebSocket state machine's output
/// queue (a trait so that the tests can use bytes of their own).
pub(crate) trait Outbox {
    /// The next contiguous run of bytes to send, if any.
    fn pending(&self) -> Option<&[u8]>;
    /// Marks the first `n` bytes of [`pending`](Self::pending) as sent.
    fn consume(&mut self, n: usize);
}

impl Outbox for ws_proto::Connection {
    fn pending(&self) -> Option<&[u8]> {
        self.poll_transmit()
    }

    fn consume(&mut self, n: usize) {
        self.advance_transmit(n);
    }
}

/// How much plaintext is encrypted before the records are written: keeps
/// [`Outgoing`] at about this size while sending a lot.
const ENCRYPT_BATCH: usize = 64 << 10;

/// What a record adds to its plaintext, rounded up (TLS 1.3: header 5,
/// content type 1, tag 16; TLS 1.2 GCM: header 5, nonce 8, tag 16). Only a
/// first guess of the room to give rustls: it says how much it needs.
const RECORD_OVERHEAD: usize = 32;

/// The most plaintext one record carries.
const RECORD_PAYLOAD: usize = 16 << 10;

enum Side {
    Client(UnbufferedClientConnection),
    Server(UnbufferedServerConnection),
}

/// A TLS session over a byte stream it does not own: each call is given
/// the socket (`io`). See the module doc for its buffers.
pub(crate) struct TlsStream {
    side: Side,
    incoming: Incoming,
    outgoing: Outgoing,
    stash: Stash,
    /// The peer sent close_notify: reads end once the stash is empty.
    peer_closed: bool,
    /// rustls failed: every later call fails the same way.
    failed: Option<rustls::Error>,
}

/// What a call wants from rustls.
enum Want<'a> {
    /// Plaintext, into `room` from `copied` on.
    Read { room: &'a mut [u8], copied: usize },
    /// To encrypt what waits in the outbox.
    Write(&'a mut dyn Outbox),
    /// To say close_notify.
    Close,
}

/// Where rustls' states led, when the caller has to act.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    /// Nothing more happens until the peer sends more.
    NeedInput,
    /// The reader's room is full, or the next record does not fit what
    /// is left of it.
    RoomFull,
    /// Records were made (encrypted data, close_notify): write them.
    Made,
    /// Application data may be sent, and none is waiting.
    Idle,
    /// The peer sent close_notify.
    PeerClosed,
    /// Both sides sent close_notify.
    Closed,
}

impl TlsStream {
    /// The client side of a session with `name`; `leftover` are bytes the
    /// server sent that were read already (past a proxy's answer).
    pub(crate) fn client(
        config: Arc<rustls::ClientConfig>,
        name: ServerName<'static>,
        leftover: &[u8],
    ) -> Result<Self, Error> {
        let conn = UnbufferedClientConnection::new(config, name).map_err(Error::Tls)?;
        let mut stream = Self::new(Side::Client(conn));
        stream.incoming.push(leftover).map_err(|_| over_bound())?;
        Ok(stream)
    }

    /// The server side of a session.
    pub(crate) fn server(config: Arc<rustls::ServerConfig>) -> Result<Self, Error> {
        let conn = UnbufferedServerConnection::new(config).map_err(Error::Tls)?;
        Ok(Self::new(Side::Server(conn)))
    }

    fn new(side: Side) -> Self {
        Self {
            side,
            incoming: Incoming::default(),
            outgoing: Outgoing::default(),
            stash: Stash::default(),
            peer_closed: false,
            failed: None,
        }
    }

    /// Whether the handshake is still under way.
    pub(crate) fn is_handshaking(&self) -> bool {
        self.common().is_handshaking()
    }

    /// What the handshake negotiated, once it is complete.
    pub(crate) fn info(&self) -> Option<TlsInfo> {
        TlsInfo::of(self.common())
    }

    /// Whether records wait to be written (the loop then watches for the
    /// socket becoming writable).
    pub(crate) fn has_output(&self) -> bool {
        !self.outgoing.is_empty()
    }

    fn common(&self) -> &rustls::CommonState {
        match &self.side {
            Side::Client(conn) => conn,
            Side::Server(conn) => conn,
        }
    }

    /// Reads plaintext into `buf`: what waits first, then what the records
    /// already read hold, and only then from `io`, once. Answers rustls
    /// makes on the way (handshake records, alerts) wait in the outgoing
    /// buffer for [`flush`](Self::flush).
    pub(crate) fn read<S: io::Read + io::Write>(
        &mut self,
        io: &mut S,
        buf: &mut [u8],
    ) -> Result<Read, Error> {
        let mut copied = self.stash.take_into(buf);
        loop {
            if copied == buf.len() {
                return Ok(Read::Data(copied));
            }
            if self.peer_closed && self.stash.is_empty() {
                // close_notify: what came before it was all read.
                return Ok(if copied > 0 {
                    Read::Data(copied)
                } else {
                    Read::Eof
                });
            }
            let mut want = Want::Read {
                room: &mut *buf,
                copied,
            };
            let stop = self.process(&mut want);
            if let Want::Read { copied: now, .. } = want {
                copied = now;
            }
            match stop {
                Ok(Stop::RoomFull) => return Ok(Read::Data(copied)),
                Ok(Stop::PeerClosed | Stop::Closed) => {
                    self.peer_closed = true;
                    continue;
                }
                Ok(_) if copied > 0 => return Ok(Read::Data(copied)),
                Ok(_) => {}
                Err(e) => {
                    // Send the alert that says why, best effort.
                    let _ = self.outgoing.write_to(io);
                    return Err(Error::Tls(e));
                }
            }
            match self.incoming.fill(io) {
                // The stream ended, with or without close_notify: either
                // way the end of input.
                Ok(Ok(0)) => return Ok(Read::Eof),
                Ok(Ok(_)) => {}
                Ok(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.incoming.drained();
                    return Ok(Read::WouldBlock);
                }
                Ok(Err(e)) => return Err(Error::Io(e)),
                Err(_) => {
                    self.failed = Some(over_bound_error());
                    return Err(over_bound());
                }
            }
        }
    }

    /// Writes what waits: records already made, then what rustls makes of
    /// the outbox's plaintext, until everything is written or `io` would
    /// block; returns whether everything was written. While the handshake
    /// is under way, the plaintext waits in the outbox.
    pub(crate) fn flush<S: io::Read + io::Write>(
        &mut self,
        io: &mut S,
        outbox: &mut dyn Outbox,
    ) -> Result<bool, Error> {
        loop {
            if !self.outgoing.write_to(io).map_err(Error::Io)? {
                return Ok(false);
            }
            match self.process(&mut Want::Write(outbox)) {
                Ok(Stop::Made) => {}
                // The handshake's records, if any, are all there is.
                Ok(_) => return self.outgoing.write_to(io).map_err(Error::Io),
                Err(e) => {
                    let _ = self.outgoing.write_to(io);
                    return Err(Error::Tls(e));
                }
            }
        }
    }

    /// Says close_notify (if the session is up and sound) and writes what
    /// waits, best effort: the socket is about to be shut.
    pub(crate) fn shutdown<S: io::Read + io::Write>(&mut self, io: &mut S) {
        if self.failed.is_none() {
            let _ = self.process(&mut Want::Close);
        }
        let _ = self.outgoing.write_to(io);
    }

    /// Hands rustls the unprocessed input until a state needs the caller.
    fn process(&mut self, want: &mut Want<'_>) -> Result<Stop, rustls::Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        loop {
            match self.step(want) {
                Ok(None) => {}
                // Edge-triggered in rustls: noted, then writing goes on.
                Ok(Some(Stop::PeerClosed)) if !matches!(want, Want::Read { .. }) => {
                    self.peer_closed = true;
                }
                Ok(Some(stop)) => return Ok(stop),
                Err(e) => {
                    self.fail(e.clone());
                    return Err(e);
                }
            }
        }
    }

    /// One call of `process_tls_records`, its state handled and its
    /// discard applied.
    fn step(&mut self, want: &mut Want<'_>) -> Result<Option<Stop>, rustls::Error> {
        let Self {
            side,
            incoming,
            outgoing,
            stash,
            ..
        } = self;
        let input = incoming.unprocessed();
        let (discard, result) = match side {
            Side::Client(conn) => handle(conn.process_tls_records(input), outgoing, stash, want),
            Side::Server(conn) => handle(conn.process_tls_records(input), outgoing, stash, want),
        };
        incoming.discard(discard);
        result
    }

    /// Notes the failure, and puts the alert rustls queued for the peer in
    /// the outgoing buffer.
    fn fail(&mut self, error: rustls::Error) {
        // Queued records come out as `EncodeTlsData` before rustls looks
        // at the input again; it must not (it would fail on the same bytes
        // and try to send a second fatal alert), so this stops as soon as
        // nothing is queued. The bound is only against surprises.
        let mut nothing = Nothing;
        for _ in 0..16 {
            if !self.common().wants_write() || self.step(&mut Want::Write(&mut nothing)).is_err() {
                break;
            }
        }
        self.failed = Some(error);
    }
}

/// An empty outbox.
struct Nothing;

impl Outbox for Nothing {
    fn pending(&self) -> Option<&[u8]> {
        None
    }

    fn consume(&mut self, _: usize) {}
}

/// Handles one state rustls reached: returns the bytes to discard from the
/// input, and where to stop (`None`: ask rustls again).
fn handle<Data>(
    status: UnbufferedStatus<'_, '_, Data>,
    outgoing: &mut Outgoing,
    stash: &mut Stash,
    want: &mut Want<'_>,
) -> (usize, Result<Option<Stop>, rustls::Error>) {
    // Counted per call: the status' discard plus each record's (rustls
    // asks for the sum, applied once the state is handled).
    let mut discard = status.discard;
    let state = match status.state {
        Ok(state) => state,
        Err(e) => return (discard, Err(e)),
    };
    let stop = match state {
        ConnectionState::ReadTraffic(mut traffic) => loop {
            if let Want::Read { room, copied } = want {
                let left = room.len() - *copied;
                let next = traffic.peek_len().map_or(0, NonZeroUsize::get);
                // A record that does not fit stays in rustls for the next
                // read, unless the room was empty (it never fits then).
                if left == 0 || (*copied > 0 && next > left) {
                    break Some(Stop::RoomFull);
                }
            }
            let record = match traffic.next_record() {
                None => break None,
                Some(Err(e)) => return (discard, Err(e)),
                Some(Ok(record)) => record,
            };
            discard += record.discard;
            match want {
                Want::Read { room, copied } => {
                    let n = record.payload.len().min(room.len() - *copied);
                    room[*copied..*copied + n].copy_from_slice(&record.payload[..n]);
                    *copied += n;
                    stash.push(&record.payload[n..]);
                }
                Want::Write(_) | Want::Close => stash.push(record.payload),
            }
        },
        ConnectionState::EncodeTlsData(mut encode) => {
            let mut needed = 0;
            loop {
                match encode.encode(outgoing.room(needed)) {
                    Ok(n) => {
                        outgoing.commit(n);
                        break;
                    }
                    Err(EncodeError::InsufficientSize(InsufficientSizeError { required_size })) => {
                        needed = required_size;
                    }
                    Err(EncodeError::AlreadyEncoded) => break,
                }
            }
            None
        }
        // The records are in `outgoing`, which flush writes in order.
        ConnectionState::TransmitTlsData(transmit) => {
            transmit.done();
            None
        }
        ConnectionState::BlockedHandshake => Some(Stop::NeedInput),
        ConnectionState::PeerClosed => Some(Stop::PeerClosed),
        ConnectionState::Closed => Some(Stop::Closed),
        ConnectionState::WriteTraffic(mut traffic) => match want {
            Want::Read { .. } => Some(Stop::NeedInput),
            Want::Write(outbox) => {
                let mut taken = 0;
                while taken < ENCRYPT_BATCH {
                    let Some(run) = outbox.pending() else {
                        break;
                    };
                    let run = &run[..run.len().min(ENCRYPT_BATCH - taken)];
                    let mut needed =
                        run.len() + run.len().div_ceil(RECORD_PAYLOAD) * RECORD_OVERHEAD;
                    let made = loop {
                        match traffic.encrypt(run, outgoing.room(needed)) {
                            Ok(n) => break n,
                            Err(EncryptError::InsufficientSize(InsufficientSizeError {
                                required_size,
                            })) => needed = required_size,
                            Err(EncryptError::EncryptExhausted) => {
                                return (discard, Err(rustls::Error::EncryptError));
                            }
                        }
                    };
                    outgoing.commit(made);
                    let len = run.len();
                    outbox.consume(len);
                    taken += len;
                }
                Some(if taken > 0 { Stop::Made } else { Stop::Idle })
            }
            Want::Close => {
                let mut needed = 0;
                loop {
                    match traffic.queue_close_notify(outgoing.room(needed)) {
                        Ok(n) => {
                            outgoing.commit(n);
                            break Some(Stop::Made);
                        }
                        Err(EncryptError::InsufficientSize(InsufficientSizeError {
                            required_size,
                        })) => needed = required_size,
                        Err(EncryptError::EncryptExhausted) => break Some(Stop::Idle),
                    }
                }
            }
        },
        // Early data is never enabled on our server configurations.
        ConnectionState::ReadEarlyData(_) => {
            return (
                discard,
                Err(rustls::Error::General("unexpected TLS early data".into())),
            );
        }
        other => {
            return (
                discard,
                Err(rustls::Error::General(format!(
                    "unexpected TLS state {other:?}"
                ))),
            );
        }
    };
    (discard, Ok(stop))
}

/// The incoming buffer is at its bound (see `buffers::MAX_INCOMING`).
fn over_bound_error() -> rustls::Error {
    rustls::Error::General("TLS input over its buffer bound".into())
}

fn over_bound() -> Error {
    Error::Tls(over_bound_error())
}
