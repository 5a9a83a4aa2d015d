//! Proxy tunnels (HTTP CONNECT, SOCKS5) as state machines with no I/O of
//! their own.
//!
//! A tunnel turns a connection to a proxy into a byte stream to a target
//! host: the client asks the proxy to connect to the target, the proxy
//! answers, and from the end of that answer on every byte read or written
//! is the target's. A WebSocket connection through a proxy runs in stages
//! over one transport:
//!
//! ```text
//! TCP to the proxy -> [TLS with the proxy, https://] -> tunnel -> [TLS with the target, wss://] -> WebSocket handshake
//! ```
//!
//! Two protocols are covered, with the same shape: [`HttpConnect`] (RFC
//! 9110 section 9.3.6, Basic authentication) and [`Socks5`] (RFC 1928,
//! username/password authentication of RFC 1929); [`Tunnel`] holds either.
//! [`ProxyUrl`] reads a proxy URL, and [`ProxyEnv`] chooses a proxy from
//! `https_proxy`, `all_proxy`, `no_proxy` and their kin the way curl does,
//! through a lookup function (this module never reads the environment).
//!
//! # The driving loop
//!
//! Write what [`poll_transmit`](Tunnel::poll_transmit) gives (then
//! [`advance_transmit`](Tunnel::advance_transmit) by what was written), read,
//! hand what was read to [`receive`](Tunnel::receive), and repeat until it
//! returns [`Progress::Established`]. A read of 0 bytes (the proxy closed)
//! goes to [`receive_eof`](Tunnel::receive_eof).
//!
//! The `leftover` bytes of [`Progress::Established`] arrived after the
//! proxy's answer, in the same read: they are the target's first bytes
//! (a TLS server hello, the WebSocket handshake's answer) and MUST be fed
//! to the next stage before anything read later. Dropping them is a
//! classic tunnel bug that shows only when the target is quick.
//!
//! ```
//! use ws_proto::proxy::{HttpConnect, Progress, ProxyUrl, Tunnel};
//!
//! let proxy: ProxyUrl = "http://alice:secret@proxy.internal:3128".parse()?;
//! let mut tunnel = Tunnel::from(HttpConnect::new("example.com", 443, proxy.credentials())?);
//!
//! // What the proxy sends, read in two pieces; the last three bytes are the
//! // target's (the start of a TLS record).
//! let mut reads: &[&[u8]] = &[b"HTTP/1.1 200 Connection established\r", b"\n\r\n\x16\x03\x01"];
//! let mut written = Vec::new();
//! let leftover = loop {
//!     while let Some(bytes) = tunnel.poll_transmit() {
//!         written.extend_from_slice(bytes); // a socket write
//!         let n = bytes.len();
//!         tunnel.advance_transmit(n);
//!     }
//!     let Some((read, rest)) = reads.split_first() else {
//!         tunnel.receive_eof()?; // a read of 0 bytes
//!         unreachable!("an error: the proxy closed before answering");
//!     };
//!     reads = rest;
//!     match tunnel.receive(read)? {
//!         Progress::NeedMore => {}
//!         Progress::Established { leftover } => break leftover,
//!     }
//! };
//! assert!(written.starts_with(b"CONNECT example.com:443 HTTP/1.1\r\n"));
//! assert_eq!(leftover, b"\x16\x03\x01"); // for the next stage, first
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Errors
//!
//! Every failure is a [`ProxyError`], whose message names the stage
//! ("HTTP proxy refused CONNECT: 407 Proxy Authentication Required").
//! [`ProxyError::caused_by_proxy`] tells a local mistake (an invalid URL,
//! target or credentials) from a proxy that refused or broke its protocol.
//! Errors are sticky: once `receive` failed, it fails again the same way.
//! Write before reading: an answer to a request not yet written whole
//! (a SOCKS5 reply before its request, a 2xx before the whole CONNECT
//! request) is [`ProxyError::AnsweredEarly`], since this client never
//! sends ahead and a proxy that answers unasked is not following its
//! protocol.
//! No message, `Debug` output included, ever holds credentials.

mod env;
mod host;
mod http_connect;
mod outbox;
mod socks5;
mod url;

use std::fmt;

pub use env::{NoProxy, ProxyEnv};
pub use host::{Host, HostError, MAX_HOST_NAME};
pub use http_connect::{HttpConnect, MAX_ANSWER_HEAD, MAX_ANSWER_HEADERS, MAX_REASON_LEN};
pub use socks5::{Socks5, Socks5Phase, Socks5Reply, Socks5Target};
pub use url::{Credentials, ProxyScheme, ProxyUrl, UrlError};

/// What [`receive`](Tunnel::receive) made of the bytes it was given.
#[must_use = "the leftover bytes belong to the next stage"]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// The answer is not complete: write what `poll_transmit` gives, then
    /// read more.
    NeedMore,
    /// The proxy agreed: the tunnel is open.
    Established {
        /// The bytes received after the proxy's answer: the target's first
        /// bytes, to feed to the next stage before anything read later.
        leftover: Vec<u8>,
    },
}

/// The tunnel protocol spoken with a proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProxyProtocol {
    /// HTTP CONNECT (`http://` and `https://` proxies).
    HttpConnect,
    /// SOCKS5 (`socks5://` and `socks5h://` proxies).
    Socks5,
}

impl fmt::Display for ProxyProtocol {
    /// The proxy's name as the error messages start with it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::HttpConnect => "HTTP proxy",
            Self::Socks5 => "SOCKS5 proxy",
        })
    }
}

/// A tunnel through either kind of proxy, for a driver that runs both the
/// same way.
#[derive(Debug)]
pub enum Tunnel {
    /// Through an HTTP proxy.
    Http(HttpConnect),
    /// Through a SOCKS5 proxy.
    Socks5(Socks5),
}

impl Tunnel {
    /// The bytes to write to the proxy next, if any.
    #[must_use]
    pub fn poll_transmit(&self) -> Option<&[u8]> {
        match self {
            Self::Http(t) => t.poll_transmit(),
            Self::Socks5(t) => t.poll_transmit(),
        }
    }

    /// `n` bytes of [`poll_transmit`](Self::poll_transmit) were written.
    pub fn advance_transmit(&mut self, n: usize) {
        match self {
            Self::Http(t) => t.advance_transmit(n),
            Self::Socks5(t) => t.advance_transmit(n),
        }
    }

    /// Bytes read from the proxy.
    pub fn receive(&mut self, data: &[u8]) -> Result<Progress, ProxyError> {
        match self {
            Self::Http(t) => t.receive(data),
            Self::Socks5(t) => t.receive(data),
        }
    }

    /// The proxy closed the connection (a read returned 0): an error unless
    /// the tunnel is already established.
    pub fn receive_eof(&mut self) -> Result<(), ProxyError> {
        match self {
            Self::Http(t) => t.receive_eof(),
            Self::Socks5(t) => t.receive_eof(),
        }
    }

    /// Whether the proxy agreed and the tunnel is open.
    pub fn is_established(&self) -> bool {
        match self {
            Self::Http(t) => t.is_established(),
            Self::Socks5(t) => t.is_established(),
        }
    }
}

impl From<HttpConnect> for Tunnel {
    fn from(t: HttpConnect) -> Self {
        Self::Http(t)
    }
}

impl From<Socks5> for Tunnel {
    fn from(t: Socks5) -> Self {
        Self::Socks5(t)
    }
}

/// Why a proxy tunnel could not be set up.
///
/// The first three variants are local mistakes, found before anything is
/// sent; the others come from the proxy ([`caused_by_proxy`](Self::caused_by_proxy)).
/// The message always names the stage (the proxy URL, the HTTP proxy, the
/// SOCKS5 proxy) and never holds credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyError {
    /// A proxy URL could not be read.
    InvalidUrl {
        /// The environment variable it came from, if it came from one.
        variable: Option<&'static str>,
        /// What is wrong with it.
        error: UrlError,
    },
    /// The target host cannot be sent to the proxy.
    InvalidTarget {
        /// The proxy's protocol.
        protocol: ProxyProtocol,
        /// What is wrong with the host.
        error: HostError,
    },
    /// The credentials cannot be sent: a user name or password over 255
    /// bytes for SOCKS5 (RFC 1929), a user name with a `:` for HTTP Basic
    /// (RFC 7617 section 2).
    InvalidCredentials {
        /// The proxy's protocol.
        protocol: ProxyProtocol,
        /// What is wrong (never the credentials themselves).
        problem: &'static str,
    },

    /// The driver cannot use this kind of proxy (an `https://` proxy, with
    /// TLS to the proxy itself, where the driver has no TLS inside TLS).
    Unsupported {
        /// The proxy's scheme.
        scheme: ProxyScheme,
    },

    /// The proxy answered a request before it was written whole (a SOCKS5
    /// reply before its request, a 2xx before the whole CONNECT request):
    /// it is not following its protocol.
    AnsweredEarly {
        /// The proxy's protocol.
        protocol: ProxyProtocol,
    },

    /// The HTTP proxy answered CONNECT with a status other than 2xx
    /// (407: it wants credentials, or other ones).
    HttpRefused {
        /// The status code.
        status: u16,
        /// The reason phrase, printable ASCII only, at most
        /// [`MAX_REASON_LEN`] bytes.
        reason: String,
    },
    /// The HTTP proxy's answer head passed [`MAX_ANSWER_HEAD`] bytes
    /// without ending.
    HttpHeadTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The HTTP proxy's answer had more than [`MAX_ANSWER_HEADERS`] headers.
    HttpTooManyHeaders {
        /// The limit.
        limit: usize,
    },
    /// The HTTP proxy's answer is not an HTTP/1.x response.
    HttpMalformed {
        /// What is wrong with it.
        problem: String,
    },
    /// The HTTP proxy closed the connection before its answer was complete.
    HttpClosed,

    /// The SOCKS5 proxy's answer had the wrong protocol version.
    Socks5WrongVersion {
        /// The answer it was in.
        phase: Socks5Phase,
        /// The version byte received.
        got: u8,
    },
    /// The SOCKS5 proxy accepts none of the authentication methods offered
    /// (method 0xFF): it may want credentials when none were given.
    Socks5NoAcceptableMethod,
    /// The SOCKS5 proxy chose an authentication method that was not
    /// offered (0x02, username/password, when no credentials were given).
    Socks5UnexpectedMethod {
        /// The method it chose.
        method: u8,
    },
    /// The SOCKS5 proxy refused the user name and password (RFC 1929).
    Socks5AuthFailed {
        /// The status byte (non-zero).
        status: u8,
    },
    /// The SOCKS5 proxy refused the CONNECT request.
    Socks5Refused(Socks5Reply),
    /// The SOCKS5 proxy's reply has an address type other than IPv4 (1),
    /// domain name (3) and IPv6 (4).
    Socks5UnknownAddressType(u8),
    /// The SOCKS5 proxy closed the connection before its answer was
    /// complete.
    Socks5Closed(Socks5Phase),
}

impl ProxyError {
    /// Whether the proxy caused this error (it refused, closed, or broke its
    /// protocol), rather than the caller (an invalid URL, target or
    /// credentials).
    pub fn caused_by_proxy(&self) -> bool {
        !matches!(
            self,
            Self::InvalidUrl { .. }
                | Self::InvalidTarget { .. }
                | Self::InvalidCredentials { .. }
                | Self::Unsupported { .. }
        )
    }
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const HTTP: ProxyProtocol = ProxyProtocol::HttpConnect;
        const SOCKS5: ProxyProtocol = ProxyProtocol::Socks5;
        match self {
            Self::InvalidUrl {
                variable: None,
                error,
            } => write!(f, "{error}"),
            Self::InvalidUrl {
                variable: Some(variable),
                error,
            } => write!(f, "invalid proxy URL in {variable}: {}", error.problem()),
            Self::InvalidTarget { protocol, error } => {
                write!(f, "{protocol}: invalid target host: {error}")
            }
            Self::InvalidCredentials { protocol, problem } => write!(f, "{protocol}: {problem}"),
            Self::AnsweredEarly { protocol } => {
                write!(f, "{protocol} answered before the request was sent")
            }
            Self::Unsupported { scheme } => write!(f, "{scheme}:// proxies are not supported here"),

            Self::HttpRefused { status, reason } if reason.is_empty() => {
                write!(f, "{HTTP} refused CONNECT: {status}")
            }
            Self::HttpRefused { status, reason } => {
                write!(f, "{HTTP} refused CONNECT: {status} {reason}")
            }
            Self::HttpHeadTooLarge { limit } => {
                write!(f, "{HTTP}: answer head too large (over {limit} bytes)")
            }
            Self::HttpTooManyHeaders { limit } => {
                write!(f, "{HTTP}: too many headers in the answer (over {limit})")
            }
            Self::HttpMalformed { problem } => {
                write!(f, "{HTTP}: malformed answer to CONNECT: {problem}")
            }
            Self::HttpClosed => {
                write!(f, "{HTTP} closed the connection before answering CONNECT")
            }

            Self::Socks5WrongVersion { phase, got } => {
                let expected = phase.version();
                write!(
                    f,
                    "{SOCKS5}: wrong version byte {got:#04x} in the {phase} (expected {expected:#04x})"
                )?;
                match got {
                    b'H' => f.write_str(": it answers in HTTP, is it an HTTP proxy?"),
                    0x00 | 0x04 if *phase == Socks5Phase::MethodSelection => {
                        f.write_str(": is it a SOCKS4 proxy?")
                    }
                    _ => Ok(()),
                }
            }
            Self::Socks5NoAcceptableMethod => write!(
                f,
                "{SOCKS5}: no acceptable authentication method (does it want a user name and password?)"
            ),
            Self::Socks5UnexpectedMethod { method: 0x02 } => write!(
                f,
                "{SOCKS5} requires username/password authentication, but no credentials were given"
            ),
            Self::Socks5UnexpectedMethod { method } => write!(
                f,
                "{SOCKS5} chose authentication method {method:#04x}, which was not offered"
            ),
            Self::Socks5AuthFailed { status } => {
                write!(f, "{SOCKS5}: authentication failed (status {status:#04x})")
            }
            Self::Socks5Refused(reply) => write!(f, "{SOCKS5}: {reply}"),
            Self::Socks5UnknownAddressType(atyp) => {
                write!(
                    f,
                    "{SOCKS5}: unknown address type {atyp:#04x} in the CONNECT reply"
                )
            }
            Self::Socks5Closed(phase) => {
                write!(
                    f,
                    "{SOCKS5} closed the connection before its {phase} was complete"
                )
            }
        }
    }
}

impl std::error::Error for ProxyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::InvalidUrl { error, .. } => Some(error),
            Self::InvalidTarget { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl From<UrlError> for ProxyError {
    fn from(error: UrlError) -> Self {
        Self::InvalidUrl {
            variable: None,
            error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes all that is queued, as a driver does before each read.
    fn write(t: &mut Tunnel) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(bytes) = t.poll_transmit() {
            out.extend_from_slice(bytes);
            let n = bytes.len();
            t.advance_transmit(n);
        }
        out
    }

    #[test]
    fn messages_name_the_stage() {
        let cases = [
            (
                ProxyError::HttpRefused {
                    status: 407,
                    reason: "Proxy Authentication Required".into(),
                },
                "HTTP proxy refused CONNECT: 407 Proxy Authentication Required",
            ),
            (
                ProxyError::Socks5Refused(Socks5Reply::CONNECTION_REFUSED),
                "SOCKS5 proxy: connection refused by destination host (reply 0x05)",
            ),
            (
                ProxyError::HttpClosed,
                "HTTP proxy closed the connection before answering CONNECT",
            ),
            (
                ProxyError::Socks5WrongVersion {
                    phase: Socks5Phase::MethodSelection,
                    got: b'H',
                },
                "SOCKS5 proxy: wrong version byte 0x48 in the method selection reply \
                 (expected 0x05): it answers in HTTP, is it an HTTP proxy?",
            ),
            (
                ProxyError::Socks5WrongVersion {
                    phase: Socks5Phase::Authentication,
                    got: 5,
                },
                "SOCKS5 proxy: wrong version byte 0x05 in the authentication reply \
                 (expected 0x01)",
            ),
            (
                ProxyError::AnsweredEarly {
                    protocol: ProxyProtocol::Socks5,
                },
                "SOCKS5 proxy answered before the request was sent",
            ),
            (
                ProxyError::AnsweredEarly {
                    protocol: ProxyProtocol::HttpConnect,
                },
                "HTTP proxy answered before the request was sent",
            ),
            (
                ProxyError::Socks5Closed(Socks5Phase::Connect),
                "SOCKS5 proxy closed the connection before its CONNECT reply was complete",
            ),
            (
                ProxyError::InvalidUrl {
                    variable: Some("https_proxy"),
                    error: UrlError::InvalidPort,
                },
                "invalid proxy URL in https_proxy: the port is not a number from 1 to 65535",
            ),
            (
                ProxyError::from(UrlError::Query),
                "invalid proxy URL: a query ('?') (is there an unencoded '?' in the password?)",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(error.to_string(), text);
        }
    }

    /// Every type of the module, in every state reached with credentials,
    /// and every error they lead to: no output holds the credentials. The
    /// tunnels are driven as a driver does, writing before each read.
    #[test]
    fn credentials_are_never_printed() {
        use base64::Engine as _;

        const USER: &str = "alice-user";
        const PASSWORD: &str = "hunter2-pass";
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
        let url: ProxyUrl = format!("socks5h://{USER}:{PASSWORD}@proxy:1080")
            .parse()
            .unwrap();
        let creds = url.credentials().unwrap();
        let mut texts = vec![
            format!("{url} {url:?} {url:#?} {creds:?}"),
            format!("{:?}", url.clone().with_credentials(Some(creds.clone()))),
        ];
        let mut errors = Vec::new();

        let mut http = Tunnel::from(HttpConnect::new("example.com", 443, Some(creds)).unwrap());
        texts.push(format!("{http:?}")); // the request is queued
        assert!(write(&mut http).ends_with(format!("Basic {token}\r\n\r\n").as_bytes()));
        errors.push(http.receive(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n"));
        texts.push(format!("{http:?}"));

        let target = Socks5Target::domain("example.com", 443);
        let mut socks = Tunnel::from(Socks5::new(target.clone(), Some(creds)).unwrap());
        write(&mut socks);
        assert_eq!(socks.receive(&[5, 2]), Ok(Progress::NeedMore));
        texts.push(format!("{socks:?}")); // the auth request is queued
        assert!(write(&mut socks).ends_with(PASSWORD.as_bytes()));
        errors.push(socks.receive(&[1, 1]));
        texts.push(format!("{socks:?}"));

        // Failed with the auth request still queued: the proxy answered it
        // in the same read as the method selection.
        let mut early = Tunnel::from(Socks5::new(target.clone(), Some(creds)).unwrap());
        write(&mut early);
        errors.push(early.receive(&[5, 2, 1, 0]));
        texts.push(format!("{early:?}"));

        let long = Credentials::new(USER, PASSWORD.repeat(30));
        errors.push(Socks5::new(target, Some(&long)).map(|_| Progress::NeedMore));
        let colon = Credentials::new(format!("{USER}:x"), PASSWORD);
        errors.push(HttpConnect::new("h", 1, Some(&colon)).map(|_| Progress::NeedMore));

        let bad = format!("http://{USER}:{PASSWORD}@proxy:0");
        let env = ProxyEnv::from_lookup(|name| (name == "https_proxy").then(|| bad.clone()));
        texts.push(format!("{env:?}"));
        errors.push(env.proxy_for(true, "h", 1).map(|_| Progress::NeedMore));
        errors.push(
            ProxyUrl::parse(&bad)
                .map(|_| Progress::NeedMore)
                .map_err(Into::into),
        );

        for error in errors {
            let error = error.expect_err("every case fails");
            texts.push(format!("{error} {error:?}"));
        }
        for text in &texts {
            for secret in [USER, PASSWORD, token.as_str()] {
                assert!(!text.contains(secret), "{secret} in {text}");
            }
        }
    }

    #[test]
    fn local_and_remote_errors() {
        assert!(!ProxyError::from(UrlError::Empty).caused_by_proxy());
        let target = ProxyError::InvalidTarget {
            protocol: ProxyProtocol::Socks5,
            error: HostError::Empty,
        };
        assert!(!target.caused_by_proxy());
        assert_eq!(
            target.to_string(),
            "SOCKS5 proxy: invalid target host: the host is empty"
        );
        assert!(ProxyError::HttpClosed.caused_by_proxy());
        assert!(ProxyError::Socks5NoAcceptableMethod.caused_by_proxy());
    }
}
