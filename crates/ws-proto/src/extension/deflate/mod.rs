//! permessage-deflate (RFC 7692): its settings, the parameters two ends
//! agree on ([`negotiate`]), and the per-message transform ([`codec`]).
//!
//! # Window bits 8
//!
//! RFC 7692 allows LZ77 windows of 2^8 to 2^15 bytes. zlib (and zlib-rs, the
//! backend used here) cannot *compress* raw deflate with a 256-byte window:
//! it refuses 8, and old zlib silently used 9, whose matches can reach 512
//! bytes back, further than a peer holding 256 bytes can read. Inflating
//! with a larger window than the peer compressed with is always safe. So:
//! - the window this side inflates with is the agreed one, raised to 9;
//! - this side never compresses with 8. A server declines an offer that
//!   would make it compress with 8 (`server_max_window_bits=8`) and takes
//!   the next offer; a client told by the server to compress with 8
//!   (`client_max_window_bits=8`) accepts, since it cannot decline, and sends
//!   every message uncompressed, which RFC 7692 always allows (RSV1 clear).
//! - in [`DeflateConfig`], 8 for the window this side compresses with is
//!   read as 9.

#[cfg(feature = "deflate")]
pub(crate) mod codec;
// Without the feature, uninhabited stand-ins with the codec's signatures:
// the reader and writer keep their `Option<Deflater>`/`Option<Inflater>`
// paths unchanged (always `None`) instead of growing cfg attributes.
#[cfg(not(feature = "deflate"))]
#[path = "codec_off.rs"]
pub(crate) mod codec;
pub(crate) mod negotiate;

/// The extension's token in `Sec-WebSocket-Extensions`.
pub(crate) const NAME: &str = "permessage-deflate";

/// The smallest window RFC 7692 allows (256 bytes).
pub(crate) const MIN_WINDOW_BITS: u8 = 8;
/// The largest window, and deflate's own (32 KiB).
pub(crate) const MAX_WINDOW_BITS: u8 = 15;
/// The smallest window zlib compresses raw deflate with (see the module doc).
pub(crate) const MIN_COMPRESS_WINDOW_BITS: u8 = 9;

/// permessage-deflate (RFC 7692) settings for [`Config::deflate`](crate::Config::deflate).
///
/// The type is there under every feature set, so that code which sets it
/// compiles either way; without the crate's `deflate` feature the setting
/// is ignored (nothing is offered or accepted).
///
/// The same settings serve both roles. Window sizes are base-2 logarithms,
/// 8 to 15 (other values are clamped); smaller windows and no context
/// takeover cost less memory per connection and compress less.
///
/// A client offers `permessage-deflate` with these parameters; a server
/// accepts the first offer it can honour within them, and declines the
/// others (the connection then opens without compression).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateConfig {
    /// The largest window the client compresses with. A client offers
    /// `client_max_window_bits` (with this value when below 15); a server
    /// answers with it when below 15, and declines an offer that does not let
    /// it limit the client's window. Default: 15.
    pub client_max_window_bits: u8,
    /// The largest window the server compresses with. A client asks for it
    /// with `server_max_window_bits` when below 15; a server answers with it
    /// when below 15 (or when the client asked for a limit). Default: 15.
    pub server_max_window_bits: u8,
    /// The client starts every message with an empty window (less memory
    /// between messages, worse compression of similar messages). A client
    /// offers it; a server asks for it. Default: `false`.
    pub client_no_context_takeover: bool,
    /// The server starts every message with an empty window. A client asks
    /// for it; a server answers with it. Default: `false`.
    pub server_no_context_takeover: bool,
    /// Messages shorter than this many bytes are sent uncompressed: deflate
    /// gains little on them and costs its fixed overhead. Default: 32.
    pub compression_threshold: usize,
    /// Compression level, 0 (store only) to 9 (smallest, slowest). Default:
    /// 1, the fastest that compresses. Latency comes first here: on 200-byte
    /// JSON tickers with context takeover, level 1 compresses in about a
    /// tenth of the time of zlib's usual 6 (0.3 against 3.5 µs a message in
    /// `benches/deflate.rs`) to within 7% of its size (5.6x against 6.0x);
    /// on 64 KiB JSON, 3.8x faster, 7.1x against 11.4x. Choose 6 when
    /// bandwidth costs more than CPU time.
    pub compression_level: u32,
}

/// Chaining setters: `DeflateConfig` is `#[non_exhaustive]` (a new setting is
/// not a breaking change), so build one from its default and set what
/// differs, as in `DeflateConfig::default().client_max_window_bits(..)`; or set its public
/// fields on a mutable value.
impl DeflateConfig {
    /// Sets [`client_max_window_bits`](Self::client_max_window_bits).
    #[must_use]
    pub fn client_max_window_bits(mut self, client_max_window_bits: u8) -> Self {
        self.client_max_window_bits = client_max_window_bits;
        self
    }

    /// Sets [`server_max_window_bits`](Self::server_max_window_bits).
    #[must_use]
    pub fn server_max_window_bits(mut self, server_max_window_bits: u8) -> Self {
        self.server_max_window_bits = server_max_window_bits;
        self
    }

    /// Sets [`client_no_context_takeover`](Self::client_no_context_takeover).
    #[must_use]
    pub fn client_no_context_takeover(mut self, client_no_context_takeover: bool) -> Self {
        self.client_no_context_takeover = client_no_context_takeover;
        self
    }

    /// Sets [`server_no_context_takeover`](Self::server_no_context_takeover).
    #[must_use]
    pub fn server_no_context_takeover(mut self, server_no_context_takeover: bool) -> Self {
        self.server_no_context_takeover = server_no_context_takeover;
        self
    }

    /// Sets [`compression_threshold`](Self::compression_threshold).
    #[must_use]
    pub fn compression_threshold(mut self, compression_threshold: usize) -> Self {
        self.compression_threshold = compression_threshold;
        self
    }

    /// Sets [`compression_level`](Self::compression_level).
    #[must_use]
    pub fn compression_level(mut self, compression_level: u32) -> Self {
        self.compression_level = compression_level;
        self
    }
}

impl Default for DeflateConfig {
    fn default() -> Self {
        Self {
            client_max_window_bits: MAX_WINDOW_BITS,
            server_max_window_bits: MAX_WINDOW_BITS,
            client_no_context_takeover: false,
            server_no_context_takeover: false,
            compression_threshold: 32,
            compression_level: 1,
        }
    }
}

/// The permessage-deflate parameters in force on a connection, as agreed in
/// the opening handshake ([`Connection::deflate`](crate::Connection::deflate)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeflateParams {
    /// The largest window the client compresses with (8 to 15).
    pub client_max_window_bits: u8,
    /// The largest window the server compresses with (8 to 15).
    pub server_max_window_bits: u8,
    /// The client resets its compression context after every message.
    pub client_no_context_takeover: bool,
    /// The server resets its compression context after every message.
    pub server_no_context_takeover: bool,
}

/// The window bits a setting asks for, within what RFC 7692 allows.
pub(crate) fn clamp_window_bits(bits: u8) -> u8 {
    bits.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS)
}
