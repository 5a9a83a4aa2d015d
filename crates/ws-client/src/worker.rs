//! Where callbacks run: the shared background loop, or a [`Worker`] the
//! application drives on a thread of its own.

use std::io;
use std::sync::OnceLock;
use std::time::Duration;

use ws_mio::EventLoop;

use crate::builder::Builder;
use crate::error::Error;
use crate::handler::Handler;
use crate::socket::WebSocket;

/// The handle on the process's shared background loop, started on first
/// use on a thread named `ws-client`, which runs every callback of the
/// connections made without a [`Worker`].
pub(crate) fn shared_loop() -> Result<ws_mio::Handle, Error> {
    static SHARED: OnceLock<Result<ws_mio::Handle, String>> = OnceLock::new();
    let started = SHARED.get_or_init(|| {
        let mut event_loop = EventLoop::new().map_err(|e| e.to_string())?;
        let handle = event_loop.handle();
        std::thread::Builder::new()
            .name("ws-client".to_owned())
            .spawn(move || {
                // Nobody stops the shared loop: it lasts as long as the
                // process. An error from `poll` itself ends it; later
                // connections then fail with `Stopped`.
                let _ = event_loop.run();
            })
            .map_err(|e| e.to_string())?;
        Ok(handle)
    });
    started.clone().map_err(|why| {
        Error::Connection(ws_mio::Error::Io(io::Error::other(format!(
            "cannot start the background event loop: {why}"
        ))))
    })
}

/// An event loop driven by a thread of the application's: connections
/// made on it (with [`Worker::connect`] or [`Builder::worker`]) have their
/// callbacks run by that thread, inside [`turn`](Self::turn),
/// [`run`](Self::run) or [`run_until_idle`](Self::run_until_idle).
///
/// A connection lives as long as its worker: dropping the worker ends its
/// connections at once (a close frame with 1001, then `on_terminate` for
/// each, run by the dropping thread); [`stop`](Self::stop) closes them
/// with 1001 and waits for the closing handshakes (within the close
/// timeout).
///
/// ```no_run
/// use ws_client::{Callbacks, Worker};
///
/// let mut worker = Worker::new()?;
/// let ws = worker.connect(
///     "ws://127.0.0.1:9001/",
///     Callbacks::new()
///         .on_open(|ws, _| { let _ = ws.send("Hello world"); })
///         .on_message(|ws, event| {
///             println!("{:?}", event.data); // on this thread
///             let _ = ws.terminate(None, None);
///         }),
/// )?;
/// worker.run_until_idle()?; // returns once the connection is over
/// # Ok::<(), ws_client::Error>(())
/// ```
pub struct Worker {
    event_loop: EventLoop,
}

impl Worker {
    /// A worker with no connection yet.
    pub fn new() -> Result<Self, Error> {
        let event_loop = EventLoop::new().map_err(|e| Error::Connection(ws_mio::Error::Io(e)))?;
        Ok(Self { event_loop })
    }

    /// Opens a connection whose callbacks run on this worker; see
    /// [`WebSocket::new`].
    pub fn connect<H: Handler>(&self, url: &str, handler: H) -> Result<WebSocket<H>, Error> {
        Builder::new(url).worker(self).connect(handler)
    }

    /// Runs callbacks for what happened, waiting at most `timeout` (forever
    /// with `None`) for something to happen. Returns `false` once the
    /// worker has been stopped and every connection is over.
    pub fn turn(&mut self, timeout: Option<Duration>) -> Result<bool, Error> {
        self.event_loop
            .turn(timeout)
            .map_err(|e| Error::Connection(ws_mio::Error::Io(e)))
    }

    /// Busy-polling, for a program that gives this worker's thread a CPU
    /// of its own: the worker checks its sockets without ever sleeping,
    /// so messages are seen as soon as they arrive (a few microseconds
    /// sooner on a round trip) at the cost of one CPU kept at 100%. Off by
    /// default; see [`ws_mio::EventLoop::set_busy_poll`].
    pub fn set_busy_poll(&mut self, on: bool) {
        self.event_loop.set_busy_poll(on);
    }

    /// Runs until no connection is left (each has had its `on_terminate`).
    pub fn run_until_idle(&mut self) -> Result<(), Error> {
        while !self.event_loop.is_idle() {
            self.turn(None)?;
        }
        Ok(())
    }

    /// Runs until a [`Stopper`] stops the worker and its connections are
    /// over.
    pub fn run(&mut self) -> Result<(), Error> {
        while self.turn(None)? {}
        Ok(())
    }

    /// Closes every connection with 1001 (going away) and runs until each
    /// has had its `on_terminate`; connections made afterwards fail with
    /// [`Error::Stopped`].
    pub fn stop(mut self) -> Result<(), Error> {
        self.stopper().stop();
        self.run()
    }

    /// A handle that stops the worker from another thread.
    pub fn stopper(&self) -> Stopper {
        Stopper(self.event_loop.handle())
    }

    /// The number of connections not over yet.
    pub fn connections(&self) -> usize {
        self.event_loop.connections()
    }

    pub(crate) fn loop_handle(&self) -> ws_mio::Handle {
        self.event_loop.handle()
    }
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("connections", &self.connections())
            .finish()
    }
}

/// Stops a [`Worker`] from any thread: its connections close with 1001,
/// then [`Worker::run`] returns.
///
/// ```no_run
/// let mut worker = ws_client::Worker::new()?;
/// let stopper = worker.stopper();
/// std::thread::spawn(move || {
///     std::thread::sleep(std::time::Duration::from_secs(60));
///     stopper.stop();
/// });
/// worker.run()?; // returns once stopped and every connection is over
/// # Ok::<(), ws_client::Error>(())
/// ```
#[derive(Clone)]
pub struct Stopper(ws_mio::Handle);

impl Stopper {
    /// Asks the worker to stop.
    pub fn stop(&self) {
        self.0.stop();
    }
}

impl std::fmt::Debug for Stopper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stopper")
    }
}
