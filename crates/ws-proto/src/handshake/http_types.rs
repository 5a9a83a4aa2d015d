//! Conversions from and to the `http` crate's types (the `http` feature),
//! for users who already hold an `http::Request` or a `HeaderMap` (hyper,
//! axum and tungstenite users do).

use http::header::{HeaderName, HeaderValue};

use super::{ClientRequest, Headers};
use crate::error::RequestError;

/// Headers of an `http::Request` that the handshake writes itself, with
/// values of its own (a fresh key, its extension offer, the URI's host):
/// ignored rather than refused, since tungstenite's `IntoClientRequest`
/// and similar builders put them in every request.
const WRITTEN_BY_THE_HANDSHAKE: &[&str] = &[
    "host",
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-extensions",
];

/// A `GET` request with an absolute `ws`, `wss`, `http` or `https` URI
/// (http means ws, https wss) becomes the same request: its host, port and
/// path with query; `Origin` and `Sec-WebSocket-Protocol` (a list, or
/// repeated) as [`ClientRequest::origin`] and [`ClientRequest::protocol`];
/// every other header as [`ClientRequest::header`], in order. `Host`,
/// `Upgrade`, `Connection`, `Sec-WebSocket-Key`, `Sec-WebSocket-Version`
/// and `Sec-WebSocket-Extensions` are ignored: the handshake writes them
/// (the extension offer from [`Config::deflate`](crate::Config::deflate)).
///
/// Fails on another method or URI, and on a header value that is not
/// visible ASCII text.
///
/// ```
/// let request = http::Request::get("wss://example.com:8443/feed?x=1")
///     .header("Sec-WebSocket-Protocol", "v2.feed, v1.feed")
///     .header("Authorization", "Bearer t")
///     .body(())
///     .unwrap();
/// let request = ws_proto::ClientRequest::try_from(&request).unwrap();
/// assert_eq!((request.host(), request.port()), ("example.com", 8443));
/// assert!(request.is_secure());
/// assert_eq!(request.resource(), "/feed?x=1");
/// assert_eq!(request.protocols(), ["v2.feed", "v1.feed"]);
/// ```
impl TryFrom<&http::Request<()>> for ClientRequest {
    type Error = RequestError;

    fn try_from(request: &http::Request<()>) -> Result<Self, Self::Error> {
        let invalid = |why: String| RequestError::InvalidHttpRequest(why);
        if request.method() != http::Method::GET {
            return Err(invalid(format!(
                "the method must be GET, not {}",
                request.method()
            )));
        }
        let uri = request.uri();
        let secure = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("ws") || s.eq_ignore_ascii_case("http") => false,
            Some(s) if s.eq_ignore_ascii_case("wss") || s.eq_ignore_ascii_case("https") => true,
            _ => {
                return Err(invalid(format!(
                    "the URI must be absolute with scheme ws, wss, http or https: {uri}"
                )));
            }
        };
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| invalid(format!("the URI has no host: {uri}")))?;
        let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
        let resource = uri.path_and_query().map_or("/", |p| p.as_str());
        let resource = if resource.is_empty() { "/" } else { resource };
        let mut out = ClientRequest::new(host, port, resource).secure(secure);
        for (name, value) in request.headers() {
            let name = name.as_str(); // lowercase, as `http` keeps names
            if WRITTEN_BY_THE_HANDSHAKE.contains(&name) {
                continue;
            }
            let value = value
                .to_str()
                .map_err(|_| RequestError::InvalidHeaderValue {
                    name: name.to_owned(),
                })?;
            out = match name {
                "origin" => out.origin(value),
                "sec-websocket-protocol" => value
                    .split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .fold(out, ClientRequest::protocol),
                _ => out.header(name, value),
            };
        }
        out.validate()?;
        Ok(out)
    }
}

/// See the conversion from `&http::Request<()>`.
impl TryFrom<http::Request<()>> for ClientRequest {
    type Error = RequestError;

    fn try_from(request: http::Request<()>) -> Result<Self, Self::Error> {
        Self::try_from(&request)
    }
}

/// The headers of a handshake answer as an `http::HeaderMap`, repeated
/// ones kept. Fails only on a name or value `http` does not accept, which
/// a head parsed by ws-proto cannot have.
impl TryFrom<&Headers> for http::HeaderMap {
    type Error = http::Error;

    fn try_from(headers: &Headers) -> Result<Self, Self::Error> {
        let mut map = http::HeaderMap::with_capacity(headers.len());
        for (name, value) in headers.iter() {
            map.append(
                HeaderName::from_bytes(name.as_bytes())?,
                HeaderValue::from_bytes(value)?,
            );
        }
        Ok(map)
    }
}

/// An `http::HeaderMap` as [`Headers`], repeated ones kept, names in the
/// lowercase `http` gives them.
impl From<&http::HeaderMap> for Headers {
    fn from(map: &http::HeaderMap) -> Self {
        map.iter()
            .map(|(name, value)| (name.as_str(), value.as_bytes()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(uri: &str) -> http::request::Builder {
        http::Request::get(uri)
    }

    #[test]
    fn a_tungstenite_style_request_keeps_what_is_the_callers_and_drops_what_the_handshake_writes() {
        let request = get("http://[::1]/chat")
            .header("Host", "elsewhere")
            .header("Connection", "Upgrade")
            .header("Upgrade", "websocket")
            .header("Sec-WebSocket-Version", "13")
            .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("Origin", "https://app.example")
            .header("Sec-WebSocket-Protocol", "a")
            .header("Sec-WebSocket-Protocol", "b, c")
            .header("X-Token", "1")
            .header("X-Token", "2")
            .body(())
            .unwrap();
        let converted = ClientRequest::try_from(request).unwrap();
        let expected = ClientRequest::new("[::1]", 80, "/chat")
            .origin("https://app.example")
            .protocol("a")
            .protocol("b")
            .protocol("c")
            .header("x-token", "1")
            .header("x-token", "2");
        assert_eq!(converted, expected);
        assert!(!converted.is_secure());
    }

    #[test]
    fn what_cannot_be_a_websocket_request_is_refused() {
        let post = http::Request::post("ws://h/").body(()).unwrap();
        let relative = get("/chat").body(()).unwrap();
        let ftp = get("ftp://h/").body(()).unwrap();
        for request in [post, relative, ftp] {
            assert!(
                matches!(
                    ClientRequest::try_from(&request),
                    Err(RequestError::InvalidHttpRequest(_))
                ),
                "{request:?}"
            );
        }
        let binary = get("ws://h/")
            .header("X-Bin", http::HeaderValue::from_bytes(b"\xff").unwrap())
            .body(())
            .unwrap();
        assert_eq!(
            ClientRequest::try_from(&binary),
            Err(RequestError::InvalidHeaderValue {
                name: "x-bin".into()
            })
        );
        // What ws-proto refuses from its own setters, it refuses here too.
        let reserved = get("ws://h/")
            .header("Sec-WebSocket-Accept", "x")
            .body(())
            .unwrap();
        assert!(matches!(
            ClientRequest::try_from(&reserved),
            Err(RequestError::ReservedHeader(_))
        ));
    }

    #[test]
    fn headers_go_both_ways_with_repeats() {
        let headers: Headers = [("Set-Cookie", "a=1"), ("set-cookie", "b=2"), ("X", "y")]
            .into_iter()
            .collect();
        let map = http::HeaderMap::try_from(&headers).unwrap();
        assert_eq!(map.get_all("set-cookie").iter().count(), 2);
        let back = Headers::from(&map);
        assert_eq!(back.get_all("set-cookie").count(), 2);
        assert_eq!(back.get_str("x"), Some("y"));
    }
}
