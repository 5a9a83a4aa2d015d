//! The two byte buffers a [`TlsStream`](super::TlsStream) owns: TLS
//! records read from the socket and not yet processed ([`Incoming`]), and
//! records encrypted or encoded and not yet written ([`Outgoing`]); and the
//! one place plaintext waits when the reader's room could not take it
//! ([`Stash`]).
//!
//! Each buffer follows the traffic, the way `ws_proto`'s read window does:
//! it starts at [`SMALL`], grows while the traffic fills it (never past a
//! bound fixed here, whatever the peer claims), and falls back to
//! [`SMALL`] once it is empty after a run of small reads or writes, so a
//! quiet connection holds 4 KiB per direction, as the buffered rustls
//! connection did.

use std::io::{self, Read, Write};

/// The largest TLS record rustls accepts: a 5-byte header and 16 KiB of
/// plaintext plus the most a TLS 1.2 cipher may add (rustls'
/// `MAX_WIRE_SIZE`).
pub(super) const MAX_RECORD: usize = 5 + 16_384 + 2_048;

/// The room one socket read has at least, beyond a record in progress, once
/// the peer streams: a read then takes 16 to 34 KiB, a 64 KiB message in
/// two to four system calls (rustls' own buffer read 4 KiB at a time).
/// Reads of 32 or 64 KiB measured no faster on the `wss` stream benchmark
/// (within its noise), so the smaller buffer is kept.
pub(super) const READ_SIZE: usize = 16 << 10;

/// The size the incoming buffer grows to while the peer streams: a whole
/// record in progress and one read behind it.
pub(super) const STEADY_INCOMING: usize = MAX_RECORD + READ_SIZE;

/// The bound of the incoming buffer, whatever the peer sends: rustls joins
/// a handshake message split over records in place, in this buffer, and
/// refuses one over 64 KiB, so the largest it can make us hold is such a
/// message and the record after it. A record header claiming more than
/// [`MAX_RECORD`] is refused by rustls as soon as its 5 bytes are in.
pub(super) const MAX_INCOMING: usize = 0x1_0000 + 2 * MAX_RECORD;

/// The size a buffer starts at and returns to when the traffic is small.
pub(super) const SMALL: usize = 4 << 10;

/// TLS records read from the socket, from the first byte rustls has not
/// told us to discard (`start`) to the last byte read (`end`).
///
/// rustls decrypts records and joins handshake messages in place here;
/// what it has finished with, it tells us to discard from the front. The
/// rest (a record not yet complete) moves to the front before the next
/// read, so one read never needs more than [`STEADY_INCOMING`] bytes.
#[derive(Default)]
pub(super) struct Incoming {
    /// Initialized (zeroed) up to its length, which is the buffer's size.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The last socket read filled all the room it had: more is probably
    /// waiting, so the next read gets more room (up to the steady size).
    filled_room: bool,
    /// How many bytes the last socket read returned.
    last_read: usize,
}

impl Incoming {
    /// The bytes rustls is to process (and may rewrite in place).
    pub(super) fn unprocessed(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.end]
    }

    /// Forgets the first `n` unprocessed bytes, as rustls asked.
    pub(super) fn discard(&mut self, n: usize) {
        debug_assert!(n <= self.end - self.start, "discarding more than held");
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            // Nothing left: the next read starts at the front, no move.
            self.start = 0;
            self.end = 0;
        }
    }

    /// Whether no byte waits to be processed.
    #[cfg(all(test, any(feature = "ring", feature = "aws-lc-rs")))]
    pub(super) fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// The size of the buffer (the heap it holds).
    #[cfg(all(test, any(feature = "ring", feature = "aws-lc-rs")))]
    pub(super) fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Appends bytes read by someone else (past a proxy's answer). Fails,
    /// taking none, if they would take the buffer over its bound.
    pub(super) fn push(&mut self, bytes: &[u8]) -> Result<(), Full> {
        if bytes.is_empty() {
            return Ok(());
        }
        let needed = self.end - self.start + bytes.len();
        if needed > MAX_INCOMING {
            return Err(Full);
        }
        self.compact();
        if self.buf.len() < needed {
            self.buf.resize(needed.max(SMALL), 0);
        }
        self.buf[self.end..self.end + bytes.len()].copy_from_slice(bytes);
        self.end += bytes.len();
        Ok(())
    }

    /// Reads once from `io` into the room after the unprocessed bytes,
    /// moving them to the front or growing the buffer first if needed.
    /// Returns what the read returned (`Ok(0)`: the stream ended), or
    /// [`Full`] without reading.
    pub(super) fn fill(&mut self, io: &mut impl Read) -> Result<io::Result<usize>, Full> {
        self.make_room()?;
        let room = self.buf.len() - self.end;
        let n = loop {
            match io.read(&mut self.buf[self.end..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Ok(Err(e)),
            }
        };
        self.end += n;
        self.last_read = n;
        self.filled_room = n == room;
        Ok(Ok(n))
    }

    /// The socket has nothing more for now: a buffer that holds nothing
    /// and served only small reads lately goes back to [`SMALL`].
    pub(super) fn drained(&mut self) {
        if self.start == self.end && self.buf.len() > SMALL && self.last_read < self.buf.len() / 4 {
            self.buf = vec![0; SMALL];
        }
    }

    fn compact(&mut self) {
        if self.start > 0 {
            // At most one record in progress (or a handshake message being
            // joined) moves: everything before it was discarded.
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
    }

    fn make_room(&mut self) -> Result<(), Full> {
        self.compact();
        let size = self.buf.len();
        let wanted = if size == 0 {
            SMALL
        } else if self.end == size {
            // Full, and rustls still needs more: a record larger than the
            // buffer, or a handshake message joined across records.
            (size * 2).min(MAX_INCOMING)
        } else if self.filled_room && size < STEADY_INCOMING {
            (size * 2).min(STEADY_INCOMING)
        } else {
            size
        };
        if wanted <= self.end {
            return Err(Full);
        }
        if wanted != size {
            self.buf.resize(wanted, 0);
        }
        Ok(())
    }
}

/// The incoming buffer is at its bound and rustls still wants more: only
/// a peer outside the protocol gets here.
#[derive(Debug)]
pub(super) struct Full;

/// TLS records ready to write, from `start` to `end`, in the order they
/// were made (handshake records, then application data, then alerts).
#[derive(Default)]
pub(super) struct Outgoing {
    /// Initialized (zeroed) up to its length, which is the buffer's size.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The bytes made since the buffer was last empty.
    made: usize,
}

impl Outgoing {
    /// Whether every record made has been written.
    pub(super) fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// At least `len` bytes of room after what waits, for rustls to write
    /// records into (then [`commit`](Self::commit) what it wrote).
    pub(super) fn room(&mut self, len: usize) -> &mut [u8] {
        if self.buf.len() - self.end < len {
            if self.start > 0 {
                // Only records made while earlier ones waited (handshake
                // records, alerts) are here: small.
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            let size = (self.end + len).max(SMALL);
            if self.buf.len() < size {
                self.buf.resize(size, 0);
            }
        }
        &mut self.buf[self.end..]
    }

    /// Counts `n` bytes written into [`room`](Self::room) as made.
    pub(super) fn commit(&mut self, n: usize) {
        self.end += n;
        self.made += n;
    }

    /// Writes what waits to `io` until it is all written or `io` would
    /// block; returns whether it is all written.
    pub(super) fn write_to(&mut self, io: &mut impl Write) -> io::Result<bool> {
        if self.start == self.end {
            return Ok(true);
        }
        while self.start < self.end {
            match io.write(&self.buf[self.start..self.end]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.start += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        // All out: the next records start at the front. A buffer that
        // grew for a burst goes back to small once the output is small.
        if self.buf.len() > SMALL && self.made < self.buf.len() / 4 {
            self.buf = Vec::new();
        }
        self.start = 0;
        self.end = 0;
        self.made = 0;
        Ok(true)
    }

    /// The size of the buffer (the heap it holds).
    #[cfg(all(test, any(feature = "ring", feature = "aws-lc-rs")))]
    pub(super) fn capacity(&self) -> usize {
        self.buf.len()
    }
}

/// Plaintext taken out of rustls that no reader's room has taken yet: the
/// rest of a record larger than the room, or records rustls decrypted
/// while [`flush`](super::TlsStream::flush) asked it for the right to
/// write. The next reads return it first.
///
/// This is a copy the ideal path does not make, so it is kept to those two
/// cases: the reader stops before a record that does not fit in what is
/// left of its room (rustls keeps it), and reads until no whole record is
/// left, so a flush rarely finds one.
#[derive(Default)]
pub(super) struct Stash {
    buf: Vec<u8>,
    start: usize,
}

impl Stash {
    /// Whether plaintext waits here.
    pub(super) fn is_empty(&self) -> bool {
        self.start == self.buf.len()
    }

    /// Keeps `bytes` after what waits.
    pub(super) fn push(&mut self, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.buf.extend_from_slice(bytes);
        }
    }

    /// Moves as much as fits into `dst`; returns how much.
    pub(super) fn take_into(&mut self, dst: &mut [u8]) -> usize {
        let waiting = &self.buf[self.start..];
        let n = waiting.len().min(dst.len());
        dst[..n].copy_from_slice(&waiting[..n]);
        self.start += n;
        if self.start == self.buf.len() {
            // Emptied: at most a few records' worth, kept only if small.
            self.buf.clear();
            if self.buf.capacity() > SMALL {
                self.buf = Vec::new();
            }
            self.start = 0;
        }
        n
    }
}
