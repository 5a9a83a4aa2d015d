//! The Autobahn TestSuite client, on ws-tokio's public API only: a
//! current-thread runtime runs one case at a time; each case echoes every
//! message with `recv` and `send`. It uses the defaults a user gets, with
//! one deviation: every case offers permessage-deflate
//! (`Builder::deflate` with `DeflateConfig::default()`), which is off by
//! default. The compression cases 12.* and 13.* need it; the fuzzing server
//! declines the offer in every other case, so 1.* to 10.* run exactly as
//! with the defaults. No limit is raised: the defaults (16 MiB per frame,
//! 64 MiB per message) already cover 9.*'s 16 MiB messages.
//!
//! Run through `tests/autobahn/run.sh tokio`, which sets `AUTOBAHN_URL` and
//! `AUTOBAHN_AGENT` (see `../shared/tools/autobahn/run-client-suite.sh`).

use ws_tokio::{Builder, DeflateConfig, Message};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Echoes every message of one case until the connection ends.
async fn echo(url: &str) -> Result<()> {
    let mut ws = Builder::new(url)
        .deflate(Some(DeflateConfig::default()))
        .connect()
        .await?;
    while let Some(message) = ws.recv().await {
        // A failed connection (what many cases test) ends the stream
        // after its error; a send refused because the case already
        // failed the connection needs nothing either.
        let Ok(message) = message else { break };
        let _ = ws.send(message).await;
    }
    Ok(())
}

async fn run() -> Result<()> {
    let url = std::env::var("AUTOBAHN_URL").unwrap_or_else(|_| "ws://127.0.0.1:9001".into());
    let url = url.trim_end_matches('/');
    let agent = std::env::var("AUTOBAHN_AGENT").unwrap_or_else(|_| "ws-tokio".into());

    let mut ws = ws_tokio::connect(format!("{url}/getCaseCount")).await?;
    let count: u32 = match ws.recv().await.transpose()? {
        Some(Message::Text(text)) => text.trim().parse()?,
        _ => return Err("the server did not give a case count".into()),
    };
    while ws.recv().await.is_some() {}
    eprintln!("autobahn: {count} cases");

    for case in 1..=count {
        if let Err(e) = echo(&format!("{url}/runCase?case={case}&agent={agent}")).await {
            eprintln!("case {case}: {e}");
        }
    }

    let mut ws = ws_tokio::connect(format!("{url}/updateReports?agent={agent}")).await?;
    while ws.recv().await.is_some() {}
    Ok(())
}

fn main() -> Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run())
}
