//! Sends from an application thread write on that thread: the frame
//! reaches the peer while the loop is not running at all, and what a full
//! socket leaves over is written by the loop later, in order, interleaved
//! with later sends from several threads.

mod common;

use std::io::{self, Read as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{DEADLINE, Seen, accept_by_hand, client_loop, connect, expect, raw_server, recv};
use ws_mio::{ClientOptions, Conn, Event, EventLoop};
use ws_proto::ClientRequest;
use ws_test_support::frames;

/// Reads whole frames (unmasking them) until `count` have arrived; returns
/// their payloads. Every frame must be masked (a client's).
fn read_frames(stream: &mut std::net::TcpStream, count: usize) -> io::Result<Vec<Vec<u8>>> {
    read_frames_masked(stream, count, true)
}

/// [`read_frames`] of frames masked or not, as `masked` says they must be.
fn read_frames_masked(
    stream: &mut std::net::TcpStream,
    count: usize,
    masked: bool,
) -> io::Result<Vec<Vec<u8>>> {
    stream.set_read_timeout(Some(DEADLINE))?;
    let mut wire = Vec::new();
    let mut payloads = Vec::new();
    let mut buf = vec![0u8; 256 << 10];
    while payloads.len() < count {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        wire.extend_from_slice(&buf[..n]);
        while let Some((frame, used)) = frames::parse_one(&wire) {
            assert_eq!(
                frame.masked, masked,
                "a client's frames are masked, a server's not"
            );
            payloads.push(frame.payload);
            wire.drain(..used);
        }
    }
    Ok(payloads)
}

#[test]
fn a_send_from_an_application_thread_reaches_the_peer_while_the_loop_sleeps() {
    let (addr, server) = raw_server("reader", |stream| {
        accept_by_hand(stream)?;
        read_frames(stream, 3)
    });
    let mut event_loop = EventLoop::new().unwrap();
    let conn = open_by_hand(&mut event_loop, addr);

    // The loop does not turn from here on: only the sending thread can
    // write these.
    let sender = thread::spawn(move || {
        for text in ["one", "two", "three"] {
            conn.send_text(text).unwrap();
        }
        conn
    });
    let conn = sender.join().unwrap();
    let frames = recv(&server, DEADLINE, "the three frames").unwrap();
    assert_eq!(frames, [&b"one"[..], b"two", b"three"]);
    assert_eq!(conn.buffered_amount(), 0);
    drop(event_loop);
}

#[test]
fn what_a_full_socket_leaves_over_the_loop_writes_in_order_with_later_sends() {
    full_socket_in_order(|conn, message| conn.send_binary(message));
}

#[test]
fn in_place_sends_leave_the_same_frames_in_the_same_order() {
    // Each message from a buffer of its own, masked in place when it can
    // be written at once, copied when it must wait.
    full_socket_in_order(|conn, message| conn.send_binary_in_place(message));
}

/// Two application threads send 200 messages of 64 KiB each with `send`
/// to a peer that does not read until they are done (the socket fills);
/// the peer then gets every message whole, each thread's in order.
fn full_socket_in_order(send: fn(&Conn, &mut Vec<u8>) -> Result<(), ws_proto::SendError>) {
    const SENDERS: usize = 2;
    const MESSAGES: usize = 200;
    const SIZE: usize = 64 << 10;
    let (go, wait) = mpsc::channel::<()>();
    let (addr, server) = raw_server("slow-reader", move |stream| {
        accept_by_hand(stream)?;
        // Not reading until the senders are done fills the socket.
        let _ = wait.recv_timeout(DEADLINE);
        read_frames(stream, SENDERS * MESSAGES)
    });
    let client = client_loop();
    let request = ClientRequest::new("127.0.0.1", addr.port(), "/");
    let (conn, events) = connect(&client.handle, &request, ClientOptions::default(), |_| {});
    expect(&events, Seen::Open);

    // Each message: its sender, its number, then filler.
    let senders: Vec<_> = (0..SENDERS)
        .map(|who| {
            let conn = conn.clone();
            thread::spawn(move || {
                for i in 0..MESSAGES {
                    let mut message = vec![who as u8; SIZE];
                    message[1..9].copy_from_slice(&(i as u64).to_le_bytes());
                    send(&conn, &mut message).unwrap();
                }
            })
        })
        .collect();
    for sender in senders {
        sender.join().unwrap();
    }
    assert!(
        conn.buffered_amount() > 0,
        "the socket should have filled and left bytes to the loop"
    );
    go.send(()).unwrap();
    let frames = recv(&server, DEADLINE, "every frame").unwrap();
    let mut next = [0u64; SENDERS];
    for frame in &frames {
        assert_eq!(frame.len(), SIZE);
        let who = frame[0] as usize;
        let i = u64::from_le_bytes(frame[1..9].try_into().unwrap());
        assert_eq!(i, next[who], "sender {who}'s messages out of order");
        next[who] += 1;
        assert!(frame[9..].iter().all(|&b| b == who as u8));
    }
    assert_eq!(next, [MESSAGES as u64; SENDERS]);
    let started = Instant::now();
    while conn.buffered_amount() > 0 {
        assert!(
            started.elapsed() < DEADLINE,
            "the loop never finished writing"
        );
        thread::sleep(Duration::from_millis(5));
    }
    client.stop("client loop");
}

#[test]
fn a_busy_polling_loop_echoes_from_its_handler_and_still_stops() {
    let (addr, server) = common::serve(ws_mio::ServerOptions::default(), "echo", || {
        |conn: &Conn, event: Event| {
            if let Event::Message(ws_proto::Message::Binary(b)) = event {
                let _ = conn.send_bytes(b);
            }
        }
    });
    let mut event_loop = EventLoop::new().unwrap();
    event_loop.set_busy_poll(true);
    // A busy-polling turn returns at once, whatever its timeout.
    let started = Instant::now();
    event_loop.turn(Some(Duration::from_secs(10))).unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    let client = common::LoopThread::spawn(event_loop, "busy-client");
    let (tx, rx) = mpsc::channel();
    let request = ClientRequest::new("127.0.0.1", addr.port(), "/");
    let mut left = 1_000u32;
    client
        .handle
        .connect(
            &request,
            ClientOptions::default(),
            move |conn: &Conn, event: Event| match event {
                Event::Open(_) => conn.send_binary(&left.to_le_bytes()).unwrap(),
                Event::Message(ws_proto::Message::Binary(b)) => {
                    assert_eq!(&b[..], &left.to_le_bytes());
                    left -= 1;
                    if left == 0 {
                        let _ = tx.send(());
                    } else {
                        conn.send_binary(&left.to_le_bytes()).unwrap();
                    }
                }
                _ => {}
            },
        )
        .unwrap();
    recv(&rx, DEADLINE, "1,000 round trips");
    client.stop("busy-polling client loop");
    server.stop("echo server");
}

/// A client connection to `addr` on a loop that the test turns by hand,
/// turned until open.
fn open_by_hand(event_loop: &mut EventLoop, addr: std::net::SocketAddr) -> Conn {
    let open = Arc::new(AtomicBool::new(false));
    let opened = open.clone();
    let request = ClientRequest::new("127.0.0.1", addr.port(), "/");
    let conn = event_loop
        .handle()
        .connect(
            &request,
            ClientOptions::default(),
            move |_: &Conn, event: Event| {
                if let Event::Open(_) = event {
                    opened.store(true, Ordering::Release);
                }
            },
        )
        .unwrap();
    let started = Instant::now();
    while !open.load(Ordering::Acquire) {
        assert!(started.elapsed() < DEADLINE, "no Open");
        event_loop.turn(Some(Duration::from_millis(10))).unwrap();
    }
    conn
}

#[test]
fn a_batch_from_an_application_thread_is_written_whole_while_the_loop_sleeps() {
    let (addr, server) = raw_server("reader", |stream| {
        accept_by_hand(stream)?;
        read_frames(stream, 100)
    });
    let mut event_loop = EventLoop::new().unwrap();
    let conn = open_by_hand(&mut event_loop, addr);
    let sent = thread::spawn(move || {
        conn.send_batch(|batch| (0..100u32).try_for_each(|i| batch.send_binary(&i.to_le_bytes())))
    });
    sent.join().unwrap().unwrap();
    let frames = recv(&server, DEADLINE, "the batch").unwrap();
    let expected: Vec<Vec<u8>> = (0..100u32).map(|i| i.to_le_bytes().to_vec()).collect();
    assert_eq!(frames, expected);
    drop(event_loop);
}

#[test]
fn a_batch_is_held_to_the_memory_budget_message_by_message() {
    let (go, wait) = mpsc::channel::<()>();
    let (addr, _server) = raw_server("deaf", move |stream| {
        accept_by_hand(stream)?;
        let _ = wait.recv_timeout(DEADLINE);
        Ok(())
    });
    let mut event_loop = EventLoop::new().unwrap();
    let conn = open_by_hand(&mut event_loop, addr);
    event_loop.set_memory_budget(Some(100 << 10));
    // The socket takes what it can; the budget counts what stays queued,
    // so messages larger than any socket buffer are used.
    let big = vec![0u8; 8 << 20];
    let results = conn.send_batch(|batch| {
        (0..4)
            .map(|_| batch.send_binary(&big).is_ok())
            .collect::<Vec<_>>()
    });
    assert_eq!(results, [false; 4], "8 MiB messages pass a 100 KiB budget");
    let small = vec![0u8; 30 << 10];
    let results = conn.send_batch(|batch| {
        (0..6)
            .map(|_| batch.send_binary(&small).is_ok())
            .collect::<Vec<_>>()
    });
    let accepted = results.iter().filter(|&&ok| ok).count();
    assert!(
        (1..6).contains(&accepted) && results[..accepted].iter().all(|&ok| ok),
        "{results:?}: the budget must admit some, then refuse the rest"
    );
    let _ = go.send(());
    drop(event_loop);
}

#[test]
fn a_server_sends_every_size_from_an_application_thread_whole_and_in_order() {
    // Sizes around the header's length steps, and one large enough to
    // fill the socket, so both the written-through and the queued rest
    // are in play; a text among them.
    let (opened, open) = mpsc::channel::<Conn>();
    let (addr, server) = common::serve(ws_mio::ServerOptions::default(), "server", move || {
        let opened = opened.clone();
        move |conn: &Conn, event: Event| {
            if let Event::Open(_) = event {
                let _ = opened.send(conn.clone());
            }
        }
    });
    let mut client = common::connect_by_hand(addr).unwrap();
    let conn = recv(&open, DEADLINE, "the server's connection");
    let sizes = [0usize, 1, 125, 126, 65_535, 65_536, 3 << 20, 16, 1024];
    let sender = thread::spawn(move || {
        for (i, &size) in sizes.iter().enumerate() {
            let message = vec![i as u8; size];
            conn.send_binary(&message).unwrap();
        }
        conn.send_text("the end").unwrap();
        conn
    });
    let frames = read_frames_masked(&mut client, sizes.len() + 1, false).unwrap();
    let conn = sender.join().unwrap();
    for (i, (frame, &size)) in frames.iter().zip(&sizes).enumerate() {
        assert_eq!(frame.len(), size, "message {i}");
        assert!(frame.iter().all(|&b| b == i as u8), "message {i}");
    }
    assert_eq!(frames[sizes.len()], b"the end");
    let started = Instant::now();
    while conn.buffered_amount() > 0 {
        assert!(started.elapsed() < DEADLINE, "never written out");
        thread::sleep(Duration::from_millis(5));
    }
    server.stop("server loop");
}
