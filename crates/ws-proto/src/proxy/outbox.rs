//! [`Outbox`]: the requests a tunnel has to write, and how far they are
//! written. Shared by both tunnel protocols.

/// Bytes waiting to be written to the proxy.
#[derive(Default)]
pub(super) struct Outbox {
    bytes: Vec<u8>,
    /// The first `sent` bytes are written.
    sent: usize,
}

impl Outbox {
    pub(super) fn new(bytes: Vec<u8>) -> Self {
        Self { bytes, sent: 0 }
    }

    /// The bytes not written yet, if any.
    pub(super) fn pending(&self) -> Option<&[u8]> {
        let rest = &self.bytes[self.sent..];
        (!rest.is_empty()).then_some(rest)
    }

    /// How many bytes are not written yet.
    pub(super) fn unsent(&self) -> usize {
        self.bytes.len() - self.sent
    }

    /// Heap bytes held (for the tests that bound it).
    #[cfg(test)]
    pub(super) fn capacity(&self) -> usize {
        self.bytes.capacity()
    }

    /// `n` bytes of [`pending`](Self::pending) were written; more than it
    /// gave counts as all of it. Once all are written the buffer is freed:
    /// requests can hold credentials, and nothing needs them any more.
    pub(super) fn advance(&mut self, n: usize) {
        self.sent = self.sent.saturating_add(n).min(self.bytes.len());
        if self.sent == self.bytes.len() {
            *self = Self::default();
        }
    }

    /// Queues `message` after what is still unwritten.
    pub(super) fn push(&mut self, message: &[u8]) {
        self.bytes.drain(..self.sent);
        self.sent = 0;
        self.bytes.extend_from_slice(message);
    }
}
