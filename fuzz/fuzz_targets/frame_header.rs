//! `FrameHeader::parse` on arbitrary bytes: never panics; a parsed header
//! re-encodes (shortest form) to bytes that parse back to the same header;
//! `Ok(None)` only for short input; errors only for what `parse` owns
//! (reserved opcode, 64-bit length with its top bit set).

#![no_main]

use libfuzzer_sys::fuzz_target;
use ws_proto::ProtocolError;
use ws_proto::frame::header::MAX_HEADER_LEN;
use ws_proto::frame::{FrameHeader, OpCode};

fuzz_target!(|data: &[u8]| {
    match FrameHeader::parse(data) {
        Ok(Some((header, len))) => {
            assert!((2..=MAX_HEADER_LEN).contains(&len), "header length {len}");
            assert!(len <= data.len());
            assert!(header.rsv <= 7);
            assert_eq!(header.fin, data[0] & 0x80 != 0);
            assert_eq!(header.rsv, (data[0] >> 4) & 7);
            assert_eq!(header.opcode.bits(), data[0] & 0x0F);
            assert_eq!(header.mask.is_some(), data[1] & 0x80 != 0);
            assert!(header.payload_len < 1 << 63);
            // The header does not depend on what follows it.
            assert_eq!(FrameHeader::parse(&data[..len]), Ok(Some((header, len))));
            for short in 0..len {
                assert_eq!(
                    FrameHeader::parse(&data[..short]),
                    Ok(None),
                    "a {short}-byte prefix of a {len}-byte header"
                );
            }
            round_trip(&header);
            // The input used the shortest length encoding iff it re-encodes
            // to the same length, and then to the same bytes.
            let mut out = [0u8; MAX_HEADER_LEN];
            let n = header.encode(&mut out);
            assert!(
                n <= len,
                "encoding {n} bytes is longer than the input's {len}"
            );
            if n == len {
                assert_eq!(&out[..n], &data[..len], "same length, different bytes");
            }
        }
        Ok(None) => {
            assert!(
                data.len() < MAX_HEADER_LEN,
                "Ok(None) for {} bytes",
                data.len()
            );
            let needed = match data {
                [] | [_] => 2,
                [_, b1, ..] => {
                    let ext = match b1 & 0x7F {
                        126 => 2,
                        127 => 8,
                        _ => 0,
                    };
                    2 + ext + if b1 & 0x80 != 0 { 4 } else { 0 }
                }
            };
            assert!(
                data.len() < needed,
                "Ok(None) with {} of {needed} bytes",
                data.len()
            );
        }
        Err(ProtocolError::ReservedOpcode(op)) => {
            assert!(data.len() >= 2);
            assert_eq!(op, data[0] & 0x0F);
            assert!(OpCode::from_bits(op).is_none());
        }
        Err(ProtocolError::InvalidPayloadLength) => {
            assert!(data.len() >= 10);
            assert_eq!(data[1] & 0x7F, 127);
            assert!(data[2] & 0x80 != 0);
        }
        Err(e) => panic!("parse returned an error it does not own: {e:?}"),
    }

    // Any header built from the input round-trips too.
    if let [b0, b1, rest @ ..] = data
        && let Some(opcode) = OpCode::from_bits(b0 & 0x0F)
    {
        let mut len = [0u8; 8];
        let n = rest.len().min(8);
        len[..n].copy_from_slice(&rest[..n]);
        let shift = u32::from(b1 & 0x3F);
        let payload_len = (u64::from_le_bytes(len) >> shift.min(63)) & ((1 << 63) - 1);
        let mask = (b1 & 0x40 != 0).then(|| {
            let k = rest.get(8..12).unwrap_or(&[9, 8, 7, 6]);
            [k[0], k[1], k[2], k[3]]
        });
        round_trip(&FrameHeader {
            fin: b0 & 0x80 != 0,
            rsv: (b0 >> 4) & 7,
            opcode,
            mask,
            payload_len,
        });
    }
});

fn round_trip(header: &FrameHeader) {
    let mut out = [0u8; MAX_HEADER_LEN];
    let n = header.encode(&mut out);
    assert_eq!(
        n,
        header.encoded_len(),
        "encode and encoded_len disagree for {header:?}"
    );
    assert_eq!(
        FrameHeader::parse(&out[..n]),
        Ok(Some((*header, n))),
        "{header:?} encoded as {:02x?}",
        &out[..n]
    );
    for short in 0..n {
        assert_eq!(FrameHeader::parse(&out[..short]), Ok(None));
    }
}
