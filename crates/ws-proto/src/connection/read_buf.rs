//! The read buffer: received bytes waiting to be decoded, and room after
//! them that a driver can read into directly, so that received bytes are
//! copied once (by the kernel, or by rustls) and not again from a scratch
//! buffer.
//!
//! Reading into a slice needs initialized memory, and zeroing a whole
//! window before every read would cost a pass over the bytes. So the
//! buffer remembers what it has initialized: `bytes` holds the received
//! bytes (the first `filled`) and then room that was zeroed or read into
//! before and is free again. Only room never initialized in the current
//! allocation is zeroed, once, and only as far as a read asks for.
//!
//! Decoded frames leave from the front (`split_to`, `advance`), so a
//! message split off as `Bytes` keeps sharing the buffer, as before.
//!
//! A message can also be lent where it lies ([`ReadBuf::lend`]), for a
//! caller that reads it and keeps nothing: no `Bytes` is split off (no
//! reference count to raise and drop per message). Its bytes stay at the
//! front, no longer visible, until the next change to the buffer drops
//! them; a shared borrow of the buffer cannot outlive that change.

use std::ops::{Deref, DerefMut};

use bytes::{Buf as _, BytesMut};

use crate::bounded::reserve_within;

#[derive(Debug, Default)]
pub(crate) struct ReadBuf {
    /// `bytes[..filled]`: received; `bytes[filled..]`: initialized room.
    bytes: BytesMut,
    filled: usize,
    /// `bytes[..lent]`: a message lent out, consumed; dropped at the next
    /// change (see [`settle`](Self::settle)). Part of `filled`.
    lent: usize,
    /// How many of the lent bytes come before the message lent (its
    /// frame header).
    lent_skip: usize,
    /// Received bytes moved by growth so far (for tests of how often).
    #[cfg(test)]
    pub(crate) moved: usize,
    /// Times room was made (reclaimed or allocated), for tests.
    #[cfg(test)]
    pub(crate) grown: usize,
}

impl ReadBuf {
    /// Heap bytes held.
    pub(crate) fn capacity(&self) -> usize {
        self.bytes.capacity()
    }

    /// Drops the bytes of a message lent out before: every change to the
    /// buffer starts here, so what was lent is gone before anything moves.
    #[inline]
    fn settle(&mut self) {
        if self.lent != 0 {
            self.bytes.advance(self.lent);
            self.filled -= self.lent;
            self.lent = 0;
        }
    }

    /// Consumes the first `skip + len` received bytes and lends the last
    /// `len` of them: they stay where they are, unseen by the rest of the
    /// buffer, until its next change.
    pub(crate) fn lend(&mut self, skip: usize, len: usize) -> &[u8] {
        self.settle();
        let end = skip + len;
        assert!(end <= self.filled, "lent past the received bytes");
        self.lent = end;
        self.lent_skip = skip;
        &self.bytes[skip..end]
    }

    /// The bytes last lent, if they still are (no change since), taken
    /// as a buffer sharing this one: what [`split_to`](Self::split_to)
    /// would have given, without a copy.
    pub(crate) fn take_lent(&mut self) -> Option<BytesMut> {
        if self.lent == 0 {
            return None;
        }
        let mut taken = self.bytes.split_to(self.lent);
        taken.advance(self.lent_skip);
        self.filled -= self.lent;
        self.lent = 0;
        Some(taken)
    }

    /// Takes the first `n` received bytes (as a buffer sharing this one).
    pub(crate) fn split_to(&mut self, n: usize) -> BytesMut {
        self.settle();
        assert!(n <= self.filled, "split past the received bytes");
        self.filled -= n;
        self.bytes.split_to(n)
    }

    /// Drops the first `n` received bytes.
    pub(crate) fn advance(&mut self, n: usize) {
        self.settle();
        assert!(n <= self.filled, "advance past the received bytes");
        self.filled -= n;
        self.bytes.advance(n);
    }

    /// Makes room for `want` more bytes without the capacity passing `cap`
    /// (see [`reserve_within`]).
    pub(crate) fn reserve(&mut self, want: usize, cap: usize) {
        self.settle();
        if self.bytes.capacity() - self.filled >= want {
            return;
        }
        // Growing moves the received bytes only (not the room after them).
        #[cfg(test)]
        {
            self.moved += self.filled;
            self.grown += 1;
        }
        let initialized_end = self.bytes.as_ptr() as usize + self.bytes.len();
        self.bytes.truncate(self.filled);
        reserve_within(&mut self.bytes, want, cap);
        self.reclaim_initialized(initialized_end);
    }

    /// After growth that moved the received bytes to the front of the same
    /// allocation (reclaiming what earlier messages used), the room after
    /// them is memory this buffer initialized before: counted as such
    /// again, it need not be zeroed again. This is what keeps a busy
    /// connection from zeroing its room once per buffer's worth of input.
    ///
    /// `initialized_end` is the address just past the bytes initialized
    /// before the growth.
    #[allow(unsafe_code)]
    fn reclaim_initialized(&mut self, initialized_end: usize) {
        let start = self.bytes.as_ptr() as usize;
        let len = self.bytes.len();
        let end = start + self.bytes.capacity();
        if initialized_end <= start + len || initialized_end > end {
            return; // a new allocation, or nothing to gain
        }
        // SAFETY: `[start, initialized_end)` lies inside this buffer's own
        // range, so it is part of the allocation that held the old bytes
        // (live allocations never overlap: a growth that allocates anew
        // does so while the old allocation still lives, so a new range
        // cannot contain an old address). In that allocation, every byte
        // before the old end of initialized bytes was initialized: bytes
        // before the old view's start were received bytes once (a view's
        // start only moves past its initialized length, by `advance` or
        // `split_to`), the old view's `[.., len)` was initialized by
        // definition, and `BytesMut` never de-initializes memory (moving
        // the received bytes to the front writes initialized bytes). The
        // new length stays within the capacity (checked above).
        unsafe { self.bytes.set_len(initialized_end - start) };
    }

    /// Appends `data` (copied).
    pub(crate) fn extend_from_slice(&mut self, data: &[u8]) {
        self.settle();
        let end = self.filled + data.len();
        if self.bytes.len() >= end {
            self.bytes[self.filled..end].copy_from_slice(data);
        } else {
            self.bytes.truncate(self.filled);
            self.bytes.extend_from_slice(data);
        }
        self.filled = end;
    }

    /// Room after the received bytes: what is there already when it holds
    /// at least `needed` bytes, else room for `want` (at least `needed`),
    /// growing within `cap` as [`reserve`](Self::reserve) does; more when
    /// initialized room is already there. Fill a prefix of it, then
    /// [`commit`](Self::commit) that many bytes.
    /// At most `upto` bytes are lent.
    pub(crate) fn room(
        &mut self,
        want: usize,
        needed: usize,
        cap: usize,
        upto: usize,
    ) -> &mut [u8] {
        self.settle();
        if self.spare() < needed.max(1) {
            self.reserve(want.max(needed), cap);
        }
        let end = (self.filled + want).min(self.bytes.capacity());
        if self.bytes.len() < end {
            self.bytes.resize(end, 0); // within capacity: zeroes, never moves
        }
        let end = self
            .bytes
            .len()
            .min(self.filled.saturating_add(upto.max(1)));
        &mut self.bytes[self.filled..end]
    }

    /// Whether [`room`](Self::room) with these `needed` and `want` would
    /// lend the room already there without changing anything (no message
    /// lent to drop, no growth, no zeroing): then
    /// [`room_at_hand`](Self::room_at_hand) lends the same room, cheaper.
    #[inline]
    pub(crate) fn has_room_at_hand(&self, needed: usize, want: usize) -> bool {
        let capacity = self.bytes.capacity();
        self.lent == 0
            && capacity - self.filled >= needed.max(1)
            && self.bytes.len() >= (self.filled + want).min(capacity)
    }

    /// The initialized room after the received bytes: what
    /// [`room`](Self::room) lends when
    /// [`has_room_at_hand`](Self::has_room_at_hand) says so.
    #[inline]
    pub(crate) fn room_at_hand(&mut self) -> &mut [u8] {
        let filled = self.filled;
        &mut self.bytes[filled..]
    }

    /// Room after the received bytes in the current allocation.
    pub(crate) fn spare(&self) -> usize {
        self.bytes.capacity() - self.filled
    }

    /// Counts `n` bytes written at the start of [`room`](Self::room) as
    /// received.
    #[inline]
    pub(crate) fn commit(&mut self, n: usize) {
        self.settle();
        assert!(
            n <= self.bytes.len() - self.filled,
            "committed more than the room lent"
        );
        self.filled += n;
    }

    /// The first `n` bytes of the room (written by a read, not committed).
    pub(crate) fn uncommitted(&self, n: usize) -> &[u8] {
        &self.bytes[self.filled..self.filled + n]
    }

    /// Received bytes not yet taken (the length of the view), without
    /// building the slice: the check every empty poll starts with.
    #[inline]
    pub(crate) fn received(&self) -> usize {
        self.filled - self.lent
    }

    /// The allocation, for another read buffer to reuse, when it holds no
    /// received byte and room for `at_least` bytes can be had without
    /// allocating (the room given up by messages split off comes back once
    /// none of them is alive); `None` otherwise. What was initialized stays
    /// so: the reuser zeroes nothing.
    pub(crate) fn into_spare(mut self, at_least: usize) -> Option<BytesMut> {
        self.settle();
        if self.filled != 0 || self.bytes.capacity() == 0 {
            return None;
        }
        let initialized_end = self.bytes.as_ptr() as usize + self.bytes.len();
        self.bytes.truncate(0);
        if !self.bytes.try_reclaim(at_least) {
            return None; // shared with a message still alive
        }
        self.reclaim_initialized(initialized_end);
        Some(self.bytes)
    }

    /// A read buffer over a spare allocation from
    /// [`into_spare`](Self::into_spare): its bytes are room (initialized
    /// room, per its length), none of them received.
    pub(crate) fn from_spare(bytes: BytesMut) -> Self {
        Self {
            bytes,
            ..Self::default()
        }
    }
}

impl Deref for ReadBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes[self.lent..self.filled]
    }
}

impl DerefMut for ReadBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.settle();
        &mut self.bytes[..self.filled]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_read_into_is_received_in_order() {
        let mut buf = ReadBuf::default();
        buf.extend_from_slice(b"ab");
        let room = buf.room(4, 4, usize::MAX, usize::MAX);
        assert!(room.len() >= 4);
        room[..3].copy_from_slice(b"cde");
        buf.commit(3);
        assert_eq!(&*buf, b"abcde");
        assert_eq!(&buf.split_to(2)[..], b"ab");
        buf.advance(1);
        assert_eq!(&*buf, b"de");
        buf.extend_from_slice(b"f");
        assert_eq!(&*buf, b"def");
    }

    #[test]
    fn room_is_reused_without_growing() {
        let mut buf = ReadBuf::default();
        for round in 0..1000u32 {
            let room = buf.room(64, 64, usize::MAX, usize::MAX);
            room[..8].copy_from_slice(&u64::from(round).to_le_bytes());
            buf.commit(8);
            let got = buf.split_to(8);
            assert_eq!(&got[..], &u64::from(round).to_le_bytes());
        }
        assert!(buf.capacity() <= 256, "{}", buf.capacity());
    }

    #[test]
    fn a_spare_comes_back_whole_and_initialized_and_never_as_received_bytes() {
        let mut buf = ReadBuf::default();
        let room = buf.room(512, 512, usize::MAX, usize::MAX);
        let room_len = room.len();
        room[..5].copy_from_slice(b"hello");
        buf.commit(5);
        let message = buf.split_to(5);
        // Shared with a live message: not spared.
        assert!(buf.into_spare(512).is_none());
        assert_eq!(&message[..], b"hello");

        let mut buf = ReadBuf::default();
        let room = buf.room(512, 512, usize::MAX, usize::MAX);
        room[..3].copy_from_slice(b"abc");
        buf.commit(3);
        drop(buf.split_to(3));
        let spare = buf.into_spare(512).expect("nothing shares it");
        assert!(spare.capacity() >= room_len);
        assert!(spare.len() >= room_len, "what was initialized stays so");
        let mut reused = ReadBuf::from_spare(spare);
        assert!(reused.is_empty(), "its old bytes are not received");
        let before = reused.bytes.len();
        let room = reused.room(512, 512, usize::MAX, usize::MAX);
        assert!(room.len() >= 512);
        assert_eq!(reused.bytes.len(), before, "no zeroing");
        let room = reused.room(512, 512, usize::MAX, usize::MAX);
        room[..2].copy_from_slice(b"xy");
        reused.commit(2);
        assert_eq!(&*reused, b"xy");
    }

    #[test]
    fn reclaimed_room_is_not_zeroed_again_and_bytes_stay_intact() {
        // Reads of varying sizes, messages split off and dropped (so the
        // allocation is reclaimed in place), some kept a while (so it is
        // not): every byte received comes out in order.
        let mut buf = ReadBuf::default();
        let mut next_in = 0u8;
        let mut next_out = 0u8;
        let mut kept = Vec::new();
        for round in 0..2000usize {
            let want = 64 + (round * 37) % 5000;
            let room = buf.room(want, want, usize::MAX, usize::MAX);
            let n = (round * 53) % room.len().max(1) + 1;
            for b in &mut room[..n] {
                *b = next_in;
                next_in = next_in.wrapping_add(1);
            }
            buf.commit(n);
            let take = buf.len() - (round % 7).min(buf.len());
            let out = buf.split_to(take);
            for &b in out.iter() {
                assert_eq!(b, next_out);
                next_out = next_out.wrapping_add(1);
            }
            if round % 11 == 0 {
                kept.push(out.freeze());
            }
            if kept.len() > 3 {
                kept.clear();
            }
        }
        assert!(buf.capacity() < 64 << 10, "{}", buf.capacity());
    }

    #[test]
    fn lent_bytes_are_gone_from_the_view_and_dropped_at_the_next_change() {
        let mut buf = ReadBuf::default();
        buf.extend_from_slice(b"hdXYZrest");
        assert_eq!(buf.lend(2, 3), b"XYZ");
        assert_eq!(&*buf, b"rest", "lent bytes are consumed at once");
        assert_eq!(buf.len(), 4);
        buf.extend_from_slice(b"!"); // a change: the lent bytes go
        assert_eq!(&*buf, b"rest!");
        assert_eq!(buf.lend(0, 4), b"rest");
        assert_eq!(
            buf.lend(0, 1),
            b"!",
            "lending again drops the previous loan"
        );
        assert!(buf.is_empty());
        let room = buf.room(8, 8, usize::MAX, usize::MAX);
        room[..2].copy_from_slice(b"ab");
        buf.commit(2);
        assert_eq!(&buf.split_to(1)[..], b"a");
        assert_eq!(&*buf, b"b");
    }

    #[test]
    fn lent_bytes_can_be_kept_until_the_next_change() {
        let mut buf = ReadBuf::default();
        buf.extend_from_slice(b"hdXYZrest");
        assert_eq!(buf.lend(2, 3), b"XYZ");
        assert_eq!(&buf.take_lent().expect("still lent")[..], b"XYZ");
        assert!(buf.take_lent().is_none(), "taken once");
        assert_eq!(&*buf, b"rest");
        assert_eq!(buf.lend(0, 2), b"re");
        buf.advance(1); // a change: the loan is over
        assert!(buf.take_lent().is_none());
        assert_eq!(&*buf, b"t");
    }

    #[test]
    fn lending_every_message_reuses_the_room() {
        // A reader that lends each message keeps reading into the same
        // allocation: the lent bytes are reclaimed like split-off ones.
        let mut buf = ReadBuf::default();
        for round in 0..1000u32 {
            let room = buf.room(64, 64, usize::MAX, usize::MAX);
            room[..8].copy_from_slice(&u64::from(round).to_le_bytes());
            buf.commit(8);
            assert_eq!(buf.lend(0, 8), &u64::from(round).to_le_bytes());
        }
        assert!(buf.capacity() <= 256, "{}", buf.capacity());
    }

    #[test]
    #[should_panic(expected = "committed more")]
    fn committing_past_the_room_panics() {
        let mut buf = ReadBuf::default();
        let n = buf.room(8, 8, usize::MAX, usize::MAX).len();
        buf.commit(n + 1);
    }
}
