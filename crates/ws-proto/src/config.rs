//! Limits, timers and behaviour switches of a connection.

use std::time::Duration;

use crate::extension::DeflateConfig;

/// Settings shared by both roles. `Config::default()` is safe against a
/// hostile peer; raise a limit only where the application needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Largest payload of a single received frame, in bytes. A frame that
    /// announces more is refused (close 1009) before any of its payload is
    /// buffered. Default: 16 MiB.
    pub max_frame_size: usize,
    /// Largest received message, summed over its fragments. Default: 64 MiB.
    pub max_message_size: usize,
    /// Largest received ping/pong/close payload, at most 125 (the protocol's
    /// own limit). A larger control frame closes with 1002 past 125 and 1009
    /// between this limit and 125. Default: 125.
    pub max_control_payload: usize,
    /// Largest HTTP head (request or response line plus headers) accepted in
    /// the opening handshake. Default: 16 KiB.
    pub max_handshake_size: usize,
    /// Most HTTP headers accepted in the opening handshake. Default: 64.
    pub max_handshake_headers: usize,
    /// Outgoing messages longer than this are split into frames of at most
    /// this many payload bytes. `None` sends every message as one frame.
    /// Default: `None`.
    pub send_fragment_size: Option<usize>,
    /// The most bytes that may wait in the output buffer. A message, ping or
    /// pong the application sends that would go over it fails with
    /// [`SendError::WriteBufferFull`](crate::SendError) and queues nothing;
    /// an automatic pong or keepalive ping that would is skipped. Only the
    /// close frame (one per connection) is queued whatever the limit. The
    /// buffer's allocation stays within this limit plus a fixed slack of
    /// about 400 KiB, whatever the pattern of partial writes. Default:
    /// 64 MiB.
    pub max_write_buffer: usize,
    /// Answer every ping with a pong automatically. Default: `true`.
    pub auto_pong: bool,
    /// How long the opening handshake may take, from the connection's
    /// creation. Default: 10 s.
    pub handshake_timeout: Option<Duration>,
    /// How long to wait for the peer's close frame after sending one, and
    /// (client) for the server to end the transport after the closing
    /// handshake. Default: 5 s.
    pub close_timeout: Option<Duration>,
    /// After this side fails the connection (a protocol violation by the
    /// peer, or [`Connection::fail`](crate::Connection::fail)), how long its
    /// close frame may take to be written; the connection ends as soon as
    /// it is written, and at this deadline otherwise (a peer that does not
    /// read). `None` waits up to [`close_timeout`](Self::close_timeout).
    /// Default: 1 s.
    pub drain_timeout: Option<Duration>,
    /// Send a ping after this long without receiving anything. Default: `None`.
    pub keepalive_interval: Option<Duration>,
    /// After a keepalive ping, fail the connection (close 1011) if nothing at
    /// all arrives within this time. Default: 20 s (used only with
    /// `keepalive_interval`).
    pub keepalive_timeout: Duration,
    /// permessage-deflate (RFC 7692): a client offers it, a server accepts
    /// an offer, with these settings; `None` neither offers nor accepts it.
    /// With it on, [`max_frame_size`](Self::max_frame_size) bounds the
    /// compressed frames and [`max_message_size`](Self::max_message_size)
    /// the inflated message. Default: `None`.
    ///
    /// Without the crate's `deflate` feature this field is ignored (read as
    /// `None`); it stays so that code setting it compiles under every
    /// feature set.
    pub deflate: Option<DeflateConfig>,
}

/// Chaining setters: `Config` is `#[non_exhaustive]` (a new setting is
/// not a breaking change), so build one from its default and set what
/// differs, as in `Config::default().max_frame_size(..)`; or set its public
/// fields on a mutable value.
impl Config {
    /// Sets [`max_frame_size`](Self::max_frame_size).
    #[must_use]
    pub fn max_frame_size(mut self, max_frame_size: usize) -> Self {
        self.max_frame_size = max_frame_size;
        self
    }

    /// Sets [`max_message_size`](Self::max_message_size).
    #[must_use]
    pub fn max_message_size(mut self, max_message_size: usize) -> Self {
        self.max_message_size = max_message_size;
        self
    }

    /// Sets [`max_control_payload`](Self::max_control_payload).
    #[must_use]
    pub fn max_control_payload(mut self, max_control_payload: usize) -> Self {
        self.max_control_payload = max_control_payload;
        self
    }

    /// Sets [`max_handshake_size`](Self::max_handshake_size).
    #[must_use]
    pub fn max_handshake_size(mut self, max_handshake_size: usize) -> Self {
        self.max_handshake_size = max_handshake_size;
        self
    }

    /// Sets [`max_handshake_headers`](Self::max_handshake_headers).
    #[must_use]
    pub fn max_handshake_headers(mut self, max_handshake_headers: usize) -> Self {
        self.max_handshake_headers = max_handshake_headers;
        self
    }

    /// Sets [`send_fragment_size`](Self::send_fragment_size).
    #[must_use]
    pub fn send_fragment_size(mut self, send_fragment_size: Option<usize>) -> Self {
        self.send_fragment_size = send_fragment_size;
        self
    }

    /// Sets [`max_write_buffer`](Self::max_write_buffer).
    #[must_use]
    pub fn max_write_buffer(mut self, max_write_buffer: usize) -> Self {
        self.max_write_buffer = max_write_buffer;
        self
    }

    /// Sets [`auto_pong`](Self::auto_pong).
    #[must_use]
    pub fn auto_pong(mut self, auto_pong: bool) -> Self {
        self.auto_pong = auto_pong;
        self
    }

    /// Sets [`handshake_timeout`](Self::handshake_timeout).
    #[must_use]
    pub fn handshake_timeout(mut self, handshake_timeout: Option<Duration>) -> Self {
        self.handshake_timeout = handshake_timeout;
        self
    }

    /// Sets [`close_timeout`](Self::close_timeout).
    #[must_use]
    pub fn close_timeout(mut self, close_timeout: Option<Duration>) -> Self {
        self.close_timeout = close_timeout;
        self
    }

    /// Sets [`drain_timeout`](Self::drain_timeout).
    #[must_use]
    pub fn drain_timeout(mut self, drain_timeout: Option<Duration>) -> Self {
        self.drain_timeout = drain_timeout;
        self
    }

    /// Sets [`keepalive_interval`](Self::keepalive_interval).
    #[must_use]
    pub fn keepalive_interval(mut self, keepalive_interval: Option<Duration>) -> Self {
        self.keepalive_interval = keepalive_interval;
        self
    }

    /// Sets [`keepalive_timeout`](Self::keepalive_timeout).
    #[must_use]
    pub fn keepalive_timeout(mut self, keepalive_timeout: Duration) -> Self {
        self.keepalive_timeout = keepalive_timeout;
        self
    }

    /// Sets [`deflate`](Self::deflate).
    #[must_use]
    pub fn deflate(mut self, deflate: Option<DeflateConfig>) -> Self {
        self.deflate = deflate;
        self
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_frame_size: 16 << 20,
            max_message_size: 64 << 20,
            max_control_payload: 125,
            max_handshake_size: 16 << 10,
            max_handshake_headers: 64,
            send_fragment_size: None,
            max_write_buffer: 64 << 20,
            auto_pong: true,
            handshake_timeout: Some(Duration::from_secs(10)),
            close_timeout: Some(Duration::from_secs(5)),
            drain_timeout: Some(Duration::from_secs(1)),
            keepalive_interval: None,
            keepalive_timeout: Duration::from_secs(20),
            deflate: None,
        }
    }
}
