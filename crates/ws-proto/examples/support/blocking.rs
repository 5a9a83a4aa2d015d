//! A blocking `std::net` driver for a `ws-proto` connection, shared by the
//! examples. It is the driving loop of the crate documentation over a real
//! socket: drain events (the handler may queue answers), write the queued
//! bytes, then block on a read until the next timer deadline.

use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use ws_proto::{Connection, Event};

/// Runs `conn` over `stream` until it is closed, handing every event to
/// `on_event` (the last one is always `Event::Closed`).
pub(crate) fn drive(
    stream: &mut TcpStream,
    conn: &mut Connection,
    mut on_event: impl FnMut(&mut Connection, Event),
) -> io::Result<()> {
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let mut closed = false;
        while let Some(event) = conn.poll_event() {
            closed |= matches!(event, Event::Closed(_));
            on_event(conn, event);
        }
        while let Some(bytes) = conn.poll_transmit() {
            match stream.write(bytes) {
                Ok(n) => conn.advance_transmit(n),
                // The peer is gone; after Closed there is nothing to save.
                Err(_) if closed => break,
                Err(e) => return Err(e),
            }
        }
        if closed {
            // Ending our side of the transport is how a server finishes the
            // closing handshake; for a client it is the last step too.
            let _ = stream.shutdown(std::net::Shutdown::Both);
            return Ok(());
        }
        let now = Instant::now();
        match conn.poll_timeout() {
            Some(at) if at <= now => {
                conn.handle_timeout(now);
                continue;
            }
            Some(at) => stream.set_read_timeout(Some(at - now))?,
            None => stream.set_read_timeout(None)?,
        }
        match stream.read(&mut buf) {
            Ok(0) => conn.receive_eof(),
            Ok(n) => conn.receive(Instant::now(), &buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                conn.handle_timeout(Instant::now());
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            // A reset is the end of the transport, reported through the events.
            Err(_) => conn.receive_eof(),
        }
    }
}
