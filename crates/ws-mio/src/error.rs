//! What can go wrong with a connection driven by the event loop.

use std::fmt;
use std::io;
use std::net::SocketAddr;

#[cfg(feature = "tls")]
use rustls::{CertificateError, Error as TlsError};

/// A connection failed. Reported once, through [`Event::Error`](crate::Event::Error),
/// before [`Event::Closed`](crate::Event::Closed); or returned by a call that
/// could not start at all.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The handshake request is invalid (bad header, host, resource...).
    Request(ws_proto::RequestError),
    /// The host name did not resolve.
    Resolve {
        /// The host that was looked up.
        host: String,
        /// Why it failed.
        error: io::Error,
    },
    /// No resolved address accepted a TCP connection.
    Connect {
        /// The last address tried.
        addr: SocketAddr,
        /// Why it failed (refused, unreachable...).
        error: io::Error,
    },
    /// The Unix domain socket could not be connected.
    ConnectPath {
        /// The socket's path.
        path: std::path::PathBuf,
        /// Why (no such file, refused...).
        error: io::Error,
    },
    /// The TCP connection did not complete within the connect timeout.
    ConnectTimeout,
    /// The proxy could not be reached: its name did not resolve, or no
    /// address of it accepted a TCP connection in time (`error` says which).
    ProxyUnreachable {
        /// The proxy (`scheme://host:port`, never its credentials).
        proxy: String,
        /// Why ([`Error::Resolve`], [`Error::Connect`] or
        /// [`Error::ConnectTimeout`]).
        error: Box<Error>,
    },
    /// The proxy did not open the tunnel: it refused (an HTTP status other
    /// than 2xx, a SOCKS5 reply code, failed authentication), closed the
    /// connection, or answered something else than its protocol.
    Proxy {
        /// The proxy (`scheme://host:port`, never its credentials).
        proxy: String,
        /// What went wrong, naming the proxy's protocol.
        error: ws_proto::proxy::ProxyError,
    },
    /// The proxy did not open the tunnel within
    /// [`ClientOptions::proxy_timeout`](crate::ClientOptions::proxy_timeout).
    ProxyTimeout {
        /// The proxy (`scheme://host:port`, never its credentials).
        proxy: String,
    },
    /// TLS failed: the certificate was not trusted, the handshake broke...
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    Tls(TlsError),
    /// A `wss://` request (or a TLS setting) in a build without ws-mio's
    /// `tls` feature: there is no TLS to use. Never returned when the
    /// feature is on.
    TlsUnavailable,
    /// The TLS handshake did not complete within the opening handshake's
    /// timeout (`ws_proto::Config::handshake_timeout`, which bounds TLS and
    /// the WebSocket handshake together).
    TlsTimeout,
    /// The TLS configuration could not be built (unreadable CA file...).
    TlsConfig(String),
    /// Reading or writing the socket failed (reset, broken pipe...).
    Io(io::Error),
    /// The WebSocket protocol failed: handshake refused, protocol violation
    /// by the peer, timeout, connection lost.
    Protocol(ws_proto::Error),
    /// The event loop is gone: the connection cannot be started or used.
    LoopStopped,
    /// This connection's input took the loop over its memory budget
    /// ([`EventLoop::set_memory_budget`](crate::EventLoop::set_memory_budget)):
    /// it was failed (close 1013 from a server, 1009 from a client).
    MemoryBudget {
        /// Bytes the loop's connections held together.
        held: usize,
        /// The budget.
        budget: usize,
    },
}

impl Error {
    /// A short name of the component that raised the error: `os`, `rustls`,
    /// `ws-proto`, `proxy` or `ws-mio`.
    pub fn component(&self) -> &'static str {
        match self {
            Self::Resolve { .. }
            | Self::Connect { .. }
            | Self::ConnectPath { .. }
            | Self::Io(_) => "os",
            #[cfg(feature = "tls")]
            Self::Tls(_) => "rustls",
            Self::TlsConfig(_) | Self::TlsTimeout => "rustls",
            Self::TlsUnavailable => "ws-mio",
            Self::Request(_) | Self::Protocol(_) => "ws-proto",
            Self::ProxyUnreachable { error, .. } => error.component(),
            Self::Proxy { .. } | Self::ProxyTimeout { .. } => "proxy",
            Self::ConnectTimeout | Self::LoopStopped | Self::MemoryBudget { .. } => "ws-mio",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Request(e) => write!(f, "invalid request: {e}"),
            Self::Resolve { host, error } => write!(f, "cannot resolve {host:?}: {error}"),
            Self::Connect { addr, error } => write!(f, "cannot connect to {addr}: {error}"),
            Self::ConnectPath { path, error } => {
                write!(f, "cannot connect to {}: {error}", path.display())
            }
            Self::ConnectTimeout => f.write_str("TCP connect timed out"),
            Self::ProxyUnreachable { proxy, error } => {
                write!(f, "cannot reach the proxy {proxy}: {error}")
            }
            Self::Proxy { proxy, error } => write!(f, "{error} ({proxy})"),
            Self::ProxyTimeout { proxy } => {
                write!(f, "the proxy {proxy} did not open the tunnel in time")
            }
            #[cfg(feature = "tls")]
            Self::Tls(e) => write!(f, "TLS: {}", describe_tls(e)),
            Self::TlsUnavailable => f.write_str(
                "wss:// needs TLS, and this build has none (ws-mio's `tls` feature is off)",
            ),
            Self::TlsConfig(why) => write!(f, "TLS configuration: {why}"),
            Self::TlsTimeout => f.write_str("the TLS handshake timed out"),
            Self::Io(e) => write!(f, "transport: {e}"),
            Self::Protocol(e) => write!(f, "{e}"),
            Self::LoopStopped => f.write_str("the event loop has stopped"),
            Self::MemoryBudget { held, budget } => write!(
                f,
                "the event loop's memory budget is exhausted: {held} bytes held, budget {budget}"
            ),
        }
    }
}

/// Names the cause of a certificate failure in words a user can act on.
#[cfg(feature = "tls")]
fn describe_tls(e: &TlsError) -> String {
    match e {
        TlsError::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer => "certificate not trusted: unknown issuer".into(),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "certificate expired".into()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "certificate not valid yet".into()
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                "certificate is for another host name".into()
            }
            CertificateError::Revoked => "certificate revoked".into(),
            other => format!("invalid certificate: {other:?}"),
        },
        other => other.to_string(),
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Request(e) => Some(e),
            Self::Resolve { error, .. }
            | Self::Connect { error, .. }
            | Self::ConnectPath { error, .. }
            | Self::Io(error) => Some(error),
            #[cfg(feature = "tls")]
            Self::Tls(e) => Some(e),
            Self::Protocol(e) => Some(e),
            Self::ProxyUnreachable { error, .. } => Some(error.as_ref()),
            Self::Proxy { error, .. } => Some(error),
            Self::ConnectTimeout
            | Self::TlsTimeout
            | Self::ProxyTimeout { .. }
            | Self::TlsConfig(_)
            | Self::TlsUnavailable
            | Self::LoopStopped
            | Self::MemoryBudget { .. } => None,
        }
    }
}

impl From<ws_proto::RequestError> for Error {
    fn from(e: ws_proto::RequestError) -> Self {
        Self::Request(e)
    }
}
