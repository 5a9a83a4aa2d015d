//! What it takes to make a `WebSocket`'s connection, kept from its
//! [`Builder`](crate::Builder) so that it can be made again: after a
//! redirect, and by a reconnect.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ws_mio::{ClientOptions, Conn, Resolver};
use ws_proto::ClientRequest;
use ws_proto::proxy::{Host, ProxyEnv, ProxyError, ProxyUrl};

use crate::error::Error;
use crate::reconnect::ReconnectPolicy;
use crate::redirect::RedirectPolicy;
use crate::target::Target;
use ws_proto::Headers;

/// How a [`Builder`](crate::Builder) chooses the proxy. Not `Debug`: the
/// URL may hold credentials.
#[derive(Clone)]
pub(crate) enum ProxyChoice {
    /// Directly (the default, and `Builder::no_proxy`).
    Direct,
    /// Through this proxy URL (`Builder::proxy`); read at connect.
    Url(String),
    /// As the environment says (`Builder::proxy_from_env`).
    FromEnv,
}

impl ProxyChoice {
    /// The proxy for `target`. `https://` proxies are refused here, before
    /// anything is resolved.
    fn for_target(&self, target: &Target) -> Result<Option<ProxyUrl>, Error> {
        let proxy = match self {
            Self::Direct => None,
            Self::Url(url) => {
                Some(ProxyUrl::parse(url).map_err(|e| Error::InvalidProxy(e.into()))?)
            }
            Self::FromEnv => {
                let env = ProxyEnv::from_lookup(|name| std::env::var(name).ok());
                env.proxy_for(target.secure, &target.host, target.port)
                    .map(Option::<&ProxyUrl>::cloned)
                    .map_err(Error::InvalidProxy)?
            }
        };
        if let Some(url) = &proxy {
            if url.scheme().uses_tls() {
                let scheme = url.scheme();
                return Err(Error::InvalidProxy(ProxyError::Unsupported { scheme }));
            }
        }
        Ok(proxy)
    }
}

/// Everything a connection attempt needs besides its URL.
pub(crate) struct Plan {
    /// The URL as given (with its credentials): where every reconnect
    /// starts.
    pub(crate) url: String,
    /// Request headers: the handler's, then the builder's.
    pub(crate) headers: Headers,
    pub(crate) protocols: Vec<String>,
    pub(crate) origin: Option<String>,
    /// The settings, protocol settings final; the proxy is chosen per URL.
    pub(crate) options: ClientOptions,
    pub(crate) proxy: ProxyChoice,
    /// Connect over this Unix socket instead of the network.
    pub(crate) unix: Option<PathBuf>,
    pub(crate) event_loop: ws_mio::Handle,
    pub(crate) resolver: Option<Resolver>,
    pub(crate) reconnect: Option<ReconnectPolicy>,
    pub(crate) redirects: RedirectPolicy,
}

/// How an attempt starts.
pub(crate) enum Start {
    /// The first: the caller's thread resolves the host (so that `connect`
    /// fails at once when it does not), or the caller's stream is used.
    First(Option<ws_mio::Stream>),
    /// A later one (a redirect, a reconnect): after `delay`, resolving on
    /// the loop's resolver thread.
    Later(Duration),
}

impl Plan {
    /// Starts a connection to `url` with `handler`. `other_origin`: a
    /// redirect led to another host, where cookies and `Authorization`
    /// are not sent.
    pub(crate) fn connect(
        &self,
        url: &str,
        other_origin: bool,
        start: Start,
        handler: impl ws_mio::Handler,
    ) -> Result<Conn, Error> {
        let target = Target::parse(url)?;
        let caller_stream = matches!(start, Start::First(Some(_)));
        let unix = self.unix.clone().or_else(|| target.unix.clone());
        let local = caller_stream || unix.is_some();
        let proxy = match &self.proxy {
            // A local socket: the environment's proxies are for the network.
            ProxyChoice::FromEnv if local => None,
            choice => choice.for_target(&target)?,
        };
        let request = self.request(&target, other_origin)?;
        let mut options = self.options.clone();
        options.resolver = self.resolver.clone();
        let handle = &self.event_loop;
        let conn = match start {
            Start::First(Some(stream)) => {
                options.proxy = proxy;
                handle.connect_stream(stream, &request, options, handler)
            }
            Start::First(None) if unix.is_none() => {
                let addrs = match &proxy {
                    None => crate::target::addresses(&target, self.resolver.as_ref())?,
                    Some(url) => proxy_addresses(url, self.resolver.as_ref())?,
                };
                options.proxy = proxy;
                handle.connect_to(&request, addrs, options, handler)
            }
            Start::First(None) => {
                options.proxy = proxy;
                let path = unix.expect("checked above");
                handle.connect_unix(path, &request, options, handler)
            }
            Start::Later(delay) => {
                options.proxy = proxy;
                options.delay = delay;
                match unix {
                    Some(path) => handle.connect_unix(path, &request, options, handler),
                    None => handle.connect(&request, options, handler),
                }
            }
        };
        Ok(conn?)
    }

    /// The handshake request for `target`.
    fn request(&self, target: &Target, other_origin: bool) -> Result<ClientRequest, Error> {
        let mut request = target.request();
        for protocol in &self.protocols {
            request = request.protocol(protocol.clone());
        }
        if let Some(origin) = &self.origin {
            request = request.origin(origin.clone());
        }
        let mut authorization = false;
        for (name, value) in self.headers.iter() {
            let private = ["cookie", "authorization"]
                .iter()
                .any(|p| name.eq_ignore_ascii_case(p));
            if other_origin && private {
                continue; // meant for the host that redirected
            }
            authorization |= name.eq_ignore_ascii_case("authorization");
            // A value that is not text cannot be a request header here.
            let value = std::str::from_utf8(value).map_err(|_| {
                Error::InvalidRequest(ws_proto::RequestError::InvalidHeaderValue {
                    name: name.to_owned(),
                })
            })?;
            request = request.header(name, value);
        }
        // Credentials in the URL, unless an Authorization header says
        // otherwise (RFC 7617).
        if let (Some(basic), false) = (target.basic_authorization(), authorization) {
            request = request.header("Authorization", basic);
        }
        request.validate().map_err(Error::InvalidRequest)?;
        Ok(request)
    }
}

/// The proxy's addresses: the first hop.
fn proxy_addresses(url: &ProxyUrl, resolve: Option<&Resolver>) -> Result<Vec<SocketAddr>, Error> {
    let host = match url.host() {
        Host::Name(name) => name.clone(),
        Host::Ip(ip) => ip.to_string(),
    };
    Resolver::lookup(resolve, &host, url.port()).map_err(|error| {
        Error::Connection(ws_mio::Error::ProxyUnreachable {
            proxy: url.to_string(),
            error: Box::new(ws_mio::Error::Resolve { host, error }),
        })
    })
}
