//! Scripted loopback TCP servers, for what a correct server would not do:
//! a test writes the script (accept the handshake or not, read frames,
//! write any bytes, drop), these run it on a thread. And the bounded
//! blocking calls such scripts need.

use std::io::{self, Read as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// A listener on a free port of 127.0.0.1.
pub fn listen() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind on 127.0.0.1");
    let addr = listener.local_addr().expect("the listener's address");
    (listener, addr)
}

/// `ws://ADDR` followed by `path`.
pub fn ws_url(addr: SocketAddr, path: &str) -> String {
    format!("ws://{addr}{path}")
}

/// An address with nothing listening on it (bound, then let go).
pub fn refused_addr() -> SocketAddr {
    listen().1
}

/// Serves one connection with `script` on a thread, the stream's reads
/// timing out after `read_timeout`. Returns the address.
pub fn serve_one(
    read_timeout: Duration,
    script: impl FnOnce(TcpStream) + Send + 'static,
) -> SocketAddr {
    let (listener, addr) = listen();
    thread::spawn(move || {
        if let Ok((stream, _)) = listener.accept() {
            stream.set_read_timeout(Some(read_timeout)).unwrap();
            script(stream);
        }
    });
    addr
}

/// Serves up to `max` connections one after the other on one thread, the
/// n-th (from 0) with `script(n, stream)`. Returns the address.
pub fn serve_in_turn(
    max: usize,
    read_timeout: Duration,
    mut script: impl FnMut(usize, TcpStream) + Send + 'static,
) -> SocketAddr {
    let (listener, addr) = listen();
    thread::spawn(move || {
        for n in 0..max {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            stream.set_read_timeout(Some(read_timeout)).unwrap();
            script(n, stream);
        }
    });
    addr
}

/// Serves up to `max` connections, each on its own thread, the n-th (from
/// 0) with `script(n, stream)`. Returns the address and the count of
/// connections accepted so far.
pub fn serve_each(
    max: usize,
    read_timeout: Duration,
    script: impl Fn(usize, TcpStream) + Send + Sync + 'static,
) -> (SocketAddr, Arc<AtomicUsize>) {
    let (listener, addr) = listen();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    let script = Arc::new(script);
    thread::spawn(move || {
        for n in 0..max {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            count.fetch_add(1, Ordering::SeqCst);
            stream.set_read_timeout(Some(read_timeout)).unwrap();
            let script = script.clone();
            thread::spawn(move || script(n, stream));
        }
    });
    (addr, accepted)
}

/// Accepts one connection on a blocking-mode `listener`, giving up at
/// `deadline` (it polls, so no thread is left blocked in `accept`); the
/// stream comes back in blocking mode.
pub fn accept_within(listener: &TcpListener, deadline: Instant) -> io::Result<TcpStream> {
    listener.set_nonblocking(true)?;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false)?;
                return Ok(stream);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    return Err(io::Error::new(io::ErrorKind::TimedOut, "nobody connected"));
                }
                thread::sleep(Duration::from_millis(2));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Reads until EOF or `deadline`; returns the bytes read and whether EOF
/// (or a reset, which also ends the stream) was seen.
pub fn drain_until_eof(stream: &mut TcpStream, deadline: Instant) -> (Vec<u8>, bool) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (seen, false);
        }
        let _ = stream.set_read_timeout(Some(left));
        match stream.read(&mut buf) {
            Ok(0) => return (seen, true),
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut =>
            {
                return (seen, false);
            }
            Err(_) => return (seen, true),
        }
    }
}

/// Reads and drops whatever comes until the peer closes its side or a read
/// fails (a timeout included).
pub fn wait_for_eof(stream: &mut TcpStream) {
    let mut sink = [0u8; 1024];
    while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
}
