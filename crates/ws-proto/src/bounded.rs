//! Buffer growth with a ceiling.
//!
//! `BytesMut` grows by doubling, so a buffer that must hold up to `cap`
//! bytes can end up with twice that allocated. Buffers whose size a peer
//! controls (a message being assembled or inflated, a large frame
//! received in place) grow through [`reserve_within`] instead: by doubling
//! while that stays under the ceiling, then to the ceiling exactly.

use bytes::BytesMut;

/// Makes room for `want` more bytes in `buf` without its capacity passing
/// `cap`. Past the ceiling (more bytes than it allows), growth is the usual
/// doubling.
pub(crate) fn reserve_within(buf: &mut BytesMut, want: usize, cap: usize) {
    let needed = buf.len().saturating_add(want);
    if buf.capacity() >= needed || buf.try_reclaim(want) {
        return; // room already, or made by moving the bytes (no allocation)
    }
    let doubled = buf.capacity().saturating_mul(2).max(needed);
    if doubled <= cap || needed > cap {
        buf.reserve(want);
    } else {
        // To the ceiling exactly, through the vector's own reallocation:
        // a large block is then grown in place or remapped, where a new
        // buffer and a copy would hold both at once (twice the limit, for
        // a moment). Unshared, the conversions move no byte.
        let mut vec = Vec::from(std::mem::take(buf));
        vec.reserve_exact(cap - vec.len());
        *buf = BytesMut::from(bytes::Bytes::from(vec));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_stops_at_the_ceiling() {
        let cap = 1_000_000;
        let mut buf = BytesMut::new();
        while buf.len() < cap {
            let n = 7_777.min(cap - buf.len());
            reserve_within(&mut buf, n, cap);
            buf.extend_from_slice(&vec![1; n]);
            assert!(buf.capacity() <= cap, "{}", buf.capacity());
        }
        assert_eq!(buf.capacity(), cap);
        assert_eq!(buf.len(), cap);
        assert!(buf.iter().all(|&b| b == 1));
    }

    #[test]
    fn past_the_ceiling_growth_is_amortized() {
        let mut buf = BytesMut::new();
        let mut reallocations = 0;
        for _ in 0..10_000 {
            let before = buf.capacity();
            reserve_within(&mut buf, 100, 1000);
            buf.extend_from_slice(&[0; 100]);
            reallocations += usize::from(buf.capacity() != before);
        }
        assert!(reallocations < 30, "{reallocations}");
    }
}
