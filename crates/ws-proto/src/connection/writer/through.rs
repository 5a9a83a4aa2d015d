//! Write-through sends: the message goes to the caller's transport in the
//! same call, and only what the transport did not take is queued.
//!
//! When nothing is waiting and the message is one uncompressed frame, it
//! goes out one of two ways, by size:
//! - a small frame ([`STACK_FRAME`] bytes with its header) is assembled
//!   on the stack, masked on the way for a client, and written as one
//!   slice: the copy the queue would make, without the queue's
//!   bookkeeping, and one plain write;
//! - a large payload ([`TWO_SLICES_MIN`] and up) needs no copy of its own
//!   when it needs no mask (a server), or a mask the caller lets us apply
//!   to its buffer: the transport gets `[header, payload]` straight from
//!   the caller's buffer, one copy, the transport's.
//!
//! Between the two, or for a client's payload that must stay intact, or
//! anything else (output already waiting, which must go first; fragments;
//! compression), the message is queued as usual and the transport gets
//! one attempt at everything waiting. A vectored write costs more than a
//! plain one (`writev` on a Linux TCP socket about 0.4 µs more than
//! `send`, the time of copying several KiB), so a payload below
//! [`TWO_SLICES_MIN`] is cheaper copied into one slice.
//!
//! The bytes written directly count as queued and written at once (a push
//! of their own), so the queue's positions (the close frame's end) stay
//! those of the whole stream, and an automatic pong queued before them can
//! never be taken for the last thing queued and replaced.

use std::io::IoSlice;
use std::mem::MaybeUninit;

use super::Writer;
use crate::error::SendError;
use crate::frame::header::MAX_HEADER_LEN;
use crate::frame::mask::mask_into_uninit;
use crate::frame::{OpCode, apply_mask};
use crate::key_source::KeySource;

/// The largest frame, header included, assembled on the stack: a 1 KiB
/// message and its header fit.
const STACK_FRAME: usize = 2 << 10;

/// The least payload written from the caller's buffer as a slice of its
/// own (see the module doc).
const TWO_SLICES_MIN: usize = 16 << 10;

/// How many slices a fallback write offers at most: the queue is a few
/// blocks and given-away payloads; what does not fit waits for the driver.
const FALLBACK_SLICES: usize = 16;

impl Writer {
    /// Sends a message the caller lends, writing it through `write` when it
    /// can go with no copy (see the module doc); otherwise queues it as
    /// [`Writer::message`] does and offers everything waiting to `write`
    /// once. `write` is called once when the message is accepted, never
    /// when it is refused. Returns whether the fast way was taken.
    pub(crate) fn message_through(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        rng: Option<&mut dyn KeySource>,
        write: impl FnOnce(&[IoSlice<'_>]) -> usize,
    ) -> Result<bool, SendError> {
        if !self.goes_through(payload.len()) {
            self.queue_and_write(opcode, payload, rng, write)?;
            return Ok(false);
        }
        if fits_the_stack(payload.len()) {
            self.make_room(payload.len())?;
            // Drawn only once the message is accepted: a refused send takes no key.
            let mask = rng.map(|r| r.mask_key());
            self.stack_frame_through(opcode, payload, mask, write);
            return Ok(true);
        }
        if rng.is_some() || payload.len() < TWO_SLICES_MIN {
            self.queue_and_write(opcode, payload, rng, write)?;
            return Ok(false);
        }
        self.make_room(payload.len())?;
        self.frame_through(opcode, payload, None, write);
        Ok(true)
    }

    /// As [`Writer::message_through`], but a client's mask is applied to
    /// `payload` where it is (a fresh key, drawn as for every frame) when
    /// the fast way is taken. Otherwise `payload` is left as it was and the
    /// message is queued (masked on the way) as usual.
    pub(crate) fn message_in_place(
        &mut self,
        opcode: OpCode,
        payload: &mut [u8],
        rng: Option<&mut dyn KeySource>,
        write: impl FnOnce(&[IoSlice<'_>]) -> usize,
    ) -> Result<bool, SendError> {
        if fits_the_stack(payload.len()) {
            // Masked on the stack, on the way: the caller's buffer is left
            // as it was.
            return self.message_through(opcode, payload, rng, write);
        }
        if !self.goes_through(payload.len()) || payload.len() < TWO_SLICES_MIN {
            self.queue_and_write(opcode, payload, rng, write)?;
            return Ok(false);
        }
        self.make_room(payload.len())?;
        // Drawn only once the message is accepted: a refused send takes no key.
        let mask = rng.map(|r| r.mask_key());
        if let Some(key) = mask {
            apply_mask(payload, key, 0);
        }
        self.frame_through(opcode, payload, mask, write);
        Ok(true)
    }

    /// Whether a message of `len` bytes can be written straight from the
    /// caller's buffer: nothing waits before it, it is one frame, and it is
    /// not compressed.
    fn goes_through(&self, len: usize) -> bool {
        self.out.buffered() == 0
            && len <= self.fragment_size
            && !self.deflater.as_ref().is_some_and(|d| d.compresses(len))
    }

    /// Queues a message as [`Writer::message`] does, then offers
    /// everything waiting to `write` once.
    fn queue_and_write(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        rng: Option<&mut dyn KeySource>,
        write: impl FnOnce(&[IoSlice<'_>]) -> usize,
    ) -> Result<(), SendError> {
        self.message(opcode, payload, rng)?;
        self.write_pending(write);
        Ok(())
    }

    /// The header of a whole frame written ahead of the queue, encoded on
    /// the stack, and its length.
    fn whole_frame_header(
        &self,
        opcode: OpCode,
        len: usize,
        mask: Option<[u8; 4]>,
    ) -> ([u8; MAX_HEADER_LEN], usize) {
        debug_assert_eq!(self.out.buffered(), 0, "output waiting would go after");
        let mut head = [0u8; MAX_HEADER_LEN];
        let head_len = super::frame_header(true, 0, opcode, len, mask).encode(&mut head);
        (head, head_len)
    }

    /// Writes one whole small frame, assembled on the stack (its payload
    /// masked on the way with `mask`, if set), as one slice; queues what
    /// `write` did not take.
    fn stack_frame_through(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        mask: Option<[u8; 4]>,
        write: impl FnOnce(&[IoSlice<'_>]) -> usize,
    ) {
        let (head, head_len) = self.whole_frame_header(opcode, payload.len(), mask);
        let total = head_len + payload.len();
        // Not zeroed: every byte of the frame is written before it is read.
        let mut frame = [MaybeUninit::<u8>::uninit(); STACK_FRAME];
        let (frame_head, frame_body) = frame[..total].split_at_mut(head_len);
        for (d, &b) in frame_head.iter_mut().zip(&head) {
            d.write(b);
        }
        match mask {
            Some(key) => mask_into_uninit(frame_body, payload, key),
            None => {
                for (d, &b) in frame_body.iter_mut().zip(payload) {
                    d.write(b);
                }
            }
        }
        // SAFETY: the first `total` bytes of `frame` were all written just
        // above: `head_len` bytes of header (the first zip is as long as
        // `frame_head`), then the payload, as long as `frame_body`.
        #[allow(unsafe_code)]
        let frame: &[u8] =
            unsafe { std::slice::from_raw_parts(frame.as_ptr().cast::<u8>(), total) };
        let written = write(&[IoSlice::new(frame)]);
        check_written(written, total);
        self.out.count_written_through(written);
        if written < total {
            self.out.push(&frame[written..]);
        }
    }

    /// Writes one whole frame, its header encoded on the stack and its
    /// payload (already masked, if `mask` is set) from where it is, then
    /// queues what `write` did not take.
    fn frame_through(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        mask: Option<[u8; 4]>,
        write: impl FnOnce(&[IoSlice<'_>]) -> usize,
    ) {
        let (head, head_len) = self.whole_frame_header(opcode, payload.len(), mask);
        let head = &head[..head_len];
        let written = write(&[IoSlice::new(head), IoSlice::new(payload)]);
        check_written(written, head_len + payload.len());
        self.out.count_written_through(written);
        if written < head_len {
            self.out.push(&head[written..]);
            self.out.push(payload);
        } else if written < head_len + payload.len() {
            self.out.push(&payload[written - head_len..]);
        }
    }

    /// Offers everything waiting to `write` once (as many slices as
    /// [`FALLBACK_SLICES`]) and marks what it took as written.
    fn write_pending(&mut self, write: impl FnOnce(&[IoSlice<'_>]) -> usize) {
        let pending = self.out.pending();
        let (offered, written) = if pending.len() == self.out.buffered() {
            // The common case: everything waiting is one run of bytes.
            (pending.len(), write(&[IoSlice::new(pending)]))
        } else {
            let mut slices = [IoSlice::new(&[]); FALLBACK_SLICES];
            let filled = self.out.pending_vectored(&mut slices);
            let offered = slices[..filled].iter().map(|s| s.len()).sum();
            (offered, write(&slices[..filled]))
        };
        check_written(written, offered);
        self.advance(written);
    }
}

/// A transport cannot have written more than it was offered: a driver's
/// `write` that says so is broken, and the queue would be corrupted.
fn check_written(written: usize, offered: usize) {
    assert!(
        written <= offered,
        "write reported {written} bytes written of {offered}"
    );
}

/// Whether a frame with `len` payload bytes is assembled on the stack.
fn fits_the_stack(len: usize) -> bool {
    len <= STACK_FRAME - MAX_HEADER_LEN
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// A transport write that takes at most `limit` bytes into `wire`.
    fn take_at_most<'w>(
        wire: &'w mut Vec<u8>,
        limit: usize,
    ) -> impl FnOnce(&[IoSlice<'_>]) -> usize + 'w {
        move |slices| {
            let mut left = limit;
            for slice in slices {
                let n = slice.len().min(left);
                wire.extend_from_slice(&slice[..n]);
                left -= n;
            }
            limit - left
        }
    }

    /// Everything waiting, through `pending` / `advance`.
    fn drain(w: &mut Writer) -> Vec<u8> {
        let mut out = Vec::new();
        while !w.pending().is_empty() {
            let n = w.pending().len();
            out.extend_from_slice(w.pending());
            w.advance(n);
        }
        out
    }

    #[test]
    fn the_fast_way_is_taken_only_when_nothing_needs_the_queue() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut wire = Vec::new();
        let large = TWO_SLICES_MIN;
        let mut w = Writer::new(Some(large), usize::MAX);
        let through = |w: &mut Writer, wire: &mut Vec<u8>, len: usize| {
            w.message_through(OpCode::Binary, &vec![0; len], None, take_at_most(wire, 0))
        };
        assert_eq!(through(&mut w, &mut wire, large), Ok(true));
        assert_eq!(through(&mut w, &mut wire, 10), Ok(false), "output waits");
        drain(&mut w);
        assert_eq!(through(&mut w, &mut wire, 10), Ok(true), "on the stack");
        drain(&mut w);
        assert_eq!(through(&mut w, &mut wire, STACK_FRAME), Ok(false), "copied");
        drain(&mut w);
        assert_eq!(
            through(&mut w, &mut wire, large + 1),
            Ok(false),
            "fragmented"
        );
        drain(&mut w);
        let masked = |w: &mut Writer, rng: &mut rand::rngs::StdRng, wire: &mut Vec<u8>, len| {
            w.message_through(
                OpCode::Binary,
                &vec![0; len],
                Some(rng),
                take_at_most(wire, 0),
            )
        };
        assert_eq!(
            masked(&mut w, &mut rng, &mut wire, 10),
            Ok(true),
            "on the stack"
        );
        drain(&mut w);
        assert_eq!(
            masked(&mut w, &mut rng, &mut wire, large),
            Ok(false),
            "a client's large lent payload is copied"
        );
        drain(&mut w);
        let in_place = w.message_in_place(
            OpCode::Binary,
            &mut vec![0; large],
            Some(&mut rng),
            take_at_most(&mut wire, 0),
        );
        assert_eq!(in_place, Ok(true));
    }

    #[test]
    fn bytes_written_directly_count_as_queued_and_written() {
        let mut w = Writer::new(None, usize::MAX);
        let mut wire = Vec::new();
        w.message(OpCode::Binary, b"before", None).unwrap();
        drain(&mut w);
        let (end, pushes) = (w.out.end(), w.out.pushes());
        w.message_through(
            OpCode::Binary,
            &[7; 300],
            None,
            take_at_most(&mut wire, 304),
        )
        .unwrap();
        assert_eq!(w.out.written(), end + 304);
        assert_eq!(w.out.end(), end + 304);
        assert!(
            w.out.pushes() > pushes,
            "a write that takes all is a push too"
        );
        w.close(crate::close::CloseCode::NORMAL, "", None);
        assert!(!w.close_written());
        drain(&mut w);
        assert!(w.close_written());
    }

    #[test]
    fn a_pong_never_takes_back_the_rest_of_a_direct_write() {
        let mut w = Writer::new(None, usize::MAX);
        let mut wire = Vec::new();
        assert!(w.auto_pong(b"1", None));
        wire.extend(drain(&mut w));
        // The frame's last 3 bytes wait: a pong's length, as if it were one.
        w.message_through(OpCode::Binary, &[7; 100], None, take_at_most(&mut wire, 99))
            .unwrap();
        assert_eq!(w.buffered(), 3);
        w.note_input(); // stalled: a pong may replace the latest one ...
        assert!(w.auto_pong(b"2", None));
        w.note_input();
        assert!(w.auto_pong(b"3", None)); // ... which is "2", not the rest
        wire.extend(drain(&mut w));
        let mut expected = vec![0x8A, 1, b'1', 0x82, 100];
        expected.extend_from_slice(&[7; 100]);
        expected.extend_from_slice(&[0x8A, 1, b'3']);
        assert_eq!(wire, expected);
    }
}
