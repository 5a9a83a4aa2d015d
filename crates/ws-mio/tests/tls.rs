//! `wss://` on loopback: a ws-mio TLS server with a self-signed certificate
//! made here with rcgen, and ws-mio clients that trust it (through a PEM
//! file or DER bytes) or do not (default roots, wrong host name).
//!
//! Every wait is bounded (see `common`).
//!
//! Needs the `tls` feature and a provider feature (`ring` or `aws-lc-rs`).

#![cfg(any(feature = "ring", feature = "aws-lc-rs"))]

mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{LoopThread, Seen, client_loop, connect, echo_server, expect, expect_no_more, next};
use rand::{RngExt as _, SeedableRng as _};
use ws_mio::{ClientOptions, Roots, ServerOptions, TlsOptions};
use ws_proto::{ClientRequest, CloseCode, Config};

/// The crypto provider ws-mio's own configurations use with the features
/// these tests are built with (aws-lc-rs over ring, as in ws-mio), for the
/// servers the tests build with rustls directly.
fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    #[cfg(feature = "aws-lc-rs")]
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    #[cfg(not(feature = "aws-lc-rs"))]
    let provider = rustls::crypto::ring::default_provider();
    std::sync::Arc::new(provider)
}

/// A self-signed certificate and its key.
struct Identity {
    cert_pem: String,
    key_pem: String,
    cert_der: Vec<u8>,
}

/// A self-signed certificate for `names` (an IP address becomes an IP SAN).
fn identity(names: &[&str]) -> Identity {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(names).expect("self-signed certificate");
    Identity {
        cert_pem: cert.pem(),
        key_pem: signing_key.serialize_pem(),
        cert_der: cert.der().to_vec(),
    }
}

/// A file removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn with(contents: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "ws-mio-tls-test-{}-{}.pem",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, contents).expect("write the CA file");
        Self(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The common echo server, over TLS with `id`'s certificate.
fn tls_server(
    id: &Identity,
    config: Config,
) -> (
    std::net::SocketAddr,
    LoopThread,
    std::sync::mpsc::Receiver<Seen>,
) {
    let tls = ws_mio::server_config_from_pem(id.cert_pem.as_bytes(), id.key_pem.as_bytes())
        .expect("server TLS configuration");
    echo_server(ServerOptions::default().config(config).tls(Some(tls)), true)
}

/// Trust only the certificate in `file` (PEM).
fn trust_file(file: &TempFile) -> TlsOptions {
    TlsOptions::default()
        .roots(Roots::Empty)
        .extra_ca_files(vec![file.0.clone()])
}

/// Trust only `id`'s certificate, given as DER bytes.
fn trust_der(id: &Identity) -> TlsOptions {
    TlsOptions::default()
        .roots(Roots::Empty)
        .extra_ca_der(vec![id.cert_der.clone()])
}

/// Valid UTF-8 of exactly `len` bytes mixing 1- to 4-byte characters, so
/// that any split point is likely to fall inside a character.
fn mixed_text(len: usize) -> String {
    let mut s = String::with_capacity(len + 4);
    let unit = ["a", "é", "€", "😀"];
    let mut i = 0;
    while s.len() < len {
        let c = unit[i % unit.len()];
        if s.len() + c.len() > len {
            s.push('z');
        } else {
            s.push_str(c);
        }
        i += 1;
    }
    s
}

fn random_bytes(len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    rand::rngs::StdRng::seed_from_u64(len as u64).fill(&mut v[..]);
    v
}

/// How the client is told to trust the server's certificate.
enum Trust {
    PemFile,
    DerBytes,
}

/// Messages of every kind and size, pings both ways, then a close from the
/// client and, on a second connection, from the server; each with a code
/// and a reason seen on both ends.
fn echo_everything(trust: Trust) {
    let id = identity(&["localhost", "127.0.0.1"]);
    let file = TempFile::with(&id.cert_pem);
    let tls = match trust {
        Trust::PemFile => trust_file(&file),
        Trust::DerBytes => trust_der(&id),
    };
    let (addr, server, server_rx) = tls_server(&id, Config::default());
    let client = client_loop();
    let options = ClientOptions::default().tls(tls);
    let request = ClientRequest::new("localhost", addr.port(), "/").secure(true);

    let big_text = mixed_text(16 << 20);
    let big_binary = random_bytes(16 << 20);
    let (text, binary) = (big_text.clone(), big_binary.clone());
    let (conn, rx) = connect(&client.handle, &request, options.clone(), move |conn| {
        conn.send_text("hello").unwrap();
        conn.send_binary(&[1, 2, 3]).unwrap();
        conn.send_text("").unwrap();
        conn.send_binary(&[]).unwrap();
        conn.send_text_owned(text.clone()).unwrap();
        conn.send_binary(&binary).unwrap();
        conn.send_ping(b"p").unwrap();
        conn.send_text("ping-me").unwrap();
    });
    let echoed = [
        Seen::Text("hello".into()),
        Seen::Binary(vec![1, 2, 3]),
        Seen::Text(String::new()),
        Seen::Binary(Vec::new()),
        Seen::Text(big_text),
        Seen::Binary(big_binary),
    ];
    expect(&rx, Seen::Open);
    for seen in &echoed {
        expect(&rx, clone_seen(seen));
    }
    expect(&rx, Seen::Pong(b"p".to_vec()));
    expect(&rx, Seen::Ping(b"srv".to_vec()));
    conn.close(CloseCode(4001), "client bye").unwrap();
    expect(&rx, Seen::closed(4001, "client bye", true));
    expect_no_more(&rx, Duration::from_millis(200));

    // What the server saw, in order.
    expect(&server_rx, Seen::Open);
    for seen in echoed {
        expect(&server_rx, seen);
    }
    expect(&server_rx, Seen::Ping(b"p".to_vec()));
    expect(&server_rx, Seen::Text("ping-me".into()));
    expect(&server_rx, Seen::Pong(b"srv".to_vec()));
    expect(&server_rx, Seen::closed(4001, "client bye", true));

    // The server closes this time.
    let (_conn, rx) = connect(&client.handle, &request, options, |conn| {
        conn.send_text("close-me server bye").unwrap();
    });
    expect(&rx, Seen::Open);
    expect(&rx, Seen::closed(4002, "server bye", true));
    expect_no_more(&rx, Duration::from_millis(200));
    expect(&server_rx, Seen::Open);
    expect(&server_rx, Seen::Text("close-me server bye".into()));
    expect(&server_rx, Seen::closed(4002, "server bye", true));

    client.stop("client loop");
    server.stop("server loop");
}

fn clone_seen(seen: &Seen) -> Seen {
    match seen {
        Seen::Text(t) => Seen::Text(t.clone()),
        Seen::Binary(b) => Seen::Binary(b.clone()),
        other => panic!("not a message: {other:?}"),
    }
}

#[test]
fn echo_over_tls_trusting_a_ca_file() {
    echo_everything(Trust::PemFile);
}

#[test]
fn echo_over_tls_trusting_der_bytes() {
    echo_everything(Trust::DerBytes);
}

/// The certificate's IP SAN is checked when connecting to an address.
#[test]
fn tls_to_an_ip_address_matches_the_ip_san() {
    let id = identity(&["localhost", "127.0.0.1"]);
    let (addr, server, server_rx) = tls_server(&id, Config::default());
    let client = client_loop();
    let options = ClientOptions::default().tls(trust_der(&id));
    let request = ClientRequest::new("127.0.0.1", addr.port(), "/").secure(true);
    let (conn, rx) = connect(&client.handle, &request, options, |conn| {
        conn.send_text("over an IP").unwrap();
    });
    expect(&rx, Seen::Open);
    expect(&rx, Seen::Text("over an IP".into()));
    conn.close(CloseCode::NORMAL, "").unwrap();
    expect(&rx, Seen::closed(1000, "", true));
    expect(&server_rx, Seen::Open);
    expect(&server_rx, Seen::Text("over an IP".into()));
    expect(&server_rx, Seen::closed(1000, "", true));
    client.stop("client loop");
    server.stop("server loop");
}

/// Both ends split their messages (`send_fragment_size`) and both refuse
/// frames over 8 KiB: a 100 KB message that arrives whole therefore went
/// over the wire in fragments, reassembled by the other end. Fragments of
/// the text split its multi-byte characters.
#[test]
fn fragmented_messages_over_tls() {
    let id = identity(&["localhost", "127.0.0.1"]);
    let server_config = Config::default()
        .max_frame_size(8192)
        .send_fragment_size(Some(4096));
    let (addr, server, server_rx) = tls_server(&id, server_config);
    let client = client_loop();
    let options = ClientOptions::default()
        .config(
            Config::default()
                .max_frame_size(8192)
                .send_fragment_size(Some(1000)),
        )
        .tls(trust_der(&id));
    let request = ClientRequest::new("localhost", addr.port(), "/").secure(true);
    let text = format!("x{}", mixed_text(100_000));
    let binary = random_bytes(100_001);
    let messages = vec![
        Seen::Text(text),
        Seen::Binary(binary),
        Seen::Text("y".repeat(1000)),
        Seen::Text("y".repeat(1001)),
        Seen::Binary(vec![9; 4096 * 3]),
        Seen::Text(String::new()),
    ];
    let to_send: Vec<Seen> = messages.iter().map(clone_seen).collect();
    let (conn, rx) = connect(&client.handle, &request, options, move |conn| {
        for m in &to_send {
            match m {
                Seen::Text(t) => conn.send_text(t).unwrap(),
                Seen::Binary(b) => conn.send_binary(b).unwrap(),
                _ => unreachable!(),
            }
        }
        conn.send_ping(b"between").unwrap();
    });
    expect(&rx, Seen::Open);
    for m in &messages {
        expect(&rx, clone_seen(m));
    }
    expect(&rx, Seen::Pong(b"between".to_vec()));
    conn.close(CloseCode::NORMAL, "fragments done").unwrap();
    expect(&rx, Seen::closed(1000, "fragments done", true));
    expect(&server_rx, Seen::Open);
    for m in messages {
        expect(&server_rx, m);
    }
    expect(&server_rx, Seen::Ping(b"between".to_vec()));
    expect(&server_rx, Seen::closed(1000, "fragments done", true));
    client.stop("client loop");
    server.stop("server loop");
}

/// Expects `Error` (from rustls, mentioning `words`), then `Closed` 1006
/// not clean, and nothing else: no `Open`.
fn expect_tls_failure(rx: &std::sync::mpsc::Receiver<Seen>, words: &str) {
    match next(rx, "a TLS error") {
        Seen::Error { component, message } => {
            assert_eq!(component, "rustls", "{message}");
            assert!(
                message.contains(words),
                "the error should mention {words:?}: {message}"
            );
        }
        other => panic!("expected a TLS error, got {}", other.short()),
    }
    expect(rx, Seen::closed(1006, "", false));
    expect_no_more(rx, Duration::from_millis(200));
}

/// The server side of a refused TLS handshake: no `Open`, and `Closed`
/// 1006 not clean. Returns what it reported as error, if anything.
fn server_side_of_a_failed_handshake(rx: &std::sync::mpsc::Receiver<Seen>) -> Option<String> {
    let mut error = None;
    loop {
        match next(rx, "the server side to close") {
            Seen::Error { message, .. } => error = Some(message),
            Seen::Closed { code, clean, .. } => {
                assert_eq!((code, clean), (1006, false));
                return error;
            }
            other => panic!("unexpected server event {}", other.short()),
        }
    }
}

// The default roots are Mozilla's: without them the connect fails sooner,
// on the configuration.
#[cfg(feature = "webpki-roots")]
#[test]
fn self_signed_certificate_is_refused_with_the_default_roots() {
    let id = identity(&["localhost", "127.0.0.1"]);
    let (addr, server, server_rx) = tls_server(&id, Config::default());
    let client = client_loop();
    let request = ClientRequest::new("localhost", addr.port(), "/").secure(true);
    let (_conn, rx) = connect(&client.handle, &request, ClientOptions::default(), |conn| {
        panic!("opened an untrusted connection: {conn:?}")
    });
    expect_tls_failure(&rx, "unknown issuer");
    let server_error = server_side_of_a_failed_handshake(&server_rx);
    println!("server side of the refused handshake: {server_error:?}");
    client.stop("client loop");
    server.stop("server loop");
}

#[test]
fn certificate_for_another_name_is_refused() {
    let id = identity(&["example.com"]);
    let (addr, server, server_rx) = tls_server(&id, Config::default());
    let client = client_loop();
    let options = ClientOptions::default().tls(trust_der(&id));
    let request = ClientRequest::new("localhost", addr.port(), "/").secure(true);
    let (_conn, rx) = connect(&client.handle, &request, options, |conn| {
        panic!("opened a connection to the wrong name: {conn:?}")
    });
    expect_tls_failure(&rx, "another host name");
    let server_error = server_side_of_a_failed_handshake(&server_rx);
    println!("server side of the refused handshake: {server_error:?}");
    client.stop("client loop");
    server.stop("server loop");
}

/// A CA file that cannot be read is a configuration error, reported by
/// `connect` itself.
/// Built without root features: a connect that brings no CA is refused at
/// once, naming the features, and so is a store whose feature is off.
/// (`cargo test -p ws-mio --no-default-features --features ring --test tls`)
#[cfg(not(any(feature = "webpki-roots", feature = "native-roots")))]
#[test]
fn without_root_features_a_connect_needs_cas() {
    assert_eq!(Roots::default(), Roots::Empty);
    let client = client_loop();
    let request = ClientRequest::new("localhost", 9, "/").secure(true);
    for (roots, words) in [
        (Roots::default(), "add CAs"),
        (Roots::WebPki, "`webpki-roots` feature"),
        (Roots::System, "`native-roots` feature"),
    ] {
        let options = ClientOptions::default().tls(TlsOptions::default().roots(roots));
        let started =
            client
                .handle
                .connect(&request, options, |_: &ws_mio::Conn, _: ws_mio::Event| {});
        match started {
            Err(e @ ws_mio::Error::TlsConfig(_)) => assert!(e.to_string().contains(words), "{e}"),
            Err(other) => panic!("expected a TLS configuration error, got {other}"),
            Ok(_) => panic!("a connection started without any trusted certificate"),
        }
    }
    client.stop("client loop");
}

#[test]
fn missing_ca_file_fails_at_connect() {
    let client = client_loop();
    let options =
        ClientOptions::default().tls(TlsOptions::default().roots(Roots::Empty).extra_ca_files(
            vec![std::env::temp_dir().join("ws-mio-no-such-ca-file.pem")],
        ));
    let request = ClientRequest::new("localhost", 9, "/").secure(true);
    match client
        .handle
        .connect(&request, options, |_: &ws_mio::Conn, _| {})
    {
        Err(e) => {
            assert_eq!(e.component(), "rustls", "{e}");
            assert!(e.to_string().contains("ws-mio-no-such-ca-file.pem"), "{e}");
        }
        Ok(conn) => panic!("connect accepted an unreadable CA file: {conn:?}"),
    }
    client.stop("client loop");
}

/// The open connection tells what TLS negotiated; a second connection with
/// the same options shares the first one's configuration, so it resumes
/// the TLS session instead of a full handshake.
#[test]
fn tls_info_and_resumption_across_reconnects() {
    let id = identity(&["localhost"]);
    let (addr, server, _server_rx) = tls_server(&id, Config::default());
    let client = client_loop();
    let request = ClientRequest::new("localhost", addr.port(), "/").secure(true);
    let mut infos = Vec::new();
    for _ in 0..2 {
        let options = ClientOptions::default().tls(trust_der(&id));
        let (conn, rx) = connect(&client.handle, &request, options, |_| {});
        expect(&rx, Seen::Open);
        // The server's session tickets follow its handshake: an echo makes
        // sure they have arrived before the connection closes.
        conn.send_text("tickets").expect("send");
        expect(&rx, Seen::Text("tickets".into()));
        infos.push(conn.tls_info().expect("TLS info once open"));
        conn.close(CloseCode::NORMAL, "").expect("close");
        expect(&rx, Seen::closed(1000, "", true));
    }
    for info in &infos {
        assert_eq!(info.version, "TLSv1.3", "{info:?}");
        assert!(info.cipher_suite.starts_with("TLS13_"), "{info:?}");
        assert_eq!(info.alpn, None, "the server offers no ALPN: {info:?}");
    }
    assert!(
        !infos[0].resumed,
        "a first connection has nothing to resume"
    );
    assert!(
        infos[1].resumed,
        "the reconnect did not resume: {:?}",
        infos[1]
    );
    client.stop("client loop");
    server.stop("server loop");
}

/// A CA, a server certificate for `localhost` and a client certificate,
/// both signed by the CA.
struct Pki {
    ca_der: Vec<u8>,
    server_chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    server_key: Vec<u8>,
    client_chain_pem: String,
    client_key_pem: String,
    client_chain_der: Vec<Vec<u8>>,
    client_key_der: Vec<u8>,
}

fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().expect("server key");
    let server_cert = CertificateParams::new(vec!["localhost".to_owned()])
        .expect("server params")
        .signed_by(&server_key, &issuer)
        .expect("server certificate");
    let client_key = KeyPair::generate().expect("client key");
    let client_cert = CertificateParams::new(vec!["client.test".to_owned()])
        .expect("client params")
        .signed_by(&client_key, &issuer)
        .expect("client certificate");
    Pki {
        ca_der: ca_cert.der().to_vec(),
        server_chain: vec![server_cert.der().clone()],
        server_key: server_key.serialize_der(),
        client_chain_pem: client_cert.pem(),
        client_key_pem: client_key.serialize_pem(),
        client_chain_der: vec![client_cert.der().to_vec()],
        client_key_der: client_key.serialize_der(),
    }
}

/// An echo server that requires a client certificate signed by the CA.
fn mtls_server(
    pki: &Pki,
) -> (
    std::net::SocketAddr,
    LoopThread,
    std::sync::mpsc::Receiver<Seen>,
) {
    use ws_mio::rustls;
    let provider = provider();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(pki.ca_der.clone()))
        .expect("CA root");
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider.clone())
            .build()
            .expect("client verifier");
    let key = rustls::pki_types::PrivateKeyDer::try_from(pki.server_key.clone()).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(pki.server_chain.clone(), key)
        .expect("server config");
    echo_server(
        ServerOptions::default().tls(Some(std::sync::Arc::new(config))),
        false,
    )
}

/// Mutual TLS: a server that requires a client certificate refuses a
/// client without one, and echoes for one that presents it (DER bytes or
/// PEM files).
#[test]
fn a_client_certificate_for_a_server_that_requires_one() {
    let pki = pki();
    let (addr, server, _) = mtls_server(&pki);
    let client = client_loop();
    let request = ClientRequest::new("localhost", addr.port(), "/").secure(true);
    let trust = || {
        TlsOptions::default()
            .roots(Roots::Empty)
            .extra_ca_der(vec![pki.ca_der.clone()])
    };
    // None: the server refuses the handshake.
    let options = ClientOptions::default().tls(trust());
    let (_conn, rx) = connect(&client.handle, &request, options, |_| {});
    match next(&rx, "the TLS refusal") {
        Seen::Error { component, message } => {
            assert_eq!(component, "rustls", "{message}");
        }
        other => panic!("expected a TLS error, got {}", other.short()),
    }
    let chain = TempFile::with(&pki.client_chain_pem);
    let key = TempFile::with(&pki.client_key_pem);
    for identity in [
        ws_mio::ClientIdentity::Der {
            chain: pki.client_chain_der.clone(),
            key: pki.client_key_der.clone(),
        },
        ws_mio::ClientIdentity::PemFiles {
            chain: chain.0.clone(),
            key: key.0.clone(),
        },
    ] {
        let debug = format!("{identity:?}");
        assert!(!debug.contains("PRIVATE"), "{debug}");
        let options = ClientOptions::default().tls(trust().client_auth(Some(identity)));
        let (conn, rx) = connect(&client.handle, &request, options, |_| {});
        expect(&rx, Seen::Open);
        conn.send_text("mutual").expect("send");
        expect(&rx, Seen::Text("mutual".into()));
        conn.close(CloseCode::NORMAL, "").expect("close");
        expect(&rx, Seen::closed(1000, "", true));
    }
    client.stop("client loop");
    server.stop("server loop");
}

/// `TlsOptions::danger_accept_invalid_certs` (cargo feature
/// `danger-accept-invalid-certs`): no authentication of the server, but
/// the handshake's signatures still checked, and never a configuration
/// shared with connections that check.
#[cfg(feature = "danger-accept-invalid-certs")]
mod accept_invalid_certs {
    use std::sync::Arc;

    use ws_mio::rustls;

    use super::*;

    /// Options that trust nothing, with the flag as given: the two sets
    /// differ by the flag only.
    fn options(accept_invalid_certs: bool) -> ClientOptions {
        ClientOptions::default().tls(
            TlsOptions::default()
                .roots(Roots::Empty)
                .danger_accept_invalid_certs(accept_invalid_certs),
        )
    }

    /// A server config that shows `chain`, signs with `key` and only speaks
    /// `version`.
    fn server_tls(
        chain: Vec<rustls::pki_types::CertificateDer<'static>>,
        key: rustls::pki_types::PrivateKeyDer<'static>,
        version: &'static rustls::SupportedProtocolVersion,
    ) -> Arc<rustls::ServerConfig> {
        let provider = super::provider();
        // A resolver does not check that the key matches the certificate
        // (`with_single_cert` would): the lying server below needs that.
        let signing_key = provider
            .key_provider
            .load_private_key(key)
            .expect("signing key");
        let certified = rustls::sign::CertifiedKey::new(chain, signing_key);
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[version])
            .expect("versions")
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(certified)));
        Arc::new(config)
    }

    fn der_of(id: &Identity) -> Vec<rustls::pki_types::CertificateDer<'static>> {
        vec![rustls::pki_types::CertificateDer::from(id.cert_der.clone())]
    }

    fn key_of(id: &Identity) -> rustls::pki_types::PrivateKeyDer<'static> {
        use rustls::pki_types::pem::PemObject as _;
        rustls::pki_types::PrivateKeyDer::from_pem_slice(id.key_pem.as_bytes()).expect("key")
    }

    fn server(
        tls: Arc<rustls::ServerConfig>,
    ) -> (
        std::net::SocketAddr,
        LoopThread,
        std::sync::mpsc::Receiver<Seen>,
    ) {
        echo_server(ServerOptions::default().tls(Some(tls)), false)
    }

    /// Connects with `options` and expects an echo.
    fn echo_through(client: &LoopThread, request: &ClientRequest, options: ClientOptions) {
        let (conn, rx) = connect(&client.handle, request, options, |conn| {
            conn.send_text("unchecked").unwrap();
        });
        expect(&rx, Seen::Open);
        expect(&rx, Seen::Text("unchecked".into()));
        conn.close(CloseCode::NORMAL, "").unwrap();
        expect(&rx, Seen::closed(1000, "", true));
    }

    /// A self-signed certificate for another name, over TLS 1.3 and 1.2
    /// (the two signature checks): accepted with the flag.
    #[test]
    fn any_certificate_for_any_name_is_accepted() {
        let id = identity(&["other.example"]);
        let client = client_loop();
        for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
            let (addr, server, _) = server(server_tls(der_of(&id), key_of(&id), version));
            let request = ClientRequest::new("localhost", addr.port(), "/").secure(true);
            echo_through(&client, &request, options(true));
            server.stop("server loop");
        }
        client.stop("client loop");
    }

    /// The same options but the flag, after an unchecked connection to the
    /// same server succeeded: still checked, still refused (the cached
    /// configuration and its sessions are not shared), and the unchecked
    /// one still works after it.
    #[test]
    fn a_checked_connection_after_an_unchecked_one_is_still_checked() {
        let id = identity(&["localhost", "127.0.0.1"]);
        let (addr, server, _) = tls_server(&id, Config::default());
        let client = client_loop();
        let request = ClientRequest::new("localhost", addr.port(), "/").secure(true);
        echo_through(&client, &request, options(true));
        let (_conn, rx) = connect(&client.handle, &request, options(false), |conn| {
            panic!("opened an untrusted connection: {conn:?}")
        });
        expect_tls_failure(&rx, "unknown issuer");
        echo_through(&client, &request, options(true));
        client.stop("client loop");
        server.stop("server loop");
    }

    /// A server that shows one certificate but signs with another key (it
    /// does not own the certificate it shows) is refused even with the
    /// flag, over TLS 1.3 and 1.2: the signature check is kept.
    #[test]
    fn a_server_without_the_certificates_key_is_refused() {
        let shown = identity(&["localhost"]);
        let signer = identity(&["localhost"]);
        let client = client_loop();
        for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
            let tls = server_tls(der_of(&shown), key_of(&signer), version);
            let (addr, server, _) = server(tls);
            let request = ClientRequest::new("localhost", addr.port(), "/").secure(true);
            let (_conn, rx) = connect(&client.handle, &request, options(true), |conn| {
                panic!("opened a connection to an impostor: {conn:?}")
            });
            expect_tls_failure(&rx, "BadSignature");
            server.stop("server loop");
        }
        client.stop("client loop");
    }
}
