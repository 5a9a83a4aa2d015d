//! The byte stream under a WebSocket connection: plain TCP, or TLS over it.
//! It only moves bytes between the socket and the protocol state machine;
//! TLS itself is in [`crate::tls_stream`].

use std::io::{self, IoSlice, Read as _, Write as _};

use crate::error::Error;
use crate::stream::Stream;
use crate::tls_stream::TlsStream;

/// Writes `slices` to a non-blocking socket once (again when
/// interrupted): how many bytes it took, or `None` when it is full. One
/// slice goes out with a plain `write`, since `writev` costs more per call
/// (about 0.4 µs here, the price of copying several KiB). The one reading
/// of a write's result, for the loop's flush and a sender's write-through.
pub(crate) fn write_plain(
    stream: &mut Stream,
    slices: &[IoSlice<'_>],
) -> Result<Option<usize>, Error> {
    loop {
        let result = match slices {
            [run] => stream.write(run),
            _ => stream.write_vectored(slices),
        };
        return match result {
            Ok(0) => Err(Error::Io(io::ErrorKind::WriteZero.into())),
            Ok(n) => Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => Err(Error::Io(e)),
        };
    }
}

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
                // block) is one slice; only pieces need the vector.
                let wrote = match proto.poll_transmit() {
                    Some(run) if run.len() == waiting => write_plain(stream, &[IoSlice::new(run)]),
                    _ => {
                        let mut slices = [IoSlice::new(&[]); 32];
                        let n = proto.poll_transmit_vectored(&mut slices);
                        write_plain(stream, &slices[..n])
                    }
                };
                match wrote? {
                    Some(written) => proto.advance_transmit(written),
                    None => return Ok(false),
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
