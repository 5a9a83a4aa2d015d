//! Connections on a `Worker`: callbacks on the thread that drives it, and
//! the connection living as long as the worker.

mod common;

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::*;
use ws_client::{Error, Status, WebSocket, Worker};

#[test]
fn callbacks_run_on_the_thread_that_drives_the_worker() {
    let server = TestServer::start();
    let url = server.url("/echo");
    let (handler, log) = Recorder::new();
    let handler = handler
        .on_open(|ws| ws.send("from the worker thread").unwrap())
        .on_message(|ws, _| ws.terminate(None, None).unwrap());
    let driver = thread::Builder::new()
        .name("my-worker".into())
        .spawn(move || {
            let mut worker = Worker::new().unwrap();
            let ws = worker.connect(&url, handler).unwrap();
            worker.run_until_idle().unwrap();
            assert_eq!(ws.status(), Status::Closed);
            assert_eq!(worker.connections(), 0);
        })
        .unwrap();
    driver.join().unwrap();
    let seen = log.until_terminate();
    assert_eq!(kinds(&seen), ["open", "message", "terminate"]);
    for s in &seen {
        if let Seen::Open { thread, .. } | Seen::Terminate { thread, .. } = s {
            assert_eq!(thread.as_deref(), Some("my-worker"));
        }
    }
}

#[test]
fn nothing_happens_until_the_worker_is_driven() {
    let server = TestServer::start();
    let mut worker = Worker::new().unwrap();
    let (handler, log) = Recorder::new();
    let ws = WebSocket::builder(&server.url("/echo"))
        .worker(&worker)
        .connect(handler)
        .unwrap();
    log.assert_quiet(Duration::from_millis(100));
    assert_eq!(ws.status(), Status::Connecting);
    while ws.status() != Status::Connected {
        worker.turn(Some(Duration::from_millis(50))).unwrap();
    }
    assert!(matches!(log.next(), Seen::Open { .. }));
    ws.terminate(None, None).unwrap();
    worker.run_until_idle().unwrap();
    assert_eq!(terminate_of(&log.until_terminate()).code, 1000);
}

#[test]
fn stopping_the_worker_closes_its_connections_with_1001() {
    let server = TestServer::start();
    let mut worker = Worker::new().unwrap();
    let mut logs = Vec::new();
    let mut sockets = Vec::new();
    for _ in 0..3 {
        let (handler, log) = Recorder::new();
        sockets.push(worker.connect(&server.url("/echo"), handler).unwrap());
        logs.push(log);
    }
    while sockets.iter().any(|ws| ws.status() != Status::Connected) {
        worker.turn(Some(Duration::from_millis(50))).unwrap();
    }
    let stopper = worker.stopper();
    stopper.stop();
    worker.run().unwrap();
    for log in &logs {
        let seen = log.until_terminate();
        assert_eq!(kinds(&seen), ["open", "terminate"]);
        let t = terminate_of(&seen);
        assert_eq!((t.code, t.was_clean), (1001, true));
    }
    // A stopped worker takes no new connection.
    let (handler, _log) = Recorder::new();
    assert!(matches!(
        worker.connect(&server.url("/echo"), handler),
        Err(Error::Stopped)
    ));
}

#[test]
fn stop_consumes_the_worker_after_every_terminate() {
    let server = TestServer::start();
    let mut worker = Worker::new().unwrap();
    let (handler, log) = Recorder::new();
    let ws = worker.connect(&server.url("/echo"), handler).unwrap();
    while ws.status() != Status::Connected {
        worker.turn(Some(Duration::from_millis(50))).unwrap();
    }
    worker.stop().unwrap();
    let seen = log.until_terminate();
    assert_eq!(terminate_of(&seen).code, 1001);
    assert_eq!(ws.status(), Status::Closed);
}

#[test]
fn dropping_the_worker_terminates_its_connections_on_the_dropping_thread() {
    let server = TestServer::start();
    let (handler, log) = Recorder::new();
    let (tx, rx) = mpsc::channel();
    let url = server.url("/echo");
    thread::Builder::new()
        .name("dropper".into())
        .spawn(move || {
            let mut worker = Worker::new().unwrap();
            let ws = worker.connect(&url, handler).unwrap();
            while ws.status() != Status::Connected {
                worker.turn(Some(Duration::from_millis(50))).unwrap();
            }
            drop(worker);
            tx.send(ws).unwrap();
        })
        .unwrap()
        .join()
        .unwrap();
    let ws = rx.recv_timeout(WAIT).unwrap();
    let seen = log.until_terminate();
    assert_eq!(kinds(&seen), ["open", "terminate"]);
    match seen.last() {
        Some(Seen::Terminate { thread, event, .. }) => {
            assert_eq!(thread.as_deref(), Some("dropper"));
            assert!(!event.was_clean, "no time for the closing handshake");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(ws.status(), Status::Closed);
    assert!(matches!(ws.send("late"), Err(Error::NotConnected(_))));
}
