//! A client (`ws://h/`, seeded `StdRng`) reads arbitrary bytes as the
//! server's answer, in chunks whose sizes come from the first input byte,
//! then the end of the transport.
//!
//! Input: `[chunking] response...`. `chunking`: 0 = all at once; 1..=127 =
//! chunks of that size; 128..=255 = random sizes up to `chunking - 127`,
//! seeded by the byte.
//!
//! Checks: the event order (at most one Open, at most one Error right
//! before Closed, exactly one Closed after EOF, nothing after it); Open only
//! for a 101 carrying the right `Sec-WebSocket-Accept`; a failed handshake
//! reports a handshake error and 1006; the same events and output for any
//! split of the input; after Open, the frames that followed the head decode
//! as the reference decoder says; the client's output is its request, then
//! only valid masked frames.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ws_fuzz::{Decoder, EventLog, Limits, OutputChecker, Prng};
use ws_proto::{CloseCode, Config, Error, Event};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, response)) = data.split_first() else {
        return;
    };
    let now = ws_fuzz::start();

    let (log, output, request) = run(response, mode);
    let (whole, whole_output, _) = run(response, 0);
    assert_eq!(
        log.events, whole.events,
        "events depend on how the response is split"
    );
    assert_eq!(
        output, whole_output,
        "output depends on how the response is split"
    );

    let closed = log.closed.as_ref().expect("closed");
    if log.opened() {
        let head_len = ws_fuzz::find_head_end(response).expect("a head was read");
        let head = &response[..head_len];
        // Empty lines before the status line are skipped, as httparse (and
        // so tungstenite) does: RFC 9112 section 2.2's robustness rule.
        let status_line = &head[head
            .iter()
            .position(|b| !matches!(b, b'\r' | b'\n'))
            .unwrap_or(head.len())..];
        assert!(
            status_line.starts_with(b"HTTP/1.1 101") || status_line.starts_with(b"HTTP/1.0 101"),
            "Open on {:?}",
            String::from_utf8_lossy(head)
        );
        let accept = ws_fuzz::expected_accept(&request);
        assert!(
            head.windows(accept.len()).any(|w| w == accept.as_bytes()),
            "Open without the accept key {accept} in {:?}",
            String::from_utf8_lossy(head)
        );
        let Some(Event::Open(open)) = log.events.first() else {
            panic!("Open first")
        };
        assert_eq!(open.resource, "/", "Open::resource is the requested one");
        let reference =
            Decoder::decode(false, Limits::of(&Config::default()), &response[head_len..]);
        ws_fuzz::check_against_reference(&log, &reference, true);
    } else {
        assert!(
            matches!(log.error(), Some(Error::Handshake(_))),
            "a failed handshake reports a handshake error: {:?}",
            log.events
        );
        assert_eq!(
            (closed.code, closed.was_clean),
            (CloseCode::ABNORMAL, false)
        );
        assert_eq!(log.events.len(), 2, "{:?}", log.events);
        let _ = now;
    }
});

/// Runs a client over `response` cut as `mode` says; returns its events,
/// its output after the request, and the request.
fn run(response: &[u8], mode: u8) -> (EventLog, Vec<u8>, Vec<u8>) {
    let now = ws_fuzz::start();
    let (mut client, request) = ws_fuzz::client(now, Config::default());
    let mut log = EventLog::new("client");
    let mut out = OutputChecker::frames("client output", true);
    let mut written = Vec::new();
    let mut prng = Prng::new(u64::from(mode));
    let mut rest = response;
    while !rest.is_empty() {
        let n = match mode {
            0 => rest.len(),
            1..=127 => usize::from(mode),
            _ => 1 + prng.below(u64::from(mode - 127)) as usize,
        };
        let (chunk, tail) = rest.split_at(n.min(rest.len()));
        rest = tail;
        client.receive(now, chunk);
        log.drain(&mut client, chunk.len() + 8);
        if let Some(bytes) = client.poll_transmit() {
            written.extend_from_slice(bytes);
        }
        out.flush(&mut client, None);
    }
    client.receive_eof();
    log.drain(&mut client, 8);
    log.assert_closed();
    if let Some(bytes) = client.poll_transmit() {
        written.extend_from_slice(bytes);
    }
    out.flush(&mut client, None);
    if !log.opened() {
        assert!(
            written.is_empty(),
            "the client wrote {written:02x?} after its request without opening"
        );
    }
    (log, written, request)
}
