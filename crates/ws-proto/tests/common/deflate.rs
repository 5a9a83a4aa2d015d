//! permessage-deflate test helpers: connections opened against a scripted
//! peer with a chosen extension offer or answer, and a peer-side compressor
//! built straight on flate2 (independent of the crate's codec).

use std::time::Instant;

use flate2::{Compress, Compression, FlushCompress};
use ws_proto::{ClientRequest, Config, Connection, DeflateConfig, Event, ServerConfig};
use ws_test_support::handshake;

use super::{rng, take_output};

/// A config with permessage-deflate on, everything else default.
pub fn deflate_config(deflate: DeflateConfig) -> Config {
    Config::default().deflate(Some(deflate))
}

/// A config with permessage-deflate on with default settings, compressing
/// every message (no threshold).
pub fn deflate_all() -> Config {
    deflate_config(DeflateConfig::default().compression_threshold(0))
}

/// A client whose request a scripted server answers with `extensions` as
/// `Sec-WebSocket-Extensions` (none when `None`). Returns the client, the
/// offer it made, and its events.
pub fn client_answered(
    config: Config,
    extensions: Option<&str>,
) -> (Connection, Option<String>, Vec<Event>) {
    let now = Instant::now();
    let request = ClientRequest::new("example.com", 80, "/");
    let mut client = Connection::client(now, config, &request, rng(7)).expect("valid request");
    let head = String::from_utf8(take_output(&mut client)).unwrap();
    let key = handshake::header_str(&head, "sec-websocket-key").unwrap();
    let offer = handshake::header_str(&head, "sec-websocket-extensions").map(str::to_owned);
    let answer = handshake::answer_101(key.as_bytes(), &extensions_line(extensions));
    client.receive(now, answer.as_bytes());
    let events = std::iter::from_fn(|| client.poll_event()).collect();
    (client, offer, events)
}

/// A server that has read a scripted request offering `extensions`.
/// Returns the server, its answer's `Sec-WebSocket-Extensions` value, and
/// its events.
pub fn server_offered(
    config: Config,
    extensions: Option<&str>,
) -> (Connection, Option<String>, Vec<Event>) {
    let now = Instant::now();
    let mut server = Connection::server(now, config, ServerConfig::default());
    let request = handshake::request("example.com", "/", &extensions_line(extensions));
    server.receive(now, request.as_bytes());
    let events = std::iter::from_fn(|| server.poll_event()).collect();
    let head = String::from_utf8(take_output(&mut server)).unwrap();
    let answer = handshake::header_str(&head, "sec-websocket-extensions").map(str::to_owned);
    (server, answer, events)
}

/// A `Sec-WebSocket-Extensions` header line with `extensions`, or nothing.
fn extensions_line(extensions: Option<&str>) -> String {
    extensions.map_or_else(String::new, |e| {
        format!("Sec-WebSocket-Extensions: {e}\r\n")
    })
}

/// The peer's side of compression: raw deflate with a sync flush, the
/// trailing `00 00 ff ff` removed, context kept across messages.
pub struct PeerDeflater(Compress);

impl PeerDeflater {
    pub fn new(window_bits: u8) -> Self {
        Self(Compress::new_with_window_bits(
            Compression::default(),
            false,
            window_bits,
        ))
    }

    /// One message's compressed payload, as it goes on the wire.
    pub fn message(&mut self, data: &[u8]) -> Vec<u8> {
        if data.is_empty() {
            // zlib writes nothing for a second flush in a row.
            return vec![0x00];
        }
        let mut out = self.flushed(data);
        assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
        out.truncate(out.len() - 4);
        out
    }

    /// `data` compressed and sync-flushed, tail kept (for repeating).
    pub fn flushed(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() / 2 + 64);
        let mut input = data;
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity());
            }
            let before = self.0.total_in();
            self.0
                .compress_vec(input, &mut out, FlushCompress::Sync)
                .unwrap();
            input = &input[(self.0.total_in() - before) as usize..];
            if input.is_empty() && out.len() < out.capacity() {
                return out;
            }
        }
    }
}
