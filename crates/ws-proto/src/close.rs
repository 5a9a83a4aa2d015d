//! Close codes (RFC 6455 section 7.4) and the close frame payload (section 5.5.1).

use std::fmt;

use crate::error::ProtocolError;

/// A WebSocket close status code (RFC 6455 section 7.4).
///
/// Any `u16` is representable, so codes from the registered range (1000-2999),
/// the library range (3000-3999) and the private range (4000-4999) all fit;
/// [`CloseCode::is_valid_on_wire`] says whether a code may appear in a close
/// frame at all.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: normal closure; the purpose of the connection is fulfilled.
    pub const NORMAL: Self = Self(1000);
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: Self = Self(1001);
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL_ERROR: Self = Self(1002);
    /// 1003: the endpoint received a type of data it cannot accept.
    pub const UNSUPPORTED_DATA: Self = Self(1003);
    /// 1005: reserved; reported when a close frame carried no status code.
    /// Never sent on the wire.
    pub const NO_STATUS_RECEIVED: Self = Self(1005);
    /// 1006: reserved; reported when the transport ended without a close
    /// frame. Never sent on the wire.
    pub const ABNORMAL: Self = Self(1006);
    /// 1007: a message's data was inconsistent with its type (bad UTF-8 in a
    /// text message).
    pub const INVALID_PAYLOAD: Self = Self(1007);
    /// 1008: a message violated the endpoint's policy.
    pub const POLICY_VIOLATION: Self = Self(1008);
    /// 1009: a message was too big to process.
    pub const MESSAGE_TOO_BIG: Self = Self(1009);
    /// 1010: (client) the server did not negotiate a required extension.
    pub const MANDATORY_EXTENSION: Self = Self(1010);
    /// 1011: (server) an unexpected condition prevented it from fulfilling the request.
    pub const INTERNAL_ERROR: Self = Self(1011);
    /// 1012: the service is restarting (IANA registry).
    pub const SERVICE_RESTART: Self = Self(1012);
    /// 1013: try again later (IANA registry).
    pub const TRY_AGAIN_LATER: Self = Self(1013);
    /// 1014: a gateway received an invalid response (IANA registry).
    pub const BAD_GATEWAY: Self = Self(1014);
    /// 1015: reserved; the TLS handshake failed. Never sent on the wire.
    pub const TLS_HANDSHAKE: Self = Self(1015);

    /// Whether this code may appear in a close frame (RFC 6455 section 7.4 and
    /// the IANA registry): 1000-1003, 1007-1014 and 3000-4999.
    ///
    /// A received close frame with any other code is a protocol error (1002).
    pub fn is_valid_on_wire(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }

    /// A short English name for registered codes, `None` for the others.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1000 => "normal closure",
            1001 => "going away",
            1002 => "protocol error",
            1003 => "unsupported data",
            1005 => "no status received",
            1006 => "abnormal closure",
            1007 => "invalid payload data",
            1008 => "policy violation",
            1009 => "message too big",
            1010 => "mandatory extension",
            1011 => "internal error",
            1012 => "service restart",
            1013 => "try again later",
            1014 => "bad gateway",
            1015 => "TLS handshake failure",
            _ => return None,
        })
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        Self(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> Self {
        code.0
    }
}

impl fmt::Debug for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{} ({name})", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

/// The longest close reason that fits a control frame: 125 bytes of payload
/// minus the two-byte code.
pub const MAX_CLOSE_REASON: usize = 123;

/// The payload of a close frame: a status code and a UTF-8 reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status code.
    pub code: CloseCode,
    /// The reason, at most [`MAX_CLOSE_REASON`] bytes of UTF-8.
    pub reason: String,
}

/// Parses a received close payload (RFC 6455 section 5.5.1).
///
/// An empty payload is `Ok(None)`: the peer gave no code (reported as 1005).
pub(crate) fn parse_close_payload(payload: &[u8]) -> Result<Option<CloseFrame>, ProtocolError> {
    match payload {
        [] => Ok(None),
        [_] => Err(ProtocolError::CloseFrameTooShort),
        [hi, lo, reason @ ..] => {
            let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
            if !code.is_valid_on_wire() {
                return Err(ProtocolError::InvalidCloseCode(code.0));
            }
            let reason = simdutf8::basic::from_utf8(reason)
                .map_err(|_| ProtocolError::InvalidCloseReason)?;
            Ok(Some(CloseFrame {
                code,
                reason: reason.to_owned(),
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_codes_follow_section_7_4_and_the_iana_registry() {
        for code in 0..=u16::MAX {
            let expected = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
            assert_eq!(CloseCode(code).is_valid_on_wire(), expected, "code {code}");
        }
    }

    #[test]
    fn close_payloads() {
        assert_eq!(parse_close_payload(b""), Ok(None));
        assert_eq!(
            parse_close_payload(b"\x03"),
            Err(ProtocolError::CloseFrameTooShort)
        );
        assert_eq!(
            parse_close_payload(b"\x03\xe8bye"),
            Ok(Some(CloseFrame {
                code: CloseCode::NORMAL,
                reason: "bye".into()
            }))
        );
        assert_eq!(
            parse_close_payload(b"\x03\xed"),
            Err(ProtocolError::InvalidCloseCode(1005))
        );
        assert_eq!(
            parse_close_payload(b"\x03\xe8\xff"),
            Err(ProtocolError::InvalidCloseReason)
        );
    }

    #[test]
    fn display_names_registered_codes() {
        assert_eq!(CloseCode::NORMAL.to_string(), "1000 (normal closure)");
        assert_eq!(CloseCode(4000).to_string(), "4000");
    }
}
