//! When a connection is made again after it ended ([`ReconnectPolicy`]),
//! and how long to wait first: exponential backoff with full jitter, so
//! that many clients dropped at once by a server restart do not come back
//! at once.

use std::time::{Duration, Instant};

use crate::error::Error;

/// The reconnect policy of [`Builder::reconnect`](crate::Builder::reconnect):
/// after a connection ends uncleanly (lost, timed out, failed by either
/// side) or cannot be made, the same `WebSocket` connects again, after a
/// delay drawn at random between zero and `min(max_delay, initial_delay ×
/// factor^(n-1))` for the n-th attempt in a row ("full jitter").
///
/// Never after the application's own `terminate()`, nor after a clean
/// close the server started, unless [`after_clean_close`](Self::after_clean_close)
/// says so; never after a failure that would only repeat (the server
/// refusing the handshake with a 4xx status other than 408 or 429, a
/// redirect that cannot be followed, a TLS configuration that cannot be
/// built).
///
/// ```
/// use std::time::Duration;
/// use ws_client::ReconnectPolicy;
///
/// let policy = ReconnectPolicy::default()
///     .initial_delay(Duration::from_millis(500))
///     .max_delay(Duration::from_secs(30))
///     .max_attempts(Some(10));
/// // The 3rd attempt in a row waits at most 0.5 s × 2² = 2 s.
/// assert_eq!(policy.ceiling(3), Duration::from_secs(2));
/// assert_eq!(policy.ceiling(20), Duration::from_secs(30));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ReconnectPolicy {
    initial_delay: Duration,
    factor: f64,
    max_delay: Duration,
    max_attempts: Option<u32>,
    reset_after: Duration,
    after_clean_close: bool,
}

impl Default for ReconnectPolicy {
    /// First attempt within 1 s, the ceiling doubling per attempt up to
    /// 60 s, attempts without end, the count starting over once a
    /// connection has stayed open for 10 s, no reconnect after a clean
    /// close.
    fn default() -> Self {
        Self {
            initial_delay: Duration::from_secs(1),
            factor: 2.0,
            max_delay: Duration::from_secs(60),
            max_attempts: None,
            reset_after: Duration::from_secs(10),
            after_clean_close: false,
        }
    }
}

impl ReconnectPolicy {
    /// The ceiling of the first attempt's delay (default 1 s).
    pub fn initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }

    /// What the ceiling is multiplied by per attempt (default 2; below 1
    /// counts as 1).
    pub fn factor(mut self, factor: f64) -> Self {
        self.factor = if factor.is_finite() {
            factor.max(1.0)
        } else {
            1.0
        };
        self
    }

    /// The highest ceiling (default 60 s).
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// How many attempts in a row, at most, before giving up (`None`, the
    /// default: no limit).
    pub fn max_attempts(mut self, attempts: Option<u32>) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// How long a connection must stay open for the attempt count (and so
    /// the delay) to start over (default 10 s). A server that accepts and
    /// drops at once is thereby held by the backoff as one that refuses.
    pub fn reset_after(mut self, open_for: Duration) -> Self {
        self.reset_after = open_for;
        self
    }

    /// Reconnects after a clean close the server started too (a server
    /// going away for a restart sends 1001 or 1012). Default: no.
    pub fn after_clean_close(mut self, yes: bool) -> Self {
        self.after_clean_close = yes;
        self
    }

    /// The most the `attempt`-th attempt in a row (from 1) waits.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let exponent = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
        let ceiling = self.initial_delay.as_secs_f64() * self.factor.powi(exponent);
        let max = self.max_delay.as_secs_f64();
        if ceiling.is_finite() && ceiling < max {
            Duration::from_secs_f64(ceiling)
        } else {
            self.max_delay
        }
    }

    /// The `attempt`-th attempt's delay for `unit`, a random number in
    /// [0, 1).
    pub(crate) fn delay(&self, attempt: u32, unit: f64) -> Duration {
        self.ceiling(attempt).mul_f64(unit.clamp(0.0, 1.0))
    }
}

/// A reconnect scheduled when a connection ended, in its
/// [`TerminateEvent`](crate::TerminateEvent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reconnect {
    /// Which attempt in a row this is (1 after a connection that had been
    /// open long enough, see [`ReconnectPolicy::reset_after`]).
    pub attempt: u32,
    /// How long until it starts.
    pub delay: Duration,
}

/// `{"attempt":1,"delayMs":850}`.
#[cfg(feature = "json")]
impl serde::Serialize for Reconnect {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("attempt", &self.attempt)?;
        map.serialize_entry("delayMs", &self.delay.as_millis())?;
        map.end()
    }
}

/// How a connection ended, as the policy weighs it.
pub(crate) struct Ending {
    /// The application called `terminate`.
    pub(crate) by_user: bool,
    /// An error was reported before the end.
    pub(crate) failed: bool,
    /// ... one that would only happen again ([`repeats`]).
    pub(crate) failed_for_good: bool,
    /// The closing handshake completed.
    pub(crate) was_clean: bool,
    /// When the connection opened, if it did.
    pub(crate) opened: Option<Instant>,
}

/// The attempts in a row of one `WebSocket`.
#[derive(Debug, Default)]
pub(crate) struct Attempts {
    in_a_row: u32,
}

impl Attempts {
    /// The reconnect that follows `ending` under `policy`, if any (and
    /// counts it), with `unit` a random number in [0, 1).
    pub(crate) fn next(
        &mut self,
        policy: &ReconnectPolicy,
        ending: &Ending,
        unit: f64,
    ) -> Option<Reconnect> {
        if ending.by_user || ending.failed_for_good {
            return None;
        }
        if ending.was_clean && !ending.failed && !policy.after_clean_close {
            return None;
        }
        if ending
            .opened
            .is_some_and(|at| at.elapsed() >= policy.reset_after)
        {
            self.in_a_row = 0;
        }
        let attempt = self.in_a_row + 1;
        if policy.max_attempts.is_some_and(|max| attempt > max) {
            return None;
        }
        self.in_a_row = attempt;
        Some(Reconnect {
            attempt,
            delay: policy.delay(attempt, unit),
        })
    }
}

/// Whether `error` would only happen again: trying again is pointless.
pub(crate) fn repeats(error: &Error) -> bool {
    use ws_mio::Error as M;
    use ws_proto::{Error as P, HandshakeError as H};
    match error {
        Error::Connection(M::Protocol(P::Handshake(H::Rejected(rejection)))) => {
            (400..500).contains(&rejection.status) && !matches!(rejection.status, 408 | 429)
        }
        Error::Connection(M::TlsConfig(_) | M::TlsUnavailable | M::Request(_) | M::LoopStopped) => {
            true
        }
        Error::TooManyRedirects { .. }
        | Error::InvalidRedirect { .. }
        | Error::TlsConfig(_)
        | Error::InvalidRequest(_)
        | Error::InvalidUrl { .. }
        | Error::InvalidProxy(_)
        | Error::Stopped => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lost() -> Ending {
        Ending {
            by_user: false,
            failed: false,
            failed_for_good: false,
            was_clean: false,
            opened: None,
        }
    }

    #[test]
    fn the_ceiling_grows_by_the_factor_up_to_the_cap() {
        let policy = ReconnectPolicy::default()
            .initial_delay(Duration::from_millis(100))
            .factor(3.0)
            .max_delay(Duration::from_secs(2));
        let ceilings: Vec<u128> = (1..=5).map(|n| policy.ceiling(n).as_millis()).collect();
        assert_eq!(ceilings, [100, 300, 900, 2000, 2000]);
        assert_eq!(policy.ceiling(u32::MAX), Duration::from_secs(2));
        assert_eq!(policy.delay(2, 0.5), Duration::from_millis(150));
        assert_eq!(policy.delay(2, 0.0), Duration::ZERO);
    }

    #[test]
    fn a_factor_below_one_or_not_a_number_is_one() {
        for factor in [0.5, f64::NAN, f64::INFINITY, -2.0] {
            let policy = ReconnectPolicy::default().factor(factor);
            assert_eq!(policy.ceiling(7), Duration::from_secs(1), "{factor}");
        }
    }

    #[test]
    fn attempts_count_up_and_stop_at_the_limit() {
        let policy = ReconnectPolicy::default().max_attempts(Some(3));
        let mut attempts = Attempts::default();
        let numbers: Vec<_> = (0..5)
            .map(|_| attempts.next(&policy, &lost(), 0.99).map(|r| r.attempt))
            .collect();
        assert_eq!(numbers, [Some(1), Some(2), Some(3), None, None]);
    }

    #[test]
    fn a_connection_open_long_enough_starts_the_count_over() {
        let policy = ReconnectPolicy::default().reset_after(Duration::ZERO);
        let mut attempts = Attempts::default();
        attempts.next(&policy, &lost(), 0.5);
        attempts.next(&policy, &lost(), 0.5);
        let long = Ending {
            opened: Some(Instant::now()),
            ..lost()
        };
        assert_eq!(attempts.next(&policy, &long, 0.5).unwrap().attempt, 1);
        // Open, but not long enough: the count goes on.
        let policy = ReconnectPolicy::default();
        let short = Ending {
            opened: Some(Instant::now()),
            ..lost()
        };
        assert_eq!(attempts.next(&policy, &short, 0.5).unwrap().attempt, 2);
    }

    #[test]
    fn no_reconnect_after_terminate_or_a_clean_close_unless_asked() {
        let policy = ReconnectPolicy::default();
        let mut attempts = Attempts::default();
        let by_user = Ending {
            by_user: true,
            ..lost()
        };
        assert_eq!(attempts.next(&policy, &by_user, 0.5), None);
        let clean = Ending {
            was_clean: true,
            ..lost()
        };
        assert_eq!(attempts.next(&policy, &clean, 0.5), None);
        let asked = policy.after_clean_close(true);
        assert!(attempts.next(&asked, &clean, 0.5).is_some());
        assert_eq!(attempts.next(&asked, &by_user, 0.5), None);
    }

    #[test]
    fn failures_that_would_repeat_end_the_attempts() {
        let rejected = |status| {
            Error::Connection(ws_mio::Error::Protocol(ws_proto::Error::Handshake(
                ws_proto::HandshakeError::Rejected(Box::new(ws_proto::Rejection {
                    status,
                    reason: String::new(),
                    headers: ws_proto::Headers::default(),
                    body: Vec::new(),
                })),
            )))
        };
        let policy = ReconnectPolicy::default();
        for (status, again) in [(401, false), (404, false), (429, true), (503, true)] {
            let error = rejected(status);
            let ending = Ending {
                failed: true,
                failed_for_good: repeats(&error),
                ..lost()
            };
            let next = Attempts::default().next(&policy, &ending, 0.5);
            assert_eq!(next.is_some(), again, "{status}");
        }
        let lost_error =
            Error::Connection(ws_mio::Error::Protocol(ws_proto::Error::ConnectionLost));
        assert!(!repeats(&lost_error));
        let ending = Ending {
            failed: true,
            was_clean: true,
            ..lost()
        };
        assert!(Attempts::default().next(&policy, &ending, 0.5).is_some());
    }
}
