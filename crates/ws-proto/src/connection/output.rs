//! The output queue: what a connection has to send, held until the driver
//! says it is written.
//!
//! Encoded bytes (the handshake, frame headers, copied payloads) go into
//! blocks of at most [`BLOCK`] bytes, filled in order; a payload the caller
//! gave away (`Bytes`) is not copied but kept as a segment, spliced into the
//! stream at the point where it was queued. A block is dropped (or kept for
//! reuse, a few at most) as soon as it is written, so what the queue holds
//! is what waits to be written plus a bounded slack, whatever the pattern of
//! partial writes: every block but the first and the last is full of
//! unwritten bytes, the first holds at most one block of written ones, the
//! last at most one block of room ([`SLACK`]). A single growable buffer
//! cannot promise that: it either never reclaims the written prefix while
//! some backlog remains, or moves the whole backlog to reclaim a little.
//!
//! Positions: encoded bytes are counted from the start of the connection
//! (`written`, `end`); a segment is anchored at the count of encoded bytes
//! that go before it. Counting in `u64` never wraps in practice.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf as _, Bytes};

use crate::frame::header::MAX_HEADER_LEN;
use crate::frame::{FrameHeader, extend_masked_at, mask_into};

/// The most bytes a block grows to. A 64 KiB payload and its header fit in
/// one; a larger frame continues in the next block.
pub(crate) const BLOCK: usize = (64 << 10) + MAX_HEADER_LEN;
/// A new block's least capacity, so small frames do not each allocate.
const MIN_BLOCK: usize = 256;
/// Frames up to this size (header included) are encoded in one pass.
const SMALL_FRAME: usize = 512;
/// Written blocks kept for the next bytes: streaming messages larger than a
/// block then allocates nothing in steady state.
const SPARE_BLOCKS: usize = 4;
/// The most the queue's blocks can hold beyond the bytes waiting in them:
/// the written part of the first block, the room left in the last, and the
/// spare blocks. (The two small queues of block and segment descriptors
/// come on top: one descriptor per block or given-away payload.)
pub(crate) const SLACK: usize = (2 + SPARE_BLOCKS) * BLOCK;

/// A full block waiting to be written; bytes before `start` are written
/// (only the first block has any).
#[derive(Debug)]
struct Block {
    buf: Vec<u8>,
    start: usize,
}

/// A given-away payload, sent after the first `at` encoded bytes.
#[derive(Debug)]
struct Segment {
    at: u64,
    data: Bytes,
}

#[derive(Debug, Default)]
pub(crate) struct Output {
    /// Full blocks, oldest first, waiting before `tail`.
    sealed: VecDeque<Block>,
    /// The block being filled. With no sealed block it is also the first,
    /// and its bytes before `tail_start` are written. A field of its own,
    /// not the queue's last entry: the path of every small message touches
    /// only it.
    tail: Vec<u8>,
    tail_start: usize,
    segments: VecDeque<Segment>,
    segment_bytes: usize,
    spare: Vec<Vec<u8>>,
    /// Encoded bytes written, and queued, since the connection began.
    written: u64,
    end: u64,
    /// How many times something was queued: tells whether anything was
    /// queued after a given item.
    pushes: u64,
}

impl Output {
    /// Bytes waiting to be written.
    pub(crate) fn buffered(&self) -> usize {
        (self.end - self.written) as usize + self.segment_bytes
    }

    /// The position just past the last encoded byte queued.
    pub(crate) fn end(&self) -> u64 {
        self.end
    }

    /// The position of the next encoded byte to write.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// How many times something was queued so far.
    pub(crate) fn pushes(&self) -> u64 {
        self.pushes
    }

    /// The unwritten encoded bytes of the first block.
    fn front(&self) -> &[u8] {
        match self.sealed.front() {
            Some(block) => &block.buf[block.start..],
            None => &self.tail[self.tail_start..],
        }
    }

    /// The next contiguous bytes waiting to be written.
    pub(crate) fn pending(&self) -> &[u8] {
        let Some(segment) = self.segments.front() else {
            return self.front(); // the common case: encoded bytes only
        };
        if segment.at == self.written {
            return &segment.data;
        }
        let front = self.front();
        &front[..front.len().min((segment.at - self.written) as usize)]
    }

    /// Fills `slices` with the waiting bytes, in order; returns how many it
    /// filled (all of them when the bytes are in more pieces than that).
    pub(crate) fn pending_vectored<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
        let mut filled = 0;
        let mut push = |bytes: &'a [u8]| {
            if !bytes.is_empty() && filled < slices.len() {
                slices[filled] = IoSlice::new(bytes);
                filled += 1;
            }
        };
        let tail_start = if self.sealed.is_empty() {
            self.tail_start
        } else {
            0
        };
        let blocks = self.sealed.iter().enumerate();
        let encoded = blocks
            .map(|(i, b)| &b.buf[if i == 0 { b.start } else { 0 }..])
            .chain(std::iter::once(&self.tail[tail_start..]));
        let mut segments = self.segments.iter().peekable();
        let mut at = self.written;
        for mut bytes in encoded {
            loop {
                while let Some(segment) = segments.next_if(|s| s.at == at) {
                    push(&segment.data);
                }
                match segments.peek() {
                    Some(segment) if segment.at < at + bytes.len() as u64 => {
                        let (before, rest) = bytes.split_at((segment.at - at) as usize);
                        push(before);
                        at = segment.at;
                        bytes = rest;
                    }
                    _ => {
                        push(bytes);
                        at += bytes.len() as u64;
                        break;
                    }
                }
            }
        }
        for segment in segments {
            push(&segment.data);
        }
        filled
    }

    /// Marks `n` waiting bytes as written.
    pub(crate) fn advance(&mut self, mut n: usize) {
        debug_assert!(n <= self.buffered(), "advanced past the queued bytes");
        if self.sealed.is_empty() && self.segments.is_empty() {
            self.advance_tail(n); // the common case: one block
            return;
        }
        while n > 0 {
            if let Some(segment) = self.segments.front_mut() {
                if segment.at == self.written {
                    let step = n.min(segment.data.len());
                    segment.data.advance(step);
                    self.segment_bytes -= step;
                    if segment.data.is_empty() {
                        self.segments.pop_front();
                    }
                    n -= step;
                    continue;
                }
            }
            let before_segment = self
                .segments
                .front()
                .map_or(usize::MAX, |s| (s.at - self.written) as usize);
            let step = match self.sealed.front_mut() {
                Some(block) => {
                    let step = n.min(block.buf.len() - block.start).min(before_segment);
                    block.start += step;
                    self.written += step as u64;
                    if block.start == block.buf.len() {
                        self.retire_front();
                    }
                    step
                }
                None => self.advance_tail(n.min(before_segment)),
            };
            if step == 0 {
                return; // asked for more than was queued
            }
            n -= step;
        }
    }

    /// Marks up to `n` bytes of the block being filled (the first block)
    /// as written; returns how many. Once all are, the block is reused.
    fn advance_tail(&mut self, n: usize) -> usize {
        let step = n.min(self.tail.len() - self.tail_start);
        self.tail_start += step;
        self.written += step as u64;
        if self.tail_start == self.tail.len() {
            self.tail.clear();
            self.tail_start = 0;
        }
        step
    }

    /// The first sealed block is written: drop it, or keep it for reuse.
    fn retire_front(&mut self) {
        if let Some(mut block) = self.sealed.pop_front() {
            if self.spare.len() < SPARE_BLOCKS {
                block.buf.clear();
                self.spare.push(block.buf);
            }
        }
    }

    /// Makes the block being filled able to take `want` more bytes in one
    /// piece, when a block can hold that many.
    pub(crate) fn reserve(&mut self, want: usize) {
        self.tail(want);
    }

    /// Queues a frame: `header`, encoded, then `payload`, masked with the
    /// header's key if it has one. A frame that fits the block being filled
    /// goes in with one look at it (the path of every small message).
    pub(crate) fn push_frame(&mut self, header: &FrameHeader, payload: &[u8]) {
        let mut head = [0u8; MAX_HEADER_LEN];
        let head_len = header.encode(&mut head);
        let total = head_len + payload.len();
        let tail = self.tail(total);
        if tail.capacity() - tail.len() >= total {
            if total <= SMALL_FRAME {
                // Room made once (zeroing a few bytes costs less than the
                // bookkeeping of three appends), then header and payload
                // written into it in one pass.
                let start = tail.len();
                tail.resize(start + total, 0);
                let (out_head, out_payload) = tail[start..].split_at_mut(head_len);
                out_head.copy_from_slice(&head[..head_len]);
                match header.mask {
                    Some(key) => mask_into(out_payload, payload, key),
                    None => out_payload.copy_from_slice(payload),
                }
            } else {
                tail.extend_from_slice(&head[..head_len]);
                match header.mask {
                    Some(key) => extend_masked_at(tail, payload, key, 0),
                    None => tail.extend_from_slice(payload),
                }
            }
            self.end += total as u64;
            self.pushes += 1;
            return;
        }
        self.push(&head[..head_len]);
        match header.mask {
            Some(key) => self.push_masked(payload, key, 0),
            None => self.push(payload),
        }
    }

    /// Queues a frame's `header` alone: its payload follows as a segment.
    pub(crate) fn push_header(&mut self, header: &FrameHeader) {
        let mut head = [0u8; MAX_HEADER_LEN];
        let head_len = header.encode(&mut head);
        self.push(&head[..head_len]);
    }

    /// Queues `bytes`.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.append(bytes, None);
    }

    /// Queues `bytes` masked with `key`; `bytes` starts `offset` bytes into
    /// the masked payload.
    pub(crate) fn push_masked(&mut self, bytes: &[u8], key: [u8; 4], offset: usize) {
        self.append(bytes, Some((key, offset)));
    }

    fn append(&mut self, mut bytes: &[u8], mut mask: Option<([u8; 4], usize)>) {
        self.pushes += 1;
        self.end += bytes.len() as u64;
        while !bytes.is_empty() {
            let tail = self.tail(bytes.len());
            let n = bytes.len().min(tail.capacity() - tail.len());
            let (now, later) = bytes.split_at(n);
            match &mut mask {
                Some((key, offset)) => {
                    extend_masked_at(tail, now, *key, *offset);
                    *offset += n;
                }
                None => tail.extend_from_slice(now),
            }
            bytes = later;
        }
    }

    /// Counts `n` bytes the caller wrote to the transport itself, straight
    /// from its own buffer, with nothing waiting before them: queued and
    /// written at once, so positions stay those of the whole stream. A push
    /// of their own, so that nothing queued before them is taken for the
    /// last thing queued.
    pub(crate) fn count_written_through(&mut self, n: usize) {
        debug_assert_eq!(self.buffered(), 0, "bytes written ahead of the queue");
        self.end += n as u64;
        self.written += n as u64;
        self.pushes += 1;
    }

    /// Queues a given-away payload after everything queued so far.
    pub(crate) fn push_segment(&mut self, data: Bytes) {
        if data.is_empty() {
            return;
        }
        self.pushes += 1;
        self.segment_bytes += data.len();
        self.segments.push_back(Segment { at: self.end, data });
    }

    /// Takes back the last `n` encoded bytes, if none of them is written
    /// yet and they are all in the block being filled; returns whether it
    /// did. The caller checks that nothing was queued after them.
    pub(crate) fn retract(&mut self, n: usize) -> bool {
        let written = if self.sealed.is_empty() {
            self.tail_start
        } else {
            0
        };
        if n > self.tail.len() - written {
            return false;
        }
        self.tail.truncate(self.tail.len() - n);
        self.end -= n as u64;
        true
    }

    /// Lets `write` append raw bytes (the HTTP handshake) to the queue.
    pub(crate) fn with_raw<T>(&mut self, write: impl FnOnce(&mut Vec<u8>) -> T) -> T {
        let before = self.tail.len();
        let result = write(&mut self.tail);
        self.end += (self.tail.len() - before) as u64;
        self.pushes += 1;
        result
    }

    /// The block being filled, with room for at least one byte, and for
    /// `want` if a block can take that many.
    #[inline]
    fn tail(&mut self, want: usize) -> &mut Vec<u8> {
        if self.tail.capacity() - self.tail.len() < want {
            self.make_room(want);
        }
        &mut self.tail
    }

    /// The block being filled has less room than `want`: reclaim its
    /// written part, grow it, or seal it and start the next.
    #[inline(never)]
    fn make_room(&mut self, want: usize) {
        let len = self.tail.len();
        // Reclaim the written part once it is as large as the rest: the
        // copy costs no more than the bytes written since.
        if self.tail_start > 0 && self.tail_start >= len - self.tail_start {
            self.tail.drain(..self.tail_start);
            self.tail_start = 0;
        }
        let (len, capacity) = (self.tail.len(), self.tail.capacity());
        if capacity - len < want && capacity < BLOCK {
            let target = (len + want).max(2 * capacity).clamp(MIN_BLOCK, BLOCK);
            self.tail.reserve_exact(target - len);
        }
        if self.tail.len() == self.tail.capacity() {
            // Full: it waits in the queue, and a new block takes its place.
            let next = match self.spare.pop() {
                Some(spare) => spare,
                None => Vec::with_capacity(want.clamp(MIN_BLOCK, BLOCK)),
            };
            let full = std::mem::replace(&mut self.tail, next);
            let start = std::mem::take(&mut self.tail_start);
            self.sealed.push_back(Block { buf: full, start });
        }
        debug_assert!(
            self.sealed.len() < 2 || self.block_capacity() <= self.buffered() + SLACK,
            "the queue holds {} bytes for {} waiting",
            self.block_capacity(),
            self.buffered()
        );
    }

    /// Heap bytes held: blocks, spare blocks, the descriptor queues, and the
    /// given-away payloads waiting.
    pub(crate) fn capacity(&self) -> usize {
        self.block_capacity()
            + self.segment_bytes
            + self.sealed.capacity() * size_of::<Block>()
            + self.segments.capacity() * size_of::<Segment>()
            + self.spare.capacity() * size_of::<Vec<u8>>()
    }

    /// Heap bytes held by blocks (in the queue or spare).
    pub(crate) fn block_capacity(&self) -> usize {
        self.sealed.iter().map(|b| b.buf.capacity()).sum::<usize>()
            + self.tail.capacity()
            + self.spare.iter().map(Vec::capacity).sum::<usize>()
    }

    /// Frees what holds no waiting byte: spare blocks, and everything when
    /// the queue is empty.
    pub(crate) fn release(&mut self) {
        self.spare = Vec::new();
        if self.buffered() == 0 {
            self.sealed = VecDeque::new();
            self.tail = Vec::new();
            self.tail_start = 0;
            self.segments = VecDeque::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Everything `out` holds, through `pending`/`advance` in steps of at
    /// most `step`, checked against `pending_vectored` first.
    fn drain(out: &mut Output, step: usize) -> Vec<u8> {
        let (vectored, all_filled) = {
            let mut slices = [IoSlice::new(&[]); 1024];
            let n = out.pending_vectored(&mut slices);
            let bytes: Vec<u8> = slices[..n].iter().flat_map(|s| s.iter().copied()).collect();
            (bytes, n == slices.len())
        };
        let mut all = Vec::new();
        loop {
            let pending = out.pending();
            if pending.is_empty() {
                break;
            }
            let n = pending.len().min(step);
            all.extend_from_slice(&pending[..n]);
            out.advance(n);
        }
        assert!(all_filled || vectored == all);
        assert_eq!(out.buffered(), 0);
        all
    }

    #[derive(Clone, Debug)]
    enum Op {
        Push(usize),
        Masked(usize, [u8; 4]),
        Segment(usize),
        /// Writes this share (in 1/256ths) of what is waiting, through the
        /// vectored view.
        Write(u8),
        Retract(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0usize..200_000).prop_map(Op::Push),
            1 => (0usize..3000, any::<[u8; 4]>()).prop_map(|(n, k)| Op::Masked(n, k)),
            1 => (1usize..100_000).prop_map(Op::Segment),
            3 => any::<u8>().prop_map(Op::Write),
            1 => (0usize..200).prop_map(Op::Retract),
        ]
    }

    proptest! {
        /// What comes out is what went in, in order, and what is held
        /// stays within the waiting bytes plus the slack.
        #[test]
        fn the_queue_is_a_bounded_byte_stream(ops in proptest::collection::vec(op(), 1..60)) {
            let mut out = Output::default();
            let mut model: Vec<u8> = Vec::new();
            let mut model_start = 0;
            let mut written = Vec::new();
            let mut last_push_len = None;
            let mut counter = 0u8;
            let mut bytes = |n: usize| -> Vec<u8> {
                (0..n).map(|_| { counter = counter.wrapping_add(7); counter }).collect()
            };
            for op in ops {
                match op {
                    Op::Push(n) => {
                        let b = bytes(n);
                        out.push(&b);
                        model.extend_from_slice(&b);
                        last_push_len = Some(n);
                    }
                    Op::Masked(n, key) => {
                        let b = bytes(n);
                        let split = n / 3;
                        out.push_masked(&b[..split], key, 0);
                        out.push_masked(&b[split..], key, split);
                        let mut masked = b.clone();
                        crate::frame::apply_mask_scalar(&mut masked, key, 0);
                        model.extend_from_slice(&masked);
                        last_push_len = None;
                    }
                    Op::Segment(n) => {
                        let b = bytes(n);
                        out.push_segment(Bytes::from(b.clone()));
                        model.extend_from_slice(&b);
                        last_push_len = None;
                    }
                    Op::Write(share) => {
                        let waiting = out.buffered();
                        let n = waiting * share as usize / 256;
                        let mut slices = [IoSlice::new(&[]); 8];
                        let filled = out.pending_vectored(&mut slices);
                        let mut taken = 0;
                        for slice in &slices[..filled] {
                            let k = slice.len().min(n - taken);
                            written.extend_from_slice(&slice[..k]);
                            taken += k;
                        }
                        out.advance(taken);
                        model_start += taken;
                    }
                    Op::Retract(n) => {
                        if let Some(len) = last_push_len {
                            let n = n.min(len);
                            if out.retract(n) {
                                model.truncate(model.len() - n);
                                last_push_len = Some(len - n);
                            }
                        }
                    }
                }
                prop_assert_eq!(out.buffered(), model.len() - model_start);
                let blocks_bound = (out.end() - out.written()) as usize + SLACK;
                prop_assert!(
                    out.block_capacity() <= blocks_bound,
                    "{} bytes in blocks for {} waiting", out.block_capacity(), out.buffered()
                );
            }
            written.extend(drain(&mut out, 5000));
            prop_assert_eq!(written, model);
        }
    }

    #[test]
    fn a_transport_that_never_catches_up_does_not_grow_the_queue() {
        let mut out = Output::default();
        for _ in 0..200_000 {
            out.push(&[7; 100]);
            // Everything but the last 50 bytes goes out each time.
            let n = out.buffered() - 50;
            out.advance(n);
        }
        assert!(
            out.capacity() < 2 * MIN_BLOCK,
            "capacity {}",
            out.capacity()
        );
    }

    #[test]
    fn a_queue_that_never_drains_holds_its_bytes_and_one_block() {
        let mut out = Output::default();
        for _ in 0..1000 {
            out.push(&[1; 10_000]);
        }
        assert_eq!(out.buffered(), 10_000_000);
        assert!(out.block_capacity() <= 10_000_000 + BLOCK);
    }

    #[test]
    fn streaming_large_messages_reuses_blocks() {
        let mut out = Output::default();
        let message = vec![3u8; 1 << 20];
        for _ in 0..4 {
            out.push(&message);
            drain(&mut out, usize::MAX);
        }
        let before = out.block_capacity();
        out.push(&message);
        drain(&mut out, usize::MAX);
        assert!(out.block_capacity() <= (SPARE_BLOCKS + 1) * BLOCK);
        assert_eq!(out.block_capacity(), before);
    }

    #[test]
    fn release_frees_an_empty_queue() {
        let mut out = Output::default();
        out.push(&[1; 300_000]);
        drain(&mut out, 1000);
        out.release();
        assert_eq!(out.capacity(), 0);
    }
}
