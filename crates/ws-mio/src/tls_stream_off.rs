//! The TLS stream's stand-in when ws-mio is built without its `tls`
//! feature: the same names and signatures, on a type with no values.
//!
//! A `wss://` request is refused before a connection exists
//! ([`Error::TlsUnavailable`]) and a listener has no TLS setting, so no
//! `TlsStream` can exist; every method body is an empty match on `self`,
//! which the compiler checks is unreachable. The transport, the loop and
//! `Conn::tls_info` keep their TLS arms unchanged instead of growing cfg
//! attributes.

use std::io;

use crate::error::Error;
use crate::tls_info::TlsInfo;
use crate::transport::Read;

/// Never constructed: there is no TLS without the feature.
pub(crate) enum TlsStream {}

impl TlsStream {
    /// Never called with a value (there is none).
    pub(crate) fn is_handshaking(&self) -> bool {
        match *self {}
    }

    /// Never called with a value.
    pub(crate) fn info(&self) -> Option<TlsInfo> {
        match *self {}
    }

    /// Never called with a value.
    pub(crate) fn has_output(&self) -> bool {
        match *self {}
    }

    /// Never called with a value.
    pub(crate) fn read<S: io::Read + io::Write>(
        &mut self,
        _io: &mut S,
        _buf: &mut [u8],
    ) -> Result<Read, Error> {
        match *self {}
    }

    /// Never called with a value.
    pub(crate) fn flush<S: io::Read + io::Write>(
        &mut self,
        _io: &mut S,
        _proto: &mut ws_proto::Connection,
    ) -> Result<bool, Error> {
        match *self {}
    }

    /// Never called with a value.
    pub(crate) fn shutdown<S: io::Read + io::Write>(&mut self, _io: &mut S) {
        match *self {}
    }
}
