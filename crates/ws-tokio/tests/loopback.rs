//! ws-tokio over 127.0.0.1 and in-memory transports: every message kind,
//! both runtimes, Stream/Sink, split halves, cancel safety, back-pressure,
//! the server role, and ws-proto's rules holding through the driver.

mod common;

use std::time::{Duration, Instant};

use common::{bounded, echo_server, raw_server};
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpListener;
use ws_proto::{ProtocolError, SendError, TimeoutKind};
use ws_test_support::frames::{op, server_frame};
use ws_tokio::{Builder, Bytes, CloseCode, Error, Message};

fn text(s: &str) -> Message {
    Message::Text(s.to_owned().into())
}

fn binary(data: Vec<u8>) -> Message {
    Message::Binary(Bytes::from(data))
}

/// Every kind and size of message comes back as sent, then a clean close.
async fn echo_every_kind() {
    let url = echo_server().await;
    let mut ws = bounded(ws_tokio::connect(&url)).await.unwrap();
    let big: Vec<u8> = (0..(3 << 20)).map(|i| (i * 7 % 251) as u8).collect();
    let messages = [
        text("hello"),
        text(""),
        text("héllo wörld ✓ 🦀"),
        binary(vec![]),
        binary(vec![0, 1, 2, 255]),
        binary(vec![9; 70_000]), // 16-bit length, given away
        binary(big),             // 64-bit length, several reads
        text(&"x".repeat(200_000)),
    ];
    for message in &messages {
        bounded(ws.send(message.clone())).await.unwrap();
        let back = bounded(ws.recv()).await.unwrap().unwrap();
        assert_eq!(&back, message);
    }
    bounded(ws.send_text("by reference")).await.unwrap();
    bounded(ws.send_binary(b"by reference")).await.unwrap();
    bounded(ws.send_ping(b"are you there")).await.unwrap();
    assert_eq!(
        bounded(ws.recv()).await.unwrap().unwrap(),
        text("by reference")
    );
    assert_eq!(
        bounded(ws.recv()).await.unwrap().unwrap(),
        binary(b"by reference".to_vec())
    );
    // A burst: many messages queued before any echo is read.
    for i in 0..500 {
        bounded(ws.send_text(&i.to_string())).await.unwrap();
    }
    for i in 0..500 {
        assert_eq!(
            bounded(ws.recv()).await.unwrap().unwrap(),
            text(&i.to_string())
        );
    }
    bounded(ws.close(CloseCode::NORMAL, "done")).await.unwrap();
    assert!(bounded(ws.recv()).await.is_none());
    let closed = ws.closed().unwrap();
    assert_eq!((closed.code, closed.was_clean), (CloseCode::NORMAL, true));
    assert!(matches!(
        ws.send_text("late").await,
        Err(Error::ConnectionClosed)
    ));
}

#[tokio::test(flavor = "current_thread")]
async fn echo_current_thread() {
    echo_every_kind().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_multi_thread() {
    echo_every_kind().await;
}

#[tokio::test]
async fn stream_and_sink() {
    let url = echo_server().await;
    let mut ws = bounded(ws_tokio::connect(&url)).await.unwrap();
    for i in 0..100 {
        bounded(common::feed(&mut ws, text(&format!("m{i}"))))
            .await
            .unwrap();
    }
    bounded(common::flush(&mut ws)).await.unwrap();
    for i in 0..100 {
        let got = bounded(common::next(&mut ws)).await.unwrap().unwrap();
        assert_eq!(got, text(&format!("m{i}")));
    }
    bounded(common::close(&mut ws)).await.unwrap();
    assert!(bounded(common::next(&mut ws)).await.is_none());
    assert!(ws.closed().unwrap().was_clean);
}

/// The reader and the writer on two tasks of the multi-thread runtime:
/// every echo arrives in order, including those that come while the
/// writer closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_halves_on_two_tasks() {
    let url = echo_server().await;
    let ws = bounded(ws_tokio::connect(&url)).await.unwrap();
    let (mut reader, mut writer) = ws.split();
    const N: usize = 2_000;
    let writing = tokio::spawn(async move {
        for i in 0..N {
            writer.send_text(&i.to_string()).await.unwrap();
            if i % 100 == 0 {
                writer.send(binary(vec![7; 100_000])).await.unwrap();
            }
        }
        writer
            .close(CloseCode::GOING_AWAY, "leaving")
            .await
            .unwrap();
        writer
    });
    let reading = tokio::spawn(async move {
        let mut texts = 0;
        while let Some(message) = reader.recv().await {
            match message.unwrap() {
                Message::Text(t) => {
                    assert_eq!(t.as_str(), texts.to_string());
                    texts += 1;
                }
                Message::Binary(b) => assert_eq!(b.len(), 100_000),
            }
        }
        (texts, reader)
    });
    let writer = bounded(writing).await.unwrap();
    let (texts, reader) = bounded(reading).await.unwrap();
    assert_eq!(texts, N);
    let closed = reader.closed().unwrap();
    assert_eq!(
        (closed.code, closed.was_clean),
        (CloseCode::GOING_AWAY, true)
    );
    assert!(reader.reunite(writer).is_ok());
}

/// A `select!` that drops a pending `recv` again and again, also while a
/// large message is halfway in, loses no message and splits none.
#[tokio::test]
async fn cancelled_recv_loses_nothing() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    const N: usize = 60;
    let size = |i: usize| (i * 37_813) % 400_000;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = ws_tokio::accept(tcp).await.unwrap();
        for i in 0..N {
            ws.send(binary(vec![i as u8; size(i)])).await.unwrap();
            if i % 3 == 0 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    });
    let mut ws = bounded(ws_tokio::connect(&url)).await.unwrap();
    let (mut received, mut cancelled) = (0, 0);
    bounded(async {
        loop {
            tokio::select! {
                message = ws.recv() => match message {
                    Some(message) => {
                        assert_eq!(message.unwrap(), binary(vec![received as u8; size(received)]));
                        received += 1;
                    }
                    None => break,
                },
                _ = tokio::time::sleep(Duration::from_micros(100)) => cancelled += 1,
            }
        }
    })
    .await;
    assert_eq!(received, N);
    assert!(
        cancelled > 0,
        "no recv was cancelled: the test proves nothing"
    );
    println!("{received} messages received, {cancelled} recv futures dropped while pending");
    bounded(server).await.unwrap();
}

/// A peer that never reads: `send` waits instead of queueing more, what
/// the connection holds stays bounded, and sending past the write
/// buffer's limit without waiting fails with `WriteBufferFull`.
#[tokio::test]
async fn back_pressure_from_a_peer_that_never_reads() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let ws = ws_tokio::accept(tcp).await.unwrap();
        let _ = stopped.await; // holds the connection, reads nothing
        drop(ws);
    });
    const LIMIT: usize = 4 << 20;
    let mut ws = bounded(Builder::new(&url).max_write_buffer(LIMIT).connect())
        .await
        .unwrap();
    let chunk = vec![1u8; 64 << 10];
    let mut sent = 0usize;
    let mut waited = false;
    for _ in 0..4096 {
        match tokio::time::timeout(Duration::from_millis(200), ws.send_binary(&chunk)).await {
            Ok(result) => {
                result.unwrap();
                sent += chunk.len();
            }
            Err(_) => {
                waited = true;
                break;
            }
        }
    }
    assert!(waited, "send never waited after {sent} bytes");
    // The send that waits has queued its message; the next ones wait
    // before queueing anything.
    for _ in 0..10 {
        assert!(
            tokio::time::timeout(Duration::from_millis(20), ws.send_binary(&chunk))
                .await
                .is_err()
        );
    }
    let held = ws.connection().buffered_amount();
    assert!(held <= (128 << 10) + chunk.len(), "{held} bytes queued");
    assert!(ws.connection().buffer_capacity() <= LIMIT + (512 << 10));
    // Without waiting (the Sink's start_send queues at once), the limit
    // refuses what does not fit and queues nothing.
    let refused = loop {
        if let Err(e) = std::pin::Pin::new(&mut ws).start_send_unpin(binary(chunk.clone())) {
            break e;
        }
    };
    assert!(matches!(
        refused,
        Error::Send(SendError::WriteBufferFull { .. })
    ));
    assert!(ws.connection().buffered_amount() <= LIMIT);
    assert!(ws.connection().buffer_capacity() <= LIMIT + (512 << 10));
    println!("back-pressure after {sent} bytes written to a peer that never reads");
    stop.send(()).unwrap();
    bounded(server).await.unwrap();
}

trait StartSend {
    fn start_send_unpin(&mut self, message: Message) -> Result<(), Error>;
}

impl<T: futures_sink::Sink<Message, Error = Error> + Unpin> StartSend for std::pin::Pin<&mut T> {
    fn start_send_unpin(&mut self, message: Message) -> Result<(), Error> {
        self.as_mut().start_send(message)
    }
}

/// The server role: subprotocol chosen, the server speaks first and
/// closes with its own code.
#[tokio::test]
async fn server_role_with_accept() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/room?id=7", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let server = ws_tokio::ServerConfig::default().subprotocols(vec!["v2".into()]);
        let mut ws = ws_tokio::accept_with(tcp, Default::default(), server)
            .await
            .unwrap();
        assert_eq!(ws.subprotocol(), Some("v2"));
        assert_eq!(ws.handshake_info().resource, "/room?id=7");
        assert_eq!(ws.handshake_info().headers.get_str("x-user"), Some("alice"));
        ws.send_text("welcome").await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), text("thanks"));
        ws.close(CloseCode(4000), "room closed").await.unwrap();
        assert!(ws.recv().await.is_none());
    });
    let mut ws = bounded(
        Builder::new(&url)
            .protocol("v1")
            .protocol("v2")
            .header("X-User", "alice")
            .connect(),
    )
    .await
    .unwrap();
    assert_eq!(ws.subprotocol(), Some("v2"));
    assert_eq!(bounded(ws.recv()).await.unwrap().unwrap(), text("welcome"));
    bounded(ws.send_text("thanks")).await.unwrap();
    assert!(bounded(ws.recv()).await.is_none());
    let closed = ws.closed().unwrap();
    assert_eq!(
        (closed.code, closed.reason.as_str(), closed.was_clean),
        (CloseCode(4000), "room closed", true)
    );
    bounded(server).await.unwrap();
}

/// A request that is not an upgrade is answered with 400 before `accept`
/// fails.
#[tokio::test]
async fn accept_refuses_a_bad_request() {
    let (mut client, server) = tokio::io::duplex(4096);
    let accepting = tokio::spawn(ws_tokio::accept(server));
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let result = bounded(accepting).await.unwrap();
    assert!(matches!(result, Err(Error::Handshake(_))), "{result:?}");
    let mut answer = String::new();
    bounded(tokio::io::AsyncReadExt::read_to_string(
        &mut client,
        &mut answer,
    ))
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
}

/// Streams the caller made: an in-memory duplex pipe and a Unix socket
/// pair, both roles of ws-tokio on them.
#[tokio::test]
async fn caller_supplied_streams() {
    let (a, b) = tokio::io::duplex(1024);
    tokio::spawn(common::echo(b));
    let mut ws = bounded(Builder::new("ws://in-memory/chat").connect_on(a))
        .await
        .unwrap();
    for size in [0, 10, 1023, 1024, 100_000] {
        let message = binary(vec![3; size]);
        bounded(ws.send(message.clone())).await.unwrap();
        assert_eq!(bounded(ws.recv()).await.unwrap().unwrap(), message);
    }
    bounded(ws.close(CloseCode::NORMAL, "")).await.unwrap();

    let (a, b) = tokio::net::UnixStream::pair().unwrap();
    tokio::spawn(common::echo(b));
    let mut ws = bounded(Builder::new("ws://localhost/").connect_on(a))
        .await
        .unwrap();
    bounded(ws.send_text("over unix")).await.unwrap();
    assert_eq!(
        bounded(ws.recv()).await.unwrap().unwrap(),
        text("over unix")
    );
    bounded(ws.close(CloseCode::NORMAL, "")).await.unwrap();
    assert!(ws.closed().unwrap().was_clean);
}

/// ws-proto's rules hold through the driver: invalid UTF-8 fails with
/// 1007, reported once, then the end.
#[tokio::test]
async fn invalid_utf8_fails_with_1007() {
    let (a, mut b) = tokio::io::duplex(4096);
    let server = tokio::spawn(async move {
        raw_server(&mut b).await;
        b.write_all(&server_frame(op::TEXT, b"fine")).await.unwrap();
        b.write_all(&server_frame(op::TEXT, &[0xce, 0xba, 0xff]))
            .await
            .unwrap();
        let mut rest = Vec::new();
        let _ = tokio::io::AsyncReadExt::read_to_end(&mut b, &mut rest).await;
        rest // the client's close frame, masked
    });
    let mut ws = bounded(Builder::new("ws://raw/").connect_on(a))
        .await
        .unwrap();
    assert_eq!(bounded(ws.recv()).await.unwrap().unwrap(), text("fine"));
    let error = bounded(ws.recv()).await.unwrap().unwrap_err();
    assert!(
        matches!(
            error,
            Error::WebSocket(ws_proto::Error::Protocol(ProtocolError::InvalidUtf8))
        ),
        "{error:?}"
    );
    assert!(bounded(ws.recv()).await.is_none());
    assert_eq!(ws.closed().unwrap().code, CloseCode::INVALID_PAYLOAD);
    let rest = bounded(server).await.unwrap();
    assert_eq!(rest[0], 0x88, "a close frame was sent");
}

/// A message over the limit fails with 1009 from its header, before the
/// payload is buffered.
#[tokio::test]
async fn message_over_the_limit_fails_with_1009() {
    let url = echo_server().await;
    let mut ws = bounded(Builder::new(&url).max_message_size(1000).connect())
        .await
        .unwrap();
    bounded(ws.send(binary(vec![0; 2000]))).await.unwrap();
    let error = bounded(ws.recv()).await.unwrap().unwrap_err();
    assert!(
        matches!(
            error,
            Error::WebSocket(ws_proto::Error::Protocol(
                ProtocolError::MessageTooLarge { .. }
            )) | Error::WebSocket(ws_proto::Error::Protocol(
                ProtocolError::FrameTooLarge { .. }
            ))
        ),
        "{error:?}"
    );
    assert!(ws.connection().buffer_capacity() < 64 << 10);
    assert!(bounded(ws.recv()).await.is_none());
    assert_eq!(ws.closed().unwrap().code, CloseCode::MESSAGE_TOO_BIG);
}

/// A client over `a` (a raw server at the other end) with a close timeout
/// of 300 ms.
async fn client_closing_within_300ms(
    a: tokio::io::DuplexStream,
) -> ws_tokio::WebSocketStream<tokio::io::DuplexStream> {
    bounded(
        Builder::new("ws://raw/")
            .close_timeout(Some(Duration::from_millis(300)))
            .connect_on(a),
    )
    .await
    .unwrap()
}

/// `took` is the 300 ms close timeout, with room for a loaded machine.
fn assert_took_the_close_timeout(took: Duration) {
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

/// A peer that never answers the close frame: `close` returns at the
/// close timeout, through the tokio timer that follows `poll_timeout`.
#[tokio::test]
async fn close_is_bounded_by_the_close_timeout() {
    let (a, mut b) = tokio::io::duplex(4096);
    let server = tokio::spawn(async move {
        raw_server(&mut b).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(b);
    });
    let mut ws = client_closing_within_300ms(a).await;
    let start = Instant::now();
    let result = bounded(ws.close(CloseCode::NORMAL, "")).await;
    let took = start.elapsed();
    assert!(
        matches!(
            result,
            Err(Error::WebSocket(ws_proto::Error::Timeout(
                TimeoutKind::Close
            )))
        ),
        "{result:?}"
    );
    assert_took_the_close_timeout(took);
    assert!(!ws.closed().unwrap().was_clean);
    server.abort();
}

/// A server that closes, then never ends TCP: the client answers and ends
/// at its close timeout, cleanly. The close frame arrives in a read whose
/// time the connection did not ask for (no keepalive): the close timer
/// must still start, from the time of the next timer check.
#[tokio::test]
async fn a_peer_close_without_the_end_of_tcp_ends_at_the_close_timeout() {
    let (a, mut b) = tokio::io::duplex(4096);
    let server = tokio::spawn(async move {
        raw_server(&mut b).await;
        // Later than the handshake's answer, so that it comes in a read of
        // its own, once the connection is open.
        tokio::time::sleep(Duration::from_millis(50)).await;
        b.write_all(&server_frame(op::CLOSE, &1000u16.to_be_bytes()))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(b);
    });
    let mut ws = client_closing_within_300ms(a).await;
    let start = Instant::now();
    let result = bounded(ws.recv()).await;
    let took = start.elapsed();
    assert!(result.is_none(), "{result:?}");
    assert_took_the_close_timeout(took);
    assert!(ws.closed().unwrap().was_clean);
    server.abort();
}

/// Keepalive pings come from ws-proto's timer; a peer that answers them
/// keeps the connection open, and `rtt` is measured.
#[tokio::test]
async fn keepalive_through_the_timer() {
    let url = echo_server().await;
    let mut ws = bounded(
        Builder::new(&url)
            .keepalive(Some(Duration::from_millis(50)))
            .connect(),
    )
    .await
    .unwrap();
    // Nothing to receive: recv runs the timers until the deadline.
    let idle = tokio::time::timeout(Duration::from_millis(400), ws.recv()).await;
    assert!(idle.is_err(), "{idle:?}");
    assert!(ws.connection().rtt().is_some());
    bounded(ws.close(CloseCode::NORMAL, "")).await.unwrap();
}

/// A peer that stops answering is found by the keepalive timer while a
/// `recv` waits: the failure comes from a timer, not a read, after `recv`
/// had found nothing to decode (ws-tokio skips decoding again until an
/// input; a timer is one). After a message, so that the connection has
/// decoded and come back empty at least once.
#[tokio::test]
async fn a_silent_peer_fails_a_waiting_recv_by_the_keepalive_timer() {
    let (a, mut b) = tokio::io::duplex(4096);
    let server = tokio::spawn(async move {
        raw_server(&mut b).await;
        // One message (unmasked, from a server), then silence.
        b.write_all(&[0x82, 2, 7, 7]).await.unwrap();
        tokio::time::sleep(Duration::from_secs(10)).await;
        drop(b);
    });
    let mut ws = bounded(
        Builder::new("ws://raw/")
            .config(ws_proto::Config::default().keepalive_timeout(Duration::from_millis(100)))
            .keepalive(Some(Duration::from_millis(50)))
            .close_timeout(Some(Duration::from_millis(200)))
            .connect_on(a),
    )
    .await
    .unwrap();
    assert_eq!(
        bounded(ws.recv()).await.unwrap().unwrap(),
        binary(vec![7, 7])
    );
    let start = Instant::now();
    let result = bounded(ws.recv()).await;
    assert!(
        matches!(
            result,
            Some(Err(Error::WebSocket(ws_proto::Error::Timeout(
                TimeoutKind::Keepalive
            ))))
        ),
        "{result:?}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert!(
        bounded(ws.recv()).await.is_none(),
        "the failure is reported once"
    );
    server.abort();
}

/// With traffic, the keepalive deadline moves later at every input: the
/// timer stays armed at the earlier deadline, fires early, finds nothing
/// due and is re-armed. After many such moves, once idle, the ping still
/// goes out and its pong is measured. (Whether a ping went out during the
/// traffic depends on the machine's timing: not asserted.)
#[tokio::test]
async fn keepalive_deadline_pushed_back_by_traffic() {
    let url = echo_server().await;
    let mut ws = bounded(
        Builder::new(&url)
            .keepalive(Some(Duration::from_millis(60)))
            .connect(),
    )
    .await
    .unwrap();
    for i in 0..20u8 {
        bounded(ws.send_binary(&[i; 8])).await.unwrap();
        assert_eq!(
            bounded(ws.recv()).await.unwrap().unwrap(),
            binary(vec![i; 8])
        );
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    let idle = tokio::time::timeout(Duration::from_millis(400), ws.recv()).await;
    assert!(idle.is_err(), "{idle:?}");
    assert!(
        ws.connection().rtt().is_some(),
        "no keepalive ping once idle"
    );
    bounded(ws.close(CloseCode::NORMAL, "")).await.unwrap();
}

/// Connecting to a port nobody listens on, and to bad URLs, fails
/// cleanly.
#[tokio::test]
async fn connect_errors() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let result = bounded(ws_tokio::connect(format!("ws://{addr}/"))).await;
    assert!(matches!(result, Err(Error::Io(_))), "{result:?}");
    let result = bounded(ws_tokio::connect("http://127.0.0.1/")).await;
    assert!(
        matches!(result, Err(Error::InvalidUrl { .. })),
        "{result:?}"
    );
    let result = bounded(
        Builder::new("ws://127.0.0.1:1/")
            .header("Bad Name", "x")
            .connect_on(tokio::io::duplex(16).0),
    )
    .await;
    assert!(matches!(result, Err(Error::Request(_))), "{result:?}");
}

/// The write half closes on its own (it reads the peer's close itself)
/// once the read half is gone, and the Sink side of a half works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_half_closes_without_its_reader() {
    let url = echo_server().await;
    let ws = bounded(ws_tokio::connect(&url)).await.unwrap();
    let (reader, mut writer) = ws.split();
    drop(reader);
    for i in 0..10 {
        bounded(common::feed(&mut writer, text(&i.to_string())))
            .await
            .unwrap();
    }
    bounded(common::flush(&mut writer)).await.unwrap();
    bounded(common::close(&mut writer)).await.unwrap();
    assert!(matches!(
        writer.send_text("late").await,
        Err(Error::ConnectionClosed)
    ));
}
