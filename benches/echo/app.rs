//! The `app-latency` part: round trips from an application thread that
//! sends and waits. The main thread sends 32 bytes through ws-mio's `Conn`
//! (or ws-client's `WebSocket`) while the loop runs on its own thread, and
//! waits until the handler tells it the echo has come: over an
//! `std::sync::mpsc` channel, or by an `AtomicBool` and `Thread::unpark`
//! (both measured); or the main thread runs its own ws-mio loop, sending
//! through `Conn` and then turning the loop (`EventLoop::turn`) until the
//! handler has seen the echo: the way for a program that sends and waits
//! on one thread. raw TCP, tungstenite and fastwebsockets do what is
//! natural for them: the same thread writes and then reads. Every client
//! meets the same fixed echo ([`wire::ws_echo`]; raw TCP the byte echo).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use ws_mio::{ClientOptions, Conn, Event, EventLoop};
use ws_proto::{ClientRequest, CloseCode, Message};

use crate::send::mio_open_with;
use crate::{
    DEADLINE, IO_TIMEOUT, Kind, LATENCY_PAYLOAD, LATENCY_ROUND_TRIPS, LATENCY_ROUNDS,
    LATENCY_WARM_UP, Percentiles, Server, fws, mio_latency, print_latency_table, raw_latency,
    tung_latency, wire,
};

/// How the handler tells the application thread that the echo is in.
#[derive(Clone, Copy)]
enum Wake {
    Channel,
    Park,
}

#[derive(Clone, Copy)]
enum Client {
    Raw,
    Mio(Wake),
    Ws(Wake),
    Tung,
    Fws,
    /// ws-mio's handler sends the next message itself (the `latency` part's
    /// way), against the same fixed echo: the reference.
    MioHandler,
    /// The application thread runs its own ws-mio loop: it sends through
    /// `Conn`, then turns the loop (`EventLoop::turn`) until the handler
    /// has seen the echo. No other thread, so no wake-up.
    MioTurn,
}

const CLIENTS: [(&str, Client); 9] = [
    ("raw TCP (write, read)", Client::Raw),
    ("ws-mio Conn, mpsc wake", Client::Mio(Wake::Channel)),
    ("ws-mio Conn, park/unpark wake", Client::Mio(Wake::Park)),
    ("ws-client send, mpsc wake", Client::Ws(Wake::Channel)),
    ("ws-client send, park/unpark wake", Client::Ws(Wake::Park)),
    ("tungstenite (send, read)", Client::Tung),
    ("fastwebsockets (write, read)", Client::Fws),
    ("ws-mio, handler sends (reference)", Client::MioHandler),
    ("ws-mio Conn, app thread turns the loop", Client::MioTurn),
];

/// The handler's side of a wake-up.
#[derive(Clone)]
enum Notify {
    Channel(mpsc::Sender<()>),
    Park(Arc<AtomicBool>, Thread),
}

impl Notify {
    fn notify(&self) {
        match self {
            Self::Channel(tx) => {
                let _ = tx.send(());
            }
            Self::Park(flag, thread) => {
                flag.store(true, Ordering::Release);
                thread.unpark();
            }
        }
    }
}

/// The application thread's side of a wake-up.
enum Waiter {
    Channel(mpsc::Receiver<()>),
    Park(Arc<AtomicBool>),
}

impl Waiter {
    /// A pair for the calling thread.
    fn new(wake: Wake) -> (Notify, Self) {
        match wake {
            Wake::Channel => {
                let (tx, rx) = mpsc::channel();
                (Notify::Channel(tx), Self::Channel(rx))
            }
            Wake::Park => {
                let flag = Arc::new(AtomicBool::new(false));
                (
                    Notify::Park(flag.clone(), thread::current()),
                    Self::Park(flag),
                )
            }
        }
    }

    fn wait(&self) {
        match self {
            Self::Channel(rx) => rx.recv_timeout(IO_TIMEOUT).expect("no echo"),
            Self::Park(flag) => {
                let mut deadline = None;
                while !flag.swap(false, Ordering::Acquire) {
                    let deadline = *deadline.get_or_insert_with(|| Instant::now() + IO_TIMEOUT);
                    assert!(Instant::now() < deadline, "no echo");
                    thread::park_timeout(IO_TIMEOUT);
                }
            }
        }
    }
}

/// Runs the part: every client in each of the rounds, in turn.
pub(crate) fn app_latency(scale: usize) {
    let n = LATENCY_ROUND_TRIPS / scale / LATENCY_ROUNDS;
    let warm = LATENCY_WARM_UP / scale / LATENCY_ROUNDS;
    println!();
    println!(
        "Latency from an application thread: {LATENCY_PAYLOAD}-byte echo, the main thread sends and waits; \
         {} round trips after {} warm-up, in {LATENCY_ROUNDS} interleaved rounds, one fixed echo \
         server (µs)",
        n * LATENCY_ROUNDS,
        warm * LATENCY_ROUNDS
    );
    let mut samples: Vec<Vec<Duration>> = CLIENTS.iter().map(|_| Vec::new()).collect();
    for _ in 0..LATENCY_ROUNDS {
        for ((_, client), samples) in CLIENTS.iter().zip(&mut samples) {
            let server = match client {
                Client::Raw => Server::start(Kind::Raw),
                _ => Server::blocking(wire::ws_echo),
            };
            let addr = server.addr;
            samples.extend(match *client {
                Client::Raw => raw_latency(addr, warm, n),
                Client::Tung => tung_latency(addr, warm, n),
                Client::Fws => fws::latency(addr, warm, n),
                Client::MioHandler => mio_latency(addr, warm, n),
                Client::MioTurn => mio_turn(addr, warm, n),
                Client::Mio(wake) => mio_app(addr, wake, warm, n),
                Client::Ws(wake) => client_app(addr, wake, warm, n),
            });
            server.finish();
        }
    }
    let rows: Vec<_> = CLIENTS
        .iter()
        .zip(samples)
        .map(|((name, _), samples)| (*name, Percentiles::of(samples)))
        .collect();
    print_latency_table(
        &rows,
        CLIENTS[0].0,
        "tungstenite (send, read)",
        "fastwebsockets (write, read)",
    );
}

fn mio_app(addr: std::net::SocketAddr, wake: Wake, warm: usize, n: usize) -> Vec<Duration> {
    let (notify, waiter) = Waiter::new(wake);
    let (conn, stop) = mio_open_with(addr, move |event| {
        if let Event::Message(Message::Binary(echo)) = event {
            debug_assert_eq!(echo.len(), LATENCY_PAYLOAD);
            notify.notify();
        }
    });
    let message = [0xA5u8; LATENCY_PAYLOAD];
    let mut samples = Vec::with_capacity(n);
    for i in 0..warm + n {
        let t0 = Instant::now();
        conn.send_binary(&message).expect("ws-mio send");
        waiter.wait();
        let rtt = t0.elapsed();
        if i >= warm {
            samples.push(rtt);
        }
    }
    let _ = conn.close(CloseCode::NORMAL, "");
    stop();
    samples
}

/// [`Client::MioTurn`].
fn mio_turn(addr: std::net::SocketAddr, warm: usize, n: usize) -> Vec<Duration> {
    let mut event_loop = EventLoop::new().expect("event loop");
    let (opened, echoed) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let (open, echo) = (opened.clone(), echoed.clone());
    let request = ClientRequest::new(addr.ip().to_string(), addr.port(), "/");
    let conn = event_loop
        .handle()
        .connect(
            &request,
            ClientOptions::default(),
            move |_: &Conn, event: Event| match event {
                Event::Open(_) => open.store(true, Ordering::Relaxed),
                Event::Message(Message::Binary(m)) => {
                    debug_assert_eq!(m.len(), LATENCY_PAYLOAD);
                    echo.store(true, Ordering::Relaxed);
                }
                Event::Error(e) => panic!("ws-mio turn: {e}"),
                _ => {}
            },
        )
        .expect("connect");
    let turn_until = |event_loop: &mut EventLoop, flag: &AtomicBool| {
        let deadline = Instant::now() + IO_TIMEOUT;
        while !flag.swap(false, Ordering::Relaxed) {
            assert!(Instant::now() < deadline, "ws-mio turn: nothing in time");
            event_loop.turn(Some(IO_TIMEOUT)).expect("turn");
        }
    };
    turn_until(&mut event_loop, &opened);
    let message = [0xA5u8; LATENCY_PAYLOAD];
    let mut samples = Vec::with_capacity(n);
    for i in 0..warm + n {
        let t0 = Instant::now();
        conn.send_binary(&message).expect("ws-mio send");
        turn_until(&mut event_loop, &echoed);
        let rtt = t0.elapsed();
        if i >= warm {
            samples.push(rtt);
        }
    }
    let _ = conn.close(CloseCode::NORMAL, "");
    event_loop.handle().stop();
    let deadline = Instant::now() + DEADLINE;
    while event_loop.turn(Some(IO_TIMEOUT)).expect("turn") {
        assert!(
            Instant::now() < deadline,
            "ws-mio turn: the loop did not stop"
        );
    }
    samples
}

fn client_app(addr: std::net::SocketAddr, wake: Wake, warm: usize, n: usize) -> Vec<Duration> {
    struct Echoes {
        open: mpsc::Sender<()>,
        notify: Notify,
    }

    impl ws_client::Handler for Echoes {
        fn on_open(&mut self, _: &ws_client::WebSocket<Self>, _: &ws_client::OpenEvent) {
            let _ = self.open.send(());
        }

        fn on_message(&mut self, _: &ws_client::WebSocket<Self>, _: ws_client::MessageEvent) {
            self.notify.notify();
        }
    }

    let (notify, waiter) = Waiter::new(wake);
    let (open, opened) = mpsc::channel();
    let ws = ws_client::WebSocket::new(&format!("ws://{addr}/"), Echoes { open, notify })
        .expect("ws-client");
    opened.recv_timeout(DEADLINE).expect("ws-client open");
    let message = [0xA5u8; LATENCY_PAYLOAD];
    let mut samples = Vec::with_capacity(n);
    for i in 0..warm + n {
        let t0 = Instant::now();
        ws.send(&message[..]).expect("ws-client send");
        waiter.wait();
        let rtt = t0.elapsed();
        if i >= warm {
            samples.push(rtt);
        }
    }
    let _ = ws.terminate(None, None);
    samples
}
