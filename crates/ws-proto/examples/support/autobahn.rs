//! What the Autobahn client examples (ws-proto's `blocking_client`, ws-mio's
//! `autobahn_mio`, which includes this file by path) read from the
//! environment the shared runner sets (`../shared/tools/autobahn/`).

use std::error::Error;

/// The fuzzing server and the agent name to report under.
pub(crate) struct Target {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) agent: String,
}

impl Target {
    /// Reads `AUTOBAHN_URL` (`ws://host:port`, default
    /// `ws://127.0.0.1:9001`) and `AUTOBAHN_AGENT` (default `agent`).
    pub(crate) fn from_env(agent: &str) -> Result<Self, Box<dyn Error>> {
        let url = std::env::var("AUTOBAHN_URL").unwrap_or_else(|_| "ws://127.0.0.1:9001".into());
        let agent = std::env::var("AUTOBAHN_AGENT").unwrap_or_else(|_| agent.into());
        let authority = url
            .strip_prefix("ws://")
            .ok_or("AUTOBAHN_URL must be ws://host:port")?;
        let (host, port) = authority
            .trim_end_matches('/')
            .rsplit_once(':')
            .ok_or("AUTOBAHN_URL needs a port")?;
        Ok(Self {
            host: host.to_owned(),
            port: port.parse()?,
            agent,
        })
    }
}
