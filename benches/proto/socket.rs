//! The in-memory socket every library of `benches/proto.rs` reads from and
//! writes to: one type, with `std::io::{Read, Write}` (ws-proto's driver
//! loop and tungstenite) and tokio's `AsyncRead + AsyncWrite` (fastwebsockets)
//! over the same state, so the three see the same bytes cut the same way.

use std::cell::RefCell;
use std::io::{self, IoSlice, Read, Write};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What a socket read returns at most: a 64 KiB read, as an event-loop
/// driver's read call with a 64 KiB buffer gets from a busy socket.
pub(crate) const READ_CHUNK: usize = 64 << 10;

/// Where writes land: a `Vec` shared with the benchmark, which clears it at
/// the start of every iteration (fastwebsockets' `WebSocket` owns its stream
/// and has no `get_mut`, so the benchmark keeps a handle of its own).
pub(crate) type Sink = Rc<RefCell<Vec<u8>>>;

/// An endless incoming byte stream and a write sink.
///
/// Reads serve `ring` over and over, the way a socket serves a peer that
/// keeps sending: each read returns the bytes the caller has room for, at
/// most [`READ_CHUNK`], and stops at the end of the ring (a short read); the
/// next one starts again at its beginning. The ring holds whole frames, so
/// the stream is an endless sequence of valid frames, and which bytes a read
/// returns depends only on where the previous one stopped and on the room
/// the reader offers, never on which library reads.
///
/// Writes append to the [`Sink`] (a copy, as `write(2)` copies into the
/// kernel); vectored writes append every slice.
pub(crate) struct MemSocket {
    ring: Vec<u8>,
    pos: usize,
    sink: Sink,
}

impl MemSocket {
    /// A socket serving `ring` (empty: every read would block) and writing
    /// into `sink`.
    pub(crate) fn new(ring: Vec<u8>, sink: Sink) -> Self {
        Self { ring, pos: 0, sink }
    }

    /// The bytes the next read returns to a reader with `room` bytes of room.
    #[inline]
    fn next_bytes(&self, room: usize) -> &[u8] {
        let rest = &self.ring[self.pos..];
        &rest[..rest.len().min(room).min(READ_CHUNK)]
    }

    /// Marks `n` bytes of the ring as read.
    #[inline]
    fn consume(&mut self, n: usize) {
        self.pos += n;
        if self.pos == self.ring.len() {
            self.pos = 0;
        }
    }
}

impl Read for MemSocket {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.ring.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let bytes = self.next_bytes(buf.len());
        let n = bytes.len();
        buf[..n].copy_from_slice(bytes);
        self.consume(n);
        Ok(n)
    }
}

impl Write for MemSocket {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sink.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }

    #[inline]
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut sink = self.sink.borrow_mut();
        let mut n = 0;
        for buf in bufs {
            sink.extend_from_slice(buf);
            n += buf.len();
        }
        Ok(n)
    }

    #[inline]
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsyncRead for MemSocket {
    #[inline]
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.ring.is_empty() {
            return Poll::Pending;
        }
        // Copied into the unfilled room as it is, uninitialised or not, as
        // the kernel does: no zeroing first.
        let bytes = this.next_bytes(buf.remaining());
        let n = bytes.len();
        buf.put_slice(bytes);
        this.consume(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for MemSocket {
    #[inline]
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Write::write(self.get_mut(), buf))
    }

    #[inline]
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Write::write_vectored(self.get_mut(), bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    #[inline]
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    #[inline]
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
