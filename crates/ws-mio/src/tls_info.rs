//! [`TlsInfo`], outside the `tls` module so that the type (and
//! `Conn::tls_info`, always `None` then) is there without the `tls` feature.

/// What a TLS connection negotiated.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsInfo {
    /// The protocol version: `TLSv1.3` or `TLSv1.2`.
    pub version: String,
    /// The cipher suite, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher_suite: String,
    /// The application protocol agreed with ALPN (`http/1.1` when the
    /// server answers it), if any.
    pub alpn: Option<String>,
    /// Whether the handshake resumed an earlier session (a reconnect with
    /// the same TLS options) rather than a full handshake.
    pub resumed: bool,
}
