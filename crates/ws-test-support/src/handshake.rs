//! The opening handshake (RFC 6455 section 4) played by hand: request
//! heads, the accept key, the 101 answer, and reading a head off a socket
//! one byte at a time, so that nothing after it (the first frames) is
//! taken.

use std::io::{self, Read, Write};
use std::time::Instant;

use base64::Engine as _;
use sha1::{Digest as _, Sha1};

/// The `Sec-WebSocket-Key` of RFC 6455's own example (section 1.3); its
/// accept key is `s3pPLMBiTxaQ9kYGzzhZRbK+xOo=`.
pub const SAMPLE_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// The most a head read by [`read_head`] may take: far beyond any head the
/// tests send, small enough that a runaway peer fails the read.
pub const HEAD_LIMIT: usize = 64 << 10;

/// The GUID RFC 6455 section 1.3 appends to the key.
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The `Sec-WebSocket-Accept` value for a request's `Sec-WebSocket-Key`:
/// base64 of the SHA-1 of the key and the GUID (RFC 6455 section 4.2.2).
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(GUID);
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// A client's request head for `path` on `host`, with [`SAMPLE_KEY`] and
/// `extra` header lines (each ending with CRLF) before the blank line.
pub fn request(host: &str, path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {SAMPLE_KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// The 101 answer to a request whose key is `key`, with `extra` header
/// lines (each ending with CRLF) after the accept key.
pub fn answer_101(key: &[u8], extra: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n{extra}\r\n",
        accept_key(key)
    )
}

/// The value of header `name` (any case) in an HTTP head, trimmed; the
/// first one if it is repeated.
pub fn header<'a>(head: &'a [u8], name: &str) -> Option<&'a [u8]> {
    head.split(|&b| b == b'\n').find_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let colon = line.iter().position(|&b| b == b':')?;
        let (n, value) = line.split_at(colon);
        n.trim_ascii()
            .eq_ignore_ascii_case(name.as_bytes())
            .then(|| value[1..].trim_ascii())
    })
}

/// [`header`] on a head held as text.
pub fn header_str<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    let value = header(head.as_bytes(), name)?;
    // The value is a trimmed slice of `head`, so it starts on a character
    // boundary: find it by its offset instead of decoding it again.
    let start = value.as_ptr() as usize - head.as_ptr() as usize;
    head.get(start..start + value.len())
}

/// The status code of a response head.
pub fn status(head: &[u8]) -> Option<u16> {
    let line = head.split(|&b| b == b'\r').next()?;
    let code = line.split(|&b| b == b' ').nth(1)?;
    std::str::from_utf8(code).ok()?.parse().ok()
}

/// Reads an HTTP head through its blank line, one byte at a time. Fails at
/// EOF (`UnexpectedEof`), past `max` bytes, or on a read error; a read that
/// times out is tried again while `deadline` (if any) has not passed, so a
/// stream with a short read timeout can wait longer for a slow peer.
pub fn read_head_within(
    stream: &mut impl Read,
    max: usize,
    deadline: Option<Instant>,
) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= max {
            return Err(io::Error::other("HTTP head too large"));
        }
        match stream.read(&mut byte) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(_) => head.push(byte[0]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                match deadline {
                    Some(deadline) if Instant::now() < deadline => {}
                    Some(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "no HTTP head")),
                    None => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(head)
}

/// A head as text (bounded by the stream's read timeout and
/// [`HEAD_LIMIT`]); `None` if the peer left or went quiet first.
pub fn read_head(stream: &mut impl Read) -> Option<String> {
    let head = read_head_within(stream, HEAD_LIMIT, None).ok()?;
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// Answers the request `head` (its key, or an empty one when it has none)
/// with a 101 carrying `extra` header lines (each ending with CRLF).
pub fn answer(stream: &mut impl Write, head: &str, extra: &str) -> io::Result<()> {
    let key = header_str(head, "sec-websocket-key").unwrap_or_default();
    stream.write_all(answer_101(key.as_bytes(), extra).as_bytes())
}

/// The server's part of the handshake as RFC 6455 section 4.2.2 says:
/// reads the request, answers 101 with the right accept key. Returns the
/// request head; fails if it did not arrive whole or the answer could not
/// be written.
pub fn accept(stream: &mut (impl Read + Write)) -> io::Result<String> {
    let head = read_head(stream)
        .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "no request head"))?;
    answer(stream, &head, "")?;
    Ok(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_example_key_gives_the_rfc_accept_key() {
        assert_eq!(
            accept_key(SAMPLE_KEY.as_bytes()),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn headers_are_found_in_any_case_and_trimmed() {
        let head = request("h", "/", "X-Extra:  a b \r\n");
        assert_eq!(header_str(&head, "x-extra"), Some("a b"));
        assert_eq!(header_str(&head, "SEC-WEBSOCKET-KEY"), Some(SAMPLE_KEY));
        assert_eq!(header_str(&head, "missing"), None);
        assert_eq!(status(b"HTTP/1.1 101 Switching\r\n\r\n"), Some(101));
    }

    #[test]
    fn a_head_is_read_through_its_blank_line_and_no_further() {
        let mut input: &[u8] = b"GET / HTTP/1.1\r\nA: b\r\n\r\nframes";
        assert_eq!(
            read_head(&mut input).as_deref(),
            Some("GET / HTTP/1.1\r\nA: b\r\n\r\n")
        );
        assert_eq!(input, b"frames");
        let mut cut: &[u8] = b"GET / HTTP/1.1\r\n";
        assert_eq!(read_head(&mut cut), None);
    }
}
