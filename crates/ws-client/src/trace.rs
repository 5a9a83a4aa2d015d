//! Diagnostics through `tracing`, behind the `tracing` feature (off by
//! default, and it turns on ws-mio's, which logs each connection's stages,
//! open, errors and end). Each macro here is a `tracing` macro when the
//! feature is on and nothing at all when it is off.
//!
//! What this crate adds, with the `WebSocket`'s id as `ws`: each attempt
//! with its ws-mio connection id as `conn` (debug), `terminate` (debug),
//! the error `on_error` reports (warn), a redirect followed and a
//! reconnect scheduled (info).

macro_rules! log_debug {
    ($($arg:tt)*) => {
        #[cfg(feature = "tracing")]
        {
            tracing::debug!(target: "ws_client", $($arg)*);
        }
    };
}

macro_rules! log_info {
    ($($arg:tt)*) => {
        #[cfg(feature = "tracing")]
        {
            tracing::info!(target: "ws_client", $($arg)*);
        }
    };
}

macro_rules! log_warn {
    ($($arg:tt)*) => {
        #[cfg(feature = "tracing")]
        {
            tracing::warn!(target: "ws_client", $($arg)*);
        }
    };
}

pub(crate) use {log_debug as debug, log_info as info, log_warn as warn};
