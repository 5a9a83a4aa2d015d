//! The codec's stand-in when the crate is built without the `deflate`
//! feature: the same names and signatures, on types with no values.
//!
//! permessage-deflate is then never negotiated, so no `Deflater` or
//! `Inflater` can exist; every method body is an empty match on `self`,
//! which the compiler checks is unreachable (no panic path, no flate2).

use bytes::BytesMut;

use crate::frame::Utf8Validator;

/// Never constructed: nothing is compressed without the feature.
#[derive(Debug)]
pub(crate) enum Deflater {}

impl Deflater {
    /// Never called with a value (there is none).
    pub(crate) fn compresses(&self, _len: usize) -> bool {
        match *self {}
    }

    /// Only reached in a branch that holds a `Deflater`, so never; the
    /// payload length is a harmless answer for the type checker.
    pub(crate) fn bound(len: usize) -> usize {
        len
    }

    /// Never called with a value.
    pub(crate) fn compress(&mut self, _payload: &[u8]) -> Vec<u8> {
        match *self {}
    }

    /// Never called with a value.
    pub(crate) fn recycle(&mut self, _buf: Vec<u8>) {
        match *self {}
    }

    /// Never called with a value.
    pub(crate) fn release(&mut self) {
        match *self {}
    }
}

/// The codec's error, kept so that the reader's mapping to protocol errors
/// compiles unchanged; never produced without the feature.
#[allow(dead_code)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// The output went over the limit; it holds this many bytes.
    TooLarge(usize),
    /// The compressed data is not valid deflate.
    Corrupt,
    /// Text that is not UTF-8.
    InvalidUtf8,
}

/// Never constructed: nothing is inflated without the feature (a frame with
/// RSV1 is a protocol error, since no extension gives it a meaning).
#[derive(Debug)]
pub(crate) enum Inflater {}

impl Inflater {
    /// Never called with a value.
    pub(crate) fn inflate(
        &mut self,
        _input: &[u8],
        _out: &mut BytesMut,
        _limit: usize,
        _utf8: Option<&mut Utf8Validator>,
    ) -> Result<(), InflateError> {
        match *self {}
    }

    /// Never called with a value.
    pub(crate) fn finish(
        &mut self,
        _out: &mut BytesMut,
        _limit: usize,
        _utf8: Option<&mut Utf8Validator>,
    ) -> Result<(), InflateError> {
        match *self {}
    }

    /// Never called with a value.
    pub(crate) fn release(&mut self) {
        match *self {}
    }
}
