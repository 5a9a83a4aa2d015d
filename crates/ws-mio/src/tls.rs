//! rustls configurations, always with the ring provider chosen explicitly
//! (never the process-level default, so there is no "no process-level
//! CryptoProvider" panic whatever else the program links).

use std::sync::{Arc, OnceLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use crate::error::Error;
use crate::options::{Roots, TlsOptions};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The client configuration for `options`; the default one is built once.
pub(crate) fn client_config(options: &TlsOptions) -> Result<Arc<ClientConfig>, Error> {
    if let Some(config) = &options.config {
        return Ok(config.clone());
    }
    let is_default = options.roots == Roots::WebPki
        && options.extra_ca_files.is_empty()
        && options.extra_ca_der.is_empty();
    if is_default {
        static DEFAULT: OnceLock<Arc<ClientConfig>> = OnceLock::new();
        if let Some(config) = DEFAULT.get() {
            return Ok(config.clone());
        }
        let config = build_client_config(options)?;
        return Ok(DEFAULT.get_or_init(|| config).clone());
    }
    build_client_config(options)
}

fn build_client_config(options: &TlsOptions) -> Result<Arc<ClientConfig>, Error> {
    let mut roots = RootCertStore::empty();
    match options.roots {
        Roots::WebPki => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Roots::System => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(Error::TlsConfig(format!(
                    "no usable system root certificate ({:?})",
                    found.errors
                )));
            }
        }
        Roots::Empty => {}
    }
    for path in &options.extra_ca_files {
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| Error::TlsConfig(format!("{}: {e}", path.display())))?;
        let mut any = false;
        for cert in certs {
            let cert = cert.map_err(|e| Error::TlsConfig(format!("{}: {e}", path.display())))?;
            roots.add(cert).map_err(Error::Tls)?;
            any = true;
        }
        if !any {
            return Err(Error::TlsConfig(format!(
                "{}: no certificate in the file",
                path.display()
            )));
        }
    }
    for der in &options.extra_ca_der {
        roots
            .add(CertificateDer::from(der.clone()))
            .map_err(Error::Tls)?;
    }
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(Error::Tls)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    // The upgrade is an HTTP/1.1 request (RFC 6455 section 4.1); saying so
    // keeps a server that negotiates ALPN from choosing h2.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A server configuration from a PEM certificate chain and a PEM private key.
pub fn server_config_from_pem(
    chain_pem: &[u8],
    key_pem: &[u8],
) -> Result<Arc<ServerConfig>, Error> {
    let chain = CertificateDer::pem_slice_iter(chain_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::TlsConfig(format!("certificate chain: {e}")))?;
    if chain.is_empty() {
        return Err(Error::TlsConfig("no certificate in the chain".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| Error::TlsConfig(format!("private key: {e}")))?;
    server_config(chain, key)
}

/// A server configuration from a DER certificate chain and private key.
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, Error> {
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(Error::Tls)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(Error::Tls)?;
    Ok(Arc::new(config))
}
