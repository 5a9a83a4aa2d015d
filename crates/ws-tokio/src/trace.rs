//! Diagnostics through `tracing`, behind the `tracing` feature (off by
//! default). Each macro here is a `tracing` macro when the feature is on
//! and nothing at all (its arguments not even evaluated) when it is off.
//!
//! What is logged, with a per-process connection number as `conn`: the
//! connect stages (debug), the opening of a connection and its end (info),
//! its error (warn).

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! log_debug {
    ($($arg:tt)*) => {
        #[cfg(feature = "tracing")]
        {
            tracing::debug!(target: "ws_tokio", $($arg)*);
        }
    };
}

// Used only by `event` below, itself empty without the feature.
#[cfg_attr(not(feature = "tracing"), allow(unused_macros))]
macro_rules! log_info {
    ($($arg:tt)*) => {
        #[cfg(feature = "tracing")]
        {
            tracing::info!(target: "ws_tokio", $($arg)*);
        }
    };
}

#[cfg_attr(not(feature = "tracing"), allow(unused_macros))]
macro_rules! log_warn {
    ($($arg:tt)*) => {
        #[cfg(feature = "tracing")]
        {
            tracing::warn!(target: "ws_tokio", $($arg)*);
        }
    };
}

pub(crate) use log_debug as debug;

/// A number for a new connection, to tell its lines apart.
pub(crate) fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A connection's open, error and end (messages are not logged: too many,
/// and they are the user's data).
#[inline]
pub(crate) fn event(conn: u64, event: &ws_proto::Event) {
    #[cfg(feature = "tracing")]
    match event {
        ws_proto::Event::Open(open) => {
            log_info!(conn, subprotocol = open.subprotocol.as_deref(), "open");
        }
        ws_proto::Event::Error(error) => {
            log_warn!(conn, error = %error, "connection error");
        }
        ws_proto::Event::Closed(closed) => {
            log_info!(
                conn,
                code = closed.code.0,
                reason = %closed.reason,
                was_clean = closed.was_clean,
                initiator = ?closed.initiator,
                "closed"
            );
        }
        _ => {}
    }
    #[cfg(not(feature = "tracing"))]
    let _ = (conn, event);
}
