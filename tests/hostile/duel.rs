//! One library end against hostile peers: starts the ws-mio side (a
//! server listening, or clients connecting) on the tracked loop thread and
//! a peer thread that owns the raw sockets, in the order that puts the
//! baseline just before the attack.
//!
//! With `handshake` on, the peer completes the opening handshake first and
//! the baseline is taken once every library connection is open; with it
//! off (handshake and close-storm scenarios), the baseline is taken before
//! anything connects and the peer gets raw sockets.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use ws_mio::{ClientOptions, ServerOptions};
use ws_proto::{ClientRequest, Config};

use crate::peer::{self, Dir};
use crate::rig::{Behaviour, LoopThread, Role, Run, Tally, handler, wait_until};

/// How long the setup (connecting, handshaking, opening) may take.
const SETUP: Duration = Duration::from_secs(10);

/// What a scenario asks for.
pub(crate) struct Plan {
    pub(crate) role: Role,
    pub(crate) conns: usize,
    pub(crate) config: Config,
    pub(crate) behaviour: Behaviour,
    /// The peer negotiates permessage-deflate.
    pub(crate) deflate: bool,
    /// The peer completes the opening handshake before the baseline.
    pub(crate) handshake: bool,
    /// The library's loop has this memory budget.
    pub(crate) memory_budget: Option<usize>,
}

impl Plan {
    pub(crate) fn new(role: Role, config: Config) -> Self {
        Self {
            role,
            conns: 1,
            config,
            behaviour: match role {
                Role::Server => Behaviour::Echo,
                Role::Client => Behaviour::Quiet,
            },
            deflate: false,
            handshake: true,
            memory_budget: None,
        }
    }
}

/// Signals from the test thread to the peer, past the start.
pub(crate) struct Cue(Receiver<()>);

impl Cue {
    /// Waits for the next signal; `false` when none came in `timeout`.
    pub(crate) fn wait(&self, timeout: Duration) -> bool {
        self.0.recv_timeout(timeout).is_ok()
    }
}

/// What the attack gets: its sockets (in blocking mode, with timeouts),
/// the direction its frames go, and the test's cues.
pub(crate) struct Peer {
    pub(crate) streams: Vec<TcpStream>,
    pub(crate) dir: Dir,
    pub(crate) cue: Cue,
}

impl Peer {
    /// The one socket of a single-connection scenario.
    pub(crate) fn stream(&mut self) -> &mut TcpStream {
        &mut self.streams[0]
    }
}

/// The running scenario: the library's loop, its tally, the peer.
pub(crate) struct Duel<T> {
    pub(crate) lib: Option<LoopThread>,
    pub(crate) tally: Arc<Tally>,
    cue: Sender<()>,
    peer: Receiver<Result<T, String>>,
}

impl<T: Send + 'static> Duel<T> {
    /// Starts the library's side and the peer; returns with the baseline
    /// taken and the attack under way.
    pub(crate) fn start(
        run: &mut Run,
        plan: Plan,
        attack: impl FnOnce(Peer) -> Result<T, String> + Send + 'static,
    ) -> Self {
        let lib = LoopThread::spawn();
        let tally = Tally::new();
        let (cue, cue_rx) = mpsc::channel();
        let (ready_tx, ready) = mpsc::channel::<()>();
        let (go, go_rx) = mpsc::channel::<()>();
        let Plan {
            role,
            conns,
            config,
            behaviour,
            deflate,
            handshake,
            memory_budget,
        } = plan;
        lib.exec(move |event_loop| event_loop.set_memory_budget(memory_budget));

        // The peer's end: a raw server for the library's clients, or raw
        // clients of the library's server.
        let (addr, listener) = match role {
            Role::Server => {
                let (t, b) = (tally.clone(), behaviour.clone());
                let options = ServerOptions::default().config(config.clone());
                // Errors come back as text: nothing may panic on the loop.
                let addr = lib.exec(move |event_loop| {
                    event_loop
                        .listen("127.0.0.1:0".parse().unwrap(), options, move || {
                            handler(t.clone(), b.clone())
                        })
                        .map_err(|e| e.to_string())
                });
                (addr.expect("listen on 127.0.0.1"), None)
            }
            Role::Client => {
                let listener = TcpListener::bind("127.0.0.1:0").expect("bind the hostile server");
                (listener.local_addr().unwrap(), Some(listener))
            }
        };
        let dir = match role {
            Role::Server => Dir::ToServer,
            Role::Client => Dir::ToClient,
        };
        let (tx, peer) = mpsc::channel();
        thread::Builder::new()
            .name("hostile-peer".into())
            .spawn(move || {
                let result = (|| {
                    if !handshake && role == Role::Server && go_rx.recv_timeout(SETUP).is_err() {
                        return Err("no go".to_owned());
                    }
                    let mut streams = open_streams(addr, listener.as_ref(), conns)?;
                    if handshake {
                        for stream in &mut streams {
                            match dir {
                                Dir::ToServer => peer::client_handshake(stream, deflate),
                                Dir::ToClient => peer::server_handshake(stream, deflate),
                            }
                            .map_err(|e| format!("handshake: {e}"))?;
                        }
                        let _ = ready_tx.send(());
                        if go_rx.recv_timeout(SETUP).is_err() {
                            return Err("no go".to_owned());
                        }
                    }
                    attack(Peer {
                        streams,
                        dir,
                        cue: Cue(cue_rx),
                    })
                })();
                let _ = tx.send(result);
            })
            .expect("spawn the peer");

        let connect = |lib: &LoopThread| {
            if role == Role::Client {
                let (t, b) = (tally.clone(), behaviour.clone());
                let options = ClientOptions::default().config(config.clone());
                let port = addr.port();
                lib.exec(move |event_loop| {
                    let handle = event_loop.handle();
                    (0..conns).try_for_each(|_| {
                        let request = ClientRequest::new("127.0.0.1", port, "/");
                        let handler = handler(t.clone(), b.clone());
                        match handle.connect(&request, options.clone(), handler) {
                            Ok(_conn) => Ok(()),
                            Err(e) => Err(e.to_string()),
                        }
                    })
                })
                .expect("the connections start");
            }
        };
        if handshake {
            connect(&lib);
            let ready = ready.recv_timeout(SETUP).is_ok();
            run.check(ready, "the peer did not complete its handshakes");
            let open = wait_until(SETUP, || tally.opened() >= conns);
            run.check(open, format_args!("{} of {conns} opened", tally.opened()));
            run.baseline();
            let _ = go.send(());
        } else {
            run.baseline();
            let _ = go.send(());
            connect(&lib);
        }
        Self {
            lib: Some(lib),
            tally,
            cue,
            peer,
        }
    }

    /// Signals the peer to go on to its next step.
    pub(crate) fn cue(&self) {
        let _ = self.cue.send(());
    }

    /// The peer's outcome, waited for at most `timeout`; a failure or a
    /// peer that does not end is a failed check.
    pub(crate) fn peer_outcome(&self, run: &mut Run, timeout: Duration) -> Option<T> {
        match self.peer.recv_timeout(timeout) {
            Ok(Ok(outcome)) => Some(outcome),
            Ok(Err(e)) => {
                run.check(false, format_args!("the peer failed: {e}"));
                None
            }
            Err(RecvTimeoutError::Timeout) => {
                run.check(
                    false,
                    format_args!("the peer did not end within {timeout:?}"),
                );
                None
            }
            Err(RecvTimeoutError::Disconnected) => {
                run.check(false, "the peer thread panicked");
                None
            }
        }
    }

    /// Waits until `n` connections have reported `Closed`.
    pub(crate) fn wait_closed(&self, run: &mut Run, n: usize, timeout: Duration) {
        let tally = &self.tally;
        let closed = wait_until(timeout, || tally.closed() >= n);
        run.check(
            closed,
            format_args!(
                "{} of {n} connections reported Closed within {timeout:?}",
                tally.closed()
            ),
        );
    }

    /// Measures the end, records the library's events and stops its loop.
    pub(crate) fn end(&mut self, run: &mut Run, end_bound: usize) {
        run.record_end(end_bound);
        run.tally_events(&self.tally);
        if let Some(lib) = self.lib.take() {
            let stopped = lib.stop(Duration::from_secs(10));
            run.check(stopped, "the event loop did not stop within 10 s");
        }
    }
}

/// The peer's sockets: `n` accepted from the library's clients, or `n`
/// connected to the library's server.
fn open_streams(
    addr: SocketAddr,
    listener: Option<&TcpListener>,
    n: usize,
) -> Result<Vec<TcpStream>, String> {
    let deadline = Instant::now() + SETUP;
    (0..n)
        .map(|_| match listener {
            Some(listener) => peer::accept(listener, deadline),
            None => peer::connect(addr),
        })
        .collect::<Result<_, _>>()
        .map_err(|e| format!("connecting: {e}"))
}
