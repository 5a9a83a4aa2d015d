//! Helpers shared by the fuzz targets of `ws-proto`:
//!
//! - [`EventLog`]: checks the documented event order of a connection
//!   (at most one `Open`; then messages, pings, pongs; at most one `Error`,
//!   immediately followed by `Closed`; exactly one `Closed`, last) and that
//!   `state()` agrees with it;
//! - [`Decoder`]: an independent, deliberately simple RFC 6455 frame decoder,
//!   optionally with permessage-deflate (RFC 7692, [`Deflate`]). On a
//!   connection's *output* it checks that every byte is a valid frame (masked
//!   for a client, unmasked for a server); on a connection's *input* it is
//!   the reference the connection's events are compared with;
//! - [`Prng`]: a tiny deterministic generator that turns a few input bytes
//!   into chunk sizes, time steps and commands;
//! - [`start`]: the one `Instant` every simulated clock counts from.

use std::sync::OnceLock;
use std::time::Instant;

use flate2::{Decompress, FlushDecompress, Status};
use ws_proto::frame::{FrameHeader, OpCode};
use ws_proto::{CloseCode, Connection, Error, Event, Message, SpareBuffer, State};

/// The simulated clock's origin: one `Instant::now()` per process.
pub fn start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

// ---- a tiny PRNG ---------------------------------------------------------------

/// xorshift64*: decisions derived from input bytes, not from the OS.
#[derive(Clone, Debug)]
pub struct Prng(u64);

impl Prng {
    /// A generator seeded by `seed` (any value, zero included).
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `1 / n`.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
}

/// How a byte stream is cut into `receive` calls.
#[derive(Clone, Debug)]
pub enum Chunking {
    /// One call with everything.
    Whole,
    /// One byte per call.
    Bytes,
    /// Random sizes in `1..=max`.
    Random(Prng, u64),
}

impl Chunking {
    /// From two bits of mode and a seed.
    pub fn from_mode(mode: u8, seed: u64) -> Self {
        match mode & 3 {
            0 => Self::Whole,
            1 => Self::Bytes,
            2 => Self::Random(Prng::new(seed), 8),
            _ => Self::Random(Prng::new(seed), 300),
        }
    }

    /// Splits `data` into chunks.
    pub fn split<'a>(&mut self, data: &'a [u8]) -> Vec<&'a [u8]> {
        let mut out = Vec::new();
        let mut rest = data;
        while !rest.is_empty() {
            let n = match self {
                Self::Whole => rest.len(),
                Self::Bytes => 1,
                Self::Random(prng, max) => 1 + prng.below(*max) as usize,
            };
            let (chunk, tail) = rest.split_at(n.min(rest.len()));
            out.push(chunk);
            rest = tail;
        }
        out
    }
}

// ---- event order ---------------------------------------------------------------

/// Everything a connection reported, checked against the documented order
/// as it arrives.
#[derive(Debug, Default)]
pub struct EventLog {
    /// Who this is, for messages.
    pub name: &'static str,
    /// Every event, in order.
    pub events: Vec<Event>,
    opened: bool,
    error: Option<Error>,
    last_was_error: bool,
    /// The `Closed` event, once seen.
    pub closed: Option<ws_proto::Closed>,
}

impl EventLog {
    /// An empty log for the connection called `name`.
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            ..Self::default()
        }
    }

    /// Whether `Open` was reported.
    pub fn opened(&self) -> bool {
        self.opened
    }

    /// The `Error` reported, if any.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    /// Checks one event against the order the crate documents.
    pub fn observe(&mut self, event: Event) {
        let name = self.name;
        assert!(
            self.closed.is_none(),
            "{name}: event after Closed: {event:?} (closed: {:?})",
            self.closed
        );
        if self.last_was_error {
            assert!(
                matches!(event, Event::Closed(_)),
                "{name}: Error {:?} not immediately followed by Closed but by {event:?}",
                self.error
            );
        }
        self.last_was_error = false;
        match &event {
            Event::Open(_) => {
                assert!(!self.opened, "{name}: a second Open: {event:?}");
                assert!(
                    self.error.is_none(),
                    "{name}: Open after Error {:?}",
                    self.error
                );
                self.opened = true;
            }
            Event::Message(_) | Event::Ping(_) | Event::Pong(_) => {
                assert!(self.opened, "{name}: {event:?} before Open");
            }
            Event::Error(e) => {
                assert!(
                    self.error.is_none(),
                    "{name}: a second Error {e:?} (the first was {:?})",
                    self.error
                );
                self.error = Some(e.clone());
                self.last_was_error = true;
            }
            Event::Closed(c) => self.closed = Some(c.clone()),
            other => panic!("{name}: an event the harness does not know: {other:?}"),
        }
        self.events.push(event);
    }

    /// Drains `conn.poll_event()`, checking every event, then checks that
    /// `state()` agrees with what was reported. `budget` bounds the number of
    /// events (a decoder stuck returning events would otherwise hang).
    pub fn drain(&mut self, conn: &mut Connection, budget: usize) {
        self.drain_batched(conn, budget, false);
    }

    /// [`drain`](Self::drain), taking whole messages first when `batched`
    /// (as a driver decoding in batches does), in turn with `poll_message`,
    /// lent with `poll_message_ref` (copied out), and lent then kept with
    /// `keep_lent_message`: the same events must come, in the same order.
    pub fn drain_batched(&mut self, conn: &mut Connection, budget: usize, batched: bool) {
        let mut n = 0;
        let mut turn = 0usize;
        let mut next = |conn: &mut Connection| {
            turn += 1;
            let whole = if !batched {
                None
            } else if turn % 3 == 0 {
                conn.poll_message()
            } else if turn % 3 == 1 {
                conn.poll_message_ref().map(|m| m.to_message())
            } else {
                conn.poll_message_ref()
                    .map(|m| m.to_message())
                    .map(|copied| {
                        let kept = conn.keep_lent_message().expect("lent just now");
                        assert_eq!(kept, copied, "a kept message differs from the one lent");
                        kept
                    })
            };
            whole.map(Event::Message).or_else(|| conn.poll_event())
        };
        while let Some(event) = next(conn) {
            n += 1;
            assert!(
                n <= budget,
                "{}: more than {budget} events from one drain (stuck?): last {event:?}",
                self.name
            );
            self.observe(event);
        }
        self.check_state(conn);
    }

    /// `state()` after a full drain matches the events.
    pub fn check_state(&self, conn: &Connection) {
        let state = conn.state();
        let name = self.name;
        match (&self.closed, self.opened) {
            (Some(_), _) => {
                assert_eq!(
                    state,
                    State::Closed,
                    "{name}: Closed reported, state {state}"
                );
                assert_eq!(
                    conn.poll_timeout(),
                    None,
                    "{name}: a timer is still set after Closed"
                );
            }
            (None, true) => assert!(
                matches!(state, State::Open | State::Closing),
                "{name}: Open reported and not Closed, but state {state}"
            ),
            (None, false) => assert_eq!(
                state,
                State::Connecting,
                "{name}: neither Open nor Closed reported, but state {state}"
            ),
        }
        if state == State::Closed {
            assert!(
                self.closed.is_some(),
                "{name}: state closed without a Closed event"
            );
        }
    }

    /// After `receive_eof` and a drain: exactly one `Closed`, and it is last.
    pub fn assert_closed(&self) {
        assert!(
            self.closed.is_some(),
            "{}: no Closed after receive_eof; events: {:?}",
            self.name,
            self.events
        );
        assert!(matches!(self.events.last(), Some(Event::Closed(_))));
    }

    /// The messages, pings and pongs reported, as decoder items.
    pub fn items(&self) -> Vec<Item> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Message(Message::Text(t)) => Some(Item::Text(t.as_bytes().to_vec())),
                Event::Message(Message::Binary(b)) => Some(Item::Binary(b.to_vec())),
                Event::Ping(p) => Some(Item::Ping(p.to_vec())),
                Event::Pong(p) => Some(Item::Pong(p.to_vec())),
                _ => None,
            })
            .collect()
    }

    /// The messages reported.
    pub fn messages(&self) -> Vec<Item> {
        self.items().into_iter().filter(Item::is_data).collect()
    }
}

// ---- a reference frame decoder -----------------------------------------------------

/// One decoded unit of a frame stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// A complete text message (valid UTF-8).
    Text(Vec<u8>),
    /// A complete binary message.
    Binary(Vec<u8>),
    /// A ping's payload.
    Ping(Vec<u8>),
    /// A pong's payload.
    Pong(Vec<u8>),
}

impl Item {
    /// A text or binary message.
    pub fn is_data(&self) -> bool {
        matches!(self, Self::Text(_) | Self::Binary(_))
    }
}

/// How a frame stream ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum End {
    /// A valid close frame: its code and reason, `None` when empty.
    Close(Option<(u16, String)>),
    /// The stream broke RFC 6455 at this frame.
    Violation(String),
}

/// Limits the reference decoder applies, as `ws_proto::Config` has them.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `Config::max_frame_size`.
    pub max_frame: u64,
    /// `Config::max_message_size`.
    pub max_message: u64,
    /// `Config::max_control_payload` (at most 125).
    pub max_control: u64,
}

impl Limits {
    /// No limits but the protocol's own.
    pub const NONE: Self = Self {
        max_frame: u64::MAX,
        max_message: u64::MAX,
        max_control: 125,
    };

    /// The limits of `config`.
    pub fn of(config: &ws_proto::Config) -> Self {
        Self {
            max_frame: config.max_frame_size as u64,
            max_message: config.max_message_size as u64,
            max_control: (config.max_control_payload as u64).min(125),
        }
    }
}

/// RSV1: a compressed message's first frame (RFC 7692 section 6).
const RSV1: u8 = 0b100;

/// What every sync flush ends with; a sender strips it from each compressed
/// message, the receiver appends it back (RFC 7692 section 7.2.2).
const DEFLATE_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// How many bytes the decoder inflates per call.
const INFLATE_STEP: usize = 16 << 10;

/// The largest message the decoder inflates (a bound on memory, whatever
/// its limits say).
const MAX_INFLATED: u64 = 64 << 20;

/// permessage-deflate (RFC 7692) as agreed for the direction a [`Decoder`]
/// reads: RSV1 marks a compressed message, whose matches reach back at most
/// the window, and whose context is kept from message to message or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deflate {
    /// The sender's `*_max_window_bits`, 8 to 15.
    pub window_bits: u8,
    /// The sender's `*_no_context_takeover`: every message starts with an
    /// empty window.
    pub no_context_takeover: bool,
}

/// The inflate side of a [`Deflate`] direction: the context kept between
/// messages.
struct Inflate {
    params: Deflate,
    state: Option<Decompress>,
}

impl std::fmt::Debug for Inflate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflate")
            .field("params", &self.params)
            .field("total_in", &self.state.as_ref().map(Decompress::total_in))
            .finish()
    }
}

impl Inflate {
    /// Inflates one compressed message (its frames' payloads, joined).
    ///
    /// zlib-rs keeps a 32 KiB window whatever it is told (and zlib reads
    /// matches within one call's output whatever the window), so the window
    /// is checked by [`deflate_scan`]: no match reaches further back than the
    /// agreed window, and the data ends where a sync flush ends.
    fn message(&mut self, data: &[u8], limit: u64) -> Result<Vec<u8>, String> {
        let window = 1usize << self.params.window_bits;
        // An empty payload is an empty message: the tail alone would open a
        // stored block that the next message would have to finish.
        let mut input = data.to_vec();
        if !input.is_empty() {
            input.extend_from_slice(&DEFLATE_TAIL);
            let far = deflate_scan(&input)?;
            if far > window {
                return Err(format!(
                    "a match {far} bytes back, over the window of {window}"
                ));
            }
        }
        // zlib takes 9 at least; a larger window reads what a smaller wrote.
        let bits = self.params.window_bits.clamp(9, 15);
        let state = self
            .state
            .get_or_insert_with(|| Decompress::new_with_window_bits(false, bits));
        let mut out = Vec::new();
        let mut step = vec![0u8; INFLATE_STEP];
        let mut pos = 0;
        let mut ended = false;
        loop {
            let (in_before, out_before) = (state.total_in(), state.total_out());
            let status = state
                .decompress(&input[pos..], &mut step, FlushDecompress::Sync)
                .map_err(|e| format!("corrupt deflate data: {e}"))?;
            let consumed = (state.total_in() - in_before) as usize;
            let produced = (state.total_out() - out_before) as usize;
            pos += consumed;
            out.extend_from_slice(&step[..produced]);
            if out.len() as u64 > limit.min(MAX_INFLATED) {
                return Err(format!("inflates to over {} bytes", out.len()));
            }
            if status == Status::StreamEnd {
                // A final block: the rest of the message is not deflate data,
                // and the next message starts a new stream.
                ended = true;
                break;
            }
            // Room left: all the output there is for the input given.
            if produced < INFLATE_STEP {
                if pos == input.len() {
                    break;
                }
                if consumed == 0 && produced == 0 {
                    return Err(format!(
                        "deflate data stuck at byte {pos} of {} (with the tail)",
                        input.len()
                    ));
                }
            }
        }
        if ended || self.params.no_context_takeover {
            state.reset(false);
        }
        Ok(out)
    }
}

/// Reads a raw deflate stream (RFC 1951) without inflating it: returns the
/// longest match distance. The stream must end exactly at the end of a
/// block (as one that ends with a sync flush does), or with a final block.
pub fn deflate_scan(data: &[u8]) -> Result<usize, String> {
    /// Canonical Huffman code (RFC 1951 3.2.2), decoded bit by bit.
    struct Huffman {
        count: [u16; 16],
        symbol: Vec<u16>,
    }
    impl Huffman {
        fn new(lengths: &[u8]) -> Self {
            let mut count = [0u16; 16];
            for &l in lengths {
                count[usize::from(l)] += 1;
            }
            count[0] = 0;
            let mut offs = [0u16; 16];
            for len in 1..16 {
                offs[len] = offs[len - 1] + count[len - 1];
            }
            let mut symbol = vec![0; lengths.len()];
            for (sym, &l) in lengths.iter().enumerate() {
                if l != 0 {
                    symbol[usize::from(offs[usize::from(l)])] = sym as u16;
                    offs[usize::from(l)] += 1;
                }
            }
            Self { count, symbol }
        }
    }
    struct Bits<'a> {
        data: &'a [u8],
        pos: usize,
    }
    impl Bits<'_> {
        fn get(&mut self, n: u32) -> Result<u32, String> {
            let mut v = 0;
            for i in 0..n {
                let byte = self
                    .data
                    .get(self.pos / 8)
                    .ok_or("deflate data ends inside a block")?;
                v |= u32::from(byte >> (self.pos % 8) & 1) << i;
                self.pos += 1;
            }
            Ok(v)
        }
        fn decode(&mut self, h: &Huffman) -> Result<u16, String> {
            let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
            for len in 1..16 {
                code |= self.get(1)? as i32;
                let count = i32::from(h.count[len]);
                if code - count < first {
                    return Ok(h.symbol[(index + code - first) as usize]);
                }
                index += count;
                first = (first + count) << 1;
                code <<= 1;
            }
            Err("invalid Huffman code".into())
        }
    }
    const LEN_EXTRA: [u8; 29] = [
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
    ];
    const DIST_BASE: [u16; 30] = [
        1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
        2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
    ];
    const DIST_EXTRA: [u8; 30] = [
        0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12,
        13, 13,
    ];
    const ORDER: [usize; 19] = [
        16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
    ];
    let mut bits = Bits { data, pos: 0 };
    let mut far = 0;
    loop {
        if bits.pos.div_ceil(8) >= data.len() && bits.pos > 0 {
            // Past the last block, only padding bits are left.
            return Ok(far);
        }
        let last = bits.get(1)? == 1;
        let (lit, dist) = match bits.get(2)? {
            0 => {
                bits.pos = bits.pos.div_ceil(8) * 8;
                let len = bits.get(16)?;
                if bits.get(16)? != !len & 0xffff {
                    return Err("stored block length check fails".into());
                }
                bits.pos += 8 * len as usize;
                if bits.pos > 8 * data.len() {
                    return Err("deflate data ends inside a stored block".into());
                }
                if last {
                    return Ok(far);
                }
                continue;
            }
            1 => {
                let mut l = [8u8; 288];
                l[144..256].fill(9);
                l[256..280].fill(7);
                (Huffman::new(&l), Huffman::new(&[5; 30]))
            }
            2 => {
                let nlen = bits.get(5)? as usize + 257;
                let ndist = bits.get(5)? as usize + 1;
                let ncode = bits.get(4)? as usize + 4;
                let mut cl = [0u8; 19];
                for &i in &ORDER[..ncode] {
                    cl[i] = bits.get(3)? as u8;
                }
                let cl = Huffman::new(&cl);
                let mut lengths = Vec::with_capacity(nlen + ndist);
                while lengths.len() < nlen + ndist {
                    let (value, repeat) = match bits.decode(&cl)? {
                        sym @ 0..=15 => (sym as u8, 1),
                        16 => {
                            let prev = *lengths.last().ok_or("repeat with no length")?;
                            (prev, 3 + bits.get(2)?)
                        }
                        17 => (0, 3 + bits.get(3)?),
                        _ => (0, 11 + bits.get(7)?),
                    };
                    lengths.extend(std::iter::repeat_n(value, repeat as usize));
                }
                if lengths.len() > nlen + ndist {
                    return Err("code lengths overflow".into());
                }
                (
                    Huffman::new(&lengths[..nlen]),
                    Huffman::new(&lengths[nlen..]),
                )
            }
            _ => return Err("block type 3".into()),
        };
        loop {
            match bits.decode(&lit)? {
                0..=255 => {}
                256 => break,
                sym => {
                    let i = usize::from(sym - 257);
                    if i >= 29 {
                        return Err(format!("length symbol {sym}"));
                    }
                    bits.get(u32::from(LEN_EXTRA[i]))?;
                    let d = usize::from(bits.decode(&dist)?);
                    if d >= 30 {
                        return Err(format!("distance symbol {d}"));
                    }
                    let extra = bits.get(u32::from(DIST_EXTRA[d]))?;
                    far = far.max(usize::from(DIST_BASE[d]) + extra as usize);
                }
            }
        }
        if last {
            return Ok(far);
        }
    }
}

/// An incremental frame decoder written from RFC 6455 (and RFC 7692 when
/// given a [`Deflate`]) alone, simple rather than fast: it keeps everything
/// in `Vec`s, re-checks UTF-8 from the last valid position, and inflates a
/// compressed message once all its frames are in.
#[derive(Debug)]
pub struct Decoder {
    /// Frames must carry a mask (client to server) or must not.
    masked: bool,
    limits: Limits,
    buf: Vec<u8>,
    pos: usize,
    /// The frame being read and how many payload bytes were taken.
    frame: Option<(FrameHeader, u64)>,
    control: Vec<u8>,
    fragmented: Option<OpCode>,
    assembly: Vec<u8>,
    utf8_valid: usize,
    /// permessage-deflate, when in force.
    inflate: Option<Inflate>,
    /// The message being read is compressed (RSV1 on its first frame).
    compressed: bool,
    /// Everything decoded so far.
    pub items: Vec<Item>,
    /// For each message in `items`, in order: whether it was compressed.
    pub compressed_messages: Vec<bool>,
    /// Set once a close frame or a violation ends the stream.
    pub end: Option<End>,
    /// Bytes that arrived after the end.
    pub after_end: usize,
    /// Frames decoded.
    pub frames: usize,
}

impl Decoder {
    /// A decoder of a stream whose frames must be `masked` (or must not).
    pub fn new(masked: bool, limits: Limits) -> Self {
        Self {
            masked,
            limits,
            buf: Vec::new(),
            pos: 0,
            frame: None,
            control: Vec::new(),
            fragmented: None,
            assembly: Vec::new(),
            utf8_valid: 0,
            inflate: None,
            compressed: false,
            items: Vec::new(),
            compressed_messages: Vec::new(),
            end: None,
            after_end: 0,
            frames: 0,
        }
    }

    /// Reads compressed messages (RFC 7692) as `deflate` says from now on;
    /// `None`: RSV1 is a violation, as without extensions.
    pub fn set_deflate(&mut self, deflate: Option<Deflate>) {
        self.inflate = deflate.map(|params| Inflate {
            params,
            state: None,
        });
    }

    /// Decodes all of `data` at once.
    pub fn decode(masked: bool, limits: Limits, data: &[u8]) -> Self {
        let mut d = Self::new(masked, limits);
        d.push(data);
        d
    }

    /// The messages decoded.
    pub fn messages(&self) -> Vec<Item> {
        self.items.iter().filter(|i| i.is_data()).cloned().collect()
    }

    /// Whether the stream broke the protocol.
    pub fn violation(&self) -> Option<&str> {
        match &self.end {
            Some(End::Violation(v)) => Some(v),
            _ => None,
        }
    }

    /// Feeds more bytes of the stream.
    pub fn push(&mut self, data: &[u8]) {
        if self.end.is_some() {
            self.after_end += data.len();
            return;
        }
        self.buf.extend_from_slice(data);
        while self.end.is_none() && self.step() {}
        if self.end.is_some() {
            self.after_end += self.buf.len() - self.pos;
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 4096 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
    }

    fn violate(&mut self, why: String) -> bool {
        self.end = Some(End::Violation(why));
        false
    }

    /// Decodes what it can; returns whether to go on.
    fn step(&mut self) -> bool {
        let Some((header, taken)) = self.frame else {
            return self.header();
        };
        let avail = (self.buf.len() - self.pos) as u64;
        let n = avail.min(header.payload_len - taken) as usize;
        let mut chunk = self.buf[self.pos..self.pos + n].to_vec();
        self.pos += n;
        if let Some(key) = header.mask {
            for (i, b) in chunk.iter_mut().enumerate() {
                *b ^= key[(taken as usize + i) % 4];
            }
        }
        let taken = taken + n as u64;
        let complete = taken == header.payload_len;
        self.frame = (!complete).then_some((header, taken));
        if header.opcode.is_control() {
            self.control.extend_from_slice(&chunk);
            if !complete {
                return false;
            }
            let payload = std::mem::take(&mut self.control);
            return self.control_frame(header.opcode, payload);
        }
        let text = self.fragmented.unwrap_or(header.opcode) == OpCode::Text;
        self.assembly.extend_from_slice(&chunk);
        // Compressed text is checked once inflated.
        if text && !self.compressed {
            match std::str::from_utf8(&self.assembly[self.utf8_valid..]) {
                Ok(_) => self.utf8_valid = self.assembly.len(),
                Err(e) if e.error_len().is_some() => {
                    return self.violate("invalid UTF-8 in a text message".into());
                }
                Err(e) => self.utf8_valid += e.valid_up_to(),
            }
        }
        if !complete {
            return false;
        }
        if !header.fin {
            return true;
        }
        let mut payload = std::mem::take(&mut self.assembly);
        let compressed = std::mem::take(&mut self.compressed);
        if compressed {
            let limit = self.limits.max_message;
            let inflate = self.inflate.as_mut().expect("RSV1 only with deflate");
            payload = match inflate.message(&payload, limit) {
                Ok(p) => p,
                Err(why) => return self.violate(why),
            };
            if text && std::str::from_utf8(&payload).is_err() {
                return self.violate("invalid UTF-8 in a compressed text message".into());
            }
        } else if text && self.utf8_valid != payload.len() {
            return self.violate("text message ends inside a code point".into());
        }
        self.utf8_valid = 0;
        self.fragmented = None;
        self.compressed_messages.push(compressed);
        self.items.push(if text {
            Item::Text(payload)
        } else {
            Item::Binary(payload)
        });
        true
    }

    fn header(&mut self) -> bool {
        let (header, len) = match FrameHeader::parse(&self.buf[self.pos..]) {
            Ok(Some(h)) => h,
            Ok(None) => return false,
            Err(e) => return self.violate(format!("header: {e}")),
        };
        self.pos += len;
        self.frames += 1;
        let l = &self.limits;
        let allowed = if self.inflate.is_some() { RSV1 } else { 0 };
        if header.rsv & !allowed != 0 {
            return self.violate(format!("rsv {:#b}", header.rsv));
        }
        if header.rsv & RSV1 != 0 && !matches!(header.opcode, OpCode::Text | OpCode::Binary) {
            return self.violate(format!("RSV1 on a {:?} frame", header.opcode));
        }
        if header.mask.is_some() != self.masked {
            return self.violate(format!(
                "mask {:?}, expected masked: {}",
                header.mask, self.masked
            ));
        }
        if header.opcode.is_control() {
            if !header.fin {
                return self.violate("fragmented control frame".into());
            }
            if header.payload_len > 125 || header.payload_len > l.max_control {
                return self.violate(format!("control frame of {}", header.payload_len));
            }
        } else {
            match (header.opcode, self.fragmented) {
                (OpCode::Continuation, None) => {
                    return self.violate("continuation outside a message".into());
                }
                (OpCode::Text | OpCode::Binary, Some(_)) => {
                    return self.violate("new message inside a fragmented one".into());
                }
                (OpCode::Text | OpCode::Binary, None) => {
                    self.compressed = header.rsv & RSV1 != 0;
                    if !header.fin {
                        self.fragmented = Some(header.opcode);
                    }
                }
                _ => {}
            }
            if header.payload_len > l.max_frame {
                return self.violate(format!("frame of {}", header.payload_len));
            }
            // A compressed message's limit is on its inflated size.
            if !self.compressed && self.assembly.len() as u64 + header.payload_len > l.max_message {
                return self.violate("message too large".into());
            }
        }
        self.frame = Some((header, 0));
        true
    }

    fn control_frame(&mut self, opcode: OpCode, payload: Vec<u8>) -> bool {
        match opcode {
            OpCode::Ping => self.items.push(Item::Ping(payload)),
            OpCode::Pong => self.items.push(Item::Pong(payload)),
            _ => {
                let end = match payload.as_slice() {
                    [] => End::Close(None),
                    [_] => End::Violation("one-byte close payload".into()),
                    [hi, lo, reason @ ..] => {
                        let code = u16::from_be_bytes([*hi, *lo]);
                        match std::str::from_utf8(reason) {
                            _ if !CloseCode(code).is_valid_on_wire() => {
                                End::Violation(format!("close code {code}"))
                            }
                            Ok(r) => End::Close(Some((code, r.to_owned()))),
                            Err(_) => End::Violation("close reason not UTF-8".into()),
                        }
                    }
                };
                self.end = Some(end);
                return false;
            }
        }
        true
    }
}

// ---- a connection's output -----------------------------------------------------

/// Checks a connection's output as it is written: an optional HTTP head,
/// then valid frames (all masked, or none), nothing after a close frame.
#[derive(Debug)]
pub struct OutputChecker {
    name: &'static str,
    head: Option<Vec<u8>>,
    head_done: bool,
    /// The head was not a 101: what follows is an HTTP body, not frames.
    body: bool,
    /// The frames written.
    pub frames: Decoder,
}

impl OutputChecker {
    /// Output that starts with frames.
    pub fn frames(name: &'static str, masked: bool) -> Self {
        Self {
            name,
            head: None,
            head_done: true,
            body: false,
            frames: Decoder::new(masked, Limits::NONE),
        }
    }

    /// Output that starts with an HTTP head (a request, or a response whose
    /// frames follow only if it is a 101).
    pub fn with_head(name: &'static str, masked: bool) -> Self {
        Self {
            head: Some(Vec::new()),
            head_done: false,
            ..Self::frames(name, masked)
        }
    }

    /// The frames are read with permessage-deflate as `deflate` says
    /// (see [`Decoder::set_deflate`]).
    pub fn set_deflate(&mut self, deflate: Option<Deflate>) {
        self.frames.set_deflate(deflate);
    }

    /// The HTTP head, once complete.
    pub fn head(&self) -> Option<&[u8]> {
        self.head.as_deref().filter(|_| self.head_done)
    }

    /// Takes everything `conn` wants to write (in pieces of at most `max`
    /// bytes when given), checks it and marks it written.
    pub fn flush(&mut self, conn: &mut Connection, max: Option<usize>) {
        let mut slices = [std::io::IoSlice::new(&[]); 64];
        let filled = conn.poll_transmit_vectored(&mut slices);
        let waiting: usize = slices[..filled].iter().map(|s| s.len()).sum();
        if filled < slices.len() {
            assert_eq!(
                conn.buffered_amount(),
                waiting,
                "{}: buffered_amount differs from poll_transmit_vectored",
                self.name
            );
        }
        if let Some(out) = conn.poll_transmit() {
            assert!(
                !out.is_empty(),
                "{}: poll_transmit gave an empty slice",
                self.name
            );
            assert_eq!(
                slices[0].len(),
                out.len(),
                "{}: poll_transmit is not the first vectored slice",
                self.name
            );
            let n = max.map_or(out.len(), |m| m.clamp(1, out.len()));
            let bytes = out[..n].to_vec();
            conn.advance_transmit(n);
            self.push(&bytes);
        }
        if max.is_none() {
            assert!(
                conn.poll_transmit().is_none(),
                "{}: output left after a full flush",
                self.name
            );
            assert_eq!(conn.buffered_amount(), 0);
        }
    }

    /// Checks more output bytes.
    pub fn push(&mut self, mut data: &[u8]) {
        if !self.head_done {
            let head = self.head.as_mut().expect("head mode");
            let before = head.len();
            head.extend_from_slice(data);
            let Some(end) = find_head_end(head) else {
                return;
            };
            head.truncate(end);
            data = &data[end - before..];
            self.head_done = true;
            self.body = head.starts_with(b"HTTP/") && !head.starts_with(b"HTTP/1.1 101 ");
        }
        if self.body {
            return;
        }
        self.frames.push(data);
        if let Some(End::Violation(why)) = &self.frames.end {
            panic!(
                "{}: the connection wrote an invalid frame: {why}",
                self.name
            );
        }
        assert_eq!(
            self.frames.after_end, 0,
            "{}: the connection wrote bytes after its close frame",
            self.name
        );
    }

    /// The close frame written, if any.
    pub fn close_frame(&self) -> Option<&Option<(u16, String)>> {
        match &self.frames.end {
            Some(End::Close(c)) => Some(c),
            _ => None,
        }
    }
}

// ---- what a connection holds ----------------------------------------------------------

/// What ws-proto's output queue may hold beyond the bytes waiting in it
/// (its `output::SLACK`: the written part of the first 64 KiB block, the
/// room left in the last, four spare blocks), with room for the queue's
/// descriptors.
pub const WRITE_SLACK: usize = 6 * ((64 << 10) + 14) + 8192;
/// The room the read buffer keeps past a frame received in place.
pub const READ_SLACK: usize = 64 << 10;

/// The most a connection may hold in its buffers
/// (`Connection::buffer_capacity`) under `config`, whatever its peer
/// sends, when it is given input in pieces of at most `piece` bytes and
/// decoded between them: the write buffer's limit (or a handshake answer,
/// if larger), its slack and the one close frame that ignores the limit;
/// a frame received in place and a message being assembled, each within
/// its limit; the pieces.
pub fn held_bound(config: &ws_proto::Config, piece: usize) -> usize {
    let write = config.max_write_buffer.max(4096) + 131 + WRITE_SLACK;
    let read = config.max_frame_size
        + config.max_message_size
        + config.max_handshake_size
        + 2 * (piece + READ_SLACK);
    write + read
}

/// Asserts that `conn` holds no more than it may: the bytes waiting within
/// the write buffer's limit (the handshake's answer and the close frame
/// aside), the buffers within [`held_bound`]. A connection whose memory
/// grows with its input, not its limits, fails here.
pub fn check_held(conn: &Connection, piece: usize, name: &str) {
    let config = conn.config();
    let waiting = conn.buffered_amount();
    let limit = config.max_write_buffer.max(4096) + 131;
    assert!(
        waiting <= limit,
        "{name}: {waiting} bytes waiting, over the write buffer's limit of {}",
        config.max_write_buffer
    );
    let held = conn.buffer_capacity();
    let bound = held_bound(config, piece);
    assert!(
        held <= bound,
        "{name}: {held} bytes held in buffers, over the bound of {bound} (pieces of {piece})"
    );
}

/// The end of an HTTP head as `ws-proto` finds it: just past the first blank
/// line ("\n\n" or "\n\r\n").
pub fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.iter().enumerate().find_map(|(i, &b)| {
        if b != b'\n' {
            return None;
        }
        match buf.get(i + 1..) {
            Some([b'\n', ..]) => Some(i + 2),
            Some([b'\r', b'\n', ..]) => Some(i + 3),
            _ => None,
        }
    })
}

/// The value of header `name` in an HTTP head (first match, trimmed).
pub fn header_value<'a>(head: &'a [u8], name: &str) -> Option<&'a [u8]> {
    head.split(|&b| b == b'\n').find_map(|line| {
        let colon = line.iter().position(|&b| b == b':')?;
        let (n, v) = line.split_at(colon);
        n.eq_ignore_ascii_case(name.as_bytes())
            .then(|| v[1..].trim_ascii())
    })
}

/// Whether `small` is a prefix of `big`.
pub fn is_prefix<T: PartialEq>(small: &[T], big: &[T]) -> bool {
    small.len() <= big.len() && small.iter().zip(big).all(|(a, b)| a == b)
}

/// Checks what a connection decoded against the reference decoder's view of
/// the same stream. With `exact`, nothing disturbed the connection (no timer,
/// no lost transport before the end): the items must be the same, and the
/// outcome must match: a violation is an `Error::Protocol`, a close frame is
/// a clean close with its code, and a stream that just stops is a lost
/// connection. Otherwise the items must be a prefix of the reference's.
pub fn check_against_reference(log: &EventLog, reference: &Decoder, exact: bool) {
    let got = log.items();
    let name = log.name;
    if !exact {
        assert!(
            is_prefix(&got, &reference.items),
            "{name}: decoded items are not a prefix of the reference's\n got: {got:?}\n ref: {:?}",
            reference.items
        );
        return;
    }
    assert_eq!(
        got, reference.items,
        "{name}: decoded items differ from the reference decoder's (ref end: {:?})",
        reference.end
    );
    let closed = log.closed.as_ref().expect("checked closed");
    match (&reference.end, log.error()) {
        (Some(End::Violation(_)), Some(Error::Protocol(_))) => {}
        (Some(End::Violation(why)), e) => {
            panic!("{name}: the stream breaks the protocol ({why}) but the error is {e:?}")
        }
        (Some(End::Close(frame)), None) => {
            let (code, reason) = frame.clone().unwrap_or((1005, String::new()));
            assert_eq!(
                (closed.code.0, closed.reason.as_str(), closed.was_clean),
                (code, reason.as_str(), true),
                "{name}: a close frame was received: {closed:?}"
            );
        }
        (Some(End::Close(_)), e) => {
            panic!("{name}: a valid close frame arrived, yet error {e:?}")
        }
        (None, Some(Error::ConnectionLost)) => {
            assert!(!closed.was_clean, "{name}: {closed:?}");
        }
        (None, e) => panic!(
            "{name}: the stream stopped without a close frame or a violation, yet error {e:?}, {closed:?}"
        ),
    }
}

// ---- connections ---------------------------------------------------------------

/// The seed of every client's `StdRng`, so the `Sec-WebSocket-Key` (and so
/// the `Sec-WebSocket-Accept` the seeds and dictionaries hold) is fixed.
pub const CLIENT_RNG_SEED: u64 = 0x5EED;

/// A client for `ws://h/` with a seeded `StdRng`, and its request (already
/// taken from its output).
pub fn client(now: Instant, config: ws_proto::Config) -> (Connection, Vec<u8>) {
    use rand::SeedableRng as _;
    let request = ws_proto::ClientRequest::new("h", 80, "/");
    let rng = rand::rngs::StdRng::seed_from_u64(CLIENT_RNG_SEED);
    let mut conn = Connection::client(now, config, &request, rng).expect("a valid request");
    let head = conn
        .poll_transmit()
        .expect("the request is queued")
        .to_vec();
    conn.advance_transmit(head.len());
    assert_eq!(
        find_head_end(&head),
        Some(head.len()),
        "the request is one head"
    );
    (conn, head)
}

/// The `Sec-WebSocket-Accept` a server must answer `request` with.
pub fn expected_accept(request: &[u8]) -> String {
    let key = header_value(request, "sec-websocket-key").expect("the request has a key");
    ws_proto::handshake::accept_key(key)
}

/// A correct 101 answer to `request`.
pub fn response_101(request: &[u8]) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        expected_accept(request)
    )
    .into_bytes()
}

/// A valid client request a server must accept.
pub const VALID_REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

// ---- driving one connection through a byte stream ---------------------------------

/// The `flags` byte of the `client_connection` and `server_connection`
/// inputs (see their documentation).
#[derive(Clone, Copy, Debug)]
pub struct Flags(pub u8);

impl Flags {
    /// `handle_timeout` at simulated times between chunks.
    pub fn timed(self) -> bool {
        self.0 & 0x08 != 0
    }

    /// Local commands between chunks.
    pub fn commands(self) -> bool {
        self.0 & 0x10 != 0
    }

    /// Bits 6-7: how the stream is cut.
    pub fn chunk_mode(self) -> u8 {
        self.0 >> 6
    }

    /// The config bits 0-2 select.
    pub fn config(self) -> ws_proto::Config {
        let mut config = ws_proto::Config::default().auto_pong(self.0 & 0x01 == 0);
        if self.0 & 0x02 != 0 {
            config.max_frame_size = 100;
            config.max_message_size = 300;
            config.max_control_payload = 10;
        }
        if self.0 & 0x04 != 0 {
            config.keepalive_interval = Some(std::time::Duration::from_secs(1));
            config.keepalive_timeout = std::time::Duration::from_secs(2);
        }
        config
    }
}

/// What a connection accepted to send through its commands.
#[derive(Debug, Default)]
pub struct Sent {
    /// Messages, in order.
    pub messages: Vec<Item>,
    /// Ping payloads, in order.
    pub pings: Vec<Vec<u8>>,
    /// The close frame asked for while open.
    pub close: Option<(u16, String)>,
}

/// One connection, its event log, and a checker of everything it writes.
#[derive(Debug)]
pub struct Driven {
    /// The connection.
    pub conn: Connection,
    /// Its events.
    pub log: EventLog,
    /// Its output, checked.
    pub out: OutputChecker,
    /// Everything it wrote.
    pub written: Vec<u8>,
    /// What it accepted to send.
    pub sent: Sent,
    /// A `handle_timeout` call found a timer due.
    pub timer_fired: bool,
    /// The simulated time.
    pub now: Instant,
    /// The largest piece of input given so far.
    pub max_piece: usize,
    /// Input arrived while output was still unwritten (a partial write
    /// between chunks): the peer looked stalled, so automatic pongs may
    /// have been coalesced. Output then depends on the split by design;
    /// events never do.
    pub input_while_unwritten: bool,
    /// A read buffer the connection gave back, lent to its next read (the
    /// driver's pool of spares, of one).
    spare: Option<SpareBuffer>,
}

impl Driven {
    /// Wraps `conn`.
    pub fn new(conn: Connection, log: EventLog, out: OutputChecker) -> Self {
        Self {
            conn,
            log,
            out,
            written: Vec::new(),
            sent: Sent::default(),
            timer_fired: false,
            now: start(),
            max_piece: 0,
            input_while_unwritten: false,
            spare: None,
        }
    }

    /// Feeds `chunk` and drains the events; checks what the connection holds.
    pub fn receive(&mut self, chunk: &[u8]) {
        self.max_piece = self.max_piece.max(chunk.len());
        self.conn.receive(self.now, chunk);
        self.log.drain(&mut self.conn, chunk.len() + 8);
        check_held(&self.conn, self.max_piece, self.log.name);
    }

    /// Feeds `chunk` the way a driver reading into the connection's buffer
    /// does: reads of at most `read` bytes into `receive_buffer`, each
    /// committed and drained (whole messages first) and its output written
    /// (a transport that keeps up, so that answers do not depend on how
    /// the chunk was cut into reads), then the transport reported drained
    /// (an odd `read` keeps the buffer given back as a spare, lent to the
    /// next read that wants one); checks what the connection holds.
    pub fn receive_by_read(&mut self, mut chunk: &[u8], read: usize) {
        self.max_piece = self.max_piece.max(chunk.len());
        while !chunk.is_empty() {
            if self.conn.wants_spare_buffer() {
                if let Some(spare) = self.spare.take() {
                    assert!(
                        self.conn.adopt_spare_buffer(spare).is_none(),
                        "wanted, not taken"
                    );
                }
            }
            let room = self.conn.receive_buffer();
            assert!(!room.is_empty(), "{}: no room to read into", self.log.name);
            let n = chunk.len().min(room.len()).min(read.max(1));
            room[..n].copy_from_slice(&chunk[..n]);
            if read & 2 == 0 {
                self.conn.commit_received(self.now, n);
            } else {
                // As ws-tokio does: the time told only if asked for.
                let now = self.now;
                self.conn.commit_received_with(n, || now);
            }
            chunk = &chunk[n..];
            self.log.drain_batched(&mut self.conn, n + 8, true);
            if !chunk.is_empty() {
                self.flush(None);
            }
        }
        if read % 2 == 1 {
            if let Some(spare) = self.conn.receive_drained_spare() {
                self.spare = Some(spare);
            }
        } else {
            self.conn.receive_drained();
        }
        check_held(&self.conn, self.max_piece, self.log.name);
    }

    /// Writes up to `max` bytes of output (all of it with `None`).
    pub fn flush(&mut self, max: Option<usize>) {
        if let Some(bytes) = self.conn.poll_transmit() {
            let n = max.map_or(bytes.len(), |m| m.clamp(1, bytes.len()));
            self.written.extend_from_slice(&bytes[..n]);
        }
        self.out.flush(&mut self.conn, max);
        check_held(&self.conn, self.max_piece, self.log.name);
    }

    /// Feeds `chunks`, with timers, commands and partial writes in between
    /// as `flags` allow and `prng` decides, then the end of the transport;
    /// flushes everything.
    pub fn run(&mut self, chunks: &[&[u8]], flags: Flags, prng: &mut Prng) {
        for chunk in chunks {
            // Also before the first chunk: a client's first read may have
            // brought frames with the 101 answer (flag bit 5), and the
            // pongs it queued are unwritten when the next read comes.
            self.input_while_unwritten |= self.conn.buffered_amount() > 0;
            if prng.one_in(2) {
                self.receive_by_read(chunk, 1 + prng.below(4096) as usize);
            } else {
                self.receive(chunk);
            }
            if flags.timed() && prng.one_in(2) {
                let step = match prng.below(8) {
                    0..=3 => std::time::Duration::from_millis(prng.below(1000)),
                    4 => std::time::Duration::from_millis(prng.below(30_000)),
                    5 => std::time::Duration::from_secs(1),
                    6 => std::time::Duration::from_secs(5),
                    _ => std::time::Duration::ZERO,
                };
                self.now += step;
                self.tick();
            }
            if flags.commands() && prng.one_in(3) {
                self.command(prng);
            }
            let max = prng.one_in(3).then(|| 1 + prng.below(40) as usize);
            self.flush(max);
        }
        self.conn.receive_eof();
        self.log.drain(&mut self.conn, 8);
        self.log.assert_closed();
        self.flush(None);
        assert_eq!(self.conn.state(), State::Closed);
        // Input after the end changes nothing.
        self.conn.receive(self.now, b"\x81\x00");
        self.conn
            .handle_timeout(self.now + std::time::Duration::from_secs(3600));
        assert!(self.conn.poll_event().is_none(), "an event after Closed");
    }

    /// Calls `handle_timeout(now)`. An early call must change nothing.
    pub fn tick(&mut self) {
        let due = self.conn.poll_timeout().is_some_and(|at| at <= self.now);
        let before = (
            self.conn.state(),
            self.conn.buffered_amount(),
            self.log.events.len(),
        );
        self.conn.handle_timeout(self.now);
        self.log.drain(&mut self.conn, 8);
        if due {
            self.timer_fired = true;
        } else {
            assert_eq!(
                (
                    self.conn.state(),
                    self.conn.buffered_amount(),
                    self.log.events.len()
                ),
                before,
                "{}: handle_timeout before the deadline changed something",
                self.log.name
            );
        }
    }

    /// A random local command, with its result checked against the state.
    pub fn command(&mut self, prng: &mut Prng) {
        let conn = &mut self.conn;
        let sent = &mut self.sent;
        let open = conn.state() == State::Open;
        let len = prng.below(200) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| prng.next_u64() as u8).collect();
        match prng.below(10) {
            0..=2 => {
                let text: String = bytes.iter().map(|&b| char::from(b'a' + b % 26)).collect();
                let text = if prng.one_in(4) {
                    format!("{text}é€😀")
                } else {
                    text
                };
                let result = conn.send_text(&text);
                assert_eq!(result.is_ok(), open, "send_text: {result:?}");
                if result.is_ok() {
                    sent.messages.push(Item::Text(text.into_bytes()));
                }
            }
            3..=5 => {
                let result = conn.send_binary(&bytes);
                assert_eq!(result.is_ok(), open, "send_binary: {result:?}");
                if result.is_ok() {
                    sent.messages.push(Item::Binary(bytes));
                }
            }
            6 => {
                let result = conn.send_ping(&bytes);
                assert_eq!(result.is_ok(), open && len <= 125, "send_ping: {result:?}");
                if result.is_ok() {
                    sent.pings.push(bytes);
                }
            }
            7 => {
                let result = conn.send_pong(&bytes);
                assert_eq!(result.is_ok(), open && len <= 125, "send_pong: {result:?}");
            }
            _ => {
                let codes = [1000, 1001, 1003, 1008, 1011, 3000, 4999, 1005, 999];
                let code = codes[prng.below(codes.len() as u64) as usize];
                let reason = "r".repeat(prng.below(130) as usize);
                let valid = CloseCode(code).is_valid_on_wire() && reason.len() <= 123;
                let result = conn.close(self.now, CloseCode(code), &reason);
                assert_eq!(
                    result.is_ok(),
                    valid,
                    "close({code}, {} bytes): {result:?}",
                    reason.len()
                );
                if valid && open && sent.close.is_none() {
                    sent.close = Some((code, reason));
                }
            }
        }
        self.log.drain(&mut self.conn, 8);
    }

    /// After [`run`](Self::run): the frames written carry exactly what the
    /// connection accepted to send.
    pub fn check_output(&self, keepalive: bool) {
        let name = self.log.name;
        let wire = &self.out.frames;
        assert_eq!(
            wire.messages(),
            self.sent.messages,
            "{name}: the frames written do not carry the messages accepted"
        );
        if !keepalive {
            let pings: Vec<_> = wire
                .items
                .iter()
                .filter_map(|i| match i {
                    Item::Ping(p) => Some(p.clone()),
                    _ => None,
                })
                .collect();
            assert_eq!(
                pings, self.sent.pings,
                "{name}: the pings written are not the ones sent"
            );
        }
        if let Some(close) = &self.sent.close {
            assert_eq!(
                self.out.close_frame(),
                Some(&Some(close.clone())),
                "{name}: the close frame written is not the one asked for"
            );
        }
    }
}

// ---- the pair target's input ---------------------------------------------------

/// The structured input of the `pair` target (here so that
/// `examples/make_seeds.rs` can find meaningful seeds).
pub mod pair {
    #![allow(missing_docs)]

    use arbitrary::Arbitrary;
    use ws_proto::{DeflateConfig, DeflateParams};

    /// The most bytes a [`Op::SendRepeated`] message holds.
    pub const MAX_REPEATED: usize = 64 << 10;

    #[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Side {
        Client,
        Server,
    }

    #[derive(Arbitrary, Debug)]
    pub enum Op {
        SendText(Side, String),
        SendBinary(Side, Vec<u8>),
        /// The payload is cut to 125 bytes.
        Ping(Side, Vec<u8>),
        Pong(Side, Vec<u8>),
        /// The code is taken from a list of valid ones when below 32.
        Close(Side, u16, String),
        AdvanceTime(u16),
        /// Moves up to this many bytes (0: all) from this side to the other.
        Deliver(Side, u16),
        /// This side's transport ends (the peer vanished).
        Eof(Side),
        ReleaseBuffers(Side),
        /// A message of the string repeated this many times (at most
        /// [`MAX_REPEATED`] bytes): binary when the flag is set, else text.
        /// Large, compressible messages from a short input.
        SendRepeated(Side, bool, String, u16),
        /// This side fails the connection (`Connection::fail`); the code
        /// is taken from a list of valid ones when below 32.
        Fail(Side, u16),
        /// This side's transport fails (`Connection::transport_failed`).
        TransportFailed(Side),
        /// This side ends the connection at once (`Connection::abandon`).
        Abandon(Side),
    }

    impl Op {
        /// The message of a [`Op::SendRepeated`].
        pub fn repeated(unit: &str, times: u16) -> String {
            let times = usize::from(times).min(MAX_REPEATED / unit.len().max(1));
            unit.repeat(times)
        }
    }

    /// One side's permessage-deflate settings, any bytes mapped into range.
    #[derive(Arbitrary, Clone, Copy, Debug)]
    pub struct DeflateSetup {
        /// Window bits `8 + n % 8`.
        pub client_max_window_bits: u8,
        /// Window bits `8 + n % 8`.
        pub server_max_window_bits: u8,
        pub client_no_context_takeover: bool,
        pub server_no_context_takeover: bool,
        /// `compression_threshold`: `n % 65`.
        pub threshold: u8,
        /// `compression_level`: `n % 10`.
        pub level: u8,
    }

    /// A window size in 8..=15 from any byte.
    pub fn window_bits(n: u8) -> u8 {
        8 + n % 8
    }

    impl DeflateSetup {
        /// The `Config::deflate` of this side.
        pub fn config(&self) -> DeflateConfig {
            DeflateConfig::default()
                .client_max_window_bits(window_bits(self.client_max_window_bits))
                .server_max_window_bits(window_bits(self.server_max_window_bits))
                .client_no_context_takeover(self.client_no_context_takeover)
                .server_no_context_takeover(self.server_no_context_takeover)
                .compression_threshold(self.threshold_bytes())
                .compression_level(u32::from(self.level % 10))
        }

        /// Messages this long or longer are compressed.
        pub fn threshold_bytes(&self) -> usize {
            usize::from(self.threshold % 65)
        }
    }

    /// What a client and a server with these settings must agree on, as
    /// `ws_proto::DeflateConfig` documents it: nothing unless both have it;
    /// the server declines to compress with a window of 8 (a client's
    /// `server_max_window_bits` of 8); a window of 8 for the client's own
    /// compression is offered as 9; each window is the smaller of what the
    /// two ask for; no context takeover when either asks for it.
    pub fn agreed(
        client: Option<&DeflateSetup>,
        server: Option<&DeflateSetup>,
    ) -> Option<DeflateParams> {
        let (c, s) = (client?.config(), server?.config());
        if c.server_max_window_bits == 8 {
            return None;
        }
        Some(DeflateParams {
            client_max_window_bits: s
                .client_max_window_bits
                .min(c.client_max_window_bits.max(9)),
            server_max_window_bits: s
                .server_max_window_bits
                .max(9)
                .min(c.server_max_window_bits),
            client_no_context_takeover: c.client_no_context_takeover
                || s.client_no_context_takeover,
            server_no_context_takeover: c.server_no_context_takeover
                || s.server_no_context_takeover,
        })
    }

    #[derive(Arbitrary, Debug)]
    pub struct Input {
        pub client_fragment: Option<u16>,
        pub server_fragment: Option<u16>,
        /// A small `max_write_buffer` for both sides.
        pub write_limit: Option<u16>,
        pub auto_pong: bool,
        pub keepalive: bool,
        /// permessage-deflate (RFC 7692) offered by the client.
        pub client_deflate: Option<DeflateSetup>,
        /// permessage-deflate accepted by the server.
        pub server_deflate: Option<DeflateSetup>,
        pub ops: Vec<Op>,
    }
}
