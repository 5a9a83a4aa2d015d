//! The host rule: what a proxy's host and a tunnel's target may be.
//!
//! One rule for the three places a host name is read (a proxy URL, an HTTP
//! CONNECT target, a SOCKS5 domain target), so that a name accepted in one
//! is accepted in all, and a name that could smuggle bytes into a request
//! line (CR, LF, space, `/`, `@`) is refused before anything is sent.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The longest host name accepted, in bytes: the length field of a SOCKS5
/// domain is one byte (RFC 1928 section 5), and DNS names are shorter still.
pub const MAX_HOST_NAME: usize = 255;

/// A host: a name to resolve, or an IP address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Host {
    /// A DNS name, as given (letters, digits, `-`, `.`, `_`).
    Name(String),
    /// An IPv4 or IPv6 address.
    Ip(IpAddr),
}

impl Host {
    /// Reads a host: an IPv4 address, an IPv6 address with or without
    /// brackets (`[::1]` or `::1`), or a DNS name.
    ///
    /// Names are limited to letters, digits, `-`, `.` and `_` (an
    /// internationalized name must be given in its `xn--` form), at most
    /// [`MAX_HOST_NAME`] bytes, with no empty label but an optional final
    /// dot. A name whose last label is a number is refused: it is no DNS
    /// name, and reading `127.1` or `0x7f.1` as an address is a guess
    /// (WHATWG and curl guess differently from `inet_aton`).
    pub fn parse(s: &str) -> Result<Self, HostError> {
        if let Some(inner) = s.strip_prefix('[') {
            let inner = inner.strip_suffix(']').ok_or(HostError::InvalidIpv6)?;
            return inner
                .parse::<Ipv6Addr>()
                .map(|ip| Self::Ip(IpAddr::V6(ip)))
                .map_err(|_| HostError::InvalidIpv6);
        }
        // Only what an IPv6 address is made of: a ':' among other
        // characters is an invalid name, not an invalid address.
        if s.contains(':')
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return s
                .parse::<Ipv6Addr>()
                .map(|ip| Self::Ip(IpAddr::V6(ip)))
                .map_err(|_| HostError::InvalidIpv6);
        }
        if let Ok(ip) = s.parse::<Ipv4Addr>() {
            return Ok(Self::Ip(IpAddr::V4(ip)));
        }
        check_name(s)?;
        Ok(Self::Name(s.to_owned()))
    }

    /// The host as `host:port`, an IPv6 address in brackets: the form of an
    /// HTTP authority (RFC 9110 section 4.2).
    pub(crate) fn authority(&self, port: u16) -> String {
        match self {
            Self::Ip(IpAddr::V6(ip)) => format!("[{ip}]:{port}"),
            Self::Ip(IpAddr::V4(ip)) => format!("{ip}:{port}"),
            Self::Name(name) => format!("{name}:{port}"),
        }
    }
}

impl fmt::Display for Host {
    /// The name, or the address (an IPv6 address without brackets, as
    /// `IpAddr` prints it and `ToSocketAddrs` reads it with a port).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(name) => f.write_str(name),
            Self::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// Checks a DNS name against the rule of [`Host::parse`].
fn check_name(s: &str) -> Result<(), HostError> {
    if s.is_empty() {
        return Err(HostError::Empty);
    }
    if s.len() > MAX_HOST_NAME {
        return Err(HostError::TooLong { len: s.len() });
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
    {
        return Err(HostError::InvalidCharacter);
    }
    let labels = s.strip_suffix('.').unwrap_or(s);
    if labels.split('.').any(str::is_empty) {
        return Err(HostError::EmptyLabel);
    }
    let last = labels.rsplit('.').next().unwrap_or(labels);
    if last.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HostError::InvalidIpv4);
    }
    // `0x7f` is the hexadecimal number some resolvers take as an address.
    if let Some(hex) = last.strip_prefix("0x").or_else(|| last.strip_prefix("0X")) {
        if hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(HostError::InvalidIpv4);
        }
    }
    Ok(())
}

/// Why a host was refused. The message never repeats the host itself, so
/// that nothing pasted by mistake (a password) reaches a log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostError {
    /// The host is empty.
    Empty,
    /// The name is longer than [`MAX_HOST_NAME`] bytes.
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The name has a character other than a letter, digit, `-`, `.` or `_`
    /// (whitespace, control characters, `@`, `/`, non-ASCII...).
    InvalidCharacter,
    /// The name has an empty label (`a..b`, `.a`).
    EmptyLabel,
    /// The name ends in a number but is not a dotted-quad IPv4 address.
    InvalidIpv4,
    /// A bracketed or colon-separated host that is not an IPv6 address
    /// (zone identifiers such as `%25eth0` are not supported).
    InvalidIpv6,
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("the host is empty"),
            Self::TooLong { len } => {
                write!(
                    f,
                    "the host name is {len} bytes long (at most {MAX_HOST_NAME})"
                )
            }
            Self::InvalidCharacter => f.write_str(
                "the host name has a character other than a letter, digit, '-', '.' or '_'",
            ),
            Self::EmptyLabel => f.write_str("the host name has an empty label"),
            Self::InvalidIpv4 => {
                f.write_str("the host name ends in a number but is not an IPv4 address")
            }
            Self::InvalidIpv6 => f.write_str("invalid IPv6 address"),
        }
    }
}

impl std::error::Error for HostError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_names() {
        assert_eq!(
            Host::parse("127.0.0.1"),
            Ok(Host::Ip("127.0.0.1".parse().unwrap()))
        );
        assert_eq!(Host::parse("::1"), Ok(Host::Ip("::1".parse().unwrap())));
        assert_eq!(Host::parse("[::1]"), Ok(Host::Ip("::1".parse().unwrap())));
        assert_eq!(
            Host::parse("Proxy-1.example_corp.com."),
            Ok(Host::Name("Proxy-1.example_corp.com.".into()))
        );
        assert_eq!(Host::parse("localhost"), Ok(Host::Name("localhost".into())));
    }

    #[test]
    fn refused_hosts() {
        for (host, error) in [
            ("", HostError::Empty),
            ("a b", HostError::InvalidCharacter),
            ("a\r\nX-Evil: 1", HostError::InvalidCharacter),
            ("a/b", HostError::InvalidCharacter),
            ("user@host", HostError::InvalidCharacter),
            ("h\u{e9}te.fr", HostError::InvalidCharacter),
            ("a..b", HostError::EmptyLabel),
            (".a", HostError::EmptyLabel),
            (".", HostError::EmptyLabel),
            ("127.1", HostError::InvalidIpv4),
            ("999.1.1.1", HostError::InvalidIpv4),
            ("01.02.03.04", HostError::InvalidIpv4),
            ("0x7f.1", HostError::InvalidIpv4),
            ("a.0x7F", HostError::InvalidIpv4),
            ("[::1", HostError::InvalidIpv6),
            ("[127.0.0.1]", HostError::InvalidIpv6),
            ("[fe80::1%25eth0]", HostError::InvalidIpv6),
            ("::12345", HostError::InvalidIpv6),
            ("host:80", HostError::InvalidCharacter),
            ("::1%eth0", HostError::InvalidCharacter),
            ("1:2:3:4:5:6:7:8:9", HostError::InvalidIpv6),
        ] {
            assert_eq!(Host::parse(host), Err(error), "{host:?}");
        }
        let long = "a".repeat(MAX_HOST_NAME + 1);
        assert_eq!(
            Host::parse(&long),
            Err(HostError::TooLong {
                len: MAX_HOST_NAME + 1
            })
        );
        assert!(Host::parse(&"a".repeat(MAX_HOST_NAME)).is_ok());
    }

    #[test]
    fn authority_brackets_ipv6() {
        assert_eq!(Host::parse("::1").unwrap().authority(443), "[::1]:443");
        assert_eq!(
            Host::parse("10.0.0.1").unwrap().authority(80),
            "10.0.0.1:80"
        );
        assert_eq!(Host::parse("a.b").unwrap().authority(8080), "a.b:8080");
        assert_eq!(Host::parse("[::1]").unwrap().to_string(), "::1");
    }
}
