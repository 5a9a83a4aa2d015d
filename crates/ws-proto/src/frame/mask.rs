//! Payload masking (RFC 6455 section 5.3): XOR with a 4-byte key, repeated.
//!
//! [`apply_mask`] works eight bytes at a time over the bulk of the buffer,
//! which the compiler turns into SIMD XORs; [`apply_mask_scalar`] is the plain
//! byte loop of the RFC, kept as the reference the fast one is tested against.
//! Both are safe code; [`extend_masked`] (mask while copying into a `Vec`'s
//! spare capacity) has one `set_len`, after every byte was written.
//!
//! On x86-64 the word loops are compiled twice: for the baseline (SSE2) and
//! for AVX2, chosen at run time for buffers large enough to repay the check.
//! The loop is the same safe code; only the instructions the compiler may
//! pick differ (256-bit XORs: a large masked payload is unmasked at about
//! the speed it is copied).

use std::mem::MaybeUninit;

/// Buffers at least this long take the AVX2 loop when the CPU has it.
#[cfg(target_arch = "x86_64")]
const WIDE: usize = 256;

/// Whether the AVX2 loops may run (the answer is cached by the standard
/// library after the first call).
#[cfg(target_arch = "x86_64")]
#[inline]
fn wide(len: usize) -> bool {
    len >= WIDE && std::arch::is_x86_feature_detected!("avx2")
}

/// XORs `buf` with `key`, where `buf` starts `offset` bytes into the masked
/// payload (so a payload can be unmasked in pieces as it arrives).
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    #[cfg(target_arch = "x86_64")]
    if wide(buf.len()) {
        // SAFETY: the CPU has AVX2, checked just above.
        #[allow(unsafe_code)]
        unsafe {
            apply_mask_avx2(buf, key, offset)
        };
        return;
    }
    apply_mask_words(buf, key, offset);
}

/// [`apply_mask_words`] compiled with AVX2.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[target_feature(enable = "avx2")]
unsafe fn apply_mask_avx2(buf: &mut [u8], key: [u8; 4], offset: usize) {
    apply_mask_words(buf, key, offset);
}

/// The word loop of [`apply_mask`], inlined into each of its compilations.
#[inline(always)]
fn apply_mask_words(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let key = rotate_key(key, offset);
    let word = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut blocks = buf.chunks_exact_mut(32);
    for block in &mut blocks {
        for lane in block.chunks_exact_mut(8) {
            let v = u64::from_ne_bytes(lane.try_into().expect("8-byte lane")) ^ word;
            lane.copy_from_slice(&v.to_ne_bytes());
        }
    }
    // Fewer than 32 bytes are left, and the key phase is unchanged since 32
    // is a multiple of 4.
    for (i, byte) in blocks.into_remainder().iter_mut().enumerate() {
        *byte ^= key[i & 3];
    }
}

/// Appends `src` masked with `key` (from payload offset 0) to `out` in one
/// pass: each byte is read once from the caller's buffer, which is never
/// modified, and written once. Copying first and masking in place would
/// cross the output twice, which shows on large payloads.
#[inline]
pub fn extend_masked(out: &mut Vec<u8>, src: &[u8], key: [u8; 4]) {
    extend_masked_at(out, src, key, 0);
}

/// [`extend_masked`] for a piece of a payload that starts `offset` bytes
/// into it, so a payload can be masked into several buffers in turn.
#[inline(always)] // on the send path of every message: small ones pay for a call
pub fn extend_masked_at(out: &mut Vec<u8>, src: &[u8], key: [u8; 4], offset: usize) {
    #[cfg(target_arch = "x86_64")]
    if wide(src.len()) {
        // SAFETY: the CPU has AVX2, checked just above.
        #[allow(unsafe_code)]
        unsafe {
            extend_masked_avx2(out, src, key, offset)
        };
        return;
    }
    extend_masked_words(out, src, key, offset);
}

/// [`extend_masked_words`] compiled with AVX2.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[target_feature(enable = "avx2")]
unsafe fn extend_masked_avx2(out: &mut Vec<u8>, src: &[u8], key: [u8; 4], offset: usize) {
    extend_masked_words(out, src, key, offset);
}

/// The word loop of [`extend_masked_at`]: masks straight into `out`'s
/// spare capacity, then extends its length once, where appending a
/// 64-byte block at a time paid a length update and a capacity check per
/// block (client encode in `benches/proto.rs`: 1 KiB 14.5 -> 16.4 GiB/s,
/// 1 MiB 17.3 -> 18.6; `memcpy` runs at about 43).
#[inline(always)]
fn extend_masked_words(out: &mut Vec<u8>, src: &[u8], key: [u8; 4], offset: usize) {
    out.reserve(src.len());
    let spare = &mut out.spare_capacity_mut()[..src.len()];
    mask_into_uninit_words(spare, src, rotate_key(key, offset));
    let len = out.len() + src.len();
    // SAFETY: `mask_into_uninit_words` wrote every one of the `src.len()`
    // bytes of spare capacity past the old length.
    #[allow(unsafe_code)]
    unsafe {
        out.set_len(len)
    };
}

/// Writes `src` masked with `key` (from payload offset 0) into `dst`, of
/// the same length, which may be uninitialized: every byte of it is
/// written. For a frame assembled on the stack.
///
/// # Panics
/// If the lengths differ.
#[inline]
pub(crate) fn mask_into_uninit(dst: &mut [MaybeUninit<u8>], src: &[u8], key: [u8; 4]) {
    assert_eq!(dst.len(), src.len(), "mask_into_uninit: lengths differ");
    #[cfg(target_arch = "x86_64")]
    if wide(src.len()) {
        // SAFETY: the CPU has AVX2, checked just above.
        #[allow(unsafe_code)]
        unsafe {
            mask_into_uninit_avx2(dst, src, key)
        };
        return;
    }
    mask_into_uninit_words(dst, src, key);
}

/// [`mask_into_uninit_words`] compiled with AVX2.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[target_feature(enable = "avx2")]
unsafe fn mask_into_uninit_avx2(dst: &mut [MaybeUninit<u8>], src: &[u8], key: [u8; 4]) {
    mask_into_uninit_words(dst, src, key);
}

/// The word loop of [`extend_masked_at`] and [`mask_into_uninit`]: writes
/// every byte of `dst` (as long as `src`, checked by the callers), `key`
/// already rotated to the payload offset of `src`'s first byte.
#[inline(always)]
fn mask_into_uninit_words(dst: &mut [MaybeUninit<u8>], src: &[u8], key: [u8; 4]) {
    let word = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut dst_words = dst.chunks_exact_mut(8);
    let mut src_words = src.chunks_exact(8);
    for (dst, lane) in (&mut dst_words).zip(&mut src_words) {
        let v = u64::from_ne_bytes(lane.try_into().expect("8-byte lane")) ^ word;
        for (d, b) in dst.iter_mut().zip(v.to_ne_bytes()) {
            d.write(b);
        }
    }
    // 8 is a multiple of 4, so the tail starts at key phase 0.
    let tail = dst_words
        .into_remainder()
        .iter_mut()
        .zip(src_words.remainder());
    for (i, (d, &b)) in tail.enumerate() {
        d.write(b ^ key[i & 3]);
    }
}

/// Writes `src` masked with `key` (from its first byte) into `dst`, which
/// has the same length: masking and copying in one pass, a word at a time.
///
/// # Panics
/// If the lengths differ.
#[inline]
pub fn mask_into(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    assert_eq!(dst.len(), src.len(), "mask_into: lengths differ");
    #[cfg(target_arch = "x86_64")]
    if wide(src.len()) {
        // SAFETY: the CPU has AVX2, checked just above.
        #[allow(unsafe_code)]
        unsafe {
            mask_into_avx2(dst, src, key)
        };
        return;
    }
    mask_into_words(dst, src, key);
}

/// [`mask_into_words`] compiled with AVX2.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[target_feature(enable = "avx2")]
unsafe fn mask_into_avx2(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    mask_into_words(dst, src, key);
}

/// The word loop of [`mask_into`] (lengths checked by the caller).
#[inline(always)]
fn mask_into_words(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    let word = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut dst_words = dst.chunks_exact_mut(8);
    let mut src_words = src.chunks_exact(8);
    for (d, s) in (&mut dst_words).zip(&mut src_words) {
        let v = u64::from_ne_bytes(s.try_into().expect("8-byte lane")) ^ word;
        d.copy_from_slice(&v.to_ne_bytes());
    }
    // 8 is a multiple of 4: the rest starts at key phase 0.
    let rest = dst_words.into_remainder().iter_mut();
    for (i, (d, s)) in rest.zip(src_words.remainder()).enumerate() {
        *d = s ^ key[i & 3];
    }
}

/// The byte-at-a-time reference for [`apply_mask`]: the RFC's
/// `transformed-octet-i = original-octet-i XOR masking-key-octet-(i MOD 4)`.
pub fn apply_mask_scalar(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte ^= key[(offset + i) & 3];
    }
}

/// The key as seen from `offset` bytes into the payload.
#[inline]
fn rotate_key(key: [u8; 4], offset: usize) -> [u8; 4] {
    let o = offset & 3;
    [key[o], key[(o + 1) & 3], key[(o + 2) & 3], key[(o + 3) & 3]]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn fast_mask_matches_the_reference(data in proptest::collection::vec(any::<u8>(), 0..1200),
                                           key in any::<[u8; 4]>(), offset in 0usize..16) {
            let mut fast = data.clone();
            let mut slow = data.clone();
            apply_mask(&mut fast, key, offset);
            apply_mask_scalar(&mut slow, key, offset);
            prop_assert_eq!(&fast, &slow);
            // Masking twice is the identity.
            apply_mask(&mut fast, key, offset);
            prop_assert_eq!(fast, data);
        }

        #[test]
        fn mask_into_matches_the_reference(data in proptest::collection::vec(any::<u8>(), 0..1200),
                                           key in any::<[u8; 4]>()) {
            let mut out = vec![0; data.len()];
            mask_into(&mut out, &data, key);
            let mut expected = data.clone();
            apply_mask_scalar(&mut expected, key, 0);
            prop_assert_eq!(out, expected);
        }

        #[test]
        fn fused_copy_and_mask_matches_the_reference(data in proptest::collection::vec(any::<u8>(), 0..1200),
                                                     key in any::<[u8; 4]>(), prefix in 0usize..9) {
            let mut out = vec![0xEE; prefix];
            extend_masked(&mut out, &data, key);
            let mut expected = data.clone();
            apply_mask_scalar(&mut expected, key, 0);
            prop_assert_eq!(&out[..prefix], &vec![0xEE; prefix][..]);
            prop_assert_eq!(&out[prefix..], &expected[..]);
        }

        #[test]
        fn fused_copy_in_pieces_matches_masking_at_once(data in proptest::collection::vec(any::<u8>(), 0..1200),
                                                        key in any::<[u8; 4]>(), split in 0usize..300) {
            let split = split.min(data.len());
            let mut out = Vec::new();
            extend_masked_at(&mut out, &data[..split], key, 0);
            extend_masked_at(&mut out, &data[split..], key, split);
            let mut expected = data.clone();
            apply_mask_scalar(&mut expected, key, 0);
            prop_assert_eq!(out, expected);
        }

        #[test]
        fn masking_in_pieces_matches_masking_at_once(data in proptest::collection::vec(any::<u8>(), 0..200),
                                                     key in any::<[u8; 4]>(), split in 0usize..200) {
            let split = split.min(data.len());
            let mut whole = data.clone();
            apply_mask(&mut whole, key, 0);
            let mut pieces = data;
            let (a, b) = pieces.split_at_mut(split);
            apply_mask(a, key, 0);
            apply_mask(b, key, split);
            prop_assert_eq!(whole, pieces);
        }
    }

    #[test]
    fn rfc_example() {
        // Section 5.7: "Hello" masked with 37 fa 21 3d.
        let mut data = *b"Hello";
        apply_mask(&mut data, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(data, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }
}
