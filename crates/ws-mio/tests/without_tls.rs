//! ws-mio built without its `tls` feature: a `wss://` request fails at
//! once with a typed error, before anything is resolved or connected
//! (plain `ws://` is what every other test here runs). Run with
//! `cargo test -p ws-mio --no-default-features --test without_tls`.

#![cfg(not(feature = "tls"))]

mod common;

use common::client_loop;
use ws_mio::{ClientOptions, Conn, Error, Event};
use ws_proto::ClientRequest;

#[test]
fn a_wss_request_is_refused_with_tls_unavailable() {
    let client = client_loop();
    // Nothing listens on port 9 of loopback: the refusal comes first.
    let request = ClientRequest::new("127.0.0.1", 9, "/").secure(true);
    match client
        .handle
        .connect(&request, ClientOptions::default(), |_: &Conn, _: Event| {})
    {
        Err(Error::TlsUnavailable) => {}
        Err(other) => panic!("expected TlsUnavailable, got {other}"),
        Ok(_) => panic!("a wss:// connection started without TLS"),
    }
    assert!(Error::TlsUnavailable.to_string().contains("`tls` feature"));
    client.stop("client loop");
}
