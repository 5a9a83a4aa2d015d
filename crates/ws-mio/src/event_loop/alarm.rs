//! What wakes the loop's poll at its earliest timer (or at the bound a
//! caller of `EventLoop::turn` gave, whichever comes first).
//!
//! The plain way is to pass the time left as the poll's timeout. On Linux
//! that arms and cancels a kernel hrtimer inside every `epoll_wait` that
//! has a timer pending, which is every wait of a loop whose connections
//! have a keepalive or a close timeout: measured on the 32-byte echo
//! round trip, about 0.45 µs per wait on each side (`benches/echo.rs`,
//! latency). So on Linux the deadline is held by a timerfd registered with
//! the poll, and the poll waits without a timeout. The timerfd is set only
//! when the earliest deadline comes before the one it holds, or after it
//! rang: a deadline that moves later (a keepalive pushed back by traffic)
//! leaves it alone, it rings early, and the loop's timer heap re-arms it,
//! so a busy connection costs no syscall per turn.
//!
//! Elsewhere, or when the kernel refuses a timerfd (a sandbox), the
//! deadline goes into the poll's timeout as before.

use std::time::{Duration, Instant};

use mio::{Registry, Token};

/// The loop's alarm clock.
pub(super) struct Alarm {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    clock: Option<timerfd::TimerFd>,
}

impl Alarm {
    /// An alarm that rings as a readable event with `token` on `registry`
    /// where it can, else through [`set`](Self::set)'s returned timeout.
    #[cfg_attr(
        not(any(target_os = "linux", target_os = "android")),
        allow(unused_variables)
    )]
    pub(super) fn new(registry: &Registry, token: Token) -> Self {
        Self {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            clock: timerfd::TimerFd::new(registry, token).ok(),
        }
    }

    /// The loop's earliest deadline is `at`. Returns the timeout the poll
    /// must still be given: `None` when the alarm will wake it.
    pub(super) fn set(&mut self, at: Instant) -> Option<Duration> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(clock) = &mut self.clock {
            if clock.armed.is_some_and(|armed| armed <= at) {
                return None; // it rings at or before `at`
            }
            let left = at.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Some(Duration::ZERO); // due now: no wait at all
            }
            match clock.arm(left) {
                Ok(()) => {
                    clock.armed = Some(at);
                    return None;
                }
                // Not expected for a valid fd; fall back for good rather
                // than miss a deadline.
                Err(_) => self.clock = None,
            }
        }
        Some(at.saturating_duration_since(Instant::now()))
    }

    /// Its token was reported ready: the alarm rang.
    pub(super) fn rang(&mut self) {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(clock) = &mut self.clock {
            clock.clear();
            clock.armed = None;
        }
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[allow(unsafe_code)] // three libc calls, each with its own safety note
mod timerfd {
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::time::{Duration, Instant};

    use mio::unix::SourceFd;
    use mio::{Interest, Registry, Token};

    /// A non-blocking `CLOCK_MONOTONIC` timerfd (the clock `Instant` reads
    /// on Linux), registered for reading.
    pub(super) struct TimerFd {
        fd: OwnedFd,
        /// When it is set to ring, if it is.
        pub(super) armed: Option<Instant>,
    }

    impl TimerFd {
        pub(super) fn new(registry: &Registry, token: Token) -> io::Result<Self> {
            // SAFETY: no pointer is passed; the result is checked.
            let raw = unsafe {
                libc::timerfd_create(
                    libc::CLOCK_MONOTONIC,
                    libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
                )
            };
            if raw < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `raw` is a descriptor just created and owned by no one
            // else.
            let fd = unsafe { OwnedFd::from_raw_fd(raw) };
            registry.register(&mut SourceFd(&fd.as_raw_fd()), token, Interest::READABLE)?;
            Ok(Self { fd, armed: None })
        }

        /// Sets it to ring once, `after` from now (not zero: zero disarms).
        pub(super) fn arm(&self, after: Duration) -> io::Result<()> {
            let after = after.max(Duration::from_nanos(1));
            let spec = libc::itimerspec {
                it_interval: libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                },
                it_value: libc::timespec {
                    tv_sec: libc::time_t::try_from(after.as_secs()).unwrap_or(libc::time_t::MAX),
                    // Below 10^9: fits every `c_long`.
                    tv_nsec: after.subsec_nanos() as libc::c_long,
                },
            };
            // SAFETY: `spec` is a valid itimerspec for the call's duration;
            // the old value is not asked for (null is allowed).
            let rc = unsafe {
                libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut())
            };
            if rc < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        }

        /// Reads its expiry count, so that it is not readable until it
        /// rings again (the registration is edge-triggered: the next expiry
        /// is a new edge either way; this keeps the fd's state plain).
        pub(super) fn clear(&self) {
            let mut count = [0u8; 8];
            // SAFETY: `count` is 8 writable bytes, the size a timerfd read
            // takes. A failure (would block: it had not rung) is harmless.
            let _ =
                unsafe { libc::read(self.fd.as_raw_fd(), count.as_mut_ptr().cast(), count.len()) };
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use mio::{Events, Poll, Token};

    use super::Alarm;

    const TOKEN: Token = Token(7);

    #[test]
    fn a_due_deadline_asks_for_no_wait() {
        let poll = Poll::new().unwrap();
        let mut alarm = Alarm::new(poll.registry(), TOKEN);
        let past = Instant::now() - Duration::from_millis(1);
        assert_eq!(alarm.set(past), Some(Duration::ZERO));
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn it_wakes_a_poll_that_has_no_timeout_at_its_deadline_and_not_before() {
        let mut poll = Poll::new().unwrap();
        let mut alarm = Alarm::new(poll.registry(), TOKEN);
        let started = Instant::now();
        let at = started + Duration::from_millis(30);
        assert_eq!(alarm.set(at), None, "the timerfd carries the deadline");
        let mut events = Events::with_capacity(4);
        // The bound only keeps a broken alarm from hanging the test.
        poll.poll(&mut events, Some(Duration::from_secs(10)))
            .unwrap();
        assert!(events.iter().any(|e| e.token() == TOKEN), "it rang");
        assert!(Instant::now() >= at, "not before its deadline");
        alarm.rang();
        // Rung and cleared: a poll now sees nothing from it.
        poll.poll(&mut events, Some(Duration::ZERO)).unwrap();
        assert!(events.is_empty());
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn a_later_deadline_keeps_the_earlier_setting_and_an_earlier_one_replaces_it() {
        let mut poll = Poll::new().unwrap();
        let mut alarm = Alarm::new(poll.registry(), TOKEN);
        let now = Instant::now();
        let (early, late) = (
            now + Duration::from_millis(40),
            now + Duration::from_secs(60),
        );
        assert_eq!(alarm.set(late), None);
        assert_eq!(alarm.set(early), None);
        assert_eq!(alarm.set(late), None);
        let armed = alarm.clock.as_ref().and_then(|c| c.armed);
        assert_eq!(
            armed,
            Some(early),
            "set to the earliest deadline it was given"
        );
        let mut events = Events::with_capacity(4);
        poll.poll(&mut events, Some(Duration::from_secs(10)))
            .unwrap();
        assert!(
            events.iter().any(|e| e.token() == TOKEN),
            "it rang at the early one"
        );
        assert!(Instant::now() >= early);
        alarm.rang();
        let armed = alarm.clock.as_ref().and_then(|c| c.armed);
        assert_eq!(armed, None, "rung: the next deadline sets it again");
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    #[test]
    fn without_a_timerfd_the_poll_gets_the_time_left() {
        let poll = Poll::new().unwrap();
        let mut alarm = Alarm::new(poll.registry(), TOKEN);
        let left = alarm.set(Instant::now() + Duration::from_secs(5)).unwrap();
        assert!(left > Duration::from_secs(4) && left <= Duration::from_secs(5));
    }
}
