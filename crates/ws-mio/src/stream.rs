//! [`Stream`]: the socket under a connection, TCP or a Unix domain socket.
//!
//! Everything above it (a proxy tunnel, TLS, the WebSocket protocol) only
//! reads and writes bytes, so one enum covers the sockets mio can poll. A
//! caller that made its own connection hands it over as a `Stream`
//! ([`Handle::connect_stream`](crate::Handle::connect_stream)).

use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;

use mio::net::TcpStream;
#[cfg(unix)]
use mio::net::UnixStream;

/// A connected, non-blocking socket a connection runs over.
///
/// Made from a [`mio::net::TcpStream`] or (on Unix) a
/// [`mio::net::UnixStream`] with `From`, or from the standard library's
/// sockets with [`Stream::from_std_tcp`] and [`Stream::from_std_unix`].
///
/// The event loop polls the socket itself, so it must be one the
/// operating system can poll. A byte stream that is not a socket (a
/// channel of an SSH library, an in-process tunnel) goes through one end
/// of `std::os::unix::net::UnixStream::pair()`, with a thread of yours
/// copying between the other end and that stream.
#[derive(Debug)]
#[non_exhaustive]
pub enum Stream {
    /// A TCP connection.
    Tcp(TcpStream),
    /// A Unix domain socket connection.
    #[cfg(unix)]
    Unix(UnixStream),
}

impl Stream {
    /// A TCP connection made with the standard library, made non-blocking.
    pub fn from_std_tcp(stream: std::net::TcpStream) -> io::Result<Self> {
        stream.set_nonblocking(true)?;
        Ok(Self::Tcp(TcpStream::from_std(stream)))
    }

    /// A Unix socket connection made with the standard library, made
    /// non-blocking.
    #[cfg(unix)]
    pub fn from_std_unix(stream: std::os::unix::net::UnixStream) -> io::Result<Self> {
        stream.set_nonblocking(true)?;
        Ok(Self::Unix(UnixStream::from_std(stream)))
    }

    /// Sets `TCP_NODELAY` (nothing for a Unix socket, which has no Nagle).
    pub(crate) fn set_nodelay(&self, on: bool) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.set_nodelay(on),
            #[cfg(unix)]
            Self::Unix(_) => Ok(()),
        }
    }

    /// Ends both directions.
    pub(crate) fn shutdown(&self) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.shutdown(Shutdown::Both),
            #[cfg(unix)]
            Self::Unix(s) => s.shutdown(Shutdown::Both),
        }
    }

    /// Whether a non-blocking connect has completed: `Ok(true)` connected,
    /// `Ok(false)` not yet, `Err` failed.
    pub(crate) fn connected(&self) -> io::Result<bool> {
        let (error, peer) = match self {
            Self::Tcp(s) => (s.take_error(), s.peer_addr().map(drop)),
            #[cfg(unix)]
            Self::Unix(s) => (s.take_error(), s.peer_addr().map(drop)),
        };
        if let Some(e) = error? {
            return Err(e);
        }
        match peer {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(e),
        }
    }
}

impl From<TcpStream> for Stream {
    fn from(s: TcpStream) -> Self {
        Self::Tcp(s)
    }
}

#[cfg(unix)]
impl From<UnixStream> for Stream {
    fn from(s: UnixStream) -> Self {
        Self::Unix(s)
    }
}

/// Runs `$body` with `$s` bound to the socket inside, whatever its kind.
macro_rules! each {
    ($stream:expr, $s:ident => $body:expr) => {
        match $stream {
            Stream::Tcp($s) => $body,
            #[cfg(unix)]
            Stream::Unix($s) => $body,
        }
    };
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        each!(self, s => s.read(buf))
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        each!(self, s => s.write(buf))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        each!(self, s => s.write_vectored(bufs))
    }

    fn flush(&mut self) -> io::Result<()> {
        each!(self, s => s.flush())
    }
}

/// Implements mio's `Source` for an enum of sockets with variants `Tcp`
/// and (on Unix) `Unix`, each registered as it is: [`Stream`] here, the
/// listening socket in the event loop.
macro_rules! impl_source_by_kind {
    ($ty:ident) => {
        impl mio::event::Source for $ty {
            fn register(
                &mut self,
                registry: &mio::Registry,
                token: mio::Token,
                interests: mio::Interest,
            ) -> std::io::Result<()> {
                match self {
                    $ty::Tcp(s) => s.register(registry, token, interests),
                    #[cfg(unix)]
                    $ty::Unix(s) => s.register(registry, token, interests),
                }
            }

            fn reregister(
                &mut self,
                registry: &mio::Registry,
                token: mio::Token,
                interests: mio::Interest,
            ) -> std::io::Result<()> {
                match self {
                    $ty::Tcp(s) => s.reregister(registry, token, interests),
                    #[cfg(unix)]
                    $ty::Unix(s) => s.reregister(registry, token, interests),
                }
            }

            fn deregister(&mut self, registry: &mio::Registry) -> std::io::Result<()> {
                match self {
                    $ty::Tcp(s) => s.deregister(registry),
                    #[cfg(unix)]
                    $ty::Unix(s) => s.deregister(registry),
                }
            }
        }
    };
}
pub(crate) use impl_source_by_kind;

impl_source_by_kind!(Stream);
