//! [`Builder`]: the settings of a client connection, then `connect`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
#[cfg(feature = "tls")]
use tokio_rustls::TlsConnector;
#[cfg(feature = "tls")]
use tokio_rustls::rustls::ClientConfig;
#[cfg(feature = "tls")]
use tokio_rustls::rustls::pki_types::ServerName;

use ws_proto::{Config, Connection, DeflateConfig, WsUrl};

use crate::core::Core;
use crate::error::Error;
use crate::stream::WebSocketStream;
use crate::tls::TlsSettings;
use crate::trace;
use crate::transport::MaybeTlsStream;

/// Queued bytes above which a `Sink` sender waits, by default.
pub(crate) const DEFAULT_HIGH_WATER: usize = 128 << 10;

/// The settings of a client connection: request headers, subprotocols,
/// TLS trust, permessage-deflate, limits and timeouts. Finish with
/// [`connect`](Self::connect) (TCP, TLS for `wss://`) or
/// [`connect_on`](Self::connect_on) (a transport of the caller's own).
///
/// ```no_run
/// # async fn run() -> Result<(), ws_tokio::Error> {
/// use std::time::Duration;
/// let mut ws = ws_tokio::Builder::new("wss://example.com/feed")
///     .header("Authorization", "Bearer 123")
///     .protocol("v2.feed")
///     .deflate(Some(ws_tokio::DeflateConfig::default()))
///     .max_message_size(1 << 20)
///     .keepalive(Some(Duration::from_secs(20)))
///     .connect()
///     .await?;
/// ws.send_text("subscribe").await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    url: String,
    headers: Vec<(String, String)>,
    protocols: Vec<String>,
    origin: Option<String>,
    config: Config,
    tls: TlsSettings,
    connect_timeout: Option<Duration>,
    high_water: usize,
}

impl Builder {
    /// A connection to `url` (`ws://` or `wss://`), with ws-proto's
    /// default [`Config`] (safe against a hostile peer).
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            headers: Vec::new(),
            protocols: Vec::new(),
            origin: None,
            config: Config::default(),
            tls: TlsSettings::default(),
            connect_timeout: Some(Duration::from_secs(10)),
            high_water: DEFAULT_HIGH_WATER,
        }
    }

    /// Adds a request header (again with the same name: sent twice).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Offers a subprotocol; call again to offer several, in order of
    /// preference. The server's choice is
    /// [`WebSocketStream::subprotocol`].
    pub fn protocol(mut self, name: impl Into<String>) -> Self {
        self.protocols.push(name.into());
        self
    }

    /// Sends an `Origin` header.
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Replaces every protocol setting (limits, timers, deflate) at once;
    /// the setters below change one field of it.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Offers permessage-deflate (RFC 7692) with these settings; `None`
    /// (the default) does not.
    pub fn deflate(mut self, deflate: Option<DeflateConfig>) -> Self {
        self.config.deflate = deflate;
        self
    }

    /// The largest message received ([`Config::max_message_size`]).
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.config.max_message_size = bytes;
        self
    }

    /// The largest frame received ([`Config::max_frame_size`]).
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.config.max_frame_size = bytes;
        self
    }

    /// The most bytes waiting to be written ([`Config::max_write_buffer`]):
    /// a send that would pass it fails with `WriteBufferFull`.
    pub fn max_write_buffer(mut self, bytes: usize) -> Self {
        self.config.max_write_buffer = bytes;
        self
    }

    /// Queued bytes above which the `Sink`'s `poll_ready` waits for the
    /// transport (back-pressure before the hard limit of
    /// [`max_write_buffer`](Self::max_write_buffer)). Default: 128 KiB.
    pub fn write_buffer_high_water(mut self, bytes: usize) -> Self {
        self.high_water = bytes;
        self
    }

    /// How long TCP connect and the TLS handshake may take; `None` waits as
    /// long as the system does. Default: 10 s.
    pub fn connect_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long the WebSocket opening handshake may take
    /// ([`Config::handshake_timeout`]).
    pub fn handshake_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.handshake_timeout = timeout;
        self
    }

    /// How long the closing handshake may take ([`Config::close_timeout`]).
    pub fn close_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.close_timeout = timeout;
        self
    }

    /// Pings after this long without input, failing the connection when
    /// nothing comes back ([`Config::keepalive_interval`]). Default: off.
    pub fn keepalive(mut self, interval: Option<Duration>) -> Self {
        self.config.keepalive_interval = interval;
        self
    }

    /// Trusts Mozilla's root certificates (webpki-roots) for `wss://`, or
    /// not. Default: `true`. Without the `webpki-roots` feature there are
    /// none to trust, and a `wss://` connect needs roots added below (or a
    /// `tls_config`).
    pub fn webpki_roots(mut self, trust: bool) -> Self {
        self.tls.no_webpki_roots = !trust;
        self
    }

    /// Trusts one more CA certificate, DER-encoded.
    pub fn add_root_der(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.tls.extra_der.push(der.into());
        self
    }

    /// Trusts the CA certificates of a PEM text (checked at connect).
    pub fn add_root_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls.extra_pem.push(pem.into());
        self
    }

    /// Trusts the CA certificates of a PEM file (read at connect).
    pub fn add_root_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls.extra_files.push(path.into());
        self
    }

    /// Uses this rustls configuration for `wss://` (client certificates,
    /// a custom verifier...); the other TLS settings are then unused.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls_config(mut self, config: std::sync::Arc<ClientConfig>) -> Self {
        self.tls.config = Some(config);
        self
    }

    /// Connects: TCP (and TLS for `wss://`), then the opening handshake.
    pub async fn connect(self) -> Result<WebSocketStream<MaybeTlsStream>, Error> {
        let target = parse(&self.url)?;
        if target.unix.is_some() {
            return Err(Error::InvalidUrl {
                url: ws_proto::without_credentials(&self.url).into_owned(),
                reason: "connect opens TCP: for a Unix socket, connect the stream yourself and \
                         use connect_on"
                    .into(),
            });
        }
        #[cfg(feature = "tls")]
        let tls = if target.secure {
            Some((self.tls.client_config()?, server_name(&target)?))
        } else {
            None
        };
        #[cfg(not(feature = "tls"))]
        if target.secure {
            return Err(Error::Tls(
                "wss:// needs TLS, and this build has none (ws-tokio's `tls` feature is off)"
                    .into(),
            ));
        }
        let transport = async {
            trace::debug!(host = %target.host, port = target.port, "connecting");
            let tcp = TcpStream::connect((target.host.as_str(), target.port)).await?;
            // Frames are written whole; Nagle would only delay them.
            tcp.set_nodelay(true)?;
            trace::debug!(host = %target.host, port = target.port, "TCP connected");
            #[cfg(feature = "tls")]
            if let Some((config, name)) = tls {
                let tls = TlsConnector::from(config).connect(name, tcp).await?;
                return Ok::<_, Error>(MaybeTlsStream::Tls(Box::new(tls)));
            }
            Ok::<_, Error>(MaybeTlsStream::Plain(tcp))
        };
        let transport = match self.connect_timeout {
            Some(limit) => tokio::time::timeout(limit, transport)
                .await
                .map_err(|_| Error::ConnectTimeout)??,
            None => transport.await?,
        };
        self.handshake(&target, transport).await
    }

    /// Runs the opening handshake over a transport the caller made (a Unix
    /// socket, a proxy tunnel, TLS of its own, an in-memory pipe). The URL
    /// still gives the `Host` header and the resource; nothing else of it
    /// is used (no TLS is added for `wss://`).
    pub async fn connect_on<S>(self, stream: S) -> Result<WebSocketStream<S>, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let target = parse(&self.url)?;
        self.handshake(&target, stream).await
    }

    async fn handshake<S>(self, target: &Target, stream: S) -> Result<WebSocketStream<S>, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let mut request = target.request();
        for protocol in self.protocols {
            request = request.protocol(protocol);
        }
        if let Some(origin) = self.origin {
            request = request.origin(origin);
        }
        let mut authorization = false;
        for (name, value) in self.headers {
            authorization |= name.eq_ignore_ascii_case("authorization");
            request = request.header(name, value);
        }
        // Credentials in the URL, unless an Authorization header says
        // otherwise (RFC 7617).
        if let (Some(basic), false) = (target.basic_authorization(), authorization) {
            request = request.header("Authorization", basic);
        }
        let conn = Connection::client(
            Instant::now(),
            self.config,
            &request,
            ws_proto::default_rng(),
        )?;
        WebSocketStream::handshake(Core::new(conn, stream, self.high_water)).await
    }
}

/// The URL, taken apart by ws-proto's one parser of WebSocket URLs.
type Target = WsUrl;

/// Parses the builder's URL; a Unix socket URL is refused here, since
/// `connect` opens TCP (`connect_on` takes any stream, a Unix one too).
fn parse(url: &str) -> Result<Target, Error> {
    let target = WsUrl::parse(url).map_err(|e| Error::InvalidUrl {
        url: e.url,
        reason: e.reason,
    })?;
    Ok(target)
}

#[cfg(feature = "tls")]
fn server_name(target: &Target) -> Result<ServerName<'static>, Error> {
    match target.ip {
        Some(ip) => Ok(ServerName::IpAddress(ip.into())),
        None => ServerName::try_from(target.host.clone())
            .map_err(|e| Error::Tls(format!("{}: {e}", target.host))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_taken_apart() {
        let t = parse("wss://Example.com/a/b?c=d").unwrap();
        assert!(t.secure);
        assert_eq!(
            (t.host.as_str(), t.port, t.resource.as_str()),
            ("example.com", 443, "/a/b?c=d")
        );
        let t = parse("ws://[::1]:9001").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.resource.as_str()),
            ("::1", 9001, "/")
        );
        for refused in ["http://x/", "ws://x/#f", "nonsense"] {
            assert!(
                matches!(parse(refused), Err(Error::InvalidUrl { .. })),
                "{refused}"
            );
        }
    }
}
