//! The Autobahn TestSuite client, on ws-client's public API only: a
//! `Worker` on the main thread runs one case at a time; each case's
//! handler echoes every message from `on_message`. It uses the defaults a
//! user gets, with one deviation: every case offers permessage-deflate
//! (`Builder::deflate` with `DeflateConfig::default()`), which is off by
//! default. The compression cases 12.* and 13.* need it; the fuzzing server
//! declines the offer in every other case, so 1.* to 10.* run exactly as
//! with the defaults. No limit is raised: the defaults (16 MiB per frame,
//! 64 MiB per message) already cover 9.*'s 16 MiB messages.
//!
//! Run through `tests/autobahn/run.sh`, which sets `AUTOBAHN_URL` and
//! `AUTOBAHN_AGENT` (see `../shared/tools/autobahn/run-client-suite.sh`).

use std::sync::{Arc, Mutex};

use ws_client::{Callbacks, Data, DeflateConfig, WebSocket, Worker};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("AUTOBAHN_URL").unwrap_or_else(|_| "ws://127.0.0.1:9001".into());
    let url = url.trim_end_matches('/');
    let agent = std::env::var("AUTOBAHN_AGENT").unwrap_or_else(|_| "ws-client".into());
    let mut worker = Worker::new()?;

    let count = Arc::new(Mutex::new(None::<u32>));
    let seen = count.clone();
    worker.connect(
        &format!("{url}/getCaseCount"),
        Callbacks::new().on_message(move |_, event| {
            *seen.lock().unwrap() = event.data.as_text().and_then(|t| t.trim().parse().ok());
        }),
    )?;
    worker.run_until_idle()?;
    let count = count
        .lock()
        .unwrap()
        .ok_or("the server did not give a case count")?;
    eprintln!("autobahn: {count} cases");

    for case in 1..=count {
        let echo = Callbacks::new().on_message(|ws, event| {
            // A send refused because the case already failed the
            // connection is what the case tests: nothing to do.
            let _ = match event.data {
                Data::Text(text) => ws.send(text),
                Data::Blob(bytes) => ws.send(bytes),
                _ => unreachable!("the data type is text"),
            };
        });
        let runner = format!("{url}/runCase?case={case}&agent={agent}");
        let connected = WebSocket::builder(&runner)
            .worker(&worker)
            .deflate(Some(DeflateConfig::default()))
            .connect(echo);
        if let Err(e) = connected {
            eprintln!("case {case}: {e}");
        }
        worker.run_until_idle()?;
    }

    worker.connect(
        &format!("{url}/updateReports?agent={agent}"),
        Callbacks::new(),
    )?;
    worker.run_until_idle()?;
    Ok(())
}
