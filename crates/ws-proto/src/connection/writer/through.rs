//! Write-through sends: the message goes to the caller's transport in the
//! same call, and only what the transport did not take is queued.
//!
//! The ordinary send copies the payload into the queue and the driver
//! copies it again into the transport. When nothing is waiting, the
//! message is one frame and needs no copy of its own (no compression; no
//! mask, or a mask the caller lets us apply to its buffer), the header is
//! encoded on the stack and the transport gets `[header, payload]` straight
//! from the caller's buffer: one copy, the transport's. Anything else
//! (output already waiting, which must go first; fragments; compression; a
//! mask on a buffer that must stay intact) is queued as usual and the
//! transport gets one attempt at everything waiting.
//!
//! The bytes written directly count as queued and written at once (a push
//! of their own), so the queue's positions (the close frame's end) stay
//! those of the whole stream, and an automatic pong queued before them can
//! never be taken for the last thing queued and replaced.

use std::io::IoSlice;

use super::Writer;
use crate::error::SendError;
use crate::frame::header::MAX_HEADER_LEN;
use crate::frame::{OpCode, apply_mask};
use crate::key_source::KeySource;

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
        if rng.is_some() || !self.goes_through(payload.len()) {
            self.message(opcode, payload, rng)?;
            self.write_pending(write);
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
        if !self.goes_through(payload.len()) {
            self.message(opcode, payload, rng)?;
            self.write_pending(write);
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
        debug_assert_eq!(self.out.buffered(), 0, "output waiting would go after");
        let mut head = [0u8; MAX_HEADER_LEN];
        let head_len = super::frame_header(true, 0, opcode, payload.len(), mask).encode(&mut head);
        let head = &head[..head_len];
        let written = write(&[IoSlice::new(head), IoSlice::new(payload)]);
        assert!(
            written <= head_len + payload.len(),
            "write reported {written} bytes written of {}",
            head_len + payload.len()
        );
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
        assert!(
            written <= offered,
            "write reported {written} bytes written of {offered}"
        );
        self.advance(written);
    }
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
        let mut w = Writer::new(Some(1000), usize::MAX);
        let through = |w: &mut Writer, wire: &mut Vec<u8>, len: usize| {
            w.message_through(OpCode::Binary, &vec![0; len], None, take_at_most(wire, 0))
        };
        assert_eq!(through(&mut w, &mut wire, 1000), Ok(true));
        assert_eq!(through(&mut w, &mut wire, 10), Ok(false), "output waits");
        drain(&mut w);
        assert_eq!(through(&mut w, &mut wire, 1001), Ok(false), "fragmented");
        drain(&mut w);
        let masked = w.message_through(
            OpCode::Binary,
            &[0; 10],
            Some(&mut rng),
            take_at_most(&mut wire, 0),
        );
        assert_eq!(masked, Ok(false), "a client's lent payload is copied");
        drain(&mut w);
        let in_place = w.message_in_place(
            OpCode::Binary,
            &mut [0; 10],
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
