//! The rustls client configuration of `wss://`, always with the ring
//! provider chosen explicitly (never the process-level default, so there
//! is no "no process-level CryptoProvider" panic whatever else the program
//! links).

use std::path::PathBuf;
use std::sync::Arc;

use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

use crate::error::Error;

/// Which certificates a `wss://` connection trusts.
#[derive(Clone, Debug, Default)]
pub(crate) struct TlsSettings {
    /// A configuration the caller built; the rest is then unused.
    pub(crate) config: Option<Arc<ClientConfig>>,
    /// Leave Mozilla's roots (webpki-roots) out.
    pub(crate) no_webpki_roots: bool,
    pub(crate) extra_der: Vec<Vec<u8>>,
    pub(crate) extra_pem: Vec<Vec<u8>>,
    pub(crate) extra_files: Vec<PathBuf>,
}

impl TlsSettings {
    pub(crate) fn client_config(&self) -> Result<Arc<ClientConfig>, Error> {
        if let Some(config) = &self.config {
            return Ok(config.clone());
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Tls(e.to_string()))?
            .with_root_certificates(self.roots()?)
            .with_no_client_auth();
        // The upgrade is an HTTP/1.1 request (RFC 6455 section 4.1); saying
        // so keeps a server that negotiates ALPN from choosing h2.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    fn roots(&self) -> Result<RootCertStore, Error> {
        let mut roots = RootCertStore::empty();
        if !self.no_webpki_roots {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        let mut add = |cert: CertificateDer<'static>, what: &dyn std::fmt::Display| {
            roots
                .add(cert)
                .map_err(|e| Error::Tls(format!("{what}: {e}")))
        };
        for der in &self.extra_der {
            add(CertificateDer::from(der.clone()), &"DER certificate")?;
        }
        for pem in &self.extra_pem {
            let mut any = false;
            for cert in CertificateDer::pem_slice_iter(pem) {
                add(
                    cert.map_err(|e| Error::Tls(format!("PEM: {e}")))?,
                    &"PEM certificate",
                )?;
                any = true;
            }
            if !any {
                return Err(Error::Tls("no certificate in the PEM given".into()));
            }
        }
        for path in &self.extra_files {
            let what = path.display();
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| Error::Tls(format!("{what}: {e}")))?;
            let mut any = false;
            for cert in certs {
                add(cert.map_err(|e| Error::Tls(format!("{what}: {e}")))?, &what)?;
                any = true;
            }
            if !any {
                return Err(Error::Tls(format!("{what}: no certificate in the file")));
            }
        }
        Ok(roots)
    }
}
