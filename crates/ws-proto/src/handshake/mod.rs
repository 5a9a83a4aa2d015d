//! The opening handshake (RFC 6455 section 4): an HTTP/1.1 Upgrade exchange.
//!
//! [`client`] builds the request and checks the server's answer; [`server`]
//! checks a request and answers it. Both read the HTTP head with httparse
//! through `HeadReader`, which is incremental, linear in the head's size
//! and bounded.

pub mod client;
#[cfg(feature = "http")]
mod http_types;
pub mod server;

use std::fmt;

use base64::Engine as _;
use sha1::{Digest as _, Sha1};

use crate::error::HandshakeError;
use crate::extension;

pub use client::ClientRequest;
pub use server::ServerConfig;

/// What a completed opening handshake agreed on, in either role: the
/// client's from a valid 101 answer, the server's from a valid request.
#[derive(Debug)]
pub(crate) struct Completed {
    pub(crate) subprotocol: Option<String>,
    pub(crate) resource: String,
    pub(crate) headers: Headers,
    pub(crate) extensions: extension::Negotiated,
    /// Bytes that followed the head: the first frames.
    pub(crate) rest: Vec<u8>,
}

/// The GUID of RFC 6455 section 1.3, appended to the key before hashing.
const WEBSOCKET_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(SHA-1(key + GUID)).
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(WEBSOCKET_GUID);
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// HTTP headers in order: those received in a handshake, or extra ones to
/// send. Names keep their case, lookups ignore it, and repeated names are
/// kept (sent as repeated headers). Values are bytes, since a peer may
/// send any; [`get_str`](Self::get_str) reads one as text.
///
/// ```
/// use ws_proto::Headers;
///
/// let headers = Headers::new()
///     .with("X-Authorization", "token")
///     .with("Accept-Language", "en")
///     .with("Accept-Language", "fr"); // sent twice
/// assert_eq!(headers.get_all("accept-language").count(), 2);
/// assert_eq!(headers.get_str("x-authorization"), Some("token"));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, Vec<u8>)>);

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a header after the others; a name given again adds another
    /// value.
    pub fn append(&mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) {
        self.0.push((name.into(), value.into()));
    }

    /// Replaces every value of `name` (any case) with `value`.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) {
        let name = name.into();
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
        self.0.push((name, value.into()));
    }

    /// [`append`](Self::append), by value, for chaining.
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.append(name, value);
        self
    }

    /// The first value of `name`, if any.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// The first value of `name` as text, if it is UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| core::str::from_utf8(v).ok())
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// All headers, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    /// How many headers there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether any value of `name`, read as a comma-separated list, holds
    /// `token` (compared without regard to case), as `Connection: keep-alive,
    /// Upgrade` holds `upgrade`.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.list(name).any(|t| t.eq_ignore_ascii_case(token))
    }

    /// Every element of the comma-separated lists in the values of `name`,
    /// trimmed, empty elements skipped; values that are not UTF-8 are skipped.
    pub fn list<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.get_all(name)
            .filter_map(|v| core::str::from_utf8(v).ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|t| !t.is_empty())
    }

    fn from_httparse(headers: &[httparse::Header<'_>]) -> Self {
        Self(
            headers
                .iter()
                .map(|h| (h.name.to_owned(), h.value.to_vec()))
                .collect(),
        )
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(n, v)| (n, String::from_utf8_lossy(v))))
            .finish()
    }
}

impl<N: Into<String>, V: Into<Vec<u8>>, const K: usize> From<[(N, V); K]> for Headers {
    fn from(pairs: [(N, V); K]) -> Self {
        pairs.into_iter().collect()
    }
}

impl<N: Into<String>, V: Into<Vec<u8>>> Extend<(N, V)> for Headers {
    fn extend<I: IntoIterator<Item = (N, V)>>(&mut self, iter: I) {
        self.0
            .extend(iter.into_iter().map(|(n, v)| (n.into(), v.into())));
    }
}

impl<N: Into<String>, V: Into<Vec<u8>>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        Self(
            iter.into_iter()
                .map(|(n, v)| (n.into(), v.into()))
                .collect(),
        )
    }
}

/// Accumulates an HTTP head and finds its end.
///
/// Each call scans only the bytes it has not seen, and the head is handed to
/// httparse once, when its blank line has arrived: the work is linear in the
/// head's size however the bytes are split (a re-parse on every read is
/// quadratic: RUSTSEC-2023-0065).
#[derive(Debug, Default)]
pub(crate) struct HeadReader {
    buf: Vec<u8>,
    scanned: usize,
}

impl HeadReader {
    /// Appends `data`; returns the length of the head (through its blank
    /// line) once it is complete. Bytes past it stay in the buffer.
    pub(crate) fn push(
        &mut self,
        data: &[u8],
        limit: usize,
    ) -> Result<Option<usize>, HandshakeError> {
        self.buf.extend_from_slice(data);
        // A blank line is "\n\n" or "\n\r\n"; start where one could begin.
        let from = self.scanned.saturating_sub(2);
        let end = self.buf[from..]
            .iter()
            .enumerate()
            .filter(|&(_, &b)| b == b'\n')
            .find_map(|(i, _)| {
                let at = from + i;
                match self.buf.get(at + 1..) {
                    Some([b'\n', ..]) => Some(at + 2),
                    Some([b'\r', b'\n', ..]) => Some(at + 3),
                    _ => None,
                }
            });
        self.scanned = self.buf.len();
        match end {
            Some(end) if end <= limit => Ok(Some(end)),
            Some(_) => Err(HandshakeError::HeadTooLarge { limit }),
            None if self.buf.len() > limit => Err(HandshakeError::HeadTooLarge { limit }),
            None => Ok(None),
        }
    }

    /// Everything received so far.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Takes the bytes that followed the head, releasing the buffer.
    pub(crate) fn take_rest(&mut self, head_len: usize) -> Vec<u8> {
        let rest = self.buf.split_off(head_len);
        self.buf = Vec::new();
        rest
    }
}

/// Maps an httparse failure to our error.
fn parse_error(e: httparse::Error, max_headers: usize) -> HandshakeError {
    match e {
        httparse::Error::TooManyHeaders => HandshakeError::TooManyHeaders { limit: max_headers },
        other => HandshakeError::Malformed(other.to_string()),
    }
}

/// RFC 7230 `tchar`: the characters of a token (header names, subprotocols).
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A header value we may send: visible ASCII, obs-text, space and tab;
/// nothing that could end the line (CR, LF) or the string (NUL).
pub(crate) fn is_header_value(s: &str) -> bool {
    s.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7F))
}

fn invalid(name: &'static str, problem: impl Into<String>) -> HandshakeError {
    HandshakeError::InvalidHeader {
        name,
        problem: problem.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_accept_key_example() {
        // RFC 6455 section 1.3.
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn head_end_is_found_across_any_split() {
        let head = b"HTTP/1.1 101 OK\r\nA: b\r\n\r\nrest";
        for split in 0..head.len() {
            let mut r = HeadReader::default();
            let first = r.push(&head[..split], 1024).unwrap();
            let end = first.or_else(|| r.push(&head[split..], 1024).unwrap());
            assert_eq!(end, Some(head.len() - 4), "split at {split}");
        }
        let mut r = HeadReader::default();
        assert_eq!(
            r.push(b"HTTP/1.1 101 OK\nA: b\n\n", 1024).unwrap(),
            Some(22)
        );
    }

    #[test]
    fn head_over_the_limit_fails_without_a_blank_line() {
        let mut r = HeadReader::default();
        assert_eq!(
            r.push(&[b'a'; 100], 64),
            Err(HandshakeError::HeadTooLarge { limit: 64 })
        );
    }

    #[test]
    fn token_lists() {
        let h: Headers = [("Connection", "keep-alive, Upgrade"), ("connection", "x")]
            .into_iter()
            .collect();
        assert!(h.has_token("CONNECTION", "upgrade"));
        assert!(h.has_token("connection", "X"));
        assert!(!h.has_token("connection", "close"));
    }
}
