//! SOCKS5 (RFC 1928) with username/password authentication (RFC 1929).
//!
//! ```text
//!            greeting sent             0x02 chosen: auth request sent
//! MethodSelection ----------> Authentication -----------------------+
//!       |   0x00 chosen: CONNECT sent    | status 0: CONNECT sent     |
//!       +--------------------------> Connect <----------------------+
//!                                        | reply 0x00, address read
//!                                        v
//!                                   Established       (any error: Failed)
//! ```
//!
//! Theory of operation:
//! - Every message is built and checked at construction (a domain name or a
//!   credential over 255 bytes cannot be sent), so an exchange never fails
//!   for a local reason half way.
//! - Each answer is read into a fixed buffer of [`MAX_REPLY`] bytes, the
//!   largest answer there is; nothing else grows with the input.
//! - Each byte is checked as soon as it arrives (version, reply code,
//!   address type), so a refusal is reported even when the proxy closes
//!   before the rest of its reply; what is read never depends on how each
//!   reply is split.
//! - An answer is read only once the request it answers is written whole:
//!   the proxy speaks only when spoken to, and this client never pipelines.
//!   Bytes that arrive while a request is queued (a reply before the
//!   greeting is written, or the next phase's reply in the same read as
//!   the reply that calls for the next request) are
//!   [`ProxyError::AnsweredEarly`], never a tunnel whose CONNECT request
//!   was not sent. Bytes past the final reply are the tunnel's.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::host::Host;
use super::outbox::Outbox;
use super::url::Credentials;
use super::{Progress, ProxyError, ProxyProtocol};

/// The protocol version of RFC 1928.
const VERSION: u8 = 0x05;
/// The version of the username/password sub-negotiation (RFC 1929).
const AUTH_VERSION: u8 = 0x01;
/// Authentication methods (RFC 1928 section 3).
const NO_AUTH: u8 = 0x00;
const USER_PASS: u8 = 0x02;
const NO_ACCEPTABLE: u8 = 0xFF;
/// The CONNECT command (section 4).
const CONNECT: u8 = 0x01;
/// Address types (section 5).
const ATYP_IPV4: u8 = 0x01;
const ATYP_DOMAIN: u8 = 0x03;
const ATYP_IPV6: u8 = 0x04;

/// The largest answer: a CONNECT reply with a 255-byte domain name (4
/// bytes of header, the length byte, the name, 2 bytes of port).
const MAX_REPLY: usize = 4 + 1 + 255 + 2;

/// The destination of a SOCKS5 tunnel, or the address a proxy bound for it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Socks5Target {
    /// An address, resolved by the client (`socks5://`).
    Addr(SocketAddr),
    /// A host name for the proxy to resolve (`socks5h://`). A name that is
    /// an IP address (`10.0.0.1`, `[::1]`) is sent as an address.
    Domain {
        /// The host name: at most 255 bytes, checked by [`Host::parse`].
        host: String,
        /// The port.
        port: u16,
    },
}

impl Socks5Target {
    /// A host name for the proxy to resolve.
    pub fn domain(host: impl Into<String>, port: u16) -> Self {
        Self::Domain {
            host: host.into(),
            port,
        }
    }

    /// The port.
    pub fn port(&self) -> u16 {
        match self {
            Self::Addr(addr) => addr.port(),
            Self::Domain { port, .. } => *port,
        }
    }
}

impl From<SocketAddr> for Socks5Target {
    fn from(addr: SocketAddr) -> Self {
        Self::Addr(addr)
    }
}

impl fmt::Display for Socks5Target {
    /// `host:port`, an IPv6 address in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Addr(addr) => write!(f, "{addr}"),
            Self::Domain { host, port } => write!(f, "{host}:{port}"),
        }
    }
}

/// A SOCKS5 answer, for errors: which reply it was in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Socks5Phase {
    /// The answer to the greeting: the chosen authentication method.
    MethodSelection,
    /// The answer to the username/password request (RFC 1929).
    Authentication,
    /// The answer to the CONNECT request.
    Connect,
}

impl Socks5Phase {
    /// The version byte this answer starts with.
    pub(crate) fn version(self) -> u8 {
        match self {
            Self::Authentication => AUTH_VERSION,
            Self::MethodSelection | Self::Connect => VERSION,
        }
    }
}

impl fmt::Display for Socks5Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MethodSelection => "method selection reply",
            Self::Authentication => "authentication reply",
            Self::Connect => "CONNECT reply",
        })
    }
}

/// The reply code (`REP`) of a SOCKS5 CONNECT reply (RFC 1928 section 6).
///
/// Codes 0x09 to 0xFF are unassigned and stay representable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Socks5Reply(pub u8);

impl Socks5Reply {
    /// 0x00: succeeded.
    pub const SUCCEEDED: Self = Self(0x00);
    /// 0x01: general SOCKS server failure.
    pub const GENERAL_FAILURE: Self = Self(0x01);
    /// 0x02: connection not allowed by ruleset.
    pub const NOT_ALLOWED: Self = Self(0x02);
    /// 0x03: network unreachable.
    pub const NETWORK_UNREACHABLE: Self = Self(0x03);
    /// 0x04: host unreachable.
    pub const HOST_UNREACHABLE: Self = Self(0x04);
    /// 0x05: connection refused (by the destination host).
    pub const CONNECTION_REFUSED: Self = Self(0x05);
    /// 0x06: TTL expired.
    pub const TTL_EXPIRED: Self = Self(0x06);
    /// 0x07: command not supported.
    pub const COMMAND_NOT_SUPPORTED: Self = Self(0x07);
    /// 0x08: address type not supported.
    pub const ADDRESS_TYPE_NOT_SUPPORTED: Self = Self(0x08);

    /// What RFC 1928 says the code means; `None` for an unassigned code.
    pub fn reason(self) -> Option<&'static str> {
        Some(match self.0 {
            0x00 => "succeeded",
            0x01 => "general SOCKS server failure",
            0x02 => "connection not allowed by ruleset",
            0x03 => "network unreachable",
            0x04 => "host unreachable",
            0x05 => "connection refused by destination host",
            0x06 => "TTL expired",
            0x07 => "command not supported",
            0x08 => "address type not supported",
            _ => return None,
        })
    }
}

impl fmt::Display for Socks5Reply {
    /// `connection refused by destination host (reply 0x05)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reason = self.reason().unwrap_or("unknown failure");
        write!(f, "{reason} (reply {:#04x})", self.0)
    }
}

/// A tunnel through a SOCKS5 proxy: method selection, optional
/// username/password authentication, then CONNECT.
///
/// Call [`poll_transmit`](Self::poll_transmit) and write what it gives
/// (then [`advance_transmit`](Self::advance_transmit)); hand every read to
/// [`receive`](Self::receive), or [`receive_eof`](Self::receive_eof) for a
/// read of 0 bytes, until `receive` returns [`Progress::Established`]. Its
/// leftover bytes go to the next stage (see the [module docs](super)).
/// `receive` takes each reply split anywhere, one byte at a time included;
/// a reply read before its request was written whole (the proxy did not
/// wait for it) is [`ProxyError::AnsweredEarly`].
///
/// `Debug` shows the state, never the queued bytes (the authentication
/// request holds the password in clear).
pub struct Socks5 {
    /// Messages to write; the first `sent` bytes are written.
    out: Outbox,
    /// The RFC 1929 request, until the proxy asks for it.
    auth_request: Option<Vec<u8>>,
    /// The CONNECT request, until it is queued.
    connect_request: Vec<u8>,
    phase: Phase,
    /// The answer being read. Boxed: a `Socks5` is moved around (into a
    /// `Tunnel`, a driver's connection state) more often than it reads.
    answer: Box<[u8; MAX_REPLY]>,
    have: usize,
    bound: Option<Socks5Target>,
}

#[derive(Debug)]
enum Phase {
    Reading(Socks5Phase),
    Established,
    Failed(ProxyError),
}

impl Socks5 {
    /// Builds the exchange to open a tunnel to `target`, with
    /// username/password authentication offered (beside none) when
    /// `credentials` are given.
    ///
    /// Fails, before anything is sent, on a domain that [`Host::parse`]
    /// refuses ([`ProxyError::InvalidTarget`]: empty, over 255 bytes,
    /// invalid characters) and on a user name or password over 255 bytes
    /// ([`ProxyError::InvalidCredentials`]). Empty ones are sent as they
    /// are, as curl does.
    pub fn new(
        target: Socks5Target,
        credentials: Option<&Credentials>,
    ) -> Result<Self, ProxyError> {
        let connect_request = connect_request(&target)?;
        let auth_request = credentials.map(auth_request).transpose()?;
        let greeting = match auth_request {
            Some(_) => vec![VERSION, 2, NO_AUTH, USER_PASS],
            None => vec![VERSION, 1, NO_AUTH],
        };
        Ok(Self {
            out: Outbox::new(greeting),
            auth_request,
            connect_request,
            phase: Phase::Reading(Socks5Phase::MethodSelection),
            answer: Box::new([0; MAX_REPLY]),
            have: 0,
            bound: None,
        })
    }

    // ---- outputs ----------------------------------------------------------

    /// The bytes to write to the proxy next, if any (none once failed).
    #[must_use]
    pub fn poll_transmit(&self) -> Option<&[u8]> {
        self.out
            .pending()
            .filter(|_| !matches!(self.phase, Phase::Failed(_)))
    }

    /// `n` bytes of [`poll_transmit`](Self::poll_transmit) were written. `n`
    /// larger than what it gave is taken as all of it.
    pub fn advance_transmit(&mut self, n: usize) {
        self.out.advance(n);
    }

    // ---- inputs -----------------------------------------------------------

    /// Bytes read from the proxy.
    ///
    /// Returns [`Progress::NeedMore`] until the CONNECT reply is complete
    /// (write what [`poll_transmit`](Self::poll_transmit) gives in between:
    /// an answer can call for the next request), then
    /// [`Progress::Established`] with the bytes that followed the reply, or
    /// an error. Once established, further bytes are handed back whole as
    /// leftover; once failed, the same error is returned.
    pub fn receive(&mut self, data: &[u8]) -> Result<Progress, ProxyError> {
        match &self.phase {
            Phase::Reading(_) => {}
            Phase::Established => {
                return Ok(Progress::Established {
                    leftover: data.to_vec(),
                });
            }
            Phase::Failed(e) => return Err(e.clone()),
        }
        let result = self.read(data);
        if let Err(e) = &result {
            self.phase = Phase::Failed(e.clone());
        }
        result
    }

    /// The proxy closed the connection (a read returned 0). An error
    /// ([`ProxyError::Socks5Closed`]) unless the tunnel is established.
    pub fn receive_eof(&mut self) -> Result<(), ProxyError> {
        match &self.phase {
            Phase::Established => Ok(()),
            Phase::Failed(e) => Err(e.clone()),
            &Phase::Reading(phase) => {
                let e = ProxyError::Socks5Closed(phase);
                self.phase = Phase::Failed(e.clone());
                Err(e)
            }
        }
    }

    // ---- getters ----------------------------------------------------------

    /// Whether the proxy agreed and the tunnel is open.
    pub fn is_established(&self) -> bool {
        matches!(self.phase, Phase::Established)
    }

    /// The address the proxy bound for the tunnel (`BND.ADDR`, `BND.PORT`),
    /// once established. Informative only: many proxies send zeros.
    pub fn bound_addr(&self) -> Option<&Socks5Target> {
        self.bound.as_ref()
    }

    // ---- the answers ------------------------------------------------------

    fn read(&mut self, mut data: &[u8]) -> Result<Progress, ProxyError> {
        loop {
            let Phase::Reading(phase) = self.phase else {
                unreachable!("read only while reading");
            };
            if !data.is_empty() && self.out.unsent() > 0 {
                // An answer to a request not written yet: the proxy did not
                // wait for it (or answered the same thing twice).
                return Err(ProxyError::AnsweredEarly {
                    protocol: ProxyProtocol::Socks5,
                });
            }
            self.check_partial(phase)?;
            let need = self.need(phase);
            if self.have == need {
                self.complete(phase)?;
                self.have = 0;
                if self.is_established() {
                    return Ok(Progress::Established {
                        leftover: data.to_vec(),
                    });
                }
                continue;
            }
            if data.is_empty() {
                return Ok(Progress::NeedMore);
            }
            let take = (need - self.have).min(data.len());
            self.answer[self.have..self.have + take].copy_from_slice(&data[..take]);
            self.have += take;
            data = &data[take..];
        }
    }

    /// Checks the bytes of the answer received so far, each as soon as it
    /// is there.
    fn check_partial(&self, phase: Socks5Phase) -> Result<(), ProxyError> {
        let got = &self.answer[..self.have];
        if let Some(&version) = got.first() {
            if version != phase.version() {
                return Err(ProxyError::Socks5WrongVersion {
                    phase,
                    got: version,
                });
            }
        }
        if phase == Socks5Phase::Connect {
            if let Some(&rep) = got.get(1) {
                if rep != Socks5Reply::SUCCEEDED.0 {
                    return Err(ProxyError::Socks5Refused(Socks5Reply(rep)));
                }
            }
            // got[2] is RSV: 0x00 by the RFC, ignored (be liberal in what
            // you accept: it carries nothing).
            if let Some(&atyp) = got.get(3) {
                if ![ATYP_IPV4, ATYP_DOMAIN, ATYP_IPV6].contains(&atyp) {
                    return Err(ProxyError::Socks5UnknownAddressType(atyp));
                }
            }
        }
        Ok(())
    }

    /// How many bytes the current answer has, as far as known from what
    /// was received.
    fn need(&self, phase: Socks5Phase) -> usize {
        match phase {
            Socks5Phase::MethodSelection | Socks5Phase::Authentication => 2,
            Socks5Phase::Connect => match self.answer[..self.have] {
                [_, _, _, ATYP_IPV4, ..] => 4 + 4 + 2,
                [_, _, _, ATYP_IPV6, ..] => 4 + 16 + 2,
                [_, _, _, ATYP_DOMAIN, len, ..] => 4 + 1 + usize::from(len) + 2,
                [_, _, _, ATYP_DOMAIN] => 5,
                _ => 4,
            },
        }
    }

    /// Acts on a complete answer (already checked by `check_partial`).
    fn complete(&mut self, phase: Socks5Phase) -> Result<(), ProxyError> {
        let answer = &self.answer[..self.have];
        match phase {
            Socks5Phase::MethodSelection => match answer[1] {
                NO_AUTH => self.queue_connect(),
                USER_PASS if self.auth_request.is_some() => {
                    let request = self.auth_request.take().unwrap_or_default();
                    self.queue(&request);
                    self.phase = Phase::Reading(Socks5Phase::Authentication);
                }
                NO_ACCEPTABLE => return Err(ProxyError::Socks5NoAcceptableMethod),
                method => return Err(ProxyError::Socks5UnexpectedMethod { method }),
            },
            Socks5Phase::Authentication => match answer[1] {
                0 => self.queue_connect(),
                status => return Err(ProxyError::Socks5AuthFailed { status }),
            },
            Socks5Phase::Connect => {
                self.bound = Some(bound_addr(answer));
                self.phase = Phase::Established;
            }
        }
        Ok(())
    }

    fn queue_connect(&mut self) {
        let request = std::mem::take(&mut self.connect_request);
        self.queue(&request);
        self.phase = Phase::Reading(Socks5Phase::Connect);
    }

    fn queue(&mut self, message: &[u8]) {
        self.out.push(message);
    }
}

impl fmt::Debug for Socks5 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socks5")
            .field("phase", &self.phase)
            .field("unsent", &self.out.unsent())
            .field("answer_buffered", &self.have)
            .field("bound", &self.bound)
            .finish_non_exhaustive()
    }
}

/// `VER CMD RSV ATYP DST.ADDR DST.PORT` (RFC 1928 section 4).
fn connect_request(target: &Socks5Target) -> Result<Vec<u8>, ProxyError> {
    let mut request = vec![VERSION, CONNECT, 0x00];
    let (addr, port) = match target {
        Socks5Target::Addr(addr) => (Host::Ip(addr.ip()), addr.port()),
        Socks5Target::Domain { host, port } => {
            let host = Host::parse(host).map_err(|error| ProxyError::InvalidTarget {
                protocol: ProxyProtocol::Socks5,
                error,
            })?;
            (host, *port)
        }
    };
    match addr {
        Host::Ip(IpAddr::V4(ip)) => {
            request.push(ATYP_IPV4);
            request.extend_from_slice(&ip.octets());
        }
        Host::Ip(IpAddr::V6(ip)) => {
            request.push(ATYP_IPV6);
            request.extend_from_slice(&ip.octets());
        }
        Host::Name(name) => {
            // Host::parse bounds names to 255 bytes: the length fits.
            let len = u8::try_from(name.len()).expect("host names are at most 255 bytes");
            request.extend_from_slice(&[ATYP_DOMAIN, len]);
            request.extend_from_slice(name.as_bytes());
        }
    }
    request.extend_from_slice(&port.to_be_bytes());
    Ok(request)
}

/// `VER ULEN UNAME PLEN PASSWD` (RFC 1929 section 2).
fn auth_request(credentials: &Credentials) -> Result<Vec<u8>, ProxyError> {
    let too_long = |problem| ProxyError::InvalidCredentials {
        protocol: ProxyProtocol::Socks5,
        problem,
    };
    let user = credentials.username().as_bytes();
    let password = credentials.password().as_bytes();
    let ulen = u8::try_from(user.len()).map_err(|_| too_long("user name over 255 bytes"))?;
    let plen = u8::try_from(password.len()).map_err(|_| too_long("password over 255 bytes"))?;
    let mut request = Vec::with_capacity(3 + user.len() + password.len());
    request.extend_from_slice(&[AUTH_VERSION, ulen]);
    request.extend_from_slice(user);
    request.push(plen);
    request.extend_from_slice(password);
    Ok(request)
}

/// `BND.ADDR` and `BND.PORT` of a complete, checked CONNECT reply.
fn bound_addr(reply: &[u8]) -> Socks5Target {
    let (addr, port) = reply[4..].split_at(reply.len() - 6);
    let port = u16::from_be_bytes([port[0], port[1]]);
    match reply[3] {
        ATYP_IPV4 => {
            let octets: [u8; 4] = addr.try_into().unwrap_or_default();
            SocketAddr::new(Ipv4Addr::from(octets).into(), port).into()
        }
        ATYP_IPV6 => {
            let octets: [u8; 16] = addr.try_into().unwrap_or_default();
            SocketAddr::new(Ipv6Addr::from(octets).into(), port).into()
        }
        // The domain (after its length byte), as text for display only.
        _ => Socks5Target::domain(String::from_utf8_lossy(&addr[1..]), port),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::{HostError, Tunnel};
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    /// Writes everything queued, in short writes.
    fn sent(t: &mut Socks5) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(bytes) = t.poll_transmit() {
            let n = bytes.len().min(3);
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

    /// A reply with an IPv4 bound address 10.0.0.9:4321.
    const REPLY_V4: &[u8] = &[5, 0, 0, 1, 10, 0, 0, 9, 0x10, 0xE1];

    fn reply(rep: u8) -> Vec<u8> {
        let mut r = REPLY_V4.to_vec();
        r[1] = rep;
        r
    }

    /// No authentication chosen: the CONNECT request is queued, unwritten.
    fn no_auth(target: Socks5Target) -> Socks5 {
        let mut t = Socks5::new(target, None).unwrap();
        assert_eq!(sent(&mut t), [5, 1, 0]);
        assert_eq!(t.receive(&[5, 0]), Ok(Progress::NeedMore));
        t
    }

    /// No authentication chosen and the CONNECT request written: the next
    /// read is the CONNECT reply.
    fn awaiting_reply(target: Socks5Target) -> Socks5 {
        let mut t = no_auth(target);
        assert_eq!(sent(&mut t)[..3], [5, 1, 0]);
        t
    }

    fn answered_early() -> ProxyError {
        ProxyError::AnsweredEarly {
            protocol: ProxyProtocol::Socks5,
        }
    }

    // ---- section 3: method selection --------------------------------------

    #[test]
    fn greeting_offers_user_pass_only_with_credentials() {
        let mut t = Socks5::new(addr("1.2.3.4:80").into(), None).unwrap();
        assert_eq!(sent(&mut t), [5, 1, 0x00]);
        let creds = Credentials::new("u", "p");
        let mut t = Socks5::new(addr("1.2.3.4:80").into(), Some(&creds)).unwrap();
        assert_eq!(sent(&mut t), [5, 2, 0x00, 0x02]);
        assert_eq!(t.poll_transmit(), None);
    }

    #[test]
    fn method_choices() {
        let creds = Credentials::new("u", "p");
        for (credentials, method, error) in [
            (None, 0xFF, ProxyError::Socks5NoAcceptableMethod),
            (Some(&creds), 0xFF, ProxyError::Socks5NoAcceptableMethod),
            (None, 0x02, ProxyError::Socks5UnexpectedMethod { method: 2 }),
            (None, 0x01, ProxyError::Socks5UnexpectedMethod { method: 1 }),
            (
                Some(&creds),
                0x01,
                ProxyError::Socks5UnexpectedMethod { method: 1 },
            ),
            (
                Some(&creds),
                0x80,
                ProxyError::Socks5UnexpectedMethod { method: 0x80 },
            ),
        ] {
            let mut t = Socks5::new(addr("1.2.3.4:80").into(), credentials).unwrap();
            sent(&mut t);
            assert_eq!(t.receive(&[5, method]), Err(error.clone()), "{method}");
            assert!(error.caused_by_proxy());
            assert_eq!(t.poll_transmit(), None, "nothing more is sent");
        }
        assert_eq!(
            ProxyError::Socks5NoAcceptableMethod.to_string(),
            "SOCKS5 proxy: no acceptable authentication method \
             (does it want a user name and password?)"
        );
        assert_eq!(
            ProxyError::Socks5UnexpectedMethod { method: 2 }.to_string(),
            "SOCKS5 proxy requires username/password authentication, but no credentials were given"
        );
        // No authentication chosen though credentials were offered: fine.
        let mut t = Socks5::new(addr("1.2.3.4:80").into(), Some(&creds)).unwrap();
        sent(&mut t);
        assert_eq!(t.receive(&[5, 0]), Ok(Progress::NeedMore));
        assert_eq!(sent(&mut t), [5, 1, 0, 1, 1, 2, 3, 4, 0, 80]);
    }

    #[test]
    fn wrong_version_bytes() {
        for (got, hint) in [(4, "SOCKS4"), (0, "SOCKS4"), (b'H', "HTTP proxy"), (6, "")] {
            let mut t = Socks5::new(addr("1.2.3.4:80").into(), None).unwrap();
            sent(&mut t);
            let e = t.receive(&[got]).unwrap_err();
            assert_eq!(
                e,
                ProxyError::Socks5WrongVersion {
                    phase: Socks5Phase::MethodSelection,
                    got
                }
            );
            assert!(e.to_string().contains("wrong version byte"), "{e}");
            assert!(e.to_string().contains(hint), "{e}");
        }
        let mut t = awaiting_reply(addr("1.2.3.4:80").into());
        assert_eq!(
            t.receive(&[4, 0]),
            Err(ProxyError::Socks5WrongVersion {
                phase: Socks5Phase::Connect,
                got: 4
            })
        );
    }

    // ---- RFC 1929: username/password --------------------------------------

    /// Username/password chosen: the auth request is queued, unwritten.
    fn with_auth(user: &str, password: &str) -> Socks5 {
        let creds = Credentials::new(user, password);
        let mut t = Socks5::new(Socks5Target::domain("example.com", 443), Some(&creds)).unwrap();
        sent(&mut t);
        assert_eq!(t.receive(&[5, 2]), Ok(Progress::NeedMore));
        t
    }

    #[test]
    fn user_pass_exchange() {
        let mut t = with_auth("alice", "s3cret");
        assert_eq!(sent(&mut t), b"\x01\x05alice\x06s3cret");
        assert_eq!(t.receive(&[1, 0]), Ok(Progress::NeedMore));
        assert_eq!(sent(&mut t), b"\x05\x01\x00\x03\x0bexample.com\x01\xbb");
        assert_eq!(t.receive(REPLY_V4), established(b""));
        assert_eq!(t.bound_addr(), Some(&addr("10.0.0.9:4321").into()));
    }

    #[test]
    fn empty_and_longest_credentials() {
        let mut t = with_auth("", "");
        assert_eq!(sent(&mut t), [1, 0, 0]);
        let long = "p".repeat(255);
        let mut t = with_auth(&long, &long);
        let request = sent(&mut t);
        assert_eq!(
            (request.len(), request[1], request[257]),
            (3 + 510, 255, 255)
        );
    }

    #[test]
    fn credentials_over_255_bytes_are_refused() {
        let long = "x".repeat(256);
        for creds in [
            Credentials::new(&*long, "hunter2"),
            Credentials::new("hunter2", &*long),
        ] {
            let e = Socks5::new(addr("1.2.3.4:80").into(), Some(&creds)).unwrap_err();
            assert!(matches!(e, ProxyError::InvalidCredentials { .. }), "{e}");
            assert!(!e.caused_by_proxy());
            let text = format!("{e} {e:?}");
            assert!(text.starts_with("SOCKS5 proxy: "), "{text}");
            assert!(!text.contains("hunter2") && !text.contains("xxx"), "{text}");
        }
    }

    #[test]
    fn authentication_failure() {
        let mut t = with_auth("alice", "hunter2");
        sent(&mut t);
        let e = t.receive(&[1, 1]).unwrap_err();
        assert_eq!(e, ProxyError::Socks5AuthFailed { status: 1 });
        assert_eq!(
            e.to_string(),
            "SOCKS5 proxy: authentication failed (status 0x01)"
        );
        assert_eq!(t.poll_transmit(), None, "no CONNECT after a refusal");
        let mut t = with_auth("alice", "hunter2");
        sent(&mut t);
        assert_eq!(
            t.receive(&[5, 0]),
            Err(ProxyError::Socks5WrongVersion {
                phase: Socks5Phase::Authentication,
                got: 5
            })
        );
    }

    #[test]
    fn debug_never_shows_the_credentials() {
        let creds = Credentials::new("alice", "hunter2");
        let target = Socks5Target::domain("example.com", 443);
        let mut t = Socks5::new(target, Some(&creds)).unwrap();
        let mut texts = vec![format!("{t:?}")];
        sent(&mut t);
        assert_eq!(t.receive(&[5, 2]), Ok(Progress::NeedMore));
        // The auth request is queued, unwritten.
        texts.push(format!("{t:?}"));
        texts.push(format!("{:#?}", Tunnel::from(t)));
        let mut t = with_auth("alice", "hunter2");
        sent(&mut t);
        let e = t.receive(&[1, 0xFF]).unwrap_err();
        texts.extend([format!("{t:?}"), format!("{e:?}"), e.to_string()]);
        for text in texts {
            for secret in ["alice", "hunter2"] {
                assert!(!text.contains(secret), "{text}");
            }
        }
    }

    // ---- section 4: the CONNECT request -----------------------------------

    #[test]
    fn connect_request_for_each_address_type() {
        for (target, request) in [
            (
                Socks5Target::from(addr("192.0.2.1:443")),
                vec![5, 1, 0, 1, 192, 0, 2, 1, 1, 187],
            ),
            (
                addr("[2001:db8::1]:8080").into(),
                [
                    &[5, 1, 0, 4, 0x20, 0x01, 0x0d, 0xb8][..],
                    &[0; 11],
                    &[1, 0x1f, 0x90],
                ]
                .concat(),
            ),
            (
                Socks5Target::domain("ws.example", 80),
                b"\x05\x01\x00\x03\x0aws.example\x00\x50".to_vec(),
            ),
            // A domain that is an address goes as one.
            (
                Socks5Target::domain("10.0.0.1", 80),
                vec![5, 1, 0, 1, 10, 0, 0, 1, 0, 80],
            ),
            (
                Socks5Target::domain("[::1]", 80),
                [&[5, 1, 0, 4][..], &[0; 15], &[1, 0, 80]].concat(),
            ),
        ] {
            let mut t = no_auth(target.clone());
            assert_eq!(sent(&mut t), request, "{target}");
        }
    }

    #[test]
    fn domain_targets_are_checked() {
        let longest = format!("{}.com", "a".repeat(251));
        let mut t = no_auth(Socks5Target::domain(&*longest, 1));
        assert_eq!(sent(&mut t)[4], 255);
        for (host, error) in [
            (
                format!("{}.com", "a".repeat(252)),
                HostError::TooLong { len: 256 },
            ),
            (String::new(), HostError::Empty),
            ("a\r\nb".into(), HostError::InvalidCharacter),
            ("a b".into(), HostError::InvalidCharacter),
        ] {
            assert_eq!(
                Socks5::new(Socks5Target::domain(host, 1), None).unwrap_err(),
                ProxyError::InvalidTarget {
                    protocol: ProxyProtocol::Socks5,
                    error
                }
            );
        }
    }

    // ---- section 6: replies -----------------------------------------------

    #[test]
    fn every_reply_code() {
        let texts = [
            "general SOCKS server failure",
            "connection not allowed by ruleset",
            "network unreachable",
            "host unreachable",
            "connection refused by destination host",
            "TTL expired",
            "command not supported",
            "address type not supported",
        ];
        for (code, text) in (1..=8).zip(texts) {
            // Refused as soon as the code arrives, the rest unread.
            let mut t = awaiting_reply(addr("1.2.3.4:80").into());
            let e = t.receive(&[5, code]).unwrap_err();
            assert_eq!(e, ProxyError::Socks5Refused(Socks5Reply(code)));
            assert_eq!(
                e.to_string(),
                format!("SOCKS5 proxy: {text} (reply {code:#04x})")
            );
            assert_eq!(t.receive_eof(), Err(e.clone()), "sticky");
            let mut t = awaiting_reply(addr("1.2.3.4:80").into());
            assert_eq!(t.receive(&reply(code)), Err(e));
        }
        for code in [0x09, 0x7F, 0xFF] {
            let e = awaiting_reply(addr("1.2.3.4:80").into())
                .receive(&reply(code))
                .unwrap_err();
            assert_eq!(e, ProxyError::Socks5Refused(Socks5Reply(code)));
            assert_eq!(
                e.to_string(),
                format!("SOCKS5 proxy: unknown failure (reply {code:#04x})")
            );
        }
        assert_eq!(Socks5Reply::CONNECTION_REFUSED, Socks5Reply(5));
        assert_eq!(Socks5Reply::SUCCEEDED.reason(), Some("succeeded"));
    }

    #[test]
    fn bound_address_of_each_type() {
        let v6 = [&[5, 0, 0, 4][..], &[0xfe, 0x80], &[0; 13], &[7], &[0, 22]].concat();
        let empty_domain = [5, 0, 0, 3, 0, 0, 22];
        let long_domain = [&[5, 0, 0, 3, 255][..], &[b'd'; 255], &[1, 0]].concat();
        for (reply, bound) in [
            (REPLY_V4.to_vec(), Socks5Target::from(addr("10.0.0.9:4321"))),
            (v6, addr("[fe80::7]:22").into()),
            (
                b"\x05\x00\x00\x03\x09proxy.lan\x04\x38".to_vec(),
                Socks5Target::domain("proxy.lan", 1080),
            ),
            (empty_domain.to_vec(), Socks5Target::domain("", 22)),
            (long_domain, Socks5Target::domain("d".repeat(255), 256)),
        ] {
            let mut t = awaiting_reply(addr("1.2.3.4:80").into());
            let mut input = reply.clone();
            input.extend_from_slice(b"tail");
            assert_eq!(t.receive(&input), established(b"tail"));
            assert_eq!(t.bound_addr(), Some(&bound));
        }
    }

    #[test]
    fn reserved_byte_is_ignored() {
        let mut t = awaiting_reply(addr("1.2.3.4:80").into());
        let mut r = REPLY_V4.to_vec();
        r[2] = 0xAA;
        assert_eq!(t.receive(&r), established(b""));
    }

    #[test]
    fn unknown_address_type() {
        for atyp in [0, 2, 5, 0xFF] {
            let mut t = awaiting_reply(addr("1.2.3.4:80").into());
            let e = t.receive(&[5, 0, 0, atyp, 1, 2, 3, 4, 5, 6]).unwrap_err();
            assert_eq!(e, ProxyError::Socks5UnknownAddressType(atyp));
            assert!(
                e.to_string()
                    .starts_with("SOCKS5 proxy: unknown address type")
            );
        }
    }

    #[test]
    fn leftover_bytes_are_kept() {
        let mut t = awaiting_reply(addr("1.2.3.4:80").into());
        let mut input = REPLY_V4.to_vec();
        input.extend_from_slice(b"\x16\x03\x01HTTP/1.1 101");
        assert_eq!(t.receive(&input), established(b"\x16\x03\x01HTTP/1.1 101"));
        assert_eq!(t.receive(b"more"), established(b"more"));
        assert_eq!(t.receive_eof(), Ok(()));
    }

    #[test]
    fn closing_mid_answer() {
        let mut t = Socks5::new(addr("1.2.3.4:80").into(), None).unwrap();
        sent(&mut t);
        assert_eq!(t.receive(&[5]), Ok(Progress::NeedMore));
        let e = t.receive_eof().unwrap_err();
        assert_eq!(e, ProxyError::Socks5Closed(Socks5Phase::MethodSelection));
        assert_eq!(t.receive(&[0]), Err(e));

        let mut t = with_auth("u", "p");
        assert_eq!(
            t.receive_eof(),
            Err(ProxyError::Socks5Closed(Socks5Phase::Authentication))
        );

        let mut t = awaiting_reply(addr("1.2.3.4:80").into());
        assert_eq!(t.receive(&REPLY_V4[..9]), Ok(Progress::NeedMore));
        let e = t.receive_eof().unwrap_err();
        assert_eq!(e, ProxyError::Socks5Closed(Socks5Phase::Connect));
        assert_eq!(
            e.to_string(),
            "SOCKS5 proxy closed the connection before its CONNECT reply was complete"
        );
    }

    // ---- answers before their request --------------------------------------

    #[test]
    fn method_and_connect_replies_in_one_read_are_answered_early() {
        // The CONNECT reply came with the method reply, before the CONNECT
        // request it answers could be written: the proxy did not wait.
        for connect_reply in [REPLY_V4, &REPLY_V4[..1]] {
            let mut t = Socks5::new(addr("1.2.3.4:80").into(), None).unwrap();
            sent(&mut t);
            let input = [&[5, 0][..], connect_reply].concat();
            let e = t.receive(&input).unwrap_err();
            assert_eq!(e, answered_early());
            assert!(e.caused_by_proxy());
            assert_eq!(
                e.to_string(),
                "SOCKS5 proxy answered before the request was sent"
            );
            // Sticky: the CONNECT request is never sent, no tunnel opens.
            assert_eq!(t.receive(REPLY_V4), Err(e.clone()));
            assert_eq!(t.receive(&[]), Err(e.clone()));
            assert_eq!(t.receive_eof(), Err(e));
            assert_eq!(t.poll_transmit(), None);
            assert!(!t.is_established());
            assert_eq!(t.bound_addr(), None);
        }
    }

    #[test]
    fn a_reply_before_its_request_is_written_is_answered_early() {
        // Before the greeting was written, then with its last byte unwritten.
        for written in [0, 2] {
            let mut t = Socks5::new(addr("1.2.3.4:80").into(), None).unwrap();
            t.advance_transmit(written);
            assert_eq!(t.receive(&[5]), Err(answered_early()), "{written}");
            assert_eq!(
                t.poll_transmit(),
                None,
                "the greeting is not sent after all"
            );
            assert!(!t.is_established());
        }
        // Before the CONNECT request, before the auth request.
        let mut t = no_auth(addr("1.2.3.4:80").into());
        assert_eq!(t.receive(REPLY_V4), Err(answered_early()));
        let mut t = with_auth("alice", "hunter2");
        assert_eq!(t.receive(&[1, 0]), Err(answered_early()));
        assert_eq!(t.poll_transmit(), None, "the password is never sent");
        // An empty read is no answer.
        let mut t = Socks5::new(addr("1.2.3.4:80").into(), None).unwrap();
        assert_eq!(t.receive(&[]), Ok(Progress::NeedMore));
        assert_eq!(sent(&mut t), [5, 1, 0]);
        assert_eq!(t.receive(&[5, 0]), Ok(Progress::NeedMore));
    }

    #[test]
    fn auth_and_connect_replies_in_one_read_are_answered_early() {
        let mut t = with_auth("alice", "hunter2");
        assert_eq!(sent(&mut t), b"\x01\x05alice\x07hunter2");
        let input = [&[1, 0][..], REPLY_V4].concat();
        assert_eq!(t.receive(&input), Err(answered_early()));
        assert_eq!(t.receive(REPLY_V4), Err(answered_early()), "sticky");
        assert_eq!(t.poll_transmit(), None, "the CONNECT request is never sent");
        assert!(!t.is_established());
        // The method and auth replies in one read: the auth request, with
        // the password, is never sent either, nor shown.
        let creds = Credentials::new("alice", "hunter2");
        let mut t = Socks5::new(Socks5Target::domain("example.com", 443), Some(&creds)).unwrap();
        sent(&mut t);
        assert_eq!(t.receive(&[5, 2, 1, 0]), Err(answered_early()));
        assert_eq!(t.poll_transmit(), None);
        assert!(!format!("{t:?}").contains("hunter2"));
        // The whole scripted answer in one read, as the fuzzer fed it: an
        // error, not a tunnel whose CONNECT request was never sent.
        let mut t = Socks5::new(Socks5Target::domain("example.com", 443), Some(&creds)).unwrap();
        sent(&mut t);
        assert_eq!(
            t.receive(&scripted_answer().0.concat()),
            Err(answered_early())
        );
        assert!(!t.is_established());
    }

    // ---- splits and memory ------------------------------------------------

    /// The scripted answer of a proxy that asks for credentials and binds a
    /// domain, one reply per phase, the last followed by the target's first
    /// bytes: each reply is read only after the request it answers is
    /// written, as the proxy sends it only then.
    fn scripted_answer() -> ([Vec<u8>; 3], &'static [u8]) {
        let leftover: &[u8] = b"\x05\x00HTTP/1.1 101 Switching Protocols\r\n";
        let phases = [
            vec![5, 2],
            vec![1, 0],
            [b"\x05\x00\x00\x03\x0bproxy.local\x04\x38", leftover].concat(),
        ];
        (phases, leftover)
    }

    /// Runs the exchange over the pieces, writing all that is queued before
    /// each read as a driver does; returns the leftover of all calls
    /// together, the tunnel, and all that was written. No piece may span
    /// two phases: that is an answer before its request.
    fn feed(pieces: &[&[u8]]) -> (Vec<u8>, Socks5, Vec<u8>) {
        let creds = Credentials::new("user", "pass");
        let mut t = Socks5::new(Socks5Target::domain("example.com", 443), Some(&creds)).unwrap();
        let mut written = Vec::new();
        let mut leftover = Vec::new();
        for piece in pieces {
            written.extend_from_slice(&sent(&mut t));
            match t.receive(piece) {
                Ok(Progress::Established { leftover: l }) => leftover.extend_from_slice(&l),
                Ok(Progress::NeedMore) => {}
                Err(e) => panic!("{e}"),
            }
            assert!(t.out.capacity() <= 64, "{}", t.out.capacity());
        }
        written.extend_from_slice(&sent(&mut t));
        (leftover, t, written)
    }

    /// Every way to cut `len` bytes in three pieces (empty ones included).
    fn three_pieces(len: usize) -> impl Iterator<Item = (usize, usize)> + Clone {
        (0..=len).flat_map(move |a| (a..=len).map(move |b| (a, b)))
    }

    #[test]
    fn one_byte_at_a_time() {
        let (phases, expected) = scripted_answer();
        let pieces: Vec<&[u8]> = phases.iter().flat_map(|p| p.chunks(1)).collect();
        let (leftover, t, written) = feed(&pieces);
        assert_eq!(leftover, expected);
        assert_eq!(
            t.bound_addr(),
            Some(&Socks5Target::domain("proxy.local", 1080))
        );
        assert_eq!(
            written,
            b"\x05\x02\x00\x02\x01\x04user\x04pass\x05\x01\x00\x03\x0bexample.com\x01\xbb"
        );
    }

    #[test]
    fn every_split_point() {
        // Each phase's reply cut in three anywhere, the last one with the
        // leftover bytes, in every combination; no read spans two phases.
        let (phases, expected) = scripted_answer();
        let whole: Vec<&[u8]> = phases.iter().map(Vec::as_slice).collect();
        let (_, whole, whole_written) = feed(&whole);
        let [p0, p1, p2] = &phases;
        fn cut(p: &[u8], (a, b): (usize, usize)) -> [&[u8]; 3] {
            [&p[..a], &p[a..b], &p[b..]]
        }
        for c0 in three_pieces(p0.len()) {
            for c1 in three_pieces(p1.len()) {
                for c2 in three_pieces(p2.len()) {
                    let pieces = [cut(p0, c0), cut(p1, c1), cut(p2, c2)].concat();
                    let (leftover, t, written) = feed(&pieces);
                    assert_eq!(leftover, expected, "split {c0:?} {c1:?} {c2:?}");
                    assert_eq!(t.bound_addr(), whole.bound_addr());
                    assert_eq!(written, whole_written);
                }
            }
        }
    }

    #[test]
    fn memory_is_bounded_by_the_largest_answer() {
        assert_eq!(MAX_REPLY, 262);
        // The largest reply, then 1 MiB of tunnel bytes: the answer is read
        // into a fixed (boxed) array and the rest is handed back, not kept.
        let mut input = [&[5, 0, 0, 3, 255][..], &[b'd'; 255], &[1, 0]].concat();
        input.extend(std::iter::repeat_n(0xAB, 1 << 20));
        let mut t = no_auth(addr("1.2.3.4:80").into());
        sent(&mut t);
        let Ok(Progress::Established { leftover }) = t.receive(&input) else {
            panic!("not established");
        };
        assert_eq!(leftover.len(), 1 << 20);
        assert!(
            t.out.capacity() <= 16,
            "the written CONNECT request, cleared"
        );
        assert!(size_of::<Socks5>() <= 256, "{}", size_of::<Socks5>());
    }

    proptest! {
        /// Each phase's reply cut anywhere (the last one with the leftover
        /// bytes), each read after the request it answers is written.
        #[test]
        fn any_split_gives_the_same_outcome(
            with_credentials in any::<bool>(),
            atyp in prop::sample::select(vec![ATYP_IPV4, ATYP_DOMAIN, ATYP_IPV6]),
            domain in "[a-z0-9.-]{0,255}",
            port in any::<u16>(),
            leftover in proptest::collection::vec(any::<u8>(), 0..100),
            cuts in proptest::collection::vec(
                proptest::collection::vec(any::<prop::sample::Index>(), 0..10),
                3,
            ),
        ) {
            let mut phases = if with_credentials {
                vec![vec![5, 2], vec![1, 0]]
            } else {
                vec![vec![5, 0]]
            };
            let mut reply = vec![5, 0, 0, atyp];
            match atyp {
                ATYP_IPV4 => reply.extend_from_slice(&[10, 1, 2, 3]),
                ATYP_IPV6 => reply.extend_from_slice(&[0x20; 16]),
                _ => {
                    reply.push(domain.len() as u8);
                    reply.extend_from_slice(domain.as_bytes());
                }
            }
            reply.extend_from_slice(&port.to_be_bytes());
            let reply_end = reply.len();
            reply.extend_from_slice(&leftover);
            phases.push(reply);

            let run = |pieces: &[&[u8]]| {
                let creds = Credentials::new("u", "p");
                let mut t = Socks5::new(
                    Socks5Target::domain("example.com", 443),
                    with_credentials.then_some(&creds),
                )
                .unwrap();
                let mut got = Vec::new();
                for piece in pieces {
                    sent(&mut t);
                    if let Progress::Established { leftover } = t.receive(piece).unwrap() {
                        got.extend_from_slice(&leftover);
                    }
                }
                (got, t.is_established(), t.bound_addr().cloned())
            };
            let mut pieces = Vec::new();
            for (phase, cuts) in phases.iter().zip(&cuts) {
                let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(phase.len() + 1)).collect();
                cuts.sort_unstable();
                let mut from = 0;
                for cut in cuts {
                    pieces.push(&phase[from..cut]);
                    from = cut;
                }
                pieces.push(&phase[from..]);
            }
            let whole: Vec<&[u8]> = phases.iter().map(Vec::as_slice).collect();
            let whole = run(&whole);
            prop_assert_eq!(&whole.0, &leftover);
            prop_assert!(whole.1);
            prop_assert_eq!(whole.2.as_ref().map(Socks5Target::port), Some(port));
            prop_assert_eq!(run(&pieces), whole);
            prop_assert_eq!(reply_end + leftover.len(), phases.last().map_or(0, Vec::len));
        }
    }
}
