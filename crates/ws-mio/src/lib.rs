//! `ws-mio` drives [`ws_proto`] connections over non-blocking mio sockets,
//! with TLS from rustls. It is filled in by its own issue; today it only
//! re-exports the protocol crate it builds on.

pub use ws_proto;
