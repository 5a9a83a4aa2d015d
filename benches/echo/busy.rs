//! The `busy` part: busy-poll latency. The reference row is raw TCP with
//! non-blocking sockets and spinning reads, the client and the echo
//! thread each pinned to a CPU of its own (with `taskset -p` on the
//! thread's id: `libc` is not a dependency here, so there is no
//! `sched_setaffinity`); the blocking raw TCP ping-pong runs beside it.
//! Beside it, ws-mio's handler ping-pong (as in the `latency` part) with
//! both loops busy-polling (`EventLoop::set_busy_poll`), pinned the same
//! way. When the two threads cannot get separate CPUs (one CPU, or no
//! `taskset`), the spinning rows are skipped with a message: two spinners
//! on one CPU measure the scheduler's time slice, not the network path.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use ws_mio::{ClientOptions, Conn, Event, EventLoop, ServerOptions};
use ws_proto::{ClientRequest, CloseCode};

use crate::{
    DEADLINE, Kind, LATENCY_PAYLOAD, LATENCY_ROUND_TRIPS, LATENCY_ROUNDS, LATENCY_WARM_UP,
    Percentiles, Server, print_latency_table, raw_latency,
};

/// Moves the calling thread to `cpu`; whether it is there now.
fn pin(cpu: usize) -> Result<(), String> {
    let me = std::fs::read_link("/proc/thread-self").map_err(|e| e.to_string())?;
    let tid = me
        .file_name()
        .and_then(|t| t.to_str())
        .ok_or("no thread id")?
        .to_owned();
    let out = Command::new("taskset")
        .args(["-pc", &cpu.to_string(), &tid])
        .output()
        .map_err(|e| format!("taskset: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
    }
    let status = std::fs::read_to_string("/proc/thread-self/status").map_err(|e| e.to_string())?;
    let allowed = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(str::trim);
    if allowed == Some(cpu.to_string().as_str()) {
        Ok(())
    } else {
        Err(format!("still on CPUs {allowed:?}"))
    }
}

/// Spins until `f` stops saying `WouldBlock`; a panic past the deadline.
fn spin<T>(deadline: Instant, mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    let mut spins = 0u32;
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::hint::spin_loop();
                spins = spins.wrapping_add(1);
                if spins % 4096 == 0 {
                    assert!(Instant::now() < deadline, "busy-poll: deadline passed");
                }
            }
            other => return other,
        }
    }
}

/// Reads exactly `buf.len()` bytes, spinning.
fn spin_read_exact(stream: &mut TcpStream, buf: &mut [u8], deadline: Instant) -> io::Result<()> {
    let mut at = 0;
    while at < buf.len() {
        match spin(deadline, || stream.read(&mut buf[at..]))? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => at += n,
        }
    }
    Ok(())
}

fn spin_write_all(stream: &mut TcpStream, buf: &[u8], deadline: Instant) -> io::Result<()> {
    let mut at = 0;
    while at < buf.len() {
        at += spin(deadline, || stream.write(&buf[at..]))?;
    }
    Ok(())
}

/// The spinning ping-pong: an echo thread on CPU 1, the client on CPU 0.
fn raw_busy(warm: usize, n: usize) -> Result<Vec<Duration>, String> {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr: SocketAddr = listener.local_addr().unwrap();
    let deadline = Instant::now() + DEADLINE;
    // Both threads pin themselves first; the client connects either way
    // (so the echo thread never waits in `accept`), then gives up at once
    // unless both are where they should be.
    let (tx, rx) = std::sync::mpsc::channel();
    let server = thread::spawn(move || {
        let _ = tx.send(pin(1));
        let (mut stream, _) = listener.accept().expect("accept");
        stream.set_nodelay(true).unwrap();
        stream.set_nonblocking(true).unwrap();
        let mut buf = [0u8; LATENCY_PAYLOAD];
        while spin_read_exact(&mut stream, &mut buf, deadline).is_ok() {
            if spin_write_all(&mut stream, &buf, deadline).is_err() {
                break;
            }
        }
    });
    let client = thread::spawn(move || -> Result<Vec<Duration>, String> {
        let pinned = pin(0);
        let theirs = rx
            .recv_timeout(DEADLINE)
            .map_err(|e| format!("echo thread: {e}"))?;
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).unwrap();
        stream.set_nonblocking(true).unwrap();
        pinned?;
        theirs?;
        let message = [0xA5u8; LATENCY_PAYLOAD];
        let mut echo = [0u8; LATENCY_PAYLOAD];
        let mut samples = Vec::with_capacity(n);
        for i in 0..warm + n {
            let t0 = Instant::now();
            spin_write_all(&mut stream, &message, deadline).map_err(|e| e.to_string())?;
            spin_read_exact(&mut stream, &mut echo, deadline).map_err(|e| e.to_string())?;
            let rtt = t0.elapsed();
            if i >= warm {
                samples.push(rtt);
            }
        }
        Ok(samples)
    });
    let samples = client.join().expect("busy client");
    // The client's socket is closed now (or was never opened): the echo
    // thread sees the end of the stream.
    server.join().expect("busy server");
    samples
}

/// Runs the part.
pub(crate) fn busy(scale: usize) {
    let n = LATENCY_ROUND_TRIPS / scale / LATENCY_ROUNDS;
    let warm = LATENCY_WARM_UP / scale / LATENCY_ROUNDS;
    println!();
    println!(
        "Busy-poll latency: {LATENCY_PAYLOAD}-byte echo, one in flight; {} round trips after {} \
         warm-up, in {LATENCY_ROUNDS} interleaved rounds (µs)",
        n * LATENCY_ROUNDS,
        warm * LATENCY_ROUNDS
    );
    let mut blocking = Vec::new();
    let mut spinning = Vec::new();
    let mut skipped = None;
    for _ in 0..LATENCY_ROUNDS {
        let server = Server::start(Kind::Raw);
        blocking.extend(raw_latency(server.addr, warm, n));
        server.finish();
        if skipped.is_none() {
            match raw_busy(warm, n) {
                Ok(samples) => spinning.extend(samples),
                Err(e) => skipped = Some(e),
            }
        }
    }
    let mut rows = vec![("raw TCP, blocking", Percentiles::of(blocking))];
    if skipped.is_none() {
        rows.push((
            "raw TCP, busy-poll (CPUs 0 and 1)",
            Percentiles::of(spinning),
        ));
    }
    if skipped.is_none() {
        let mut mio = Vec::new();
        for _ in 0..LATENCY_ROUNDS {
            match mio_busy(warm, n) {
                Ok(samples) => mio.extend(samples),
                Err(e) => {
                    skipped = Some(e);
                    break;
                }
            }
        }
        if skipped.is_none() {
            rows.push(("ws-mio, busy-poll (CPUs 0 and 1)", Percentiles::of(mio)));
        }
    }
    print_latency_table(&rows, "raw TCP, blocking", "", "");
    if let Some(why) = skipped {
        println!("  busy-poll rows skipped: the threads could not be pinned apart ({why})");
    }
}

/// The handler ping-pong of the `latency` part with both loops
/// busy-polling (`EventLoop::set_busy_poll`): the server's loop thread on
/// CPU 1, the client's on CPU 0.
fn mio_busy(warm: usize, n: usize) -> Result<Vec<Duration>, String> {
    let mut server = EventLoop::new().map_err(|e| e.to_string())?;
    server.set_busy_poll(true);
    let addr = server
        .listen(
            "127.0.0.1:0".parse().unwrap(),
            ServerOptions::default(),
            || ws_mio::echo,
        )
        .map_err(|e| e.to_string())?;
    let server_handle = server.handle();
    let server_thread = thread::spawn(move || {
        pin(1)?;
        server.run().map_err(|e| e.to_string())
    });
    let (tx, rx) = mpsc::channel();
    let client_thread = thread::spawn(move || -> Result<(), String> {
        pin(0)?;
        let mut client = EventLoop::new().map_err(|e| e.to_string())?;
        client.set_busy_poll(true);
        let handle = client.handle();
        let message = [0xA5u8; LATENCY_PAYLOAD];
        let mut samples = Vec::with_capacity(n);
        let mut done = 0;
        let mut t0 = Instant::now();
        let request = ClientRequest::new("127.0.0.1", addr.port(), "/");
        let stopper = handle.clone();
        handle
            .connect(
                &request,
                ClientOptions::default(),
                move |conn: &Conn, event: Event| {
                    match event {
                        Event::Open(_) => {}
                        Event::Message(_) => {
                            let rtt = t0.elapsed();
                            if done >= warm {
                                samples.push(rtt);
                            }
                            done += 1;
                            if done == warm + n {
                                let _ = tx.send(std::mem::take(&mut samples));
                                let _ = conn.close(CloseCode::NORMAL, "");
                                stopper.stop();
                                return;
                            }
                        }
                        Event::Closed(_) => stopper.stop(),
                        _ => return,
                    }
                    t0 = Instant::now();
                    let _ = conn.send_binary(&message);
                },
            )
            .map_err(|e| e.to_string())?;
        client.run().map_err(|e| e.to_string())
    });
    let samples = rx.recv_timeout(DEADLINE);
    let client = client_thread.join().expect("busy ws-mio client");
    server_handle.stop();
    let server = server_thread.join().expect("busy ws-mio server");
    client?;
    server?;
    samples.map_err(|e| format!("no samples: {e}"))
}
