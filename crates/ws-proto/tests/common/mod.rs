//! Test helpers: connections opened against a scripted peer, raw frame
//! builders (that can break every rule), and an in-memory client/server
//! pair with simulated time and random read splits.

#![allow(dead_code, unreachable_pub)]

#[cfg(feature = "deflate")]
pub mod deflate;

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng};
use ws_proto::frame::OpCode;
use ws_proto::{
    ClientRequest, CloseCode, Closed, Config, Connection, Event, Initiator, ServerConfig,
};
use ws_test_support::{frames, handshake};

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// A client connection whose handshake a scripted server has answered.
pub fn open_client(now: Instant, config: Config) -> Connection {
    let request = ClientRequest::new("example.com", 80, "/");
    let mut client = Connection::client(now, config, &request, rng(1)).expect("valid request");
    let head = String::from_utf8(take_output(&mut client)).unwrap();
    let key = handshake::header_str(&head, "sec-websocket-key").unwrap();
    let answer = handshake::answer_101(key.as_bytes(), "");
    client.receive(now, answer.as_bytes());
    match client.poll_event() {
        Some(Event::Open(_)) => {}
        other => panic!("expected Open, got {other:?}"),
    }
    client
}

/// A server connection that has accepted a scripted client's request.
pub fn open_server(now: Instant, config: Config) -> Connection {
    let mut server = Connection::server(now, config, ServerConfig::default());
    server.receive(now, REQUEST.as_bytes());
    match server.poll_event() {
        Some(Event::Open(_)) => {}
        other => panic!("expected Open, got {other:?}"),
    }
    let answer = take_output(&mut server);
    assert!(answer.starts_with(b"HTTP/1.1 101"));
    server
}

pub const REQUEST: &str = "GET / HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// Everything the connection wants to send.
pub fn take_output(conn: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(bytes) = conn.poll_transmit() {
        out.extend_from_slice(bytes);
        let n = bytes.len();
        conn.advance_transmit(n);
    }
    out
}

/// Every event available now.
pub fn events(conn: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| conn.poll_event()).collect()
}

/// The `Closed` event of a connection whose closing handshake completed
/// (`was_clean`).
pub fn closed_cleanly(code: CloseCode, reason: &str, initiator: Initiator) -> Event {
    Event::Closed(Closed {
        code,
        reason: reason.into(),
        was_clean: true,
        initiator,
    })
}

/// The `Closed` event of a connection that ended without a completed
/// closing handshake (failed, timed out, or lost its transport).
pub fn closed_uncleanly(code: CloseCode, reason: &str, initiator: Initiator) -> Event {
    Event::Closed(Closed {
        code,
        reason: reason.into(),
        was_clean: false,
        initiator,
    })
}

/// A client that has just failed the connection: the server sent text that
/// is not UTF-8 (1007); the close frame is queued, not written.
pub fn failed_client(now: Instant, config: Config) -> Connection {
    let mut client = open_client(now, config);
    client.receive(now, &server_frame(true, OpCode::Text, b"\xff"));
    assert!(matches!(
        events(&mut client)[..],
        [Event::Error(ws_proto::Error::Protocol(
            ws_proto::ProtocolError::InvalidUtf8
        ))]
    ));
    assert_eq!(client.state(), ws_proto::State::Closing);
    client
}

/// The `Closed` event of [`failed_client`], whenever it ends.
pub fn closed_after_invalid_utf8() -> Event {
    closed_uncleanly(
        CloseCode::INVALID_PAYLOAD,
        "text message is not valid UTF-8",
        Initiator::Local,
    )
}

/// A frame as it was on the wire, unmasked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireFrame {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: OpCode,
    pub masked: bool,
    pub payload: Vec<u8>,
}

impl WireFrame {
    /// The close code of a close frame, if it has one.
    pub fn close_code(&self) -> Option<u16> {
        (self.opcode == OpCode::Close && self.payload.len() >= 2)
            .then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }
}

/// Parses a byte stream of complete frames.
pub fn parse_frames(bytes: &[u8]) -> Vec<WireFrame> {
    frames::parse(bytes)
        .into_iter()
        .map(|f| WireFrame {
            fin: f.fin,
            rsv: f.rsv,
            opcode: OpCode::from_bits(f.opcode).expect("a defined opcode"),
            masked: f.masked,
            payload: f.payload,
        })
        .collect()
}

/// The frames the connection wants to send.
pub fn output_frames(conn: &mut Connection) -> Vec<WireFrame> {
    parse_frames(&take_output(conn))
}

/// A frame as a server sends it (unmasked).
pub fn server_frame(fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    frames::encode((u8::from(fin) << 7) | opcode.bits(), payload, None)
}

/// A frame as a client sends it (masked).
pub fn client_frame(fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    frames::encode(
        (u8::from(fin) << 7) | opcode.bits(),
        payload,
        Some([0x12, 0x34, 0x56, 0x78]),
    )
}

/// Feeds `bytes` in pieces of random sizes (1 to `max_piece`).
pub fn feed_split(
    conn: &mut Connection,
    now: Instant,
    bytes: &[u8],
    rng: &mut StdRng,
    max_piece: usize,
) -> Vec<Event> {
    let mut events = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let n = rng.random_range(1..=max_piece.max(1)).min(rest.len());
        conn.receive(now, &rest[..n]);
        rest = &rest[n..];
        events.extend(std::iter::from_fn(|| conn.poll_event()));
    }
    events
}

/// Calls `handle_timeout` if `conn`'s deadline has passed; returns whether it did.
pub fn fire_due(conn: &mut Connection, now: Instant) -> bool {
    let due = conn.poll_timeout().is_some_and(|at| at <= now);
    if due {
        conn.handle_timeout(now);
    }
    due
}

/// A client and a server joined by two in-memory pipes, with a simulated
/// clock. Bytes move in random pieces; a side that reports `Closed` ends
/// its transport once its output is flushed, which the other side sees as
/// the end of input.
pub struct Pair {
    pub client: Connection,
    pub server: Connection,
    pub now: Instant,
    pub client_events: Vec<Event>,
    pub server_events: Vec<Event>,
    rng: StdRng,
    max_piece: usize,
    client_ended: bool,
    server_ended: bool,
}

impl Pair {
    /// A pair whose handshake has not run yet.
    pub fn new(seed: u64, client_config: Config, server_config: Config, max_piece: usize) -> Self {
        let now = Instant::now();
        let request = ClientRequest::new("example.com", 80, "/chat");
        let client = Connection::client(now, client_config, &request, rng(seed)).unwrap();
        let server = Connection::server(now, server_config, ServerConfig::default());
        Self {
            client,
            server,
            now,
            client_events: Vec::new(),
            server_events: Vec::new(),
            rng: rng(seed ^ 0x5eed),
            max_piece,
            client_ended: false,
            server_ended: false,
        }
    }

    /// A pair with the handshake done and the Open events consumed.
    pub fn open(seed: u64, config: Config, max_piece: usize) -> Self {
        let mut pair = Self::new(seed, config.clone(), config, max_piece);
        pair.run();
        assert!(matches!(pair.client_events.remove(0), Event::Open(_)));
        assert!(matches!(pair.server_events.remove(0), Event::Open(_)));
        pair
    }

    /// Moves bytes both ways until nothing moves.
    pub fn run(&mut self) {
        // Bounded, but far beyond what byte-at-a-time delivery of the largest
        // test messages needs.
        for _ in 0..100_000_000 {
            let moved = self.deliver(true) | self.deliver(false);
            // A deadline already passed (a failed side whose close frame is
            // out) fires at once, as a driver's timer would.
            let fired = fire_due(&mut self.client, self.now) | fire_due(&mut self.server, self.now);
            self.client_events
                .extend(std::iter::from_fn(|| self.client.poll_event()));
            self.server_events
                .extend(std::iter::from_fn(|| self.server.poll_event()));
            let ended = self.end_transports();
            if !moved && !ended && !fired {
                return;
            }
        }
        panic!("the pair never went quiet");
    }

    /// Advances the clock and fires the timers.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.client.handle_timeout(self.now);
        self.server.handle_timeout(self.now);
        self.run();
    }

    fn deliver(&mut self, client_to_server: bool) -> bool {
        let (from, to, from_ended, to_ended) = if client_to_server {
            (
                &mut self.client,
                &mut self.server,
                self.client_ended,
                self.server_ended,
            )
        } else {
            (
                &mut self.server,
                &mut self.client,
                self.server_ended,
                self.client_ended,
            )
        };
        let Some(bytes) = from.poll_transmit() else {
            return false;
        };
        if from_ended || to_ended {
            return false;
        }
        let n = self
            .rng
            .random_range(1..=self.max_piece.max(1))
            .min(bytes.len());
        let n = if self.rng.random_bool(0.5) {
            to.receive(self.now, &bytes[..n]);
            n
        } else {
            // As ws-tokio reads: into the connection's buffer, the time
            // told only if the connection asks for it.
            let room = to.receive_buffer();
            let n = n.min(room.len());
            room[..n].copy_from_slice(&bytes[..n]);
            let now = self.now;
            to.commit_received_with(n, || now);
            n
        };
        from.advance_transmit(n);
        true
    }

    fn end_transports(&mut self) -> bool {
        let mut ended = false;
        if !self.client_ended
            && self.client.state() == ws_proto::State::Closed
            && self.client.poll_transmit().is_none()
        {
            self.client_ended = true;
            self.server.receive_eof();
            ended = true;
        }
        if !self.server_ended
            && self.server.state() == ws_proto::State::Closed
            && self.server.poll_transmit().is_none()
        {
            self.server_ended = true;
            self.client.receive_eof();
            ended = true;
        }
        ended
    }
}
