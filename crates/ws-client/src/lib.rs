//! `ws-client` is the user-facing WebSocket client, modelled on the 4D
//! `WebSocket` class. It is filled in by its own issue; today it only
//! re-exports the protocol crate it builds on.

pub use ws_proto;
