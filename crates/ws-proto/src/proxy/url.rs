//! Proxy URLs: `scheme://[user[:password]@]host[:port][/]`, read by hand.
//!
//! The grammar is RFC 3986's authority with a handful of schemes, and
//! nothing else: a proxy URL with a path, a query or a fragment is a
//! mistake (often an unencoded `/`, `?` or `#` in a password), and is
//! refused rather than guessed at. Nothing read from the URL's user
//! information ever reaches a `Debug`, `Display` or error message.

use std::fmt;
use std::str::FromStr;

use super::ProxyProtocol;
use super::host::{Host, HostError};

/// The kind of proxy a URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProxyScheme {
    /// `http://`: an HTTP proxy reached over TCP, tunnelling with CONNECT.
    Http,
    /// `https://`: an HTTP proxy reached over TLS (the TLS session is with
    /// the proxy itself; the tunnel then carries the target's own TLS for
    /// `wss`), tunnelling with CONNECT.
    Https,
    /// `socks5://`: a SOCKS5 proxy; the client resolves the target's name
    /// and sends an address.
    Socks5,
    /// `socks5h://`: a SOCKS5 proxy that resolves the target's name itself.
    Socks5h,
}

impl ProxyScheme {
    /// The port used when the URL names none, as curl does: 80 for
    /// `http`, 443 for `https`, 1080 for `socks5` and `socks5h`.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
            Self::Socks5 | Self::Socks5h => 1080,
        }
    }

    /// The scheme as written in a URL, in lowercase.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
            Self::Socks5 => "socks5",
            Self::Socks5h => "socks5h",
        }
    }

    /// The tunnel protocol spoken to the proxy.
    pub fn protocol(self) -> ProxyProtocol {
        match self {
            Self::Http | Self::Https => ProxyProtocol::HttpConnect,
            Self::Socks5 | Self::Socks5h => ProxyProtocol::Socks5,
        }
    }

    /// Whether the connection to the proxy itself is TLS (`https`).
    pub fn uses_tls(self) -> bool {
        self == Self::Https
    }

    /// Whether the proxy resolves the target's host name (`http`, `https`,
    /// `socks5h`); for `socks5` the client resolves it and gives the
    /// tunnel an address ([`Socks5Target::Addr`](super::Socks5Target::Addr)).
    pub fn proxy_resolves_names(self) -> bool {
        self != Self::Socks5
    }
}

impl fmt::Display for ProxyScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user name and password for a proxy: HTTP Basic (RFC 7617) for
/// CONNECT, RFC 1929 for SOCKS5.
///
/// Neither part is ever printed: `Debug` shows `<redacted>` in their place,
/// and there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    username: String,
    password: String,
}

impl Credentials {
    /// Credentials from a user name and a password (decoded, not
    /// percent-encoded).
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
        }
    }

    /// The user name.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The password.
    pub fn password(&self) -> &str {
        &self.password
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &"<redacted>")
            .field("password", &"<redacted>")
            .finish()
    }
}

/// A parsed proxy URL.
///
/// `Display` and `Debug` show the scheme, host and port only, never the
/// credentials: `socks5h://[::1]:1080`.
///
/// ```
/// use ws_proto::proxy::{ProxyScheme, ProxyUrl};
///
/// let url: ProxyUrl = "http://alice:p%40ss@[::1]:3128".parse()?;
/// assert_eq!(url.scheme(), ProxyScheme::Http);
/// assert_eq!(url.port(), 3128);
/// assert_eq!(url.credentials().map(|c| c.password()), Some("p@ss"));
/// assert_eq!(url.to_string(), "http://[::1]:3128");
/// # Ok::<(), ws_proto::proxy::UrlError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    scheme: ProxyScheme,
    host: Host,
    port: u16,
    credentials: Option<Credentials>,
}

impl ProxyUrl {
    /// A proxy URL from its parts.
    pub fn new(scheme: ProxyScheme, host: Host, port: u16) -> Self {
        Self {
            scheme,
            host,
            port,
            credentials: None,
        }
    }

    /// Reads `scheme://[user[:password]@]host[:port][/]`.
    ///
    /// - `scheme` is `http`, `https`, `socks5` or `socks5h`, in any case;
    ///   without `scheme://` the URL is taken as `http`, as curl does.
    /// - `user` and `password` are percent-decoded (RFC 3986 section
    ///   2.1) and must then be UTF-8. The user information ends at the last
    ///   `@`; a `/`, `?`, `#` or `:` in the user name must be encoded.
    /// - `host` follows the rule of [`Host::parse`]; an IPv6 address must be
    ///   in brackets (`http://[::1]:3128`).
    /// - `port` is 1 to 65535; absent or empty, it is the scheme's
    ///   [default port](ProxyScheme::default_port).
    /// - The path must be empty or `/`; a query or fragment is refused, as
    ///   are whitespace, control characters and non-ASCII characters
    ///   anywhere (they must be percent-encoded in the user information).
    pub fn parse(input: &str) -> Result<Self, UrlError> {
        if input.is_empty() {
            return Err(UrlError::Empty);
        }
        if input.bytes().any(|b| !b.is_ascii_graphic()) {
            return Err(UrlError::InvalidCharacter);
        }
        let (scheme, rest) = match input.find("://") {
            Some(i) => (parse_scheme(&input[..i])?, &input[i + 3..]),
            None => (ProxyScheme::Http, input),
        };
        // The authority ends at the first '/', '?' or '#' (RFC 3986 3.2).
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if tail.contains('?') {
            return Err(UrlError::Query);
        }
        if tail.contains('#') {
            return Err(UrlError::Fragment);
        }
        if !tail.is_empty() && tail != "/" {
            return Err(UrlError::Path);
        }
        // The last '@': a host never holds one, and a password with an
        // unencoded '@' is then still read as the user meant.
        let (userinfo, host_port) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        let credentials = userinfo.map(parse_userinfo).transpose()?.flatten();
        let (host, port) = parse_host_port(host_port)?;
        Ok(Self {
            scheme,
            host,
            port: port.unwrap_or(scheme.default_port()),
            credentials,
        })
    }

    /// The same proxy with these credentials.
    pub fn with_credentials(mut self, credentials: Option<Credentials>) -> Self {
        self.credentials = credentials;
        self
    }

    /// The kind of proxy.
    pub fn scheme(&self) -> ProxyScheme {
        self.scheme
    }

    /// The proxy's host, to connect to.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The proxy's port, the scheme's default when the URL named none.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The credentials to authenticate with, if any.
    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }
}

impl FromStr for ProxyUrl {
    type Err = UrlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.host.authority(self.port))
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyUrl")
            .field("scheme", &self.scheme)
            .field("host", &self.host)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// The longest scheme repeated in an error message: anything longer is
/// more likely a pasted secret than a scheme.
const MAX_SCHEME_ECHO: usize = 16;

fn parse_scheme(s: &str) -> Result<ProxyScheme, UrlError> {
    let lower = s.to_ascii_lowercase();
    match lower.as_str() {
        "http" => Ok(ProxyScheme::Http),
        "https" => Ok(ProxyScheme::Https),
        "socks5" => Ok(ProxyScheme::Socks5),
        "socks5h" => Ok(ProxyScheme::Socks5h),
        // RFC 3986 3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
        _ if lower.len() <= MAX_SCHEME_ECHO
            && lower.starts_with(|c: char| c.is_ascii_alphabetic())
            && lower
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) =>
        {
            Err(UrlError::UnsupportedScheme(lower))
        }
        _ => Err(UrlError::InvalidScheme),
    }
}

/// `user[:password]`, percent-decoded; `None` when both are empty
/// (`http://@host`).
fn parse_userinfo(userinfo: &str) -> Result<Option<Credentials>, UrlError> {
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let (user, password) = (percent_decode(user)?, percent_decode(password)?);
    if user.is_empty() && password.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credentials::new(user, password)))
}

/// RFC 3986 section 2.1. `+` stays a `+`: it means a space only in form
/// encoding, which a URL's user information is not.
fn percent_decode(s: &str) -> Result<String, UrlError> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b != b'%' {
            out.push(b);
            continue;
        }
        let hi = bytes.next().and_then(hex_value);
        let lo = bytes.next().and_then(hex_value);
        match (hi, lo) {
            (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
            _ => return Err(UrlError::InvalidPercentEncoding),
        }
    }
    String::from_utf8(out).map_err(|_| UrlError::CredentialsNotUtf8)
}

fn hex_value(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).map(|d| d as u8)
}

/// `host[:port]` or `[ipv6][:port]`; the port is `None` when absent or
/// empty (RFC 3986 3.2.3 allows `host:`).
fn parse_host_port(s: &str) -> Result<(Host, Option<u16>), UrlError> {
    let (host, port) = if s.starts_with('[') {
        let close = s.find(']').ok_or(HostError::InvalidIpv6)?;
        let port = match &s[close + 1..] {
            "" => None,
            after => Some(after.strip_prefix(':').ok_or(HostError::InvalidIpv6)?),
        };
        (Host::parse(&s[..=close])?, port)
    } else {
        match s.split_once(':') {
            Some((_, port)) if port.contains(':') => return Err(UrlError::Ipv6WithoutBrackets),
            Some((host, port)) => (Host::parse(host)?, Some(port)),
            None => (Host::parse(s)?, None),
        }
    };
    let port = match port {
        None | Some("") => None,
        Some(port) => Some(parse_port(port)?),
    };
    Ok((host, port))
}

/// Decimal digits only (no sign, no space), 1 to 65535; leading zeros are
/// allowed, as RFC 3986's `*DIGIT` does.
pub(super) fn parse_port(s: &str) -> Result<u16, UrlError> {
    let mut value: u32 = 0;
    for b in s.bytes() {
        if !b.is_ascii_digit() {
            return Err(UrlError::InvalidPort);
        }
        value = value * 10 + u32::from(b - b'0');
        if value > u32::from(u16::MAX) {
            return Err(UrlError::InvalidPort);
        }
    }
    match u16::try_from(value) {
        Ok(0) | Err(_) => Err(UrlError::InvalidPort),
        Ok(port) => Ok(port),
    }
}

/// Why a proxy URL was refused.
///
/// The message names the problem, never the URL's text (but for an
/// unsupported scheme, the part before `://`): a URL may carry a password,
/// and a typo can put it anywhere.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// The URL is empty.
    Empty,
    /// Whitespace, a control character or a non-ASCII character (which
    /// must be percent-encoded in the user information).
    InvalidCharacter,
    /// A well-formed scheme other than `http`, `https`, `socks5` and
    /// `socks5h` (in lowercase).
    UnsupportedScheme(String),
    /// The text before `://` is not a scheme.
    InvalidScheme,
    /// A `%` not followed by two hexadecimal digits in the user information.
    InvalidPercentEncoding,
    /// The decoded user name or password is not UTF-8.
    CredentialsNotUtf8,
    /// The host is invalid.
    InvalidHost(HostError),
    /// An IPv6 address without brackets (`http://::1:3128`).
    Ipv6WithoutBrackets,
    /// The port is not a number from 1 to 65535.
    InvalidPort,
    /// A path other than `/`.
    Path,
    /// A query (`?`).
    Query,
    /// A fragment (`#`).
    Fragment,
}

impl From<HostError> for UrlError {
    fn from(e: HostError) -> Self {
        Self::InvalidHost(e)
    }
}

impl UrlError {
    /// The problem, without the "invalid proxy URL" prefix.
    pub(crate) fn problem(&self) -> String {
        match self {
            Self::Empty => "it is empty".into(),
            Self::InvalidCharacter => {
                "whitespace, a control character or a non-ASCII character (percent-encode it)"
                    .into()
            }
            Self::UnsupportedScheme(s) => {
                format!("unsupported scheme {s:?} (expected http, https, socks5 or socks5h)")
            }
            Self::InvalidScheme => "the text before \"://\" is not a scheme".into(),
            Self::InvalidPercentEncoding => {
                "a '%' not followed by two hexadecimal digits in the user name or password".into()
            }
            Self::CredentialsNotUtf8 => "the decoded user name or password is not UTF-8".into(),
            Self::InvalidHost(e) => e.to_string(),
            Self::Ipv6WithoutBrackets => {
                "an IPv6 address must be in brackets, as in http://[::1]:3128".into()
            }
            Self::InvalidPort => "the port is not a number from 1 to 65535".into(),
            Self::Path => {
                "a path other than \"/\" (is there an unencoded '/' in the password?)".into()
            }
            Self::Query => "a query ('?') (is there an unencoded '?' in the password?)".into(),
            Self::Fragment => {
                "a fragment ('#') (is there an unencoded '#' in the password?)".into()
            }
        }
    }
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid proxy URL: {}", self.problem())
    }
}

impl std::error::Error for UrlError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::InvalidHost(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;

    fn url(s: &str) -> ProxyUrl {
        ProxyUrl::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn name(s: &str) -> Host {
        Host::Name(s.into())
    }

    fn ip(s: &str) -> Host {
        Host::Ip(s.parse::<IpAddr>().unwrap())
    }

    #[test]
    fn schemes_and_default_ports() {
        for (input, scheme, port) in [
            ("http://proxy", ProxyScheme::Http, 80),
            ("https://proxy", ProxyScheme::Https, 443),
            ("socks5://proxy", ProxyScheme::Socks5, 1080),
            ("socks5h://proxy", ProxyScheme::Socks5h, 1080),
            ("HTTP://proxy", ProxyScheme::Http, 80),
            ("SoCkS5H://proxy", ProxyScheme::Socks5h, 1080),
            ("proxy", ProxyScheme::Http, 80),
            ("proxy:3128", ProxyScheme::Http, 3128),
            ("http://proxy:", ProxyScheme::Http, 80),
            ("http://proxy/", ProxyScheme::Http, 80),
            ("https://proxy:8443/", ProxyScheme::Https, 8443),
        ] {
            let u = url(input);
            assert_eq!(
                (u.scheme(), u.host(), u.port()),
                (scheme, &name("proxy"), port)
            );
        }
    }

    #[test]
    fn ip_hosts() {
        assert_eq!(url("http://[::1]:3128").host(), &ip("::1"));
        assert_eq!(url("http://[::1]:3128").port(), 3128);
        assert_eq!(url("socks5://[2001:db8::7]").port(), 1080);
        assert_eq!(url("socks5://[2001:db8::7]").host(), &ip("2001:db8::7"));
        assert_eq!(url("10.1.2.3:8080").host(), &ip("10.1.2.3"));
        assert_eq!(
            url("http://u:p@[::ffff:1.2.3.4]/").host(),
            &ip("::ffff:1.2.3.4")
        );
    }

    #[test]
    fn ports() {
        assert_eq!(url("http://p:1").port(), 1);
        assert_eq!(url("http://p:65535").port(), 65535);
        assert_eq!(url("http://p:000080").port(), 80);
        for bad in [
            "http://p:0",
            "http://p:65536",
            "http://p:99999999999999999999",
            "http://p:-1",
            "http://p:+80",
            "http://p:8o",
            "http://p:0x50",
            "http://[::1]:x",
        ] {
            assert_eq!(ProxyUrl::parse(bad), Err(UrlError::InvalidPort), "{bad}");
        }
    }

    #[test]
    fn credentials_are_percent_decoded() {
        let u = url("http://al%69ce:p%40ss%3Aw%2fd@proxy:3128");
        let c = u.credentials().unwrap();
        assert_eq!((c.username(), c.password()), ("alice", "p@ss:w/d"));
        let c = url("socks5h://%C3%A9l%C3%A8ve:%E2%82%AC+@p")
            .credentials()
            .cloned();
        assert_eq!(c, Some(Credentials::new("\u{e9}l\u{e8}ve", "\u{20ac}+")));
        // The last '@' ends the user information; the first ':' the name.
        let c = url("http://bob:a@b:c@proxy")
            .credentials()
            .cloned()
            .unwrap();
        assert_eq!((c.username(), c.password()), ("bob", "a@b:c"));
        // A user name alone has an empty password (curl's reading).
        let c = url("http://bob@proxy").credentials().cloned().unwrap();
        assert_eq!((c.username(), c.password()), ("bob", ""));
        assert_eq!(url("http://@proxy").credentials(), None);
        assert_eq!(url("http://:@proxy").credentials(), None);
        assert_eq!(url("http://proxy").credentials(), None);
    }

    #[test]
    fn refused_urls() {
        for (input, error) in [
            ("", UrlError::Empty),
            ("ftp://proxy", UrlError::UnsupportedScheme("ftp".into())),
            (
                "SOCKS4://proxy",
                UrlError::UnsupportedScheme("socks4".into()),
            ),
            ("://proxy", UrlError::InvalidScheme),
            ("1http://proxy", UrlError::InvalidScheme),
            ("http://", UrlError::InvalidHost(HostError::Empty)),
            ("http://:8080", UrlError::InvalidHost(HostError::Empty)),
            ("http://u:p@", UrlError::InvalidHost(HostError::Empty)),
            ("http:// proxy", UrlError::InvalidCharacter),
            ("http://proxy ", UrlError::InvalidCharacter),
            ("http://pro\txy", UrlError::InvalidCharacter),
            ("http://proxy\n", UrlError::InvalidCharacter),
            ("http://pr\u{f6}xy", UrlError::InvalidCharacter),
            ("http://u:p\u{7f}@proxy", UrlError::InvalidCharacter),
            ("http://proxy/path", UrlError::Path),
            ("http://proxy//", UrlError::Path),
            ("http://proxy?x=1", UrlError::Query),
            ("http://proxy/?", UrlError::Query),
            ("http://proxy#top", UrlError::Fragment),
            ("http://u:%zz@proxy", UrlError::InvalidPercentEncoding),
            ("http://u:%4@proxy", UrlError::InvalidPercentEncoding),
            ("http://u:%@proxy", UrlError::InvalidPercentEncoding),
            ("http://u:%ff@proxy", UrlError::CredentialsNotUtf8),
            ("http://::1:3128", UrlError::Ipv6WithoutBrackets),
            ("http://[::1", UrlError::InvalidHost(HostError::InvalidIpv6)),
            (
                "http://[::1]x",
                UrlError::InvalidHost(HostError::InvalidIpv6),
            ),
            (
                "http://[nope]:80",
                UrlError::InvalidHost(HostError::InvalidIpv6),
            ),
            (
                "http://pro_xy!",
                UrlError::InvalidHost(HostError::InvalidCharacter),
            ),
            ("http://a..b", UrlError::InvalidHost(HostError::EmptyLabel)),
            (
                "http://300.1.1.1",
                UrlError::InvalidHost(HostError::InvalidIpv4),
            ),
        ] {
            assert_eq!(ProxyUrl::parse(input), Err(error), "{input:?}");
        }
    }

    #[test]
    fn display_and_debug_show_no_credentials() {
        let u = url("socks5h://alice:hunter2@[::1]:1081");
        assert_eq!(u.to_string(), "socks5h://[::1]:1081");
        let debug = format!("{u:?} {:?} {:#?}", u.credentials(), u);
        for secret in ["alice", "hunter2"] {
            assert!(!debug.contains(secret), "{debug}");
        }
        assert!(
            debug.contains("Socks5h") && debug.contains("1081"),
            "{debug}"
        );
        assert_eq!(
            format!("{:?}", Credentials::new("alice", "hunter2")),
            r#"Credentials { username: "<redacted>", password: "<redacted>" }"#
        );
        assert_eq!(url("http://proxy").to_string(), "http://proxy:80");
    }

    #[test]
    fn errors_never_repeat_the_input() {
        // Typos that put a password where an error could report it.
        for input in [
            "http://alice:hunter2/x@proxy",
            "http://alice:hunter2?@proxy",
            "http://alice:hunter2#@proxy",
            "alice:hunter2:proxy",
            "http://alice:hunter2@proxy:hunter2",
            "http://alice:hunter2 @proxy",
            "http://alice:hunter2%@proxy",
            "http://alice:hunter2@[hunter2]",
            "http://alice@hunter2..x",
            "alice:hunter2!@proxy:x",
        ] {
            let e = ProxyUrl::parse(input).expect_err(input);
            let text = format!("{e} {e:?}");
            assert!(!text.contains("hunter2"), "{input}: {text}");
        }
    }
}
