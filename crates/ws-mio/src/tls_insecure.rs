//! DANGER: the server certificate verifier behind
//! `TlsOptions::danger_accept_invalid_certs` (cargo feature
//! `danger-accept-invalid-certs`). It accepts any certificate chain for
//! any name, so the client no longer knows who it talks to: a man in the
//! middle can read and change everything. For development only.
//!
//! What it keeps is the proof of possession: the handshake signatures are
//! still checked against the public key of the certificate the server
//! sent, with the provider's algorithms. A peer must hold the private key
//! of the certificate it shows, and the key exchange stays authenticated
//! by it, so this is "no authentication", not "no crypto".

use std::sync::Arc;

use rustls::DigitallySignedStruct;
use rustls::client::WantsClientCert;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ConfigBuilder, SignatureScheme, WantsVerifier};

/// `builder` with the verifier that accepts any certificate, checking
/// signatures with `provider`'s algorithms.
pub(crate) fn accept_any_certificate(
    builder: ConfigBuilder<ClientConfig, WantsVerifier>,
    provider: &CryptoProvider,
) -> ConfigBuilder<ClientConfig, WantsClientCert> {
    let verifier = AcceptAnyCertificate {
        algorithms: provider.signature_verification_algorithms,
    };
    builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
}

/// Accepts every certificate chain and name; verifies every signature.
#[derive(Debug)]
struct AcceptAnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // The one check given up on purpose: chain, trust anchor, validity
        // dates and name. An unparsable certificate still fails below,
        // when its key is needed for the signature.
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

// The tests build configurations, which need a provider feature.
#[cfg(all(test, any(feature = "ring", feature = "aws-lc-rs")))]
mod tests {
    use std::sync::Arc;

    use crate::{Roots, TlsOptions};

    /// The configuration cache keys on the flag: options that differ only
    /// by it get two configurations (two session caches), and each set of
    /// options gets its own back every time.
    #[test]
    fn the_flag_is_part_of_the_configuration_key() {
        let secure = TlsOptions {
            roots: Roots::Empty,
            ..TlsOptions::default()
        };
        let insecure = TlsOptions {
            danger_accept_invalid_certs: true,
            ..secure.clone()
        };
        let checked = crate::tls::client_config(&secure).expect("secure config");
        let unchecked = crate::tls::client_config(&insecure).expect("insecure config");
        assert!(!Arc::ptr_eq(&checked, &unchecked));
        let again = crate::tls::client_config(&secure).expect("secure config");
        assert!(Arc::ptr_eq(&checked, &again), "not shared from the cache");
        let again = crate::tls::client_config(&insecure).expect("insecure config");
        assert!(Arc::ptr_eq(&unchecked, &again), "not shared from the cache");
    }

    /// The trust store is not used, so it is not read either: a missing
    /// CA file is no error with the flag, and one without it.
    #[test]
    fn the_trust_store_is_not_read() {
        let missing = TlsOptions {
            roots: Roots::Empty,
            extra_ca_files: vec![std::env::temp_dir().join("ws-mio-no-such-ca-for-insecure.pem")],
            ..TlsOptions::default()
        };
        assert!(crate::tls::client_config(&missing).is_err());
        let insecure = TlsOptions {
            danger_accept_invalid_certs: true,
            ..missing
        };
        crate::tls::client_config(&insecure).expect("insecure config");
    }
}
