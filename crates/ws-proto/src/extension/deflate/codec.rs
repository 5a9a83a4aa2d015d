//! The per-message transform of permessage-deflate (RFC 7692 section 7.2):
//! a message is compressed with a sync flush and sent without the four
//! bytes (`00 00 ff ff`) the flush ends with; the receiver appends them back
//! and inflates.
//!
//! The deflate states are the largest thing a connection holds (hundreds of
//! KiB to compress with a 32 KiB window), so each is created on first use:
//! a connection that never sends a compressible message never pays for a
//! compressor. Without context takeover the state is reset after every
//! message (kept, so that steady state allocates nothing) and can be dropped
//! by `release`.
//!
//! Inflating is bounded: output goes into the caller's buffer in chunks,
//! and stops with [`InflateError::TooLarge`] as soon as the message passes
//! its limit, so a small frame that would inflate to gigabytes costs at
//! most the limit in memory and the time to produce it.

use bytes::BytesMut;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::{DeflateConfig, MIN_COMPRESS_WINDOW_BITS};
use crate::bounded::reserve_within;
use crate::frame::Utf8Validator;

/// What a sync flush ends with, stripped from every sent message and put
/// back before inflating a received one.
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The most inflated bytes produced per step (between limit and UTF-8
/// checks).
const INFLATE_CHUNK: usize = 32 << 10;

/// The largest first step a message gets from the size of the one before
/// (see [`Inflater::size_hint`]).
const MAX_HINT: usize = 1 << 20;

/// Compressed output buffers larger than this are not kept between
/// messages.
const KEPT_SCRATCH: usize = 64 << 10;

/// Compresses outgoing messages.
pub(crate) struct Deflater {
    /// 8 means "do not compress" (see the module doc of `deflate`).
    window_bits: u8,
    no_context_takeover: bool,
    level: Compression,
    threshold: usize,
    state: Option<Compress>,
    /// The last compressed message, kept for its capacity.
    scratch: Vec<u8>,
}

impl Deflater {
    pub(crate) fn new(window_bits: u8, no_context_takeover: bool, config: &DeflateConfig) -> Self {
        Self {
            window_bits,
            no_context_takeover,
            level: Compression::new(config.compression_level.min(9)),
            threshold: config.compression_threshold,
            state: None,
            scratch: Vec::new(),
        }
    }

    /// Whether a message of `len` bytes is sent compressed.
    pub(crate) fn compresses(&self, len: usize) -> bool {
        self.window_bits >= MIN_COMPRESS_WINDOW_BITS && len >= self.threshold
    }

    /// The most bytes a message of `len` bytes can compress to, so that
    /// room can be checked before compressing: a message compressed and then
    /// not sent would leave the peer's context behind ours. zlib's
    /// conservative `deflateBound` (up to 9 bits a byte: zlib-rs's fastest
    /// level uses fixed codes only, and a small window cannot hold a whole
    /// stored block), plus block headers and the flush.
    pub(crate) fn bound(len: usize) -> usize {
        len + len.div_ceil(8) + len.div_ceil(64) + 5 + 16
    }

    /// Compresses one message; returns its payload as sent (without the
    /// flush's tail). Give the buffer back with [`Deflater::recycle`].
    pub(crate) fn compress(&mut self, payload: &[u8]) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        if payload.is_empty() {
            // An empty stored block (section 7.2.3.6). zlib emits nothing for
            // a second flush in a row, and the context does not change.
            out.push(0x00);
            return out;
        }
        let (level, window_bits) = (self.level, self.window_bits);
        let state = self
            .state
            .get_or_insert_with(|| Compress::new_with_window_bits(level, false, window_bits));
        out.reserve((payload.len() / 2).clamp(64, 64 << 10));
        let mut input = payload;
        loop {
            // zlib wants room for more than the 5-byte flush marker.
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(256));
            }
            let before = state.total_in();
            state
                .compress_vec(input, &mut out, FlushCompress::Sync)
                .expect("deflate cannot fail with a valid state and room to write");
            input = &input[(state.total_in() - before) as usize..];
            // The flush is complete once the compressor stops with room left.
            if input.is_empty() && out.len() < out.capacity() {
                break;
            }
        }
        debug_assert!(out.ends_with(&TAIL));
        out.truncate(out.len().saturating_sub(TAIL.len()));
        if self.no_context_takeover {
            state.reset();
        }
        debug_assert!(
            out.len() <= Self::bound(payload.len()),
            "{} bytes over the bound of {} for {} (window {})",
            out.len(),
            Self::bound(payload.len()),
            payload.len(),
            self.window_bits
        );
        out
    }

    /// Takes back the buffer [`Deflater::compress`] returned, for reuse.
    pub(crate) fn recycle(&mut self, buf: Vec<u8>) {
        if buf.capacity() <= KEPT_SCRATCH {
            self.scratch = buf;
        }
    }

    /// Frees what the next message can do without: the scratch buffer, and
    /// the compressor when it holds no context.
    pub(crate) fn release(&mut self) {
        self.scratch = Vec::new();
        if self.no_context_takeover {
            self.state = None;
        }
    }
}

/// Why inflating stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// The output went over the limit; it holds this many bytes.
    TooLarge(usize),
    /// The compressed data is not valid deflate.
    Corrupt,
    /// Text that is not UTF-8.
    InvalidUtf8,
}

/// Inflates received messages.
pub(crate) struct Inflater {
    /// At least 9: a larger window reads whatever a smaller one wrote.
    window_bits: u8,
    no_context_takeover: bool,
    state: Option<Decompress>,
    /// The peer ended its deflate stream (a block with BFINAL set) in this
    /// message: what follows in the message is ignored, and the next one
    /// starts with a fresh context.
    ended: bool,
    /// Compressed bytes have arrived for this message.
    fed: bool,
    /// The inflated size of the last message.
    last_len: usize,
}

impl Inflater {
    pub(crate) fn new(window_bits: u8, no_context_takeover: bool) -> Self {
        Self {
            window_bits: window_bits.max(MIN_COMPRESS_WINDOW_BITS),
            no_context_takeover,
            state: None,
            ended: false,
            fed: false,
            last_len: 0,
        }
    }

    /// The first step's size for a new message: a little more than the last
    /// one inflated to, as a feed's messages tend to be alike. One step that
    /// takes the whole message saves a reallocation (and copy) of the
    /// message, and a second `decompress` call, which ends by copying its
    /// output into zlib's window again. Bounded, so that a large message
    /// does not make every small one after it allocate (and zero) as much.
    fn size_hint(&self) -> usize {
        (self.last_len + self.last_len / 8 + 64).min(MAX_HINT)
    }

    /// Inflates the next compressed bytes of a message, appending to `out`,
    /// which never holds more than `limit + 1` bytes. New text is checked by
    /// `utf8` as it is produced.
    pub(crate) fn inflate(
        &mut self,
        mut input: &[u8],
        out: &mut BytesMut,
        limit: usize,
        mut utf8: Option<&mut Utf8Validator>,
    ) -> Result<(), InflateError> {
        self.fed |= !input.is_empty();
        if self.ended {
            return Ok(());
        }
        let mut hint = if out.is_empty() { self.size_hint() } else { 0 };
        let window_bits = self.window_bits;
        let state = self
            .state
            .get_or_insert_with(|| Decompress::new_with_window_bits(false, window_bits));
        loop {
            // A first step the size of the last message (or small, for small
            // input), then whole chunks.
            let want = (input.len() * 4)
                .clamp(256, INFLATE_CHUNK)
                .max(std::mem::take(&mut hint))
                .min(limit.saturating_add(1) - out.len());
            reserve_within(out, want, limit.saturating_add(1));
            let start = out.len();
            out.resize(start + want, 0);
            let (in_before, out_before) = (state.total_in(), state.total_out());
            let status = state.decompress(input, &mut out[start..], FlushDecompress::None);
            let consumed = (state.total_in() - in_before) as usize;
            let produced = (state.total_out() - out_before) as usize;
            out.truncate(start + produced);
            input = &input[consumed..];
            let status = status.map_err(|_| InflateError::Corrupt)?;
            if let Some(utf8) = utf8.as_deref_mut() {
                utf8.feed(&out[start..])
                    .map_err(|_| InflateError::InvalidUtf8)?;
            }
            if out.len() > limit {
                return Err(InflateError::TooLarge(out.len()));
            }
            if status == Status::StreamEnd {
                self.ended = true;
                return Ok(());
            }
            // Room left over means all the input that could be decoded was.
            if (input.is_empty() && produced < want) || (consumed == 0 && produced == 0) {
                return Ok(());
            }
        }
    }

    /// Ends a message: inflates the tail the sender stripped, then resets
    /// the context if it is not to be taken over.
    pub(crate) fn finish(
        &mut self,
        out: &mut BytesMut,
        limit: usize,
        utf8: Option<&mut Utf8Validator>,
    ) -> Result<(), InflateError> {
        // An empty payload is an empty message: the tail alone would start a
        // stored block and leave the next message to finish it.
        if self.fed && !self.ended {
            self.inflate_tail(out, limit, utf8)?;
        }
        if self.no_context_takeover || self.ended {
            if let Some(state) = &mut self.state {
                state.reset(false);
            }
        }
        self.last_len = out.len();
        self.ended = false;
        self.fed = false;
        Ok(())
    }

    /// Inflates the tail. It normally only ends the empty stored block the
    /// sender's flush began, producing nothing, so it goes through a small
    /// buffer on the stack first: making room in `out` for it would
    /// reallocate (and copy) a message that has just filled its buffer.
    fn inflate_tail(
        &mut self,
        out: &mut BytesMut,
        limit: usize,
        mut utf8: Option<&mut Utf8Validator>,
    ) -> Result<(), InflateError> {
        let Some(state) = &mut self.state else {
            return Ok(());
        };
        let mut spill = [0u8; 64];
        let (in_before, out_before) = (state.total_in(), state.total_out());
        let status = state
            .decompress(&TAIL, &mut spill, FlushDecompress::None)
            .map_err(|_| InflateError::Corrupt)?;
        let consumed = (state.total_in() - in_before) as usize;
        let produced = (state.total_out() - out_before) as usize;
        if produced > 0 {
            if out.len() + produced > limit {
                return Err(InflateError::TooLarge(out.len() + produced));
            }
            if let Some(utf8) = utf8.as_deref_mut() {
                utf8.feed(&spill[..produced])
                    .map_err(|_| InflateError::InvalidUtf8)?;
            }
            out.extend_from_slice(&spill[..produced]);
        }
        if status == Status::StreamEnd {
            self.ended = true;
        } else if consumed < TAIL.len() || produced == spill.len() {
            // Rare: the tail produced output; the general path takes the rest.
            self.inflate(&TAIL[consumed..], out, limit, utf8)?;
        }
        Ok(())
    }

    /// Frees the decompressor when it holds no context (between messages).
    pub(crate) fn release(&mut self) {
        if self.no_context_takeover {
            self.state = None;
        }
    }
}

impl std::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflater")
            .field("window_bits", &self.window_bits)
            .field("no_context_takeover", &self.no_context_takeover)
            .field("allocated", &self.state.is_some())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater")
            .field("window_bits", &self.window_bits)
            .field("no_context_takeover", &self.no_context_takeover)
            .field("allocated", &self.state.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(window_bits: u8, no_context_takeover: bool, messages: &[&[u8]]) -> usize {
        let config = DeflateConfig {
            compression_threshold: 0,
            ..DeflateConfig::default()
        };
        let mut deflater = Deflater::new(window_bits, no_context_takeover, &config);
        let mut inflater = Inflater::new(window_bits, no_context_takeover);
        let mut wire = 0;
        for message in messages {
            let compressed = deflater.compress(message);
            wire += compressed.len();
            let mut out = BytesMut::new();
            // Split the input anywhere: inflating is incremental.
            let (a, b) = compressed.split_at(compressed.len() / 3);
            inflater.inflate(a, &mut out, usize::MAX, None).unwrap();
            inflater.inflate(b, &mut out, usize::MAX, None).unwrap();
            inflater.finish(&mut out, usize::MAX, None).unwrap();
            assert_eq!(&out[..], *message);
            deflater.recycle(compressed);
        }
        wire
    }

    #[test]
    fn the_last_message_sizes_the_next_first_step_within_a_bound() {
        let config = DeflateConfig::default();
        let mut deflater = Deflater::new(15, false, &config);
        let mut inflater = Inflater::new(15, false);
        let mut inflate = |message: &[u8]| {
            let compressed = deflater.compress(message);
            let mut out = BytesMut::new();
            inflater
                .inflate(&compressed, &mut out, usize::MAX, None)
                .unwrap();
            inflater.finish(&mut out, usize::MAX, None).unwrap();
            assert_eq!(&out[..], message);
            out.capacity()
        };
        let ticker = br#"{"type":"ticker","product_id":"BTC-USD","price":"43125.10"}"#;
        // Alike messages: one step, sized by the one before.
        let snapshot = ticker.repeat(1000);
        inflate(&snapshot);
        let capacity = inflate(&snapshot);
        assert!(capacity <= snapshot.len() * 9 / 8 + 64, "{capacity}");
        // After a huge message, a small one gets at most MAX_HINT...
        inflate(&vec![b'x'; 8 << 20]);
        let capacity = inflate(ticker);
        assert!((ticker.len()..=MAX_HINT).contains(&capacity), "{capacity}");
        // ...and the one after it is small again.
        assert!(inflate(ticker) < 1024);
    }

    #[test]
    fn empty_message_compresses_to_one_zero_byte() {
        // RFC 7692 section 7.2.3.6.
        let config = DeflateConfig::default();
        let mut deflater = Deflater::new(15, false, &config);
        assert_eq!(deflater.compress(b""), [0x00]);
    }

    #[test]
    fn rfc_example_hello_inflates() {
        // RFC 7692 section 7.2.3.1: "Hello" compressed with no context.
        let mut inflater = Inflater::new(15, false);
        let mut out = BytesMut::new();
        let wire = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        inflater.inflate(&wire, &mut out, 100, None).unwrap();
        inflater.finish(&mut out, 100, None).unwrap();
        assert_eq!(&out[..], b"Hello");
        // Section 7.2.3.2: the same message again, referring to the first.
        let mut out = BytesMut::new();
        let wire = [0xf2, 0x00, 0x11, 0x00, 0x00];
        inflater.inflate(&wire, &mut out, 100, None).unwrap();
        inflater.finish(&mut out, 100, None).unwrap();
        assert_eq!(&out[..], b"Hello");
    }

    #[test]
    fn every_window_and_takeover_roundtrips() {
        let text: Vec<u8> = (0..5000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        let messages: [&[u8]; 4] = [b"a", &text, b"", &text[..1000]];
        for bits in 9..=15 {
            for nct in [false, true] {
                roundtrip(bits, nct, &messages);
            }
        }
    }

    #[test]
    fn incompressible_data_stays_within_the_bound() {
        let mut x = 0x1234_5678_u32;
        let data: Vec<u8> = (0..200_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        for bits in 9..=15 {
            for level in [0, 1, 6, 9] {
                let config = DeflateConfig {
                    compression_level: level,
                    ..DeflateConfig::default()
                };
                let mut deflater = Deflater::new(bits, false, &config);
                for len in [1, 100, 5000, 70_000, 200_000] {
                    let out = deflater.compress(&data[..len]);
                    assert!(out.len() <= Deflater::bound(len), "{bits} {level} {len}");
                }
            }
        }
    }

    #[test]
    fn context_takeover_shrinks_repeated_messages() {
        let message = br#"{"type":"trade","symbol":"BTC-USD","price":"43125.10","size":"0.0125"}"#;
        let messages = [&message[..]; 20];
        let with = roundtrip(15, false, &messages);
        let without = roundtrip(15, true, &messages);
        assert!(
            with * 3 < without,
            "with takeover {with}, without {without}"
        );
    }

    #[test]
    fn inflating_stops_past_the_limit_with_bounded_memory() {
        // Level 9 makes the densest bomb (level 1 uses fixed codes only).
        let config = DeflateConfig {
            compression_level: 9,
            ..DeflateConfig::default()
        };
        let mut deflater = Deflater::new(15, false, &config);
        let bomb = deflater.compress(&vec![0u8; 10 << 20]);
        assert!(bomb.len() < 16 << 10, "{}", bomb.len());
        let mut inflater = Inflater::new(15, false);
        let mut out = BytesMut::new();
        let limit = 100_000;
        let err = inflater.inflate(&bomb, &mut out, limit, None).unwrap_err();
        assert_eq!(err, InflateError::TooLarge(limit + 1));
        assert!(out.capacity() <= limit + 1, "capacity {}", out.capacity());
    }

    #[test]
    fn corrupt_data_and_bad_text_are_reported() {
        let mut inflater = Inflater::new(15, false);
        let mut out = BytesMut::new();
        // BTYPE 11 is reserved.
        assert_eq!(
            inflater.inflate(&[0xff, 0xff], &mut out, 100, None),
            Err(InflateError::Corrupt)
        );
        let config = DeflateConfig::default();
        let mut deflater = Deflater::new(15, false, &config);
        let bad = deflater.compress(b"ok \xff not text");
        let mut inflater = Inflater::new(15, false);
        let mut utf8 = Utf8Validator::new();
        assert_eq!(
            inflater.inflate(&bad, &mut BytesMut::new(), 100, Some(&mut utf8)),
            Err(InflateError::InvalidUtf8)
        );
    }
}
