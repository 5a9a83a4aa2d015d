//! The library's side of the hostile suite: a ws-mio event loop on a
//! thread tracked by the counting allocator, handlers that count what they
//! see in atomics (no payload leaves the loop thread), and the record of
//! one scenario run: its figures, its checks, its printed row.

use std::fmt::{self, Write as _};
use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use ws_mio::{Conn, Event, EventLoop, Handle};
use ws_proto::Message;

use ws_test_support::counting_alloc::{self, Scope};

/// How long the loop waits in one turn before it looks for jobs.
const TURN: Duration = Duration::from_millis(5);

/// Polls `done` every few milliseconds until it holds or `timeout` passes;
/// returns whether it held.
pub(crate) fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        thread::sleep(Duration::from_millis(2));
    }
}

// ---- the loop thread ------------------------------------------------------

type Job = Box<dyn FnOnce(&mut EventLoop) + Send>;

/// A ws-mio event loop on a thread of its own, tracked by the allocator.
/// It runs jobs between turns, so that listening and connecting (which
/// allocate the connection) happen on the tracked thread, and whatever the
/// connection allocates is freed where it was counted.
pub(crate) struct LoopThread {
    pub(crate) handle: Handle,
    jobs: SyncSender<Job>,
    done: Receiver<io::Result<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl LoopThread {
    pub(crate) fn spawn() -> Self {
        let (jobs, queue) = mpsc::sync_channel::<Job>(4);
        let (tx, done) = mpsc::channel();
        let (handle_tx, handle_rx) = mpsc::sync_channel(1);
        let thread = thread::Builder::new()
            .name("hostile-loop".into())
            .spawn(move || {
                counting_alloc::track_current_thread();
                let result = (|| {
                    let mut event_loop = EventLoop::new()?;
                    let _ = handle_tx.send(event_loop.handle());
                    // `run()` is `while turn(None)? {}`; a bounded turn lets
                    // jobs in between.
                    while event_loop.turn(Some(TURN))? {
                        while let Ok(job) = queue.try_recv() {
                            job(&mut event_loop);
                        }
                    }
                    Ok(())
                })();
                let _ = tx.send(result);
            })
            .expect("spawn the loop thread");
        let handle = handle_rx
            .recv_timeout(Duration::from_secs(5))
            .expect("the event loop starts");
        Self {
            handle,
            jobs,
            done,
            thread: Some(thread),
        }
    }

    /// Runs `job` on the loop thread and returns its result.
    pub(crate) fn exec<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut EventLoop) -> T + Send + 'static,
    ) -> T {
        let (tx, rx) = mpsc::sync_channel(1);
        // Never blocks: a loop that does not take its jobs fails the test.
        self.jobs
            .try_send(Box::new(move |event_loop| {
                let _ = tx.send(job(event_loop));
            }))
            .expect("the loop takes jobs");
        rx.recv_timeout(Duration::from_secs(5))
            .expect("the loop ran the job")
    }

    /// Stops the loop (every connection still open is closed with 1001)
    /// and waits for its thread, at most `timeout`; returns whether it
    /// ended. A loop that does not end is left behind (detached): it no
    /// longer counts once the scenario's scope is closed.
    pub(crate) fn stop(mut self, timeout: Duration) -> bool {
        self.handle.stop();
        match self.done.recv_timeout(timeout) {
            Ok(_) => {
                if let Some(thread) = self.thread.take() {
                    let _ = thread.join(); // it has reported: immediate
                }
                true
            }
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => false, // it panicked
        }
    }
}

// ---- what the handlers saw -------------------------------------------------

/// A short text kept without allocating (the loop thread writes it, the
/// test thread reads it).
pub(crate) struct Note {
    buf: [u8; 160],
    len: usize,
}

impl fmt::Write for Note {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            let mut utf8 = [0u8; 4];
            let c = c.encode_utf8(&mut utf8).as_bytes();
            if self.len + c.len() > self.buf.len() {
                break;
            }
            self.buf[self.len..self.len + c.len()].copy_from_slice(c);
            self.len += c.len();
        }
        Ok(())
    }
}

impl Note {
    const fn new() -> Self {
        Self {
            buf: [0; 160],
            len: 0,
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("?")
    }
}

/// Close codes counted one by one: 1000 to 1014, then everything else.
const CODES: usize = 16;

/// Every event of the library's connections, as counts.
pub(crate) struct Tally {
    pub(crate) opened: AtomicUsize,
    pub(crate) messages: AtomicUsize,
    pub(crate) largest_message: AtomicUsize,
    /// Sum of every message's bytes (a check that a message arrived whole).
    pub(crate) message_sum: AtomicU64,
    pub(crate) pings: AtomicU64,
    pub(crate) pongs: AtomicU64,
    pub(crate) errors: AtomicUsize,
    pub(crate) closed: AtomicUsize,
    codes: [AtomicUsize; CODES],
    first_error: Mutex<Note>,
}

impl Tally {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            opened: AtomicUsize::new(0),
            messages: AtomicUsize::new(0),
            largest_message: AtomicUsize::new(0),
            message_sum: AtomicU64::new(0),
            pings: AtomicU64::new(0),
            pongs: AtomicU64::new(0),
            errors: AtomicUsize::new(0),
            closed: AtomicUsize::new(0),
            codes: std::array::from_fn(|_| AtomicUsize::new(0)),
            first_error: Mutex::new(Note::new()),
        })
    }

    pub(crate) fn opened(&self) -> usize {
        self.opened.load(Ordering::SeqCst)
    }

    pub(crate) fn closed(&self) -> usize {
        self.closed.load(Ordering::SeqCst)
    }

    pub(crate) fn errors(&self) -> usize {
        self.errors.load(Ordering::SeqCst)
    }

    pub(crate) fn pings(&self) -> u64 {
        self.pings.load(Ordering::SeqCst)
    }

    pub(crate) fn pongs(&self) -> u64 {
        self.pongs.load(Ordering::SeqCst)
    }

    pub(crate) fn messages(&self) -> usize {
        self.messages.load(Ordering::SeqCst)
    }

    /// How many connections closed with `code` in their `Closed` event.
    pub(crate) fn closed_with(&self, code: u16) -> usize {
        self.codes[code_slot(code)].load(Ordering::SeqCst)
    }

    /// The close codes seen, as `1000x3 1006x1`.
    pub(crate) fn codes(&self) -> String {
        let mut out = String::new();
        for (i, n) in self.codes.iter().enumerate() {
            let n = n.load(Ordering::SeqCst);
            if n == 0 {
                continue;
            }
            let code = if i + 1 < CODES {
                (1000 + i).to_string()
            } else {
                "other".into()
            };
            let _ = write!(out, "{}{code}x{n}", if out.is_empty() { "" } else { " " });
        }
        out
    }

    pub(crate) fn first_error(&self) -> String {
        self.first_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_str()
            .to_owned()
    }

    /// Counts one event. Runs on the loop thread; allocates nothing.
    pub(crate) fn count(&self, event: &Event) {
        match event {
            Event::Open(_) => {
                self.opened.fetch_add(1, Ordering::SeqCst);
            }
            Event::Message(message) => {
                let bytes = match message {
                    Message::Text(t) => t.as_bytes(),
                    Message::Binary(b) => b,
                };
                self.largest_message
                    .fetch_max(bytes.len(), Ordering::SeqCst);
                let sum = bytes.iter().map(|&b| u64::from(b)).sum::<u64>();
                self.message_sum.fetch_add(sum, Ordering::SeqCst);
                self.messages.fetch_add(1, Ordering::SeqCst);
            }
            Event::Ping(_) => {
                self.pings.fetch_add(1, Ordering::SeqCst);
            }
            Event::Pong(_) => {
                self.pongs.fetch_add(1, Ordering::SeqCst);
            }
            Event::Drain => {}
            Event::Error(e) => {
                let first = self.errors.fetch_add(1, Ordering::SeqCst) == 0;
                if first {
                    let mut note = self.first_error.lock().unwrap_or_else(|e| e.into_inner());
                    let _ = write!(note, "{e}");
                }
            }
            Event::Closed(closed) => {
                self.codes[code_slot(closed.code.0)].fetch_add(1, Ordering::SeqCst);
                self.closed.fetch_add(1, Ordering::SeqCst);
            }
            _ => {}
        }
    }
}

fn code_slot(code: u16) -> usize {
    match code {
        1000..=1014 => usize::from(code - 1000),
        _ => CODES - 1,
    }
}

/// What a library connection does besides counting.
#[derive(Clone)]
pub(crate) enum Behaviour {
    /// Nothing: a client that only listens.
    Quiet,
    /// Echo every message back (a server's usual test handler).
    Echo,
    /// Hand the connection to a sender thread at `Open`.
    HandOver(SyncSender<Conn>),
}

/// A handler that counts every event in `tally` and behaves as asked.
pub(crate) fn handler(
    tally: Arc<Tally>,
    behaviour: Behaviour,
) -> impl FnMut(&Conn, Event) + Send + 'static {
    move |conn: &Conn, event: Event| {
        tally.count(&event);
        match (&behaviour, event) {
            // A full buffer drops the echo, as ws-mio's echo does.
            (Behaviour::Echo, Event::Message(Message::Binary(data))) => {
                let _ = conn.send_bytes(data);
            }
            (Behaviour::Echo, Event::Message(Message::Text(text))) => {
                let _ = conn.send_text_bytes(text);
            }
            (Behaviour::HandOver(to), Event::Open(_)) => {
                let _ = to.try_send(conn.clone());
            }
            _ => {}
        }
    }
}

// ---- one scenario run ------------------------------------------------------

/// The scenario's role: which end the library plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// A ws-mio client against a hostile server.
    Client,
    /// A ws-mio server against a hostile client.
    Server,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Client => "client",
            Self::Server => "server",
        })
    }
}

/// The memory bounds of a scenario, in bytes above its baseline.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bound {
    pub(crate) peak: usize,
    pub(crate) end: usize,
    pub(crate) why: &'static str,
}

/// One run of a scenario: the allocator scope (so runs never overlap), the
/// clock, the baseline, and every check, kept until the end so that a
/// failing run still measures and prints everything.
pub(crate) struct Run {
    pub(crate) scope: Scope,
    name: &'static str,
    role: Role,
    started: Instant,
    baseline: Option<isize>,
    peak: Option<isize>,
    end: Option<isize>,
    events: Vec<String>,
    failures: Vec<String>,
}

/// No scenario may take longer than this: a generous guard against a hang,
/// not a performance figure.
pub(crate) const TIME_BOUND: Duration = Duration::from_secs(20);

impl Run {
    /// Waits for any other run to end, then starts this one.
    pub(crate) fn start(name: &'static str, role: Role) -> Self {
        let scope = Scope::open();
        Self {
            scope,
            name,
            role,
            started: Instant::now(),
            baseline: None,
            peak: None,
            end: None,
            events: Vec::new(),
            failures: Vec::new(),
        }
    }

    /// Takes the baseline now: the peak counts from here.
    pub(crate) fn baseline(&mut self) {
        self.baseline = Some(self.scope.live());
        self.scope.reset_peak();
    }

    fn base(&self) -> isize {
        self.baseline.unwrap_or(0)
    }

    /// The peak growth so far above the baseline.
    pub(crate) fn peak_growth(&self) -> isize {
        self.scope.peak() - self.base()
    }

    /// Records the peak growth (call when the attack is over).
    pub(crate) fn record_peak(&mut self) {
        self.peak = Some(self.peak_growth());
    }

    /// Records what is left above the baseline, once it has come within
    /// `end_bound` (or after a second: what is left then).
    pub(crate) fn record_end(&mut self, end_bound: usize) {
        let base = self.base();
        let scope = &self.scope;
        wait_until(Duration::from_secs(1), || {
            scope.live() - base <= end_bound as isize
        });
        self.end = Some(self.scope.live() - base);
        if self.peak.is_none() {
            self.record_peak();
        }
    }

    /// Notes an event for the printed row.
    pub(crate) fn event(&mut self, what: impl Into<String>) {
        self.events.push(what.into());
    }

    /// Records a failed expectation unless `ok`.
    pub(crate) fn check(&mut self, ok: bool, what: impl fmt::Display) {
        if !ok {
            self.failures.push(what.to_string());
        }
    }

    /// Records the library's events from `tally`.
    pub(crate) fn tally_events(&mut self, tally: &Tally) {
        let mut line = format!(
            "opened {} closed {} [{}]",
            tally.opened(),
            tally.closed(),
            tally.codes()
        );
        if tally.errors() > 0 {
            let _ = write!(
                line,
                " errors {} (first: {})",
                tally.errors(),
                tally.first_error()
            );
        }
        self.events.push(line);
    }

    /// Checks the figures against `bound` and the clock against
    /// [`TIME_BOUND`], prints the row, and fails the test with every
    /// failed expectation.
    pub(crate) fn finish(mut self, bound: Bound) {
        let elapsed = self.started.elapsed();
        let peak = self.peak.unwrap_or_else(|| self.peak_growth());
        let end = self.end;
        self.check(
            peak <= bound.peak as isize,
            format_args!(
                "peak heap growth {} over the bound {} ({})",
                mib(peak),
                mib(bound.peak as isize),
                bound.why
            ),
        );
        match end {
            Some(end) => self.check(
                end <= bound.end as isize,
                format_args!(
                    "{} still held at the end, over the bound {}",
                    mib(end),
                    mib(bound.end as isize)
                ),
            ),
            None => self.check(false, "the end was never measured"),
        }
        self.check(
            elapsed <= TIME_BOUND,
            format_args!("took {elapsed:.1?}, over the {TIME_BOUND:?} guard"),
        );
        let row = Row {
            name: self.name,
            role: self.role,
            peak,
            bound: bound.peak,
            end: end.unwrap_or(isize::MIN),
            elapsed,
            pass: self.failures.is_empty(),
            events: self.events.join("; "),
        };
        report(row);
        drop(self.scope);
        assert!(
            self.failures.is_empty(),
            "{} ({} role) failed:\n  - {}",
            self.name,
            self.role,
            self.failures.join("\n  - ")
        );
    }
}

/// Bytes as MiB with three decimals (or KiB when small).
pub(crate) fn mib(bytes: isize) -> String {
    if bytes == isize::MIN {
        "n/a".into()
    } else if bytes.unsigned_abs() < 1 << 20 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{:.2} MiB", bytes as f64 / (1 << 20) as f64)
    }
}

// ---- the printed table -------------------------------------------------------

struct Row {
    name: &'static str,
    role: Role,
    peak: isize,
    bound: usize,
    end: isize,
    elapsed: Duration,
    pass: bool,
    events: String,
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "| {} | {} | {} | {} | {} | {:.2} s | {} | {} |",
            self.name,
            self.role,
            mib(self.peak),
            mib(self.bound as isize),
            mib(self.end),
            self.elapsed.as_secs_f64(),
            if self.pass { "pass" } else { "FAIL" },
            self.events
        )
    }
}

const HEADER: &str = "| scenario | role | peak growth | bound | end growth | time | result | events |\n\
                      |---|---|---|---|---|---|---|---|";

static ROWS: Mutex<Vec<Row>> = Mutex::new(Vec::new());

/// Prints a scenario's row at once (so a run stopped halfway still shows
/// it), and the whole table, sorted, once the last scenario has reported.
fn report(row: Row) {
    eprintln!("\n{HEADER}\n{row}");
    let mut rows = ROWS.lock().unwrap_or_else(|e| e.into_inner());
    rows.push(row);
    if rows.len() == crate::SCENARIO_TESTS {
        rows.sort_by(|a, b| (a.name, a.role.to_string()).cmp(&(b.name, b.role.to_string())));
        let mut table = format!("\nhostile-peer suite: worst-case heap per scenario\n{HEADER}\n");
        for row in rows.iter() {
            let _ = writeln!(table, "{row}");
        }
        eprintln!("{table}");
    }
}
