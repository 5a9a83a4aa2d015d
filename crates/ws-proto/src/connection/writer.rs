//! The send path: frames encoded (and, for a client, masked with a fresh
//! key each) into one output buffer that the driver drains.
//!
//! The payload is copied once, from the caller's slice into the output
//! buffer, masked on the way: the caller's buffer is never modified. The
//! buffer keeps its capacity between messages, so sending allocates nothing
//! in steady state.

use rand::Rng;

use crate::close::CloseCode;
use crate::error::SendError;
use crate::frame::header::MAX_HEADER_LEN;
use crate::frame::{FrameHeader, OpCode, extend_masked};

#[derive(Debug)]
pub(crate) struct Writer {
    /// Frames not yet handed to the transport start at `start`.
    out: Vec<u8>,
    start: usize,
    fragment_size: usize,
    max_buffer: usize,
}

impl Writer {
    pub(crate) fn new(fragment_size: Option<usize>, max_buffer: usize) -> Self {
        Self {
            out: Vec::new(),
            start: 0,
            fragment_size: fragment_size.unwrap_or(usize::MAX).max(1),
            max_buffer,
        }
    }

    /// Bytes waiting for the transport.
    pub(crate) fn buffered(&self) -> usize {
        self.out.len() - self.start
    }

    /// The bytes waiting for the transport.
    pub(crate) fn pending(&self) -> &[u8] {
        &self.out[self.start..]
    }

    /// Marks `n` pending bytes as handed to the transport.
    pub(crate) fn advance(&mut self, n: usize) {
        self.start = (self.start + n).min(self.out.len());
        if self.start == self.out.len() {
            self.out.clear();
            self.start = 0;
        }
    }

    /// Raw access for the handshake, which writes HTTP rather than frames.
    pub(crate) fn raw(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }

    /// Frees buffer capacity that holds no data.
    pub(crate) fn release_buffers(&mut self) {
        if self.buffered() == 0 {
            self.out = Vec::new();
            self.start = 0;
        }
    }

    /// Heap bytes held by the buffer.
    pub(crate) fn capacity(&self) -> usize {
        self.out.capacity()
    }

    /// Encodes a text or binary message, fragmented at the configured size.
    /// Fails, queuing nothing, when it would overflow the buffer limit.
    pub(crate) fn message(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        rng: Option<&mut dyn Rng>,
    ) -> Result<(), SendError> {
        let frames = payload.len().div_ceil(self.fragment_size).max(1);
        let needed = payload.len() + frames * MAX_HEADER_LEN;
        let buffered = self.buffered();
        if buffered.saturating_add(needed) > self.max_buffer {
            return Err(SendError::WriteBufferFull {
                buffered,
                needed,
                limit: self.max_buffer,
            });
        }
        self.out.reserve(needed);
        let mut rng = rng;
        let mut chunks = payload.chunks(self.fragment_size);
        let mut opcode = opcode;
        for i in 0..frames {
            let chunk = chunks.next().unwrap_or_default();
            let mask = rng.as_deref_mut().map(|r| r.next_u32().to_ne_bytes());
            self.frame(i + 1 == frames, opcode, chunk, mask);
            opcode = OpCode::Continuation;
        }
        Ok(())
    }

    /// Encodes a control frame; these bypass the buffer limit (they are small,
    /// and the protocol needs them to go out).
    pub(crate) fn control(&mut self, opcode: OpCode, payload: &[u8], rng: Option<&mut dyn Rng>) {
        debug_assert!(opcode.is_control() && payload.len() <= 125);
        let mask = rng.map(|r| r.next_u32().to_ne_bytes());
        self.frame(true, opcode, payload, mask);
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

    fn frame(&mut self, fin: bool, opcode: OpCode, payload: &[u8], mask: Option<[u8; 4]>) {
        let header = FrameHeader {
            fin,
            rsv: 0,
            opcode,
            mask,
            payload_len: payload.len() as u64,
        };
        let mut head = [0u8; MAX_HEADER_LEN];
        let n = header.encode(&mut head);
        self.out.extend_from_slice(&head[..n]);
        match mask {
            Some(key) => extend_masked(&mut self.out, payload, key),
            None => self.out.extend_from_slice(payload),
        }
    }
}
