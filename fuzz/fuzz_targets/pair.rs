//! A client and a server talking through two in-memory pipes, driven by a
//! structured sequence of operations: sends (up to 64 KiB, by repeating a
//! string), pings, closes, time passing, partial deliveries each way, and
//! transport ends. Each side may have permessage-deflate (RFC 7692)
//! configured, with its own windows, context takeover, threshold and level.
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
//! (and a refused command queues nothing); once open, both sides report the
//! same permessage-deflate parameters (`Connection::deflate`), the ones the
//! two configurations call for (none unless both have it, none when the
//! client asks for a server window of 8), the client offers it exactly when
//! configured and the server's 101 accepts it exactly when agreed; every
//! message a side accepted to send reaches the other side intact and in
//! order (a prefix of them when the pair was disrupted), and so do pings
//! (without keepalive); each side's output is a valid HTTP head then valid
//! frames, masked from the client only, carrying exactly the messages
//! accepted: with deflate in force, RSV1 only on the first frame of a data
//! message, a compressed message inflates (by the checker's own flate2,
//! context kept or reset as agreed) to the message accepted, no match in it
//! reaches further back than the agreed window, and a message is compressed
//! exactly when it is at least the sender's threshold long and the sender's
//! window is not 8; without disruption both sides end Closed, cleanly, with
//! the codes and reasons of the close frames the other side sent; after
//! every delivery (partial ones included), what each side holds is within
//! its limits (`ws_fuzz::check_held`: bytes waiting within the write
//! buffer's limit, buffers within `ws_fuzz::held_bound`), so memory that
//! grows with the traffic is a finding, not only a crash.

#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use ws_fuzz::pair::{DeflateSetup, Input, Op, Side, agreed};
use ws_fuzz::{Deflate, EventLog, Item, OutputChecker};
use ws_proto::{
    ClientRequest, CloseCode, Config, Connection, DeflateParams, Error, HandshakeError, Initiator,
    SendError, ServerConfig, State,
};

const VALID_CODES: [u16; 12] = [
    1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1014, 3000, 4999,
];

/// An operation's close code: one of [`VALID_CODES`] when below 32, so
/// that most inputs close validly; as given otherwise.
fn close_code(code: u16) -> u16 {
    if code < 32 {
        VALID_CODES[usize::from(code) % VALID_CODES.len()]
    } else {
        code
    }
}

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
    /// This side failed the connection itself (`Op::Fail`) with this code.
    failed: Option<u16>,
    /// With permessage-deflate in force: the window this side compresses
    /// with, and its threshold.
    compresses: Option<(u8, usize)>,
    /// The largest piece of input delivered to it.
    max_piece: usize,
}

impl Peer {
    /// `deflate`: the agreed window and context takeover of what this side
    /// sends, and its own settings.
    fn new(
        conn: Connection,
        name: &'static str,
        masked: bool,
        deflate: Option<(Deflate, &DeflateSetup)>,
    ) -> Self {
        let mut out = OutputChecker::with_head(name, masked);
        out.set_deflate(deflate.map(|(d, _)| d));
        Self {
            conn,
            log: EventLog::new(name),
            out,
            sent: Vec::new(),
            pings: Vec::new(),
            initiated: None,
            eof: false,
            failed: None,
            compresses: deflate.map(|(d, setup)| (d.window_bits, setup.threshold_bytes())),
            max_piece: 0,
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
    /// The permessage-deflate parameters the two configurations call for.
    agreed: Option<DeflateParams>,
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
        // Memory grows with the limits, never with the traffic.
        b.max_piece = b.max_piece.max(n);
        ws_fuzz::check_held(&a.conn, a.max_piece, a.log.name);
        ws_fuzz::check_held(&b.conn, b.max_piece, b.log.name);
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
                Error::ConnectionLost
                | Error::Transport
                | Error::Handshake(HandshakeError::UnexpectedEof) => {
                    assert!(disrupted, "{name}: {error:?} without a disruption")
                }
                // Only the side that failed reports it, with its own code.
                Error::Failed(code) => assert_eq!(
                    peer.failed,
                    Some(code.0),
                    "{name}: {error:?} but it failed with {:?}",
                    peer.failed
                ),
                _ => panic!("{name}: {error:?} between two correct endpoints"),
            }
            self.checked_errors[i] = true;
            self.disrupted = true;
        }
    }

    /// A side reports the agreed permessage-deflate parameters once open,
    /// none before.
    fn check_deflate(&mut self) {
        let agreed = self.agreed;
        for peer in [&self.client, &self.server] {
            let expected = if peer.log.opened() { agreed } else { None };
            assert_eq!(
                peer.conn.deflate(),
                expected,
                "{}: deflate() (opened: {})",
                peer.log.name,
                peer.log.opened()
            );
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
            Op::SendRepeated(side, binary, unit, times) => {
                let message = Op::repeated(&unit, times);
                let peer = self.side(side);
                if binary {
                    if peer.command("send_binary", |c| c.send_binary(message.as_bytes())) {
                        peer.sent.push(Item::Binary(message.into_bytes()));
                    }
                } else if peer.command("send_text", |c| c.send_text(&message)) {
                    peer.sent.push(Item::Text(message.into_bytes()));
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
                let code = close_code(code);
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
            Op::Fail(side, code) => {
                let code = close_code(code);
                let peer = self.side(side);
                let state = peer.conn.state();
                let valid = CloseCode(code).is_valid_on_wire();
                let result = peer.conn.fail(now, CloseCode(code), "fuzz");
                assert_eq!(result.is_ok(), valid, "fail({code}): {result:?}");
                let failed = valid && state != State::Closed;
                if failed {
                    peer.failed.get_or_insert(code);
                    // Nothing more is decoded; the peer sees a close frame
                    // it does not get to answer in time, or none.
                    assert!(!peer.conn.is_receiving());
                }
                peer.drain();
                if failed {
                    self.disrupted = true;
                }
            }
            Op::TransportFailed(side) => {
                let peer = self.side(side);
                if !peer.eof {
                    peer.eof = true;
                    peer.conn.transport_failed();
                    peer.drain();
                    self.disrupted = true;
                }
            }
            Op::Abandon(side) => {
                let peer = self.side(side);
                let errors = peer.log.error().is_some();
                peer.conn.abandon();
                peer.drain();
                assert_eq!(peer.conn.state(), State::Closed);
                assert_eq!(
                    peer.log.error().is_some(),
                    errors,
                    "{}: abandon reported an error",
                    peer.log.name
                );
                self.disrupted = true;
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
        self.check_deflate();
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
    let config = |fragment: Option<u16>, deflate: Option<DeflateSetup>| {
        Config::default()
            .send_fragment_size(fragment.map(usize::from))
            .max_write_buffer(
                input
                    .write_limit
                    .map_or(Config::default().max_write_buffer, usize::from),
            )
            .auto_pong(input.auto_pong)
            .keepalive_interval(input.keepalive.then_some(Duration::from_secs(1)))
            .keepalive_timeout(Duration::from_secs(3))
            .deflate(deflate.map(|d| d.config()))
    };
    let agreed = agreed(input.client_deflate.as_ref(), input.server_deflate.as_ref());
    let client_deflate = agreed.zip(input.client_deflate.as_ref()).map(|(a, setup)| {
        let d = Deflate {
            window_bits: a.client_max_window_bits,
            no_context_takeover: a.client_no_context_takeover,
        };
        (d, setup)
    });
    let server_deflate = agreed.zip(input.server_deflate.as_ref()).map(|(a, setup)| {
        let d = Deflate {
            window_bits: a.server_max_window_bits,
            no_context_takeover: a.server_no_context_takeover,
        };
        (d, setup)
    });
    let client = {
        use rand::SeedableRng as _;
        let rng = rand::rngs::StdRng::seed_from_u64(ws_fuzz::CLIENT_RNG_SEED);
        Connection::client(
            now,
            config(input.client_fragment, input.client_deflate),
            &ClientRequest::new("h", 80, "/"),
            rng,
        )
        .expect("a valid request")
    };
    let server = Connection::server(
        now,
        config(input.server_fragment, input.server_deflate),
        ServerConfig::default(),
    );
    let mut pair = Pair {
        client: Peer::new(client, "client", true, client_deflate),
        server: Peer::new(server, "server", false, server_deflate),
        now,
        disrupted: false,
        checked_errors: [false; 2],
        agreed,
    };

    pair.check_deflate();
    for op in input.ops {
        pair.op(op);
    }
    pair.settle();
    pair.check_deflate();

    // The client offers permessage-deflate when configured; the server's 101
    // accepts it when the two agree.
    let extensions =
        |head: &[u8]| ws_fuzz::header_value(head, "sec-websocket-extensions").map(<[u8]>::to_vec);
    if let Some(head) = pair.client.out.head() {
        let offer = extensions(head);
        assert_eq!(
            offer.is_some(),
            input.client_deflate.is_some(),
            "client offer {offer:?}"
        );
        if let Some(offer) = offer {
            assert!(offer.starts_with(b"permessage-deflate"), "offer {offer:?}");
        }
    }
    if let Some(head) = pair.server.out.head() {
        let answer = extensions(head);
        if head.starts_with(b"HTTP/1.1 101 ") {
            assert_eq!(
                answer.is_some(),
                agreed.is_some(),
                "server answer {answer:?}"
            );
            if let Some(answer) = answer {
                assert!(
                    answer.starts_with(b"permessage-deflate"),
                    "answer {answer:?}"
                );
            }
        }
    }

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
        // A message is compressed when at least the threshold long, unless
        // this side may not compress (a window of 8).
        let compressed = &peer.out.frames.compressed_messages;
        for (message, &compressed) in peer.sent.iter().zip(compressed) {
            let len = match message {
                Item::Text(b) | Item::Binary(b) => b.len(),
                _ => unreachable!("messages only"),
            };
            let expected = peer
                .compresses
                .is_some_and(|(window, threshold)| window >= 9 && len >= threshold);
            assert_eq!(
                compressed, expected,
                "{}: a message of {len} bytes compressed: {compressed}, deflate: {:?}",
                peer.log.name, peer.compresses
            );
        }
    }
});
