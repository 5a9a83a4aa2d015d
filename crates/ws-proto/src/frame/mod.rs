//! The wire format of RFC 6455 section 5: frame headers, masking and the
//! incremental UTF-8 check of text payloads. These are pure functions over
//! byte slices; the connection decides what a frame means.

pub mod header;
pub mod mask;
pub mod utf8;

pub use header::{FrameHeader, OpCode};
pub use mask::{apply_mask, apply_mask_scalar, extend_masked, extend_masked_at, mask_into};
pub use utf8::{Utf8Bytes, Utf8Validator};
