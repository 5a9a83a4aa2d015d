//! The command line, parsed into what `wsc` is asked to do.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use lexopt::prelude::*;
use ws_client::DataType;

pub(crate) const USAGE: &str = "\
wsc: a WebSocket client

Usage:
  wsc -V | --version           print the version
  wsc [OPTIONS] [URL]          connect (no URL: to an embedded echo server);
                               send each stdin line, print each event as JSON
  wsc bench [OPTIONS] [URL]    round-trip latency (no URL: embedded echo server)
  wsc --serve ADDR [--serve-cert FILE --serve-key FILE] [--memory-budget BYTES]
                               run only the echo server, until interrupted;
                               --memory-budget bounds what its connections
                               hold together (one that passes it is closed
                               with 1013)

Client options:
  --data-type text|blob|object  how received messages are shown (default text)
  -H, --header 'Name: value'    extra request header (repeatable)
  --cookie 'a=b; c=d'           cookies
  --protocol NAME               offer a subprotocol (repeatable)
  --origin ORIGIN               send this Origin header
  --ca FILE                     also trust the CA certificates in this PEM file
  --cert FILE --key FILE        present this client certificate (PEM chain and
                                key) to a server that asks for one (mutual TLS)
  -k, --insecure                accept any server certificate (self-signed,
                                expired, for another host): anyone on the path
                                can then pose as the server; for testing only
  --send TEXT                   send after open, before stdin (repeatable)
  --binary                      send stdin lines as binary messages
  --count N                     exit after N messages received (the end of
                                input then does not close: wsc waits for them)
  --close CODE[:REASON]         close with this code (and reason) at end of input
                                (or after --count messages); no message is
                                printed once wsc has asked to close
  --connect-timeout SECS        TCP connect timeout (default 10)
  --handshake-timeout SECS      opening handshake timeout (default 10)
  --close-timeout SECS          closing handshake timeout (default 5)
  --max-message-size BYTES      largest message accepted (default 64 MiB)
  --deflate                     offer permessage-deflate (compression)
  --ping-interval SECS          send a ping every SECS seconds (payload: a counter)
  --print-rtt                   print each pong with its round trip:
                                {\"type\":\"pong\",\"rttMicros\":...}
  --proxy URL                   connect through this proxy: http://[user:pass@]host:port
                                (HTTP CONNECT), socks5://... or socks5h://... (SOCKS5;
                                with socks5h the proxy resolves the server's name)
  --proxy-from-env              choose the proxy from https_proxy, http_proxy,
                                all_proxy and no_proxy, as curl does
  --unix PATH                   connect over this Unix domain socket (the URL
                                gives Host and path); or a URL
                                ws+unix:///path/to.sock:/resource
  -L, --location                follow redirects (301, 302, 303, 307, 308), at
                                most 10 in a row; never from wss to ws
  --max-redirects N             follow at most N redirects in a row (implies -L)
  --reconnect                   connect again after an unclean close or a failed
                                connect (backoff from 1 s up to 60 s, with
                                jitter); the terminate line then carries
                                \"reconnect\":{\"attempt\":N,\"delayMs\":...}; --send
                                messages are sent again on each open; lines
                                read meanwhile wait for the connection
  --reconnect-attempts N        give up after N attempts in a row (implies
                                --reconnect)

Bench options:
  -n, --count N                 round trips measured (default 100000)
  -s, --size BYTES              message size (default 32)
  --warmup N                    round trips before measuring (default 1000)
  --ca FILE, -k, -H, --protocol as for the client

Output: one JSON object per line on stdout, with the 4D event fields:
  {\"type\":\"open\"}  {\"type\":\"message\",\"data\":...}
  {\"type\":\"error\",\"errors\":[{\"errCode\":...,\"message\":...,\"componentSignature\":...}]}
  {\"type\":\"terminate\",\"code\":1000,\"reason\":\"\",\"wasClean\":true}
Exit status: 0 after a clean close, 1 otherwise, 2 for a usage error.
";

/// What to run.
#[derive(Debug)]
pub(crate) enum Command {
    Client(Client),
    Bench(Bench),
    Serve(Serve),
    Help,
    Version,
}

/// Connection settings shared by the client and the bench.
#[derive(Debug, Default)]
pub(crate) struct Connect {
    pub(crate) url: Option<String>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) cookie: Option<String>,
    pub(crate) protocols: Vec<String>,
    pub(crate) origin: Option<String>,
    pub(crate) ca: Vec<PathBuf>,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) handshake_timeout: Option<Duration>,
    pub(crate) close_timeout: Option<Duration>,
    pub(crate) max_message_size: Option<usize>,
    pub(crate) deflate: bool,
    pub(crate) proxy: Option<ProxyArg>,
    pub(crate) unix: Option<PathBuf>,
    /// `--cert` and `--key`: the client's certificate chain and key.
    pub(crate) identity: Option<(PathBuf, PathBuf)>,
    /// `-L` / `--max-redirects`: redirects followed in a row (0: none).
    pub(crate) redirects: u32,
    /// `-k` / `--insecure`: accept any server certificate.
    #[cfg(feature = "insecure")]
    pub(crate) insecure: bool,
}

/// How `--proxy` / `--proxy-from-env` chose the proxy.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum ProxyArg {
    Url(String),
    FromEnv,
}

/// The URL may hold credentials: `Debug` never shows it.
impl std::fmt::Debug for ProxyArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Url(_) => f.write_str("Url(<hidden>)"),
            Self::FromEnv => f.write_str("FromEnv"),
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Client {
    pub(crate) connect: Connect,
    pub(crate) data_type: DataType,
    pub(crate) send: Vec<String>,
    pub(crate) binary: bool,
    pub(crate) count: Option<u64>,
    pub(crate) close: Option<(u16, String)>,
    pub(crate) ping_interval: Option<Duration>,
    pub(crate) print_rtt: bool,
    /// `--reconnect`: `Some(max attempts in a row)`, `None` inside for no
    /// limit.
    pub(crate) reconnect: Option<Option<u32>>,
}

#[derive(Debug)]
pub(crate) struct Bench {
    pub(crate) connect: Connect,
    pub(crate) count: usize,
    pub(crate) size: usize,
    pub(crate) warmup: usize,
}

#[derive(Debug)]
pub(crate) struct Serve {
    pub(crate) addr: String,
    pub(crate) cert: Option<PathBuf>,
    pub(crate) key: Option<PathBuf>,
    pub(crate) memory_budget: Option<usize>,
}

/// Parses `args` (without the program name).
pub(crate) fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, String> {
    parse_inner(args).map_err(|e| e.to_string())
}

fn parse_inner(args: impl IntoIterator<Item = OsString>) -> Result<Command, lexopt::Error> {
    let mut parser = lexopt::Parser::from_args(args);
    let mut client = Client::default();
    let mut bench: Option<Bench> = None;
    let mut serve: Option<Serve> = None;
    let (mut cert, mut key) = (None, None);
    let (mut client_cert, mut client_key) = (None, None);
    let mut memory_budget = None;
    while let Some(arg) = parser.next()? {
        let is_bench = bench.is_some();
        if let Value(v) = &arg {
            if v == "bench" && !is_bench && client.connect.url.is_none() {
                bench = Some(Bench {
                    connect: std::mem::take(&mut client.connect),
                    count: 100_000,
                    size: 32,
                    warmup: 1_000,
                });
                continue;
            }
        }
        let connect = match &mut bench {
            Some(b) => &mut b.connect,
            None => &mut client.connect,
        };
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help),
            Short('V') | Long("version") => return Ok(Command::Version),
            Value(v) if connect.url.is_none() => connect.url = Some(v.string()?),
            Short('H') | Long("header") => {
                let line = parser.value()?.string()?;
                let (name, value) = line.split_once(':').ok_or_else(|| {
                    lexopt::Error::from(format!("header {line:?}: expected 'Name: value'"))
                })?;
                connect
                    .headers
                    .push((name.trim().to_owned(), value.trim().to_owned()));
            }
            Long("cookie") => connect.cookie = Some(parser.value()?.string()?),
            Long("protocol") => connect.protocols.push(parser.value()?.string()?),
            Long("origin") => connect.origin = Some(parser.value()?.string()?),
            Long("ca") => connect.ca.push(parser.value()?.into()),
            Short('k') | Long("insecure") => {
                #[cfg(feature = "insecure")]
                {
                    connect.insecure = true;
                }
                #[cfg(not(feature = "insecure"))]
                return Err(WITHOUT_INSECURE.into());
            }
            Long("connect-timeout") => connect.connect_timeout = Some(seconds(&mut parser)?),
            Long("handshake-timeout") => connect.handshake_timeout = Some(seconds(&mut parser)?),
            Long("close-timeout") => connect.close_timeout = Some(seconds(&mut parser)?),
            Long("deflate") => connect.deflate = true,
            Long("ping-interval") if !is_bench => {
                let every = seconds(&mut parser)?;
                if every.is_zero() {
                    return Err("--ping-interval must be more than 0".into());
                }
                client.ping_interval = Some(every);
            }
            Long("print-rtt") if !is_bench => client.print_rtt = true,
            Long("proxy") => connect.proxy = Some(ProxyArg::Url(parser.value()?.string()?)),
            Long("proxy-from-env") => connect.proxy = Some(ProxyArg::FromEnv),
            Long("unix") => connect.unix = Some(parser.value()?.into()),
            Short('L') | Long("location") if connect.redirects == 0 => connect.redirects = 10,
            Short('L') | Long("location") => {} // --max-redirects said how many
            Long("max-redirects") => connect.redirects = parser.value()?.parse()?,
            Long("reconnect") if !is_bench => {
                client.reconnect = Some(client.reconnect.flatten());
            }
            Long("reconnect-attempts") if !is_bench => {
                let n = positive(parser.value()?.parse()?, "--reconnect-attempts")?;
                client.reconnect = Some(Some(u32::try_from(n).unwrap_or(u32::MAX)));
            }
            Long("max-message-size") => connect.max_message_size = Some(parser.value()?.parse()?),
            Short('n') | Long("count") => match &mut bench {
                Some(b) => b.count = positive(parser.value()?.parse()?, "--count")?,
                None => client.count = Some(parser.value()?.parse()?),
            },
            Short('s') | Long("size") if is_bench => {
                if let Some(b) = &mut bench {
                    b.size = parser.value()?.parse()?;
                }
            }
            Long("warmup") if is_bench => {
                if let Some(b) = &mut bench {
                    b.warmup = parser.value()?.parse()?;
                }
            }
            Long("data-type") if !is_bench => {
                client.data_type = parser
                    .value()?
                    .string()?
                    .parse()
                    .map_err(lexopt::Error::from)?;
            }
            Long("send") if !is_bench => client.send.push(parser.value()?.string()?),
            Long("binary") if !is_bench => client.binary = true,
            Long("close") if !is_bench => {
                client.close = Some(close_argument(&parser.value()?.string()?)?);
            }
            Long("serve") => {
                serve = Some(Serve {
                    addr: parser.value()?.string()?,
                    cert: None,
                    key: None,
                    memory_budget: None,
                });
            }
            Long("memory-budget") => {
                memory_budget = Some(positive(parser.value()?.parse()?, "--memory-budget")?);
            }
            Long("serve-cert") => cert = Some(PathBuf::from(parser.value()?)),
            Long("serve-key") => key = Some(PathBuf::from(parser.value()?)),
            Long("cert") => client_cert = Some(PathBuf::from(parser.value()?)),
            Long("key") => client_key = Some(PathBuf::from(parser.value()?)),
            _ => return Err(arg.unexpected()),
        }
    }
    if let Some(mut serve) = serve {
        if client_cert.is_some() || client_key.is_some() {
            return Err(
                "--cert and --key are the client's; --serve takes --serve-cert and --serve-key"
                    .into(),
            );
        }
        if cert.is_some() != key.is_some() {
            return Err("--serve-cert and --serve-key go together".into());
        }
        serve.cert = cert;
        serve.key = key;
        serve.memory_budget = memory_budget;
        return Ok(Command::Serve(serve));
    }
    if cert.is_some() || key.is_some() {
        return Err("--serve-cert and --serve-key are for --serve".into());
    }
    let identity = match (client_cert, client_key) {
        (None, None) => None,
        (Some(cert), Some(key)) => Some((cert, key)),
        _ => return Err("--cert and --key go together".into()),
    };
    match &mut bench {
        Some(bench) => bench.connect.identity = identity,
        None => client.connect.identity = identity,
    }
    if memory_budget.is_some() {
        return Err("--memory-budget is for --serve".into());
    }
    Ok(match bench {
        Some(bench) => Command::Bench(bench),
        None => Command::Client(client),
    })
}

/// Why `-k` is refused by a wsc built without the `insecure` feature (a
/// packager's choice: the library crates never turn it on by themselves).
#[cfg(not(feature = "insecure"))]
const WITHOUT_INSECURE: &str = "-k/--insecure: this wsc was built without the `insecure` feature";

fn seconds(parser: &mut lexopt::Parser) -> Result<Duration, lexopt::Error> {
    let secs: f64 = parser.value()?.parse()?;
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{secs} seconds: {e}").into())
}

fn positive(n: usize, name: &str) -> Result<usize, lexopt::Error> {
    if n == 0 {
        return Err(format!("{name} must be at least 1").into());
    }
    Ok(n)
}

/// `CODE` or `CODE:REASON`.
fn close_argument(arg: &str) -> Result<(u16, String), lexopt::Error> {
    let (code, reason) = arg.split_once(':').unwrap_or((arg, ""));
    let code = code
        .parse()
        .map_err(|e| format!("--close {arg:?}: the code is not a number: {e}"))?;
    Ok((code, reason.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(line: &str) -> Result<Command, String> {
        parse(line.split_whitespace().map(OsString::from))
    }

    #[test]
    fn client_options() {
        let Ok(Command::Client(c)) = parse_str(
            "ws://h/ -H X-A:1 --header X-A:2 --cookie a=b --protocol p1 --protocol p2 \
             --send one --send two --binary --count 3 --close 4000:bye --data-type object \
             --connect-timeout 1.5",
        ) else {
            panic!()
        };
        assert_eq!(c.connect.url.as_deref(), Some("ws://h/"));
        assert_eq!(
            c.connect.headers,
            [("X-A".into(), "1".into()), ("X-A".into(), "2".into())]
        );
        assert_eq!(c.connect.protocols, ["p1", "p2"]);
        assert_eq!(c.send, ["one", "two"]);
        assert!(c.binary);
        assert_eq!(c.count, Some(3));
        assert_eq!(c.close, Some((4000, "bye".into())));
        assert_eq!(c.data_type, DataType::Object);
        assert_eq!(c.connect.connect_timeout, Some(Duration::from_millis(1500)));
    }

    #[test]
    fn proxy_options() {
        let Ok(Command::Client(c)) = parse_str("ws://h/ --proxy http://u:secret@p:3128") else {
            panic!()
        };
        assert_eq!(
            c.connect.proxy,
            Some(ProxyArg::Url("http://u:secret@p:3128".into()))
        );
        assert!(!format!("{c:?}").contains("secret"), "credentials in Debug");
        let Ok(Command::Client(c)) = parse_str("--proxy-from-env ws://h/") else {
            panic!()
        };
        assert_eq!(c.connect.proxy, Some(ProxyArg::FromEnv));
        let Ok(Command::Client(c)) = parse_str("ws://h/ --unix /run/gw.sock") else {
            panic!()
        };
        assert_eq!(c.connect.unix, Some(PathBuf::from("/run/gw.sock")));
        let Ok(Command::Client(c)) = parse_str("ws://h/ --ping-interval 0.5 --print-rtt") else {
            panic!()
        };
        assert_eq!(c.ping_interval, Some(Duration::from_millis(500)));
        assert!(c.print_rtt);
        assert!(parse_str("ws://h/ --ping-interval 0").is_err());
        assert!(matches!(parse_str("-V"), Ok(Command::Version)));
        let Ok(Command::Client(c)) = parse_str("ws://h/ --origin https://app.example") else {
            panic!()
        };
        assert_eq!(c.connect.origin.as_deref(), Some("https://app.example"));
    }

    #[test]
    fn redirect_and_reconnect_options() {
        let redirects = |line: &str| match parse_str(line) {
            Ok(Command::Client(c)) => c.connect.redirects,
            other => panic!("{line}: {other:?}"),
        };
        assert_eq!(redirects("ws://h/"), 0);
        assert_eq!(redirects("ws://h/ -L"), 10);
        assert_eq!(redirects("ws://h/ --location"), 10);
        assert_eq!(redirects("ws://h/ --max-redirects 3 -L"), 3);
        assert_eq!(redirects("ws://h/ -L --max-redirects 3"), 3);
        let reconnect = |line: &str| match parse_str(line) {
            Ok(Command::Client(c)) => c.reconnect,
            other => panic!("{line}: {other:?}"),
        };
        assert_eq!(reconnect("ws://h/"), None);
        assert_eq!(reconnect("ws://h/ --reconnect"), Some(None));
        assert_eq!(reconnect("ws://h/ --reconnect-attempts 5"), Some(Some(5)));
        assert_eq!(
            reconnect("ws://h/ --reconnect-attempts 5 --reconnect"),
            Some(Some(5))
        );
        assert!(parse_str("ws://h/ --reconnect-attempts 0").is_err());
        assert!(parse_str("bench ws://h/ --reconnect").is_err());
    }

    /// `-k` / `--insecure`, for the client and the bench; refused, saying
    /// why, by a wsc built without the feature.
    #[test]
    fn insecure_option() {
        #[cfg(feature = "insecure")]
        {
            let Ok(Command::Client(c)) = parse_str("-k wss://h/") else {
                panic!()
            };
            assert!(c.connect.insecure);
            let Ok(Command::Client(c)) = parse_str("wss://h/ --insecure") else {
                panic!()
            };
            assert!(c.connect.insecure);
            let Ok(Command::Client(c)) = parse_str("wss://h/") else {
                panic!()
            };
            assert!(!c.connect.insecure);
            let Ok(Command::Bench(b)) = parse_str("bench wss://h/ -k") else {
                panic!()
            };
            assert!(b.connect.insecure);
        }
        #[cfg(not(feature = "insecure"))]
        for line in ["-k wss://h/", "wss://h/ --insecure"] {
            let error = parse_str(line).expect_err(line);
            assert!(error.contains("without the `insecure` feature"), "{error}");
        }
    }

    #[test]
    fn bench_and_serve() {
        let Ok(Command::Bench(b)) = parse_str("bench ws://h/ -n 10 --size 100 --warmup 5") else {
            panic!()
        };
        assert_eq!((b.count, b.size, b.warmup), (10, 100, 5));
        assert_eq!(b.connect.url.as_deref(), Some("ws://h/"));
        let Ok(Command::Bench(b)) = parse_str("bench") else {
            panic!()
        };
        assert_eq!((b.count, b.size), (100_000, 32));
        assert!(matches!(
            parse_str("--serve 127.0.0.1:0"),
            Ok(Command::Serve(Serve {
                memory_budget: None,
                ..
            }))
        ));
        assert!(matches!(
            parse_str("--serve 127.0.0.1:0 --memory-budget 1000000"),
            Ok(Command::Serve(Serve {
                memory_budget: Some(1_000_000),
                ..
            }))
        ));
    }

    #[test]
    fn usage_errors_are_clear() {
        for (line, expected) in [
            ("--data-type xml", "unknown data type"),
            ("-H NoColon", "expected 'Name: value'"),
            ("--count x", "invalid digit"),
            ("--close abc", "not a number"),
            ("--bogus", "bogus"),
            ("ws://a ws://b", "unexpected argument"),
            ("--serve 127.0.0.1:0 --serve-cert c", "go together"),
            ("--serve 127.0.0.1:0 --cert c --key k", "--serve-cert"),
            ("ws://h/ --cert c", "go together"),
            ("--memory-budget 10", "for --serve"),
            ("--serve 127.0.0.1:0 --memory-budget 0", "at least 1"),
            ("bench -n 0", "at least 1"),
            ("--connect-timeout -1", "seconds"),
        ] {
            let error = parse_str(line).expect_err(line);
            assert!(error.contains(expected), "{line}: {error}");
        }
    }
}
