//! Loopback servers and a recording handler for the ws-client tests.
//! Every wait is bounded (`WAIT`); every server is on 127.0.0.1.

#![allow(dead_code, unreachable_pub)]

use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::Duration;

use ws_client::{
    Data, DataType, ErrorEvent, ErrorItem, Handler, Headers, MessageEvent, OpenEvent, Status,
    TerminateEvent, WebSocket,
};
use ws_mio::{Conn, Event, EventLoop, ServerOptions};
use ws_proto::CloseCode;
use ws_test_support::raw_server;

/// The longest any test waits for one thing.
pub const WAIT: Duration = Duration::from_secs(10);

// ---- the ws-mio test server ------------------------------------------------

/// A ws-mio server on its own thread. What it does depends on the path:
/// - `/echo` (or anything else): echoes every message;
/// - `/headers`: sends the request headers as a JSON list of pairs;
/// - `/close?CODE&REASON`: closes with that code and reason at once;
/// - `/send-kinds`: sends text `hello`, binary `[1,2,3]`, text `{"a":1}`;
/// - `/send-invalid-json`: sends `{"a":1}`, `not json`, `"after"`.
///
/// It offers the subprotocol `chat.v1` and accepts permessage-deflate with
/// the default parameters (a client that does not offer it gets none).
pub struct TestServer {
    pub addr: SocketAddr,
    handle: ws_mio::Handle,
    thread: Option<thread::JoinHandle<()>>,
}

impl TestServer {
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// Over TLS, with this certificate and key (PEM).
    pub fn start_tls(cert_pem: &str, key_pem: &str) -> Self {
        let tls = ws_mio::server_config_from_pem(cert_pem.as_bytes(), key_pem.as_bytes())
            .expect("server TLS configuration");
        Self::start_with(Some(tls))
    }

    fn start_with(tls: Option<std::sync::Arc<ws_mio::rustls::ServerConfig>>) -> Self {
        let mut event_loop = EventLoop::new().expect("event loop");
        let mut options = ServerOptions::default();
        options.server.subprotocols = vec!["chat.v1".into()];
        options.config.deflate = Some(ws_client::DeflateConfig::default());
        options.tls = tls;
        let addr = event_loop
            .listen("127.0.0.1:0".parse().unwrap(), options, || serve)
            .expect("listen");
        let handle = event_loop.handle();
        let thread = thread::spawn(move || event_loop.run().expect("server loop"));
        Self {
            addr,
            handle,
            thread: Some(thread),
        }
    }

    /// `ws://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.handle.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(conn: &Conn, event: Event) {
    match event {
        Event::Open(open) => {
            let _ = on_server_open(conn, &open);
        }
        event => ws_mio::echo(conn, event),
    }
}

fn on_server_open(conn: &Conn, open: &ws_proto::Open) -> Result<(), ws_proto::SendError> {
    let (path, query) = open
        .resource
        .split_once('?')
        .unwrap_or((open.resource.as_str(), ""));
    match path {
        "/headers" => {
            let pairs: Vec<(String, String)> = open
                .headers
                .iter()
                .map(|(n, v)| (n.to_owned(), String::from_utf8_lossy(v).into_owned()))
                .collect();
            conn.send_text(&serde_json::to_string(&pairs).unwrap())
        }
        "/close" => {
            let (code, reason) = query.split_once('&').unwrap_or((query, ""));
            conn.close(CloseCode(code.parse().unwrap()), reason)
        }
        "/send-kinds" => {
            conn.send_text("hello")?;
            conn.send_binary(&[1, 2, 3])?;
            conn.send_text(r#"{"a":1}"#)
        }
        "/send-invalid-json" => {
            conn.send_text(r#"{"a":1}"#)?;
            conn.send_text("not json")?;
            conn.send_text(r#""after""#)
        }
        _ => Ok(()),
    }
}

// ---- raw TCP servers for what a correct server would not do ----------------

/// Serves one connection with `script` on a thread (reads time out after
/// `WAIT`); returns its `ws://` URL.
pub fn raw_server(script: impl FnOnce(TcpStream) + Send + 'static) -> String {
    raw_server::ws_url(raw_server::serve_one(WAIT, script), "/")
}

/// Serves up to `max` connections, the n-th (from 0) with `script(n,
/// stream)`, each on its own thread; returns `ws://127.0.0.1:PORT` and the
/// count of connections accepted so far.
pub fn scripted_server(
    max: usize,
    script: impl Fn(usize, TcpStream) + Send + Sync + 'static,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let (addr, accepted) = raw_server::serve_each(max, WAIT, script);
    (raw_server::ws_url(addr, ""), accepted)
}

/// A `ws://` URL with nothing listening on its port.
pub fn refused_url() -> String {
    raw_server::ws_url(raw_server::refused_addr(), "/")
}

// ---- a handler that records what it hears ----------------------------------

/// What a callback saw.
#[derive(Debug)]
pub enum Seen {
    Open {
        protocol: Option<String>,
        /// The answer's `Sec-WebSocket-Extensions`, if any.
        extensions: Option<String>,
        status: Status,
        thread: Option<String>,
    },
    Message(Data),
    Error {
        code: i64,
        errors: Vec<ErrorItem>,
        message: String,
    },
    Terminate {
        event: TerminateEvent,
        status: Status,
        thread: Option<String>,
    },
}

impl Seen {
    /// A one-word name, for checking the order of callbacks.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Open { .. } => "open",
            Self::Message(_) => "message",
            Self::Error { .. } => "error",
            Self::Terminate { .. } => "terminate",
        }
    }
}

type OpenAction = Box<dyn FnMut(&WebSocket<Recorder>) + Send>;
type MessageAction = Box<dyn FnMut(&WebSocket<Recorder>, &Data) + Send>;

/// Records every callback into a channel, then runs the test's action.
pub struct Recorder {
    tx: Sender<Seen>,
    pub data_type: DataType,
    pub headers: Headers,
    pub on_open: Option<OpenAction>,
    pub on_message: Option<MessageAction>,
    /// Messages seen, readable through `WebSocket::handler()`.
    pub messages: usize,
}

/// The receiving end of a [`Recorder`].
pub struct Log(Receiver<Seen>);

impl Recorder {
    pub fn new() -> (Self, Log) {
        let (tx, rx) = mpsc::channel();
        (
            Self {
                tx,
                data_type: DataType::Text,
                headers: Headers::new(),
                on_open: None,
                on_message: None,
                messages: 0,
            },
            Log(rx),
        )
    }

    pub fn with_data_type(mut self, data_type: DataType) -> Self {
        self.data_type = data_type;
        self
    }

    pub fn on_open(mut self, f: impl FnMut(&WebSocket<Recorder>) + Send + 'static) -> Self {
        self.on_open = Some(Box::new(f));
        self
    }

    pub fn on_message(
        mut self,
        f: impl FnMut(&WebSocket<Recorder>, &Data) + Send + 'static,
    ) -> Self {
        self.on_message = Some(Box::new(f));
        self
    }
}

fn thread_name() -> Option<String> {
    thread::current().name().map(str::to_owned)
}

impl Handler for Recorder {
    fn on_open(&mut self, ws: &WebSocket<Self>, event: &OpenEvent) {
        let _ = self.tx.send(Seen::Open {
            protocol: event.protocol.clone(),
            extensions: event
                .headers
                .get_str("sec-websocket-extensions")
                .map(str::to_owned),
            status: ws.status(),
            thread: thread_name(),
        });
        if let Some(f) = &mut self.on_open {
            f(ws);
        }
    }

    fn on_message(&mut self, ws: &WebSocket<Self>, event: MessageEvent) {
        self.messages += 1;
        if let Some(f) = &mut self.on_message {
            f(ws, &event.data);
        }
        let _ = self.tx.send(Seen::Message(event.data));
    }

    fn on_error(&mut self, _ws: &WebSocket<Self>, event: &ErrorEvent) {
        let _ = self.tx.send(Seen::Error {
            code: event.error.code(),
            errors: event.errors.clone(),
            message: event.error.to_string(),
        });
    }

    fn on_terminate(&mut self, ws: &WebSocket<Self>, event: &TerminateEvent) {
        let _ = self.tx.send(Seen::Terminate {
            event: event.clone(),
            status: ws.status(),
            thread: thread_name(),
        });
    }

    fn data_type(&self) -> DataType {
        self.data_type
    }

    fn headers(&self) -> Headers {
        self.headers.clone()
    }
}

impl Log {
    /// The next callback, within `WAIT`.
    pub fn next(&self) -> Seen {
        self.0
            .recv_timeout(WAIT)
            .expect("no callback within the time limit")
    }

    /// Every callback up to and including `on_terminate`.
    pub fn until_terminate(&self) -> Vec<Seen> {
        let mut seen = Vec::new();
        loop {
            let event = self.next();
            let last = matches!(event, Seen::Terminate { .. });
            seen.push(event);
            if last {
                return seen;
            }
        }
    }

    /// Nothing more arrives within `wait`.
    pub fn assert_quiet(&self, wait: Duration) {
        if let Ok(event) = self.0.recv_timeout(wait) {
            panic!("unexpected callback after the end: {event:?}");
        }
    }
}

/// The kinds of `seen`, in order.
pub fn kinds(seen: &[Seen]) -> Vec<&'static str> {
    seen.iter().map(Seen::kind).collect()
}

/// The terminate event at the end of `seen`.
pub fn terminate_of(seen: &[Seen]) -> &TerminateEvent {
    match seen.last() {
        Some(Seen::Terminate { event, .. }) => event,
        other => panic!("the last callback is not on_terminate: {other:?}"),
    }
}

/// The error code and stack of the `on_error` in `seen`.
pub fn error_of(seen: &[Seen]) -> (i64, &[ErrorItem]) {
    seen.iter()
        .find_map(|s| match s {
            Seen::Error { code, errors, .. } => Some((*code, errors.as_slice())),
            _ => None,
        })
        .expect("no on_error")
}
