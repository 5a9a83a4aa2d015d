//! `wsc [URL]`: stdin lines out as messages, every event in as a JSON line.

use std::io::{BufRead as _, Write as _};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use ws_client::{
    Error, ErrorEvent, Event, Handler, MessageEvent, OpenEvent, PongEvent, ReconnectPolicy, Status,
    TerminateEvent, WebSocket,
};

use crate::args::Client;
use crate::connect::{builder, target};
use crate::{Exit, fail};

/// What the callbacks tell the main thread.
enum Signal {
    Open,
    /// `on_terminate` has run: a clean close, or why not.
    Done(Result<(), String>),
}

/// Prints each event as one JSON line and counts messages.
struct Printer {
    signals: mpsc::Sender<Signal>,
    /// Terminate after this many messages.
    count: Option<u64>,
    received: u64,
    close: Option<(u16, String)>,
    error: Option<String>,
    /// Print each pong with its round trip (`--print-rtt`).
    print_rtt: bool,
    /// Wakes the stdin thread waiting for room in the write buffer.
    drained: mpsc::Sender<()>,
    /// `--send` messages, sent again on each open after the first
    /// (`--reconnect`: a feed's subscriptions).
    resend: Vec<String>,
    opened: u64,
}

impl Printer {
    fn print(&self, event: Event<'_>) {
        let mut out = std::io::stdout().lock();
        // A closed stdout (`wsc ... | head -1`) must not crash the
        // connection's thread; the process ends with the connection.
        let _ = serde_json::to_writer(&mut out, &event);
        let _ = out.write_all(b"\n");
        let _ = out.flush();
    }

    fn terminate(&self, ws: &WebSocket<Self>) {
        terminate(ws, self.close.as_ref());
    }
}

impl Handler for Printer {
    fn on_open(&mut self, ws: &WebSocket<Self>, event: &OpenEvent) {
        self.print(Event::Open(event));
        self.opened += 1;
        if self.opened > 1 {
            // The first open's are sent by the main thread, before stdin.
            for text in &self.resend {
                if let Err(e) = ws.send(text.as_str()) {
                    eprintln!("wsc: not sent again: {e}");
                }
            }
        }
        let _ = self.signals.send(Signal::Open);
    }

    fn on_message(&mut self, ws: &WebSocket<Self>, event: MessageEvent) {
        self.print(Event::Message(&event));
        self.received += 1;
        if self.count == Some(self.received) {
            self.terminate(ws);
        }
    }

    fn on_pong(&mut self, _ws: &WebSocket<Self>, event: &PongEvent) {
        if self.print_rtt {
            let mut line = serde_json::json!({"type": "pong"});
            if let Some(rtt) = event.rtt {
                line["rttMicros"] = serde_json::json!(rtt.as_micros() as u64);
            }
            let mut out = std::io::stdout().lock();
            let _ = serde_json::to_writer(&mut out, &line);
            let _ = out.write_all(b"\n");
            let _ = out.flush();
        }
    }

    fn on_drain(&mut self, _ws: &WebSocket<Self>) {
        let _ = self.drained.send(());
    }

    fn on_error(&mut self, _ws: &WebSocket<Self>, event: &ErrorEvent) {
        self.print(Event::Error(event));
        self.error = Some(event.error.to_string());
    }

    fn on_terminate(&mut self, _ws: &WebSocket<Self>, event: &TerminateEvent) {
        self.print(Event::Terminate(event));
        if event.reconnect.is_some() {
            self.error = None; // this attempt's; the next one starts afresh
            return;
        }
        let outcome = match self.error.take() {
            Some(error) => Err(error),
            None if event.was_clean => Ok(()),
            None => Err(format!("connection closed uncleanly (code {})", event.code)),
        };
        let _ = self.signals.send(Signal::Done(outcome));
    }
}

pub(crate) fn run(client: Client) -> Exit {
    if let Some((code, reason)) = &client.close {
        if let Err(e) = ws_client::check_terminate(*code, reason) {
            return fail(Exit::Usage, format!("--close: {e}"));
        }
    }
    let (url, _server) = match target(&client.connect) {
        Ok(target) => target,
        Err(e) => return fail(Exit::Failed, e),
    };
    let (signals, events) = mpsc::channel();
    let (drained, drains) = mpsc::channel();
    let printer = Printer {
        drained,
        signals,
        count: client.count,
        received: 0,
        close: client.close.clone(),
        error: None,
        print_rtt: client.print_rtt,
        resend: if client.reconnect.is_some() {
            client.send.clone()
        } else {
            Vec::new()
        },
        opened: 0,
    };
    let mut builder = builder(&client.connect, &url).data_type(client.data_type);
    if let Some(attempts) = client.reconnect {
        builder = builder.reconnect(ReconnectPolicy::default().max_attempts(attempts));
    }
    let ws = match builder.connect(printer) {
        Ok(ws) => ws,
        Err(e) => {
            let exit = match e {
                Error::InvalidUrl { .. } | Error::InvalidRequest(_) => Exit::Usage,
                _ => Exit::Failed,
            };
            return fail(exit, e.to_string());
        }
    };
    match events.recv() {
        Ok(Signal::Open) => {}
        Ok(Signal::Done(outcome)) => return finish(outcome),
        Err(_) => return fail(Exit::Failed, "the connection ended without a word".into()),
    }
    let binary = client.binary;
    let close = client.close;
    let sends = if client.count == Some(0) {
        Vec::new()
    } else {
        client.send
    };
    let read_stdin = client.count != Some(0);
    // With `--count N` (N > 0) the end of input does not close: wsc waits
    // for the N messages (or the server's close). No message is printed
    // once wsc has asked to close, so closing at the end of input would
    // lose the answers still on their way.
    let close_at_end = matches!(client.count, None | Some(0));
    if let Some(every) = client.ping_interval {
        // Pings on a timer of their own, busy feed or not (keepalive pings
        // only an idle connection); each carries its number.
        let pinger = ws.clone();
        thread::spawn(move || {
            for n in 1u64.. {
                thread::sleep(every);
                if pinger.ping(n.to_string().as_bytes()).is_err() {
                    return; // closed
                }
            }
        });
    }
    let talker = ws.clone();
    // Stdin is read on a thread of its own: a connection that ends (the
    // server closes, --count is reached) ends the process even while a
    // read is blocked.
    thread::spawn(move || {
        for text in sends {
            if !send(&talker, &drains, text.into_bytes(), false) {
                return;
            }
        }
        let lines = std::io::stdin().lock().split(b'\n');
        for line in lines.take_while(|_| read_stdin) {
            let Ok(mut line) = line else { break };
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if !send(&talker, &drains, line, binary) {
                return;
            }
        }
        if close_at_end {
            terminate(&talker, close.as_ref());
        }
    });
    loop {
        match events.recv() {
            Ok(Signal::Done(outcome)) => return finish(outcome),
            Ok(Signal::Open) => {}
            Err(_) => return fail(Exit::Failed, "the connection ended without a word".into()),
        }
    }
}

/// Sends one line, waiting while the write buffer is full (a line read is
/// never dropped): until `on_drain` says there is room again. `false` once
/// the connection no longer takes messages.
fn send(ws: &WebSocket<Printer>, drains: &mpsc::Receiver<()>, line: Vec<u8>, binary: bool) -> bool {
    let text = if binary {
        None
    } else {
        match std::str::from_utf8(&line) {
            Ok(text) => Some(text),
            Err(_) => {
                eprintln!("wsc: a line that is not UTF-8 is sent as binary");
                None
            }
        }
    };
    loop {
        let result = match text {
            Some(text) => ws.send(text),
            None => ws.send(&line[..]),
        };
        match result {
            Ok(()) => return true,
            Err(Error::WriteBufferFull { .. }) => {
                // A drain signalled before this refusal may still be in the
                // channel: then the send is simply tried again. The timeout
                // only guards against a connection that ends meanwhile.
                let _ = drains.recv_timeout(Duration::from_secs(1));
            }
            Err(Error::NotConnected(Status::Connecting)) => {
                // Between two attempts (`--reconnect`): the line waits for
                // the next connection, or for the end.
                thread::sleep(Duration::from_millis(10));
            }
            Err(e) => {
                eprintln!("wsc: not sent: {e}");
                return false;
            }
        }
    }
}

/// Closes with `--close CODE[:REASON]`, or 1000 without it. The code and
/// reason were checked before connecting.
fn terminate(ws: &WebSocket<Printer>, close: Option<&(u16, String)>) {
    let _ = match close {
        Some((code, reason)) => ws.terminate(Some(*code), Some(reason)),
        None => ws.terminate(None, None),
    };
}

fn finish(outcome: Result<(), String>) -> Exit {
    match outcome {
        Ok(()) => Exit::Clean,
        Err(e) => fail(Exit::Failed, e),
    }
}
