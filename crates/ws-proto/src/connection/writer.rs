//! The send path: frames encoded (and, for a client, masked with a fresh
//! key each) into the output the driver drains.
//!
//! A payload the caller lends (`&[u8]`) is copied once into the output
//! buffer, masked on the way: the caller's buffer is never modified. A large
//! payload the caller gives away (`Vec<u8>`) is not copied at all: it is
//! masked where it is and queued as its own output segment after its
//! header, which a driver can write with one vectored call. The buffer keeps
//! its capacity between messages, so sending allocates nothing in steady
//! state.
//!
//! With permessage-deflate in force, a message at or over the threshold is
//! compressed first (into the compressor's reusable buffer) and its frames
//! carry the compressed bytes, RSV1 on the first.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf as _, Bytes, BytesMut};
use rand::Rng;

use crate::close::CloseCode;
use crate::error::SendError;
use crate::extension::RSV1;
use crate::extension::deflate::codec::Deflater;
use crate::frame::header::MAX_HEADER_LEN;
use crate::frame::{FrameHeader, OpCode, apply_mask, extend_masked};

/// Below this size, copying a given-away payload into the output buffer is
/// cheaper than keeping it as a separate segment.
const OWNED_SEGMENT_MIN: usize = 16 << 10;

/// A payload kept out of the output buffer, to be sent right after the
/// buffer's byte at offset `at`.
#[derive(Debug)]
struct Segment {
    at: usize,
    data: Bytes,
}

#[derive(Debug)]
pub(crate) struct Writer {
    /// Encoded bytes; those before `start` are already handed to the transport.
    out: Vec<u8>,
    start: usize,
    /// Given-away payloads, in order.
    segments: VecDeque<Segment>,
    segment_bytes: usize,
    fragment_size: usize,
    max_buffer: usize,
    /// permessage-deflate's compressor, when it is in force.
    deflater: Option<Deflater>,
}

impl Writer {
    pub(crate) fn new(fragment_size: Option<usize>, max_buffer: usize) -> Self {
        Self {
            out: Vec::new(),
            start: 0,
            segments: VecDeque::new(),
            segment_bytes: 0,
            fragment_size: fragment_size.unwrap_or(usize::MAX).max(1),
            max_buffer,
            deflater: None,
        }
    }

    /// Bytes waiting for the transport.
    pub(crate) fn buffered(&self) -> usize {
        self.out.len() - self.start + self.segment_bytes
    }

    /// The next contiguous bytes waiting for the transport.
    pub(crate) fn pending(&self) -> &[u8] {
        match self.segments.front() {
            Some(segment) if segment.at == self.start => &segment.data,
            Some(segment) => &self.out[self.start..segment.at],
            None => &self.out[self.start..],
        }
    }

    /// Fills `slices` with the waiting bytes, in order; returns how many it filled.
    pub(crate) fn pending_vectored<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
        let mut filled = 0;
        let mut from = self.start;
        let mut push = |bytes: &'a [u8], filled: &mut usize| {
            if !bytes.is_empty() && *filled < slices.len() {
                slices[*filled] = IoSlice::new(bytes);
                *filled += 1;
            }
        };
        for segment in &self.segments {
            push(&self.out[from..segment.at], &mut filled);
            push(&segment.data, &mut filled);
            from = segment.at;
        }
        push(&self.out[from..], &mut filled);
        filled
    }

    /// Marks `n` waiting bytes as handed to the transport.
    pub(crate) fn advance(&mut self, mut n: usize) {
        while n > 0 {
            let step = match self.segments.front_mut() {
                Some(segment) if segment.at == self.start => {
                    let step = n.min(segment.data.len());
                    segment.data.advance(step);
                    self.segment_bytes -= step;
                    if segment.data.is_empty() {
                        self.segments.pop_front();
                    }
                    step
                }
                Some(segment) => {
                    let step = n.min(segment.at - self.start);
                    self.start += step;
                    step
                }
                None => {
                    let step = n.min(self.out.len() - self.start);
                    self.start += step;
                    step
                }
            };
            if step == 0 {
                break;
            }
            n -= step;
        }
        if self.start == self.out.len() && self.segments.is_empty() {
            self.out.clear();
            self.start = 0;
        }
    }

    /// Raw access for the handshake, which writes HTTP rather than frames.
    pub(crate) fn raw(&mut self) -> &mut Vec<u8> {
        &mut self.out
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
        if self.buffered() == 0 {
            self.out = Vec::new();
            self.segments = VecDeque::new();
            self.start = 0;
        }
    }

    /// Heap bytes held by the buffer (given-away payloads not counted).
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
        rng: Option<&mut dyn Rng>,
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
        mut rng: Option<&mut dyn Rng>,
    ) -> Result<(), SendError> {
        let frames = self.make_room(payload.len())?;
        self.out.reserve(payload.len() + frames * MAX_HEADER_LEN);
        let (mut opcode, mut rsv) = (opcode, rsv);
        let mut chunks = payload.chunks(self.fragment_size);
        for i in 0..frames {
            let chunk = chunks.next().unwrap_or_default();
            let mask = rng.as_deref_mut().map(|r| r.next_u32().to_ne_bytes());
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
        rng: Option<&mut dyn Rng>,
    ) -> Result<(), SendError> {
        let compressed = matches!(&self.deflater, Some(d) if d.compresses(payload.len()));
        if payload.len() < OWNED_SEGMENT_MIN || compressed {
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
        self.out.reserve(frames * MAX_HEADER_LEN);
        let mut opcode = opcode;
        for i in 0..frames {
            let len = self.fragment_size.min(data.len());
            self.header(i + 1 == frames, 0, opcode, len, None);
            self.push_segment(data.split_to(len));
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
        mut rng: Option<&mut dyn Rng>,
    ) -> Result<(), SendError> {
        let frames = self.make_room(data.len())?;
        self.out.reserve(frames * MAX_HEADER_LEN);
        let mut opcode = opcode;
        for i in 0..frames {
            let len = self.fragment_size.min(data.len());
            let mask = rng.as_deref_mut().map(|r| r.next_u32().to_ne_bytes());
            self.header(i + 1 == frames, 0, opcode, len, mask);
            let mut part = data.split_to(len); // same allocation, no copy
            if let Some(key) = mask {
                apply_mask(&mut part, key, 0);
            }
            self.push_segment(part.freeze());
            opcode = OpCode::Continuation;
        }
        Ok(())
    }

    /// Queues `data` to go out right after what the buffer holds now.
    fn push_segment(&mut self, data: Bytes) {
        self.segment_bytes += data.len();
        self.segments.push_back(Segment {
            at: self.out.len(),
            data,
        });
    }

    /// Checks the buffer limit for a payload of `len` bytes, compacts the
    /// buffer, and returns how many frames the payload takes.
    fn make_room(&mut self, len: usize) -> Result<usize, SendError> {
        let frames = len.div_ceil(self.fragment_size).max(1);
        let needed = len + frames * MAX_HEADER_LEN;
        let buffered = self.buffered();
        if buffered.saturating_add(needed) > self.max_buffer {
            return Err(SendError::WriteBufferFull {
                buffered,
                needed,
                limit: self.max_buffer,
            });
        }
        // A transport that never quite catches up must not make the buffer
        // grow without end: drop the written part once it is half of it.
        if self.start > 0 && self.start >= self.out.len() / 2 {
            self.out.drain(..self.start);
            for segment in &mut self.segments {
                segment.at -= self.start;
            }
            self.start = 0;
        }
        Ok(frames)
    }

    /// Encodes a control frame; these bypass the buffer limit (they are small,
    /// and the protocol needs them to go out).
    pub(crate) fn control(&mut self, opcode: OpCode, payload: &[u8], rng: Option<&mut dyn Rng>) {
        debug_assert!(opcode.is_control() && payload.len() <= 125);
        let mask = rng.map(|r| r.next_u32().to_ne_bytes());
        self.frame(true, 0, opcode, payload, mask);
    }

    /// Encodes a close frame with `code` and `reason` (already checked to fit).
    pub(crate) fn close(&mut self, code: CloseCode, reason: &str, rng: Option<&mut dyn Rng>) {
        let mut payload = [0u8; 125];
        payload[..2].copy_from_slice(&code.0.to_be_bytes());
        payload[2..2 + reason.len()].copy_from_slice(reason.as_bytes());
        self.control(OpCode::Close, &payload[..2 + reason.len()], rng);
    }

    /// Encodes a close frame without a status code (the answer to one).
    pub(crate) fn close_empty(&mut self, rng: Option<&mut dyn Rng>) {
        self.control(OpCode::Close, &[], rng);
    }

    /// Encodes one frame with its payload copied (and masked) into the buffer.
    fn frame(&mut self, fin: bool, rsv: u8, opcode: OpCode, payload: &[u8], mask: Option<[u8; 4]>) {
        self.header(fin, rsv, opcode, payload.len(), mask);
        match mask {
            Some(key) => extend_masked(&mut self.out, payload, key),
            None => self.out.extend_from_slice(payload),
        }
    }

    fn header(&mut self, fin: bool, rsv: u8, opcode: OpCode, len: usize, mask: Option<[u8; 4]>) {
        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            mask,
            payload_len: len as u64,
        };
        let mut head = [0u8; MAX_HEADER_LEN];
        let n = header.encode(&mut head);
        self.out.extend_from_slice(&head[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;

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
                let (ra, rb): (Option<&mut dyn rand::Rng>, Option<&mut dyn rand::Rng>) = if masked {
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
        assert!(w.capacity() < 1024);
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
}
