//! [`WsUrl`]: a WebSocket URL checked and taken apart (RFC 6455 section
//! 3), for the drivers that start from a URL (the `url` feature). One
//! parser for all of them, so that ws-client and ws-tokio accept and
//! refuse the same URLs.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use url::{Host, Url};

use crate::ClientRequest;

/// A usable `ws://` or `wss://` URL (or `ws+unix://` / `wss+unix://`, a
/// Unix domain socket: `ws+unix:///run/app.sock:/resource`), taken apart.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WsUrl {
    /// `wss` (or `wss+unix`): TLS over the transport.
    pub secure: bool,
    /// The host as the handshake and TLS name it: a lowercase (punycode)
    /// domain, or an IP address without brackets (`localhost` for a Unix
    /// socket).
    pub host: String,
    /// Set when the host is an IP literal: nothing to resolve.
    pub ip: Option<IpAddr>,
    /// The port, the scheme's default (80, 443) when the URL has none.
    pub port: u16,
    /// Path and query, as sent in the request line.
    pub resource: String,
    /// A `ws+unix://` URL: the Unix domain socket to connect to.
    pub unix: Option<PathBuf>,
    /// `user:password@` in the URL, percent-decoded, for `Authorization:
    /// Basic` (as Python websockets sends it); never shown by `Debug`.
    pub credentials: Option<(String, String)>,
}

/// A URL that cannot be a WebSocket endpoint, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct UrlError {
    /// The URL, without any `user:password@`.
    pub url: String,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid URL {:?}: {}", self.url, self.reason)
    }
}

impl std::error::Error for UrlError {}

impl fmt::Debug for WsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsUrl")
            .field("secure", &self.secure)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("resource", &self.resource)
            .field("unix", &self.unix)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|(user, _)| (user, "...")),
            )
            .finish()
    }
}

impl WsUrl {
    /// Parses and checks `url`. Refuses what cannot be a WebSocket
    /// endpoint (RFC 6455 section 3): another scheme, no host, a fragment,
    /// a bad port. Credentials (`ws://user:password@host/`) are kept aside,
    /// to be sent as `Authorization: Basic`.
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        let invalid = |reason: &str| UrlError {
            url: without_credentials(url).into_owned(),
            reason: reason.to_owned(),
        };
        if let Some(target) = Self::parse_unix(url.trim()) {
            return target.map_err(&invalid);
        }
        let parsed = Url::parse(url.trim()).map_err(|e| invalid(&e.to_string()))?;
        let secure = match parsed.scheme() {
            "ws" => false,
            "wss" => true,
            other => {
                return Err(invalid(&format!(
                    "the scheme must be ws or wss, not {other:?}"
                )));
            }
        };
        if parsed.fragment().is_some() {
            return Err(invalid("a WebSocket URL cannot have a #fragment"));
        }
        let credentials = if parsed.username().is_empty() && parsed.password().is_none() {
            None
        } else {
            let user = percent_decode(parsed.username())
                .ok_or_else(|| invalid("the user name is not UTF-8 once decoded"))?;
            let password = percent_decode(parsed.password().unwrap_or(""))
                .ok_or_else(|| invalid("the password is not UTF-8 once decoded"))?;
            if user.contains(':') {
                return Err(invalid(
                    "a user name with ':' cannot be sent with Basic authentication",
                ));
            }
            Some((user, password))
        };
        let (host, ip) = match parsed.host() {
            Some(Host::Domain(d)) if !d.is_empty() => (d.to_owned(), None),
            Some(Host::Ipv4(ip)) => (ip.to_string(), Some(ip.into())),
            Some(Host::Ipv6(ip)) => (ip.to_string(), Some(ip.into())),
            _ => return Err(invalid("no host")),
        };
        // `port_or_known_default` knows 80 and 443 for ws and wss; an
        // explicit port 0 cannot be connected to.
        let port = parsed
            .port_or_known_default()
            .ok_or_else(|| invalid("no port"))?;
        if port == 0 {
            return Err(invalid("port 0 cannot be connected to"));
        }
        let mut resource = parsed.path().to_owned();
        if resource.is_empty() {
            resource.push('/');
        }
        if let Some(query) = parsed.query() {
            resource.push('?');
            resource.push_str(query);
        }
        Ok(Self {
            secure,
            host,
            ip,
            port,
            resource,
            unix: None,
            credentials,
        })
    }

    /// `ws+unix:///path/to.sock` or `ws+unix:///path/to.sock:/resource?query`
    /// (the form of Node's `ws`; `wss+unix://` for TLS over the socket):
    /// `None` for any other scheme. The handshake's `Host` is `localhost`.
    fn parse_unix(url: &str) -> Option<Result<Self, &'static str>> {
        let (secure, rest) = if let Some(rest) = url.strip_prefix("ws+unix://") {
            (false, rest)
        } else {
            (true, url.strip_prefix("wss+unix://")?)
        };
        Some(Self::unix_parts(secure, rest))
    }

    fn unix_parts(secure: bool, rest: &str) -> Result<Self, &'static str> {
        let (path, resource) = match rest.split_once(':') {
            Some((path, resource)) => (path, resource),
            None => (rest, "/"),
        };
        if path.is_empty() {
            return Err("no socket path: ws+unix:///path/to.sock[:/resource]");
        }
        if !resource.starts_with('/') {
            return Err("the resource after the socket path must start with '/'");
        }
        if resource.contains('#') {
            return Err("a WebSocket URL cannot have a #fragment");
        }
        if resource.bytes().any(|b| !b.is_ascii_graphic()) {
            return Err("the resource must be printable ASCII (percent-encode the rest)");
        }
        Ok(Self {
            secure,
            host: "localhost".to_owned(),
            ip: None,
            port: if secure { 443 } else { 80 },
            resource: resource.to_owned(),
            unix: Some(path.into()),
            credentials: None,
        })
    }

    /// The opening handshake request for this URL: its host, port,
    /// resource and scheme (the credentials are the caller's to send, see
    /// [`basic_authorization`](Self::basic_authorization)).
    pub fn request(&self) -> ClientRequest {
        ClientRequest::new(self.host.clone(), self.port, self.resource.clone()).secure(self.secure)
    }

    /// The URL's credentials as an `Authorization` header value, `Basic`
    /// and base64 (RFC 7617), as Python websockets and browsers send them;
    /// `None` without credentials. A caller's own `Authorization` header
    /// should win over it.
    pub fn basic_authorization(&self) -> Option<String> {
        use base64::Engine as _;
        let (user, password) = self.credentials.as_ref()?;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        Some(format!("Basic {token}"))
    }
}

/// `%XX`-decodes `s` (RFC 3986 section 2.1); `None` if the result is not
/// UTF-8. Malformed escapes are kept as they are, as browsers do.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// `url` with any `user:password@` taken out, for showing it (errors,
/// `Debug`, `WebSocket::url`).
pub fn without_credentials(url: &str) -> Cow<'_, str> {
    let Some(scheme_end) = url.find("://") else {
        return url.into();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}{}", &url[..scheme_end + 3], &rest[at + 1..]).into(),
        None => url.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(url: &str) -> WsUrl {
        WsUrl::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    fn refused(url: &str) -> String {
        match WsUrl::parse(url) {
            Err(UrlError { reason, .. }) => reason,
            other => panic!("{url}: {other:?}"),
        }
    }

    #[test]
    fn default_ports_paths_and_queries() {
        let t = ok("ws://example.com");
        assert_eq!((t.secure, t.port, t.resource.as_str()), (false, 80, "/"));
        let t = ok("wss://Example.COM/chat?room=1&x=%20y");
        assert_eq!((t.secure, t.port), (true, 443));
        assert_eq!(t.host, "example.com");
        assert_eq!(t.resource, "/chat?room=1&x=%20y");
        let t = ok("ws://example.com:9001/a/b");
        assert_eq!((t.port, t.resource.as_str()), (9001, "/a/b"));
    }

    #[test]
    fn unix_socket_urls() {
        let t = ok("ws+unix:///run/gw.sock");
        assert_eq!(
            t.unix.as_deref(),
            Some(std::path::Path::new("/run/gw.sock"))
        );
        assert_eq!(
            (t.secure, t.host.as_str(), t.resource.as_str()),
            (false, "localhost", "/")
        );
        let t = ok("wss+unix:///tmp/a.sock:/feed?x=1");
        assert_eq!(t.unix.as_deref(), Some(std::path::Path::new("/tmp/a.sock")));
        assert_eq!((t.secure, t.resource.as_str()), (true, "/feed?x=1"));
        assert!(refused("ws+unix://").contains("no socket path"));
        assert!(refused("ws+unix:///a.sock:feed").contains("start with '/'"));
        assert!(refused("ws+unix:///a.sock:/x#y").contains("fragment"));
    }

    #[test]
    fn ip_literals_need_no_resolving() {
        let t = ok("ws://[::1]:9001/");
        assert_eq!(t.host, "::1");
        assert_eq!(t.ip, Some("::1".parse().unwrap()));
        let t = ok("ws://127.0.0.1:1234");
        assert_eq!((t.ip, t.port), (Some("127.0.0.1".parse().unwrap()), 1234));
        assert_eq!(ok("ws://example.com/").ip, None);
    }

    #[test]
    fn international_names_become_punycode() {
        assert_eq!(ok("ws://bücher.example/").host, "xn--bcher-kva.example");
    }

    #[test]
    fn unusable_urls_are_refused_with_a_reason() {
        assert!(refused("http://example.com/").contains("scheme"));
        assert!(refused("ws://example.com/#frag").contains("fragment"));
        assert!(refused("ws://example.com/#").contains("fragment"));
        let t = ok("ws://us%65r:p%40ss@example.com/");
        assert_eq!(t.credentials, Some(("user".into(), "p@ss".into())));
        assert!(refused("ws://a%3Ab:pw@example.com/").contains("':'"));
        assert_eq!(without_credentials("wss://u:p@h:1/x@y"), "wss://h:1/x@y");
        assert_eq!(without_credentials("ws://h/"), "ws://h/");
        assert!(refused("ws://example.com:99999/").contains("port"));
        assert!(refused("ws://example.com:0/").contains("port 0"));
        refused("ws://:80/");
        refused("ws://");
        refused("not a url");
        refused("");
        refused("ws://exa mple.com/");
    }
}

#[cfg(test)]
mod request_tests {
    use super::*;

    #[test]
    fn the_request_has_the_urls_host_port_and_resource() {
        let url = WsUrl::parse("wss://[::1]:9443/feed?x=1").unwrap();
        let request = url.request();
        assert_eq!((request.host(), request.port()), ("::1", 9443));
        assert!(request.is_secure());
        assert_eq!(request.resource(), "/feed?x=1");
    }

    #[test]
    fn credentials_become_basic_authorization() {
        let url = WsUrl::parse("ws://Aladdin:open%20sesame@example.com/").unwrap();
        assert_eq!(
            url.basic_authorization().as_deref(),
            Some("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
        );
        assert_eq!(
            WsUrl::parse("ws://example.com/")
                .unwrap()
                .basic_authorization(),
            None
        );
    }

    #[test]
    fn debug_and_errors_never_show_the_password() {
        let url = WsUrl::parse("ws://user:secret@example.com/").unwrap();
        assert!(!format!("{url:?}").contains("secret"));
        let e = WsUrl::parse("ws://user:secret@example.com/#x").unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
    }
}
