//! The server side of the opening handshake (RFC 6455 section 4.2).

use std::fmt::Write as _;

use base64::Engine as _;

use super::{Completed, HeadReader, Headers, accept_key, invalid, is_token, parse_error};
use crate::config::Config;
use crate::error::HandshakeError;
use crate::extension;

/// How a server answers opening handshakes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Subprotocols this server speaks. The first one the client offers (in
    /// the client's order of preference) that is in this list is chosen;
    /// when none matches, the connection opens without a subprotocol.
    pub subprotocols: Vec<String>,
}

/// Chaining setters: `ServerConfig` is `#[non_exhaustive]` (a new setting is
/// not a breaking change), so build one from its default and set what
/// differs, as in `ServerConfig::default().subprotocols(..)`; or set its public
/// fields on a mutable value.
impl ServerConfig {
    /// Sets [`subprotocols`](Self::subprotocols).
    #[must_use]
    pub fn subprotocols(mut self, subprotocols: Vec<String>) -> Self {
        self.subprotocols = subprotocols;
        self
    }
}

/// The server's handshake in progress.
#[derive(Debug, Default)]
pub(crate) struct ServerHandshake {
    head: HeadReader,
}

impl ServerHandshake {
    /// Feeds request bytes. On a complete valid request, writes the 101
    /// answer to `out`; on an invalid one, writes a 400 or 426 answer with
    /// the reason and fails.
    pub(crate) fn receive(
        &mut self,
        data: &[u8],
        config: &Config,
        server: &ServerConfig,
        out: &mut Vec<u8>,
    ) -> Result<Option<Completed>, HandshakeError> {
        let head_len = match self.head.push(data, config.max_handshake_size) {
            Ok(Some(n)) => n,
            Ok(None) => return Ok(None),
            Err(e) => {
                write_rejection(out, 431, "Request Header Fields Too Large", &e.to_string());
                return Err(e);
            }
        };
        match self.upgrade(head_len, config, server, out) {
            Ok(upgraded) => Ok(Some(upgraded)),
            Err(e) => {
                match &e {
                    HandshakeError::UnsupportedVersion(_) => {
                        write_rejection(out, 426, "Upgrade Required", &e.to_string())
                    }
                    _ => write_rejection(out, 400, "Bad Request", &e.to_string()),
                }
                Err(e)
            }
        }
    }

    fn upgrade(
        &mut self,
        head_len: usize,
        config: &Config,
        server: &ServerConfig,
        out: &mut Vec<u8>,
    ) -> Result<Completed, HandshakeError> {
        let mut storage = vec![httparse::EMPTY_HEADER; config.max_handshake_headers];
        let mut request = httparse::Request::new(&mut storage);
        match request.parse(&self.head.bytes()[..head_len]) {
            Ok(httparse::Status::Complete(_)) => {}
            Ok(httparse::Status::Partial) => {
                return Err(HandshakeError::Malformed(
                    "incomplete head after its blank line".into(),
                ));
            }
            Err(e) => return Err(parse_error(e, config.max_handshake_headers)),
        }
        if request.method != Some("GET") {
            return Err(HandshakeError::BadRequest(format!(
                "method {} (a WebSocket upgrade is a GET)",
                request.method.unwrap_or_default()
            )));
        }
        if request.version != Some(1) {
            return Err(HandshakeError::BadRequest("HTTP/1.1 is required".into()));
        }
        let resource = request.path.unwrap_or_default().to_owned();
        let headers = Headers::from_httparse(request.headers);
        if headers.get("host").is_none() {
            return Err(invalid("Host", "missing"));
        }
        if !headers.has_token("upgrade", "websocket") {
            return Err(invalid("Upgrade", "missing or not \"websocket\""));
        }
        if !headers.has_token("connection", "upgrade") {
            return Err(invalid("Connection", "missing or without \"upgrade\""));
        }
        let version = headers
            .get_str("sec-websocket-version")
            .unwrap_or_default()
            .trim();
        if version != "13" {
            return Err(HandshakeError::UnsupportedVersion(version.to_owned()));
        }
        let key = headers
            .get("sec-websocket-key")
            .map(<[u8]>::trim_ascii)
            .unwrap_or_default();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(key)
            .unwrap_or_default();
        if decoded.len() != 16 {
            return Err(invalid(
                "Sec-WebSocket-Key",
                "missing or not 16 bytes in base64",
            ));
        }
        let subprotocol = headers
            .list("sec-websocket-protocol")
            .filter(|p| is_token(p))
            .find(|p| server.subprotocols.iter().any(|s| s == p))
            .map(str::to_owned);
        let (extensions, extension_answer) = extension::negotiate_server(config, &headers);

        let mut head = String::with_capacity(160);
        head.push_str(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n",
        );
        let _ = write!(head, "Sec-WebSocket-Accept: {}\r\n", accept_key(key));
        if let Some(p) = &subprotocol {
            let _ = write!(head, "Sec-WebSocket-Protocol: {p}\r\n");
        }
        if let Some(answer) = extension_answer {
            let _ = write!(head, "Sec-WebSocket-Extensions: {answer}\r\n");
        }
        head.push_str("\r\n");
        out.extend_from_slice(head.as_bytes());
        let rest = self.head.take_rest(head_len);
        Ok(Completed {
            resource,
            headers,
            subprotocol,
            extensions,
            rest,
        })
    }
}

/// Writes a plain-text HTTP error answer that closes the connection.
fn write_rejection(out: &mut Vec<u8>, status: u16, reason: &str, body: &str) {
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n",
        body.len() + 1
    );
    if status == 426 {
        head.push_str("Sec-WebSocket-Version: 13\r\n");
    }
    head.push_str("\r\n");
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(body.as_bytes());
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &str = "GET /chat?room=1 HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n";

    fn run(
        request: &str,
        server: &ServerConfig,
    ) -> (Result<Option<Completed>, HandshakeError>, String) {
        let mut out = Vec::new();
        let result = ServerHandshake::default().receive(
            request.as_bytes(),
            &Config::default(),
            server,
            &mut out,
        );
        (result, String::from_utf8(out).unwrap())
    }

    #[test]
    fn rfc_example_is_answered_with_the_accept_key_and_a_chosen_protocol() {
        let server = ServerConfig {
            subprotocols: vec!["superchat".into(), "chat".into()],
        };
        let (result, out) = run(REQUEST, &server);
        let up = result.unwrap().unwrap();
        assert_eq!(up.resource, "/chat?room=1");
        // The client's preference wins among the protocols both speak.
        assert_eq!(up.subprotocol.as_deref(), Some("chat"));
        assert!(out.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
        assert!(out.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        assert!(out.contains("Sec-WebSocket-Protocol: chat\r\n"));
    }

    #[test]
    fn bad_requests_get_400_or_426_with_a_reason() {
        let cases = [
            (REQUEST.replace("GET", "POST"), "400"),
            (REQUEST.replace("HTTP/1.1", "HTTP/1.0"), "400"),
            (REQUEST.replace("Host: server.example.com\r\n", ""), "400"),
            (REQUEST.replace("Upgrade: websocket", "Upgrade: h2c"), "400"),
            (
                REQUEST.replace("Connection: Upgrade", "Connection: close"),
                "400",
            ),
            (
                REQUEST.replace("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ="),
                "400",
            ),
            (REQUEST.replace("Version: 13", "Version: 8"), "426"),
        ];
        for (request, status) in cases {
            let (result, out) = run(&request, &ServerConfig::default());
            let err = result.unwrap_err();
            assert!(out.starts_with(&format!("HTTP/1.1 {status} ")), "{out}");
            assert!(out.contains(&err.to_string()), "{out} lacks {err}");
        }
    }
}
