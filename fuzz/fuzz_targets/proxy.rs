//! The proxy tunnels and settings of `ws_proto::proxy` on arbitrary input.
//!
//! Input: `[mode] [chunking] bytes...`.
//! - `mode % 4 == 0`: `HttpConnect` (with credentials when bit 2 is set)
//!   reads `bytes` as the proxy's answer; `== 1`: `Socks5` does (a domain,
//!   IPv4 or IPv6 target by bits 3-4, credentials by bit 2); then EOF.
//!   `chunking`: 0 = all at once, else reads of `chunking` bytes at most
//!   (varying, seeded by it).
//! - `== 2`: `ProxyUrl::parse(bytes)`; `== 3`: `NoProxy::parse` and
//!   `matches` against hosts taken from the input.
//!
//! Checks: nothing panics; the outcome (established with the same leftover
//! bytes, or the same error) does not depend on how the answer is split,
//! except that a read holding the answer to a request not written yet is
//! `AnsweredEarly` (never with one byte a read);
//! leftover bytes are exactly the bytes after the answer (a suffix of the
//! input); errors are sticky (the same error again); `poll_transmit` is
//! empty once established or failed; no message or `Debug` output holds
//! the credentials; a parsed URL prints without user information and
//! parses back to itself (without credentials); `no_proxy` matching
//! ignores case.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ws_proto::proxy::{
    Credentials, HttpConnect, NoProxy, Progress, ProxyError, ProxyUrl, Socks5, Socks5Target, Tunnel,
};

const USER: &str = "fuzz-user-zq";
const PASSWORD: &str = "fuzz-secret-xq";

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 | 1 => tunnels(mode, rest),
        2 => url(rest),
        _ => no_proxy(rest),
    }
});

fn new_tunnel(mode: u8) -> Tunnel {
    let credentials = Credentials::new(USER, PASSWORD);
    let credentials = (mode & 4 != 0).then_some(&credentials);
    if mode % 4 == 0 {
        HttpConnect::new("target.example", 443, credentials)
            .expect("a valid target")
            .into()
    } else {
        let target = match (mode >> 3) & 3 {
            0 => Socks5Target::domain("target.example", 443),
            1 => Socks5Target::Addr("10.1.2.3:443".parse().expect("address")),
            _ => Socks5Target::Addr("[2001:db8::1]:443".parse().expect("address")),
        };
        Socks5::new(target, credentials)
            .expect("a valid target")
            .into()
    }
}

/// What a tunnel made of the input: the leftover bytes, or the error.
type Outcome = Result<Option<Vec<u8>>, ProxyError>;

/// Feeds `answer` to a new tunnel in reads of at most `chunk` bytes (0:
/// all at once), writing its output in between, then EOF.
fn drive(mode: u8, answer: &[u8], chunking: u8) -> Outcome {
    let mut tunnel = new_tunnel(mode);
    let mut seed = u32::from(chunking) | 1;
    let mut rest = answer;
    loop {
        while let Some(bytes) = tunnel.poll_transmit() {
            let n = bytes.len();
            assert!(n > 0, "an empty transmit");
            tunnel.advance_transmit(n);
        }
        if rest.is_empty() {
            return match tunnel.receive_eof() {
                Ok(()) => Ok(None),
                Err(e) => Err(sticky(&mut tunnel, e, answer)),
            };
        }
        let take = if chunking == 0 {
            rest.len()
        } else {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            1 + (seed >> 16) as usize % usize::from(chunking)
        };
        let (now, later) = rest.split_at(take.min(rest.len()));
        rest = later;
        match tunnel.receive(now) {
            Ok(Progress::NeedMore) => {}
            Ok(Progress::Established { mut leftover }) => {
                assert!(tunnel.is_established());
                assert!(
                    tunnel.poll_transmit().is_none(),
                    "output after the tunnel opened"
                );
                leftover.extend_from_slice(rest);
                return Ok(Some(leftover));
            }
            Err(e) => return Err(sticky(&mut tunnel, e, answer)),
        }
    }
}

/// Checks that a failed tunnel fails again the same way, sends nothing
/// more, and never names the credentials (unless the proxy's own answer,
/// quoted in the error, holds them).
fn sticky(tunnel: &mut Tunnel, error: ProxyError, answer: &[u8]) -> ProxyError {
    assert_eq!(
        tunnel.receive(b"more").err(),
        Some(error.clone()),
        "not sticky"
    );
    assert!(tunnel.poll_transmit().is_none(), "output after a failure");
    assert!(!tunnel.is_established());
    let quoted = |secret: &str| answer.windows(secret.len()).any(|w| w == secret.as_bytes());
    for text in [
        error.to_string(),
        format!("{error:?}"),
        format!("{tunnel:?}"),
    ] {
        for secret in [PASSWORD, USER] {
            assert!(
                quoted(secret) || !text.contains(secret),
                "credentials in {text}"
            );
        }
    }
    error
}

fn tunnels(mode: u8, rest: &[u8]) {
    let Some((&chunking, answer)) = rest.split_first() else {
        return;
    };
    // One byte a read, the request written before each: the driver that
    // never makes a proxy look early. Any other split gives the same
    // outcome, unless one of its reads held the answer to a request not
    // written yet (the proxy did not wait for it): that is an error.
    let canonical = drive(mode, answer, 1);
    let split = drive(mode, answer, chunking);
    if !matches!(split, Err(ProxyError::AnsweredEarly { .. })) {
        assert_eq!(
            canonical, split,
            "the outcome depends on how the answer is split"
        );
    }
    assert!(
        !matches!(canonical, Err(ProxyError::AnsweredEarly { .. })),
        "early with a byte a read"
    );
    if let Ok(Some(leftover)) = &canonical {
        assert!(
            answer.ends_with(leftover),
            "leftover bytes not from the input's end"
        );
    }
}

fn url(rest: &[u8]) {
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let Ok(url) = ProxyUrl::parse(text) else {
        return;
    };
    // No user information in what is shown: the credentials stay out.
    let shown = url.to_string();
    assert!(!shown.contains('@'), "user information in {shown:?}");
    assert!(
        !format!("{url:?}").contains('@'),
        "user information in Debug"
    );
    let again = ProxyUrl::parse(&shown).unwrap_or_else(|e| panic!("{shown:?} does not parse: {e}"));
    assert_eq!(again, url.clone().with_credentials(None), "{shown:?}");
}

fn no_proxy(rest: &[u8]) {
    let text = String::from_utf8_lossy(rest);
    let (list, hosts) = text.split_once('\n').unwrap_or((&text, "a.example"));
    let list = NoProxy::parse(list);
    for host in hosts.split('\n').take(8) {
        let (host, port) = match host.rsplit_once('|') {
            Some((h, p)) => (h, p.parse().unwrap_or(443)),
            None => (host, 443),
        };
        let matched = list.matches(host, port);
        // Matching ignores case.
        assert_eq!(
            matched,
            list.matches(&host.to_ascii_uppercase(), port),
            "{host:?}"
        );
    }
}
