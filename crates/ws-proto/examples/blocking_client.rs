//! A minimal blocking driver for `ws-proto` over `std::net`, used to run the
//! Autobahn TestSuite's client cases against the protocol core alone:
//!
//! ```text
//! ../shared/tools/autobahn/run-client-suite.sh -- \
//!     cargo run --release -p ws-proto --example blocking_client
//! ```
//!
//! It reads `AUTOBAHN_URL` (`ws://host:port`) and `AUTOBAHN_AGENT`, asks for
//! the case count, echoes every message of every case, then asks the server
//! to write its reports. It is also the shortest complete example of the
//! driving loop over a real socket.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use ws_proto::{ClientRequest, Config, Connection, Event, Message};

#[path = "support/autobahn.rs"]
mod autobahn;
#[path = "support/blocking.rs"]
mod blocking;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Runs one connection to `path`, answering each message with `on_message`;
/// returns once the connection is closed.
fn run(
    host: &str,
    port: u16,
    path: &str,
    mut on_message: impl FnMut(&mut Connection, Message),
) -> Result<()> {
    let mut stream = TcpStream::connect((host, port))?;
    stream.set_nodelay(true)?;
    // Autobahn's 9.* cases send messages of up to 16 MiB.
    let config = Config::default()
        .max_message_size(64 << 20)
        .max_frame_size(64 << 20);
    let request = ClientRequest::new(host, port, path);
    let mut conn = Connection::client(Instant::now(), config, &request, ws_proto::default_rng())?;
    blocking::drive(&mut stream, &mut conn, |conn, event| {
        if let Event::Message(message) = event {
            on_message(conn, message);
        }
    })?;
    Ok(())
}

fn echo(conn: &mut Connection, message: Message) {
    // A send can only fail once the connection is closing: nothing to do then.
    let _ = match message {
        Message::Text(text) => conn.send_text(&text),
        Message::Binary(data) => conn.send_binary(&data),
    };
}

fn main() -> Result<()> {
    let target = autobahn::Target::from_env("ws-proto")?;
    let (host, port, agent) = (target.host.as_str(), target.port, &target.agent);

    let mut count = 0u32;
    run(host, port, "/getCaseCount", |_, m| {
        if let Message::Text(t) = m {
            count = t.trim().parse().unwrap_or(0);
        }
    })?;
    eprintln!("autobahn: {count} cases");
    for case in 1..=count {
        let path = format!("/runCase?case={case}&agent={agent}");
        if let Err(e) = run(host, port, &path, echo) {
            eprintln!("case {case}: {e}");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    run(
        host,
        port,
        &format!("/updateReports?agent={agent}"),
        |_, _| {},
    )?;
    Ok(())
}
