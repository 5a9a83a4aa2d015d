//! The byte stream under a WebSocket connection: plain TCP, or TLS over it.
//! It only moves bytes between the socket and the protocol state machine;
//! TLS itself is in [`crate::tls_stream`].

use std::io::{self, IoSlice, Read as _, Write as _};

use crate::error::Error;
use crate::stream::Stream;
use crate::tls_stream::TlsStream;

/// What one read produced.
#[derive(Debug)]
pub(crate) enum Read {
    /// This many plaintext bytes were read into the buffer.
    Data(usize),
    /// Nothing more for now.
    WouldBlock,
    /// The peer ended the stream.
    Eof,
}

pub(crate) enum Transport {
    Plain(Stream),
    Tls(Stream, Box<TlsStream>),
}

impl Transport {
    pub(crate) fn stream(&mut self) -> &mut Stream {
        match self {
            Self::Plain(s) | Self::Tls(s, _) => s,
        }
    }

    /// Reads once: plaintext into `buf`, or what the socket says.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> Result<Read, Error> {
        match self {
            Self::Plain(stream) => loop {
                return match stream.read(buf) {
                    Ok(0) => Ok(Read::Eof),
                    Ok(n) => Ok(Read::Data(n)),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Read::WouldBlock),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => Err(Error::Io(e)),
                };
            },
            Self::Tls(stream, tls) => tls.read(stream, buf),
        }
    }

    /// Writes what the connection has queued, until done or the socket is
    /// full; returns whether everything was written.
    pub(crate) fn flush(&mut self, proto: &mut ws_proto::Connection) -> Result<bool, Error> {
        match self {
            Self::Plain(stream) => loop {
                let waiting = proto.buffered_amount();
                if waiting == 0 {
                    return Ok(true);
                }
                // One run of bytes (the common case: a few frames in one
                // block) goes out with a plain write; only pieces need the
                // vector.
                let result = match proto.poll_transmit() {
                    Some(run) if run.len() == waiting => stream.write(run),
                    _ => {
                        let mut slices = [IoSlice::new(&[]); 32];
                        let n = proto.poll_transmit_vectored(&mut slices);
                        stream.write_vectored(&slices[..n])
                    }
                };
                match result {
                    Ok(0) => return Err(Error::Io(io::ErrorKind::WriteZero.into())),
                    Ok(written) => proto.advance_transmit(written),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(Error::Io(e)),
                }
            },
            Self::Tls(stream, tls) => tls.flush(stream, proto),
        }
    }

    /// Ends the stream: a TLS close_notify, then TCP FIN.
    pub(crate) fn shutdown(&mut self) {
        if let Self::Tls(stream, tls) = self {
            tls.shutdown(stream);
        }
        let _ = self.stream().shutdown();
    }
}
