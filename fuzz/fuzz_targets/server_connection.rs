//! A whole server connection (`Connection::server` with the default configs
//! but the flags'): arbitrary bytes as the client's request and frames, cut
//! into arbitrary chunks, with timers, local commands and partial writes in
//! between, then the end of the transport.
//!
//! Input: `[flags] [seed] stream...`. `flags` bits 1-4 and 6-7 as in
//! `client_connection` (see `ws_fuzz::Flags`); bit 0: a valid request
//! (`ws_fuzz::VALID_REQUEST`) is put before the stream, so the fuzzer
//! reaches the framing at once (auto_pong stays on); bit 5: the server
//! speaks the subprotocol "chat".
//!
//! Checks: the event order and `state()`; Open only with a 101 answer that
//! carries the accept key of the request's `Sec-WebSocket-Key`, a 4xx
//! answer for a refused request; the events against the reference decoder's
//! reading of the frames after the request head (exactly, unless a timer
//! fired); the same events and output as one read of the whole stream when
//! only the split differs; the server's frames are valid and unmasked, carry
//! exactly what it accepted to send, nothing after its close frame; after
//! every read and every (partial) write, what it holds is within its limits
//! (`ws_fuzz::check_held`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use ws_fuzz::{Chunking, Decoder, Driven, EventLog, Flags, Limits, OutputChecker, Prng};
use ws_proto::{Connection, Error, Event, HandshakeError, ServerConfig};

fuzz_target!(|data: &[u8]| {
    let [flags, seed, stream @ ..] = data else {
        return;
    };
    let flags = Flags(*flags);
    let prefixed = flags.0 & 0x01 != 0;
    let flags_config = Flags(flags.0 & !0x01);
    let mut input = Vec::with_capacity(stream.len() + 200);
    if prefixed {
        input.extend_from_slice(ws_fuzz::VALID_REQUEST);
    }
    input.extend_from_slice(stream);
    let config = flags_config.config();

    let run = run(flags, *seed, &input);
    let log = &run.log;
    let head = run.out.head();
    if log.opened() {
        let Some(Event::Open(open)) = log.events.first() else {
            panic!("Open first")
        };
        let request_len = ws_fuzz::find_head_end(&input).expect("a request head was read");
        let request = &input[..request_len];
        let head = head.expect("a 101 answer was written");
        assert!(
            head.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"),
            "Open, but the answer is {:?}",
            String::from_utf8_lossy(head)
        );
        let accept = ws_fuzz::expected_accept(request);
        assert_eq!(
            ws_fuzz::header_value(head, "sec-websocket-accept"),
            Some(accept.as_bytes()),
            "the answer's accept key does not match the request's key"
        );
        assert_eq!(
            open.subprotocol.as_deref().map(str::as_bytes),
            ws_fuzz::header_value(head, "sec-websocket-protocol"),
            "Open::subprotocol differs from the one answered"
        );
        if let Some(p) = &open.subprotocol {
            assert_eq!(p, "chat", "a subprotocol the server does not speak");
        }
        if prefixed {
            assert_eq!(open.resource, "/chat");
        }
        let reference = Decoder::decode(true, Limits::of(&config), &input[request_len..]);
        ws_fuzz::check_against_reference(log, &reference, !run.timer_fired);
    } else {
        match log.error() {
            Some(Error::Handshake(HandshakeError::UnexpectedEof) | Error::Timeout(_)) => {
                assert!(
                    head.is_none(),
                    "an answer was written: {:?}",
                    head.map(String::from_utf8_lossy)
                );
                assert!(run.written.is_empty(), "output without an answer");
            }
            Some(Error::Handshake(e)) => {
                let head = head.expect("a refusal was written");
                assert!(
                    head.starts_with(b"HTTP/1.1 4"),
                    "{e:?} answered with {:?}",
                    String::from_utf8_lossy(head)
                );
            }
            None => {
                // Only a local close while connecting ends it without an error.
                let closed = log.closed.as_ref().expect("closed");
                assert_eq!(
                    closed.initiator,
                    ws_proto::Initiator::Local,
                    "{:?}",
                    log.events
                );
                assert_eq!(closed.code, ws_proto::CloseCode::ABNORMAL);
                assert!(head.is_none(), "an answer was written without a request");
            }
            e => panic!("never opened, yet error {e:?}: {:?}", log.events),
        }
    }
    run.check_output(config.keepalive_interval.is_some());

    if !flags.timed() && !flags.commands() && flags.chunk_mode() != 0 {
        let whole = crate::run(Flags(flags.0 & 0x3F), *seed, &input);
        assert_eq!(
            run.log.events, whole.log.events,
            "events depend on the split"
        );
        // Output written late makes the peer look stalled, and automatic
        // pongs are then coalesced (by design): only then may it differ.
        if !run.input_while_unwritten {
            assert_eq!(run.written, whole.written, "output depends on the split");
        }
    }
});

fn run(flags: Flags, seed: u8, input: &[u8]) -> Driven {
    let config = Flags(flags.0 & !0x01).config();
    let server_config = ServerConfig::default().subprotocols(if flags.0 & 0x20 != 0 {
        vec!["chat".into()]
    } else {
        Vec::new()
    });
    let server = Connection::server(ws_fuzz::start(), config, server_config);
    let mut d = Driven::new(
        server,
        EventLog::new("server"),
        OutputChecker::with_head("server output", false),
    );
    let chunks = Chunking::from_mode(flags.chunk_mode(), u64::from(seed)).split(input);
    let mut prng = Prng::new(u64::from(seed) << 8 | u64::from(flags.0));
    d.run(&chunks, flags, &mut prng);
    d
}
