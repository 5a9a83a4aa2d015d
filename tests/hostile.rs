//! The hostile-peer suite: for each role (a ws-mio client against a raw
//! hostile server, a ws-mio server against a raw hostile client), each
//! scenario runs against the library with the counting allocator tracking
//! the event loop's thread (and our sender threads), and asserts the events
//! it expects, a time bound (a hang guard) and a memory bound: the growth of
//! the heap held by the library above a baseline taken just before the
//! attack (once the connections are open, or before connecting for the
//! handshake and close-storm scenarios), and what is left of it at the end.
//!
//! `cargo test --test hostile -- --nocapture` prints one row per scenario
//! and, once all have run, the whole table. The bounds are in one place:
//! [`bound`].
//!
//! The scenarios run one at a time (each holds the allocator's scope, as
//! its counters are global). Each measures and prints everything before it
//! asserts, so a failing run still shows every figure.

#[path = "hostile/duel.rs"]
mod duel;
#[path = "hostile/peer.rs"]
mod peer;
#[path = "hostile/rig.rs"]
mod rig;

use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};
use ws_test_support::counting_alloc;

use ws_mio::Conn;
use ws_proto::frame::OpCode;
use ws_proto::{Config, DeflateConfig, SendError};
use ws_test_support::handshake;

use duel::{Duel, Peer, Plan};
use peer::{Dir, Pace, Reader, Scan, Wrote, deadline};
use rig::{Behaviour, Bound, Role, Run, wait_until};

// Counts what the library allocates (ws-test-support's counter).
#[global_allocator]
static GLOBAL: counting_alloc::CountingAlloc = counting_alloc::CountingAlloc;

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;

// ---- the table of bounds -------------------------------------------------------

/// Every scenario, as the table of bounds knows it.
#[derive(Clone, Copy, Debug)]
enum Kind {
    PingFlood,
    PongFlood,
    UnfinishedMessages,
    LyingLength,
    TinyFragments { message: usize },
    Handshake,
    CompressionBomb,
    CloseStorm,
    NeverReads,
    OverBudget { budget: usize },
}

/// THE table: the most heap a scenario may make the library hold, per
/// connection, above its baseline, and why. Every scenario also has to
/// give back all but 64 KiB of what it took once its connections are
/// closed (nothing leaks).
fn bound(kind: Kind, config: &Config, conns: usize) -> Bound {
    if let Kind::OverBudget { budget } = kind {
        return Bound {
            peak: budget + config.max_message_size / 2 + 2 * MIB,
            end: 64 * KIB,
            why: "the loop's budget, passed by at most one buffer's growth step before the connection is failed",
        };
    }
    let (per_conn, why) = match kind {
        Kind::PingFlood => (
            2 * MIB,
            "pongs owed to a flooding peer are bounded, whatever its reading pace",
        ),
        Kind::PongFlood => (2 * MIB, "unsolicited pongs are dropped as they come"),
        Kind::UnfinishedMessages => (
            config.max_message_size + config.max_frame_size / 16 + 2 * MIB,
            "assembly capped at the limit; the read buffer grows towards an announced length in steps of at most 1 MiB",
        ),
        Kind::LyingLength => (
            2 * MIB,
            "an announced length is not reserved before its bytes come",
        ),
        Kind::TinyFragments { message } => (
            message + MIB,
            "a fragment costs its payload, not a per-frame overhead",
        ),
        Kind::Handshake => (
            256 * KIB,
            "an HTTP head is buffered up to max_handshake_size (16 KiB), then refused",
        ),
        Kind::CompressionBomb => (
            config.max_message_size + MIB,
            "inflating stops at the message limit (plus the deflate states)",
        ),
        Kind::CloseStorm => (
            64 * KIB,
            "a connection costs little while it lives and nothing once closed",
        ),
        Kind::NeverReads => (
            config.max_write_buffer + 2 * MIB,
            "the write buffer holds at most its limit, not a doubled allocation",
        ),
        Kind::OverBudget { .. } => unreachable!("bounded by the budget, above"),
    };
    Bound {
        peak: per_conn * conns,
        end: 64 * KIB,
        why,
    }
}

// ---- sizes and timers ------------------------------------------------------------

/// How long a flood lasts at most, and how many frames it sends at most.
const FLOOD_TIME: Duration = Duration::from_secs(2);
const FLOOD_FRAMES: usize = 300_000;
/// Control payloads of the floods: the largest allowed, so that each ping
/// owes the biggest pong.
const CONTROL_PAYLOAD: [u8; 125] = [0x5a; 125];
/// A flood is written in batches of this many frames.
const BATCH: usize = 256;
/// A peer that cannot write for this long stops flooding.
const STALL: Duration = Duration::from_millis(500);
/// The slow reader's pace.
const SLOW: Pace = Pace::Slow {
    chunk: 64 * KIB,
    every: Duration::from_millis(20),
};
/// Tiny fragments: how many.
const FRAGMENTS: usize = 300_000;
/// How long a peer waits for the library's answer or end.
const PEER_TIME: Duration = Duration::from_secs(15);

/// The library's configuration in most scenarios: the default limits, with
/// the close timer shortened so that a peer that never completes the
/// closing handshake does not slow the suite.
fn config() -> Config {
    Config::default().close_timeout(Some(Duration::from_secs(2)))
}

/// The peer is the server (client role), which ends the TCP connection
/// after the closing handshake; a client peer waits for the library's
/// server to do it.
fn peer_is_server(dir: Dir) -> bool {
    dir == Dir::ToClient
}

/// Sends a close frame with 1000 and reads everything until the end, or
/// `until`.
fn close_and_drain(stream: &mut TcpStream, dir: Dir, until: Instant) -> Result<Scan, String> {
    peer::write_all(stream, &peer::close_frame(dir, 1000), until)
        .map_err(|e| format!("close frame: {e}"))?;
    let stream = stream.try_clone().map_err(|e| e.to_string())?;
    Ok(peer::read_all(stream, peer_is_server(dir), until))
}

// ---- 1-4: floods -----------------------------------------------------------------

/// What a flooding peer does about the library's answers.
#[derive(Clone, Copy, Debug)]
enum Then {
    /// Reads them at `Pace` all along; closes with 1000 after the flood.
    Read(Pace),
    /// Never reads; vanishes after the flood (a reset, as it leaves the
    /// library's bytes unread).
    Vanish,
    /// Reads nothing during the flood, closes with 1000, and starts
    /// reading only half a second later: the library takes the close with
    /// its answers still queued, which must not cost it its close frame.
    CloseUnread,
}

/// What a flooding peer did and saw.
struct Flood {
    sent: usize,
    stalled: bool,
    scan: Option<Scan>,
}

/// Sends `opcode` frames (pings or pongs) as fast as it can, for
/// [`FLOOD_TIME`] or [`FLOOD_FRAMES`], then does as `then` says.
fn flood(mut peer: Peer, opcode: OpCode, then: Then) -> Result<Flood, String> {
    let dir = peer.dir;
    let stream = peer.stream();
    let pace = match then {
        Then::Read(pace) => Some(pace),
        Then::CloseUnread => Some(Pace::Paused),
        Then::Vanish => None,
    };
    let reader = pace
        .map(|pace| Reader::spawn(stream, pace, peer_is_server(dir), deadline(20)))
        .transpose()
        .map_err(|e| e.to_string())?;
    let batch = peer::batch(dir, opcode, &CONTROL_PAYLOAD, BATCH);
    let frame_len = batch.len() / BATCH;
    let until = Instant::now() + FLOOD_TIME;
    let mut written = 0;
    let mut stalled = false;
    while written < FLOOD_FRAMES * frame_len && Instant::now() < until {
        let at = written % batch.len();
        match peer::write_bounded(stream, &batch[at..], until, STALL) {
            Wrote::All => written += batch.len() - at,
            Wrote::Stalled(n) => {
                written += n;
                stalled = Instant::now() < until;
                break;
            }
            Wrote::Failed(n) => {
                written += n;
                stalled = true;
                break;
            }
        }
    }
    let Some(reader) = reader else {
        // Vanish. A frame cut in the middle does not matter.
        let _ = stream.shutdown(Shutdown::Both);
        return Ok(Flood {
            sent: written / frame_len,
            stalled,
            scan: None,
        });
    };
    if let Then::Read(_) = then {
        reader.hurry();
    }
    // The rest of the frame under way (so that the close frame is read as
    // one), then the close frame. If the library has stopped reading until
    // its answers are read, read them first.
    let cut = written % frame_len;
    let mut tail = if cut == 0 {
        Vec::new()
    } else {
        batch[cut..frame_len].to_vec()
    };
    written += tail.len();
    tail.extend_from_slice(&peer::close_frame(dir, 1000));
    let done = match peer::write_bounded(stream, &tail, deadline(10), STALL) {
        Wrote::All => tail.len(),
        Wrote::Stalled(n) | Wrote::Failed(n) => n,
    };
    if done < tail.len() {
        reader.hurry();
        peer::write_all(stream, &tail[done..], deadline(10))
            .map_err(|e| format!("the close frame: {e}"))?;
    }
    if let Then::CloseUnread = then {
        // Lets the library take the close before anything is read (a
        // setting-up time, not a timing assertion).
        thread::sleep(Duration::from_millis(500));
        reader.hurry();
    }
    let scan = reader
        .finish(Duration::from_secs(25))
        .map_err(|e| e.to_string())?;
    Ok(Flood {
        sent: written / frame_len,
        stalled,
        scan: Some(scan),
    })
}

fn run_flood(name: &'static str, role: Role, opcode: OpCode, then: Then) {
    let mut run = Run::start(name, role);
    let config = config();
    let mut duel = Duel::start(&mut run, Plan::new(role, config.clone()), move |peer| {
        flood(peer, opcode, then)
    });
    let outcome = duel.peer_outcome(&mut run, Duration::from_secs(30));
    duel.wait_closed(&mut run, 1, PEER_TIME);
    run.record_peak();
    let tally = duel.tally.clone();
    let seen = match opcode {
        OpCode::Ping => tally.pings(),
        _ => tally.pongs(),
    };
    if let Some(flood) = &outcome {
        run.event(format!(
            "{} {opcode:?}s sent{}, {seen} seen by the handler",
            flood.sent,
            if flood.stalled {
                " (the peer's writes stalled)"
            } else {
                ""
            }
        ));
        match &flood.scan {
            Some(scan) => {
                run.event(format!(
                    "peer read {} pongs, close {:?}, eof {}",
                    scan.pongs, scan.close, scan.eof
                ));
                // Every frame sent before the close must have reached the
                // handler: nothing is lost, whatever is held.
                run.check(
                    seen == flood.sent as u64,
                    format_args!(
                        "{} {opcode:?}s sent, {seen} reached the handler",
                        flood.sent
                    ),
                );
                run.check(
                    scan.close == Some(1000),
                    format_args!(
                        "the library's close frame: {:?}, not 1000 (its output was dropped)",
                        scan.close
                    ),
                );
                run.check(
                    tally.closed_with(1000) == 1,
                    "the connection did not close with 1000",
                );
            }
            None => run.check(
                tally.closed_with(1006) == 1,
                "the connection did not close with 1006 after the peer vanished",
            ),
        }
    }
    let kind = match opcode {
        OpCode::Ping => Kind::PingFlood,
        _ => Kind::PongFlood,
    };
    duel.end(&mut run, bound(kind, &config, 1).end);
    run.finish(bound(kind, &config, 1));
}

fn ping_flood_fast_reader(role: Role) {
    let then = Then::Read(Pace::Fast);
    run_flood("ping flood, fast reader", role, OpCode::Ping, then);
}

fn ping_flood_slow_reader(role: Role) {
    run_flood(
        "ping flood, slow reader",
        role,
        OpCode::Ping,
        Then::Read(SLOW),
    );
}

fn ping_flood_no_reader(role: Role) {
    run_flood("ping flood, no reader", role, OpCode::Ping, Then::Vanish);
}

fn ping_flood_then_close_unread(role: Role) {
    let name = "ping flood, then close unread";
    run_flood(name, role, OpCode::Ping, Then::CloseUnread);
}

fn pong_flood(role: Role) {
    let then = Then::Read(Pace::Fast);
    run_flood("pong flood", role, OpCode::Pong, then);
}

// ---- 5: unfinished messages ------------------------------------------------------

/// Each peer connection sends a fragmented binary message that stays just
/// under `max_message_size` (frames of `max_frame_size`, no FIN), then a
/// ping: its arrival at the handler marks that everything before it was
/// taken in (a control frame may come between fragments). At the cue, each
/// closes with 1000 and reads to the end. With `may_be_failed` (a loop
/// whose memory budget cannot hold every message), a connection the
/// library fails and closes mid-way is expected: writes to it may fail.
fn unfinished(mut peer: Peer, config: &Config, may_be_failed: bool) -> Result<Vec<Scan>, String> {
    let dir = peer.dir;
    let total = config.max_message_size - KIB;
    let frame = config.max_frame_size;
    let payload = vec![0u8; frame];
    let mut sent = 0;
    let mut frames = Vec::new();
    while sent < total {
        let len = frame.min(total - sent);
        let opcode = if sent == 0 {
            OpCode::Binary
        } else {
            OpCode::Continuation
        };
        let mut head = Vec::new();
        peer::push_bulk_header(&mut head, dir, false, opcode, len as u64);
        frames.push((head, len));
        sent += len;
    }
    let ping = peer::frame(dir, true, OpCode::Ping, b"marker");
    for stream in &mut peer.streams {
        let written = frames
            .iter()
            .try_for_each(|(head, len)| {
                peer::write_all(stream, head, deadline(10))?;
                peer::write_all(stream, &payload[..*len], deadline(10))
            })
            .and_then(|()| peer::write_all(stream, &ping, deadline(10)));
        if let Err(e) = written {
            if !may_be_failed {
                return Err(e.to_string());
            }
        }
    }
    if !peer.cue.wait(PEER_TIME) {
        return Err("no cue".into());
    }
    let until = deadline(10);
    peer.streams
        .iter_mut()
        .map(|stream| match close_and_drain(stream, dir, until) {
            Err(_) if may_be_failed => {
                let stream = stream.try_clone().map_err(|e| e.to_string())?;
                Ok(peer::read_all(stream, peer_is_server(dir), until))
            }
            scan => scan,
        })
        .collect()
}

fn run_unfinished(name: &'static str, role: Role, config: Config, conns: usize) {
    let mut run = Run::start(name, role);
    let plan = Plan {
        conns,
        ..Plan::new(role, config.clone())
    };
    let limits = config.clone();
    let mut duel = Duel::start(&mut run, plan, move |peer| unfinished(peer, &limits, false));
    let tally = duel.tally.clone();
    let marked = wait_until(PEER_TIME, || tally.pings() >= conns as u64);
    run.check(
        marked,
        "the messages were not all taken in (no marker ping)",
    );
    run.record_peak();
    duel.cue();
    let scans = duel.peer_outcome(&mut run, PEER_TIME);
    duel.wait_closed(&mut run, conns, PEER_TIME);
    if let Some(scans) = scans {
        let clean = scans.iter().filter(|s| s.close == Some(1000)).count();
        run.event(format!("{clean} of {conns} answered the close with 1000"));
        run.check(clean == conns, "not every connection answered the close");
    }
    run.check(
        tally.closed_with(1000) == conns,
        "not every connection closed with 1000",
    );
    run.check(tally.messages() == 0, "an unfinished message was delivered");
    duel.end(
        &mut run,
        bound(Kind::UnfinishedMessages, &config, conns).end,
    );
    run.event(format!(
        "{conns} x {} MiB unfinished, frames of {} MiB",
        config.max_message_size / MIB,
        config.max_frame_size / MIB
    ));
    run.finish(bound(Kind::UnfinishedMessages, &config, conns));
}

fn unfinished_messages(role: Role) {
    let config = config().max_message_size(8 * MIB).max_frame_size(MIB);
    run_unfinished("unfinished messages (4 x 8 MiB)", role, config, 4);
}

fn unfinished_message_default_limits(role: Role) {
    run_unfinished("unfinished message (default limits)", role, config(), 1);
}

/// Four connections, each with an unfinished 8 MiB message, against a loop
/// whose budget holds about one and a half: the ones that pass it are
/// failed (1013 from a server, 1009 from a client), the first goes on and
/// closes cleanly, and the loop never holds much more than its budget.
fn unfinished_messages_over_budget(role: Role) {
    let mut run = Run::start(
        "unfinished messages over the loop's budget (4 x 8 MiB, 12 MiB)",
        role,
    );
    let conns = 4;
    let budget = 12 * MIB;
    let config = config().max_message_size(8 * MIB).max_frame_size(MIB);
    let plan = Plan {
        conns,
        memory_budget: Some(budget),
        ..Plan::new(role, config.clone())
    };
    let failure = match role {
        Role::Server => 1013,
        Role::Client => 1009,
    };
    let limits = config.clone();
    let mut duel = Duel::start(&mut run, plan, move |peer| unfinished(peer, &limits, true));
    let tally = duel.tally.clone();
    let settled = wait_until(PEER_TIME, || {
        tally.pings() as usize + tally.closed_with(failure) >= conns
    });
    run.check(
        settled,
        "every connection took its message in or was failed",
    );
    run.record_peak();
    duel.cue();
    let scans = duel.peer_outcome(&mut run, PEER_TIME);
    duel.wait_closed(&mut run, conns, PEER_TIME);
    if let Some(scans) = scans {
        let codes: Vec<_> = scans.iter().map(|s| s.close).collect();
        run.event(format!("the peer read close codes {codes:?}"));
        run.check(
            codes.iter().all(|&c| c == Some(1000) || c == Some(failure)),
            "a connection closed with another code",
        );
    }
    let failed = tally.closed_with(failure);
    run.check(failed >= 1, "no connection was failed by the budget");
    run.check(
        tally.closed_with(1000) >= 1,
        "no connection survived the budget",
    );
    run.check(
        tally.errors() == failed && tally.first_error().contains("memory budget"),
        format_args!("errors: {} ({})", tally.errors(), tally.first_error()),
    );
    run.check(tally.messages() == 0, "an unfinished message was delivered");
    let bound = bound(Kind::OverBudget { budget }, &config, conns);
    duel.end(&mut run, bound.end);
    run.finish(bound);
}

// ---- 6: lying lengths --------------------------------------------------------------

/// A frame announcing `max_frame_size` bytes, then 10 of them and a stall.
/// At the cue, the peer ends the stream (FIN) mid-frame.
fn lying_length_within_limit(role: Role) {
    let mut run = Run::start("lying length within the limit", role);
    let config = config();
    let len = config.max_frame_size as u64;
    let mut duel = Duel::start(
        &mut run,
        Plan::new(role, config.clone()),
        move |mut peer| {
            let dir = peer.dir;
            let mut bytes = Vec::new();
            peer::push_bulk_header(&mut bytes, dir, true, OpCode::Binary, len);
            bytes.extend_from_slice(&[0; 10]);
            peer::write_all(peer.stream(), &bytes, deadline(5)).map_err(|e| e.to_string())?;
            if !peer.cue.wait(PEER_TIME) {
                return Err("no cue".into());
            }
            let _ = peer.stream().shutdown(Shutdown::Write);
            let stream = peer.stream().try_clone().map_err(|e| e.to_string())?;
            Ok(peer::read_all(stream, true, deadline(10)))
        },
    );
    // The bytes cannot be seen arriving; give the loop a moment to read
    // them (a settling time, not a timing assertion).
    thread::sleep(Duration::from_millis(300));
    run.record_peak();
    duel.cue();
    let scan = duel.peer_outcome(&mut run, PEER_TIME);
    duel.wait_closed(&mut run, 1, PEER_TIME);
    let scan = scan.map_or("-".into(), |s| s.to_string());
    run.event(format!("announced {len} bytes, sent 10; peer: {scan}"));
    run.check(
        duel.tally.closed_with(1006) == 1,
        "the connection did not close with 1006 at the end of the stream",
    );
    duel.end(&mut run, bound(Kind::LyingLength, &config, 1).end);
    run.finish(bound(Kind::LyingLength, &config, 1));
}

/// A frame announcing 2^63 - 1 bytes: refused at once with 1009.
fn lying_length_2_63(role: Role) {
    let mut run = Run::start("lying length 2^63-1", role);
    let config = config();
    let mut duel = Duel::start(
        &mut run,
        Plan::new(role, config.clone()),
        move |mut peer| {
            let dir = peer.dir;
            let mut bytes = Vec::new();
            peer::push_bulk_header(&mut bytes, dir, true, OpCode::Binary, (1 << 63) - 1);
            bytes.extend_from_slice(&[0; 10]);
            peer::write_all(peer.stream(), &bytes, deadline(5)).map_err(|e| e.to_string())?;
            let stream = peer.stream().try_clone().map_err(|e| e.to_string())?;
            // Whatever its role, the peer ends the stream once it has the
            // library's close frame: it has nothing more to say.
            Ok(peer::read_all(stream, true, deadline(10)))
        },
    );
    let scan = duel.peer_outcome(&mut run, PEER_TIME);
    duel.wait_closed(&mut run, 1, PEER_TIME);
    if let Some(scan) = scan {
        run.event(format!("peer saw close {:?}", scan.close));
        run.check(
            scan.close == Some(1009),
            format_args!("the library's close frame: {:?}, not 1009", scan.close),
        );
    }
    run.check(
        duel.tally.closed_with(1009) == 1,
        "the connection did not close with 1009",
    );
    duel.end(&mut run, bound(Kind::LyingLength, &config, 1).end);
    run.finish(bound(Kind::LyingLength, &config, 1));
}

// ---- 7: tiny fragments ---------------------------------------------------------------

/// One message in `FRAGMENTS` frames: 1-byte fragments, or empty
/// continuations between a 1-byte first and last frame. It must be
/// delivered whole; then the peer closes with 1000.
fn run_fragments(name: &'static str, role: Role, empty: bool) {
    let mut run = Run::start(name, role);
    let config = config();
    let payload: Vec<u8> = if empty {
        vec![1, 2]
    } else {
        (0..FRAGMENTS).map(|i| (i % 251) as u8).collect()
    };
    let message = payload.len();
    let sum: u64 = payload.iter().map(|&b| u64::from(b)).sum();
    let mut duel = Duel::start(
        &mut run,
        Plan::new(role, config.clone()),
        move |mut peer| {
            let dir = peer.dir;
            let mut bytes = Vec::with_capacity(FRAGMENTS * 7);
            for i in 0..FRAGMENTS {
                let opcode = if i == 0 {
                    OpCode::Binary
                } else {
                    OpCode::Continuation
                };
                let last = i + 1 == FRAGMENTS;
                let chunk: &[u8] = match (empty, i, last) {
                    (true, 0, _) => &payload[..1],
                    (true, _, true) => &payload[1..],
                    (true, _, false) => &[],
                    (false, _, _) => &payload[i..=i],
                };
                peer::push_frame(&mut bytes, dir, last, opcode, chunk);
            }
            peer::write_all(peer.stream(), &bytes, deadline(10)).map_err(|e| e.to_string())?;
            close_and_drain(peer.stream(), dir, deadline(10))
        },
    );
    let scan = duel.peer_outcome(&mut run, PEER_TIME);
    duel.wait_closed(&mut run, 1, PEER_TIME);
    let tally = duel.tally.clone();
    let largest = tally.largest_message.load(Ordering::SeqCst);
    run.event(format!(
        "{FRAGMENTS} frames; {} message(s), largest {largest} bytes; peer: {}",
        tally.messages(),
        scan.map_or("-".into(), |s| s.to_string())
    ));
    run.check(
        tally.messages() == 1 && largest == message,
        format_args!("expected one message of {message} bytes"),
    );
    run.check(
        tally.message_sum.load(Ordering::SeqCst) == sum,
        "the message's bytes are not the ones sent",
    );
    run.check(
        tally.closed_with(1000) == 1,
        "the connection did not close with 1000",
    );
    duel.end(
        &mut run,
        bound(Kind::TinyFragments { message }, &config, 1).end,
    );
    run.finish(bound(Kind::TinyFragments { message }, &config, 1));
}

fn one_byte_fragments(role: Role) {
    run_fragments("1-byte fragments", role, false);
}

fn empty_fragments(role: Role) {
    run_fragments("empty fragments", role, true);
}

// ---- 8, 9: hostile handshakes ---------------------------------------------------------

/// What a peer of a handshake scenario saw.
struct HandshakeEnd {
    /// Bytes of its head it got out before the library ended the stream.
    sent: usize,
    /// How long after its start the library ended the stream (`None`: it
    /// never did while the peer was at it).
    ended_after: Option<Duration>,
    /// The status of the library's HTTP answer, if any (server role).
    status: Option<u16>,
}

/// The head a hostile peer sends: a request (to the library's server) or a
/// 101 answer (to the library's client, whose request it has read), then
/// `padding`.
fn hostile_head(peer: &mut Peer, padding: &[u8]) -> Result<Vec<u8>, String> {
    let mut head = match peer.dir {
        Dir::ToServer => {
            let addr = peer.stream().peer_addr().map_err(|e| e.to_string())?;
            let request = peer::request_head(addr, false);
            request.trim_end_matches("\r\n").as_bytes().to_vec()
        }
        Dir::ToClient => {
            let request = peer::read_head(peer.stream(), 16 * KIB, deadline(10))
                .map_err(|e| format!("reading the request: {e}"))?;
            let key = handshake::header(&request, "sec-websocket-key").ok_or("no key")?;
            let answer = peer::answer_head(key, false);
            answer.trim_end_matches("\r\n").as_bytes().to_vec()
        }
    };
    head.extend_from_slice(b"\r\n");
    head.extend_from_slice(padding);
    head.extend_from_slice(b"\r\n");
    Ok(head)
}

/// What the library sent back to a hostile handshake, and when it ended.
struct Watch {
    /// The status of its HTTP answer, if it sent one (server role).
    status: Option<u16>,
    /// When it ended the stream (EOF or reset), if it did.
    ended: Option<Instant>,
}

/// Watches the library's side of the stream on a thread of its own: reads
/// its HTTP answer, if any, then everything until the stream ends. It is
/// the stream's only reader, so nothing it should see is taken by another.
fn watch(stream: &TcpStream, answers: bool) -> Result<mpsc::Receiver<Watch>, String> {
    let mut stream = stream.try_clone().map_err(|e| e.to_string())?;
    let (tx, rx) = mpsc::channel();
    thread::Builder::new()
        .name("hostile-watch".into())
        .spawn(move || {
            let status = if answers {
                peer::read_head(&mut stream, 16 * KIB, deadline(10))
                    .ok()
                    .as_deref()
                    .and_then(handshake::status)
            } else {
                None
            };
            let scan = peer::read_all(stream, false, deadline(10));
            let ended = scan.eof.then(Instant::now);
            let _ = tx.send(Watch { status, ended });
        })
        .map_err(|e| e.to_string())?;
    Ok(rx)
}

/// Sends `head` in pieces of `piece` bytes, `pause` apart, until it is all
/// out, the library ends the stream, or `budget` has passed.
fn send_head(
    mut peer: Peer,
    head: &[u8],
    piece: usize,
    pause: Duration,
    budget: Duration,
) -> Result<HandshakeEnd, String> {
    let answers = peer.dir == Dir::ToServer;
    let watch = watch(peer.stream(), answers)?;
    let started = Instant::now();
    let mut sent = 0;
    for chunk in head.chunks(piece) {
        if started.elapsed() >= budget {
            break;
        }
        let stall = Duration::from_secs(2);
        match peer::write_bounded(peer.stream(), chunk, started + budget, stall) {
            Wrote::All => sent += chunk.len(),
            Wrote::Stalled(n) | Wrote::Failed(n) => {
                sent += n;
                break;
            }
        }
        thread::sleep(pause);
    }
    // The peer is done: the library must end the stream if it has not.
    let watched = watch
        .recv_timeout(Duration::from_secs(15))
        .map_err(|_| "the watcher did not end")?;
    Ok(HandshakeEnd {
        sent,
        ended_after: watched.ended.map(|at| at - started),
        status: watched.status,
    })
}

/// A hostile opening handshake: how the peer sends its head, and how the
/// library must refuse it.
struct HeadAttack {
    /// Headers added to a valid head.
    padding: Vec<u8>,
    /// The head goes out in pieces of this many bytes, `pause` apart.
    piece: usize,
    pause: Duration,
    /// Words of the library's error.
    error: &'static str,
    /// A server must answer with a 4xx status before it closes.
    answer_4xx: bool,
}

fn run_handshake(name: &'static str, role: Role, config: Config, attack: HeadAttack) {
    let mut run = Run::start(name, role);
    let plan = Plan {
        handshake: false,
        ..Plan::new(role, config.clone())
    };
    let HeadAttack {
        padding,
        piece,
        pause,
        error,
        answer_4xx,
    } = attack;
    let mut duel = Duel::start(&mut run, plan, move |mut peer| {
        let head = hostile_head(&mut peer, &padding)?;
        send_head(peer, &head, piece, pause, Duration::from_secs(8))
    });
    let end = duel.peer_outcome(&mut run, PEER_TIME);
    duel.wait_closed(&mut run, 1, PEER_TIME);
    let tally = duel.tally.clone();
    if let Some(end) = &end {
        run.event(format!(
            "peer sent {} bytes of its head; the library ended the stream after {:?}; answer {:?}",
            end.sent, end.ended_after, end.status
        ));
        run.check(
            end.ended_after.is_some(),
            "the library never ended the stream while the peer was at it",
        );
        if role == Role::Server && answer_4xx {
            run.check(
                end.status.is_some_and(|s| (400..500).contains(&s)),
                format_args!("the server's answer: {:?}, not a 4xx", end.status),
            );
        }
    }
    run.check(tally.opened() == 0, "the handshake succeeded");
    run.check(
        tally.errors() == 1 && tally.first_error().contains(error),
        format_args!(
            "expected one error with {error:?}, got {} ({})",
            tally.errors(),
            tally.first_error()
        ),
    );
    run.check(
        tally.closed_with(1006) == 1,
        "the connection did not report Closed with 1006",
    );
    duel.end(&mut run, bound(Kind::Handshake, &config, 1).end);
    run.finish(bound(Kind::Handshake, &config, 1));
}

/// A slowloris: the head one byte every 10 ms, padded so that it would
/// take about 10 s (the peer gives up at 8 s), so only the library's 1 s
/// handshake timeout can end it.
fn slow_handshake(role: Role) {
    let config = config().handshake_timeout(Some(Duration::from_secs(1)));
    let padding = (0..10)
        .map(|i| format!("X-Slow-{i}: {}", "z".repeat(90)))
        .collect::<Vec<_>>()
        .join("\r\n");
    let attack = HeadAttack {
        padding: padding.into_bytes(),
        piece: 1,
        pause: Duration::from_millis(10),
        error: "timed out",
        answer_4xx: false,
    };
    run_handshake("slow handshake (1 byte / 10 ms)", role, config, attack);
}

/// A 1 MiB head in one write: many 100-byte headers, or a single long one.
/// Refused as too large (431 from a server).
fn huge_head(name: &'static str, role: Role, many: bool) {
    let padding = if many {
        (0..MIB / 100)
            .map(|i| format!("X-Pad-{i:05}: {}", "p".repeat(85)))
            .collect::<Vec<_>>()
            .join("\r\n")
    } else {
        format!("X-Long: {}", "l".repeat(MIB))
    };
    let attack = HeadAttack {
        padding: padding.into_bytes(),
        piece: MIB,
        pause: Duration::ZERO,
        error: "larger than",
        answer_4xx: true,
    };
    run_handshake(name, role, config(), attack);
}

fn huge_head_many_headers(role: Role) {
    huge_head("huge head (1 MiB, many headers)", role, true);
}

fn huge_head_one_long_header(role: Role) {
    huge_head("huge head (1 MiB, one header)", role, false);
}

// ---- 10: compression bomb ----------------------------------------------------------------

/// One compressed message of 1 GiB of zeros (about 1 MB on the wire):
/// refused with 1009 once it inflates past the limit.
fn run_bomb(name: &'static str, role: Role, config: Config) {
    let mut run = Run::start(name, role);
    let plan = Plan {
        deflate: true,
        ..Plan::new(role, config.clone())
    };
    let mut duel = Duel::start(&mut run, plan, move |mut peer| {
        let dir = peer.dir;
        let bomb = peer::zeros_bomb(1024);
        let mut frame = Vec::with_capacity(bomb.len() + 14);
        peer::push_frame_rsv(&mut frame, dir, true, 0x4, OpCode::Binary, &bomb);
        let stream = peer.stream().try_clone().map_err(|e| e.to_string())?;
        // The library may fail the connection before it has read it all.
        let writer = thread::spawn(move || {
            let mut stream = stream;
            let _ = peer::write_bounded(&mut stream, &frame, deadline(10), Duration::from_secs(2));
            bomb.len()
        });
        let stream = peer.stream().try_clone().map_err(|e| e.to_string())?;
        let scan = peer::read_all(stream, true, deadline(10));
        let compressed = writer.join().map_err(|_| "the writer panicked")?;
        Ok((compressed, scan))
    });
    let outcome = duel.peer_outcome(&mut run, PEER_TIME);
    duel.wait_closed(&mut run, 1, PEER_TIME);
    if let Some((compressed, scan)) = outcome {
        run.event(format!(
            "1 GiB of zeros in {compressed} compressed bytes; peer saw close {:?}",
            scan.close
        ));
        run.check(
            scan.close == Some(1009),
            format_args!("the library's close frame: {:?}, not 1009", scan.close),
        );
    }
    run.check(
        duel.tally.closed_with(1009) == 1,
        "the connection did not close with 1009",
    );
    run.check(duel.tally.messages() == 0, "the bomb was delivered");
    duel.end(&mut run, bound(Kind::CompressionBomb, &config, 1).end);
    run.finish(bound(Kind::CompressionBomb, &config, 1));
}

fn compression_bomb(role: Role) {
    let config = config()
        .max_message_size(MIB)
        .deflate(Some(DeflateConfig::default()));
    run_bomb("compression bomb (1 MiB limit)", role, config);
}

fn compression_bomb_default_limits(role: Role) {
    let config = config().deflate(Some(DeflateConfig::default()));
    run_bomb("compression bomb (default limits)", role, config);
}

// ---- 11: close storm -------------------------------------------------------------------

/// How the peer ends connection `i` of a close storm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    /// A close frame (1000), then it reads to the end.
    CloseFrame,
    /// A TCP reset: the socket is dropped with the library's bytes unread.
    Reset,
    /// A bare FIN, everything read.
    Fin,
    /// Gone in the middle of the handshake.
    MidHandshake,
}

fn ending(i: usize) -> Ending {
    [
        Ending::CloseFrame,
        Ending::Reset,
        Ending::Fin,
        Ending::MidHandshake,
    ][i % 4]
}

/// Server role: `n` raw clients connect; all but the mid-handshake ones
/// complete the handshake; at the cue, all end at once, each its way.
/// Client role: the peer accepts `n` connections of the library's clients;
/// it answers all but the mid-handshake ones; at the cue, it ends each.
fn storm(mut peer: Peer) -> Result<usize, String> {
    let dir = peer.dir;
    let n = peer.streams.len();
    for (i, stream) in peer.streams.iter_mut().enumerate() {
        let ending = ending(i);
        let e = |e: std::io::Error| format!("connection {i}: {e}");
        match dir {
            Dir::ToServer => {
                let addr = stream.peer_addr().map_err(e)?;
                let request = peer::request_head(addr, false);
                let request = match ending {
                    Ending::MidHandshake => &request.as_bytes()[..request.len() / 2],
                    _ => request.as_bytes(),
                };
                peer::write_all(stream, request, deadline(10)).map_err(e)?;
                if matches!(ending, Ending::CloseFrame | Ending::Fin) {
                    peer::read_head(stream, 16 * KIB, deadline(10)).map_err(e)?;
                }
            }
            Dir::ToClient => {
                // A reset needs bytes left unread: the library's request.
                if ending == Ending::Reset {
                    continue;
                }
                let request = peer::read_head(stream, 16 * KIB, deadline(10)).map_err(e)?;
                if ending != Ending::MidHandshake {
                    let key = handshake::header(&request, "sec-websocket-key").ok_or("no key")?;
                    peer::write_all(
                        stream,
                        peer::answer_head(key, false).as_bytes(),
                        deadline(10),
                    )
                    .map_err(e)?;
                }
            }
        }
    }
    if !peer.cue.wait(PEER_TIME) {
        return Err("no cue".into());
    }
    // All at once: close frames first, then every other ending.
    let until = deadline(10);
    let mut closing = Vec::new();
    for (i, stream) in peer.streams.drain(..).enumerate() {
        match ending(i) {
            Ending::CloseFrame => {
                let mut stream = stream;
                let _ = peer::write_all(&mut stream, &peer::close_frame(dir, 1000), until);
                closing.push(stream);
            }
            Ending::Fin => {
                let _ = stream.shutdown(Shutdown::Both);
            }
            // Dropped: a reset (bytes unread) or a FIN mid-handshake.
            Ending::Reset | Ending::MidHandshake => drop(stream),
        }
    }
    let answered = closing
        .into_iter()
        .map(|stream| peer::read_all(stream, peer_is_server(dir), until))
        .filter(|scan| scan.close == Some(1000))
        .count();
    let _ = n;
    Ok(answered)
}

fn close_storm(role: Role) {
    let n = match role {
        Role::Server => 300,
        Role::Client => 100,
    };
    let mut run = Run::start("close storm", role);
    let config = config();
    let plan = Plan {
        conns: n,
        handshake: false,
        ..Plan::new(role, config.clone())
    };
    let mut duel = Duel::start(&mut run, plan, storm);
    let opening = (0..n)
        .filter(|&i| {
            matches!(ending(i), Ending::CloseFrame | Ending::Fin)
                || (role == Role::Server && ending(i) == Ending::Reset)
        })
        .count();
    let tally = duel.tally.clone();
    let open = wait_until(PEER_TIME, || tally.opened() >= opening);
    run.check(open, format_args!("{} of {opening} opened", tally.opened()));
    duel.cue();
    let answered = duel.peer_outcome(&mut run, Duration::from_secs(30));
    duel.wait_closed(&mut run, n, PEER_TIME);
    let close_frames = (0..n).filter(|&i| ending(i) == Ending::CloseFrame).count();
    run.event(format!(
        "{n} connections, {opening} opened; the peer's close frames answered: {answered:?} of {close_frames}"
    ));
    run.check(
        answered == Some(close_frames),
        "not every close frame was answered with 1000",
    );
    run.check(
        tally.closed_with(1000) == close_frames,
        format_args!(
            "{} closed with 1000, not {close_frames}",
            tally.closed_with(1000)
        ),
    );
    run.check(
        tally.closed_with(1006) == n - close_frames,
        format_args!(
            "{} closed with 1006, not {}",
            tally.closed_with(1006),
            n - close_frames
        ),
    );
    duel.end(&mut run, bound(Kind::CloseStorm, &config, n).end);
    run.finish(bound(Kind::CloseStorm, &config, n));
}

// ---- 12: a peer that never reads while we send ------------------------------------------

/// What our sender thread did: how many sends were accepted, and the
/// refusal that stopped it.
#[derive(Debug)]
struct Sent {
    accepted: usize,
    refusal: Option<SendError>,
    buffered_at_refusal: usize,
}

/// Sends with `send` from a thread of ours (tracked, as the loop is) to the
/// connection the handler hands over, until a send is refused, `max`
/// sends, or 15 s. Pauses a millisecond every `pause_every` sends, so that
/// the loop writes what the socket takes in between (as a real sender's
/// pace would let it).
fn spawn_sender(
    conns: mpsc::Receiver<Conn>,
    max: usize,
    pause_every: usize,
    send: impl Fn(&Conn) -> Result<(), SendError> + Send + 'static,
) -> mpsc::Receiver<Sent> {
    let (tx, rx) = mpsc::channel();
    thread::Builder::new()
        .name("hostile-sender".into())
        .spawn(move || {
            counting_alloc::track_current_thread();
            let Ok(conn) = conns.recv_timeout(Duration::from_secs(10)) else {
                return;
            };
            let until = Instant::now() + Duration::from_secs(15);
            let mut sent = Sent {
                accepted: 0,
                refusal: None,
                buffered_at_refusal: 0,
            };
            while sent.accepted < max && Instant::now() < until {
                match send(&conn) {
                    Ok(()) => sent.accepted += 1,
                    Err(e) => {
                        sent.buffered_at_refusal = conn.buffered_amount();
                        sent.refusal = Some(e);
                        break;
                    }
                }
                if sent.accepted % pause_every == 0 {
                    thread::sleep(Duration::from_millis(1));
                }
            }
            // The handle is dropped here, on a tracked thread.
            drop(conn);
            let _ = tx.send(sent);
        })
        .expect("spawn the sender");
    rx
}

fn run_never_reads(
    name: &'static str,
    role: Role,
    config: Config,
    (max, pause_every): (usize, usize),
    send: impl Fn(&Conn) -> Result<(), SendError> + Send + 'static,
) {
    let mut run = Run::start(name, role);
    let (hand_over, conns) = mpsc::sync_channel(1);
    let plan = Plan {
        behaviour: Behaviour::HandOver(hand_over),
        ..Plan::new(role, config.clone())
    };
    // The peer reads nothing; at the cue it vanishes (a reset).
    let mut duel = Duel::start(&mut run, plan, |peer| {
        let waited = peer.cue.wait(Duration::from_secs(30));
        let _ = peer.streams[0].shutdown(Shutdown::Both);
        Ok(waited)
    });
    let sender = spawn_sender(conns, max, pause_every, send);
    let sent = sender.recv_timeout(Duration::from_secs(20)).ok();
    run.record_peak();
    duel.cue();
    let _ = duel.peer_outcome(&mut run, PEER_TIME);
    duel.wait_closed(&mut run, 1, PEER_TIME);
    match sent {
        Some(sent) => {
            run.event(format!(
                "{} sends accepted, then {:?} (buffered_amount {})",
                sent.accepted, sent.refusal, sent.buffered_at_refusal
            ));
            match sent.refusal {
                Some(SendError::WriteBufferFull {
                    buffered, limit, ..
                }) => {
                    run.check(
                        limit == config.max_write_buffer,
                        "the refusal names another limit",
                    );
                    run.check(
                        buffered <= limit,
                        format_args!("{buffered} bytes buffered, over the limit {limit}"),
                    );
                }
                other => run.check(
                    false,
                    format_args!(
                        "expected WriteBufferFull, got {other:?} after {} sends",
                        sent.accepted
                    ),
                ),
            }
        }
        None => run.check(false, "the sender did not report"),
    }
    run.check(duel.tally.closed() == 1, "the connection did not end");
    duel.end(&mut run, bound(Kind::NeverReads, &config, 1).end);
    run.finish(bound(Kind::NeverReads, &config, 1));
}

/// 1 MiB binary messages until the 64 MiB (default) write buffer is full.
fn never_reads_while_we_send(role: Role) {
    // Made here, on the untracked test thread, which also drops it last
    // (after the run): the sender only borrows it.
    let chunk: Arc<[u8]> = vec![0x42u8; MIB].into();
    let lent = chunk.clone();
    run_never_reads(
        "never reads while we send (64 MiB buffer)",
        role,
        config(),
        (1_000, 1),
        move |conn| conn.send_binary(&lent),
    );
    drop(chunk);
}

/// Application pings (125 bytes each) until refused: the write buffer's
/// limit holds for them too. 400,000 of them are 50 MB, far over the 4 MiB
/// limit and what the sockets can take.
fn never_reads_while_we_ping(role: Role) {
    let config = config().max_write_buffer(4 * MIB);
    run_never_reads(
        "never reads while we ping (4 MiB buffer)",
        role,
        config,
        (400_000, 8_192),
        |conn| conn.send_ping(&CONTROL_PAYLOAD),
    );
}

// ---- the tests ------------------------------------------------------------------------------

/// One `#[test]` per scenario and role (`ping_flood_slow_reader::server`),
/// so that a failure names both.
macro_rules! both_roles {
    ($($scenario:ident),* $(,)?) => {
        /// How many tests report a row (the whole table prints after the last).
        const SCENARIO_TESTS: usize = 2 * [$(stringify!($scenario)),*].len();
        $(
            mod $scenario {
                #[test]
                fn client() {
                    super::$scenario(super::Role::Client);
                }

                #[test]
                fn server() {
                    super::$scenario(super::Role::Server);
                }
            }
        )*
    };
}

both_roles!(
    ping_flood_fast_reader,
    ping_flood_slow_reader,
    ping_flood_no_reader,
    ping_flood_then_close_unread,
    pong_flood,
    unfinished_messages,
    unfinished_message_default_limits,
    unfinished_messages_over_budget,
    lying_length_within_limit,
    lying_length_2_63,
    one_byte_fragments,
    empty_fragments,
    slow_handshake,
    huge_head_many_headers,
    huge_head_one_long_header,
    compression_bomb,
    compression_bomb_default_limits,
    close_storm,
    never_reads_while_we_send,
    never_reads_while_we_ping,
);
