//! The rustls client configuration of `wss://` (feature `tls`), with the
//! crypto provider chosen explicitly by a cargo feature, as in ws-mio:
//! aws-lc-rs when `aws-lc-rs` is on, else ring when `ring` is on. Only
//! with neither is the process-level default used, and its absence is an
//! error, never rustls' "no process-level CryptoProvider" panic.
//!
//! The settings themselves are plain data, kept without the feature so
//! that the builder's methods that set them compile under every feature
//! set.

use std::path::PathBuf;
#[cfg(feature = "tls")]
use std::sync::Arc;

#[cfg(feature = "tls")]
use tokio_rustls::rustls::pki_types::CertificateDer;
#[cfg(feature = "tls")]
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
#[cfg(feature = "tls")]
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

#[cfg(feature = "tls")]
use crate::error::Error;

/// Which certificates a `wss://` connection trusts.
#[derive(Clone, Debug, Default)]
pub(crate) struct TlsSettings {
    /// A configuration the caller built; the rest is then unused.
    #[cfg(feature = "tls")]
    pub(crate) config: Option<Arc<ClientConfig>>,
    /// Leave Mozilla's roots (webpki-roots) out.
    pub(crate) no_webpki_roots: bool,
    pub(crate) extra_der: Vec<Vec<u8>>,
    pub(crate) extra_pem: Vec<Vec<u8>>,
    pub(crate) extra_files: Vec<PathBuf>,
}

/// The crypto provider of the configurations built here; aws-lc-rs wins
/// when both provider features are on (`ring` is a default feature, so
/// `aws-lc-rs` being on at all means someone asked for it).
#[cfg(feature = "tls")]
fn provider() -> Result<Arc<rustls::crypto::CryptoProvider>, Error> {
    #[cfg(feature = "aws-lc-rs")]
    let provider = Some(Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
    let provider = Some(Arc::new(rustls::crypto::ring::default_provider()));
    // Neither feature: the application brings its own provider by
    // installing it as the process default.
    #[cfg(not(any(feature = "ring", feature = "aws-lc-rs")))]
    let provider = rustls::crypto::CryptoProvider::get_default().cloned();
    provider.ok_or_else(|| {
        Error::Tls(
            "no crypto provider: ws-tokio was built without its `ring` and `aws-lc-rs` \
             features, and none was installed with \
             rustls::crypto::CryptoProvider::install_default"
                .into(),
        )
    })
}

#[cfg(feature = "tls")]
impl TlsSettings {
    pub(crate) fn client_config(&self) -> Result<Arc<ClientConfig>, Error> {
        if let Some(config) = &self.config {
            return Ok(config.clone());
        }
        let mut config = ClientConfig::builder_with_provider(provider()?)
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
        #[cfg(feature = "webpki-roots")]
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
        // Without Mozilla's roots a store with nothing added would refuse
        // every server as an unknown issuer; say why instead.
        if cfg!(not(feature = "webpki-roots")) && roots.is_empty() {
            return Err(Error::Tls(
                "no trusted root: ws-tokio was built without its `webpki-roots` feature; \
                 add roots (Builder::add_root_der, add_root_pem, add_root_file) or a \
                 Builder::tls_config"
                    .into(),
            ));
        }
        Ok(roots)
    }
}
