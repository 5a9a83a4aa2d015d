//! Frame header encoding and decoding (RFC 6455 section 5.2).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! ```

use crate::error::ProtocolError;

/// The longest header: 2 bytes, 8 of extended length, 4 of masking key.
pub const MAX_HEADER_LEN: usize = 14;

/// A frame opcode (RFC 6455 section 5.2); reserved opcodes are refused when
/// parsing, so every value here is defined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// 0x0: continues a fragmented message.
    Continuation,
    /// 0x1: the first frame of a text message.
    Text,
    /// 0x2: the first frame of a binary message.
    Binary,
    /// 0x8: starts or answers the closing handshake.
    Close,
    /// 0x9: asks for a pong.
    Ping,
    /// 0xA: answers a ping, or a unilateral heartbeat.
    Pong,
}

impl OpCode {
    /// Decodes the 4-bit opcode; `None` for the reserved values.
    pub fn from_bits(bits: u8) -> Option<Self> {
        Some(match bits {
            0x0 => Self::Continuation,
            0x1 => Self::Text,
            0x2 => Self::Binary,
            0x8 => Self::Close,
            0x9 => Self::Ping,
            0xA => Self::Pong,
            _ => return None,
        })
    }

    /// The 4-bit wire value.
    pub fn bits(self) -> u8 {
        match self {
            Self::Continuation => 0x0,
            Self::Text => 0x1,
            Self::Binary => 0x2,
            Self::Close => 0x8,
            Self::Ping => 0x9,
            Self::Pong => 0xA,
        }
    }

    /// Close, ping and pong are control frames (section 5.5).
    pub fn is_control(self) -> bool {
        matches!(self, Self::Close | Self::Ping | Self::Pong)
    }
}

/// A decoded frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// The final fragment of a message.
    pub fin: bool,
    /// RSV1, RSV2, RSV3 as the three low bits (RSV1 = 0b100).
    pub rsv: u8,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, present on every client-to-server frame.
    pub mask: Option<[u8; 4]>,
    /// The payload length.
    pub payload_len: u64,
}

impl FrameHeader {
    /// Decodes a header from the start of `buf`.
    ///
    /// Returns `Ok(None)` while `buf` is too short (partial input is not an
    /// error), or the header and its length in bytes. Fails on a reserved
    /// opcode or a 64-bit length with the high bit set; every other rule
    /// (RSV bits, masking direction, control frame sizes) depends on the
    /// connection and is checked there.
    pub fn parse(buf: &[u8]) -> Result<Option<(Self, usize)>, ProtocolError> {
        let [b0, b1, ..] = *buf else { return Ok(None) };
        let opcode =
            OpCode::from_bits(b0 & 0x0F).ok_or(ProtocolError::ReservedOpcode(b0 & 0x0F))?;
        let masked = b1 & 0x80 != 0;
        let (payload_len, mut len) = match b1 & 0x7F {
            126 => match buf.get(2..4) {
                Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
                None => return Ok(None),
            },
            127 => match buf.get(2..10) {
                Some(b) => {
                    let n = u64::from_be_bytes(b.try_into().expect("8 bytes"));
                    if n >> 63 != 0 {
                        return Err(ProtocolError::InvalidPayloadLength);
                    }
                    (n, 10)
                }
                None => return Ok(None),
            },
            n => (u64::from(n), 2),
        };
        let mask = if masked {
            match buf.get(len..len + 4) {
                Some(k) => {
                    len += 4;
                    Some([k[0], k[1], k[2], k[3]])
                }
                None => return Ok(None),
            }
        } else {
            None
        };
        let header = Self {
            fin: b0 & 0x80 != 0,
            rsv: (b0 >> 4) & 0x7,
            opcode,
            mask,
            payload_len,
        };
        Ok(Some((header, len)))
    }

    /// The encoded length of this header.
    pub fn encoded_len(&self) -> usize {
        let len = match self.payload_len {
            0..=125 => 2,
            126..=0xFFFF => 4,
            _ => 10,
        };
        len + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Encodes this header, with the shortest length encoding, into `out`,
    /// and returns how many bytes it wrote.
    pub fn encode(&self, out: &mut [u8; MAX_HEADER_LEN]) -> usize {
        out[0] = (u8::from(self.fin) << 7) | ((self.rsv & 0x7) << 4) | self.opcode.bits();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut len = match self.payload_len {
            n @ 0..=125 => {
                out[1] = mask_bit | n as u8;
                2
            }
            n @ 126..=0xFFFF => {
                out[1] = mask_bit | 126;
                out[2..4].copy_from_slice(&(n as u16).to_be_bytes());
                4
            }
            n => {
                out[1] = mask_bit | 127;
                out[2..10].copy_from_slice(&n.to_be_bytes());
                10
            }
        };
        if let Some(key) = self.mask {
            out[len..len + 4].copy_from_slice(&key);
            len += 4;
        }
        len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(opcode: OpCode, len: u64, mask: Option<[u8; 4]>) -> FrameHeader {
        FrameHeader {
            fin: true,
            rsv: 0,
            opcode,
            mask,
            payload_len: len,
        }
    }

    #[test]
    fn length_classes_round_trip_with_minimal_encoding() {
        for (len, expected) in [
            (0, 2),
            (125, 2),
            (126, 4),
            (0xFFFF, 4),
            (0x1_0000, 10),
            (1 << 62, 10),
        ] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let h = header(OpCode::Binary, len, mask);
                let mut out = [0; MAX_HEADER_LEN];
                let n = h.encode(&mut out);
                assert_eq!(n, expected + if mask.is_some() { 4 } else { 0 });
                assert_eq!(n, h.encoded_len());
                assert_eq!(FrameHeader::parse(&out[..n]), Ok(Some((h, n))));
                for short in 0..n {
                    assert_eq!(
                        FrameHeader::parse(&out[..short]),
                        Ok(None),
                        "prefix {short} of {len}"
                    );
                }
            }
        }
    }

    #[test]
    fn reserved_opcodes_are_refused() {
        for op in [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            assert_eq!(
                FrameHeader::parse(&[0x80 | op, 0]),
                Err(ProtocolError::ReservedOpcode(op))
            );
        }
    }

    #[test]
    fn sixty_four_bit_length_with_high_bit_is_refused() {
        let mut buf = vec![0x82, 127];
        buf.extend_from_slice(&(1u64 << 63).to_be_bytes());
        assert_eq!(
            FrameHeader::parse(&buf),
            Err(ProtocolError::InvalidPayloadLength)
        );
    }

    #[test]
    fn rsv_and_fin_bits_are_decoded() {
        let (h, _) = FrameHeader::parse(&[0x71, 0]).unwrap().unwrap();
        assert!(!h.fin);
        assert_eq!(h.rsv, 0b111);
        assert_eq!(h.opcode, OpCode::Text);
    }
}
