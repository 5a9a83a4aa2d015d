//! wss:// over 127.0.0.1 with a self-signed certificate made here with
//! rcgen: trusted through each way the builder offers (PEM, DER, file),
//! refused without it, and the server role over tokio-rustls.
//!
//! Needs a provider feature (`ring` or `aws-lc-rs`, each implies `tls`).

#![cfg(any(feature = "ring", feature = "aws-lc-rs"))]

mod common;

use std::sync::Arc;

use common::bounded;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, pki_types::CertificateDer, pki_types::PrivateKeyDer};
use ws_tokio::{Builder, CloseCode, Error, MaybeTlsStream, Message};

struct Cert {
    pem: String,
    der: Vec<u8>,
    acceptor: TlsAcceptor,
}

fn self_signed() -> Cert {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
            .expect("self-signed certificate");
    let der = cert.der().to_vec();
    let key = PrivateKeyDer::try_from(signing_key.serialize_der()).unwrap();
    // The provider ws-tokio itself uses with these features.
    #[cfg(feature = "aws-lc-rs")]
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    #[cfg(not(feature = "aws-lc-rs"))]
    let provider = rustls::crypto::ring::default_provider();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![CertificateDer::from(der.clone())], key)
        .unwrap();
    Cert {
        pem: cert.pem(),
        der,
        acceptor: TlsAcceptor::from(Arc::new(config)),
    }
}

/// A wss echo server on 127.0.0.1 (ws-tokio's `accept` over
/// tokio-rustls); returns its port.
async fn wss_server(acceptor: TlsAcceptor) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    common::echo(tls).await;
                }
            });
        }
    });
    port
}

async fn echo_once(ws: &mut ws_tokio::WebSocketStream<MaybeTlsStream>) {
    assert!(matches!(ws.get_ref(), MaybeTlsStream::Tls(_)));
    let big = Message::Binary(vec![5u8; 1 << 20].into());
    for message in [Message::Text("secret".into()), big] {
        bounded(ws.send(message.clone())).await.unwrap();
        assert_eq!(bounded(ws.recv()).await.unwrap().unwrap(), message);
    }
    bounded(ws.close(CloseCode::NORMAL, "")).await.unwrap();
    assert!(bounded(ws.recv()).await.is_none());
    assert!(ws.closed().unwrap().was_clean);
}

#[tokio::test]
async fn wss_with_the_certificate_trusted() {
    let cert = self_signed();
    let port = wss_server(cert.acceptor.clone()).await;

    let mut ws = bounded(
        Builder::new(format!("wss://localhost:{port}/"))
            .webpki_roots(false)
            .add_root_pem(cert.pem.clone())
            .connect(),
    )
    .await
    .unwrap();
    echo_once(&mut ws).await;

    // By IP address, trusted as DER.
    let mut ws = bounded(
        Builder::new(format!("wss://127.0.0.1:{port}/"))
            .add_root_der(cert.der.clone())
            .connect(),
    )
    .await
    .unwrap();
    echo_once(&mut ws).await;

    // From a PEM file.
    let path = std::env::temp_dir().join(format!("ws-tokio-ca-{}.pem", std::process::id()));
    std::fs::write(&path, &cert.pem).unwrap();
    let mut ws = bounded(
        Builder::new(format!("wss://localhost:{port}/"))
            .add_root_file(&path)
            .connect(),
    )
    .await
    .unwrap();
    let _ = std::fs::remove_file(&path);
    echo_once(&mut ws).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_split_on_the_multi_thread_runtime() {
    let cert = self_signed();
    let port = wss_server(cert.acceptor.clone()).await;
    let ws = bounded(
        Builder::new(format!("wss://localhost:{port}/"))
            .add_root_pem(cert.pem.clone())
            .connect(),
    )
    .await
    .unwrap();
    let (mut reader, mut writer) = ws.split();
    let writing = tokio::spawn(async move {
        for i in 0..300 {
            writer.send_text(&i.to_string()).await.unwrap();
        }
        writer.close(CloseCode::NORMAL, "").await.unwrap();
    });
    let mut count = 0;
    while let Some(message) = bounded(reader.recv()).await {
        assert_eq!(message.unwrap(), Message::Text(count.to_string().into()));
        count += 1;
    }
    assert_eq!(count, 300);
    bounded(writing).await.unwrap();
}

#[tokio::test]
async fn untrusted_certificate_is_refused() {
    let cert = self_signed();
    let port = wss_server(cert.acceptor.clone()).await;
    let result = bounded(ws_tokio::connect(format!("wss://localhost:{port}/"))).await;
    let error = result.unwrap_err();
    // With Mozilla's roots the certificate is refused in the handshake;
    // without them, the empty trust store is refused before it.
    if cfg!(feature = "webpki-roots") {
        assert!(matches!(error, Error::Io(_)), "{error:?}");
        assert!(error.to_string().contains("certificate"), "{error}");
    } else {
        assert!(matches!(error, Error::Tls(_)), "{error:?}");
        assert!(error.to_string().contains("webpki-roots"), "{error}");
    }

    let result = bounded(
        Builder::new(format!("wss://localhost:{port}/"))
            .add_root_pem("not a certificate")
            .connect(),
    )
    .await;
    assert!(matches!(result, Err(Error::Tls(_))), "{result:?}");
}
