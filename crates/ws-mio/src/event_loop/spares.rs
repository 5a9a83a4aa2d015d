//! Read buffers that drained connections gave back, lent to the next
//! connection that reads.
//!
//! A connection whose socket drains after small reads gives its read
//! buffer back, so that an idle connection holds none (ws-proto's
//! `receive_drained`). In request-and-answer traffic the socket drains
//! after every message, and each answer would then allocate (and zero) a
//! new buffer: two heap allocations per message and side, counted in
//! `tests/allocations.rs`. The loop keeps a few of the buffers given back
//! and lends one to the next read that has none, so steady traffic
//! allocates nothing, while idle connections still hold no read buffer.
//! The loop thread holds at most [`MAX_SPARES`] of at most
//! [`MAX_SPARE_CAPACITY`] bytes each (64 KiB; typically 512 bytes each);
//! like the lent-message buffers, they are the loop's, not counted in a
//! connection's memory budget.

use ws_proto::{Connection, SpareBuffer};

/// The most spare buffers a loop keeps.
const MAX_SPARES: usize = 16;
/// Larger buffers given back are freed, not kept.
const MAX_SPARE_CAPACITY: usize = 4 << 10;

#[derive(Default)]
pub(super) struct Spares {
    buffers: Vec<SpareBuffer>,
}

impl Spares {
    /// Before a read: a connection that holds no read buffer gets a spare
    /// one, if there is one.
    pub(super) fn lend(&mut self, proto: &mut Connection) {
        if !proto.wants_spare_buffer() {
            return;
        }
        if let Some(spare) = self.buffers.pop() {
            if let Some(refused) = proto.adopt_spare_buffer(spare) {
                self.buffers.push(refused);
            }
        }
    }

    /// The socket drained: what `receive_drained` frees is kept instead,
    /// while there is room.
    pub(super) fn drained(&mut self, proto: &mut Connection) {
        if let Some(spare) = proto.receive_drained_spare() {
            if self.buffers.len() < MAX_SPARES && spare.capacity() <= MAX_SPARE_CAPACITY {
                self.buffers.push(spare);
            }
        }
    }
}
