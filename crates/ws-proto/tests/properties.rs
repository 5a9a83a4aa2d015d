//! Property tests: what one side sends, the other receives intact, for every
//! opcode, length class, fragment size and split of the byte stream; and no
//! input whatever makes a connection panic or break its event order.

mod common;

use std::time::{Duration, Instant};

use common::*;
use proptest::prelude::*;
use ws_proto::{Config, Connection, Event, Message, ServerConfig};

#[derive(Clone, Debug)]
enum Op {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
}

fn op() -> impl Strategy<Value = Op> {
    // Sizes cover the 7-bit, 16-bit and 64-bit length classes.
    let len = prop_oneof![
        0usize..=125,
        126usize..=300,
        Just(0xFFFF),
        Just(0x1_0000),
        0x1_0000usize..=70_000
    ];
    prop_oneof![
        "\\PC{0,200}".prop_map(Op::Text),
        len.prop_flat_map(|n| proptest::collection::vec(any::<u8>(), n))
            .prop_map(Op::Binary),
        proptest::collection::vec(any::<u8>(), 0..=125).prop_map(Op::Ping),
    ]
}

fn send(conn: &mut Connection, op: &Op) {
    match op {
        Op::Text(t) => conn.send_text(t).unwrap(),
        Op::Binary(b) => conn.send_binary(b).unwrap(),
        Op::Ping(p) => conn.send_ping(p).unwrap(),
    }
}

fn expected(op: &Op) -> Event {
    match op {
        Op::Text(t) => Event::Message(Message::Text(t.clone().into())),
        Op::Binary(b) => Event::Message(Message::Binary(b.clone().into())),
        Op::Ping(p) => Event::Ping(p.clone().into()),
    }
}

/// Whether `small` is `big` with some items left out.
fn is_subsequence(small: &[Event], big: &[Event]) -> bool {
    let mut big = big.iter();
    small.iter().all(|item| big.any(|b| b == item))
}

/// Pongs answer pings automatically; they are not part of what was sent.
fn without_pongs(events: &[Event]) -> Vec<Event> {
    events
        .iter()
        .filter(|e| !matches!(e, Event::Pong(_)))
        .cloned()
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn what_is_sent_is_received_intact(
        ops in proptest::collection::vec(op(), 1..12),
        fragment in prop_oneof![Just(None), (1usize..200).prop_map(Some)],
        max_piece in prop_oneof![Just(1usize), 2usize..64, Just(100_000)],
        seed in any::<u64>(),
        client_sends in any::<bool>(),
    ) {
        let config = Config::default().send_fragment_size(fragment);
        let mut pair = Pair::open(seed, config, max_piece);
        for op in &ops {
            if client_sends { send(&mut pair.client, op) } else { send(&mut pair.server, op) }
        }
        pair.run();
        let (receiver, sender) = if client_sends {
            (&pair.server_events, &pair.client_events)
        } else {
            (&pair.client_events, &pair.server_events)
        };
        let expected: Vec<Event> = ops.iter().map(expected).collect();
        prop_assert_eq!(without_pongs(receiver), expected);
        let pings: Vec<Event> = ops.iter().filter_map(|o| match o {
            Op::Ping(p) => Some(Event::Pong(p.clone().into())),
            _ => None,
        }).collect();
        if max_piece == 100_000 {
            // A peer that reads everything at once gets a pong per ping.
            prop_assert_eq!(sender.clone(), pings);
        } else {
            // One that reads in small pieces may find a pong replaced by
            // the next (section 5.5.3): the pongs answer some of the
            // pings, in order, and always the last.
            prop_assert!(is_subsequence(sender, &pings), "{sender:?} for {pings:?}");
            prop_assert_eq!(sender.last(), pings.last());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_a_client_and_keep_the_event_order(
        data in proptest::collection::vec(any::<u8>(), 0..2000),
        pieces in proptest::collection::vec(1usize..300, 1..20),
        ticks in proptest::collection::vec(0u64..20_000, 0..4),
    ) {
        let now = Instant::now();
        let mut client = open_client(now, Config::default());
        check_order(&mut client, now, &data, &pieces, &ticks);
    }

    #[test]
    fn arbitrary_bytes_never_panic_a_server_and_keep_the_event_order(
        data in proptest::collection::vec(any::<u8>(), 0..2000),
        pieces in proptest::collection::vec(1usize..300, 1..20),
        ticks in proptest::collection::vec(0u64..20_000, 0..4),
        after_handshake in any::<bool>(),
    ) {
        let now = Instant::now();
        let mut server = if after_handshake {
            open_server(now, Config::default())
        } else {
            Connection::server(now, Config::default(), ServerConfig::default())
        };
        check_order(&mut server, now, &data, &pieces, &ticks);
    }
}

/// Feeds `data` in `pieces`, fires timers at `ticks` (ms), ends the
/// transport, and checks the documented order: at most one Open first, at
/// most one Error, exactly one Closed, last.
fn check_order(conn: &mut Connection, now: Instant, data: &[u8], pieces: &[usize], ticks: &[u64]) {
    let mut all = Vec::new();
    let mut rest = data;
    let mut t = now;
    for (i, &n) in pieces.iter().cycle().enumerate() {
        if rest.is_empty() {
            break;
        }
        let n = n.min(rest.len());
        conn.receive(t, &rest[..n]);
        rest = &rest[n..];
        all.extend(std::iter::from_fn(|| conn.poll_event()));
        if let Some(&ms) = ticks.get(i) {
            t += Duration::from_millis(ms);
            conn.handle_timeout(t);
            all.extend(std::iter::from_fn(|| conn.poll_event()));
        }
        // Whatever the connection wants to send is well-formed for its role.
        let out = take_output(conn);
        if conn.state() != ws_proto::State::Connecting && !out.starts_with(b"HTTP/") {
            let masked = conn.role() == ws_proto::Role::Client;
            assert!(parse_frames(&out).iter().all(|f| f.masked == masked));
        }
    }
    conn.receive_eof();
    all.extend(std::iter::from_fn(|| conn.poll_event()));
    let closed = all.iter().filter(|e| matches!(e, Event::Closed(_))).count();
    let errors = all.iter().filter(|e| matches!(e, Event::Error(_))).count();
    let opens = all.iter().filter(|e| matches!(e, Event::Open(_))).count();
    assert_eq!(closed, 1, "{all:?}");
    assert!(matches!(all.last(), Some(Event::Closed(_))), "{all:?}");
    assert!(errors <= 1 && opens <= 1, "{all:?}");
    if let Some(i) = all.iter().position(|e| matches!(e, Event::Error(_))) {
        assert!(
            all[i + 1..].iter().all(|e| matches!(e, Event::Closed(_))),
            "{all:?}"
        );
    }
    assert_eq!(conn.poll_event(), None);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Reading straight into the connection's buffer is the same input as
    /// `receive`: the same events for the same bytes, however the reads
    /// split them, with the transport going quiet (and the buffer being
    /// given back) between reads; and the buffer lent never exceeds the
    /// window plus the rest of a large frame.
    #[test]
    fn reading_into_the_buffer_is_the_same_input_as_receive(
        ops in proptest::collection::vec(op(), 1..12),
        big in prop_oneof![Just(0usize), 1usize..200_000],
        pieces in proptest::collection::vec(1usize..70_000, 1..8),
        drained in proptest::collection::vec(any::<bool>(), 1..8),
        server_receives in any::<bool>(),
    ) {
        let now = Instant::now();
        let mut sender = if server_receives { open_client(now, Config::default()) } else { open_server(now, Config::default()) };
        for op in &ops {
            send(&mut sender, op);
        }
        if big > 0 {
            sender.send_binary(&vec![7; big]).unwrap();
        }
        let wire = take_output(&mut sender);
        let open = |now| if server_receives { open_server(now, Config::default()) } else { open_client(now, Config::default()) };
        let (mut by_copy, mut by_read) = (open(now), open(now));
        let (mut copied, mut read) = (Vec::new(), Vec::new());
        let mut rest = &wire[..];
        for (i, &piece) in pieces.iter().cycle().enumerate() {
            if rest.is_empty() {
                break;
            }
            let room = by_read.receive_buffer();
            prop_assert!(!room.is_empty());
            let n = piece.min(rest.len()).min(room.len());
            room[..n].copy_from_slice(&rest[..n]);
            by_read.commit_received(now, n);
            by_copy.receive(now, &rest[..n]);
            rest = &rest[n..];
            copied.extend(std::iter::from_fn(|| by_copy.poll_event()));
            read.extend(std::iter::from_fn(|| by_read.poll_event()));
            if drained[i % drained.len()] {
                by_read.receive_drained();
            }
        }
        let expected: Vec<Event> = ops.iter().map(expected).collect();
        prop_assert_eq!(&copied, &read);
        let mut expected = expected;
        if big > 0 {
            expected.push(Event::Message(Message::Binary(vec![7; big].into())));
        }
        prop_assert_eq!(without_pongs(&read), expected);
        // Everything decoded and the transport quiet: nothing is held once
        // the reads were small, and never more than the largest step.
        by_read.receive_drained();
        prop_assert!(by_read.buffer_capacity() <= (1 << 20) + (512 << 10), "{}", by_read.buffer_capacity());
    }
}

/// An event with any message payload copied out, so that it no longer
/// shares (and holds) the read buffer it was split from.
fn detached(event: Event) -> Event {
    match event {
        Event::Message(Message::Binary(b)) => {
            Event::Message(Message::Binary(ws_proto::Bytes::copy_from_slice(&b)))
        }
        Event::Message(Message::Text(t)) => {
            Event::Message(Message::Text(t.as_str().to_owned().into()))
        }
        other => other,
    }
}

/// One of two connections reading straight into their buffers, with the
/// buffers they give back when drained kept in one pool and lent to
/// whichever reads next: the connection, a twin fed with `receive` as the
/// reference, the events it decoded (detached), what its sender sent, and
/// how far into its wire bytes it has read.
struct Recycling {
    conn: Connection,
    reference: Connection,
    events: Vec<Event>,
    expected: Vec<Event>,
    wire: Vec<u8>,
    at: usize,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Read buffers given back by one connection and adopted by another
    /// (`receive_drained_spare`, `adopt_spare_buffer`) change nothing: each
    /// connection decodes exactly what `receive` decodes from its own
    /// bytes, never a byte the buffer held for the other, however the
    /// reads interleave and split, whether the messages split off are
    /// still alive when the buffer is given back (then it is not given, and
    /// they keep their bytes) or dropped (then it is).
    #[test]
    fn spare_buffers_passed_between_connections_change_nothing(
        ops in proptest::collection::vec(proptest::collection::vec(op(), 1..8), 2),
        pieces in proptest::collection::vec(1usize..700, 1..8),
        turns in proptest::collection::vec(any::<bool>(), 1..8),
        drained in proptest::collection::vec(any::<bool>(), 1..8),
        keep_messages in any::<bool>(),
        server_receives in any::<bool>(),
    ) {
        let now = Instant::now();
        let open = |now| if server_receives { open_server(now, Config::default()) } else { open_client(now, Config::default()) };
        let mut pair: Vec<Recycling> = ops.iter().map(|ops| {
            let mut sender = if server_receives { open_client(now, Config::default()) } else { open_server(now, Config::default()) };
            for op in ops {
                send(&mut sender, op);
            }
            Recycling {
                conn: open(now),
                reference: open(now),
                events: Vec::new(),
                expected: ops.iter().map(expected).collect(),
                wire: take_output(&mut sender),
                at: 0,
            }
        }).collect();
        let mut pool = Vec::new();
        let mut kept = Vec::new();
        for i in 0.. {
            if pair.iter().all(|r| r.at == r.wire.len()) {
                break;
            }
            let mut who = usize::from(turns[i % turns.len()]);
            if pair[who].at == pair[who].wire.len() {
                who = 1 - who;
            }
            let r = &mut pair[who];
            if r.conn.wants_spare_buffer() {
                if let Some(spare) = pool.pop() {
                    prop_assert!(r.conn.adopt_spare_buffer(spare).is_none(), "wanted, so taken");
                }
            } else if let Some(spare) = pool.pop() {
                // Not wanted: handed back untouched.
                pool.push(r.conn.adopt_spare_buffer(spare).expect("handed back"));
            }
            let room = r.conn.receive_buffer();
            prop_assert!(!room.is_empty());
            let n = pieces[i % pieces.len()].min(r.wire.len() - r.at).min(room.len());
            room[..n].copy_from_slice(&r.wire[r.at..r.at + n]);
            r.conn.commit_received(now, n);
            r.reference.receive(now, &r.wire[r.at..r.at + n]);
            r.at += n;
            while let Some(event) = r.conn.poll_event() {
                let copy = detached(event.clone());
                if keep_messages {
                    kept.push((event, copy.clone()));
                }
                r.events.push(copy);
            }
            if drained[i % drained.len()] {
                if let Some(spare) = r.conn.receive_drained_spare() {
                    prop_assert!(spare.capacity() >= 512);
                    pool.push(spare);
                }
            }
        }
        // Messages kept alive were never written over by a read into a
        // buffer given away (one a live message shares is not given).
        for (live, copy) in &kept {
            prop_assert_eq!(live, copy);
        }
        for r in &mut pair {
            let reference: Vec<Event> = std::iter::from_fn(|| r.reference.poll_event()).collect();
            prop_assert_eq!(&r.events, &reference);
            prop_assert_eq!(without_pongs(&r.events), r.expected.clone());
        }
    }
}

#[test]
fn a_drained_connection_gives_its_buffer_for_another_to_read_into() {
    let now = Instant::now();
    let (mut first, mut second) = (
        open_client(now, Config::default()),
        open_client(now, Config::default()),
    );
    first.release_buffers();
    second.release_buffers();
    let frame = common::server_frame(true, ws_proto::frame::OpCode::Binary, &[1; 300]);
    // While a message split off it lives, the buffer is given back as
    // `receive_drained` gives it (the connection holds none), not spared.
    receive_into(&mut first, now, &frame);
    let message = first.poll_event();
    assert!(matches!(message, Some(Event::Message(_))));
    assert!(
        first.receive_drained_spare().is_none(),
        "the message still shares it"
    );
    assert_eq!(first.buffer_capacity(), 0);
    assert_eq!(
        message,
        Some(Event::Message(Message::Binary(vec![1; 300].into())))
    );
    // Once the messages are gone, it is spared.
    receive_into(&mut first, now, &frame);
    assert!(matches!(first.poll_event(), Some(Event::Message(_))));
    let spare = first.receive_drained_spare().expect("given back");
    assert_eq!(first.buffer_capacity(), 0, "an idle connection holds none");
    let capacity = spare.capacity();
    assert!(second.wants_spare_buffer());
    assert!(second.adopt_spare_buffer(spare).is_none());
    assert!(!second.wants_spare_buffer());
    assert_eq!(second.buffer_capacity(), capacity, "no new allocation");
    assert_eq!(
        second.poll_event(),
        None,
        "the old bytes are room, not input"
    );
    receive_into(
        &mut second,
        now,
        &common::server_frame(true, ws_proto::frame::OpCode::Text, b"hi"),
    );
    assert_eq!(
        second.poll_event(),
        Some(Event::Message(Message::Text("hi".into())))
    );
    // Read into the spare (what remains of it after the frame split off),
    // not into a new allocation.
    assert!(
        second.buffer_capacity() <= capacity,
        "{}",
        second.buffer_capacity()
    );
}

#[test]
fn a_quiet_connection_gives_its_read_buffer_back() {
    let now = Instant::now();
    let mut client = open_client(now, Config::default());
    client.release_buffers();
    let frame = common::server_frame(true, ws_proto::frame::OpCode::Binary, &[1; 32]);
    let room = client.receive_buffer();
    assert!(
        room.len() >= frame.len() && room.len() <= 4096,
        "{}",
        room.len()
    );
    room[..frame.len()].copy_from_slice(&frame);
    client.commit_received(now, frame.len());
    assert!(matches!(client.poll_event(), Some(Event::Message(_))));
    assert!(client.buffer_capacity() >= frame.len());
    client.receive_drained();
    assert_eq!(client.buffer_capacity(), 0);
}

/// Every event, taking whole messages first whenever `batch` says so
/// (the way a driver decoding batches does): `1` with `poll_message`, `2`
/// lent with `poll_message_ref` (copied out to compare), `3` lent and then
/// kept with `keep_lent_message`, `0` not at all.
fn events_polling_messages_first(conn: &mut Connection, batch: &[u8]) -> Vec<Event> {
    let mut all = Vec::new();
    for i in 0.. {
        match batch[i % batch.len()] {
            1 => all.extend(std::iter::from_fn(|| {
                conn.poll_message().map(Event::Message)
            })),
            2 => all.extend(std::iter::from_fn(|| {
                conn.poll_message_ref()
                    .map(|m| Event::Message(m.to_message()))
            })),
            3 => all.extend(std::iter::from_fn(|| {
                let copied = conn.poll_message_ref()?.to_message();
                let kept = conn.keep_lent_message().expect("still lent");
                assert_eq!(kept, copied);
                assert!(conn.keep_lent_message().is_none(), "kept once");
                Some(Event::Message(kept))
            })),
            _ => {}
        }
        match conn.poll_event() {
            Some(event) => all.push(event),
            None => return all,
        }
    }
    all
}

/// Hands `bytes` to `conn` through the room it lends (`receive_buffer`),
/// as a driver reading straight into it does.
fn receive_into(conn: &mut Connection, now: Instant, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        let room = conn.receive_buffer();
        if room.is_empty() {
            return; // decoding has stopped: the rest is ignored, as `receive` does
        }
        let n = room.len().min(bytes.len());
        room[..n].copy_from_slice(&bytes[..n]);
        conn.commit_received(now, n);
        bytes = &bytes[n..];
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// `poll_message` and `poll_message_ref` have no effect but the
    /// message they return: the same events in the same order, and the
    /// same bytes to send, as `poll_event` alone, for valid streams and
    /// for arbitrary bytes after valid ones; also when input is read
    /// into the room the connection lends while a message is lent.
    #[test]
    fn polling_messages_first_changes_nothing(
        ops in proptest::collection::vec(op(), 0..10),
        garbage in proptest::collection::vec(any::<u8>(), 0..64),
        pieces in proptest::collection::vec(1usize..200, 1..6),
        batch in proptest::collection::vec(0u8..4, 1..6),
        server_receives in any::<bool>(),
    ) {
        let now = Instant::now();
        let open = |now| if server_receives { open_server(now, Config::default()) } else { open_client(now, Config::default()) };
        let mut sender = if server_receives { open_client(now, Config::default()) } else { open_server(now, Config::default()) };
        for op in &ops {
            send(&mut sender, op);
        }
        let mut wire = take_output(&mut sender);
        wire.extend_from_slice(&garbage);
        let (mut plain, mut batched) = (open(now), open(now));
        let (mut plain_events, mut batched_events) = (Vec::new(), Vec::new());
        let mut rest = &wire[..];
        for &piece in pieces.iter().cycle() {
            let n = piece.min(rest.len());
            plain.receive(now, &rest[..n]);
            receive_into(&mut batched, now, &rest[..n]);
            rest = &rest[n..];
            plain_events.extend(std::iter::from_fn(|| plain.poll_event()));
            batched_events.extend(events_polling_messages_first(&mut batched, &batch));
            prop_assert_eq!(take_output(&mut plain), take_output(&mut batched));
            if rest.is_empty() {
                break;
            }
        }
        plain.receive_eof();
        batched.receive_eof();
        plain_events.extend(std::iter::from_fn(|| plain.poll_event()));
        batched_events.extend(events_polling_messages_first(&mut batched, &batch));
        prop_assert_eq!(plain_events, batched_events);
    }
}
