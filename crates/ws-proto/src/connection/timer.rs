//! The connection's timers, as data: a deadline per kind. The driver sleeps
//! until [`Timers::next`] and calls `handle_timeout`; a timer that has not
//! expired yet is left alone, so an early call does nothing.

use std::time::Instant;

/// The kinds of timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    /// The opening handshake must finish by then.
    Handshake = 0,
    /// The closing handshake (and, for a client, the server's end of the
    /// transport after it) must finish by then; after a failure, the close
    /// frame must be written by then (the drain time).
    Close = 1,
    /// Send a keepalive ping then.
    Keepalive = 2,
    /// Something must have arrived since the keepalive ping by then.
    KeepaliveDeadline = 3,
    /// Read the clock: a timer had to count from an input that came
    /// without its time (`Connection::commit_received_with`). Set in the
    /// past, so the driver calls `handle_timeout` at once, which arms that
    /// timer from the time it is given.
    Stamp = 4,
}

/// A deadline for each [`Timer`].
#[derive(Clone, Debug, Default)]
pub(crate) struct Timers([Option<Instant>; 5]);

impl Timers {
    pub(crate) fn set(&mut self, timer: Timer, at: Instant) {
        self.0[timer as usize] = Some(at);
    }

    pub(crate) fn get(&self, timer: Timer) -> Option<Instant> {
        self.0[timer as usize]
    }

    pub(crate) fn stop(&mut self, timer: Timer) {
        self.0[timer as usize] = None;
    }

    /// Stops `timer` and says whether it had expired at `now`.
    pub(crate) fn take_expired(&mut self, timer: Timer, now: Instant) -> bool {
        let slot = &mut self.0[timer as usize];
        if slot.is_some_and(|at| at <= now) {
            *slot = None;
            true
        } else {
            false
        }
    }

    pub(crate) fn stop_all(&mut self) {
        self.0 = [None; 5];
    }

    /// The earliest deadline.
    #[inline]
    pub(crate) fn next(&self) -> Option<Instant> {
        self.0.iter().flatten().min().copied()
    }
}
