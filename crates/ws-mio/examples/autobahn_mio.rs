//! The Autobahn TestSuite client over the ws-mio event loop: each case's
//! connection echoes every message from inside its handler (the loop
//! thread's direct path), and the next case starts from the `Closed` event.
//!
//! ```text
//! ../shared/tools/autobahn/run-client-suite.sh -- \
//!     cargo run --release -p ws-mio --example autobahn_mio
//! ```

use std::sync::{Arc, Mutex};

use ws_mio::{ClientOptions, Conn, Event, EventLoop, Handle};
use ws_proto::{ClientRequest, Message};

#[path = "../../ws-proto/examples/support/autobahn.rs"]
mod autobahn;

struct Suite {
    target: autobahn::Target,
    count: u32,
}

fn options() -> ClientOptions {
    // Autobahn's 9.* cases send messages of up to 16 MiB.
    let config = ws_proto::Config::default()
        .max_message_size(64 << 20)
        .max_frame_size(64 << 20);
    ClientOptions::default().config(config)
}

/// Runs case `case` (1-based); after the last, asks for the reports.
fn run_case(handle: Handle, suite: Arc<Suite>, case: u32) {
    if case > suite.count {
        let request = ClientRequest::new(
            &suite.target.host,
            suite.target.port,
            format!("/updateReports?agent={}", suite.target.agent),
        );
        let stop = handle.clone();
        handle
            .connect(&request, options(), move |_: &Conn, event: Event| {
                if let Event::Closed(_) = event {
                    stop.stop();
                }
            })
            .expect("updateReports");
        return;
    }
    let request = ClientRequest::new(
        &suite.target.host,
        suite.target.port,
        format!("/runCase?case={case}&agent={}", suite.target.agent),
    );
    let next = handle.clone();
    let result = handle.connect(
        &request,
        options(),
        move |conn: &Conn, event: Event| match event {
            Event::Message(Message::Text(text)) => {
                let _ = conn.send_text(&text);
            }
            Event::Message(Message::Binary(data)) => {
                let _ = conn.send_binary(&data);
            }
            Event::Closed(_) => run_case(next.clone(), suite.clone(), case + 1),
            _ => {}
        },
    );
    if let Err(e) = result {
        eprintln!("case {case}: {e}");
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = autobahn::Target::from_env("ws-mio")?;

    let mut event_loop = EventLoop::new()?;
    let handle = event_loop.handle();
    let count = Arc::new(Mutex::new(0u32));
    let (seen, stop) = (count.clone(), handle.clone());
    handle.connect(
        &ClientRequest::new(&target.host, target.port, "/getCaseCount"),
        options(),
        move |_: &Conn, event: Event| match event {
            Event::Message(Message::Text(t)) => {
                *seen.lock().unwrap() = t.trim().parse().unwrap_or(0)
            }
            Event::Closed(_) => stop.stop(),
            _ => {}
        },
    )?;
    event_loop.run()?;
    let count = *count.lock().unwrap();
    eprintln!("autobahn: {count} cases");

    let mut event_loop = EventLoop::new()?;
    let suite = Arc::new(Suite { target, count });
    run_case(event_loop.handle(), suite, 1);
    event_loop.run()?;
    Ok(())
}
