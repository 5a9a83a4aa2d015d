//! Choosing a proxy from environment variables, the way curl does.
//!
//! This module reads no environment: [`ProxyEnv::from_lookup`] takes a
//! function from a variable's name to its value, so that a driver passes
//! `|name| std::env::var(name).ok()` and a test passes a table.
//!
//! curl's rules (`lib/url.c`, `lib/noproxy.c`), kept here:
//! - `wss://` uses `https_proxy`, then `HTTPS_PROXY`; `ws://` uses
//!   `http_proxy`, in lowercase only; either falls back to `all_proxy`,
//!   then `ALL_PROXY`. The first variable set (and not empty) wins, even
//!   when its URL is invalid: a typo must not send traffic through
//!   another proxy, or none.
//! - `HTTP_PROXY` in capitals is never read: a CGI program receives each
//!   request header `X` as the variable `HTTP_X`, so a request carrying
//!   `Proxy: evil.example` sets `HTTP_PROXY` for it, and every outgoing
//!   HTTP request would go through the attacker's proxy ("httpoxy",
//!   CVE-2016-5385). `HTTPS_PROXY` and `ALL_PROXY` cannot be set that way.
//! - `no_proxy` (or `NO_PROXY`) lists hosts reached directly; see
//!   [`NoProxy`].

use std::net::IpAddr;

use super::ProxyError;
use super::url::{ProxyUrl, UrlError, parse_port};

/// The proxy settings of an environment, read once.
///
/// ```
/// use ws_proto::proxy::ProxyEnv;
///
/// let vars = [("https_proxy", "http://proxy:3128"), ("no_proxy", "localhost,.internal")];
/// let env = ProxyEnv::from_lookup(|name| {
///     vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string())
/// });
/// assert_eq!(env.proxy_for(true, "example.com", 443)?.map(|p| p.to_string()),
///            Some("http://proxy:3128".into()));
/// assert_eq!(env.proxy_for(true, "db.internal", 443)?, None);
/// assert_eq!(env.proxy_for(false, "example.com", 80)?, None); // no http_proxy
/// # Ok::<(), ws_proto::proxy::ProxyError>(())
/// ```
///
/// A driver reads the real environment with
/// `ProxyEnv::from_lookup(|name| std::env::var(name).ok())`.
#[derive(Clone, Debug)]
pub struct ProxyEnv {
    https: Option<Setting>,
    http: Option<Setting>,
    all: Option<Setting>,
    no_proxy: NoProxy,
}

/// A proxy variable that was set: its name, for errors, and its URL.
#[derive(Clone, Debug)]
struct Setting {
    variable: &'static str,
    url: Result<ProxyUrl, UrlError>,
}

impl ProxyEnv {
    /// Reads `https_proxy`, `HTTPS_PROXY`, `http_proxy`, `all_proxy`,
    /// `ALL_PROXY`, `no_proxy` and `NO_PROXY` through `lookup` (and no
    /// other name). Empty values count as unset.
    ///
    /// An invalid proxy URL is not an error here but when it is chosen,
    /// by [`proxy_for`](Self::proxy_for): a broken `https_proxy` does not
    /// stop `ws://` connections, nor those to `no_proxy` hosts.
    pub fn from_lookup<F>(mut lookup: F) -> Self
    where
        F: FnMut(&str) -> Option<String>,
    {
        let mut setting = |names: &[&'static str]| {
            first_set(&mut lookup, names).map(|(variable, value)| Setting {
                variable,
                url: ProxyUrl::parse(&value),
            })
        };
        let https = setting(&["https_proxy", "HTTPS_PROXY"]);
        let http = setting(&["http_proxy"]);
        let all = setting(&["all_proxy", "ALL_PROXY"]);
        let no_proxy = first_set(&mut lookup, &["no_proxy", "NO_PROXY"])
            .map(|(_, value)| NoProxy::parse(&value))
            .unwrap_or_default();
        Self {
            https,
            http,
            all,
            no_proxy,
        }
    }

    /// The proxy for a connection to `host:port` (`secure`: `wss://`), or
    /// `None` to connect directly (no variable set, or `no_proxy` lists the
    /// host).
    ///
    /// `host` is a name or an IP address, an IPv6 address with or without
    /// brackets. Fails with [`ProxyError::InvalidUrl`], naming the
    /// variable, when the chosen variable holds an invalid URL.
    pub fn proxy_for(
        &self,
        secure: bool,
        host: &str,
        port: u16,
    ) -> Result<Option<&ProxyUrl>, ProxyError> {
        if self.no_proxy.matches(host, port) {
            return Ok(None);
        }
        let scheme_proxy = if secure { &self.https } else { &self.http };
        match scheme_proxy.as_ref().or(self.all.as_ref()) {
            None => Ok(None),
            Some(Setting { url: Ok(url), .. }) => Ok(Some(url)),
            Some(Setting {
                variable,
                url: Err(error),
            }) => Err(ProxyError::InvalidUrl {
                variable: Some(variable),
                error: error.clone(),
            }),
        }
    }

    /// The hosts reached without a proxy.
    pub fn no_proxy(&self) -> &NoProxy {
        &self.no_proxy
    }
}

/// The first of `names` with a non-empty value, and that value.
fn first_set<F>(lookup: &mut F, names: &[&'static str]) -> Option<(&'static str, String)>
where
    F: FnMut(&str) -> Option<String>,
{
    names.iter().find_map(|&name| {
        let value = lookup(name).filter(|v| !v.is_empty())?;
        Some((name, value))
    })
}

/// A `no_proxy` list: the hosts to reach without a proxy.
///
/// Entries are separated by commas (and whitespace), and compared without
/// regard to case:
/// - `*` matches every host;
/// - a name (`example.com`, `.example.com` or `*.example.com`, all three
///   the same) matches itself and its subdomains, on a label boundary:
///   `a.example.com` but not `badexample.com`;
/// - an IP address matches itself; with a prefix length (`10.0.0.0/8`,
///   `fd00::/8`), its network (curl 7.86). An IPv6 address may be in
///   brackets, and must be for a port;
/// - `:port` after a name, an IPv4 address or a bracketed IPv6 address
///   limits the entry to that port (`example.com:8080`, `[::1]:443`).
///
/// A name never matches an IP address or the reverse: no resolution takes
/// place. Entries that cannot be read are ignored, as curl does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NoProxy {
    entries: Vec<Entry>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    All,
    /// In lowercase, without a leading or trailing dot.
    Name {
        name: String,
        port: Option<u16>,
    },
    Net {
        addr: IpAddr,
        prefix: u8,
        port: Option<u16>,
    },
}

impl NoProxy {
    /// Reads a `no_proxy` list.
    pub fn parse(list: &str) -> Self {
        let entries = list
            .split(|c: char| c == ',' || c.is_ascii_whitespace())
            .filter(|e| !e.is_empty())
            .filter_map(parse_entry)
            .collect();
        Self { entries }
    }

    /// Whether a connection to `host:port` goes without a proxy. `host` is a
    /// name or an IP address, an IPv6 address with or without brackets; a
    /// final dot on a name is ignored.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        // `::ffff:10.0.0.1` is 10.0.0.1.
        let ip = host.parse::<IpAddr>().ok().map(|ip| ip.to_canonical());
        let name = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        self.entries.iter().any(|entry| match entry {
            Entry::All => true,
            Entry::Name { name: n, port: p } => {
                p.is_none_or(|p| p == port) && ip.is_none() && is_same_or_subdomain(&name, n)
            }
            Entry::Net {
                addr,
                prefix,
                port: p,
            } => p.is_none_or(|p| p == port) && ip.is_some_and(|ip| in_net(ip, *addr, *prefix)),
        })
    }

    /// Whether the list is empty (every host goes through the proxy).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn parse_entry(entry: &str) -> Option<Entry> {
    if entry == "*" {
        return Some(Entry::All);
    }
    if let Some(rest) = entry.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            after => Some(parse_port(after.strip_prefix(':')?).ok()?),
        };
        let (addr, prefix) = parse_net(inside)?;
        return Some(Entry::Net { addr, prefix, port });
    }
    // An address, a network, or an IPv6 address without brackets (which
    // then has no port: its last group could be one).
    if let Some((addr, prefix)) = parse_net(entry) {
        return Some(Entry::Net {
            addr,
            prefix,
            port: None,
        });
    }
    let (host, port) = match entry.split_once(':') {
        Some((host, port)) => (host, Some(parse_port(port).ok()?)),
        None => (entry, None),
    };
    if let Ok(addr) = host.parse::<IpAddr>() {
        return Some(Entry::Net {
            addr,
            prefix: full_prefix(addr),
            port,
        });
    }
    // `.example.com` and `*.example.com` mean what `example.com` means.
    let name = host.strip_prefix('*').unwrap_or(host);
    let name = name.strip_prefix('.').unwrap_or(name);
    let name = name.strip_suffix('.').unwrap_or(name);
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    valid.then(|| Entry::Name {
        name: name.to_ascii_lowercase(),
        port,
    })
}

/// `addr` or `addr/prefix`, the prefix no longer than the address.
fn parse_net(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, prefix) = match s.split_once('/') {
        Some((addr, prefix)) => (addr.parse::<IpAddr>().ok()?, Some(prefix)),
        None => (s.parse::<IpAddr>().ok()?, None),
    };
    let prefix = match prefix {
        None => full_prefix(addr),
        // Digits only: `u8::from_str` would take "+8".
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
        Some(_) => return None,
    };
    (prefix <= full_prefix(addr)).then_some((addr, prefix))
}

fn full_prefix(addr: IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

fn in_net(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// `host` is `domain` or ends with `.domain`.
fn is_same_or_subdomain(host: &str, domain: &str) -> bool {
    host.strip_suffix(domain)
        .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(vars: &[(&str, &str)]) -> ProxyEnv {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        ProxyEnv::from_lookup(|name| vars.get(name).cloned())
    }

    /// The proxy chosen, as text.
    fn chosen(env: &ProxyEnv, secure: bool, host: &str) -> Option<String> {
        env.proxy_for(secure, host, if secure { 443 } else { 80 })
            .unwrap()
            .map(ToString::to_string)
    }

    #[test]
    fn secure_connections_use_https_proxy() {
        let e = env(&[
            ("https_proxy", "http://lower:1"),
            ("HTTPS_PROXY", "http://upper:2"),
        ]);
        assert_eq!(chosen(&e, true, "h").as_deref(), Some("http://lower:1"));
        assert_eq!(chosen(&e, false, "h"), None);
        let e = env(&[("HTTPS_PROXY", "http://upper:2")]);
        assert_eq!(chosen(&e, true, "h").as_deref(), Some("http://upper:2"));
        // Empty counts as unset.
        let e = env(&[("https_proxy", ""), ("HTTPS_PROXY", "socks5h://upper")]);
        assert_eq!(
            chosen(&e, true, "h").as_deref(),
            Some("socks5h://upper:1080")
        );
    }

    #[test]
    fn plain_connections_use_lowercase_http_proxy_only() {
        let e = env(&[("http_proxy", "http://lower:1")]);
        assert_eq!(chosen(&e, false, "h").as_deref(), Some("http://lower:1"));
        assert_eq!(chosen(&e, true, "h"), None);
        // httpoxy: a CGI request header `Proxy:` sets HTTP_PROXY.
        let e = env(&[("HTTP_PROXY", "http://evil:1")]);
        assert_eq!(chosen(&e, false, "h"), None);
    }

    #[test]
    fn all_proxy_is_the_fallback() {
        let e = env(&[
            ("all_proxy", "socks5://all:1"),
            ("ALL_PROXY", "http://ALL:2"),
        ]);
        assert_eq!(chosen(&e, false, "h").as_deref(), Some("socks5://all:1"));
        assert_eq!(chosen(&e, true, "h").as_deref(), Some("socks5://all:1"));
        let e = env(&[("ALL_PROXY", "http://all:2"), ("https_proxy", "http://s:3")]);
        assert_eq!(chosen(&e, false, "h").as_deref(), Some("http://all:2"));
        assert_eq!(chosen(&e, true, "h").as_deref(), Some("http://s:3"));
        let e = env(&[("all_proxy", ""), ("http_proxy", "")]);
        assert_eq!(chosen(&e, false, "h"), None);
    }

    #[test]
    fn only_the_documented_names_are_looked_up() {
        let mut names = Vec::new();
        let _ = ProxyEnv::from_lookup(|name| {
            names.push(name.to_owned());
            None
        });
        assert_eq!(
            names,
            [
                "https_proxy",
                "HTTPS_PROXY",
                "http_proxy",
                "all_proxy",
                "ALL_PROXY",
                "no_proxy",
                "NO_PROXY"
            ]
        );
    }

    #[test]
    fn an_invalid_url_is_an_error_when_chosen() {
        let e = env(&[
            ("https_proxy", "http://alice:hunter2@proxy:99999"),
            ("all_proxy", "http://fallback"),
            ("no_proxy", "internal"),
        ]);
        let error = e.proxy_for(true, "example.com", 443).unwrap_err();
        assert_eq!(
            error,
            ProxyError::InvalidUrl {
                variable: Some("https_proxy"),
                error: UrlError::InvalidPort
            }
        );
        assert!(!error.caused_by_proxy());
        let text = format!("{error} {error:?} {e:?}");
        assert!(text.contains("https_proxy"), "{text}");
        assert!(
            !text.contains("alice") && !text.contains("hunter2"),
            "{text}"
        );
        // Not for ws:// (all_proxy), nor for a no_proxy host.
        assert_eq!(
            chosen(&e, false, "h").as_deref(),
            Some("http://fallback:80")
        );
        assert_eq!(e.proxy_for(true, "a.internal", 443), Ok(None));
    }

    #[test]
    fn no_proxy_and_its_uppercase() {
        let e = env(&[("all_proxy", "http://p"), ("NO_PROXY", "example.com")]);
        assert_eq!(chosen(&e, true, "example.com"), None);
        assert_eq!(
            chosen(&e, true, "other.com").as_deref(),
            Some("http://p:80")
        );
        let e = env(&[
            ("all_proxy", "http://p"),
            ("no_proxy", "a.com"),
            ("NO_PROXY", "b.com"),
        ]);
        assert_eq!(chosen(&e, true, "b.com").as_deref(), Some("http://p:80"));
        assert_eq!(chosen(&e, true, "a.com"), None);
    }

    fn no(list: &str, host: &str, port: u16) -> bool {
        NoProxy::parse(list).matches(host, port)
    }

    #[test]
    fn star_matches_everything() {
        assert!(no("*", "anything.example", 1));
        assert!(no("a.com, *", "10.0.0.1", 1));
        assert!(no("*", "::1", 1));
        assert!(!no("*.", "x", 1));
    }

    #[test]
    fn names_match_on_label_boundaries() {
        for list in [
            "example.com",
            ".example.com",
            "*.example.com",
            "EXAMPLE.com.",
        ] {
            assert!(no(list, "example.com", 443), "{list}");
            assert!(no(list, "a.example.com", 443), "{list}");
            assert!(no(list, "A.B.Example.COM", 443), "{list}");
            assert!(no(list, "a.example.com.", 443), "{list}");
            assert!(!no(list, "badexample.com", 443), "{list}");
            assert!(!no(list, "example.com.evil", 443), "{list}");
            assert!(!no(list, "com", 443), "{list}");
        }
        assert!(no("localhost", "localhost", 1));
        assert!(!no("localhost", "127.0.0.1", 1), "no resolution");
    }

    #[test]
    fn separators_and_blanks() {
        let list = " a.com ,b.com,, \tc.com d.com,";
        for host in ["a.com", "b.com", "c.com", "d.com"] {
            assert!(no(list, host, 1), "{host}");
        }
        assert!(!no(list, "e.com", 1));
        assert!(NoProxy::parse(" , ").is_empty());
        assert!(!no("", "a.com", 1));
    }

    #[test]
    fn ip_addresses_match_exactly() {
        assert!(no("192.168.1.10", "192.168.1.10", 80));
        assert!(!no("192.168.1.10", "192.168.1.100", 80));
        assert!(!no("192.168.1.10", "192.168.1.1", 80));
        for list in ["::1", "[::1]", "0:0:0:0:0:0:0:1"] {
            assert!(no(list, "::1", 80), "{list}");
            assert!(no(list, "[::1]", 80), "{list}");
            assert!(!no(list, "::2", 80), "{list}");
        }
        assert!(no("10.0.0.1", "::ffff:10.0.0.1", 80));
    }

    #[test]
    fn ports_restrict_entries() {
        assert!(no("example.com:8080", "example.com", 8080));
        assert!(no("example.com:8080", "a.example.com", 8080));
        assert!(!no("example.com:8080", "example.com", 443));
        assert!(no("10.0.0.1:443", "10.0.0.1", 443));
        assert!(!no("10.0.0.1:443", "10.0.0.1", 80));
        assert!(no("[::1]:443", "::1", 443));
        assert!(!no("[::1]:443", "[::1]", 80));
        assert!(no("[fd00::/8]:443", "fd12::1", 443));
        assert!(!no("[fd00::/8]:443", "fd12::1", 80));
    }

    #[test]
    fn cidr_networks() {
        assert!(no("10.0.0.0/8", "10.200.3.4", 1));
        assert!(!no("10.0.0.0/8", "11.0.0.1", 1));
        assert!(no("192.168.0.0/16", "192.168.255.255", 1));
        assert!(!no("192.168.0.0/16", "192.169.0.0", 1));
        assert!(no("10.1.2.3/8", "10.9.9.9", 1), "host bits ignored");
        assert!(no("0.0.0.0/0", "8.8.8.8", 1));
        assert!(!no("0.0.0.0/0", "::1", 1));
        assert!(no("::1/128", "::1", 1));
        assert!(!no("::1/128", "::2", 1));
        assert!(no("fe80::/10", "[fe80::1234]", 1));
        assert!(!no("fe80::/10", "fec0::1", 1));
        assert!(no("[2001:db8::/32]", "2001:db8:ffff::1", 1));
        assert!(no("::/0", "2001:db8::1", 1));
        assert!(
            !no("10.0.0.0/8", "ten.example", 1),
            "names are not addresses"
        );
    }

    #[test]
    fn unreadable_entries_are_ignored() {
        for list in [
            "10.0.0.0/33",
            "::1/129",
            "10.0.0.0/+8",
            "10.0.0.0/",
            "a.com:0",
            "a.com:99999",
            "a.com:x",
            "[::1]x",
            "[::1",
            "[nope]",
            "a/b",
            ".",
            "*.",
        ] {
            assert!(NoProxy::parse(list).is_empty(), "{list}");
        }
        // The rest of the list still counts.
        assert!(no("a.com:x, b.com", "b.com", 1));
    }
}
