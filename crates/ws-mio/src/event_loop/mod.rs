//! [`EventLoop`]: one thread, any number of connections.
//!
//! The loop registers the sockets and reads them; each connection's state
//! machine and transport sit behind one mutex (a [`Link`]) shared with the
//! [`Conn`] handles, which write from their own threads when they can. A
//! turn of the loop:
//! 1. wait in `Poll::poll` until a socket is ready, a handle wakes it, or
//!    the earliest connection deadline (or not at all: busy-polling);
//! 2. for each ready socket: read until it would block, straight into the
//!    state machine's buffer, handing what each read decoded to the
//!    handler (whole messages a batch at a time, every other event alone,
//!    just before its handler runs, so a handler's answer goes out before
//!    anything that follows), then write what is queued;
//! 3. run commands from other threads (connect, stop), write the
//!    connections that handles left to the loop, fire expired timers.
//!
//! No protocol rule lives here: timers are the state machine's
//! (`poll_timeout` / `handle_timeout`), except the TCP connect timeout.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token, Waker};
use ws_proto::{CloseCode, State};

mod alarm;
mod connect;
mod dispatch;
mod server;
mod spares;

use alarm::Alarm;
use dispatch::{deliver, dispatch, dispatch_then};
use spares::Spares;

use connect::{PendingConnect, Resolution, ResolveError, Target};

use crate::conn::{Conn, Event, Handler, OnLoopThread, Shared};
use crate::error::Error;
use crate::link::{Link, lock};
use crate::memory::Memory;
use crate::options::ServerOptions;
use crate::stream::Stream;
use crate::trace;
use crate::transport::{Read, Transport};

const WAKER: Token = Token(0);
/// The timer's token; a connection's is its slot index + 1, far below.
const ALARM: Token = Token(usize::MAX);
/// Reads per connection per turn before others get their turn.
const READ_BUDGET: usize = 32;
/// Output this large is written during a read burst, not after it.
const FLUSH_EARLY: usize = 64 << 10;
/// While busy-polling, a connection that received data is read on every
/// turn, before the poll, until it stays quiet for this many turns.
const HOT_TURNS: u32 = 20_000;

/// What other threads hand the loop.
enum Command {
    Connect(Box<PendingConnect>),
    Resolved {
        index: usize,
        id: u64,
        result: Result<Resolution, ResolveError>,
    },
    Stop,
}

/// The part of the loop other threads reach.
pub(crate) struct LoopShared {
    waker: Waker,
    commands: Mutex<Vec<Command>>,
    dirty: Mutex<Vec<Arc<Shared>>>,
    /// Something was put in `commands` or `dirty` since the loop last
    /// looked: the loop checks this flag, not the two locks, every turn.
    pending: AtomicBool,
    stopped: AtomicBool,
    /// The loop is stopping: it takes no new connection.
    stopping: AtomicBool,
    next_id: AtomicU64,
    /// What the connections' buffers hold, and the budget.
    pub(crate) memory: Memory,
}

impl LoopShared {
    /// Puts a connection on the list to write; `false` once the loop has
    /// stopped (checked under the list's lock, which the loop takes to
    /// empty the list for good).
    pub(crate) fn push_dirty(&self, shared: Arc<Shared>) -> bool {
        let mut dirty = self.dirty.lock().unwrap_or_else(|p| p.into_inner());
        if self.stopped.load(Ordering::Acquire) {
            return false;
        }
        dirty.push(shared);
        self.pending.store(true, Ordering::Release);
        true
    }

    pub(crate) fn wake(&self) {
        // Failing to wake means the poll is gone: the loop has stopped.
        let _ = self.waker.wake();
    }

    /// Queues a command; hands it back once the loop has stopped (checked
    /// under the queue's lock, which the loop takes to empty it for good).
    fn command(&self, command: Command) -> Result<(), Command> {
        let mut commands = self.commands.lock().unwrap_or_else(|p| p.into_inner());
        if self.stopped.load(Ordering::Acquire) {
            return Err(command);
        }
        commands.push(command);
        self.pending.store(true, Ordering::Release);
        drop(commands);
        self.wake();
        Ok(())
    }
}

/// Starts connections and stops the loop, from any thread.
#[derive(Clone)]
pub struct Handle {
    shared: Arc<LoopShared>,
}

impl Handle {
    /// The heap the loop's connections hold in their buffers now (see
    /// [`EventLoop::memory_held`]), readable from any thread.
    pub fn memory_held(&self) -> usize {
        self.shared.memory.held()
    }

    /// Asks the loop to stop: every connection is closed with 1001 (going
    /// away) and reports `Closed`, within its close timeout; then
    /// [`EventLoop::run`] returns.
    pub fn stop(&self) {
        let _ = self.shared.command(Command::Stop); // stopped already: fine
    }
}

/// Where a client connection is on its way to an open socket.
enum Stage {
    /// Waiting to start ([`ClientOptions::delay`](crate::ClientOptions::delay)).
    Waiting {
        until: Instant,
        hop: connect::FirstHop,
        target: Box<Target>,
    },
    Resolving {
        target: Box<Target>,
    },
    Connecting {
        stream: Stream,
        addrs: Vec<SocketAddr>,
        next: usize,
        deadline: Instant,
        target: Box<Target>,
    },
    /// Connected to the proxy, which is opening the tunnel.
    Tunneling {
        stream: Stream,
        tunnel: Box<ws_proto::proxy::Tunnel>,
        deadline: Instant,
        target: Box<Target>,
    },
    /// The transport is in the connection's [`Link`].
    Streaming {
        /// Closed, with output still to write: kept until it is out or
        /// until then.
        linger: Option<Instant>,
    },
    /// No socket (between stages, or after a failure to connect).
    Done,
}

struct Entry {
    conn: Conn,
    handler: Box<dyn Handler>,
    stage: Stage,
    interest: Option<Interest>,
    scheduled: Option<Instant>,
    /// Why this driver failed the connection (its transport, its memory
    /// budget), told to the state machine as an input: handed to the
    /// handler in the place of the error the state machine reports for
    /// it, if the state machine reports one (it alone decides).
    cause: Option<Error>,
    /// The handler has had `Closed`: the entry goes once its last bytes
    /// are out.
    closed: bool,
    /// In the loop's list of connections read on every busy-polling turn.
    hot: bool,
}

/// What a socket is ready for.
#[derive(Clone, Copy)]
struct Readiness {
    readable: bool,
    writable: bool,
    /// The peer closed or the socket failed, so reading must go on until
    /// the socket says so (not stop at a short read).
    ended: bool,
}

/// A connection read on every busy-polling turn, and for how many turns it
/// has been quiet.
struct Hot {
    index: usize,
    id: u64,
    quiet: u32,
}

struct Listener {
    socket: server::ListenSocket,
    options: ServerOptions,
    factory: Box<dyn FnMut() -> Box<dyn Handler> + Send>,
}

enum Slot {
    Free,
    Conn(Box<Entry>),
    Listener(Box<Listener>),
}

/// An event loop carrying any number of client and server connections on
/// the thread that runs it.
pub struct EventLoop {
    poll: Poll,
    events: Events,
    shared: Arc<LoopShared>,
    slots: Vec<Slot>,
    free: Vec<usize>,
    timers: BinaryHeap<Reverse<(Instant, usize, u64)>>,
    /// Wakes the poll at the heap's earliest timer.
    alarm: Alarm,
    /// Read buffers given back by drained connections, for the next read.
    spares: Spares,
    /// Sockets reported ready this turn (kept to reuse its allocation).
    ready: Vec<(usize, Readiness)>,
    again: Vec<usize>,
    connections: usize,
    stopping: bool,
    /// Poll without sleeping (see [`EventLoop::set_busy_poll`]).
    busy_poll: bool,
    /// Connections read on every busy-polling turn.
    hot: Vec<Hot>,
}

impl EventLoop {
    /// A loop with no connection yet.
    pub fn new() -> io::Result<Self> {
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), WAKER)?;
        let alarm = Alarm::new(poll.registry(), ALARM);
        Ok(Self {
            poll,
            events: Events::with_capacity(1024),
            shared: Arc::new(LoopShared {
                waker,
                commands: Mutex::new(Vec::new()),
                dirty: Mutex::new(Vec::new()),
                pending: AtomicBool::new(false),
                stopped: AtomicBool::new(false),
                stopping: AtomicBool::new(false),
                next_id: AtomicU64::new(1),
                memory: Memory::default(),
            }),
            slots: Vec::new(),
            free: Vec::new(),
            timers: BinaryHeap::new(),
            alarm,
            spares: Spares::default(),
            ready: Vec::new(),
            again: Vec::new(),
            connections: 0,
            stopping: false,
            busy_poll: false,
            hot: Vec::new(),
        })
    }

    /// A handle for other threads (and handlers) to start connections and
    /// stop the loop.
    pub fn handle(&self) -> Handle {
        Handle {
            shared: self.shared.clone(),
        }
    }

    /// The number of live connections.
    pub fn connections(&self) -> usize {
        self.connections
    }

    /// Bounds the heap the loop's connections hold in their buffers
    /// together (read buffers, messages being assembled or inflated, output
    /// waiting to be written), or lifts the bound with `None` (the
    /// default).
    ///
    /// A send that would take the total over the budget fails with
    /// [`SendError::WriteBufferFull`](ws_proto::SendError::WriteBufferFull);
    /// a connection whose input takes it over is failed, with close code
    /// 1013 (try again later) for a server connection and 1009 for a
    /// client, and [`Error::MemoryBudget`] reported; the other connections
    /// keep working. The check follows each read, so a connection can pass
    /// the budget by what one read makes it allocate before it is stopped:
    /// a read (at most 256 KiB), a step of a large frame's buffer (1 MiB), or
    /// the doubling of a message being assembled (at most half
    /// `max_message_size`).
    ///
    /// Each connection's own limits (`ws_proto::Config`: message, frame and
    /// write-buffer sizes) bound it alone; the budget bounds them all
    /// together, which a server facing many peers needs: at the default
    /// limits each hostile connection can make it hold a 64 MiB unfinished
    /// message. Not counted:
    /// the fixed part of each connection (about 1 KiB idle), TLS state, and
    /// messages the handlers keep.
    pub fn set_memory_budget(&mut self, bytes: Option<usize>) {
        self.shared.memory.set_budget(bytes);
    }

    /// The heap the loop's connections hold in their buffers now (what the
    /// memory budget counts).
    pub fn memory_held(&self) -> usize {
        self.shared.memory.held()
    }

    /// Busy-polling, for a program that gives the loop a CPU of its own:
    /// each turn reads the connections that received data lately straight
    /// away (a non-blocking read that finds nothing costs one syscall),
    /// then asks the operating system for the other ready sockets without
    /// sleeping (a zero-timeout poll). So [`run`](Self::run) spins, and
    /// input is taken by the read itself as soon as it arrives, instead of
    /// after a wake-up from sleep (a few microseconds on a round trip). A
    /// connection stops being read every turn after 20,000 quiet turns.
    /// Off by default.
    ///
    /// The cost: the loop's thread keeps one CPU at 100% whether or not
    /// anything happens, and spinning loops that share a CPU (two ends of
    /// a connection on one core) starve each other. Pin the loop's thread
    /// to a CPU no other busy thread uses. With it on,
    /// [`turn`](Self::turn) returns after one pass whatever its timeout.
    pub fn set_busy_poll(&mut self, on: bool) {
        self.busy_poll = on;
    }

    /// Whether there is nothing left to do: no live connection and no
    /// connect queued by a [`Handle`].
    pub fn is_idle(&self) -> bool {
        self.connections == 0
            && self
                .shared
                .commands
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_empty()
    }

    /// Runs until [`Handle::stop`] has been called and every connection has
    /// closed.
    pub fn run(&mut self) -> io::Result<()> {
        while self.turn(None)? {}
        Ok(())
    }

    /// Runs one turn, waiting at most `timeout` for something to happen;
    /// returns `false` once the loop has stopped and every connection is
    /// closed.
    pub fn turn(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        let _on_loop = OnLoopThread::enter(&self.shared);
        let wait = if self.busy_poll
            || !self.again.is_empty()
            || self.shared.pending.load(Ordering::Acquire)
            || timeout == Some(Duration::ZERO)
        {
            Some(Duration::ZERO)
        } else {
            // The caller's bound is a deadline like the timers': both go
            // to the alarm, so the poll itself waits without a timeout. (A
            // bound too far to represent is no bound.)
            let bound = timeout.and_then(|t| Instant::now().checked_add(t));
            let earliest = self.timers.peek().map(|&Reverse((at, _, _))| at);
            match (bound, earliest) {
                (Some(a), Some(b)) => self.alarm.set(a.min(b)),
                (Some(at), None) | (None, Some(at)) => self.alarm.set(at),
                (None, None) => None,
            }
        };
        if self.busy_poll {
            self.read_hot();
        }
        match self.poll.poll(&mut self.events, wait) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        let mut ready = std::mem::take(&mut self.ready);
        let mut rang = false;
        ready.extend(
            self.events
                .iter()
                .filter(|e| match e.token() {
                    WAKER => false,
                    ALARM => {
                        rang = true;
                        false
                    }
                    _ => true,
                })
                .map(|e| {
                    let ended = e.is_read_closed() || e.is_error();
                    let ready = Readiness {
                        readable: e.is_readable() || ended,
                        writable: e.is_writable(),
                        ended,
                    };
                    (e.token().0 - 1, ready)
                }),
        );
        if rang {
            self.alarm.rang();
        }
        for &(index, ready) in &ready {
            self.service(index, ready);
        }
        ready.clear();
        self.ready = ready;
        for index in std::mem::take(&mut self.again) {
            // Out of read budget last turn: read on until the socket says
            // it has nothing more.
            let more = Readiness {
                readable: true,
                writable: false,
                ended: true,
            };
            self.service(index, more);
        }
        if self.shared.pending.swap(false, Ordering::AcqRel) {
            self.run_commands();
            self.run_dirty();
        }
        self.run_timers();
        let running = !(self.stopping && self.connections == 0);
        if !running {
            self.shut();
        }
        Ok(running)
    }

    fn allocate(&mut self) -> usize {
        match self.free.pop() {
            Some(index) => index,
            None => {
                self.slots.push(Slot::Free);
                self.slots.len() - 1
            }
        }
    }

    // ---- commands ----------------------------------------------------------

    fn run_commands(&mut self) {
        let commands = std::mem::take(
            &mut *self
                .shared
                .commands
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        for command in commands {
            match command {
                Command::Connect(pending) => self.start(*pending),
                Command::Resolved { index, id, result } => self.resolved(index, id, result),
                Command::Stop => self.stop_all(),
            }
        }
    }

    // ---- servicing a connection --------------------------------------------

    fn service(&mut self, index: usize, ready: Readiness) {
        let Readiness {
            readable,
            writable,
            ended,
        } = ready;
        match self.slots.get(index) {
            Some(Slot::Listener(_)) => self.accept(index),
            Some(Slot::Conn(_)) => self.with_entry(index, |this, entry| match entry.stage {
                Stage::Waiting { .. } | Stage::Resolving { .. } | Stage::Done => {}
                Stage::Connecting { .. } => this.check_connected(index, entry),
                Stage::Tunneling { .. } => this.tunnel_io(index, entry),
                Stage::Streaming { .. } => {
                    if readable && this.read(index, entry, ended) && this.busy_poll && !entry.hot {
                        entry.hot = true;
                        let id = entry.conn.id();
                        this.hot.push(Hot {
                            index,
                            id,
                            quiet: 0,
                        });
                    }
                    if writable || readable {
                        this.flush(entry);
                    }
                }
            }),
            _ => {}
        }
    }

    /// Busy-polling: reads the connections that received data lately
    /// straight away, so that a spinning loop takes new input with the
    /// read itself, not with a poll and then a read. A connection leaves
    /// the list after [`HOT_TURNS`] quiet turns; the poll still covers it.
    fn read_hot(&mut self) {
        let mut hot = std::mem::take(&mut self.hot);
        hot.retain_mut(|h| {
            let Some(mut entry) = self.take(h.index, h.id) else {
                return false;
            };
            let got = matches!(entry.stage, Stage::Streaming { .. })
                && self.read(h.index, &mut entry, false);
            if got {
                self.flush(&mut entry);
            }
            h.quiet = if got { 0 } else { h.quiet + 1 };
            entry.hot = h.quiet < HOT_TURNS && !entry.closed;
            let keep = entry.hot;
            self.settle(h.index, entry);
            keep
        });
        hot.append(&mut self.hot);
        self.hot = hot;
    }

    /// Takes the entry at `index` out of its slot, runs `f`, and puts it
    /// back (or frees it once closed), updating its interest and timer.
    fn with_entry(&mut self, index: usize, f: impl FnOnce(&mut Self, &mut Entry)) {
        let Some(Slot::Conn(mut entry)) = self
            .slots
            .get_mut(index)
            .map(|s| std::mem::replace(s, Slot::Free))
        else {
            return;
        };
        f(self, &mut entry);
        self.settle(index, entry);
    }

    /// Takes the entry at `index` if it is connection `id`.
    fn take(&mut self, index: usize, id: u64) -> Option<Box<Entry>> {
        match self.slots.get_mut(index) {
            Some(Slot::Conn(entry)) if entry.conn.id() == id => {
                match std::mem::replace(&mut self.slots[index], Slot::Free) {
                    Slot::Conn(entry) => Some(entry),
                    _ => unreachable!(),
                }
            }
            _ => None,
        }
    }

    /// Reads until the socket would block (or the read budget is spent),
    /// handing what each read decoded to the handler; returns whether
    /// anything was read.
    fn read(&mut self, index: usize, entry: &mut Entry, ended: bool) -> bool {
        let mut got = false;
        for _ in 0..READ_BUDGET {
            if entry.closed || !matches!(entry.stage, Stage::Streaming { .. }) {
                return got;
            }
            // Straight into the state machine's buffer: the read is the
            // only copy of the bytes.
            let mut drained = false;
            let read = {
                let mut link = lock(&entry.conn.shared.link);
                let Link {
                    proto, transport, ..
                } = &mut *link;
                let Some(transport) = transport else {
                    return got;
                };
                // A short plain read drained the socket: with edge-triggered
                // readiness, new data will raise a new event, so one more
                // read would only return EAGAIN (a syscall on the latency
                // path). TLS may hold decrypted bytes, so it reads until
                // told to stop.
                let plain = matches!(transport, Transport::Plain(_));
                self.spares.lend(proto);
                let buf = proto.receive_buffer();
                let room = buf.len();
                let read = transport.read(buf);
                match read {
                    Ok(Read::Data(n)) => {
                        proto.commit_received(Instant::now(), n);
                        drained = plain && n < room && !ended;
                        Ok(Read::Data(n))
                    }
                    Ok(Read::WouldBlock) => {
                        self.spares.drained(proto);
                        Ok(Read::WouldBlock)
                    }
                    Ok(Read::Eof) => {
                        proto.receive_eof();
                        Ok(Read::Eof)
                    }
                    Err(e) => Err(e),
                }
            };
            match read {
                Ok(Read::Data(_)) => {
                    got = true;
                    let memory = &self.shared.memory;
                    let spares = &mut self.spares;
                    let (buffered, grew) = dispatch_then(entry, |shared, link| {
                        if drained {
                            spares.drained(&mut link.proto);
                        }
                        let grew = memory.account(shared, &link.proto);
                        (link.proto.buffered_amount(), grew)
                    });
                    if grew && self.shared.memory.exceeded() {
                        self.fail_over_budget(entry);
                        return got;
                    }
                    // Large answers go out while the input is still being
                    // read, so the two directions overlap (an echo of big
                    // messages would otherwise wait for the whole input);
                    // small ones wait and coalesce into one write.
                    if buffered >= FLUSH_EARLY {
                        self.flush(entry);
                    }
                    if drained {
                        return got;
                    }
                }
                Ok(Read::WouldBlock) => return got,
                Ok(Read::Eof) => {
                    dispatch(entry);
                    return got;
                }
                Err(e) => {
                    self.fail(entry, e);
                    return got;
                }
            }
        }
        // Out of budget: come back after the others had their turn.
        self.again.push(index);
        got
    }

    fn flush(&mut self, entry: &mut Entry) {
        if !matches!(entry.stage, Stage::Streaming { .. }) {
            return;
        }
        let shared = &entry.conn.shared;
        let (failed, drain) = {
            let mut link = lock(&shared.link);
            link.write();
            let drain = shared.drain_wanted.load(Ordering::Acquire)
                && crate::conn::drained(&link.proto)
                && link.failed.is_none()
                && link.proto.state() == State::Open;
            if drain {
                shared.drain_wanted.store(false, Ordering::Release);
            }
            (link.failed.take(), drain)
        };
        if let Some(e) = failed {
            self.fail(entry, e);
        } else if drain && !entry.closed {
            deliver(entry, Event::Drain);
            // What the handler sent from `Drain` goes out now (a handler's
            // sends on the loop's thread wait for the loop to write).
            self.flush(entry);
        }
    }

    /// Fails `entry`, whose input took the loop over its memory budget (see
    /// [`EventLoop::set_memory_budget`]).
    fn fail_over_budget(&mut self, entry: &mut Entry) {
        let memory = &self.shared.memory;
        let (held, budget) = (memory.held(), memory.budget().unwrap_or(usize::MAX));
        trace::warn!(
            conn = entry.conn.id(),
            held,
            budget,
            "failing the connection: over the loop's memory budget"
        );
        entry
            .cause
            .get_or_insert(Error::MemoryBudget { held, budget });
        {
            let mut link = lock(&entry.conn.shared.link);
            let code = match link.proto.role() {
                ws_proto::Role::Server => CloseCode::TRY_AGAIN_LATER,
                ws_proto::Role::Client => CloseCode::MESSAGE_TOO_BIG,
            };
            let _ = link
                .proto
                .fail(Instant::now(), code, "memory budget exceeded");
            memory.account(&entry.conn.shared, &link.proto);
        }
        dispatch(entry);
    }

    /// The transport failed: the state machine ends the connection, and
    /// `error` is what the handler hears if it reports the failure.
    fn fail(&mut self, entry: &mut Entry, error: Error) {
        entry.cause.get_or_insert(error);
        lock(&entry.conn.shared.link).proto.transport_failed();
        dispatch(entry);
        // Whatever the state machine thinks, the transport is gone.
        entry.closed = true;
    }

    /// Puts `entry` back: interest, timer, or release once closed.
    fn settle(&mut self, index: usize, mut entry: Box<Entry>) {
        if entry.closed && !self.linger(&mut entry) {
            self.shared.memory.forget(&entry.conn.shared);
            if let Stage::Connecting { stream, .. } | Stage::Tunneling { stream, .. } =
                &mut entry.stage
            {
                let _ = self.poll.registry().deregister(stream);
            }
            self.slots[index] = Slot::Free;
            self.free.push(index);
            self.connections -= 1;
            return;
        }
        let mut link = lock(&entry.conn.shared.link);
        let interest = match &entry.stage {
            Stage::Waiting { .. } | Stage::Resolving { .. } | Stage::Done => None,
            Stage::Connecting { .. } | Stage::Tunneling { .. } => {
                Some(Interest::READABLE | Interest::WRITABLE)
            }
            Stage::Streaming { .. } => Some(if link.wants_writable() {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            }),
        };
        if interest != entry.interest {
            if let (Some(interest), Stage::Streaming { .. }, Some(transport)) =
                (interest, &entry.stage, link.transport.as_mut())
            {
                let registry = self.poll.registry();
                let result = match entry.interest {
                    Some(_) => registry.reregister(transport.stream(), token(index), interest),
                    None => registry.register(transport.stream(), token(index), interest),
                };
                if result.is_ok() {
                    entry.interest = Some(interest);
                }
            }
        }
        let deadline = match &entry.stage {
            Stage::Connecting { deadline, .. } | Stage::Tunneling { deadline, .. } => {
                Some(*deadline)
            }
            Stage::Waiting { until, .. } => Some(*until),
            Stage::Streaming { linger, .. } => *linger,
            _ => None,
        };
        self.shared.memory.account(&entry.conn.shared, &link.proto);
        let next = match (link.proto.poll_timeout(), deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        drop(link);
        // One heap entry per connection at a time, at or before its real
        // deadline: a later deadline (a keepalive pushed back by traffic)
        // keeps the earlier entry, which re-arms when it fires, so a busy
        // connection does not fill the heap with stale entries.
        match (next, entry.scheduled) {
            (Some(at), Some(scheduled)) if at >= scheduled => {}
            (Some(at), _) => {
                self.timers.push(Reverse((at, index, entry.conn.id())));
                entry.scheduled = Some(at);
            }
            (None, _) => entry.scheduled = None,
        }
        self.slots[index] = Slot::Conn(entry);
    }

    /// A closed connection's last bytes (its close frame, or the answer to
    /// the peer's) still go out: it stays, writing as the socket allows,
    /// until they are written or its drain time has passed; then its
    /// transport is closed. Returns whether it stays.
    fn linger(&mut self, entry: &mut Entry) -> bool {
        let Stage::Streaming { linger } = &mut entry.stage else {
            return false;
        };
        let now = Instant::now();
        let mut link = lock(&entry.conn.shared.link);
        let until = *linger.get_or_insert_with(|| {
            let config = link.proto.config();
            let drain = config.drain_timeout.or(config.close_timeout);
            now + drain.unwrap_or(Duration::from_secs(1))
        });
        // A write error means nothing more can go out.
        let written = link.write() || link.failed.is_some() || link.transport.is_none();
        if written || until <= now {
            if let Some(mut transport) = link.transport.take() {
                transport.shutdown();
                let _ = self.poll.registry().deregister(transport.stream());
            }
            return false;
        }
        true
    }

    fn run_dirty(&mut self) {
        let dirty =
            std::mem::take(&mut *self.shared.dirty.lock().unwrap_or_else(|p| p.into_inner()));
        for shared in dirty {
            shared.dirty.store(false, Ordering::Release);
            let index = shared.token.load(Ordering::Acquire);
            let Some(mut entry) = self.take(index, shared.id) else {
                continue;
            };
            // A command may have produced events (closing while connecting).
            dispatch(&mut entry);
            self.flush(&mut entry);
            self.settle(index, entry);
        }
    }

    fn run_timers(&mut self) {
        if self.timers.is_empty() {
            return; // no clock read on a turn with nothing scheduled
        }
        let now = Instant::now();
        while let Some(&Reverse((at, index, id))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(mut entry) = self.take(index, id) else {
                continue;
            };
            if entry.scheduled != Some(at) {
                self.slots[index] = Slot::Conn(entry); // a stale timer
                continue;
            }
            entry.scheduled = None;
            if matches!(&entry.stage, Stage::Waiting { until, .. } if *until <= now) {
                self.end_wait(index, entry);
                continue;
            }
            if let Stage::Connecting {
                deadline,
                stream,
                addrs,
                next,
                ..
            } = &mut entry.stage
            {
                if *deadline <= now {
                    let _ = self.poll.registry().deregister(stream);
                    let (addrs, next) = (std::mem::take(addrs), *next);
                    self.connect_next(index, &mut entry, addrs, next, Some(Error::ConnectTimeout));
                }
            }
            if matches!(&entry.stage, Stage::Tunneling { deadline, .. } if *deadline <= now) {
                self.tunnel_timed_out(&mut entry);
            }
            lock(&entry.conn.shared.link).proto.handle_timeout(now);
            dispatch(&mut entry);
            self.flush(&mut entry);
            self.settle(index, entry);
        }
    }

    // ---- stopping ----------------------------------------------------------

    fn stop_all(&mut self) {
        self.stopping = true;
        self.shared.stopping.store(true, Ordering::Release);
        for index in 0..self.slots.len() {
            match &self.slots[index] {
                Slot::Listener(_) => {
                    if let Slot::Listener(mut listener) =
                        std::mem::replace(&mut self.slots[index], Slot::Free)
                    {
                        let _ = self.poll.registry().deregister(&mut listener.socket);
                        self.free.push(index);
                    }
                }
                Slot::Conn(_) => self.stop_one(index),
                Slot::Free => {}
            }
        }
    }

    fn stop_one(&mut self, index: usize) {
        self.with_entry(index, |this, entry| {
            {
                let proto = &mut lock(&entry.conn.shared.link).proto;
                match proto.state() {
                    State::Open | State::Connecting => {
                        let _ = proto.close(Instant::now(), CloseCode::GOING_AWAY, "");
                    }
                    State::Closing | State::Closed => {}
                }
            }
            dispatch(entry);
            this.flush(entry);
        });
    }
}

impl EventLoop {
    /// Marks the loop stopped, so no command or write request can be queued
    /// any more, and answers what was queued: a connect that never started
    /// gets `Error(LoopStopped)` then `Closed`.
    fn shut(&mut self) {
        let commands = {
            let mut commands = self
                .shared
                .commands
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let mut dirty = self.shared.dirty.lock().unwrap_or_else(|p| p.into_inner());
            self.shared.stopped.store(true, Ordering::Release);
            dirty.clear();
            std::mem::take(&mut *commands)
        };
        for command in commands {
            if let Command::Connect(pending) = command {
                let PendingConnect {
                    shared, handler, ..
                } = *pending;
                let mut entry = Entry {
                    conn: Conn { shared },
                    handler,
                    stage: Stage::Done,
                    interest: None,
                    scheduled: None,
                    cause: Some(Error::LoopStopped),
                    closed: false,
                    hot: false,
                };
                lock(&entry.conn.shared.link).proto.transport_failed();
                dispatch(&mut entry);
            }
        }
    }
}

impl Drop for EventLoop {
    /// A loop dropped while connections are live ends them at once: each
    /// gets a best-effort close frame (1001), its handler hears `Closed`
    /// (1006, with no `Error` before it), and later sends on its `Conn`
    /// handles
    /// fail instead of vanishing.
    fn drop(&mut self) {
        self.shut();
        let _on_loop = OnLoopThread::enter(&self.shared);
        for index in 0..self.slots.len() {
            let Slot::Conn(mut entry) = std::mem::replace(&mut self.slots[index], Slot::Free)
            else {
                continue;
            };
            {
                let mut link = lock(&entry.conn.shared.link);
                let _ = link.proto.close(Instant::now(), CloseCode::GOING_AWAY, "");
                link.write();
                if let Some(mut transport) = link.transport.take() {
                    transport.shutdown();
                }
                // The loop's owner ended it knowingly: no error, only the
                // end (1006: no time for the closing handshake).
                link.proto.abandon();
            }
            dispatch(&mut entry);
        }
    }
}

fn token(index: usize) -> Token {
    Token(index + 1)
}

/// What the handler hears of `event`, if anything: the driver's `cause` in
/// the place of the state machine's error for it; notes the end in
/// `closed`.
fn event_for_handler(
    event: ws_proto::Event,
    link: &mut Link,
    cause: &mut Option<Error>,
    closed: &mut bool,
) -> Option<Event> {
    Some(match event {
        ws_proto::Event::Open(open) => {
            // What the handshake used is not needed any more: an idle
            // connection keeps no buffer.
            link.proto.release_buffers();
            Event::Open(open)
        }
        ws_proto::Event::Message(message) => Event::Message(message),
        ws_proto::Event::Ping(payload) => Event::Ping(payload),
        ws_proto::Event::Pong(payload) => Event::Pong(payload),
        ws_proto::Event::Error(
            error @ (ws_proto::Error::Transport | ws_proto::Error::Failed(_)),
        ) => Event::Error(cause.take().unwrap_or(Error::Protocol(error))),
        ws_proto::Event::Error(error) => {
            let tls_unfinished =
                matches!(&link.transport, Some(Transport::Tls(_, tls)) if tls.is_handshaking());
            let handshake_timeout = matches!(
                error,
                ws_proto::Error::Timeout(ws_proto::TimeoutKind::Handshake)
            );
            if handshake_timeout && tls_unfinished {
                // Say which stage the time ran out in.
                Event::Error(Error::TlsTimeout)
            } else {
                Event::Error(Error::Protocol(error))
            }
        }
        ws_proto::Event::Closed(end) => {
            *closed = true;
            Event::Closed(end)
        }
        // An event of a later ws-proto: nothing this loop knows to deliver.
        _ => return None,
    })
}
