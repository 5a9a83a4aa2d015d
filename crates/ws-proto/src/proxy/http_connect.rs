//! HTTP CONNECT (RFC 9110 section 9.3.6): one request, one answer head.
//!
//! Theory of operation:
//! - The request is built whole at construction, after the target and the
//!   credentials are checked, so nothing invalid is ever sent.
//! - The answer head is buffered until its blank line, at most
//!   [`MAX_ANSWER_HEAD`] bytes counted over every head (interim 1xx heads
//!   included): never more, however the proxy sends. Each byte is scanned
//!   once (a re-parse on every read is quadratic: RUSTSEC-2023-0065), and
//!   httparse reads the head once it is complete.
//! - An answer that does not start with `HTTP/` fails at once, so that a
//!   SOCKS proxy or a web server on the wrong port is not waited on.
//! - 1xx heads (but 101) are skipped (RFC 9110 section 15.2: a client
//!   must accept them before the final answer). A 2xx opens the tunnel and
//!   any other status fails it.
//! - A 2xx answer's body is not read: whatever `Content-Length` or
//!   `Transfer-Encoding` says, the bytes after the head are the tunnel's
//!   (RFC 9110 section 9.3.6: a client MUST ignore them in a 2xx to
//!   CONNECT; curl does the same).

use std::fmt;

use base64::Engine as _;

use super::host::Host;
use super::outbox::Outbox;
use super::url::Credentials;
use super::{Progress, ProxyError, ProxyProtocol};

/// The most bytes of answer head buffered before the tunnel opens; past it
/// the answer is refused ([`ProxyError::HttpHeadTooLarge`]).
pub const MAX_ANSWER_HEAD: usize = 8 * 1024;

/// The most headers read in one answer head
/// ([`ProxyError::HttpTooManyHeaders`]).
pub const MAX_ANSWER_HEADERS: usize = 64;

/// The longest reason phrase kept in [`ProxyError::HttpRefused`], in bytes.
pub const MAX_REASON_LEN: usize = 128;

/// A tunnel through an HTTP proxy: sends `CONNECT host:port` and reads the
/// answer.
///
/// Call [`poll_transmit`](Self::poll_transmit) and write what it gives
/// (then [`advance_transmit`](Self::advance_transmit)); hand every read to
/// [`receive`](Self::receive), or [`receive_eof`](Self::receive_eof) for a
/// read of 0 bytes, until `receive` returns [`Progress::Established`]. Its
/// leftover bytes go to the next stage (see the [module docs](super)).
///
/// `Debug` shows the state, never the request (it holds the credentials).
pub struct HttpConnect {
    /// The request, until written.
    request: Outbox,
    state: State,
    /// The answer head so far; at most `MAX_ANSWER_HEAD` bytes, ever.
    head: Vec<u8>,
    /// Where in `head` the search for the blank line resumes.
    scanned: usize,
    /// The bytes of answer head taken so far, over every head.
    taken: usize,
}

#[derive(Debug)]
enum State {
    Reading,
    Established,
    Failed(ProxyError),
}

impl HttpConnect {
    /// Builds the request `CONNECT host:port HTTP/1.1` with a `Host` header
    /// and, given credentials, `Proxy-Authorization: Basic` (RFC 7617).
    ///
    /// `target_host` is a name or an IP address (an IPv6 address with or
    /// without brackets; it is sent in brackets), checked by
    /// [`Host::parse`]: a host with whitespace, a control character or
    /// anything else that could change the request is refused
    /// ([`ProxyError::InvalidTarget`]). A user name with a `:` is refused
    /// too ([`ProxyError::InvalidCredentials`]): Basic cannot carry it.
    pub fn new(
        target_host: &str,
        target_port: u16,
        credentials: Option<&Credentials>,
    ) -> Result<Self, ProxyError> {
        let host = Host::parse(target_host).map_err(|error| ProxyError::InvalidTarget {
            protocol: ProxyProtocol::HttpConnect,
            error,
        })?;
        let authority = host.authority(target_port);
        let mut request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
        if let Some(credentials) = credentials {
            if credentials.username().contains(':') {
                return Err(ProxyError::InvalidCredentials {
                    protocol: ProxyProtocol::HttpConnect,
                    problem: "a user name with ':' cannot be sent with Basic authentication",
                });
            }
            let pair = format!("{}:{}", credentials.username(), credentials.password());
            let token = base64::engine::general_purpose::STANDARD.encode(pair);
            request.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
        }
        request.push_str("\r\n");
        Ok(Self {
            request: Outbox::new(request.into_bytes()),
            state: State::Reading,
            head: Vec::new(),
            scanned: 0,
            taken: 0,
        })
    }

    // ---- outputs ----------------------------------------------------------

    /// The bytes to write to the proxy next: the rest of the request, until
    /// it is written or the tunnel failed.
    #[must_use]
    pub fn poll_transmit(&self) -> Option<&[u8]> {
        self.request
            .pending()
            .filter(|_| !matches!(self.state, State::Failed(_)))
    }

    /// `n` bytes of [`poll_transmit`](Self::poll_transmit) were written. `n`
    /// larger than what it gave is taken as all of it.
    pub fn advance_transmit(&mut self, n: usize) {
        self.request.advance(n);
    }

    // ---- inputs -----------------------------------------------------------

    /// Bytes read from the proxy.
    ///
    /// Returns [`Progress::NeedMore`] until the answer head is complete,
    /// then [`Progress::Established`] with the bytes that followed it, or
    /// an error. Once established, further bytes are handed back whole as
    /// leftover; once failed, the same error is returned.
    pub fn receive(&mut self, data: &[u8]) -> Result<Progress, ProxyError> {
        match &self.state {
            State::Reading => {}
            State::Established => {
                return Ok(Progress::Established {
                    leftover: data.to_vec(),
                });
            }
            State::Failed(e) => return Err(e.clone()),
        }
        let result = self.read(data);
        match &result {
            Ok(Progress::NeedMore) => {}
            Ok(Progress::Established { .. }) => self.finish(State::Established),
            Err(e) => self.finish(State::Failed(e.clone())),
        }
        result
    }

    /// The proxy closed the connection (a read returned 0). An error
    /// ([`ProxyError::HttpClosed`]) unless the tunnel is established.
    pub fn receive_eof(&mut self) -> Result<(), ProxyError> {
        match &self.state {
            State::Established => Ok(()),
            State::Failed(e) => Err(e.clone()),
            State::Reading => {
                self.finish(State::Failed(ProxyError::HttpClosed));
                Err(ProxyError::HttpClosed)
            }
        }
    }

    // ---- getters ----------------------------------------------------------

    /// Whether the proxy answered 2xx and the tunnel is open.
    pub fn is_established(&self) -> bool {
        matches!(self.state, State::Established)
    }

    // ---- the answer -------------------------------------------------------

    fn finish(&mut self, state: State) {
        self.state = state;
        self.head = Vec::new();
    }

    fn read(&mut self, mut data: &[u8]) -> Result<Progress, ProxyError> {
        loop {
            check_start(&self.head)?;
            if let Some(end) = find_head_end(&self.head, self.scanned) {
                match parse_status(&self.head[..end])? {
                    // Interim: the next head starts right after.
                    100 | 102..=199 => {
                        self.head.drain(..end);
                        self.scanned = 0;
                        continue;
                    }
                    200..=299 if self.poll_transmit().is_some() => {
                        // A tunnel opened for a request the proxy has not
                        // seen whole: it did not read it.
                        return Err(ProxyError::AnsweredEarly {
                            protocol: ProxyProtocol::HttpConnect,
                        });
                    }
                    200..=299 => {
                        let mut leftover = self.head.split_off(end);
                        leftover.extend_from_slice(data);
                        return Ok(Progress::Established { leftover });
                    }
                    _ => unreachable!("parse_status refuses other codes"),
                }
            }
            self.scanned = self.head.len();
            if data.is_empty() {
                return Ok(Progress::NeedMore);
            }
            let room = MAX_ANSWER_HEAD - self.taken;
            if room == 0 {
                return Err(ProxyError::HttpHeadTooLarge {
                    limit: MAX_ANSWER_HEAD,
                });
            }
            let take = room.min(data.len());
            reserve_bounded(&mut self.head, take);
            self.head.extend_from_slice(&data[..take]);
            self.taken += take;
            data = &data[take..];
        }
    }
}

impl fmt::Debug for HttpConnect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpConnect")
            .field("state", &self.state)
            .field("unsent", &self.request.unsent())
            .field("head_buffered", &self.head.len())
            .finish_non_exhaustive()
    }
}

/// Grows `head` for `more` bytes without its capacity passing
/// `MAX_ANSWER_HEAD` (a `Vec` doubles, which could reach twice the limit).
fn reserve_bounded(head: &mut Vec<u8>, more: usize) {
    let needed = head.len() + more;
    if needed > head.capacity() {
        let target = (head.capacity() * 2).clamp(needed, MAX_ANSWER_HEAD.max(needed));
        head.reserve_exact(target - head.len());
    }
}

/// Fails as soon as the answer cannot be an HTTP/1.x status line.
fn check_start(head: &[u8]) -> Result<(), ProxyError> {
    const START: &[u8] = b"HTTP/";
    let n = head.len().min(START.len());
    if head[..n] == START[..n] {
        return Ok(());
    }
    let problem = match head[0] {
        // A SOCKS5 method selection or a SOCKS4 reply starts this way.
        0x00 | 0x04 | 0x05 => "it does not start with \"HTTP/\" (is it a SOCKS proxy?)",
        // A TLS record: an https:// proxy reached with http://.
        0x15 | 0x16 => "it does not start with \"HTTP/\" (is it a TLS port, an https:// proxy?)",
        _ => "it does not start with \"HTTP/\"",
    };
    Err(ProxyError::HttpMalformed {
        problem: problem.into(),
    })
}

/// The end of the head (just past its blank line, "\n\n" or "\n\r\n"),
/// searching from `scanned` back two bytes, where a blank line seen in
/// part could have started.
fn find_head_end(head: &[u8], scanned: usize) -> Option<usize> {
    let from = scanned.saturating_sub(2);
    head[from..]
        .iter()
        .enumerate()
        .filter(|&(_, &b)| b == b'\n')
        .find_map(|(i, _)| match head.get(from + i + 1..) {
            Some([b'\n', ..]) => Some(from + i + 2),
            Some([b'\r', b'\n', ..]) => Some(from + i + 3),
            _ => None,
        })
}

/// Reads a complete head; returns its status if it is 1xx (not 101) or
/// 2xx, an error otherwise.
fn parse_status(head: &[u8]) -> Result<u16, ProxyError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_ANSWER_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err(ProxyError::HttpMalformed {
                problem: "the head ends without a valid blank line".into(),
            });
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(ProxyError::HttpTooManyHeaders {
                limit: MAX_ANSWER_HEADERS,
            });
        }
        Err(e) => {
            return Err(ProxyError::HttpMalformed {
                problem: e.to_string(),
            });
        }
    }
    let status = response.code.unwrap_or(0);
    match status {
        100 | 102..=299 => Ok(status),
        _ => Err(ProxyError::HttpRefused {
            status,
            reason: sanitize_reason(response.reason.unwrap_or("")),
        }),
    }
}

/// The reason phrase as printable ASCII (anything else becomes `?`), at
/// most `MAX_REASON_LEN` bytes: it is the proxy's text and goes into logs.
fn sanitize_reason(reason: &str) -> String {
    reason
        .chars()
        .take(MAX_REASON_LEN)
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c
            } else {
                '?'
            }
        })
        .collect::<String>()
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::Tunnel;
    use super::*;

    /// The request built, not written yet.
    fn connect() -> HttpConnect {
        HttpConnect::new("example.com", 443, None).unwrap()
    }

    /// The request written whole: the next read is the answer.
    fn written() -> HttpConnect {
        let mut t = connect();
        assert!(sent(&mut t).starts_with(b"CONNECT example.com:443 "));
        t
    }

    fn answered_early() -> ProxyError {
        ProxyError::AnsweredEarly {
            protocol: ProxyProtocol::HttpConnect,
        }
    }

    fn sent(t: &mut HttpConnect) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(bytes) = t.poll_transmit() {
            let n = bytes.len().min(7); // short writes
            out.extend_from_slice(&bytes[..n]);
            t.advance_transmit(n);
        }
        out
    }

    fn established(leftover: &[u8]) -> Result<Progress, ProxyError> {
        Ok(Progress::Established {
            leftover: leftover.to_vec(),
        })
    }

    // ---- the request ------------------------------------------------------

    #[test]
    fn request_without_credentials() {
        let mut t = connect();
        assert_eq!(
            sent(&mut t),
            b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
        );
        assert_eq!(t.poll_transmit(), None);
        assert_eq!(t.request.capacity(), 0, "released once written");
        t.advance_transmit(5);
        assert_eq!(t.poll_transmit(), None);
    }

    #[test]
    fn request_with_basic_credentials() {
        // RFC 7617 section 2's example.
        let creds = Credentials::new("Aladdin", "open sesame");
        let mut t = HttpConnect::new("10.0.0.1", 8080, Some(&creds)).unwrap();
        assert_eq!(
            String::from_utf8(sent(&mut t)).unwrap(),
            "CONNECT 10.0.0.1:8080 HTTP/1.1\r\nHost: 10.0.0.1:8080\r\n\
             Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n"
        );
    }

    #[test]
    fn ipv6_target_in_brackets() {
        for host in ["::1", "[::1]"] {
            let mut t = HttpConnect::new(host, 443, None).unwrap();
            assert!(sent(&mut t).starts_with(b"CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n"));
        }
    }

    #[test]
    fn hostile_targets_are_refused() {
        for host in [
            "",
            "example.com\r\nX-Injected: 1",
            "example.com\n",
            "exa mple.com",
            "example.com\0",
            "example.com/path",
            "user@example.com",
            "example.com:80",
            "[::1",
        ] {
            let e = HttpConnect::new(host, 443, None).expect_err(host);
            assert!(
                matches!(e, ProxyError::InvalidTarget { .. }),
                "{host:?}: {e}"
            );
            assert!(!e.caused_by_proxy());
            assert!(e.to_string().starts_with("HTTP proxy: invalid target host"));
        }
    }

    #[test]
    fn user_name_with_colon_is_refused() {
        let creds = Credentials::new("a:b", "hunter2");
        let e = HttpConnect::new("example.com", 443, Some(&creds)).unwrap_err();
        assert!(matches!(e, ProxyError::InvalidCredentials { .. }));
        assert!(!format!("{e} {e:?}").contains("hunter2"));
    }

    #[test]
    fn debug_never_shows_the_credentials() {
        let creds = Credentials::new("alice", "hunter2");
        let mut t = HttpConnect::new("example.com", 443, Some(&creds)).unwrap();
        let token = base64::engine::general_purpose::STANDARD.encode("alice:hunter2");
        let mut texts = vec![format!("{t:?}"), format!("{:?}", Tunnel::from(connect()))];
        let e = t
            .receive(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
            .unwrap_err();
        texts.extend([format!("{t:?}"), format!("{e:?}"), e.to_string()]);
        for text in texts {
            for secret in ["alice", "hunter2", token.as_str(), "Authorization"] {
                assert!(!text.contains(secret), "{text}");
            }
        }
    }

    // ---- the answer -------------------------------------------------------

    #[test]
    fn any_2xx_opens_the_tunnel() {
        for answer in [
            &b"HTTP/1.1 200 Connection established\r\n\r\n"[..],
            b"HTTP/1.0 200 OK\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\n\r\n",
            b"HTTP/1.1 299 \r\n\r\n",
            b"HTTP/1.1 200 OK\nVia: x\n\n",
            b"HTTP/1.1 200 OK\r\nProxy-Agent: squid\r\nVia: 1.1 p\r\n\r\n",
        ] {
            let mut t = written();
            assert_eq!(t.receive(answer), established(b""), "{answer:?}");
            assert!(t.is_established());
            assert_eq!(t.receive_eof(), Ok(()));
        }
    }

    #[test]
    fn leftover_bytes_are_kept() {
        let mut t = written();
        assert_eq!(
            t.receive(b"HTTP/1.1 200 OK\r\n\r\n\x16\x03\x01\x00\x2a"),
            established(b"\x16\x03\x01\x00\x2a")
        );
        // Later bytes are the tunnel's too, handed back whole.
        assert_eq!(t.receive(b"more"), established(b"more"));
    }

    #[test]
    fn a_2xx_body_is_tunnel_bytes() {
        let mut t = written();
        assert_eq!(
            t.receive(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
            established(b"hello")
        );
        let mut t = written();
        assert_eq!(
            t.receive(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            established(b"0\r\n\r\n")
        );
    }

    #[test]
    fn interim_1xx_heads_are_skipped() {
        let mut t = written();
        assert_eq!(
            t.receive(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n"),
            Ok(Progress::NeedMore)
        );
        assert_eq!(t.receive(b"HTTP/1.1 200 OK\r\n\r\nX"), established(b"X"));
        // 101 is no interim answer to CONNECT.
        let mut t = written();
        assert!(matches!(
            t.receive(b"HTTP/1.1 101 Switching Protocols\r\n\r\n"),
            Err(ProxyError::HttpRefused { status: 101, .. })
        ));
    }

    #[test]
    fn refusals_carry_status_and_reason() {
        for (answer, status, reason) in [
            (
                &b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n"
                    [..],
                407,
                "Proxy Authentication Required",
            ),
            (b"HTTP/1.1 403 Forbidden\r\n\r\n", 403, "Forbidden"),
            (b"HTTP/1.1 502 \r\n\r\n", 502, ""),
            (b"HTTP/1.1 301 Moved\r\n\r\n", 301, "Moved"),
            (
                b"HTTP/1.0 503 Service Unavailable\r\n\r\nbody",
                503,
                "Service Unavailable",
            ),
        ] {
            let mut t = connect();
            let e = t.receive(answer).unwrap_err();
            assert_eq!(
                e,
                ProxyError::HttpRefused {
                    status,
                    reason: reason.into()
                }
            );
            assert!(e.caused_by_proxy());
            // Sticky, and nothing more to send.
            assert_eq!(t.receive(b"x"), Err(e.clone()));
            assert_eq!(t.receive_eof(), Err(e));
            assert_eq!(t.poll_transmit(), None);
        }
        let e = connect()
            .receive(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "HTTP proxy refused CONNECT: 407 Proxy Authentication Required"
        );
    }

    #[test]
    fn reason_is_sanitized_and_bounded() {
        let mut answer = b"HTTP/1.1 403 Bad\tthing ".to_vec();
        answer.extend_from_slice(&[b'a'; 1000]);
        answer.extend_from_slice(b"\r\n\r\n");
        let Err(ProxyError::HttpRefused { status, reason }) = connect().receive(&answer) else {
            panic!("not refused");
        };
        assert_eq!(status, 403);
        assert!(reason.starts_with("Bad?thing aaa"), "{reason:?}");
        assert_eq!(reason.len(), MAX_REASON_LEN);
        assert!(reason.bytes().all(|b| b == b' ' || b.is_ascii_graphic()));
        // httparse gives no reason with obs-text; control characters are
        // no HTTP at all.
        assert_eq!(
            connect().receive(b"HTTP/1.1 403 Verboten \xe2\x80\x94 nein\r\n\r\n"),
            Err(ProxyError::HttpRefused {
                status: 403,
                reason: String::new()
            })
        );
        assert!(matches!(
            connect().receive(b"HTTP/1.1 403 \x1b[31mred\r\n\r\n"),
            Err(ProxyError::HttpMalformed { .. })
        ));
    }

    #[test]
    fn garbage_fails_at_once() {
        for (answer, hint) in [
            (&b"\x05\x00"[..], "SOCKS"),
            (b"\x16\x03\x01\x00", "TLS"),
            (b"SSH-2.0-OpenSSH_9.6\r\n", ""),
            (b"<html>", ""),
            (b"\r\nHTTP/1.1 200 OK\r\n\r\n", ""),
            (b"http/1.1 200 OK\r\n\r\n", ""),
            (b"HTTPS", ""),
        ] {
            let mut t = connect();
            let e = t.receive(answer).unwrap_err();
            let text = e.to_string();
            assert!(matches!(e, ProxyError::HttpMalformed { .. }), "{text}");
            assert!(
                text.starts_with("HTTP proxy: malformed answer to CONNECT"),
                "{text}"
            );
            assert!(text.contains(hint), "{text}");
        }
    }

    #[test]
    fn malformed_heads_fail() {
        for answer in [
            &b"HTTP/1.1 2000 OK\r\n\r\n"[..],
            b"HTTP/1.1 abc OK\r\n\r\n",
            b"HTTP/2 200\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
        ] {
            let e = connect().receive(answer).unwrap_err();
            assert!(
                matches!(e, ProxyError::HttpMalformed { .. }),
                "{answer:?}: {e}"
            );
        }
    }

    #[test]
    fn too_many_headers() {
        let mut answer = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..=MAX_ANSWER_HEADERS {
            answer.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
        }
        answer.extend_from_slice(b"\r\n");
        assert_eq!(
            connect().receive(&answer),
            Err(ProxyError::HttpTooManyHeaders {
                limit: MAX_ANSWER_HEADERS
            })
        );
    }

    #[test]
    fn a_huge_head_fails_at_the_limit_with_bounded_memory() {
        // 1 MiB of header bytes, in one read and in 1000-byte reads.
        let mut answer = b"HTTP/1.1 200 OK\r\n".to_vec();
        while answer.len() < 1 << 20 {
            answer.extend_from_slice(b"X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        let too_large = Err(ProxyError::HttpHeadTooLarge {
            limit: MAX_ANSWER_HEAD,
        });
        assert_eq!(connect().receive(&answer), too_large);
        let mut t = connect();
        let mut result = Ok(Progress::NeedMore);
        for chunk in answer.chunks(1000) {
            result = t.receive(chunk);
            assert!(
                t.head.capacity() <= MAX_ANSWER_HEAD,
                "{}",
                t.head.capacity()
            );
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, too_large);
        assert_eq!(t.taken, MAX_ANSWER_HEAD);
        assert_eq!(t.head.capacity(), 0, "released on failure");
    }

    #[test]
    fn a_head_of_exactly_the_limit_is_read() {
        let mut answer = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        answer.resize(MAX_ANSWER_HEAD - 4, b'a');
        answer.extend_from_slice(b"\r\n\r\n");
        answer.extend_from_slice(b"tunnel");
        for chunk in [answer.len(), 1000, 1] {
            let mut t = written();
            let mut leftover = Vec::new();
            for piece in answer.chunks(chunk) {
                if let Progress::Established { leftover: l } = t.receive(piece).unwrap() {
                    leftover.extend_from_slice(&l);
                }
                assert!(t.head.capacity() <= MAX_ANSWER_HEAD);
            }
            assert_eq!(leftover, b"tunnel");
        }
        // One byte more and it is too large.
        let mut answer = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        answer.resize(MAX_ANSWER_HEAD - 3, b'a');
        answer.extend_from_slice(b"\r\n\r\n");
        assert!(matches!(
            written().receive(&answer),
            Err(ProxyError::HttpHeadTooLarge { .. })
        ));
    }

    #[test]
    fn interim_heads_count_toward_the_limit() {
        let mut t = connect();
        let interim = b"HTTP/1.1 100 Continue\r\n\r\n";
        let mut result = Ok(Progress::NeedMore);
        for _ in 0..MAX_ANSWER_HEAD / interim.len() + 1 {
            result = t.receive(interim);
        }
        assert!(matches!(result, Err(ProxyError::HttpHeadTooLarge { .. })));
    }

    #[test]
    fn a_2xx_before_the_request_is_written_is_answered_early() {
        // Nothing written, then all but the last byte (a short write): the
        // proxy cannot have read the request it says it carried out.
        for unwritten in [usize::MAX, 1] {
            let mut t = connect();
            let len = t.poll_transmit().map_or(0, <[u8]>::len);
            t.advance_transmit(len.saturating_sub(unwritten));
            let e = t
                .receive(b"HTTP/1.1 200 Connection established\r\n\r\n\x16")
                .unwrap_err();
            assert_eq!(e, answered_early(), "{unwritten}");
            assert!(e.caused_by_proxy());
            assert_eq!(
                e.to_string(),
                "HTTP proxy answered before the request was sent"
            );
            // Sticky, and the request is not sent after all.
            assert_eq!(t.receive(b"x"), Err(e.clone()));
            assert_eq!(t.receive_eof(), Err(e));
            assert_eq!(t.poll_transmit(), None);
            assert!(!t.is_established());
        }
        // After interim heads too.
        let mut t = connect();
        assert_eq!(
            t.receive(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"),
            Err(answered_early())
        );
    }

    #[test]
    fn a_refusal_before_the_request_is_written_is_still_a_refusal() {
        let mut t = connect();
        let e = t
            .receive(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
            .unwrap_err();
        assert!(
            matches!(e, ProxyError::HttpRefused { status: 407, .. }),
            "{e}"
        );
        assert_eq!(t.receive(b"x"), Err(e), "sticky");
        assert_eq!(t.poll_transmit(), None);
    }

    #[test]
    fn closing_mid_answer() {
        for sent in [
            &b""[..],
            b"HTTP/1.1 200 OK\r\n",
            b"HTTP/1.1 100 Continue\r\n\r\n",
        ] {
            let mut t = connect();
            assert_eq!(t.receive(sent), Ok(Progress::NeedMore));
            let e = t.receive_eof().unwrap_err();
            assert_eq!(e, ProxyError::HttpClosed);
            assert_eq!(
                e.to_string(),
                "HTTP proxy closed the connection before answering CONNECT"
            );
            assert_eq!(t.receive(b"HTTP/1.1 200 OK\r\n\r\n"), Err(e));
        }
    }

    #[test]
    fn every_split_gives_the_same_outcome() {
        let answer =
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nVia: p\r\n\r\nLEFT\r\n\r\nOVER";
        for a in 0..=answer.len() {
            for b in a..=answer.len() {
                let (leftover, established) = feed(&[&answer[..a], &answer[a..b], &answer[b..]]);
                assert!(established, "split {a} {b}");
                assert_eq!(leftover, b"LEFT\r\n\r\nOVER", "split {a} {b}");
            }
        }
    }

    /// Writes the request, then feeds the pieces in order (one answer to
    /// one request: the pieces may split it anywhere); returns the leftover
    /// bytes (all calls together) and whether the tunnel opened.
    fn feed(pieces: &[&[u8]]) -> (Vec<u8>, bool) {
        let mut t = written();
        let mut leftover = Vec::new();
        for piece in pieces {
            match t.receive(piece) {
                Ok(Progress::Established { leftover: l }) => leftover.extend_from_slice(&l),
                Ok(Progress::NeedMore) => {}
                Err(e) => panic!("{e}"),
            }
        }
        (leftover, t.is_established())
    }

    proptest! {
        #[test]
        fn any_split_of_answer_and_leftover_gives_the_same_outcome(
            headers in proptest::collection::vec(("[A-Za-z-]{1,12}", "[ -~]{0,40}"), 0..8),
            leftover in proptest::collection::vec(any::<u8>(), 0..300),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
            lf_only in any::<bool>(),
        ) {
            let eol = if lf_only { "\n" } else { "\r\n" };
            let mut answer = format!("HTTP/1.1 200 Connection established{eol}");
            for (name, value) in &headers {
                answer.push_str(&format!("{name}: {}{eol}", value.trim()));
            }
            answer.push_str(eol);
            let mut bytes = answer.into_bytes();
            bytes.extend_from_slice(&leftover);
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
            cuts.sort_unstable();
            let mut pieces = Vec::new();
            let mut from = 0;
            for cut in cuts {
                pieces.push(&bytes[from..cut]);
                from = cut;
            }
            pieces.push(&bytes[from..]);
            let (got, established) = feed(&pieces);
            prop_assert!(established);
            prop_assert_eq!(got, leftover);
        }

        #[test]
        fn any_split_of_a_refusal_gives_the_same_error(
            status in 300u16..600,
            cut in any::<prop::sample::Index>(),
        ) {
            let answer = format!("HTTP/1.1 {status} No\r\nA: b\r\n\r\nbody");
            let bytes = answer.as_bytes();
            let cut = cut.index(bytes.len() + 1);
            let mut t = connect();
            let first = t.receive(&bytes[..cut]);
            let result = match first {
                Ok(Progress::NeedMore) => t.receive(&bytes[cut..]),
                other => other,
            };
            prop_assert_eq!(result, Err(ProxyError::HttpRefused { status, reason: "No".into() }));
        }
    }
}
