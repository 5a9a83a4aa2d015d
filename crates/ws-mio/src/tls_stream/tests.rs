//! A client and a server [`TlsStream`] joined by in-memory pipes that
//! deliver bytes in the splits a test chooses (one at a time, random, or
//! as much as fits) and take writes up to a capacity, so partial writes
//! and "would block" happen as on a socket. No port, no thread.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::rc::Rc;
use std::sync::{Arc, OnceLock};

use proptest::prelude::*;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use super::buffers::{MAX_INCOMING, MAX_RECORD, SMALL, STEADY_INCOMING};
use super::{ENCRYPT_BATCH, Outbox, TlsStream};
use crate::error::Error;
use crate::transport::Read;

// ---- pipes -----------------------------------------------------------------

/// Bytes on their way one direction.
#[derive(Default)]
struct Pipe {
    bytes: VecDeque<u8>,
    /// The writer shut its end: reads past the bytes return 0.
    shut: bool,
}

/// One end: reads from one pipe, writes to the other.
struct End {
    rx: Rc<RefCell<Pipe>>,
    tx: Rc<RefCell<Pipe>>,
    /// The most each read returns, taken in turn (cycled).
    splits: Vec<usize>,
    next_split: usize,
    /// The most the outgoing pipe holds: a write past it would block.
    capacity: usize,
}

impl End {
    fn split(&mut self) -> usize {
        let split = self.splits[self.next_split % self.splits.len()];
        self.next_split += 1;
        split.max(1)
    }

    /// Puts bytes in this end's input, as if the peer had written them.
    fn inject(&self, bytes: &[u8]) {
        self.rx.borrow_mut().bytes.extend(bytes);
    }

    fn shut_output(&self) {
        self.tx.borrow_mut().shut = true;
    }
}

impl io::Read for End {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let split = self.split();
        let mut rx = self.rx.borrow_mut();
        if rx.bytes.is_empty() {
            return if rx.shut {
                Ok(0)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            };
        }
        let n = buf.len().min(split).min(rx.bytes.len());
        for (slot, byte) in buf.iter_mut().zip(rx.bytes.drain(..n)) {
            *slot = byte;
        }
        Ok(n)
    }
}

impl io::Write for End {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut tx = self.tx.borrow_mut();
        let room = self.capacity.saturating_sub(tx.bytes.len());
        if room == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(room);
        tx.bytes.extend(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Two joined ends: reads split by `splits`, writes up to `capacity`.
fn pipes(splits: Vec<usize>, capacity: usize) -> (End, End) {
    let (a, b) = (Rc::default(), Rc::default());
    let end = |rx: &Rc<RefCell<Pipe>>, tx: &Rc<RefCell<Pipe>>| End {
        rx: rx.clone(),
        tx: tx.clone(),
        splits: splits.clone(),
        next_split: 0,
        capacity,
    };
    (end(&a, &b), end(&b, &a))
}

// ---- plaintext queues ------------------------------------------------------

/// Plaintext to send, in runs as the state machine would offer them.
#[derive(Default)]
struct Queue {
    runs: VecDeque<Vec<u8>>,
    at: usize,
}

impl Queue {
    fn push(&mut self, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.runs.push_back(bytes.to_vec());
        }
    }

    fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }
}

impl Outbox for Queue {
    fn pending(&self) -> Option<&[u8]> {
        self.runs.front().map(|run| &run[self.at..])
    }

    fn consume(&mut self, n: usize) {
        self.at += n;
        if self.runs.front().is_some_and(|run| self.at == run.len()) {
            self.runs.pop_front();
            self.at = 0;
        }
    }
}

// ---- identities ------------------------------------------------------------

struct Configs {
    client: Arc<rustls::ClientConfig>,
    server: Arc<rustls::ServerConfig>,
}

/// One self-signed identity for "localhost", made once for all tests.
fn configs() -> &'static Configs {
    static CONFIGS: OnceLock<Configs> = OnceLock::new();
    CONFIGS.get_or_init(|| {
        let rcgen::CertifiedKey { cert, signing_key } =
            rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
                .expect("self-signed certificate");
        let der = CertificateDer::from(cert.der().to_vec());
        let key = PrivateKeyDer::try_from(signing_key.serialize_der()).expect("key");
        let server = crate::tls::server_config(vec![der.clone()], key).expect("server config");
        let options = crate::TlsOptions {
            roots: crate::Roots::Empty,
            extra_ca_der: vec![der.to_vec()],
            ..crate::TlsOptions::default()
        };
        let client = crate::tls::client_config(&options).expect("client config");
        Configs { client, server }
    })
}

fn localhost() -> ServerName<'static> {
    ServerName::try_from("localhost").expect("name")
}

// ---- a pair ----------------------------------------------------------------

/// One side: its TLS, its end of the pipes, what it sends and got.
struct Peer {
    tls: TlsStream,
    io: End,
    out: Queue,
    got: Vec<u8>,
    /// The room each read is lent (the state machine's receive buffer).
    room: usize,
    eof: bool,
    error: Option<Error>,
}

impl Peer {
    fn new(tls: TlsStream, io: End, room: usize) -> Self {
        Self {
            tls,
            io,
            out: Queue::default(),
            got: Vec::new(),
            room,
            eof: false,
            error: None,
        }
    }

    /// Reads until the pipe is empty, as the loop does on readability;
    /// returns whether anything happened.
    fn read_all(&mut self) -> bool {
        let before = self.io.rx.borrow().bytes.len();
        let mut any = false;
        let mut room = vec![0; self.room];
        while !self.eof && self.error.is_none() {
            match self.tls.read(&mut self.io, &mut room) {
                Ok(Read::Data(n)) => {
                    assert!(n > 0 && n <= room.len(), "read returned {n}");
                    self.got.extend_from_slice(&room[..n]);
                    any = true;
                }
                Ok(Read::WouldBlock) => break,
                Ok(Read::Eof) => {
                    self.eof = true;
                    any = true;
                }
                Err(e) => {
                    self.error = Some(e);
                    any = true;
                }
            }
        }
        any || self.io.rx.borrow().bytes.len() != before
    }

    /// Writes what waits; returns whether anything was written.
    fn flush(&mut self) -> bool {
        if self.error.is_some() {
            return false;
        }
        let before = self.io.tx.borrow().bytes.len();
        if let Err(e) = self.tls.flush(&mut self.io, &mut self.out) {
            self.error = Some(e);
            return true;
        }
        self.io.tx.borrow().bytes.len() != before
    }
}

struct Pair {
    client: Peer,
    server: Peer,
}

impl Pair {
    /// A fresh client and server; each read returns at most the next of
    /// `splits`, each pipe holds `capacity` bytes, each read is lent
    /// `room` bytes.
    fn new(splits: Vec<usize>, capacity: usize, room: usize) -> Self {
        Self::with(configs().client.clone(), splits, capacity, room)
    }

    /// The same, with a client configuration of the test's own.
    fn with(
        config: Arc<rustls::ClientConfig>,
        splits: Vec<usize>,
        capacity: usize,
        room: usize,
    ) -> Self {
        let (c, s) = pipes(splits, capacity);
        let client = TlsStream::client(config, localhost(), &[]).expect("client");
        let server = TlsStream::server(configs().server.clone()).expect("server");
        Self {
            client: Peer::new(client, c, room),
            server: Peer::new(server, s, room),
        }
    }

    /// Runs both sides as the loop would (flush, read, flush) until
    /// nothing moves any more.
    fn run(&mut self) {
        for _ in 0..10_000_000 {
            let mut moved = self.client.flush();
            moved |= self.server.flush();
            moved |= self.client.read_all();
            moved |= self.server.read_all();
            if !moved {
                return;
            }
        }
        panic!("the pair never settled");
    }

    fn handshake(&mut self) {
        self.run();
        assert!(
            !self.client.tls.is_handshaking(),
            "client still handshaking"
        );
        assert!(
            !self.server.tls.is_handshaking(),
            "server still handshaking"
        );
    }

    /// Both sides' buffers are within their bounds.
    fn check_bounds(&self) {
        for peer in [&self.client, &self.server] {
            assert!(peer.tls.incoming.capacity() <= MAX_INCOMING);
            assert!(
                peer.tls.outgoing.capacity() <= ENCRYPT_BATCH + 8 * MAX_RECORD,
                "outgoing buffer of {}",
                peer.tls.outgoing.capacity()
            );
        }
    }
}

/// Pseudo-random bytes (a fixed xorshift, so failures repeat).
fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

// ---- the handshake ---------------------------------------------------------

#[test]
fn the_handshake_says_what_it_negotiated_and_the_next_one_resumes() {
    // A session cache of this test's own (the shared configuration's has
    // other tests' sessions).
    let mut config = (*configs().client).clone();
    config.resumption = rustls::client::Resumption::in_memory_sessions(8);
    let config = Arc::new(config);
    let mut pair = Pair::with(config.clone(), vec![usize::MAX], 1 << 20, 4096);
    assert!(
        pair.client.tls.info().is_none(),
        "info before the handshake"
    );
    pair.handshake();
    let info = pair.client.tls.info().expect("client info");
    assert_eq!(info.version, "TLSv1.3");
    assert!(info.cipher_suite.starts_with("TLS13_"), "{info:?}");
    assert_eq!(info.alpn, None); // the server configuration offers none
    assert!(!info.resumed);
    assert!(pair.server.tls.info().is_some());
    assert!(!pair.client.tls.has_output() && !pair.server.tls.has_output());

    let mut again = Pair::with(config, vec![usize::MAX], 1 << 20, 4096);
    again.handshake();
    assert!(again.client.tls.info().expect("client info").resumed);
}

#[test]
fn plaintext_queued_during_the_handshake_waits_for_it() {
    let mut pair = Pair::new(vec![usize::MAX], 1 << 20, 4096);
    pair.client.out.push(b"GET / HTTP/1.1\r\n\r\n");
    // The first flush writes the ClientHello only: the request waits.
    assert!(
        pair.client
            .tls
            .flush(&mut pair.client.io, &mut pair.client.out)
            .unwrap()
    );
    assert!(!pair.client.out.is_empty(), "sent before the handshake");
    pair.run();
    assert!(pair.client.out.is_empty());
    assert_eq!(pair.server.got, b"GET / HTTP/1.1\r\n\r\n");
}

// ---- data both ways, in any split ------------------------------------------

/// Sends `messages` each way and checks both sides got them whole.
fn exchange(splits: Vec<usize>, capacity: usize, room: usize, messages: &[Vec<u8>]) {
    let mut pair = Pair::new(splits, capacity, room);
    let mut expected = Vec::new();
    for message in messages {
        pair.client.out.push(message);
        pair.server.out.push(message);
        expected.extend_from_slice(message);
    }
    pair.run();
    assert!(pair.client.error.is_none(), "{:?}", pair.client.error);
    assert!(pair.server.error.is_none(), "{:?}", pair.server.error);
    assert!(
        pair.client.got == expected,
        "client got {} of {} bytes",
        pair.client.got.len(),
        expected.len()
    );
    assert!(
        pair.server.got == expected,
        "server got {} of {} bytes",
        pair.server.got.len(),
        expected.len()
    );
    pair.check_bounds();
}

#[test]
fn one_byte_at_a_time() {
    let messages = [bytes(1, 1), bytes(300, 2), bytes(20_000, 3), bytes(5, 4)];
    exchange(vec![1], 1 << 20, 4096, &messages);
}

#[test]
fn one_byte_at_a_time_into_a_pipe_of_one_byte() {
    // Every write is partial: the records wait in the outgoing buffer.
    exchange(vec![1], 1, 512, &[bytes(3000, 5), bytes(17_000, 6)]);
}

#[test]
fn a_mebibyte_each_way() {
    exchange(vec![usize::MAX], 256 << 10, 256 << 10, &[bytes(1 << 20, 7)]);
}

#[test]
fn a_mebibyte_each_way_in_odd_splits_and_a_small_room() {
    exchange(
        vec![7_001, 65_536, 3, 20_000],
        100_000,
        1000,
        &[bytes(1 << 20, 8)],
    );
}

#[test]
fn a_record_larger_than_the_room_is_read_in_pieces() {
    let message = bytes(16 << 10, 9); // one full record
    let mut pair = Pair::new(vec![usize::MAX], 1 << 20, 100);
    pair.handshake();
    pair.server.out.push(&message);
    pair.server.flush();
    let mut room = [0; 100];
    let mut got = Vec::new();
    while got.len() < message.len() {
        match pair
            .client
            .tls
            .read(&mut pair.client.io, &mut room)
            .unwrap()
        {
            Read::Data(n) => {
                // Each read fills the room: the record's rest waits.
                assert_eq!(n, room.len().min(message.len() - got.len()));
                got.extend_from_slice(&room[..n]);
            }
            other => panic!("expected data, got {other:?}"),
        }
    }
    assert_eq!(got, message);
    assert!(matches!(
        pair.client.tls.read(&mut pair.client.io, &mut room),
        Ok(Read::WouldBlock)
    ));
}

#[test]
fn records_that_do_not_fit_what_is_left_of_the_room_wait_in_rustls() {
    // Three records of 3000 bytes, a room of 4000: the first read takes
    // one record and leaves the second in rustls (not split), the next
    // takes it, and so on.
    let mut pair = Pair::new(vec![usize::MAX], 1 << 20, 4000);
    pair.handshake();
    for seed in 10..13 {
        pair.server.out.push(&bytes(3000, seed));
        pair.server.flush(); // one record per flush
    }
    let mut room = [0; 4000];
    for seed in 10..13 {
        match pair
            .client
            .tls
            .read(&mut pair.client.io, &mut room)
            .unwrap()
        {
            Read::Data(n) => assert_eq!(room[..n], bytes(3000, seed)[..]),
            other => panic!("expected data, got {other:?}"),
        }
    }
    assert!(pair.client.tls.stash.is_empty());
}

#[test]
fn a_flush_between_reads_keeps_the_order() {
    // The reader stops with whole records left; a flush then has to take
    // them out of rustls to write, and the next reads return them first.
    let mut pair = Pair::new(vec![usize::MAX], 1 << 20, 1000);
    pair.handshake();
    let message = bytes(40_000, 14);
    pair.server.out.push(&message);
    pair.server.flush();
    let mut room = [0; 1000];
    let mut got = Vec::new();
    let mut turn = 0;
    loop {
        match pair
            .client
            .tls
            .read(&mut pair.client.io, &mut room)
            .unwrap()
        {
            Read::Data(n) => got.extend_from_slice(&room[..n]),
            Read::WouldBlock => break,
            Read::Eof => panic!("unexpected end"),
        }
        turn += 1;
        pair.client.out.push(&bytes(10, turn));
        pair.client.flush();
    }
    assert_eq!(got, message);
    pair.run();
    assert_eq!(pair.server.got.len(), 10 * turn as usize);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn any_split_any_room_any_messages(
        splits in prop::collection::vec(1usize..40_000, 1..8),
        capacity in prop_oneof![Just(1usize), 2usize..100, 1000usize..300_000],
        room in 1usize..70_000,
        sizes in prop::collection::vec(0usize..70_000, 1..6),
        seed in any::<u64>(),
    ) {
        let messages: Vec<Vec<u8>> = sizes
            .iter()
            .enumerate()
            .map(|(i, &len)| bytes(len, seed.wrapping_add(i as u64)))
            .collect();
        exchange(splits, capacity, room, &messages);
    }
}

// ---- the end ---------------------------------------------------------------

#[test]
fn close_notify_ends_the_peers_reads_after_the_data() {
    let mut pair = Pair::new(vec![usize::MAX], 1 << 20, 4096);
    pair.handshake();
    pair.client.out.push(b"last words");
    pair.client.flush();
    pair.client.tls.shutdown(&mut pair.client.io);
    pair.server.read_all();
    assert_eq!(pair.server.got, b"last words");
    assert!(pair.server.eof, "close_notify did not end the input");
    assert!(pair.server.error.is_none());
    // The other direction still works until the server closes too.
    pair.server.out.push(b"answer");
    pair.server.flush();
    pair.client.read_all();
    assert_eq!(pair.client.got, b"answer");
}

#[test]
fn the_stream_ending_without_close_notify_is_the_end_too() {
    let mut pair = Pair::new(vec![usize::MAX], 1 << 20, 4096);
    pair.handshake();
    pair.client.io.shut_output();
    pair.server.read_all();
    assert!(pair.server.eof);
    assert!(pair.server.error.is_none());
}

// ---- a hostile peer --------------------------------------------------------

#[test]
fn garbage_after_the_handshake_is_a_tls_error_with_an_alert() {
    let mut pair = Pair::new(vec![usize::MAX], 1 << 20, 4096);
    pair.handshake();
    // An application data record of the right shape, wrong contents.
    let mut record = vec![0x17, 0x03, 0x03, 0x00, 0x40];
    record.extend(bytes(0x40, 15));
    pair.client.io.inject(&record);
    pair.client.read_all();
    let error = pair.client.error.take().expect("an error");
    assert!(
        matches!(error, Error::Tls(rustls::Error::DecryptError)),
        "{error:?}"
    );
    // The error sticks.
    let mut room = [0; 64];
    assert!(matches!(
        pair.client.tls.read(&mut pair.client.io, &mut room),
        Err(Error::Tls(rustls::Error::DecryptError))
    ));
    assert!(
        pair.client
            .tls
            .flush(&mut pair.client.io, &mut Queue::default())
            .is_err()
    );
    // The server hears why.
    pair.server.read_all();
    let error = pair.server.error.take().expect("an alert");
    assert!(
        matches!(error, Error::Tls(rustls::Error::AlertReceived(_))),
        "{error:?}"
    );
}

#[test]
fn random_bytes_after_the_handshake_never_panic() {
    for seed in 0..64 {
        let mut pair = Pair::new(vec![usize::MAX], 1 << 20, 4096);
        pair.handshake();
        pair.client.io.inject(&bytes(1 + seed as usize * 37, seed));
        pair.client.read_all();
        pair.client.flush();
        pair.client.tls.shutdown(&mut pair.client.io);
        pair.check_bounds();
    }
}

#[test]
fn garbage_instead_of_a_handshake_is_a_tls_error() {
    let (mut io, _peer) = pipes(vec![usize::MAX], 1 << 20);
    let mut server = TlsStream::server(configs().server.clone()).unwrap();
    io.inject(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut room = [0; 64];
    let read = server.read(&mut io, &mut room);
    let error = read.expect_err("an error");
    assert!(
        matches!(error, Error::Tls(rustls::Error::InvalidMessage(_))),
        "{error:?}"
    );
}

#[test]
fn bytes_past_a_proxys_answer_go_first() {
    // Garbage the "proxy" let through: the client's first flush fails on it
    // once the ClientHello is out, as if it had been read from the socket.
    let (mut io, _peer) = pipes(vec![usize::MAX], 1 << 20);
    let mut client = TlsStream::client(
        configs().client.clone(),
        localhost(),
        b"\x16\x03\x01\xff\xff",
    )
    .unwrap();
    let error = client
        .flush(&mut io, &mut Queue::default())
        .expect_err("an error");
    assert!(
        matches!(error, Error::Tls(rustls::Error::InvalidMessage(_))),
        "{error:?}"
    );
}

#[test]
fn a_record_claiming_more_than_the_maximum_is_refused_at_its_header() {
    let mut pair = Pair::new(vec![usize::MAX], 1 << 20, 4096);
    pair.handshake();
    pair.client.io.inject(&[0x17, 0x03, 0x03, 0xff, 0xff]);
    pair.client.io.inject(&bytes(1 << 20, 16));
    pair.client.read_all();
    let error = pair.client.error.take().expect("an error");
    assert!(
        matches!(error, Error::Tls(rustls::Error::InvalidMessage(_))),
        "{error:?}"
    );
    assert!(
        pair.client.tls.incoming.capacity() <= SMALL,
        "the buffer grew"
    );
}

#[test]
fn a_record_of_the_largest_length_sent_slowly_is_held_within_the_bound() {
    let mut pair = Pair::new(vec![997], 1 << 20, 4096);
    pair.handshake();
    let len = MAX_RECORD - 6; // the longest rustls accepts
    pair.client
        .io
        .inject(&[0x17, 0x03, 0x03, (len >> 8) as u8, len as u8]);
    let body = bytes(len, 17);
    for chunk in body.chunks(1000) {
        pair.client.io.inject(chunk);
        pair.client.read_all();
        assert!(pair.client.tls.incoming.capacity() <= STEADY_INCOMING);
    }
    // Whole at last, and not a record the server made.
    let error = pair.client.error.take().expect("an error");
    assert!(matches!(error, Error::Tls(_)), "{error:?}");
    assert!(pair.client.tls.incoming.is_empty() || pair.client.tls.failed.is_some());
}
