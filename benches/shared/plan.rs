//! What the loopback benchmark programs (`echo.rs`, `tokio.rs`) measure,
//! and how they are told: the same payloads, windows, counts and
//! deadlines for both, so that their figures compare, and one reading of
//! the command line (`--quick`, `--only PART`, `--NAME VALUE`).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::Duration;

pub(crate) const KIB: usize = 1024;
pub(crate) const MIB: usize = 1024 * KIB;

/// Latency: payload, measured round trips and warm-up at full size.
pub(crate) const LATENCY_PAYLOAD: usize = 32;
pub(crate) const LATENCY_ROUND_TRIPS: usize = 100_000;
pub(crate) const LATENCY_WARM_UP: usize = 5_000;
pub(crate) const LATENCY_ROUNDS: usize = 5;

/// Throughput: label, payload, window (messages in flight), measured
/// messages at full size.
pub(crate) const SIZES: [(&str, usize, u64, u64); 4] = [
    ("16 B", 16, 64, 1_000_000),
    ("1 KiB", KIB, 64, 400_000),
    ("64 KiB", 64 * KIB, 16, 30_000),
    ("1 MiB", MIB, 4, 2_000),
];

/// How long any one measurement may take before the program gives up.
pub(crate) const DEADLINE: Duration = Duration::from_secs(120);

/// Socket reads that take longer than this mean something is stuck.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// The command line: `--quick` (10x fewer messages, one run instead of
/// three), `--only X` (repeatable: a part, or one throughput size such as
/// `16B`), and options with a value.
pub(crate) struct Args {
    args: Vec<String>,
    only: Vec<String>,
    /// `--quick` was given.
    pub(crate) quick: bool,
    /// What message counts are divided by.
    pub(crate) scale: usize,
    /// Runs per measurement (the best is kept).
    pub(crate) runs: usize,
}

impl Args {
    /// The program's arguments.
    pub(crate) fn from_env() -> Self {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let quick = args.iter().any(|a| a == "--quick");
        let only = args
            .windows(2)
            .filter(|w| w[0] == "--only")
            .map(|w| w[1].replace(' ', ""))
            .collect();
        Self {
            args,
            only,
            quick,
            scale: if quick { 10 } else { 1 },
            runs: if quick { 1 } else { 3 },
        }
    }

    /// Whether `part` is to run (all are without `--only`).
    pub(crate) fn wanted(&self, part: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == part)
    }

    /// The throughput sizes to run.
    pub(crate) fn sizes(&self) -> Vec<(&'static str, usize, u64, u64)> {
        SIZES
            .into_iter()
            .filter(|(label, ..)| self.wanted("throughput") || self.wanted(&label.replace(' ', "")))
            .collect()
    }

    /// The value after `--name`, if given.
    pub(crate) fn value(&self, name: &str) -> Option<&str> {
        self.args
            .windows(2)
            .find(|w| w[0] == name)
            .map(|w| w[1].as_str())
    }
}

/// An echo server for one connection: accepts it on a thread of its own
/// (nodelay, reads bounded by [`IO_TIMEOUT`]) and runs `serve` on it; the
/// thread ends with the connection.
pub(crate) fn serve_one(serve: fn(TcpStream)) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().unwrap();
    let thread = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        stream.set_nodelay(true).unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        serve(stream);
    });
    (addr, thread)
}
