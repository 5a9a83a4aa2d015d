//! Helpers shared by the tests of the ws workspace (dev-only, never
//! published). Each exists once here instead of once per test folder:
//!
//! - [`handshake`]: the opening handshake by hand (request heads, the
//!   accept key, the 101 answer, reading a head off a socket);
//! - [`frames`]: frames by hand (encoding any header, even an invalid one,
//!   decoding a byte stream, reading one frame off a socket);
//! - [`raw_server`]: scripted loopback TCP servers for what a correct peer
//!   would not do, and bounded accepts and reads;
//! - [`counting_alloc`]: a global allocator that counts, for the memory
//!   tests (each test binary declares it, see [`counting_alloc`]);
//! - `trace_lines` (feature `tracing`): a subscriber that keeps every
//!   `tracing` event as a line, for the tests of the `tracing` features.
//!
//! The crate does not depend on ws-proto, so that ws-proto's own tests can
//! use it without a second copy of ws-proto in their build; what the
//! helpers compute (the accept key, frame headers) is written here from the
//! RFC, independently of the code under test.
//!
//! Every blocking call here is bounded by a read timeout or a deadline the
//! caller gives; every socket is on 127.0.0.1.

pub mod counting_alloc;
pub mod frames;
pub mod handshake;
pub mod raw_server;
#[cfg(feature = "tracing")]
pub mod trace_lines;
