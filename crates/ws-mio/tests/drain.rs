//! The drain signal: a send refused for a full write buffer is followed,
//! once the peer reads again, by exactly one `Event::Drain`, after which
//! sending works again; none comes without a refusal.

mod common;

use std::io::Read as _;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{DEADLINE, Seen, accept_by_hand, client_loop, raw_server};
use ws_mio::{ClientOptions, Conn, Event};
use ws_proto::{ClientRequest, SendError};

#[test]
fn a_refused_send_is_followed_by_one_drain() {
    // The peer reads nothing until told, then everything.
    let (go, wait) = mpsc::channel::<()>();
    let (addr, _done) = raw_server("slow-reader", move |stream| {
        accept_by_hand(stream)?;
        let _ = wait.recv_timeout(DEADLINE);
        let mut sink = vec![0u8; 1 << 16];
        let deadline = Instant::now() + DEADLINE;
        while Instant::now() < deadline && stream.read(&mut sink)? > 0 {}
        Ok(())
    });
    let client = client_loop();
    let request = ClientRequest::new("127.0.0.1", addr.port(), "/");
    let mut options = ClientOptions::default();
    options.config.max_write_buffer = 256 << 10;
    let (tx, rx) = mpsc::channel();
    let conn = client
        .handle
        .connect(&request, options, move |_: &Conn, event: Event| {
            let seen = match Seen::from(event) {
                Seen::Drain => "drain".to_owned(),
                other => format!("{other:?}"),
            };
            let _ = tx.send(seen);
        })
        .expect("connect starts");
    assert_eq!(rx.recv_timeout(DEADLINE).expect("open"), "Open");
    // Nothing refused yet: no drain, however much is written.
    let chunk = vec![7u8; 64 << 10];
    let mut sent = 0usize;
    let refused = loop {
        match conn.send_binary(&chunk) {
            Ok(()) => sent += chunk.len(),
            Err(SendError::WriteBufferFull { .. }) => break true,
            Err(e) => panic!("send: {e}"),
        }
        if sent > 512 << 20 {
            break false;
        }
    };
    assert!(refused, "512 MiB went out to a peer that reads nothing");
    assert!(rx.try_recv().is_err(), "an event before the peer read");
    go.send(()).expect("the reader starts");
    assert_eq!(rx.recv_timeout(DEADLINE).expect("drain"), "drain");
    conn.send_binary(&chunk)
        .expect("room again after the drain");
    // One drain per refusal: no other comes.
    assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
    client.stop("client loop");
}
