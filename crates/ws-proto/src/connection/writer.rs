//! The send path: frames encoded (and, for a client, masked with a fresh
//! key each) into the output queue the driver drains, under the write
//! buffer's limit.
//!
//! A payload the caller lends (`&[u8]`) is copied once into the queue,
//! masked on the way: the caller's buffer is never modified. A large
//! payload the caller gives away (`Vec<u8>`, `Bytes`) is not copied at all:
//! it is masked where it is (when the caller held the only reference) and
//! queued as its own segment after its header, which a driver writes with
//! one vectored call. The queue reuses its blocks, so sending allocates
//! nothing in steady state. A write-through send ([`through`]) skips the
//! queue when it can: the caller's transport takes the frame straight from
//! the caller's buffer, and only what it leaves is queued.
//!
//! The limit (`Config::max_write_buffer`) bounds what waits: a message or
//! an application's ping or pong that would pass it is refused whole. The
//! protocol's own frames obey it too, except the close frame (one per
//! connection): a pong or keepalive ping that does not fit is skipped.
//! Pongs are also kept from piling up when the peer pings faster than it
//! reads: once output is left over from before an input, a new pong
//! replaces the previous one while that is still unwritten and last in the
//! queue (RFC 6455 section 5.5.3 lets an endpoint answer only the most
//! recent ping), so a flood costs one pong, not one per ping.
//!
//! With permessage-deflate in force, a message at or over the threshold is
//! compressed first (into the compressor's reusable buffer) and its frames
//! carry the compressed bytes, RSV1 on the first.

mod through;

use std::io::IoSlice;

use crate::key_source::KeySource;
use bytes::{Bytes, BytesMut};

use crate::close::CloseCode;
use crate::connection::output::Output;
use crate::error::SendError;
use crate::extension::RSV1;
use crate::extension::deflate::codec::Deflater;
use crate::frame::header::MAX_HEADER_LEN;
use crate::frame::{FrameHeader, OpCode, apply_mask};

/// Below this size, copying a given-away payload into the queue is cheaper
/// than keeping it as a separate segment.
pub(crate) const OWNED_SEGMENT_MIN: usize = 16 << 10;

#[derive(Debug)]
pub(crate) struct Writer {
    out: Output,
    fragment_size: usize,
    max_buffer: usize,
    /// permessage-deflate's compressor, when it is in force.
    deflater: Option<Deflater>,
    /// The latest automatic pong: the queue's push count just after it, and
    /// its length, for as long as it may be replaced.
    last_pong: Option<(u64, usize)>,
    /// Output was left over when the latest input arrived: the peer is not
    /// reading as fast as it sends.
    stalled: bool,
    /// The position just past the close frame, once queued.
    close_end: Option<u64>,
}

impl Writer {
    pub(crate) fn new(fragment_size: Option<usize>, max_buffer: usize) -> Self {
        Self {
            out: Output::default(),
            fragment_size: fragment_size.unwrap_or(usize::MAX).max(1),
            max_buffer,
            deflater: None,
            last_pong: None,
            stalled: false,
            close_end: None,
        }
    }

    /// Bytes waiting for the transport.
    pub(crate) fn buffered(&self) -> usize {
        self.out.buffered()
    }

    /// The next contiguous bytes waiting for the transport.
    pub(crate) fn pending(&self) -> &[u8] {
        self.out.pending()
    }

    /// Fills `slices` with the waiting bytes, in order; returns how many it filled.
    pub(crate) fn pending_vectored<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
        self.out.pending_vectored(slices)
    }

    /// Marks `n` waiting bytes as handed to the transport. Inlined: it is
    /// on every send's path (`advance_transmit`), and a second caller (the
    /// write-through sends) would otherwise make it a call.
    #[inline]
    pub(crate) fn advance(&mut self, n: usize) {
        self.out.advance(n);
        if self.out.buffered() == 0 {
            self.stalled = false;
        }
    }

    /// Input arrived: output still waiting from before means the transport
    /// is not keeping up with the peer.
    pub(crate) fn note_input(&mut self) {
        self.stalled = self.out.buffered() > 0;
    }

    /// Whether the close frame has been handed to the transport.
    pub(crate) fn close_written(&self) -> bool {
        self.close_end.is_some_and(|end| self.out.written() >= end)
    }

    /// Raw access for the handshake, which writes HTTP rather than frames.
    pub(crate) fn with_raw<T>(&mut self, write: impl FnOnce(&mut Vec<u8>) -> T) -> T {
        self.out.with_raw(write)
    }

    /// Compresses messages with `deflater` from now on.
    pub(crate) fn set_deflater(&mut self, deflater: Deflater) {
        self.deflater = Some(deflater);
    }

    /// Frees buffer capacity that holds no data.
    pub(crate) fn release_buffers(&mut self) {
        if let Some(deflater) = &mut self.deflater {
            deflater.release();
        }
        self.out.release();
    }

    /// Heap bytes held by the queue, given-away payloads included.
    pub(crate) fn capacity(&self) -> usize {
        self.out.capacity()
    }

    /// Encodes a text or binary message the caller lends, fragmented at
    /// the configured size. Fails, queuing nothing, when it would overflow
    /// the buffer limit.
    pub(crate) fn message(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        rng: Option<&mut dyn KeySource>,
    ) -> Result<(), SendError> {
        match &mut self.deflater {
            Some(deflater) if deflater.compresses(payload.len()) => {
                // Room first: a message compressed and then refused would
                // leave the peer's context behind ours.
                self.make_room(Deflater::bound(payload.len()))?;
                let deflater = self.deflater.as_mut().expect("matched above");
                let compressed = deflater.compress(payload);
                let sent = self.frames(opcode, RSV1, &compressed, rng);
                debug_assert!(sent.is_ok(), "room was made for the bound");
                if let Some(deflater) = &mut self.deflater {
                    deflater.recycle(compressed);
                }
                sent
            }
            _ => self.frames(opcode, 0, payload, rng),
        }
    }

    /// Encodes `payload` as one message's frames, fragmented at the
    /// configured size, with `rsv` on the first frame.
    fn frames(
        &mut self,
        opcode: OpCode,
        rsv: u8,
        payload: &[u8],
        mut rng: Option<&mut dyn KeySource>,
    ) -> Result<(), SendError> {
        let frames = self.make_room(payload.len())?;
        if frames == 1 {
            let mask = rng.map(|r| r.mask_key());
            self.frame(true, rsv, opcode, payload, mask);
            return Ok(());
        }
        self.out.reserve(payload.len() + frames * MAX_HEADER_LEN);
        let (mut opcode, mut rsv) = (opcode, rsv);
        let mut chunks = payload.chunks(self.fragment_size);
        for i in 0..frames {
            let chunk = chunks.next().unwrap_or_default();
            let mask = rng.as_deref_mut().map(|r| r.mask_key());
            self.frame(i + 1 == frames, rsv, opcode, chunk, mask);
            (opcode, rsv) = (OpCode::Continuation, 0);
        }
        Ok(())
    }

    /// Encodes a message whose payload the caller gives away or shares: a
    /// large one is queued without a copy. Unmasked (server) frames send the
    /// payload as it is; masked (client) frames mask it in place when the
    /// caller held the only reference, and fall back to the copying path
    /// when others still read it (masking would change what they see).
    pub(crate) fn message_shared(
        &mut self,
        opcode: OpCode,
        payload: Bytes,
        rng: Option<&mut dyn KeySource>,
    ) -> Result<(), SendError> {
        let compressed = matches!(&self.deflater, Some(d) if d.compresses(payload.len()));
        // Small frames would each be a segment: copying them costs less.
        let small = payload.len().min(self.fragment_size) < OWNED_SEGMENT_MIN;
        if small || compressed {
            return self.message(opcode, &payload, rng);
        }
        if rng.is_some() {
            return match payload.try_into_mut() {
                Ok(unique) => self.message_masked_in_place(opcode, unique, rng),
                Err(shared) => self.message(opcode, &shared, rng),
            };
        }
        let mut data = payload;
        let frames = self.make_room(data.len())?;
        let mut opcode = opcode;
        for i in 0..frames {
            let len = self.fragment_size.min(data.len());
            self.header(i + 1 == frames, 0, opcode, len, None);
            self.out.push_segment(data.split_to(len));
            opcode = OpCode::Continuation;
        }
        Ok(())
    }

    /// Masks each frame's part of `data` where it is (a fresh key per
    /// frame) and queues the parts after their headers.
    fn message_masked_in_place(
        &mut self,
        opcode: OpCode,
        mut data: BytesMut,
        mut rng: Option<&mut dyn KeySource>,
    ) -> Result<(), SendError> {
        let frames = self.make_room(data.len())?;
        let mut opcode = opcode;
        for i in 0..frames {
            let len = self.fragment_size.min(data.len());
            let mask = rng.as_deref_mut().map(|r| r.mask_key());
            self.header(i + 1 == frames, 0, opcode, len, mask);
            let mut part = data.split_to(len); // same allocation, no copy
            if let Some(key) = mask {
                apply_mask(&mut part, key, 0);
            }
            self.out.push_segment(part.freeze());
            opcode = OpCode::Continuation;
        }
        Ok(())
    }

    /// Checks the buffer limit for a payload of `len` bytes; returns how
    /// many frames the payload takes.
    fn make_room(&self, len: usize) -> Result<usize, SendError> {
        // No division on the common path: one frame.
        let frames = if len <= self.fragment_size {
            1
        } else {
            len.div_ceil(self.fragment_size)
        };
        self.check_room(len.saturating_add(frames.saturating_mul(MAX_HEADER_LEN)))?;
        Ok(frames)
    }

    /// Fails when `needed` more bytes would take the buffer over its limit.
    fn check_room(&self, needed: usize) -> Result<(), SendError> {
        let buffered = self.buffered();
        if buffered.saturating_add(needed) > self.max_buffer {
            return Err(SendError::WriteBufferFull {
                buffered,
                needed,
                limit: self.max_buffer,
            });
        }
        Ok(())
    }

    /// A ping or pong the application asked for: refused, like a message,
    /// when it does not fit.
    pub(crate) fn control(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        rng: Option<&mut dyn KeySource>,
    ) -> Result<(), SendError> {
        self.check_room(control_len(payload.len(), rng.is_some()))?;
        self.control_frame(opcode, payload, rng);
        Ok(())
    }

    /// The keepalive ping, skipped when it does not fit: a peer that reads
    /// nothing is caught by the keepalive deadline all the same.
    pub(crate) fn keepalive_ping(&mut self, payload: &[u8], rng: Option<&mut dyn KeySource>) {
        let _ = self.control(OpCode::Ping, payload, rng);
    }

    /// Answers a ping. While the peer is not reading ([`Writer::note_input`]),
    /// the pong replaces the previous automatic one if that is still
    /// unwritten and nothing was queued after it; a pong that does not fit
    /// is skipped. Returns whether a pong is queued for this ping.
    pub(crate) fn auto_pong(&mut self, payload: &[u8], rng: Option<&mut dyn KeySource>) -> bool {
        let len = control_len(payload.len(), rng.is_some());
        let replaceable = match self.last_pong {
            Some((after, old_len)) if self.stalled && after == self.out.pushes() => old_len,
            _ => 0,
        };
        if self.buffered().saturating_sub(replaceable) + len > self.max_buffer {
            return false;
        }
        if replaceable > 0 && !self.out.retract(replaceable) {
            // Partly written, or split between blocks: it stays, and the
            // new one must fit beside it.
            if self.check_room(len).is_err() {
                return false;
            }
        }
        self.control_frame(OpCode::Pong, payload, rng);
        self.last_pong = Some((self.out.pushes(), len));
        true
    }

    /// Encodes a control frame (at most 125 bytes of payload) as one piece.
    fn control_frame(&mut self, opcode: OpCode, payload: &[u8], rng: Option<&mut dyn KeySource>) {
        debug_assert!(opcode.is_control() && payload.len() <= 125);
        let mask = rng.map(|r| r.mask_key());
        self.frame(true, 0, opcode, payload, mask);
    }

    /// Encodes a close frame with `code` and `reason` (already checked to
    /// fit); queued whatever the limit, as the protocol's last word.
    pub(crate) fn close(&mut self, code: CloseCode, reason: &str, rng: Option<&mut dyn KeySource>) {
        let mut payload = [0u8; 125];
        payload[..2].copy_from_slice(&code.0.to_be_bytes());
        payload[2..2 + reason.len()].copy_from_slice(reason.as_bytes());
        self.close_frame(&payload[..2 + reason.len()], rng);
    }

    /// Encodes a close frame without a status code (the answer to one).
    pub(crate) fn close_empty(&mut self, rng: Option<&mut dyn KeySource>) {
        self.close_frame(&[], rng);
    }

    fn close_frame(&mut self, payload: &[u8], rng: Option<&mut dyn KeySource>) {
        self.control_frame(OpCode::Close, payload, rng);
        self.close_end = Some(self.out.end());
    }

    /// Encodes one frame with its payload copied (and masked) into the queue.
    fn frame(&mut self, fin: bool, rsv: u8, opcode: OpCode, payload: &[u8], mask: Option<[u8; 4]>) {
        let header = frame_header(fin, rsv, opcode, payload.len(), mask);
        self.out.push_frame(&header, payload);
    }

    /// Encodes a frame's header alone (its payload is queued as a segment).
    fn header(&mut self, fin: bool, rsv: u8, opcode: OpCode, len: usize, mask: Option<[u8; 4]>) {
        self.out
            .push_header(&frame_header(fin, rsv, opcode, len, mask));
    }
}

/// The header of a frame with `len` payload bytes.
fn frame_header(
    fin: bool,
    rsv: u8,
    opcode: OpCode,
    len: usize,
    mask: Option<[u8; 4]>,
) -> FrameHeader {
    FrameHeader {
        fin,
        rsv,
        opcode,
        mask,
        payload_len: len as u64,
    }
}

/// The encoded size of a control frame with `payload` bytes (at most 125).
fn control_len(payload: usize, masked: bool) -> usize {
    2 + if masked { 4 } else { 0 } + payload
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;

    /// The most the writer holds beyond `Config::max_write_buffer`: the
    /// queue's slack, the one close frame queued whatever the limit, and
    /// the descriptors of blocks and given-away payloads.
    fn held_bound(max_buffer: usize) -> usize {
        max_buffer + crate::connection::output::SLACK + 131 + 4096
    }

    /// Drains the writer through `pending`/`advance` in steps of at most `step`.
    fn drain(w: &mut Writer, step: usize) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let pending = w.pending();
            if pending.is_empty() {
                return out;
            }
            let n = pending.len().min(step);
            out.extend_from_slice(&pending[..n]);
            w.advance(n);
        }
    }

    proptest! {
        #[test]
        fn lent_and_given_payloads_encode_to_the_same_frames(
            sizes in proptest::collection::vec(0usize..40_000, 1..6),
            fragment in prop_oneof![Just(None), (1000usize..20_000).prop_map(Some)],
            step in prop_oneof![Just(1usize << 30), 1usize..5000],
            masked in any::<bool>(),
        ) {
            let mut lent = Writer::new(fragment, usize::MAX);
            let mut given = Writer::new(fragment, usize::MAX);
            let mut rng_a = rand::rngs::StdRng::seed_from_u64(1);
            let mut rng_b = rand::rngs::StdRng::seed_from_u64(1);
            let mut expected_vectored = 0;
            for (i, &size) in sizes.iter().enumerate() {
                let payload: Vec<u8> = (0..size).map(|b| (b * 31 + i) as u8).collect();
                let (ra, rb): (Option<&mut dyn KeySource>, Option<&mut dyn KeySource>) = if masked {
                    (Some(&mut rng_a), Some(&mut rng_b))
                } else {
                    (None, None)
                };
                lent.message(OpCode::Binary, &payload, ra).unwrap();
                given.message_shared(OpCode::Binary, payload.into(), rb).unwrap();
                expected_vectored += size;
            }
            prop_assert_eq!(lent.buffered(), given.buffered());
            let mut slices = [IoSlice::new(&[]); 256];
            let n = given.pending_vectored(&mut slices);
            let vectored: Vec<u8> = slices[..n].iter().flat_map(|s| s.iter().copied()).collect();
            // Filling every slice may leave the rest for the next write.
            let all_slices_used = n == slices.len();
            prop_assert!(all_slices_used || vectored.len() >= expected_vectored);
            let a = drain(&mut lent, usize::MAX);
            let b = drain(&mut given, step);
            prop_assert_eq!(&a, &b);
            prop_assert!(b.starts_with(&vectored));
            prop_assert!(all_slices_used || vectored == b);
            prop_assert_eq!(given.buffered(), 0);
        }
    }

    #[test]
    fn shared_bytes_are_never_masked_under_their_other_owners() {
        let payload = Bytes::from(vec![7u8; 40_000]);
        let kept = payload.clone();
        let mut shared = Writer::new(Some(16_000), usize::MAX);
        let mut lent = Writer::new(Some(16_000), usize::MAX);
        let mut rng_a = rand::rngs::StdRng::seed_from_u64(3);
        let mut rng_b = rand::rngs::StdRng::seed_from_u64(3);
        shared
            .message_shared(OpCode::Binary, payload, Some(&mut rng_a))
            .unwrap();
        lent.message(OpCode::Binary, &kept, Some(&mut rng_b))
            .unwrap();
        assert!(kept.iter().all(|&b| b == 7), "the caller's copy was masked");
        assert_eq!(drain(&mut shared, 999), drain(&mut lent, usize::MAX));
    }

    #[test]
    fn unmasked_shared_bytes_are_queued_without_a_copy() {
        let payload = Bytes::from(vec![9u8; 100_000]);
        let mut w = Writer::new(None, usize::MAX);
        w.message_shared(OpCode::Binary, payload.clone(), None)
            .unwrap();
        let mut slices = [IoSlice::new(&[]); 4];
        assert_eq!(w.pending_vectored(&mut slices), 2);
        assert_eq!(
            slices[1].as_ptr(),
            payload.as_ptr(),
            "the payload was copied"
        );
        assert!(w.out.block_capacity() < 1024);
    }

    #[test]
    fn a_slow_transport_does_not_grow_the_buffer_without_end() {
        let mut w = Writer::new(None, usize::MAX);
        for _ in 0..10_000 {
            w.message(OpCode::Binary, &[0; 100], None).unwrap();
            // The transport takes a little less than is queued each time,
            // but catches up now and then.
            let n = w.pending().len().saturating_sub(50);
            w.advance(n);
        }
        assert!(w.capacity() < 64 << 10, "capacity {}", w.capacity());
    }

    /// Writes all but `keep` of what is waiting.
    fn write_all_but(w: &mut Writer, keep: usize) {
        let n = w.buffered().saturating_sub(keep);
        let mut done = 0;
        while done < n {
            let step = w.pending().len().min(n - done);
            w.advance(step);
            done += step;
        }
    }

    #[test]
    fn a_ping_burst_from_a_reading_peer_gets_a_pong_each() {
        let mut w = Writer::new(None, 1 << 20);
        w.note_input(); // nothing left over: the peer reads
        for i in 0..10u8 {
            assert!(w.auto_pong(&[i], None));
        }
        assert_eq!(w.buffered(), 10 * 3);
    }

    #[test]
    fn pongs_to_a_peer_that_does_not_read_replace_each_other() {
        let mut w = Writer::new(None, 1 << 20);
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        for i in 0..100_000u32 {
            w.note_input();
            assert!(w.auto_pong(&i.to_be_bytes(), Some(&mut rng)));
            // The transport takes all but a little, as a slow reader does.
            write_all_but(&mut w, 7);
        }
        assert!(w.buffered() <= 2 * 10, "{} bytes waiting", w.buffered());
        assert!(w.capacity() < 4 << 10, "capacity {}", w.capacity());
        // Now the peer reads nothing at all: one whole pong waits behind
        // the rest of the partly written one.
        for i in 0..100_000u32 {
            w.note_input();
            assert!(w.auto_pong(&i.to_be_bytes(), Some(&mut rng)));
        }
        assert_eq!(w.buffered(), 7 + 10);
        assert!(w.capacity() < 4 << 10, "capacity {}", w.capacity());
        let rest = drain(&mut w, usize::MAX);
        assert_eq!(rest[7], 0x8A, "a pong follows the partly written one");
        assert_eq!(rest.len(), 17);
    }

    #[test]
    fn a_pong_queued_behind_other_output_stays_when_a_message_follows_it() {
        let mut w = Writer::new(None, 1 << 20);
        w.message(OpCode::Text, b"first", None).unwrap();
        w.note_input(); // stalled: "first" is still waiting
        assert!(w.auto_pong(b"a", None));
        w.message(OpCode::Text, b"second", None).unwrap();
        assert!(w.auto_pong(b"b", None)); // cannot replace "a": a message follows it
        assert!(w.auto_pong(b"c", None)); // replaces "b"
        let mut expected = Vec::new();
        for (opcode, payload) in [
            (0x81, &b"first"[..]),
            (0x8A, b"a"),
            (0x81, b"second"),
            (0x8A, b"c"),
        ] {
            expected.extend_from_slice(&[opcode, payload.len() as u8]);
            expected.extend_from_slice(payload);
        }
        assert_eq!(drain(&mut w, usize::MAX), expected);
    }

    #[test]
    fn control_frames_obey_the_limit_but_the_close_frame() {
        let mut w = Writer::new(None, 100);
        w.message(OpCode::Binary, &[0; 84], None).unwrap();
        assert_eq!(w.buffered(), 86);
        assert!(matches!(
            w.control(OpCode::Ping, &[0; 20], None),
            Err(SendError::WriteBufferFull { .. })
        ));
        assert!(!w.auto_pong(&[0; 20], None));
        w.keepalive_ping(&[0; 20], None);
        assert_eq!(w.buffered(), 86);
        w.close(CloseCode::NORMAL, "bye", None);
        assert_eq!(w.buffered(), 86 + 7);
        assert!(!w.close_written());
        write_all_but(&mut w, 1);
        assert!(!w.close_written());
        write_all_but(&mut w, 0);
        assert!(w.close_written());
    }

    #[derive(Clone, Debug)]
    enum Op {
        Send(usize),
        Give(usize),
        Ping,
        Pong(u8),
        Input,
        /// Writes this share (in 1/256ths) of what waits.
        Write(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            2 => (0usize..300_000).prop_map(Op::Send),
            1 => (0usize..300_000).prop_map(Op::Give),
            1 => Just(Op::Ping),
            4 => (0u8..126).prop_map(Op::Pong),
            2 => Just(Op::Input),
            3 => any::<u8>().prop_map(Op::Write),
        ]
    }

    proptest! {
        /// Whatever is sent and however the transport writes, what the
        /// writer holds stays within the limit plus a fixed slack, and a
        /// refused send changes nothing.
        #[test]
        fn the_writer_holds_at_most_its_limit_and_a_slack(
            ops in proptest::collection::vec(op(), 1..80),
            masked in any::<bool>(),
        ) {
            let limit = 1 << 20;
            let mut w = Writer::new(None, limit);
            let mut rng = rand::rngs::StdRng::seed_from_u64(9);
            for op in ops {
                let rng: Option<&mut dyn KeySource> = if masked { Some(&mut rng) } else { None };
                let before = w.buffered();
                let refused = match op {
                    Op::Send(n) => w.message(OpCode::Binary, &vec![1; n], rng).is_err(),
                    Op::Give(n) => w.message_shared(OpCode::Binary, vec![2; n].into(), rng).is_err(),
                    Op::Ping => w.control(OpCode::Ping, b"p", rng).is_err(),
                    Op::Pong(n) => !w.auto_pong(&vec![3; n as usize], rng),
                    Op::Input => { w.note_input(); false }
                    Op::Write(share) => {
                        let n = w.buffered() * share as usize / 256;
                        let mut done = 0;
                        while done < n {
                            let step = w.pending().len().min(n - done);
                            w.advance(step);
                            done += step;
                        }
                        false
                    }
                };
                if refused {
                    prop_assert_eq!(w.buffered(), before);
                }
                prop_assert!(w.buffered() <= limit);
                prop_assert!(w.capacity() <= held_bound(limit), "{} held", w.capacity());
            }
            w.close(CloseCode::NORMAL, "", None);
            prop_assert!(w.capacity() <= held_bound(limit));
        }
    }
}
