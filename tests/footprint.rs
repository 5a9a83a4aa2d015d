//! What a ws-mio client connection holds on the heap, counted by a global
//! allocator: idle once open, and after one small echo (the target: at
//! most 2 KiB after one echo). Everything the client side allocates is
//! counted: the connection's state machine and buffers, the loop's entry
//! for it, the handler, the loop's own tables as they grow. The echo
//! server runs on an untracked thread, so it is not counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use ws_mio::{ClientOptions, Conn, EchoServer, Event, EventLoop};
use ws_proto::ClientRequest;
use ws_test_support::counting_alloc::{self, Scope, live_bytes, track_current_thread};

// Counts what the library allocates (ws-test-support's counter).
#[global_allocator]
static GLOBAL: counting_alloc::CountingAlloc = counting_alloc::CountingAlloc;

const CONNECTIONS: usize = 200;
const DEADLINE: Duration = Duration::from_secs(30);
/// The most heap a client connection may hold after one small echo.
const AFTER_ECHO_LIMIT: isize = 2 << 10;

/// Waits until `count` reaches `want`, within the deadline.
fn wait_for(count: &AtomicUsize, want: usize, what: &str) {
    let started = Instant::now();
    while count.load(Ordering::Acquire) < want {
        assert!(started.elapsed() < DEADLINE, "{what}: {count:?} of {want}");
        thread::sleep(Duration::from_millis(2));
    }
}

/// The live bytes once they stop changing (the loop may still be
/// returning buffers when the last event is counted).
fn settled_live_bytes() -> isize {
    let started = Instant::now();
    let mut last = live_bytes();
    loop {
        thread::sleep(Duration::from_millis(50));
        let now = live_bytes();
        if now == last || started.elapsed() > DEADLINE {
            return now;
        }
        last = now;
    }
}

#[test]
fn a_client_connection_holds_little_idle_and_after_one_echo() {
    let server =
        EchoServer::start("127.0.0.1:0".parse().unwrap(), Default::default()).expect("echo server");
    let addr = server.local_addr();
    let scope = Scope::open();
    track_current_thread();
    let (tx, rx) = mpsc::channel();
    let client = thread::spawn(move || {
        track_current_thread();
        let mut event_loop = EventLoop::new().expect("event loop");
        tx.send(event_loop.handle()).unwrap();
        event_loop.run().expect("client loop");
    });
    let handle = rx.recv_timeout(DEADLINE).expect("the client loop starts");
    let before = settled_live_bytes();

    let opened = Arc::new(AtomicUsize::new(0));
    let echoed = Arc::new(AtomicUsize::new(0));
    let request = ClientRequest::new("127.0.0.1", addr.port(), "/");
    let conns: Vec<Conn> = (0..CONNECTIONS)
        .map(|_| {
            let (opened, echoed) = (opened.clone(), echoed.clone());
            handle
                .connect(
                    &request,
                    ClientOptions::default(),
                    move |_: &Conn, event: Event| match event {
                        Event::Open(_) => {
                            opened.fetch_add(1, Ordering::AcqRel);
                        }
                        Event::Message(_) => {
                            echoed.fetch_add(1, Ordering::AcqRel);
                        }
                        _ => {}
                    },
                )
                .expect("connect")
        })
        .collect();
    wait_for(&opened, CONNECTIONS, "opened");
    let idle = settled_live_bytes();
    for conn in &conns {
        conn.send_binary(&[7; 32]).expect("send");
    }
    wait_for(&echoed, CONNECTIONS, "echoed");
    let after_echo = settled_live_bytes();

    let per = |live: isize| (live - before) / CONNECTIONS as isize;
    println!(
        "heap per client connection ({CONNECTIONS}): idle {} B, after one 32 B echo {} B",
        per(idle),
        per(after_echo)
    );
    assert!(
        per(after_echo) <= AFTER_ECHO_LIMIT,
        "{} B per connection after one echo",
        per(after_echo)
    );
    drop(scope);
    drop(conns);
    handle.stop();
    client.join().unwrap();
    server.stop();
}
