//! [`WebSocket`]: one client connection, as the application holds it.
//! Its attempts (the first, redirects, reconnects) are started here and
//! followed by [`Dispatch`](crate::dispatch::Dispatch).

use std::cell::Cell;
use std::collections::VecDeque;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use ws_mio::Conn;
use ws_proto::{CloseCode, State};

use crate::attempt::{Plan, Start};
use crate::builder::Builder;
use crate::dispatch::Dispatch;
use crate::error::Error;
use crate::handler::{Callbacks, DataType, Handler};
use crate::message::Outgoing;
use crate::reconnect::Attempts;
use crate::target::without_credentials;

/// Connection ids, unique within the process.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The connection whose callback this thread is running (0: none), so
    /// that `handler()` from inside it fails clearly instead of deadlocking.
    pub(crate) static IN_CALLBACK: Cell<u64> = const { Cell::new(0) };
}

/// Where a connection is in its life; displayed as `Connecting`,
/// `Connected`, `Closing` or `Closed`.
///
/// ```
/// assert_eq!(ws_client::Status::Connected.to_string(), "Connected");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Status {
    /// The connection or its opening handshake is under way.
    Connecting,
    /// Open: messages can be sent.
    Connected,
    /// The closing handshake is under way.
    Closing,
    /// Over.
    Closed,
}

impl From<State> for Status {
    fn from(state: State) -> Self {
        match state {
            State::Connecting => Self::Connecting,
            State::Open => Self::Connected,
            State::Closing => Self::Closing,
            State::Closed => Self::Closed,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connecting => "Connecting",
            Self::Connected => "Connected",
            Self::Closing => "Closing",
            Self::Closed => "Closed",
        })
    }
}

pub(crate) struct Inner<H> {
    pub(crate) id: u64,
    /// The URL as given, without credentials.
    url: String,
    pub(crate) data_type: DataType,
    /// The current attempt's connection: set by `start`, or by the
    /// attempt's first event if that comes first; replaced by the next
    /// attempt (under the write lock, which `terminate` excludes).
    pub(crate) conn: RwLock<Option<Conn>>,
    /// Where the current attempt goes (after redirects), without
    /// credentials.
    pub(crate) effective_url: Mutex<String>,
    /// `terminate` was called: from then on no message is delivered, as
    /// in the browser's API (no `message` event once the socket is
    /// closing), whatever the peer still sends before its close answer;
    /// and no attempt follows.
    pub(crate) terminated: AtomicBool,
    /// No attempt follows the current one: set, under the handler's lock,
    /// just before the last `on_terminate`.
    pub(crate) over: AtomicBool,
    /// Pings sent with `ping` and not answered yet (payload, when): the
    /// latest few, so a pong can be matched to its ping.
    pub(crate) pings: Mutex<VecDeque<(Vec<u8>, Instant)>>,
    /// The last round trip measured, in nanoseconds (`NO_RTT`: none yet).
    pub(crate) rtt_nanos: AtomicU64,
    /// The handler; `None` once taken back by `into_handler`.
    pub(crate) handler: Mutex<Option<H>>,
    /// How to make the connection again.
    pub(crate) plan: Plan,
    /// Reconnect attempts in a row.
    pub(crate) attempts: Mutex<Attempts>,
}

/// ws-client's keepalive interval and timeout (see [`Builder::keepalive`]).
pub(crate) const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(20);

/// How many unanswered pings `ping` remembers to match pongs with.
pub(crate) const PINGS_IN_FLIGHT: usize = 8;
/// `Inner::rtt_nanos` before anything was measured.
pub(crate) const NO_RTT: u64 = u64::MAX;

/// A WebSocket client connection, the 4D `WebSocket` object. Cheap to
/// clone (clones are handles on the same connection); every method can be
/// called from any thread.
///
/// The connection lives until it closes, whether or not a handle is kept:
/// as long as its worker (or the shared background loop) runs.
///
/// ```no_run
/// use ws_client::{Callbacks, WebSocket};
///
/// let handler = Callbacks::new().on_message(|_ws, event| println!("{:?}", event.data));
/// let ws = WebSocket::new("wss://example.com/feed", handler)?;
/// // ... once on_open has run:
/// ws.send("Hello world")?;
/// ws.terminate(None, None)?;
/// # Ok::<(), ws_client::Error>(())
/// ```
pub struct WebSocket<H: Handler = Callbacks> {
    pub(crate) inner: Arc<Inner<H>>,
}

impl<H: Handler> Clone for WebSocket<H> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<H: Handler> WebSocket<H> {
    /// Opens a connection to `url` (`ws://host[:port]path[?query]` or
    /// `wss://...`), with `handler`'s callbacks and settings, on the
    /// shared background event loop. Use [`WebSocket::builder`] for more
    /// settings, or a [`Worker`](crate::Worker) to run the callbacks on a thread of yours.
    ///
    /// Returns as soon as the connection has started; what follows reaches
    /// the handler. Fails at once, calling no callback, when the URL cannot
    /// be used, the host does not resolve (resolving blocks the caller), or
    /// the handler's headers are invalid.
    ///
    /// ```no_run
    /// use ws_client::{Callbacks, WebSocket};
    ///
    /// let ws = WebSocket::new("ws://127.0.0.1:9001/", Callbacks::new())?;
    /// assert_eq!(ws.url(), "ws://127.0.0.1:9001/");
    /// # Ok::<(), ws_client::Error>(())
    /// ```
    pub fn new(url: &str, handler: H) -> Result<Self, Error> {
        Builder::new(url).connect(handler)
    }

    /// The data type messages are received with: `"text"`, `"blob"` or
    /// `"object"` (read-only).
    ///
    /// ```no_run
    /// # let ws = ws_client::WebSocket::new("ws://127.0.0.1:9001/", ws_client::Callbacks::new())?;
    /// assert_eq!(ws.data_type().as_str(), "text");
    /// # Ok::<(), ws_client::Error>(())
    /// ```
    pub fn data_type(&self) -> DataType {
        self.inner.data_type
    }

    /// The handler given to `new`, locked while the guard lives.
    ///
    /// # Panics
    /// From inside one of this connection's own callbacks, where the
    /// handler is `self` already (waiting for the lock would deadlock),
    /// and once the handler was taken back with
    /// [`into_handler`](Self::into_handler).
    ///
    /// ```no_run
    /// # use ws_client::{Handler, WebSocket};
    /// struct Counter(usize);
    /// impl Handler for Counter {}
    /// let ws = WebSocket::new("ws://127.0.0.1:9001/", Counter(0))?;
    /// println!("{}", ws.handler().0);
    /// # Ok::<(), ws_client::Error>(())
    /// ```
    pub fn handler(&self) -> HandlerGuard<'_, H> {
        self.not_in_callback("handler()");
        let guard = lock(&self.inner.handler);
        assert!(
            guard.is_some(),
            "WebSocket::handler() called after into_handler() took the handler"
        );
        HandlerGuard(guard)
    }

    /// The handler back, once the connection is over for good: its last
    /// `on_terminate` has returned and no reconnect follows. Before that
    /// (or if another handle took it already) the handle comes back as
    /// the error. Other handles on the connection keep working but for
    /// [`handler`](Self::handler).
    ///
    /// ```no_run
    /// # use ws_client::{Handler, WebSocket};
    /// #[derive(Default)]
    /// struct Tally(usize);
    /// impl Handler for Tally {}
    /// let mut ws = WebSocket::new("ws://127.0.0.1:9001/", Tally::default())?;
    /// // ... once on_terminate has run:
    /// let tally = loop {
    ///     match ws.into_handler() {
    ///         Ok(handler) => break handler,
    ///         Err(not_yet) => {
    ///             ws = not_yet;
    ///             std::thread::sleep(std::time::Duration::from_millis(10));
    ///         }
    ///     }
    /// };
    /// println!("{}", tally.0);
    /// # Ok::<(), ws_client::Error>(())
    /// ```
    ///
    /// # Panics
    /// From inside one of this connection's own callbacks.
    pub fn into_handler(self) -> Result<H, Self> {
        self.not_in_callback("into_handler()");
        let taken = {
            let mut handler = lock(&self.inner.handler);
            // `over` is set under this lock, before the last callback
            // runs: seeing it here means that callback has returned.
            match self.inner.over.load(Ordering::Acquire) {
                true => handler.take(),
                false => None,
            }
        };
        taken.ok_or(self)
    }

    fn not_in_callback(&self, what: &str) {
        assert!(
            IN_CALLBACK.with(Cell::get) != self.inner.id,
            "WebSocket::{what} called from inside its own callback: use `self` there"
        );
    }

    /// A number that identifies this `WebSocket` within the process. It
    /// stays the same across its redirects and reconnects, each of which is
    /// a new transport connection with an id of its own in ws-mio
    /// (`ws_mio::Conn::id`); the `tracing` feature logs the two together
    /// at every attempt (`ws`, `conn`).
    ///
    /// ```no_run
    /// # let a = ws_client::WebSocket::new("ws://127.0.0.1:9001/", ws_client::Callbacks::new())?;
    /// # let b = ws_client::WebSocket::new("ws://127.0.0.1:9001/", ws_client::Callbacks::new())?;
    /// assert_ne!(a.id(), b.id());
    /// # Ok::<(), ws_client::Error>(())
    /// ```
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// The URL given to `new`, as given, but for credentials
    /// (`user:password@`), which are taken out.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// Where the connection goes now, without credentials: the URL, or
    /// where redirects led ([`Builder::follow_redirects`]).
    pub fn effective_url(&self) -> String {
        lock(&self.inner.effective_url).clone()
    }

    /// The current attempt's connection, if it has started.
    fn conn(&self) -> RwLockReadGuard<'_, Option<Conn>> {
        self.inner
            .conn
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Where the connection is: `Connecting`, `Connected`, `Closing` or
    /// `Closed`.
    ///
    /// ```no_run
    /// # let ws = ws_client::WebSocket::new("ws://127.0.0.1:9001/", ws_client::Callbacks::new())?;
    /// println!("{}", ws.status()); // "Connecting", then "Connected"...
    /// # Ok::<(), ws_client::Error>(())
    /// ```
    ///
    /// With [`Builder::reconnect`], `Connecting` again between attempts,
    /// and `Closed` only once no attempt follows.
    pub fn status(&self) -> Status {
        match &*self.conn() {
            None => Status::Connecting,
            // Ended, but the handler has not heard it yet, and a reconnect
            // may follow.
            Some(conn)
                if conn.state() == State::Closed && !self.inner.over.load(Ordering::Acquire) =>
            {
                Status::Closing
            }
            Some(conn) => conn.state().into(),
        }
    }

    /// The subprotocol the server chose, once connected.
    pub fn protocol(&self) -> Option<String> {
        self.conn().as_ref().and_then(Conn::subprotocol)
    }

    /// Bytes queued and not yet written to the socket.
    pub fn buffered_amount(&self) -> usize {
        self.conn().as_ref().map_or(0, Conn::buffered_amount)
    }

    /// Sends a message: text (`&str`, `String`) as a text frame, bytes
    /// (`&[u8]`, `Vec<u8>`, `Bytes`) as a binary frame, a
    /// `serde_json::Value` or a `Json` of anything `Serialize` as JSON
    /// text (feature `json`).
    ///
    /// Fails, sending nothing, when the connection is not `Connected` or
    /// its write buffer is full. Messages go out in the order they were
    /// sent. From a callback (on the event loop's thread) the message goes
    /// straight to the connection, with no queue or wake-up between.
    ///
    /// ```no_run
    /// # let ws = ws_client::WebSocket::new("ws://127.0.0.1:9001/", ws_client::Callbacks::new())?;
    /// use ws_client::Json;
    /// ws.send("Hello world")?;
    /// ws.send(&[1u8, 2, 3])?;
    /// ws.send(serde_json::json!({"op": "subscribe", "channel": "trades"}))?;
    /// ws.send(Json(&vec![1, 2, 3]))?;
    /// # Ok::<(), ws_client::Error>(())
    /// ```
    pub fn send(&self, message: impl Outgoing) -> Result<(), Error> {
        match &*self.conn() {
            Some(conn) => message.send_on(conn),
            None => Err(Error::NotConnected(Status::Connecting)),
        }
    }

    /// Sends a ping with `payload` (at most 125 bytes). Its pong reaches
    /// `on_pong` with the round trip, which [`rtt`](Self::rtt) keeps. Use
    /// a payload of your own per ping (a counter, a timestamp) to match
    /// them; the last few unanswered pings are remembered.
    ///
    /// ```no_run
    /// # let ws = ws_client::WebSocket::new("ws://127.0.0.1:9001/", ws_client::Callbacks::new())?;
    /// ws.ping(b"1")?;
    /// // ... later, in on_pong or anywhere:
    /// if let Some(rtt) = ws.rtt() {
    ///     println!("{} µs", rtt.as_micros());
    /// }
    /// # Ok::<(), ws_client::Error>(())
    /// ```
    pub fn ping(&self, payload: &[u8]) -> Result<(), Error> {
        let slot = self.conn();
        let Some(conn) = &*slot else {
            return Err(Error::NotConnected(Status::Connecting));
        };
        let mut pings = lock(&self.inner.pings);
        conn.send_ping(payload).map_err(Error::from)?;
        if pings.len() == PINGS_IN_FLIGHT {
            pings.pop_front();
        }
        pings.push_back((payload.to_vec(), Instant::now()));
        Ok(())
    }

    /// The round trip time last measured: by a pong answering
    /// [`ping`](Self::ping), or a keepalive ping (on by default, see
    /// [`Builder::keepalive`]). `None` until one is measured.
    pub fn rtt(&self) -> Option<Duration> {
        match self.inner.rtt_nanos.load(Ordering::Relaxed) {
            NO_RTT => None,
            nanos => Some(Duration::from_nanos(nanos)),
        }
    }

    /// Starts the closing handshake with `code` (1000 when `None`; else
    /// 1000 or 3000-4999) and `reason` (at most 123 bytes of UTF-8).
    /// An invalid code or reason is an error and changes nothing. Calling
    /// it again, or on a closed connection, does nothing; while connecting,
    /// it abandons the connection (`on_terminate` with 1006).
    ///
    /// Once it has been called, no `on_message` runs any more, even for
    /// messages the server sent before it saw the close (as in the
    /// browser's API); `on_terminate` still comes, last, with the result
    /// of the closing handshake.
    ///
    /// ```no_run
    /// # let ws = ws_client::WebSocket::new("ws://127.0.0.1:9001/", ws_client::Callbacks::new())?;
    /// ws.terminate(Some(4000), Some("bye"))?;
    /// ws.terminate(None, None)?; // harmless
    /// assert!(ws.terminate(Some(1001), None).is_err()); // not a code an app may send
    /// # Ok::<(), ws_client::Error>(())
    /// ```
    pub fn terminate(&self, code: Option<u16>, reason: Option<&str>) -> Result<(), Error> {
        let (code, reason) = (code.unwrap_or(1000), reason.unwrap_or(""));
        check_terminate(code, reason)?;
        crate::trace::debug!(ws = self.inner.id, code, reason, "terminate");
        // Under the read lock: a reconnect starts under the write lock
        // after checking the flag, so it either sees the flag or its
        // connection is the one closed here.
        let slot = self.conn();
        self.inner.terminated.store(true, Ordering::Release);
        match &*slot {
            Some(conn) => conn.close(CloseCode(code), reason).map_err(Error::from),
            None => Ok(()),
        }
    }
}

/// What [`WebSocket::terminate`] accepts: a code of 1000 or in 3000-4999
/// (the others are the protocol's or reserved) and a reason of at most 123
/// bytes. For checking a close request before the connection exists.
///
/// ```
/// use ws_client::check_terminate;
///
/// assert!(check_terminate(4000, "bye").is_ok());
/// assert!(check_terminate(1001, "").is_err());
/// assert!(check_terminate(1000, &"x".repeat(124)).is_err());
/// ```
pub fn check_terminate(code: u16, reason: &str) -> Result<(), Error> {
    if code != 1000 && !(3000..=4999).contains(&code) {
        return Err(Error::InvalidCloseCode(code));
    }
    if reason.len() > ws_proto::MAX_CLOSE_REASON {
        return Err(Error::ReasonTooLong(reason.len()));
    }
    Ok(())
}

impl<H: Handler> WebSocket<H> {
    /// Makes the `WebSocket` and starts its first attempt.
    pub(crate) fn start(
        plan: Plan,
        data_type: DataType,
        handler: H,
        start: Start,
    ) -> Result<Self, Error> {
        let url = plan.url.clone();
        let ws = WebSocket {
            inner: Arc::new(Inner {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                url: without_credentials(&url).into_owned(),
                data_type,
                conn: RwLock::new(None),
                effective_url: Mutex::new(without_credentials(&url).into_owned()),
                terminated: AtomicBool::new(false),
                over: AtomicBool::new(false),
                pings: Mutex::new(VecDeque::new()),
                rtt_nanos: AtomicU64::new(NO_RTT),
                handler: Mutex::new(Some(handler)),
                plan,
                attempts: Mutex::new(Attempts::default()),
            }),
        };
        let dispatch = Dispatch::new(ws.clone(), url.clone(), false, 0);
        let conn = ws.inner.plan.connect(&url, false, start, dispatch)?;
        crate::trace::debug!(ws = ws.inner.id, conn = conn.id(), "first attempt");
        let mut slot = ws
            .inner
            .conn
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        // The attempt's first event may have put it there already (and it
        // may even have ended and made way for the next attempt).
        slot.get_or_insert(conn);
        drop(slot);
        Ok(ws)
    }

    /// Starts the attempt that follows the current one: to `url` (a
    /// redirect's; the URL given, for a reconnect) after `delay`.
    /// `None` (and nothing started) once `terminate` was called.
    pub(crate) fn next_attempt(
        &self,
        url: &str,
        other_origin: bool,
        redirects: u32,
        delay: Duration,
    ) -> Option<Result<(), Error>> {
        let inner = &self.inner;
        let mut slot = inner.conn.write().unwrap_or_else(PoisonError::into_inner);
        if inner.terminated.load(Ordering::Acquire) {
            return None;
        }
        let dispatch =
            Dispatch::new(self.clone(), url.to_owned(), other_origin, redirects).installed();
        let started = inner
            .plan
            .connect(url, other_origin, Start::Later(delay), dispatch);
        Some(started.map(|conn| {
            crate::trace::debug!(ws = inner.id, conn = conn.id(), "next attempt");
            *slot = Some(conn);
            *lock(&inner.effective_url) = without_credentials(url).into_owned();
            lock(&inner.pings).clear();
        }))
    }
}

/// The handler of a [`WebSocket`], locked while this lives (see
/// [`WebSocket::handler`]).
pub struct HandlerGuard<'a, H>(MutexGuard<'a, Option<H>>);

impl<H> Deref for HandlerGuard<'_, H> {
    type Target = H;

    fn deref(&self) -> &H {
        self.0.as_ref().expect("checked when the guard was made")
    }
}

impl<H> DerefMut for HandlerGuard<'_, H> {
    fn deref_mut(&mut self) -> &mut H {
        self.0.as_mut().expect("checked when the guard was made")
    }
}

impl<H: fmt::Debug> fmt::Debug for HandlerGuard<'_, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl WebSocket<Callbacks> {
    /// A [`Builder`] for a connection to `url`, for the settings beyond the
    /// handler's: subprotocols, TLS trust, timeouts, limits, a [`Worker`](crate::Worker).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use ws_client::{Callbacks, DataType, WebSocket};
    ///
    /// let ws = WebSocket::builder("wss://example.com/feed")
    ///     .protocol("v2.feed")
    ///     .header("X-Authorization", "token")
    ///     .data_type(DataType::Object)
    ///     .connect_timeout(Duration::from_secs(3))
    ///     .max_message_size(1 << 20)
    ///     .connect(Callbacks::new())?;
    /// # Ok::<(), ws_client::Error>(())
    /// ```
    pub fn builder(url: &str) -> Builder {
        Builder::new(url)
    }
}

impl<H: Handler> fmt::Debug for WebSocket<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocket")
            .field("id", &self.id())
            .field("url", &self.url())
            .field("status", &self.status())
            .field("data_type", &self.data_type())
            .finish()
    }
}

/// Locks `m`. A handler that panicked leaves its lock poisoned; the data
/// (the handler, the list of pings) is still whole between calls, so it is
/// taken anyway.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
