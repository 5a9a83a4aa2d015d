//! The client side of the opening handshake (RFC 6455 sections 4.1 and 4.2.2).

use std::fmt::Write as _;

use crate::key_source::KeySource;
use base64::Engine as _;

use super::{
    Completed, HeadReader, Headers, accept_key, invalid, is_header_value, is_token, parse_error,
};
use crate::config::Config;
use crate::error::{HandshakeError, Rejection, RequestError};
use crate::extension;

/// Headers the handshake writes itself; a user header with one of these
/// names is refused rather than sent twice or allowed to break the upgrade.
/// `Sec-WebSocket-Protocol` and `-Extensions` have their own settings
/// ([`ClientRequest::protocol`]), which the response is checked against.
const RESERVED_HEADERS: &[&str] = &[
    "sec-websocket-key",
    "sec-websocket-version",
    "upgrade",
    "connection",
    "sec-websocket-accept",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "content-length",
    "transfer-encoding",
];

/// The most body bytes of a non-101 answer kept for the error.
const MAX_REJECTION_BODY: usize = 1024;

/// What a client asks for in its opening handshake.
///
/// Build it with [`ClientRequest::new`] and the setters; it is checked when
/// the connection is created ([`Connection::client`](crate::Connection::client)),
/// before anything is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientRequest {
    host: String,
    port: u16,
    secure: bool,
    resource: String,
    origin: Option<String>,
    protocols: Vec<String>,
    headers: Vec<(String, String)>,
    cookies: Vec<(String, String)>,
}

impl ClientRequest {
    /// A request for `resource` (path and query, starting with `/`) on
    /// `host:port`, over a plain transport (`ws://`). An IPv6 address may be
    /// given with or without its brackets.
    pub fn new(host: impl Into<String>, port: u16, resource: impl Into<String>) -> Self {
        Self {
            host: host.into(),
            port,
            secure: false,
            resource: resource.into(),
            origin: None,
            protocols: Vec::new(),
            headers: Vec::new(),
            cookies: Vec::new(),
        }
    }

    /// Whether the transport is TLS (`wss://`); it decides the default port
    /// left out of the `Host` header (443 rather than 80).
    pub fn secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// Sends an `Origin` header.
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Offers a subprotocol; call again to offer several, in order of preference.
    pub fn protocol(mut self, name: impl Into<String>) -> Self {
        self.protocols.push(name.into());
        self
    }

    /// Adds a header. Calling it again with the same name sends the header
    /// again with the second value. A `Host` header replaces the default one.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Adds a cookie; all cookies go in one `Cookie: a=b; c=d` header.
    pub fn cookie(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.cookies.push((name.into(), value.into()));
        self
    }

    /// The host, as given.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the transport is TLS (`wss://`).
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The host without IPv6 brackets, as a resolver or TLS name wants it.
    pub fn bare_host(&self) -> &str {
        self.host.trim_start_matches('[').trim_end_matches(']')
    }

    /// The resource name (path and query).
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The offered subprotocols.
    pub fn protocols(&self) -> &[String] {
        &self.protocols
    }

    /// Checks every part of the request; the same checks run when a
    /// connection is created from it.
    pub fn validate(&self) -> Result<(), RequestError> {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty()
            || !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~:%!$&'()*+,;=".contains(&b))
        {
            return Err(RequestError::InvalidHost(self.host.clone()));
        }
        if !self.resource.starts_with('/')
            || self
                .resource
                .bytes()
                .any(|b| b <= b' ' || b == 0x7F || b == b'#')
        {
            return Err(RequestError::InvalidResource(self.resource.clone()));
        }
        if let Some(origin) = &self.origin {
            if !is_header_value(origin) {
                return Err(RequestError::InvalidHeaderValue {
                    name: "Origin".into(),
                });
            }
        }
        if let Some(p) = self.protocols.iter().find(|p| !is_token(p)) {
            return Err(RequestError::InvalidSubprotocol(p.clone()));
        }
        for (name, value) in &self.headers {
            if !is_token(name) {
                return Err(RequestError::InvalidHeaderName(name.clone()));
            }
            if RESERVED_HEADERS
                .iter()
                .any(|r| r.eq_ignore_ascii_case(name))
            {
                return Err(RequestError::ReservedHeader(name.clone()));
            }
            if !is_header_value(value) {
                return Err(RequestError::InvalidHeaderValue { name: name.clone() });
            }
        }
        for (name, value) in &self.cookies {
            // RFC 6265 section 4.1.1: a token, then cookie-octets.
            let octets_ok = value
                .bytes()
                .all(|b| matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E));
            if !is_token(name) || !octets_ok {
                return Err(RequestError::InvalidCookie(format!("{name}={value}")));
            }
        }
        Ok(())
    }

    /// The `Host` header value: the host, bracketed if it is an IPv6 address,
    /// and the port unless it is the scheme's default.
    fn host_header(&self) -> String {
        let bare = self.host.trim_start_matches('[').trim_end_matches(']');
        let mut host = if bare.contains(':') {
            format!("[{bare}]")
        } else {
            bare.to_owned()
        };
        let default_port = if self.secure { 443 } else { 80 };
        if self.port != default_port {
            let _ = write!(host, ":{}", self.port);
        }
        host
    }

    /// Writes the request head with `key` as `Sec-WebSocket-Key` and
    /// `extensions` as `Sec-WebSocket-Extensions`.
    fn encode(&self, key: &str, extensions: Option<&str>, out: &mut Vec<u8>) {
        let mut head = String::with_capacity(256);
        let _ = write!(head, "GET {} HTTP/1.1\r\n", self.resource);
        if !self
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("host"))
        {
            let _ = write!(head, "Host: {}\r\n", self.host_header());
        }
        head.push_str("Upgrade: websocket\r\nConnection: Upgrade\r\n");
        let _ = write!(
            head,
            "Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        );
        if let Some(origin) = &self.origin {
            let _ = write!(head, "Origin: {origin}\r\n");
        }
        if !self.protocols.is_empty() {
            let _ = write!(
                head,
                "Sec-WebSocket-Protocol: {}\r\n",
                self.protocols.join(", ")
            );
        }
        if let Some(offer) = extensions {
            let _ = write!(head, "Sec-WebSocket-Extensions: {offer}\r\n");
        }
        let is_cookie = |name: &str| name.eq_ignore_ascii_case("cookie");
        for (name, value) in self.headers.iter().filter(|(n, _)| !is_cookie(n)) {
            let _ = write!(head, "{name}: {value}\r\n");
        }
        // One Cookie header for all cookies (RFC 6265 section 5.4), whether
        // they came as `Cookie` headers or as pairs.
        let cookies: Vec<String> = (self
            .headers
            .iter()
            .filter(|(n, _)| is_cookie(n))
            .map(|(_, v)| v.clone()))
        .chain(
            self.cookies
                .iter()
                .map(|(name, value)| format!("{name}={value}")),
        )
        .collect();
        if !cookies.is_empty() {
            let _ = write!(head, "Cookie: {}\r\n", cookies.join("; "));
        }
        head.push_str("\r\n");
        out.extend_from_slice(head.as_bytes());
    }
}

/// The client's handshake in progress.
#[derive(Debug)]
pub(crate) struct ClientHandshake {
    expected_accept: String,
    protocols: Vec<String>,
    resource: String,
    head: HeadReader,
    /// A non-101 head whose body is still arriving.
    rejection: Option<(Rejection, usize)>,
}

impl ClientHandshake {
    /// Checks `request`, draws the key from `rng` and writes the request,
    /// with the extensions `config` offers, to `out`.
    pub(crate) fn start(
        request: &ClientRequest,
        config: &Config,
        rng: &mut dyn KeySource,
        out: &mut Vec<u8>,
    ) -> Result<Self, RequestError> {
        request.validate()?;
        let mut nonce = [0u8; 16];
        rng.fill_bytes(&mut nonce);
        let key = base64::engine::general_purpose::STANDARD.encode(nonce);
        let offer = extension::client_offer(config);
        request.encode(&key, offer.as_deref(), out);
        Ok(Self {
            expected_accept: accept_key(key.as_bytes()),
            protocols: request.protocols.clone(),
            resource: request.resource.clone(),
            head: HeadReader::default(),
            rejection: None,
        })
    }

    /// Feeds response bytes; `Ok(None)` until the answer is complete.
    pub(crate) fn receive(
        &mut self,
        data: &[u8],
        config: &Config,
    ) -> Result<Option<Completed>, HandshakeError> {
        if let Some((rejection, wanted)) = &mut self.rejection {
            let take = (*wanted - rejection.body.len()).min(data.len());
            rejection.body.extend_from_slice(&data[..take]);
            if rejection.body.len() < *wanted {
                return Ok(None);
            }
            let (rejection, _) = self.rejection.take().expect("checked above");
            return Err(HandshakeError::Rejected(Box::new(rejection)));
        }
        let Some(head_len) = self.head.push(data, config.max_handshake_size)? else {
            return Ok(None);
        };
        let mut storage = vec![httparse::EMPTY_HEADER; config.max_handshake_headers];
        let mut response = httparse::Response::new(&mut storage);
        match response.parse(&self.head.bytes()[..head_len]) {
            Ok(httparse::Status::Complete(_)) => {}
            Ok(httparse::Status::Partial) => {
                return Err(HandshakeError::Malformed(
                    "incomplete head after its blank line".into(),
                ));
            }
            Err(e) => return Err(parse_error(e, config.max_handshake_headers)),
        }
        let status = response.code.unwrap_or_default();
        let headers = Headers::from_httparse(response.headers);
        let reason = response.reason.unwrap_or_default().to_owned();
        let rest = self.head.take_rest(head_len);
        if status != 101 {
            return self.rejected(status, reason, headers, rest);
        }
        self.check_accepted(&headers)?;
        let subprotocol = self.check_subprotocol(&headers)?;
        let extensions = extension::negotiate_client(config, &headers)?;
        Ok(Some(Completed {
            subprotocol,
            resource: self.resource.clone(),
            headers,
            extensions,
            rest,
        }))
    }

    /// The transport ended: the handshake failed, with the rejection if one
    /// was waiting for its body.
    pub(crate) fn receive_eof(&mut self) -> HandshakeError {
        match self.rejection.take() {
            Some((rejection, _)) => HandshakeError::Rejected(Box::new(rejection)),
            None => HandshakeError::UnexpectedEof,
        }
    }

    fn rejected(
        &mut self,
        status: u16,
        reason: String,
        headers: Headers,
        mut body: Vec<u8>,
    ) -> Result<Option<Completed>, HandshakeError> {
        let content_length = headers
            .get_str("content-length")
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        let wanted = content_length.min(MAX_REJECTION_BODY);
        body.truncate(wanted);
        let rejection = Rejection {
            status,
            reason,
            headers,
            body,
        };
        if rejection.body.len() < wanted {
            self.rejection = Some((rejection, wanted));
            return Ok(None);
        }
        Err(HandshakeError::Rejected(Box::new(rejection)))
    }

    fn check_accepted(&self, headers: &Headers) -> Result<(), HandshakeError> {
        if !headers.has_token("upgrade", "websocket") {
            return Err(invalid("Upgrade", "missing or not \"websocket\""));
        }
        if !headers.has_token("connection", "upgrade") {
            return Err(invalid("Connection", "missing or without \"upgrade\""));
        }
        let mut accepts = headers.get_all("sec-websocket-accept");
        match (accepts.next(), accepts.next()) {
            (None, _) => Err(invalid("Sec-WebSocket-Accept", "missing")),
            (Some(_), Some(_)) => Err(invalid("Sec-WebSocket-Accept", "sent more than once")),
            (Some(v), None) if v.trim_ascii() == self.expected_accept.as_bytes() => Ok(()),
            (Some(v), None) => Err(invalid(
                "Sec-WebSocket-Accept",
                format!(
                    "{:?} does not match the key (expected {:?})",
                    String::from_utf8_lossy(v),
                    self.expected_accept
                ),
            )),
        }
    }

    fn check_subprotocol(&self, headers: &Headers) -> Result<Option<String>, HandshakeError> {
        let mut chosen = headers.list("sec-websocket-protocol");
        let Some(first) = chosen.next() else {
            return Ok(None);
        };
        if let Some(second) = chosen.next() {
            return Err(HandshakeError::UnexpectedSubprotocol(format!(
                "{first}, {second}"
            )));
        }
        // Subprotocol names are case-sensitive (section 4.1).
        if self.protocols.iter().any(|p| p == first) {
            Ok(Some(first.to_owned()))
        } else {
            Err(HandshakeError::UnexpectedSubprotocol(first.to_owned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn start(request: &ClientRequest) -> (ClientHandshake, String) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut out = Vec::new();
        let hs = ClientHandshake::start(request, &Config::default(), &mut rng, &mut out).unwrap();
        (hs, String::from_utf8(out).unwrap())
    }

    fn response(hs: &ClientHandshake, extra: &str) -> String {
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\nConnection: keep-alive, UPGRADE\r\n\
             Sec-WebSocket-Accept: {}\r\n{extra}\r\n",
            hs.expected_accept
        )
    }

    #[test]
    fn request_has_every_required_header() {
        let req = ClientRequest::new("example.com", 80, "/chat?x=1")
            .origin("http://example.com")
            .protocol("chat")
            .protocol("superchat")
            .header("X-Multi", "a")
            .header("X-Multi", "b")
            .cookie("a", "1")
            .cookie("b", "2");
        let (_, text) = start(&req);
        assert!(
            text.starts_with("GET /chat?x=1 HTTP/1.1\r\nHost: example.com\r\n"),
            "{text}"
        );
        for line in [
            "Upgrade: websocket\r\n",
            "Connection: Upgrade\r\n",
            "Sec-WebSocket-Version: 13\r\n",
            "Origin: http://example.com\r\n",
            "Sec-WebSocket-Protocol: chat, superchat\r\n",
            "X-Multi: a\r\nX-Multi: b\r\n",
            "Cookie: a=1; b=2\r\n",
        ] {
            assert!(text.contains(line), "missing {line:?} in {text}");
        }
        assert!(text.ends_with("\r\n\r\n"));
        let key_line = text
            .lines()
            .find(|l| l.starts_with("Sec-WebSocket-Key: "))
            .unwrap();
        let key = base64::engine::general_purpose::STANDARD
            .decode(&key_line[19..])
            .unwrap();
        assert_eq!(key.len(), 16);
    }

    #[test]
    fn cookie_headers_and_cookie_pairs_make_one_cookie_header() {
        let req = ClientRequest::new("h", 80, "/")
            .header("Cookie", "a=1; b=2")
            .cookie("c", "3");
        let (_, text) = start(&req);
        assert_eq!(text.matches("Cookie:").count(), 1, "{text}");
        assert!(text.contains("Cookie: a=1; b=2; c=3\r\n"), "{text}");
    }

    #[test]
    fn host_header_carries_non_default_ports_and_brackets_ipv6() {
        let host = |r: ClientRequest| start(&r).1.lines().nth(1).unwrap().to_owned();
        assert_eq!(host(ClientRequest::new("h", 80, "/")), "Host: h");
        assert_eq!(host(ClientRequest::new("h", 443, "/")), "Host: h:443");
        assert_eq!(
            host(ClientRequest::new("h", 443, "/").secure(true)),
            "Host: h"
        );
        assert_eq!(
            host(ClientRequest::new("h", 80, "/").secure(true)),
            "Host: h:80"
        );
        assert_eq!(
            host(ClientRequest::new("::1", 9001, "/")),
            "Host: [::1]:9001"
        );
        assert_eq!(host(ClientRequest::new("[::1]", 80, "/")), "Host: [::1]");
    }

    #[test]
    fn bad_requests_are_refused_before_anything_is_sent() {
        let base = || ClientRequest::new("h", 80, "/");
        let cases = [
            (
                base().header("X\r\nEvil", "1"),
                RequestError::InvalidHeaderName("X\r\nEvil".into()),
            ),
            (
                base().header("X", "a\r\nEvil: 1"),
                RequestError::InvalidHeaderValue { name: "X".into() },
            ),
            (
                base().header("X", "a\0"),
                RequestError::InvalidHeaderValue { name: "X".into() },
            ),
            (
                base().header("X", "a\n"),
                RequestError::InvalidHeaderValue { name: "X".into() },
            ),
            (
                base().header("", "a"),
                RequestError::InvalidHeaderName(String::new()),
            ),
            (
                base().header("Sec-WebSocket-Key", "k"),
                RequestError::ReservedHeader("Sec-WebSocket-Key".into()),
            ),
            (
                base().header("upgrade", "h2c"),
                RequestError::ReservedHeader("upgrade".into()),
            ),
            (
                base().header("CONNECTION", "close"),
                RequestError::ReservedHeader("CONNECTION".into()),
            ),
            (
                base().header("Sec-WebSocket-Version", "8"),
                RequestError::ReservedHeader("Sec-WebSocket-Version".into()),
            ),
            (
                base().cookie("a;b", "1"),
                RequestError::InvalidCookie("a;b=1".into()),
            ),
            (
                base().cookie("a", "1; b=2"),
                RequestError::InvalidCookie("a=1; b=2".into()),
            ),
            (
                base().protocol("a b"),
                RequestError::InvalidSubprotocol("a b".into()),
            ),
            (
                ClientRequest::new("", 80, "/"),
                RequestError::InvalidHost(String::new()),
            ),
            (
                ClientRequest::new("h\r\n", 80, "/"),
                RequestError::InvalidHost("h\r\n".into()),
            ),
            (
                ClientRequest::new("h", 80, "x"),
                RequestError::InvalidResource("x".into()),
            ),
            (
                ClientRequest::new("h", 80, "/a b"),
                RequestError::InvalidResource("/a b".into()),
            ),
            (
                ClientRequest::new("h", 80, "/a#f"),
                RequestError::InvalidResource("/a#f".into()),
            ),
        ];
        for (req, expected) in cases {
            let mut out = Vec::new();
            let mut rng = rand::rngs::StdRng::seed_from_u64(1);
            assert_eq!(
                ClientHandshake::start(&req, &Config::default(), &mut rng, &mut out).unwrap_err(),
                expected
            );
            assert!(out.is_empty());
        }
    }

    #[test]
    fn accepts_a_valid_answer_in_any_split_and_keeps_the_frames_after_it() {
        let (hs, _) = start(&ClientRequest::new("h", 80, "/").protocol("chat"));
        let mut bytes = response(&hs, "Sec-WebSocket-Protocol: chat\r\n").into_bytes();
        bytes.extend_from_slice(b"\x81\x02hi");
        for split in 0..bytes.len() {
            let (mut hs, _) = start(&ClientRequest::new("h", 80, "/").protocol("chat"));
            let config = Config::default();
            // Whatever the split, the bytes after the head are never lost:
            // those that came with it are in `rest`, the others come later.
            let (accepted, later) = match hs.receive(&bytes[..split], &config).unwrap() {
                Some(a) => (a, &bytes[split..]),
                None => (
                    hs.receive(&bytes[split..], &config).unwrap().unwrap(),
                    &[][..],
                ),
            };
            assert_eq!(accepted.subprotocol.as_deref(), Some("chat"));
            assert_eq!(
                [accepted.rest.as_slice(), later].concat(),
                b"\x81\x02hi",
                "split {split}"
            );
        }
    }

    #[test]
    fn invalid_answers() {
        let config = Config::default();
        let check = |extra_request: ClientRequest, make: &dyn Fn(&ClientHandshake) -> String| {
            let (mut hs, _) = start(&extra_request);
            let text = make(&hs);
            hs.receive(text.as_bytes(), &config).unwrap_err()
        };
        let plain = || ClientRequest::new("h", 80, "/");
        let err = check(plain(), &|_| {
            "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: bad\r\n\r\n".into()
        });
        assert!(
            matches!(
                err,
                HandshakeError::InvalidHeader {
                    name: "Sec-WebSocket-Accept",
                    ..
                }
            ),
            "{err}"
        );
        let err = check(plain(), &|hs| {
            response(hs, "").replace("Upgrade: WebSocket", "Upgrade: h2c")
        });
        assert!(matches!(
            err,
            HandshakeError::InvalidHeader {
                name: "Upgrade",
                ..
            }
        ));
        let err = check(plain(), &|hs| {
            response(hs, "").replace("keep-alive, UPGRADE", "close")
        });
        assert!(matches!(
            err,
            HandshakeError::InvalidHeader {
                name: "Connection",
                ..
            }
        ));
        let err = check(plain(), &|hs| {
            response(hs, "Sec-WebSocket-Protocol: chat\r\n")
        });
        assert_eq!(err, HandshakeError::UnexpectedSubprotocol("chat".into()));
        let err = check(plain().protocol("a").protocol("b"), &|hs| {
            response(hs, "Sec-WebSocket-Protocol: a, b\r\n")
        });
        assert_eq!(err, HandshakeError::UnexpectedSubprotocol("a, b".into()));
        let err = check(plain(), &|hs| {
            response(hs, "Sec-WebSocket-Extensions: permessage-deflate\r\n")
        });
        assert_eq!(
            err,
            HandshakeError::UnexpectedExtension("permessage-deflate".into())
        );
        let err = check(plain(), &|hs| {
            let r = response(hs, "");
            r.replacen(
                "\r\n\r\n",
                &format!("\r\nSec-WebSocket-Accept: {}\r\n\r\n", hs.expected_accept),
                1,
            )
        });
        assert!(matches!(
            err,
            HandshakeError::InvalidHeader {
                name: "Sec-WebSocket-Accept",
                ..
            }
        ));
        let err = check(plain(), &|_| "HTTP/1.1 abc\r\n\r\n".into());
        assert!(matches!(err, HandshakeError::Malformed(_)));
    }

    #[test]
    fn rejection_carries_status_headers_and_body() {
        let config = Config::default();
        let (mut hs, _) = start(&ClientRequest::new("h", 80, "/"));
        let head = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic\r\nContent-Length: 12\r\n\r\nlogin ";
        assert!(hs.receive(head.as_bytes(), &config).unwrap().is_none());
        let err = hs.receive(b"first!and more", &config).unwrap_err();
        let HandshakeError::Rejected(r) = err else {
            panic!("{err:?}")
        };
        assert_eq!(r.status, 401);
        assert_eq!(r.reason, "Unauthorized");
        assert_eq!(r.headers.get_str("www-authenticate"), Some("Basic"));
        assert_eq!(r.body, b"login first!");

        // Without the whole body, the end of the transport completes it.
        let (mut hs, _) = start(&ClientRequest::new("h", 80, "/"));
        let head = "HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 100\r\n\r\nmoved";
        assert!(hs.receive(head.as_bytes(), &config).unwrap().is_none());
        let HandshakeError::Rejected(r) = hs.receive_eof() else {
            panic!()
        };
        assert_eq!((r.status, r.body.as_slice()), (302, &b"moved"[..]));
    }

    #[test]
    fn limits_on_head_size_and_header_count() {
        let config = Config {
            max_handshake_size: 64,
            max_handshake_headers: 2,
            ..Config::default()
        };
        let (mut hs, _) = start(&ClientRequest::new("h", 80, "/"));
        let err = hs.receive(&[b'x'; 65], &config).unwrap_err();
        assert_eq!(err, HandshakeError::HeadTooLarge { limit: 64 });
        let (mut hs, _) = start(&ClientRequest::new("h", 80, "/"));
        let err = hs
            .receive(b"HTTP/1.1 101 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", &config)
            .unwrap_err();
        assert_eq!(err, HandshakeError::TooManyHeaders { limit: 2 });
    }
}
