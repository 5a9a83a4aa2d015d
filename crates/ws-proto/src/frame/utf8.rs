//! Incremental UTF-8 validation of text messages (RFC 6455 section 8.1), and
//! the validated text type handed to the caller.
//!
//! A text message may be split anywhere (across frames, and within a frame
//! across reads), even inside a code point. The validator checks every byte
//! as it arrives and keeps at most three bytes of an unfinished code point, so
//! invalid input is found at the first byte that cannot start or continue a
//! valid sequence, not at the end of the frame or message.

use std::fmt;
use std::ops::Deref;

use bytes::Bytes;

/// The input is not UTF-8 and no continuation can make it so.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidUtf8;

/// Validates a UTF-8 stream fed in arbitrary pieces.
#[derive(Clone, Debug, Default)]
pub struct Utf8Validator {
    /// The bytes of an unfinished code point at the end of the last piece.
    partial: [u8; 4],
    partial_len: u8,
}

impl Utf8Validator {
    /// A validator at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the next piece of the stream. Fails as soon as the stream can
    /// no longer be valid, however it continues.
    pub fn feed(&mut self, mut input: &[u8]) -> Result<(), InvalidUtf8> {
        if self.partial_len > 0 {
            let have = usize::from(self.partial_len);
            let width = sequence_width(self.partial[0]);
            let take = (width - have).min(input.len());
            self.partial[have..have + take].copy_from_slice(&input[..take]);
            input = &input[take..];
            let filled = have + take;
            match core::str::from_utf8(&self.partial[..filled]) {
                Ok(_) => self.partial_len = 0,
                Err(e) if e.error_len().is_some() => return Err(InvalidUtf8),
                Err(_) => {
                    // Still unfinished, so the whole input was consumed.
                    self.partial_len = filled as u8;
                    return Ok(());
                }
            }
        }
        match simdutf8::compat::from_utf8(input) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_some() => Err(InvalidUtf8),
            Err(e) => {
                let tail = &input[e.valid_up_to()..];
                self.partial[..tail.len()].copy_from_slice(tail);
                self.partial_len = tail.len() as u8;
                Ok(())
            }
        }
    }

    /// Ends the stream: fails if it stopped inside a code point.
    pub fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let unfinished = self.partial_len != 0;
        self.partial_len = 0;
        if unfinished { Err(InvalidUtf8) } else { Ok(()) }
    }

    /// Forgets any unfinished code point, ready for a new stream.
    pub fn reset(&mut self) {
        self.partial_len = 0;
    }
}

/// The length of the sequence a valid lead byte starts. Only called on the
/// first byte of an unfinished sequence, which the validator has accepted.
fn sequence_width(lead: u8) -> usize {
    match lead {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

/// Bytes known to be valid UTF-8: a received text message.
///
/// Cheap to clone (it shares the underlying buffer) and dereferences to `str`.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// Wraps bytes the caller has already validated.
    pub(crate) fn from_validated(bytes: Bytes) -> Self {
        debug_assert!(core::str::from_utf8(&bytes).is_ok());
        Self(bytes)
    }

    /// Validates `bytes`.
    pub fn try_from_bytes(bytes: Bytes) -> Result<Self, InvalidUtf8> {
        match simdutf8::basic::from_utf8(&bytes) {
            Ok(_) => Ok(Self(bytes)),
            Err(_) => Err(InvalidUtf8),
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor validates the bytes (from_validated is
        // only called on bytes that went through `Utf8Validator`, and
        // `Bytes` is immutable.
        #[allow(unsafe_code)]
        unsafe {
            core::str::from_utf8_unchecked(&self.0)
        }
    }

    /// The underlying bytes, without copying.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

/// Text the caller has already validated as UTF-8 (with `simdutf8` or
/// [`Utf8Validator`]), as `&str` without a second pass.
pub(crate) fn str_from_validated(bytes: &[u8]) -> &str {
    debug_assert!(core::str::from_utf8(bytes).is_ok());
    // SAFETY: the caller validated exactly these bytes, and the shared
    // borrow keeps them from changing while the `&str` lives.
    #[allow(unsafe_code)]
    unsafe {
        core::str::from_utf8_unchecked(bytes)
    }
}

impl From<&'static str> for Utf8Bytes {
    fn from(s: &'static str) -> Self {
        Self(Bytes::from_static(s.as_bytes()))
    }
}

impl From<String> for Utf8Bytes {
    fn from(s: String) -> Self {
        Self(Bytes::from(s.into_bytes()))
    }
}

impl Deref for Utf8Bytes {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Utf8Bytes {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for Utf8Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn feed_split(data: &[u8], splits: &[usize]) -> Result<(), InvalidUtf8> {
        let mut v = Utf8Validator::new();
        let mut rest = data;
        for &s in splits {
            let s = s.min(rest.len());
            v.feed(&rest[..s])?;
            rest = &rest[s..];
        }
        v.feed(rest)?;
        v.finish()
    }

    proptest! {
        #[test]
        fn agrees_with_std_under_any_split(data in proptest::collection::vec(any::<u8>(), 0..64),
                                            splits in proptest::collection::vec(0usize..8, 0..10)) {
            prop_assert_eq!(feed_split(&data, &splits).is_ok(), core::str::from_utf8(&data).is_ok());
        }

        #[test]
        fn valid_text_passes_byte_by_byte(text in "\\PC{0,40}") {
            let splits = vec![1; text.len()];
            prop_assert!(feed_split(text.as_bytes(), &splits).is_ok());
        }
    }

    #[test]
    fn fails_at_the_first_impossible_byte() {
        // Autobahn 6.4.1: U+10FFFF is the last code point; F4 90 can never be
        // completed, so it fails before the rest of the sequence arrives.
        let mut v = Utf8Validator::new();
        v.feed("κόσμε".as_bytes()).unwrap();
        v.feed(&[0xF4]).unwrap();
        assert_eq!(v.feed(&[0x90]), Err(InvalidUtf8));

        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(&[0xED, 0xA0]), Err(InvalidUtf8), "surrogate");
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(&[0xC0]), Err(InvalidUtf8), "overlong lead");
    }

    #[test]
    fn unfinished_sequence_fails_at_the_end() {
        let mut v = Utf8Validator::new();
        v.feed(&[0xE2, 0x82]).unwrap();
        assert_eq!(v.finish(), Err(InvalidUtf8));
        // and the validator is reusable afterwards
        v.feed(b"ok").unwrap();
        assert_eq!(v.finish(), Ok(()));
    }

    #[test]
    fn code_point_split_over_three_pieces() {
        let euro = "€".as_bytes();
        let mut v = Utf8Validator::new();
        v.feed(&euro[..1]).unwrap();
        v.feed(&euro[1..2]).unwrap();
        v.feed(&euro[2..]).unwrap();
        assert_eq!(v.finish(), Ok(()));
    }
}
