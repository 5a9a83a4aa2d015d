//! [`Link`]: what the loop and every [`Conn`](crate::Conn) handle share
//! under one lock: a connection's state machine and, once it streams, the
//! transport under it.
//!
//! Both under one lock is what lets any thread write: a send queues its
//! frame and, when nothing was waiting before it, writes it to the socket
//! at once from the sender's thread, in the order the lock gives (one
//! syscall, no wake-up of the loop). The loop writes only what a full
//! socket left over, when the socket is writable again. It is also what
//! lets the loop read straight into the state machine's buffer.

use std::io::IoSlice;
use std::sync::{Mutex, MutexGuard};

use crate::error::Error;
use crate::transport::{Transport, write_plain};

pub(crate) struct Link {
    pub(crate) proto: ws_proto::Connection,
    /// The byte stream, from when the connection is made until it is shut.
    pub(crate) transport: Option<Transport>,
    /// The socket would not take everything: the rest waits for the loop,
    /// which writes when the socket is writable. Senders only queue
    /// meanwhile (writing ahead of the loop would change nothing, and the
    /// order is kept by the queue).
    pub(crate) blocked: bool,
    /// A write from a sender's thread failed; the loop reports it.
    pub(crate) failed: Option<Error>,
}

impl Link {
    pub(crate) fn new(proto: ws_proto::Connection) -> Self {
        Self {
            proto,
            transport: None,
            blocked: false,
            failed: None,
        }
    }

    /// Writes what the state machine has queued, until done or the socket
    /// is full, and notes which. Returns whether everything was written; a
    /// failure is kept for the loop to report (`false`).
    pub(crate) fn write(&mut self) -> bool {
        if self.failed.is_some() {
            return false;
        }
        let Some(transport) = &mut self.transport else {
            return false;
        };
        match transport.flush(&mut self.proto) {
            Ok(done) => {
                self.blocked = !done;
                done
            }
            Err(e) => {
                self.failed = Some(e);
                false
            }
        }
    }

    /// Whether a sender's thread may write now: the connection streams,
    /// the socket took everything so far, and it has not failed.
    pub(crate) fn writable_now(&self) -> bool {
        self.transport.is_some() && !self.blocked && self.failed.is_none()
    }

    /// Whether a sender's thread may write a message through, from the
    /// sender's buffer: as [`writable_now`](Self::writable_now), over plain
    /// TCP (rustls copies what it encrypts whatever we do).
    pub(crate) fn can_write_through(&self) -> bool {
        matches!(self.transport, Some(Transport::Plain(_))) && self.writable_now()
    }

    /// Runs `send` with the state machine and a write into the socket
    /// that it may use once (`ws_proto::Connection::send_binary_through`):
    /// the write returns how many bytes the socket took, notes a full
    /// socket as [`blocked`](Self::blocked) and keeps a failure for the
    /// loop, as [`write`](Self::write) does. Only when
    /// [`can_write_through`](Self::can_write_through).
    pub(crate) fn write_through<T>(
        &mut self,
        send: impl FnOnce(&mut ws_proto::Connection, &mut dyn FnMut(&[IoSlice<'_>]) -> usize) -> T,
    ) -> T {
        let Self {
            proto,
            transport,
            blocked,
            failed,
        } = self;
        let Some(Transport::Plain(stream)) = transport else {
            unreachable!("write_through without can_write_through");
        };
        // What the write does not take stays queued, in order; a short
        // write's rest goes with the next flush, which finds out whether
        // the socket is full.
        let mut write = |slices: &[IoSlice<'_>]| match write_plain(stream, slices) {
            Ok(Some(n)) => n,
            Ok(None) => {
                *blocked = true;
                0
            }
            Err(e) => {
                *failed = Some(e);
                0
            }
        };
        send(proto, &mut write)
    }

    /// Whether the loop must watch for the socket becoming writable.
    pub(crate) fn wants_writable(&self) -> bool {
        self.blocked || matches!(&self.transport, Some(Transport::Tls(_, tls)) if tls.has_output())
    }
}

/// Locks a connection's link. A handler that panicked while holding the
/// lock leaves it poisoned; the state machine is consistent between calls,
/// so the lock is taken anyway.
pub(crate) fn lock(link: &Mutex<Link>) -> MutexGuard<'_, Link> {
    link.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
