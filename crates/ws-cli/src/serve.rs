//! `wsc --serve ADDR`: only the echo server, until interrupted.

use std::net::ToSocketAddrs as _;

use ws_mio::{EchoServer, ServerOptions};

use crate::args::Serve;
use crate::{Exit, fail};

pub(crate) fn run(serve: Serve) -> Exit {
    let addr = match serve.addr.to_socket_addrs().map(|mut a| a.next()) {
        Ok(Some(addr)) => addr,
        Ok(None) | Err(_) => {
            return fail(
                Exit::Usage,
                format!("--serve {:?}: not an address to listen on", serve.addr),
            );
        }
    };
    let mut options = ServerOptions::default();
    if let (Some(cert), Some(key)) = (&serve.cert, &serve.key) {
        let read = |path: &std::path::Path| {
            std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
        };
        let config = read(cert).and_then(|cert| {
            let key = read(key)?;
            ws_mio::server_config_from_pem(&cert, &key).map_err(|e| e.to_string())
        });
        match config {
            Ok(config) => options.tls = Some(config),
            Err(e) => return fail(Exit::Usage, e),
        }
    }
    let started = ws_mio::EventLoop::new().and_then(|mut event_loop| {
        event_loop.set_memory_budget(serve.memory_budget);
        EchoServer::start_in(event_loop, addr, options)
    });
    let server = match started {
        Ok(server) => server,
        Err(e) => return fail(Exit::Failed, format!("cannot listen on {addr}: {e}")),
    };
    eprintln!("wsc: echo server listening on {}", server.url());
    match server.wait() {
        Ok(()) => Exit::Clean,
        Err(e) => fail(Exit::Failed, format!("echo server: {e}")),
    }
}
