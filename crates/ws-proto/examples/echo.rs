//! Talks to a WebSocket echo server and prints what happens.
//!
//! ```text
//! cargo run -p ws-proto --example echo                 # embedded loopback echo server
//! cargo run -p ws-proto --example echo ws://HOST:PORT/PATH [MESSAGE...]
//! ```
//!
//! With no URL it starts an echo server on a free loopback port (the
//! `ws-proto` server role over `std::net`, a thread per connection) and
//! talks to it. It sends each MESSAGE (default: "Hello world", a binary
//! message and a ping), prints every event as it arrives, closes with 1000
//! once every echo is back, and exits 0 on a clean close.

use std::net::{TcpListener, TcpStream};
use std::time::Instant;

use ws_proto::{ClientRequest, CloseCode, Config, Connection, Event, Message, ServerConfig};

#[path = "support/blocking.rs"]
mod blocking;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Serves one echo connection.
fn serve(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut conn = Connection::server(Instant::now(), Config::default(), ServerConfig::default());
    let _ = blocking::drive(&mut stream, &mut conn, |conn, event| {
        let _ = match event {
            Event::Message(Message::Text(text)) => conn.send_text(&text),
            Event::Message(Message::Binary(data)) => conn.send_binary(&data),
            _ => Ok(()),
        };
    });
}

/// Starts the embedded echo server; returns its URL.
fn start_echo_server() -> Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("ws://{}/", listener.local_addr()?);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || serve(stream));
        }
    });
    Ok(url)
}

/// Splits `ws://host[:port][/path]` (no TLS in this example).
fn parse_url(url: &str) -> Result<(String, u16, String)> {
    let rest = url
        .strip_prefix("ws://")
        .ok_or("only ws:// URLs are supported by this example")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => (h, p.parse()?),
        _ => (authority, 80),
    };
    Ok((
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
        port,
        path.to_owned(),
    ))
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let url = match args.next() {
        Some(url) => url,
        None => {
            let url = start_echo_server()?;
            eprintln!("embedded echo server at {url}");
            url
        }
    };
    let mut messages: Vec<String> = args.collect();
    if messages.is_empty() {
        messages.push("Hello world".into());
    }
    let (host, port, path) = parse_url(&url)?;
    let mut stream = TcpStream::connect((host.as_str(), port))?;
    stream.set_nodelay(true)?;
    let request = ClientRequest::new(&host, port, &path);
    let mut conn = Connection::client(
        Instant::now(),
        Config::default(),
        &request,
        ws_proto::default_rng(),
    )?;

    let expected = messages.len() + 1;
    let mut echoed = 0;
    let mut clean = false;
    blocking::drive(&mut stream, &mut conn, |conn, event| {
        match &event {
            Event::Open(open) => {
                println!("open (subprotocol: {:?})", open.subprotocol);
                for m in &messages {
                    conn.send_text(m).expect("open");
                }
                conn.send_binary(&[0xDE, 0xAD, 0xBE, 0xEF]).expect("open");
                conn.send_ping(b"are you there?").expect("open");
            }
            Event::Message(Message::Text(text)) => println!("message (text): {text}"),
            Event::Message(Message::Binary(data)) => {
                println!("message (binary): {:02x?}", &data[..])
            }
            Event::Ping(p) => println!("ping: {:?}", String::from_utf8_lossy(p)),
            Event::Pong(p) => println!("pong: {:?}", String::from_utf8_lossy(p)),
            Event::Error(e) => eprintln!("error: {e}"),
            Event::Closed(c) => {
                println!(
                    "closed: code {} reason {:?} clean {}",
                    c.code, c.reason, c.was_clean
                );
                clean = c.was_clean;
            }
            other => println!("{other:?}"),
        }
        if let Event::Message(_) = event {
            echoed += 1;
            if echoed == expected {
                let _ = conn.close(Instant::now(), CloseCode::NORMAL, "done");
            }
        }
    })?;
    if clean {
        Ok(())
    } else {
        Err("the connection did not close cleanly".into())
    }
}
