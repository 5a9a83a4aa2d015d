//! A client and a server talking through two in-memory pipes, driven by a
//! structured sequence of operations: sends, pings, closes, time passing,
//! partial deliveries each way, and transport ends.
//!
//! A side whose connection is closed and whose output is all delivered ends
//! its transport: the other side gets `receive_eof`, as with TCP. At the end
//! everything is delivered; if nothing disrupted the pair (an `Eof`
//! operation, a close while connecting, a timer that failed a side), the
//! client then closes with 1000 and everything is delivered again.
//!
//! Checks: each side's event order and `state()`; no `Event::Error` ever,
//! but a timeout, and a lost transport or an unexpected EOF during the
//! handshake after a disruption; command results that agree with the state
//! (and a refused command queues nothing); every message a side accepted to
//! send reaches the other side intact and in order (a prefix of them when
//! the pair was disrupted), and so do pings (without keepalive); each side's
//! output is a valid HTTP head then valid frames, masked from the client
//! only, carrying exactly the messages accepted; without disruption both
//! sides end Closed, cleanly, with the codes and reasons of the close frames
//! the other side sent.

#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use ws_fuzz::pair::{Input, Op, Side};
use ws_fuzz::{EventLog, Item, OutputChecker};
use ws_proto::{
    ClientRequest, CloseCode, Config, Connection, Error, HandshakeError, Initiator, SendError,
    ServerConfig, State,
};

const VALID_CODES: [u16; 12] = [
    1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1014, 3000, 4999,
];

struct Peer {
    conn: Connection,
    log: EventLog,
    out: OutputChecker,
    /// Messages accepted to send, in order.
    sent: Vec<Item>,
    pings: Vec<Vec<u8>>,
    /// The close this side started while open.
    initiated: Option<(u16, String)>,
    /// This side was told its transport ended.
    eof: bool,
}

impl Peer {
    fn new(conn: Connection, name: &'static str, masked: bool) -> Self {
        Self {
            conn,
            log: EventLog::new(name),
            out: OutputChecker::with_head(name, masked),
            sent: Vec::new(),
            pings: Vec::new(),
            initiated: None,
            eof: false,
        }
    }

    fn drain(&mut self) {
        self.log.drain(&mut self.conn, 1 << 20);
    }

    /// Checks a command's result against the state, and that a refusal
    /// changed nothing.
    fn command(
        &mut self,
        what: &str,
        run: impl FnOnce(&mut Connection) -> Result<(), SendError>,
    ) -> bool {
        let state = self.conn.state();
        let buffered = self.conn.buffered_amount();
        let result = run(&mut self.conn);
        match &result {
            Ok(()) => assert_eq!(
                state,
                State::Open,
                "{}: {what} accepted while {state}",
                self.log.name
            ),
            Err(SendError::NotOpen(s)) => {
                assert_eq!(*s, state);
                assert_ne!(
                    state,
                    State::Open,
                    "{}: {what} refused as not open",
                    self.log.name
                );
            }
            Err(SendError::WriteBufferFull { .. } | SendError::ControlPayloadTooLong(_)) => {}
            Err(e) => panic!("{}: {what}: unexpected {e:?}", self.log.name),
        }
        if result.is_err() {
            assert_eq!(
                self.conn.buffered_amount(),
                buffered,
                "a refused {what} queued bytes"
            );
            assert_eq!(self.conn.state(), state);
        }
        self.drain();
        result.is_ok()
    }
}

struct Pair {
    client: Peer,
    server: Peer,
    now: Instant,
    /// Something outside the protocol happened (a lost transport, a close
    /// while connecting, a timer that failed a side).
    disrupted: bool,
    /// Errors seen so far, per side, checked once.
    checked_errors: [bool; 2],
}

impl Pair {
    fn side(&mut self, side: Side) -> &mut Peer {
        match side {
            Side::Client => &mut self.client,
            Side::Server => &mut self.server,
        }
    }

    fn both(&mut self, from: Side) -> (&mut Peer, &mut Peer) {
        match from {
            Side::Client => (&mut self.client, &mut self.server),
            Side::Server => (&mut self.server, &mut self.client),
        }
    }

    /// Moves up to `max` bytes (all with `None`) from `from` to its peer.
    fn deliver(&mut self, from: Side, max: Option<usize>) -> bool {
        let now = self.now;
        let (a, b) = self.both(from);
        let Some(bytes) = a.conn.poll_transmit() else {
            return false;
        };
        let n = max.map_or(bytes.len(), |m| m.clamp(1, bytes.len()));
        let bytes = bytes[..n].to_vec();
        a.conn.advance_transmit(n);
        a.out.push(&bytes);
        b.conn.receive(now, &bytes);
        b.drain();
        true
    }

    /// A side that is closed and has written everything ends its transport.
    fn hang_ups(&mut self) {
        for from in [Side::Client, Side::Server] {
            let (a, b) = self.both(from);
            if a.conn.state() == State::Closed && a.conn.poll_transmit().is_none() && !b.eof {
                b.eof = true;
                b.conn.receive_eof();
                b.drain();
            }
        }
    }

    /// Every error so far must be explained by a disruption.
    fn check_errors(&mut self) {
        for (i, side) in [Side::Client, Side::Server].into_iter().enumerate() {
            if self.checked_errors[i] {
                continue;
            }
            let disrupted = self.disrupted;
            let peer = self.side(side);
            let Some(error) = peer.log.error().cloned() else {
                continue;
            };
            let name = peer.log.name;
            match &error {
                Error::Timeout(_) => {}
                Error::ConnectionLost | Error::Handshake(HandshakeError::UnexpectedEof) => {
                    assert!(disrupted, "{name}: {error:?} without a disruption")
                }
                _ => panic!("{name}: {error:?} between two correct endpoints"),
            }
            self.checked_errors[i] = true;
            self.disrupted = true;
        }
    }

    fn op(&mut self, op: Op) {
        let now = self.now;
        match op {
            Op::SendText(side, text) => {
                let peer = self.side(side);
                if peer.command("send_text", |c| c.send_text(&text)) {
                    peer.sent.push(Item::Text(text.into_bytes()));
                }
            }
            Op::SendBinary(side, data) => {
                let peer = self.side(side);
                if peer.command("send_binary", |c| c.send_binary(&data)) {
                    peer.sent.push(Item::Binary(data));
                }
            }
            Op::Ping(side, mut data) => {
                data.truncate(125);
                let peer = self.side(side);
                if peer.command("send_ping", |c| c.send_ping(&data)) {
                    peer.pings.push(data);
                }
            }
            Op::Pong(side, mut data) => {
                data.truncate(125);
                self.side(side).command("send_pong", |c| c.send_pong(&data));
            }
            Op::Close(side, code, reason) => {
                let code = if code < 32 {
                    VALID_CODES[usize::from(code) % VALID_CODES.len()]
                } else {
                    code
                };
                let peer = self.side(side);
                let state = peer.conn.state();
                let buffered = peer.conn.buffered_amount();
                let valid = CloseCode(code).is_valid_on_wire() && reason.len() <= 123;
                let result = peer.conn.close(now, CloseCode(code), &reason);
                assert_eq!(
                    result.is_ok(),
                    valid,
                    "close({code}, {reason:?}): {result:?}"
                );
                if !valid {
                    assert_eq!(peer.conn.buffered_amount(), buffered);
                    assert_eq!(peer.conn.state(), state);
                }
                peer.drain();
                if valid {
                    match state {
                        State::Open => {
                            assert_eq!(peer.conn.state(), State::Closing);
                            peer.initiated = Some((code, reason));
                        }
                        State::Connecting => {
                            assert_eq!(peer.conn.state(), State::Closed);
                            self.disrupted = true;
                        }
                        _ => assert_eq!(peer.conn.buffered_amount(), buffered),
                    }
                }
            }
            Op::AdvanceTime(ms) => {
                self.now += Duration::from_millis(u64::from(ms));
                let now = self.now;
                for side in [Side::Client, Side::Server] {
                    let peer = self.side(side);
                    let due = peer.conn.poll_timeout().is_some_and(|at| at <= now);
                    let before = (
                        peer.conn.state(),
                        peer.conn.buffered_amount(),
                        peer.log.events.len(),
                    );
                    peer.conn.handle_timeout(now);
                    peer.drain();
                    if !due {
                        let after = (
                            peer.conn.state(),
                            peer.conn.buffered_amount(),
                            peer.log.events.len(),
                        );
                        assert_eq!(
                            after, before,
                            "{}: an early handle_timeout changed something",
                            peer.log.name
                        );
                    }
                }
            }
            Op::Deliver(side, max) => {
                self.deliver(side, (max != 0).then_some(usize::from(max)));
            }
            Op::Eof(side) => {
                let peer = self.side(side);
                if !peer.eof {
                    peer.eof = true;
                    peer.conn.receive_eof();
                    peer.drain();
                    self.disrupted = true;
                }
            }
            Op::ReleaseBuffers(side) => {
                let peer = self.side(side);
                let pending = peer.conn.poll_transmit().map(<[u8]>::to_vec);
                peer.conn.release_buffers();
                assert_eq!(peer.conn.poll_transmit().map(<[u8]>::to_vec), pending);
            }
        }
        self.check_errors();
        self.hang_ups();
        self.check_errors();
    }

    /// Delivers everything, both ways, until nothing moves.
    fn settle(&mut self) {
        for _ in 0..64 {
            let moved = self.deliver(Side::Client, None) | self.deliver(Side::Server, None);
            self.hang_ups();
            self.check_errors();
            if !moved
                && self.client.conn.poll_transmit().is_none()
                && self.server.conn.poll_transmit().is_none()
            {
                return;
            }
        }
        panic!("the pair does not settle");
    }
}

fuzz_target!(|input: Input| {
    let now = ws_fuzz::start();
    let config = |fragment: Option<u16>| Config {
        send_fragment_size: fragment.map(usize::from),
        max_write_buffer: input
            .write_limit
            .map_or(Config::default().max_write_buffer, usize::from),
        auto_pong: input.auto_pong,
        keepalive_interval: input.keepalive.then_some(Duration::from_secs(1)),
        keepalive_timeout: Duration::from_secs(3),
        ..Config::default()
    };
    let client = {
        use rand::SeedableRng as _;
        let rng = rand::rngs::StdRng::seed_from_u64(ws_fuzz::CLIENT_RNG_SEED);
        Connection::client(
            now,
            config(input.client_fragment),
            &ClientRequest::new("h", 80, "/"),
            rng,
        )
        .expect("a valid request")
    };
    let server = Connection::server(now, config(input.server_fragment), ServerConfig::default());
    let mut pair = Pair {
        client: Peer::new(client, "client", true),
        server: Peer::new(server, "server", false),
        now,
        disrupted: false,
        checked_errors: [false; 2],
    };

    for op in input.ops {
        pair.op(op);
    }
    pair.settle();

    // Messages and pings arrive intact and in order.
    for from in [Side::Client, Side::Server] {
        let disrupted = pair.disrupted;
        let (a, b) = pair.both(from);
        let got = b.log.messages();
        if disrupted {
            assert!(
                ws_fuzz::is_prefix(&got, &a.sent),
                "{} received messages that are not a prefix of what {} sent:\n got {got:?}\n sent {:?}",
                b.log.name,
                a.log.name,
                a.sent
            );
        } else {
            assert_eq!(
                got, a.sent,
                "{} did not receive what {} sent",
                b.log.name, a.log.name
            );
        }
        if !input.keepalive {
            let pings: Vec<Vec<u8>> = b
                .log
                .items()
                .into_iter()
                .filter_map(|i| match i {
                    Item::Ping(p) => Some(p),
                    _ => None,
                })
                .collect();
            assert!(ws_fuzz::is_prefix(&pings, &a.pings), "{} pings", b.log.name);
            if !disrupted {
                assert_eq!(
                    pings, a.pings,
                    "{} did not receive the pings of {}",
                    b.log.name, a.log.name
                );
            }
        }
    }

    if !pair.disrupted {
        let initiated = (pair.client.initiated.clone(), pair.server.initiated.clone());
        if initiated == (None, None) {
            assert_eq!(pair.client.conn.state(), State::Open);
            assert_eq!(pair.server.conn.state(), State::Open);
            pair.client
                .conn
                .close(pair.now, CloseCode::NORMAL, "end")
                .expect("close");
            pair.client.drain();
            pair.client.initiated = Some((1000, "end".into()));
            pair.settle();
        }
        assert!(!pair.disrupted, "closing disrupted the pair");
        for from in [Side::Client, Side::Server] {
            let (a, b) = pair.both(from);
            let closed = b.log.closed.clone().unwrap_or_else(|| {
                panic!(
                    "{} is not closed after a delivered close: {:?}",
                    b.log.name, b.conn
                )
            });
            assert!(closed.was_clean, "{}: {closed:?}", b.log.name);
            // What b reports is the close frame a sent: its own, or its echo of b's.
            let frame_of_a = a
                .initiated
                .clone()
                .or_else(|| b.initiated.clone())
                .expect("a close");
            assert_eq!(
                (closed.code.0, closed.reason.clone()),
                frame_of_a,
                "{}: the Closed event does not carry {}'s close frame",
                b.log.name,
                a.log.name
            );
            let expected = if b.initiated.is_some() {
                Initiator::Local
            } else {
                Initiator::Remote
            };
            assert_eq!(closed.initiator, expected, "{}: {closed:?}", b.log.name);
        }
    }

    // Each side's output carries exactly the messages it accepted to send.
    for peer in [&mut pair.client, &mut pair.server] {
        if let Some(bytes) = peer.conn.poll_transmit() {
            let bytes = bytes.to_vec();
            peer.out.push(&bytes);
        }
        assert_eq!(
            peer.out.frames.messages(),
            peer.sent,
            "{}: output",
            peer.log.name
        );
    }
});
