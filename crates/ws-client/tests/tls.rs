//! `wss://` on loopback with a certificate made here: trusted through the
//! builder, refused with a clear error stack otherwise.

mod common;

use common::*;
use ws_client::{Data, Roots, WebSocket};

fn self_signed(names: &[&str]) -> (String, String, Vec<u8>) {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(names).expect("self-signed certificate");
    (cert.pem(), signing_key.serialize_pem(), cert.der().to_vec())
}

/// Connects to `server` over TLS trusting only `der`.
fn connect_trusting(server: &TestServer, der: Vec<u8>, handler: Recorder) {
    WebSocket::builder(&format!("wss://{}/echo", server.addr))
        .tls_roots(Roots::Empty)
        .ca_der(der)
        .connect(handler)
        .unwrap();
}

#[test]
fn a_trusted_certificate_carries_messages() {
    let (cert, key, der) = self_signed(&["127.0.0.1"]);
    let server = TestServer::start_tls(&cert, &key);
    let (handler, log) = Recorder::new();
    let handler = handler
        .on_open(|ws| ws.send("over TLS").unwrap())
        .on_message(|ws, _| ws.terminate(None, None).unwrap());
    connect_trusting(&server, der, handler);
    let seen = log.until_terminate();
    assert_eq!(kinds(&seen), ["open", "message", "terminate"]);
    assert!(matches!(&seen[1], Seen::Message(Data::Text(t)) if t.as_str() == "over TLS"));
    assert!(terminate_of(&seen).was_clean);
}

#[test]
fn an_untrusted_certificate_is_an_error_naming_the_cause() {
    let (cert, key, _) = self_signed(&["127.0.0.1"]);
    let server = TestServer::start_tls(&cert, &key);
    let (handler, log) = Recorder::new();
    // Default roots (webpki-roots) do not know this certificate.
    WebSocket::new(&format!("wss://{}/echo", server.addr), handler).unwrap();
    let seen = log.until_terminate();
    assert_eq!(kinds(&seen), ["error", "terminate"]);
    let (code, stack) = error_of(&seen);
    assert_eq!(code, 21);
    let tls = stack.last().unwrap();
    assert_eq!((tls.component_signature, tls.err_code), ("rustls", 1));
    assert!(tls.message.contains("unknown issuer"), "{tls:?}");
    assert_eq!(terminate_of(&seen).code, 1006);
}

#[test]
fn a_certificate_for_another_host_is_refused() {
    let (cert, key, der) = self_signed(&["other.example"]);
    let server = TestServer::start_tls(&cert, &key);
    let (handler, log) = Recorder::new();
    connect_trusting(&server, der, handler);
    let seen = log.until_terminate();
    let (code, stack) = error_of(&seen);
    assert_eq!(code, 21);
    assert!(
        stack.last().unwrap().message.contains("another host"),
        "{stack:?}"
    );
}

#[test]
fn an_unreadable_ca_file_fails_at_once() {
    let (handler, _log) = Recorder::new();
    let error = WebSocket::builder("wss://127.0.0.1:9/")
        .ca_file("/nonexistent/ca.pem")
        .connect(handler)
        .expect_err("must fail");
    assert!(matches!(error, ws_client::Error::TlsConfig(_)), "{error:?}");
    assert_eq!(error.code(), 10);
}

/// `Builder::danger_accept_invalid_certs` (cargo feature
/// `danger-accept-invalid-certs`).
#[cfg(feature = "danger-accept-invalid-certs")]
mod accept_invalid_certs {
    use super::*;

    /// A self-signed certificate for another name carries messages with
    /// the flag; the same connection without it is refused, naming the
    /// cause, even after the unchecked one succeeded.
    #[test]
    fn a_self_signed_certificate_is_accepted_only_with_the_flag() {
        let (cert, key, _) = self_signed(&["other.example"]);
        let server = TestServer::start_tls(&cert, &key);
        let url = format!("wss://{}/echo", server.addr);

        let (handler, log) = Recorder::new();
        let handler = handler
            .on_open(|ws| ws.send("unchecked").unwrap())
            .on_message(|ws, _| ws.terminate(None, None).unwrap());
        WebSocket::builder(&url)
            .danger_accept_invalid_certs()
            .connect(handler)
            .unwrap();
        let seen = log.until_terminate();
        assert_eq!(kinds(&seen), ["open", "message", "terminate"]);
        assert!(matches!(&seen[1], Seen::Message(Data::Text(t)) if t.as_str() == "unchecked"));
        assert!(terminate_of(&seen).was_clean);

        let (handler, log) = Recorder::new();
        WebSocket::builder(&url).connect(handler).unwrap();
        let seen = log.until_terminate();
        assert_eq!(kinds(&seen), ["error", "terminate"]);
        let (code, stack) = error_of(&seen);
        assert_eq!(code, 21);
        let tls = stack.last().unwrap();
        assert_eq!(tls.component_signature, "rustls");
        assert!(tls.message.contains("unknown issuer"), "{tls:?}");
    }
}
