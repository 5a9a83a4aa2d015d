//! Diagnostics through `tracing`, behind the `tracing` feature (off by
//! default): each macro here is a `tracing` macro when the feature is on,
//! and nothing at all (its arguments not even evaluated) when it is off,
//! so call sites need no `cfg` of their own.
//!
//! What is logged, with the connection's id as `conn`: each connect stage
//! (debug), the opening of a connection and its end (info), its error
//! (warn), and the loop's own failures of a connection (warn).

macro_rules! log_debug {
    ($($arg:tt)*) => {
        #[cfg(feature = "tracing")]
        {
            tracing::debug!(target: "ws_mio", $($arg)*);
        }
    };
}

// Used only by `event` below, itself empty without the feature.
#[cfg_attr(not(feature = "tracing"), allow(unused_macros))]
macro_rules! log_info {
    ($($arg:tt)*) => {
        #[cfg(feature = "tracing")]
        {
            tracing::info!(target: "ws_mio", $($arg)*);
        }
    };
}

macro_rules! log_warn {
    ($($arg:tt)*) => {
        #[cfg(feature = "tracing")]
        {
            tracing::warn!(target: "ws_mio", $($arg)*);
        }
    };
}

pub(crate) use {log_debug as debug, log_warn as warn};

/// A connection's open, error and end, as the handler is about to hear
/// them (messages are not logged: too many, and they are the user's data).
#[inline]
pub(crate) fn event(conn: u64, event: &crate::Event) {
    #[cfg(feature = "tracing")]
    match event {
        crate::Event::Open(open) => {
            log_info!(conn, subprotocol = open.subprotocol.as_deref(), "open");
        }
        crate::Event::Error(error) => {
            log_warn!(conn, component = error.component(), error = %error, "connection error");
        }
        crate::Event::Closed(closed) => {
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
