//! The hostile peers: raw `std::net` sockets on 127.0.0.1 that play the
//! opening handshake by hand (as a client and as a server), build frames
//! byte by byte, and read what the library sends without keeping it.
//!
//! Peer threads are not tracked by the counting allocator: what they hold
//! is not the library's memory. They talk to the library only through
//! sockets, so no heap block crosses from them to a tracked thread.
//!
//! Every blocking call has a deadline: sockets get read and write
//! timeouts, and the loops check the clock.

use std::io::{self, Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use flate2::{Compress, Compression, FlushCompress};
use ws_proto::frame::header::MAX_HEADER_LEN;
use ws_proto::frame::{FrameHeader, OpCode};
use ws_test_support::handshake::{self, header, status};
use ws_test_support::{frames, raw_server};

/// How long one socket call may block before the caller looks at the clock.
const POLL: Duration = Duration::from_millis(50);

/// The key a hostile client masks its frames with. Any key is valid; a
/// fixed one lets a batch of frames be built once and sent many times.
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Which way the peer's frames go, which decides the masking (RFC 6455
/// section 5.1: a client masks every frame, a server none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dir {
    /// The peer is a client attacking a ws-mio server.
    ToServer,
    /// The peer is a server attacking a ws-mio client.
    ToClient,
}

impl Dir {
    fn key(self) -> Option<[u8; 4]> {
        match self {
            Self::ToServer => Some(KEY),
            Self::ToClient => None,
        }
    }

    /// A zero key for bulk payloads: masking is then the identity, so a
    /// large payload costs the peer nothing to build, and the library
    /// still unmasks it as it would any other.
    fn bulk_key(self) -> Option<[u8; 4]> {
        self.key().map(|_| [0; 4])
    }
}

// ---- frames -------------------------------------------------------------

/// Appends a frame header announcing `len` payload bytes.
pub(crate) fn push_header(
    out: &mut Vec<u8>,
    fin: bool,
    rsv: u8,
    opcode: OpCode,
    len: u64,
    mask: Option<[u8; 4]>,
) {
    frames::push_header(out, first_byte(fin, rsv, opcode), len, mask);
}

fn first_byte(fin: bool, rsv: u8, opcode: OpCode) -> u8 {
    (u8::from(fin) << 7) | (rsv << 4) | opcode.bits()
}

/// Appends a whole frame, masked as `dir` requires.
pub(crate) fn push_frame(out: &mut Vec<u8>, dir: Dir, fin: bool, opcode: OpCode, payload: &[u8]) {
    push_frame_rsv(out, dir, fin, 0, opcode, payload);
}

/// Appends a whole frame with RSV bits (RSV1 marks a compressed message).
pub(crate) fn push_frame_rsv(
    out: &mut Vec<u8>,
    dir: Dir,
    fin: bool,
    rsv: u8,
    opcode: OpCode,
    payload: &[u8],
) {
    frames::push(out, first_byte(fin, rsv, opcode), payload, dir.key());
}

/// Appends the header of a bulk frame whose payload the caller appends as
/// is (see [`Dir::bulk_key`]).
pub(crate) fn push_bulk_header(out: &mut Vec<u8>, dir: Dir, fin: bool, opcode: OpCode, len: u64) {
    push_header(out, fin, 0, opcode, len, dir.bulk_key());
}

/// One frame, alone.
pub(crate) fn frame(dir: Dir, fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + MAX_HEADER_LEN);
    push_frame(&mut out, dir, fin, opcode, payload);
    out
}

/// A close frame with `code` and no reason.
pub(crate) fn close_frame(dir: Dir, code: u16) -> Vec<u8> {
    frame(dir, true, OpCode::Close, &code.to_be_bytes())
}

/// `count` copies of one frame back to back: a batch to flood with.
pub(crate) fn batch(dir: Dir, opcode: OpCode, payload: &[u8], count: usize) -> Vec<u8> {
    let one = frame(dir, true, opcode, payload);
    one.repeat(count)
}

/// A permessage-deflate payload (raw deflate, the final `00 00 ff ff`
/// stripped as RFC 7692 section 7.2.1 says) that inflates to `mib` MiB of
/// zeros. Compressing a GiB would take the peer seconds, so the stream is
/// built from two compressed MiB: after the first one (and its sync
/// flush), the window holds only zeros, so the second one decodes to a
/// MiB of zeros wherever it is repeated.
pub(crate) fn zeros_bomb(mib: usize) -> Vec<u8> {
    let zeros = vec![0u8; 1 << 20];
    let mut deflate = Compress::new(Compression::best(), false);
    let first = compress_sync(&mut deflate, &zeros);
    let next = compress_sync(&mut deflate, &zeros);
    let mut bomb = first;
    for _ in 1..mib {
        bomb.extend_from_slice(&next);
    }
    assert!(bomb.ends_with(&[0, 0, 0xff, 0xff]), "a sync flush ends so");
    bomb.truncate(bomb.len() - 4);
    bomb
}

/// Compresses `input` and sync-flushes: the output ends on a byte boundary
/// with an empty stored block.
fn compress_sync(deflate: &mut Compress, input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 << 10);
    let start_in = deflate.total_in();
    loop {
        let consumed = (deflate.total_in() - start_in) as usize;
        if out.len() == out.capacity() {
            out.reserve(64 << 10);
        }
        deflate
            .compress_vec(&input[consumed..], &mut out, FlushCompress::Sync)
            .expect("deflate");
        let consumed = (deflate.total_in() - start_in) as usize;
        // Done once all input is in and the flush had room to finish.
        if consumed == input.len() && out.len() < out.capacity() {
            return out;
        }
    }
}

// ---- the opening handshake ----------------------------------------------

/// A request head as a browser would send it, with a permessage-deflate
/// offer when asked.
pub(crate) fn request_head(addr: SocketAddr, deflate: bool) -> String {
    handshake::request(&addr.to_string(), "/", deflate_line(deflate))
}

/// The 101 answer to a request with `key`, accepting permessage-deflate
/// with its defaults when asked.
pub(crate) fn answer_head(key: &[u8], deflate: bool) -> String {
    handshake::answer_101(key, deflate_line(deflate))
}

/// The `Sec-WebSocket-Extensions` line that offers or accepts
/// permessage-deflate with its defaults, or nothing.
fn deflate_line(deflate: bool) -> &'static str {
    if deflate {
        "Sec-WebSocket-Extensions: permessage-deflate\r\n"
    } else {
        ""
    }
}

/// Connects to `addr` with timeouts set on the stream.
pub(crate) fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(POLL))?;
    stream.set_write_timeout(Some(POLL))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Accepts one connection, giving up at `deadline`; the stream comes back
/// blocking, with timeouts set.
pub(crate) fn accept(listener: &TcpListener, deadline: Instant) -> io::Result<TcpStream> {
    let stream = raw_server::accept_within(listener, deadline)?;
    stream.set_read_timeout(Some(POLL))?;
    stream.set_write_timeout(Some(POLL))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Reads an HTTP head through its blank line, one byte at a time so that
/// nothing after it (the first frames) is consumed. Fails past `max` bytes,
/// at EOF or at `deadline`.
pub(crate) fn read_head(
    stream: &mut TcpStream,
    max: usize,
    deadline: Instant,
) -> io::Result<Vec<u8>> {
    handshake::read_head_within(stream, max, Some(deadline))
}

/// The client's half of the handshake: sends the request, reads the 101
/// (checking that permessage-deflate was accepted when offered).
pub(crate) fn client_handshake(stream: &mut TcpStream, deflate: bool) -> io::Result<()> {
    let addr = stream.peer_addr()?;
    write_all(stream, request_head(addr, deflate).as_bytes(), deadline(5))?;
    let head = read_head(stream, 16 << 10, deadline(5))?;
    if status(&head) != Some(101) {
        return Err(io::Error::other(format!(
            "handshake refused: {}",
            String::from_utf8_lossy(&head)
        )));
    }
    let accepted = header(&head, "sec-websocket-extensions")
        .is_some_and(|v| v.starts_with(b"permessage-deflate"));
    if deflate && !accepted {
        return Err(io::Error::other("permessage-deflate was not accepted"));
    }
    Ok(())
}

/// The server's half of the handshake: reads the request, answers 101.
pub(crate) fn server_handshake(stream: &mut TcpStream, deflate: bool) -> io::Result<()> {
    let head = read_head(stream, 16 << 10, deadline(5))?;
    let key = header(&head, "sec-websocket-key").ok_or_else(|| io::Error::other("no key"))?;
    let offered = header(&head, "sec-websocket-extensions")
        .is_some_and(|v| v.starts_with(b"permessage-deflate"));
    if deflate && !offered {
        return Err(io::Error::other("permessage-deflate was not offered"));
    }
    write_all(stream, answer_head(key, deflate).as_bytes(), deadline(5))
}

// ---- writing -------------------------------------------------------------

/// `secs` seconds from now.
pub(crate) fn deadline(secs: u64) -> Instant {
    Instant::now() + Duration::from_secs(secs)
}

fn retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// How a bounded write ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wrote {
    /// Everything went out.
    All,
    /// The socket took nothing for the whole `stall` (the library does not
    /// read), or the deadline passed; this many bytes went out.
    Stalled(usize),
    /// The socket failed (the library closed it); this many bytes went out.
    Failed(usize),
}

/// Writes `bytes`, giving up at `deadline` or once the socket has taken
/// nothing for `stall`.
pub(crate) fn write_bounded(
    stream: &mut TcpStream,
    bytes: &[u8],
    deadline: Instant,
    stall: Duration,
) -> Wrote {
    let mut done = 0;
    let mut last_progress = Instant::now();
    while done < bytes.len() {
        match stream.write(&bytes[done..]) {
            Ok(0) => return Wrote::Failed(done),
            Ok(n) => {
                done += n;
                last_progress = Instant::now();
            }
            Err(e) if retry(&e) => {
                let now = Instant::now();
                if now >= deadline || now - last_progress >= stall {
                    return Wrote::Stalled(done);
                }
            }
            Err(_) => return Wrote::Failed(done),
        }
    }
    Wrote::All
}

/// Writes `bytes` entirely before `deadline`, or fails.
pub(crate) fn write_all(stream: &mut TcpStream, bytes: &[u8], deadline: Instant) -> io::Result<()> {
    let stall = deadline.saturating_duration_since(Instant::now());
    match write_bounded(stream, bytes, deadline, stall) {
        Wrote::All => Ok(()),
        Wrote::Stalled(n) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("write stalled after {n} of {} bytes", bytes.len()),
        )),
        Wrote::Failed(n) => Err(io::Error::other(format!(
            "write failed after {n} of {} bytes",
            bytes.len()
        ))),
    }
}

// ---- reading ---------------------------------------------------------------

/// What a peer saw of the library's frames. Only counts: payloads are
/// skipped, never kept.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Scan {
    pub(crate) bytes: u64,
    pub(crate) pings: u64,
    pub(crate) pongs: u64,
    pub(crate) messages: u64,
    /// The code of the library's close frame (1005 when it had none).
    pub(crate) close: Option<u16>,
    /// The stream ended (EOF or reset).
    pub(crate) eof: bool,
    /// Bytes that are not frames (after a bad header, nothing is parsed).
    pub(crate) garbage: bool,
}

impl std::fmt::Display for Scan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "read {} bytes", self.bytes)?;
        for (n, what) in [
            (self.pings, "pings"),
            (self.pongs, "pongs"),
            (self.messages, "messages"),
        ] {
            if n > 0 {
                write!(f, ", {n} {what}")?;
            }
        }
        match self.close {
            Some(code) => write!(f, ", close {code}")?,
            None => write!(f, ", no close frame")?,
        }
        if self.garbage {
            write!(f, ", then bytes that are not frames")?;
        }
        write!(f, "{}", if self.eof { ", then EOF" } else { ", no EOF" })
    }
}

/// A frame being skipped.
#[derive(Clone, Copy)]
struct Skipping {
    opcode: OpCode,
    fin: bool,
    mask: Option<[u8; 4]>,
    len: u64,
    done: u64,
}

/// Parses the library's frames as they arrive, in any split, keeping only
/// counts and the close code.
#[derive(Default)]
pub(crate) struct Scanner {
    head: [u8; MAX_HEADER_LEN],
    head_len: usize,
    frame: Option<Skipping>,
    close_code: [u8; 2],
    pub(crate) scan: Scan,
}

impl Scanner {
    pub(crate) fn feed(&mut self, mut data: &[u8]) {
        self.scan.bytes += data.len() as u64;
        while !data.is_empty() && !self.scan.garbage {
            if let Some(mut f) = self.frame {
                let n = (f.len - f.done).min(data.len() as u64) as usize;
                if f.opcode == OpCode::Close {
                    // Keep the (unmasked) first two bytes: the close code.
                    for (i, &b) in data[..n].iter().enumerate() {
                        let at = f.done as usize + i;
                        if at < 2 {
                            let key = f.mask.map_or(0, |k| k[at & 3]);
                            self.close_code[at] = b ^ key;
                        }
                    }
                }
                f.done += n as u64;
                data = &data[n..];
                self.frame = Some(f);
                if f.done == f.len {
                    self.end_frame(f);
                }
                continue;
            }
            let take = (MAX_HEADER_LEN - self.head_len).min(data.len());
            self.head[self.head_len..self.head_len + take].copy_from_slice(&data[..take]);
            match FrameHeader::parse(&self.head[..self.head_len + take]) {
                Ok(Some((header, len))) => {
                    data = &data[len - self.head_len..];
                    self.head_len = 0;
                    let f = Skipping {
                        opcode: header.opcode,
                        fin: header.fin,
                        mask: header.mask,
                        len: header.payload_len,
                        done: 0,
                    };
                    self.frame = Some(f);
                    if f.len == 0 {
                        self.end_frame(f);
                    }
                }
                Ok(None) => {
                    self.head_len += take;
                    data = &data[take..];
                }
                Err(_) => self.scan.garbage = true,
            }
        }
    }

    fn end_frame(&mut self, f: Skipping) {
        self.frame = None;
        match f.opcode {
            OpCode::Ping => self.scan.pings += 1,
            OpCode::Pong => self.scan.pongs += 1,
            OpCode::Close if self.scan.close.is_none() => {
                self.scan.close = Some(if f.len >= 2 {
                    u16::from_be_bytes(self.close_code)
                } else {
                    1005
                });
            }
            OpCode::Close => {}
            _ if f.fin => self.scan.messages += 1,
            _ => {}
        }
    }
}

/// How a reader paces itself.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Pace {
    /// Reads everything as fast as it can.
    Fast,
    /// Reads about `chunk` bytes every `every`, until `fast` is set.
    Slow { chunk: usize, every: Duration },
    /// Reads nothing until `fast` is set.
    Paused,
}

/// Reads and scans the library's frames until EOF or `deadline`. When
/// `end_on_close` (the peer is the server, which ends the TCP connection
/// after the closing handshake), it shuts the socket down on seeing the
/// library's close frame.
pub(crate) fn read_frames(
    mut stream: TcpStream,
    pace: Pace,
    fast: &AtomicBool,
    end_on_close: bool,
    deadline: Instant,
) -> Scan {
    let mut scanner = Scanner::default();
    let mut buf = vec![0u8; 64 << 10];
    let mut tick_read = 0usize;
    let mut tick_start = Instant::now();
    while Instant::now() < deadline {
        if let Pace::Paused = pace {
            if !fast.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_millis(5));
                continue;
            }
        }
        if let Pace::Slow { chunk, every } = pace {
            if !fast.load(Ordering::Relaxed) && tick_read >= chunk {
                // This tick's share is read: wait for the next one.
                let next = tick_start + every;
                thread::sleep(next.saturating_duration_since(Instant::now()));
                tick_start = Instant::now();
                tick_read = 0;
            }
        }
        let want = match pace {
            Pace::Slow { chunk, .. } if !fast.load(Ordering::Relaxed) => {
                (chunk - tick_read).min(buf.len())
            }
            _ => buf.len(),
        };
        match stream.read(&mut buf[..want]) {
            Ok(0) => {
                scanner.scan.eof = true;
                break;
            }
            Ok(n) => {
                tick_read += n;
                let had_close = scanner.scan.close.is_some();
                scanner.feed(&buf[..n]);
                if end_on_close && !had_close && scanner.scan.close.is_some() {
                    let _ = stream.shutdown(Shutdown::Both);
                }
            }
            Err(e) if retry(&e) => {}
            Err(_) => {
                // A reset also ends the stream.
                scanner.scan.eof = true;
                break;
            }
        }
    }
    scanner.scan
}

/// [`read_frames`] at full speed, on the calling thread.
pub(crate) fn read_all(stream: TcpStream, end_on_close: bool, deadline: Instant) -> Scan {
    read_frames(
        stream,
        Pace::Fast,
        &AtomicBool::new(true),
        end_on_close,
        deadline,
    )
}

/// A reader on a thread of its own, over a clone of `stream`.
pub(crate) struct Reader {
    pub(crate) fast: Arc<AtomicBool>,
    result: std::sync::mpsc::Receiver<Scan>,
}

impl Reader {
    pub(crate) fn spawn(
        stream: &TcpStream,
        pace: Pace,
        end_on_close: bool,
        deadline: Instant,
    ) -> io::Result<Self> {
        let stream = stream.try_clone()?;
        let fast = Arc::new(AtomicBool::new(false));
        let flag = fast.clone();
        let (tx, result) = std::sync::mpsc::channel();
        thread::Builder::new()
            .name("hostile-reader".into())
            .spawn(move || {
                let _ = tx.send(read_frames(stream, pace, &flag, end_on_close, deadline));
            })?;
        Ok(Self { fast, result })
    }

    /// Switches a slow reader to full speed.
    pub(crate) fn hurry(&self) {
        self.fast.store(true, Ordering::Relaxed);
    }

    /// What it saw, once it has ended (it ends by its deadline).
    pub(crate) fn finish(self, timeout: Duration) -> io::Result<Scan> {
        self.result
            .recv_timeout(timeout)
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the reader did not end"))
    }
}
