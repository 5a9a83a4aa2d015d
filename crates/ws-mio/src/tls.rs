//! rustls configurations (feature `tls`), with the crypto provider chosen
//! explicitly by a cargo feature: aws-lc-rs when `aws-lc-rs` is on, else
//! ring when `ring` is on. Only with neither is the process-level default
//! used, and its absence is an error, never rustls' "no process-level
//! CryptoProvider" panic.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use rustls::client::WantsClientCert;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, ConfigBuilder, RootCertStore, ServerConfig, WantsVerifier};

use crate::error::Error;
use crate::options::{ClientIdentity, Roots, TlsOptions};
use crate::tls_info::TlsInfo;

/// The crypto provider of every configuration built here. aws-lc-rs wins
/// when both provider features are on: `ring` is a default feature, so
/// `aws-lc-rs` being on at all means someone asked for it.
fn provider() -> Result<Arc<CryptoProvider>, Error> {
    #[cfg(feature = "aws-lc-rs")]
    let provider = Some(Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
    let provider = Some(Arc::new(rustls::crypto::ring::default_provider()));
    // Neither feature: the application brings its own provider (FIPS, a
    // platform one...) by installing it as the process default.
    #[cfg(not(any(feature = "ring", feature = "aws-lc-rs")))]
    let provider = CryptoProvider::get_default().cloned();
    provider.ok_or_else(|| {
        Error::TlsConfig(
            "no crypto provider: ws-mio was built without its `ring` and `aws-lc-rs` \
             features, and none was installed with \
             rustls::crypto::CryptoProvider::install_default"
                .into(),
        )
    })
}

/// The client configuration for `options`: built once per distinct set of
/// options and shared, so that every connection made with the same
/// options (a reconnect above all) uses one configuration, and with it one
/// TLS session cache: a reconnect resumes the session (an abbreviated
/// handshake) instead of a full one.
///
/// The cache holds the last [`CACHED_CONFIGS`] distinct sets. A CA file is
/// known by its path, length and modification time, so an edited file is
/// read again.
pub(crate) fn client_config(options: &TlsOptions) -> Result<Arc<ClientConfig>, Error> {
    if let Some(config) = &options.config {
        return Ok(config.clone());
    }
    let key = ConfigKey::of(options);
    static CACHE: Mutex<Vec<(ConfigKey, Arc<ClientConfig>)>> = Mutex::new(Vec::new());
    let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(i) = cache.iter().position(|(k, _)| *k == key) {
        let entry = cache.remove(i);
        let config = entry.1.clone();
        cache.insert(0, entry); // most recently used first
        return Ok(config);
    }
    // Built under the lock: two first connects with new options wait for
    // one build instead of making two caches.
    let config = build_client_config(options)?;
    cache.insert(0, (key, config.clone()));
    cache.truncate(CACHED_CONFIGS);
    Ok(config)
}

/// How many distinct client configurations [`client_config`] keeps.
const CACHED_CONFIGS: usize = 16;

/// A file's length and modification time: a file that changed is read
/// again.
type Stamp = (u64, SystemTime);

/// A file's length and modification time (`None` if it cannot be read
/// now: building will say why).
fn stamp(path: &Path) -> Option<Stamp> {
    std::fs::metadata(path)
        .and_then(|m| Ok((m.len(), m.modified()?)))
        .ok()
}

/// What makes two sets of TLS options build the same configuration.
#[derive(PartialEq, Eq)]
struct ConfigKey {
    roots: Roots,
    /// Each CA file with its length and modification time (`None` if it
    /// cannot be read now: building will say why).
    files: Vec<(PathBuf, Option<Stamp>)>,
    der: Vec<Vec<u8>>,
    /// The client identity, its files stamped like the CA files.
    identity: Option<(ClientIdentity, Vec<Option<Stamp>>)>,
    /// Part of the key so that a configuration that accepts any
    /// certificate is never handed to a connection that must check it,
    /// nor its session cache: resuming a session made without checks
    /// would skip them too.
    #[cfg(feature = "danger-accept-invalid-certs")]
    accept_invalid_certs: bool,
}

impl ConfigKey {
    fn of(options: &TlsOptions) -> Self {
        let files = options
            .extra_ca_files
            .iter()
            .map(|path| (path.clone(), stamp(path)))
            .collect();
        let identity = options.client_auth.clone().map(|identity| {
            let stamps = match &identity {
                ClientIdentity::PemFiles { chain, key } => vec![stamp(chain), stamp(key)],
                ClientIdentity::Der { .. } => Vec::new(),
            };
            (identity, stamps)
        });
        Self {
            roots: options.roots.clone(),
            files,
            der: options.extra_ca_der.clone(),
            identity,
            #[cfg(feature = "danger-accept-invalid-certs")]
            accept_invalid_certs: options.danger_accept_invalid_certs,
        }
    }
}

fn build_client_config(options: &TlsOptions) -> Result<Arc<ClientConfig>, Error> {
    let provider = provider()?;
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(Error::Tls)?;
    let config = with_verifier(config, options, &provider)?;
    let mut config = match &options.client_auth {
        None => config.with_no_client_auth(),
        Some(identity) => {
            let (chain, key) = load_identity(identity)?;
            config
                .with_client_auth_cert(chain, key)
                .map_err(|e| Error::TlsConfig(format!("client certificate: {e}")))?
        }
    };
    // The upgrade is an HTTP/1.1 request (RFC 6455 section 4.1); saying so
    // keeps a server that negotiates ALPN from choosing h2.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// `builder` with the server certificate verifier `options` ask for: the
/// WebPKI one over the trust store, or (feature
/// `danger-accept-invalid-certs`, flag set) one that accepts any
/// certificate, whose trust store would go unused and is not even read.
#[cfg_attr(
    not(feature = "danger-accept-invalid-certs"),
    allow(
        unused_variables,
        reason = "the provider serves the dangerous branch only"
    )
)]
fn with_verifier(
    builder: ConfigBuilder<ClientConfig, WantsVerifier>,
    options: &TlsOptions,
    provider: &CryptoProvider,
) -> Result<ConfigBuilder<ClientConfig, WantsClientCert>, Error> {
    #[cfg(feature = "danger-accept-invalid-certs")]
    if options.danger_accept_invalid_certs {
        return Ok(crate::tls_insecure::accept_any_certificate(
            builder, provider,
        ));
    }
    Ok(builder.with_root_certificates(root_store(options)?))
}

/// The certificates `options` trust: the base roots and the extra CAs. A
/// base store whose feature is off, or (without root features) an empty
/// store, is an error naming the features, instead of "unknown issuer" for
/// every server.
fn root_store(options: &TlsOptions) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore::empty();
    match options.roots {
        #[cfg(feature = "webpki-roots")]
        Roots::WebPki => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        #[cfg(not(feature = "webpki-roots"))]
        Roots::WebPki => {
            return Err(Error::TlsConfig(
                "Roots::WebPki needs ws-mio's `webpki-roots` feature; turn it on, or choose \
                 Roots::System (feature `native-roots`) or Roots::Empty with your own CAs"
                    .into(),
            ));
        }
        #[cfg(feature = "native-roots")]
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
        #[cfg(not(feature = "native-roots"))]
        Roots::System => {
            return Err(Error::TlsConfig(
                "Roots::System needs ws-mio's `native-roots` feature; turn it on, or choose \
                 Roots::WebPki (feature `webpki-roots`) or Roots::Empty with your own CAs"
                    .into(),
            ));
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
    // Built without any root store and given no CA: every server would be
    // an unknown issuer. Explicit `Roots::Empty` with nothing added in a
    // build that has roots stays allowed, as it always was.
    if roots.is_empty() && cfg!(not(any(feature = "webpki-roots", feature = "native-roots"))) {
        return Err(Error::TlsConfig(
            "no trusted certificate: ws-mio was built without its `webpki-roots` and \
             `native-roots` features; add CAs (TlsOptions::extra_ca_files, extra_ca_der) \
             or give a complete TlsOptions::config"
                .into(),
        ));
    }
    Ok(roots)
}

/// The certificate chain and key of a client identity.
fn load_identity(
    identity: &ClientIdentity,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), Error> {
    let (chain, key) = match identity {
        ClientIdentity::PemFiles { chain, key } => {
            let file_error = |path: &Path, e: &dyn std::fmt::Display| {
                Error::TlsConfig(format!("{}: {e}", path.display()))
            };
            let certs = CertificateDer::pem_file_iter(chain)
                .map_err(|e| file_error(chain, &e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| file_error(chain, &e))?;
            let private = PrivateKeyDer::from_pem_file(key).map_err(|e| file_error(key, &e))?;
            (certs, private)
        }
        ClientIdentity::Der { chain, key } => {
            let certs = chain
                .iter()
                .map(|c| CertificateDer::from(c.clone()))
                .collect();
            let private = PrivateKeyDer::try_from(key.clone())
                .map_err(|e| Error::TlsConfig(format!("client key: {e}")))?;
            (certs, private)
        }
    };
    if chain.is_empty() {
        return Err(Error::TlsConfig(
            "client certificate: no certificate in the chain".into(),
        ));
    }
    Ok((chain, key))
}

impl TlsInfo {
    /// Read off a connection whose handshake is complete; `None` before.
    pub(crate) fn of(tls: &rustls::CommonState) -> Option<Self> {
        if tls.is_handshaking() {
            return None;
        }
        let version = tls.protocol_version()?;
        let suite = tls.negotiated_cipher_suite()?;
        let name = |debug: String| debug.trim_start_matches("TLSv").to_owned();
        Some(Self {
            version: format!("TLSv{}", name(format!("{version:?}")).replace('_', ".")),
            cipher_suite: format!("{:?}", suite.suite()),
            alpn: tls
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned()),
            resumed: tls.handshake_kind() == Some(rustls::HandshakeKind::Resumed),
        })
    }
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
    let config = ServerConfig::builder_with_provider(provider()?)
        .with_safe_default_protocol_versions()
        .map_err(Error::Tls)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(Error::Tls)?;
    Ok(Arc::new(config))
}
