//! A whole client connection: a correct handshake, then arbitrary bytes as
//! the server's frames, cut into arbitrary chunks, with timers, local
//! commands and partial writes in between, then the end of the transport.
//!
//! Input: `[flags] [seed] stream...`. `flags` (see `ws_fuzz::Flags`):
//! - bit 0: `auto_pong` off;
//! - bit 1: small limits (frame 100, message 300, control 10 bytes);
//! - bit 2: keepalive (1 s interval, 2 s timeout);
//! - bit 3: time passes: `handle_timeout` at simulated times between chunks;
//! - bit 4: local commands between chunks (send text/binary/ping/pong, close);
//! - bit 5: the 101 answer arrives in the same read as the first chunk;
//! - bits 6-7: chunking: all at once, byte by byte, random up to 8, up to 300.
//!
//! `seed` drives the random chunk sizes, time steps, commands and partial
//! writes.
//!
//! Checks: the event order and `state()`; the events against the reference
//! decoder's reading of the stream (exactly, outcome included, unless a
//! timer fired); the same events and output as one read of the whole stream
//! when only the split differs; the client's output is only valid masked
//! frames, carrying exactly the messages and pings it accepted to send and
//! nothing after its close frame, which has the code and reason asked for;
//! an early `handle_timeout` does nothing; nothing happens after Closed;
//! after every read and every (partial) write, what it holds is within its
//! limits (`ws_fuzz::check_held`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use ws_fuzz::{Chunking, Decoder, Driven, EventLog, Flags, Limits, OutputChecker, Prng};
use ws_proto::Event;

fuzz_target!(|data: &[u8]| {
    let [flags, seed, stream @ ..] = data else {
        return;
    };
    let flags = Flags(*flags);
    let config = flags.config();

    let run = run(flags, *seed, stream);
    let reference = Decoder::decode(false, Limits::of(&config), stream);
    ws_fuzz::check_against_reference(&run.log, &reference, !run.timer_fired);
    run.check_output(config.keepalive_interval.is_some());

    if !flags.timed() && !flags.commands() && flags.chunk_mode() != 0 {
        let whole = crate::run(Flags(flags.0 & 0x3F), *seed, stream);
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

fn run(flags: Flags, seed: u8, stream: &[u8]) -> Driven {
    let (client, request) = ws_fuzz::client(ws_fuzz::start(), flags.config());
    let mut d = Driven::new(
        client,
        EventLog::new("client"),
        OutputChecker::frames("client output", true),
    );
    let mut chunks = Chunking::from_mode(flags.chunk_mode(), u64::from(seed)).split(stream);
    let mut answer = ws_fuzz::response_101(&request);
    if flags.0 & 0x20 != 0 && !chunks.is_empty() {
        answer.extend_from_slice(chunks.remove(0));
    }
    d.receive(&answer);
    match d.log.events.first() {
        Some(Event::Open(open)) => {
            assert_eq!(open.subprotocol, None);
            assert_eq!(open.resource, "/", "Open::resource is the requested one");
        }
        other => panic!("a correct 101 does not open the connection: {other:?}"),
    }
    let mut prng = Prng::new(u64::from(seed) << 8 | u64::from(flags.0));
    d.run(&chunks, flags, &mut prng);
    d
}
