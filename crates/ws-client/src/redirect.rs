//! Following a redirect answer to the opening handshake
//! ([`Builder::follow_redirects`](crate::Builder::follow_redirects)): where
//! its `Location` leads, and what may be carried there.

use url::Url;
use ws_proto::Rejection;

use crate::error::Error;
use crate::target::without_credentials;

/// How redirects are followed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RedirectPolicy {
    /// How many in a row, at most (0: none are followed).
    pub(crate) max: u32,
    /// A redirect from `wss://` to `ws://` is followed too.
    pub(crate) allow_downgrade: bool,
}

/// Where a redirect leads.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Redirect {
    /// The URL to connect to (with the credentials that may go there).
    pub(crate) url: String,
    /// The host or port differs: cookies and `Authorization` stay behind.
    pub(crate) other_origin: bool,
}

/// Whether `status` is a redirect this client follows (RFC 9110 section
/// 15.4: 301, 302, 303, 307, 308; 300 and 305 ask for a choice or a proxy).
pub(crate) fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// Where `rejection`, a redirect answer to a handshake for `current`,
/// leads: its `Location`, relative to `current` or absolute, with an
/// `http(s)` scheme taken as `ws(s)`. Fails on a missing or unusable
/// `Location`, and on a downgrade from `wss` to `ws` unless allowed.
pub(crate) fn follow(
    current: &str,
    rejection: &Rejection,
    allow_downgrade: bool,
) -> Result<Redirect, Error> {
    let status = rejection.status;
    let invalid = |location: &str, reason: &str| Error::InvalidRedirect {
        status,
        location: without_credentials(location).into_owned(),
        reason: reason.to_owned(),
    };
    let location = rejection
        .headers
        .get("location")
        .ok_or_else(|| invalid("", "no Location header"))?;
    let location = std::str::from_utf8(location).map_err(|_| invalid("", "not UTF-8"))?;
    let base = Url::parse(current).map_err(|_| invalid(location, "the current URL"))?;
    let mut next = base
        .join(location.trim())
        .map_err(|e| invalid(location, &format!("not a URL: {e}")))?;
    let scheme = match next.scheme() {
        "ws" | "http" => "ws",
        "wss" | "https" => "wss",
        _ => return Err(invalid(location, "not a ws, wss, http or https URL")),
    };
    if base.scheme() == "wss" && scheme == "ws" && !allow_downgrade {
        return Err(invalid(location, "a downgrade from wss to ws"));
    }
    if next.scheme() != scheme {
        // `Url` keeps a special scheme from becoming a non-special one:
        // the string is rebuilt instead.
        let rest = &next.as_str()[next.scheme().len()..];
        next = Url::parse(&format!("{scheme}{rest}")).map_err(|_| invalid(location, "scheme"))?;
    }
    next.set_fragment(None);
    let other_origin = next.host_str() != base.host_str()
        || next.port_or_known_default() != base.port_or_known_default()
        || (base.scheme() == "wss" && scheme == "ws");
    if other_origin {
        // Credentials go only where they were meant for, and never in clear.
        let _ = next.set_username("");
        let _ = next.set_password(None);
    }
    Ok(Redirect {
        url: next.into(),
        other_origin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, location: Option<&str>) -> Rejection {
        let headers = location.map(|l| ("Location", l)).into_iter().collect();
        Rejection {
            status,
            reason: String::new(),
            headers,
            body: Vec::new(),
        }
    }

    fn to(current: &str, location: &str) -> Result<Redirect, Error> {
        follow(current, &answer(302, Some(location)), false)
    }

    #[test]
    fn only_the_redirect_statuses_are_followed() {
        let followed: Vec<u16> = (300..=308).filter(|&s| is_redirect(s)).collect();
        assert_eq!(followed, [301, 302, 303, 307, 308]);
    }

    #[test]
    fn relative_and_absolute_locations() {
        let r = to("ws://a.test/feed?x=1", "/v2/feed").unwrap();
        assert_eq!(r.url, "ws://a.test/v2/feed");
        assert!(!r.other_origin);
        let r = to("ws://a.test/feed/", "live").unwrap();
        assert_eq!(r.url, "ws://a.test/feed/live");
        let r = to("ws://a.test/", "https://b.test:8443/x#frag").unwrap();
        assert_eq!(r.url, "wss://b.test:8443/x");
        assert!(r.other_origin);
        let r = to("wss://a.test/", "http://a.test/").unwrap_err();
        assert!(r.to_string().contains("downgrade"), "{r}");
        let allowed = follow("wss://a.test/", &answer(301, Some("ws://a.test/")), true).unwrap();
        assert_eq!(allowed.url, "ws://a.test/");
        assert!(allowed.other_origin, "a downgrade keeps no credentials");
    }

    #[test]
    fn credentials_stay_with_their_host() {
        let r = to("ws://u:p@a.test/", "/next").unwrap();
        assert_eq!(r.url, "ws://u:p@a.test/next");
        let r = to("ws://u:p@a.test/", "ws://b.test/next").unwrap();
        assert_eq!(r.url, "ws://b.test/next");
        let r = to("ws://u:p@a.test/", "ws://a.test:81/next").unwrap();
        assert_eq!(r.url, "ws://a.test:81/next");
        assert!(r.other_origin);
    }

    #[test]
    fn unusable_locations_are_errors() {
        for (location, why) in [
            ("ftp://a.test/", "not a ws"),
            ("http://[::1", "not a URL"),
            ("mailto:x@a.test", "not a ws"),
        ] {
            let e = to("ws://a.test/", location).unwrap_err();
            assert!(e.to_string().contains(why), "{location}: {e}");
            assert_eq!(e.code(), 33);
        }
        let e = follow("ws://a.test/", &answer(307, None), false).unwrap_err();
        assert!(e.to_string().contains("no Location"), "{e}");
    }
}
