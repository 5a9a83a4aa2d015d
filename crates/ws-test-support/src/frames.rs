//! Frames (RFC 6455 section 5.2) by hand: any first byte, so every rule can
//! be broken, lengths in their shortest form, masked or not; and the other
//! way, byte streams and sockets decoded into [`Frame`]s.

use std::io::{self, Read};

/// The opcodes of RFC 6455 section 5.2, as the low nibble of the first byte.
pub mod op {
    /// A continuation frame.
    pub const CONTINUATION: u8 = 0x0;
    /// A text frame.
    pub const TEXT: u8 = 0x1;
    /// A binary frame.
    pub const BINARY: u8 = 0x2;
    /// A close frame.
    pub const CLOSE: u8 = 0x8;
    /// A ping.
    pub const PING: u8 = 0x9;
    /// A pong.
    pub const PONG: u8 = 0xA;
}

/// The FIN bit of the first byte.
pub const FIN: u8 = 0x80;

/// XORs `data` with `key`, the first byte with `key[0]`.
pub fn apply_mask(data: &mut [u8], key: [u8; 4]) {
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
}

/// Appends a frame header announcing `len` payload bytes: `first` is the
/// first byte as is (FIN, RSV and opcode bits), so every rule can be
/// broken, the length takes its shortest form, and `mask`'s key follows
/// when given. The caller appends the payload (masked with that key).
pub fn push_header(out: &mut Vec<u8>, first: u8, len: u64, mask: Option<[u8; 4]>) {
    out.push(first);
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match len {
        0..=125 => out.push(mask_bit | len as u8),
        126..=0xFFFF => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
    if let Some(key) = mask {
        out.extend_from_slice(&key);
    }
}

/// Appends one whole frame to `out`: [`push_header`], then the payload,
/// masked with `mask` when given (as a client sends).
pub fn push(out: &mut Vec<u8>, first: u8, payload: &[u8], mask: Option<[u8; 4]>) {
    push_header(out, first, payload.len() as u64, mask);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        apply_mask(&mut out[start..], key);
    }
}

/// One frame as [`push`] writes it.
pub fn encode(first: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    push(&mut out, first, payload, mask);
    out
}

/// A final, unmasked frame (as a server sends it) of `opcode`.
pub fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    encode(FIN | opcode, payload, None)
}

/// A frame as it was on the wire, its payload unmasked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The FIN bit.
    pub fin: bool,
    /// The three RSV bits, lowest bit RSV3.
    pub rsv: u8,
    /// The opcode nibble as sent (reserved ones too).
    pub opcode: u8,
    /// Whether it carried a masking key.
    pub masked: bool,
    /// The payload, unmasked.
    pub payload: Vec<u8>,
}

impl Frame {
    /// The first byte as it was on the wire (FIN, RSV, opcode).
    pub fn first_byte(&self) -> u8 {
        (u8::from(self.fin) << 7) | (self.rsv << 4) | self.opcode
    }

    /// The close code of a close frame, if it has one.
    pub fn close_code(&self) -> Option<u16> {
        (self.opcode == op::CLOSE && self.payload.len() >= 2)
            .then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }
}

/// The first frame of `bytes` and its length on the wire; `None` while it
/// is incomplete.
pub fn parse_one(bytes: &[u8]) -> Option<(Frame, usize)> {
    let [b0, b1, ..] = *bytes else { return None };
    let (len, mut at) = match b1 & 0x7F {
        126 => (
            u64::from(u16::from_be_bytes(bytes.get(2..4)?.try_into().ok()?)),
            4,
        ),
        127 => (u64::from_be_bytes(bytes.get(2..10)?.try_into().ok()?), 10),
        n => (u64::from(n), 2),
    };
    let mask = if b1 & 0x80 != 0 {
        let key: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        at += 4;
        Some(key)
    } else {
        None
    };
    let end = at.checked_add(usize::try_from(len).ok()?)?;
    let mut payload = bytes.get(at..end)?.to_vec();
    if let Some(key) = mask {
        apply_mask(&mut payload, key);
    }
    let frame = Frame {
        fin: b0 & 0x80 != 0,
        rsv: (b0 >> 4) & 0x07,
        opcode: b0 & 0x0F,
        masked: mask.is_some(),
        payload,
    };
    Some((frame, end))
}

/// Every frame of a byte stream of complete frames; panics on a cut one.
pub fn parse(mut bytes: &[u8]) -> Vec<Frame> {
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        let (frame, n) = parse_one(bytes).expect("a complete frame");
        frames.push(frame);
        bytes = &bytes[n..];
    }
    frames
}

/// The close code of the first close frame in `bytes`, if any (a cut frame
/// at the end ends the search).
pub fn first_close_code(mut bytes: &[u8]) -> Option<u16> {
    while let Some((frame, n)) = parse_one(bytes) {
        if frame.opcode == op::CLOSE {
            return frame.close_code();
        }
        bytes = &bytes[n..];
    }
    None
}

/// Reads one whole frame off `stream` (bounded by its read timeout).
pub fn read_frame(stream: &mut impl Read) -> io::Result<Frame> {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head)?;
    let len = match head[1] & 0x7F {
        126 => {
            let mut n = [0u8; 2];
            stream.read_exact(&mut n)?;
            u64::from(u16::from_be_bytes(n))
        }
        127 => {
            let mut n = [0u8; 8];
            stream.read_exact(&mut n)?;
            u64::from_be_bytes(n)
        }
        n => u64::from(n),
    };
    let mask = if head[1] & 0x80 != 0 {
        let mut key = [0u8; 4];
        stream.read_exact(&mut key)?;
        Some(key)
    } else {
        None
    };
    let len = usize::try_from(len).map_err(|_| io::Error::other("frame too large"))?;
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload)?;
    if let Some(key) = mask {
        apply_mask(&mut payload, key);
    }
    Ok(Frame {
        fin: head[0] & 0x80 != 0,
        rsv: (head[0] >> 4) & 0x07,
        opcode: head[0] & 0x0F,
        masked: mask.is_some(),
        payload,
    })
}

/// Reads one whole frame a client sent (bounded by the stream's read
/// timeout); an unmasked one is an error (`InvalidData`), as RFC 6455
/// section 5.1 makes it for a server.
pub fn read_client_frame(stream: &mut impl Read) -> io::Result<Frame> {
    let frame = read_frame(stream)?;
    if !frame.masked {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "an unmasked client frame",
        ));
    }
    Ok(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_length_form_round_trips_masked_and_not() {
        for len in [0, 125, 126, 0xFFFF, 0x1_0000] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
                let bytes = encode(op::BINARY, &payload, mask);
                let expected = Frame {
                    fin: false,
                    rsv: 0,
                    opcode: op::BINARY,
                    masked: mask.is_some(),
                    payload,
                };
                assert_eq!(parse(&bytes), std::slice::from_ref(&expected));
                assert_eq!(read_frame(&mut &bytes[..]).unwrap(), expected);
                assert_eq!(read_client_frame(&mut &bytes[..]).is_ok(), mask.is_some());
                assert_eq!(expected.first_byte(), op::BINARY);
                assert_eq!(parse_one(&bytes[..bytes.len() - 1]), None);
            }
        }
    }

    #[test]
    fn the_first_close_code_is_found_after_other_frames() {
        let mut bytes = server_frame(op::TEXT, b"hi");
        push(
            &mut bytes,
            FIN | op::CLOSE,
            &1001u16.to_be_bytes(),
            Some([9; 4]),
        );
        assert_eq!(first_close_code(&bytes), Some(1001));
        assert_eq!(first_close_code(&bytes[..bytes.len() - 1]), None);
    }
}
