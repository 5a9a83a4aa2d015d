//! From the command line's connection settings to a `ws_client::Builder`,
//! and the embedded echo server used when no URL is given.

use std::net::SocketAddr;

use ws_client::Builder;
use ws_mio::{EchoServer, ServerOptions};

use crate::args::{Connect, ProxyArg};

/// The URL to use, starting the embedded echo server (announced on
/// stderr) when none was given. The server lives as long as the guard.
pub(crate) fn target(connect: &Connect) -> Result<(String, Option<EchoServer>), String> {
    match &connect.url {
        Some(url) => Ok((url.clone(), None)),
        None => {
            let loopback: SocketAddr = "127.0.0.1:0".parse().expect("a socket address");
            // It accepts permessage-deflate, for `--deflate`.
            let mut options = ServerOptions::default();
            options.config.deflate = Some(ws_client::ws_proto::DeflateConfig::default());
            let server = EchoServer::start(loopback, options)
                .map_err(|e| format!("cannot start the embedded echo server: {e}"))?;
            eprintln!("wsc: embedded echo server at {}", server.url());
            Ok((server.url(), Some(server)))
        }
    }
}

/// A builder for `url` with every connection setting applied.
pub(crate) fn builder(connect: &Connect, url: &str) -> Builder {
    let mut builder = ws_client::WebSocket::builder(url);
    for (name, value) in &connect.headers {
        builder = builder.header(name, value);
    }
    if let Some(cookie) = &connect.cookie {
        builder = builder.cookie(cookie);
    }
    for protocol in &connect.protocols {
        builder = builder.protocol(protocol);
    }
    if let Some(origin) = &connect.origin {
        builder = builder.origin(origin);
    }
    for ca in &connect.ca {
        builder = builder.ca_file(ca);
    }
    if let Some((cert, key)) = &connect.identity {
        builder = builder.client_auth_pem(cert, key);
    }
    #[cfg(feature = "insecure")]
    if connect.insecure {
        builder = builder.danger_accept_invalid_certs();
    }
    if let Some(t) = connect.connect_timeout {
        builder = builder.connect_timeout(t);
    }
    if let Some(t) = connect.handshake_timeout {
        builder = builder.handshake_timeout(Some(t));
    }
    if let Some(t) = connect.close_timeout {
        builder = builder.close_timeout(Some(t));
    }
    if let Some(n) = connect.max_message_size {
        builder = builder.max_message_size(n).max_frame_size(n);
    }
    match &connect.proxy {
        Some(ProxyArg::Url(url)) => builder = builder.proxy(url),
        Some(ProxyArg::FromEnv) => builder = builder.proxy_from_env(),
        None => {}
    }
    if let Some(path) = &connect.unix {
        builder = builder.unix_socket(path);
    }
    if connect.redirects > 0 {
        builder = builder.follow_redirects(connect.redirects);
    }
    if connect.deflate {
        builder = builder.deflate(Some(ws_client::ws_proto::DeflateConfig::default()));
    }
    builder
}
