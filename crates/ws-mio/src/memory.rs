//! The loop's memory budget: the heap its connections' buffers hold
//! together, and the one rule that keeps it within a bound.
//!
//! Each connection's share is what its state machine's buffers hold
//! (`ws_proto::Connection::buffer_capacity`: the read buffer, the message
//! being assembled, the output queue and given-away payloads waiting in
//! it), measured after every read, write and send, and summed here. With a
//! budget set:
//! - a send that would take the total over it is refused
//!   (`SendError::WriteBufferFull`, with the budget as the limit), so the
//!   application's own output never pushes the loop over;
//! - a connection whose input makes the total pass it is failed (close
//!   1013, "try again later", from a server; 1009 from a client), which
//!   frees its buffers at once; the others keep working.
//!
//! The check follows each read, so a connection can pass the budget by
//! what one read makes it allocate before it is stopped: the read (256
//! KiB), a step of a large frame's buffer (1 MiB), or the doubling of a
//! message being assembled (at most half its limit).

use std::sync::atomic::{AtomicUsize, Ordering};

use ws_proto::SendError;

use crate::conn::Shared;

/// What the loop's connections hold, and the budget, shared with every
/// [`Conn`](crate::Conn).
#[derive(Debug)]
pub(crate) struct Memory {
    held: AtomicUsize,
    /// `usize::MAX`: no budget.
    budget: AtomicUsize,
}

impl Default for Memory {
    fn default() -> Self {
        Self {
            held: AtomicUsize::new(0),
            budget: AtomicUsize::new(usize::MAX),
        }
    }
}

impl Memory {
    pub(crate) fn set_budget(&self, budget: Option<usize>) {
        self.budget
            .store(budget.unwrap_or(usize::MAX), Ordering::Relaxed);
    }

    pub(crate) fn budget(&self) -> Option<usize> {
        Some(self.budget.load(Ordering::Relaxed)).filter(|&b| b != usize::MAX)
    }

    /// Bytes held by all the loop's connections, as last measured.
    pub(crate) fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// Records what `conn`'s state machine holds now (call with its lock
    /// held); returns whether that grew.
    pub(crate) fn account(&self, conn: &Shared, proto: &ws_proto::Connection) -> bool {
        self.set(conn, proto.buffer_capacity())
    }

    /// Takes a connection that is gone out of the total.
    pub(crate) fn forget(&self, conn: &Shared) {
        self.set(conn, 0);
    }

    fn set(&self, conn: &Shared, now: usize) -> bool {
        // Most sends and reads leave the buffers as they were: then two
        // atomic read-modify-writes (tens of cycles each) are saved. The
        // check is only a shortcut: what the total gains or loses is
        // always what the swap replaced.
        if conn.held.load(Ordering::Relaxed) == now {
            return false;
        }
        let before = conn.held.swap(now, Ordering::Relaxed);
        if now >= before {
            self.held.fetch_add(now - before, Ordering::Relaxed);
        } else {
            self.held.fetch_sub(before - now, Ordering::Relaxed);
        }
        now > before
    }

    /// Whether the total is over the budget.
    pub(crate) fn exceeded(&self) -> bool {
        self.budget().is_some_and(|budget| self.held() > budget)
    }

    /// Refuses a message of `len` bytes that would take the total over
    /// the budget.
    pub(crate) fn admit(&self, len: usize) -> Result<(), SendError> {
        match self.budget() {
            Some(budget) if self.held().saturating_add(len) > budget => {
                Err(SendError::WriteBufferFull {
                    buffered: self.held(),
                    needed: len,
                    limit: budget,
                })
            }
            _ => Ok(()),
        }
    }
}
