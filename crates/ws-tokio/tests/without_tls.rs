//! ws-tokio built without its `tls` feature: a `wss://` URL fails at once
//! with `Error::Tls` naming the feature, before anything is connected. Run
//! with `cargo test -p ws-tokio --no-default-features --test without_tls`.

#![cfg(not(feature = "tls"))]

use ws_tokio::Error;

#[tokio::test]
async fn a_wss_url_is_refused_with_a_tls_error() {
    // Nothing listens on port 9 of loopback: the refusal comes first.
    match ws_tokio::connect("wss://127.0.0.1:9/").await {
        Err(Error::Tls(why)) => assert!(why.contains("`tls` feature"), "{why}"),
        Err(other) => panic!("expected a TLS error, got {other}"),
        Ok(_) => panic!("a wss:// connection opened without TLS"),
    }
}
