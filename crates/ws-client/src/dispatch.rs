//! [`Dispatch`]: turns one attempt's events from the event loop into the
//! handler's callbacks, and starts the attempt that follows (a redirect, a
//! reconnect) when the attempt ends.

use std::sync::PoisonError;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ws_mio::Conn;
use ws_proto::{CloseCode, Message};

use crate::error::Error;
use crate::event::{Data, ErrorEvent, MessageEvent, OpenEvent, PongEvent, TerminateEvent};
use crate::handler::{DataType, Handler};
use crate::reconnect::{Ending, Reconnect, repeats};
use crate::redirect::{Redirect, follow, is_redirect};
use crate::socket::{IN_CALLBACK, NO_RTT, WebSocket, lock};
use crate::trace;

/// Turns the event loop's events into the handler's callbacks, keeping
/// the 4D order: nothing but `on_terminate` after `on_error`.
pub(crate) struct Dispatch<H: Handler> {
    ws: WebSocket<H>,
    /// The attempt's URL, with credentials (a redirect's `Location` is
    /// relative to it).
    url: String,
    /// A redirect led to another host: no cookies or `Authorization`.
    other_origin: bool,
    /// Redirects followed in a row to reach this attempt.
    redirects: u32,
    /// The connection is in `Inner::conn` (the first attempt's is put
    /// there by its first event, if that comes before `start` returns).
    installed: bool,
    /// Why this side failed the connection (a message that is not JSON),
    /// reported in the place of the error the connection reports for it.
    /// The connection's state machine orders the events (at most one
    /// error, nothing but the end after it), so this only delivers.
    cause: Option<Error>,
    /// `on_error` ran in this attempt, and whether its error would happen
    /// again (then no reconnect). The reconnect policy's input, not a
    /// guard on what is delivered.
    error_repeats: Option<bool>,
    /// When the handshake completed.
    opened: Option<Instant>,
    /// The redirect this attempt's end leads to.
    redirect: Option<Redirect>,
    /// The keepalive round trip last seen, so that a pong tells a new
    /// measurement from an old one.
    keepalive_rtt: Option<Duration>,
}

impl<H: Handler> Dispatch<H> {
    /// The dispatcher of an attempt to `url`; `redirects` led to it.
    pub(crate) fn new(ws: WebSocket<H>, url: String, other_origin: bool, redirects: u32) -> Self {
        Self {
            ws,
            url,
            other_origin,
            installed: false,
            redirects,
            cause: None,
            error_repeats: None,
            opened: None,
            redirect: None,
            keepalive_rtt: None,
        }
    }

    /// A later attempt's dispatcher: its connection is put in place by
    /// the one before.
    pub(crate) fn installed(mut self) -> Self {
        self.installed = true;
        self
    }

    /// Runs a callback. `last`: no callback follows this one, ever (the
    /// `WebSocket` is over), which is marked under the handler's lock so
    /// that `into_handler` cannot take the handler before it runs.
    fn call(&self, last: bool, f: impl FnOnce(&mut H, &WebSocket<H>)) {
        let inner = &self.ws.inner;
        let mut handler = lock(&inner.handler);
        if last {
            inner.over.store(true, Ordering::Release);
        }
        let Some(handler) = handler.as_mut() else {
            return; // taken back: nothing is left to call
        };
        let previous = IN_CALLBACK.with(|c| c.replace(inner.id));
        // Restores the marker even if the callback panics (the loop catches
        // the panic and fails the connection with 1011).
        struct Restore(u64);
        impl Drop for Restore {
            fn drop(&mut self) {
                IN_CALLBACK.with(|c| c.set(self.0));
            }
        }
        let _restore = Restore(previous);
        f(handler, &self.ws);
    }

    fn error(&mut self, error: Error) {
        trace::warn!(
            ws = self.ws.inner.id,
            code = error.code(),
            error = %error,
            "on_error"
        );
        self.error_repeats = Some(repeats(&error));
        let event = ErrorEvent::new(error);
        self.call(false, |h, ws| h.on_error(ws, &event));
    }

    /// The connection's one error: this side's own cause in its place, a
    /// redirect to follow (kept for the end of the attempt, reported to
    /// nobody), a redirect that cannot be followed, or just the error.
    fn failed(&mut self, error: ws_mio::Error) {
        if let ws_mio::Error::Protocol(ws_proto::Error::Failed(_)) = error {
            if let Some(cause) = self.cause.take() {
                return self.error(cause);
            }
        }
        let policy = self.ws.inner.plan.redirects;
        let rejection = match &error {
            ws_mio::Error::Protocol(ws_proto::Error::Handshake(
                ws_proto::HandshakeError::Rejected(rejection),
            )) if policy.max > 0 && is_redirect(rejection.status) => rejection,
            _ => return self.error(Error::Connection(error)),
        };
        if self.ws.inner.plan.unix.is_some() {
            return self.error(Error::InvalidRedirect {
                status: rejection.status,
                location: String::new(),
                reason: "redirects are not followed over a Unix socket".to_owned(),
            });
        }
        match follow(&self.url, rejection, policy.allow_downgrade) {
            Ok(redirect) if self.redirects >= policy.max => self.error(Error::TooManyRedirects {
                max: policy.max,
                location: crate::target::without_credentials(&redirect.url).into_owned(),
            }),
            Ok(redirect) => self.redirect = Some(redirect),
            Err(e) => self.error(e),
        }
    }

    /// The attempt is over: follows its redirect, or tells the handler,
    /// starting the reconnect first if one follows.
    fn ended(&mut self, code: u16, reason: String, was_clean: bool) {
        if let Some(redirect) = self.redirect.take() {
            trace::info!(
                ws = self.ws.inner.id,
                to = %crate::target::without_credentials(&redirect.url),
                "following a redirect"
            );
            let other_origin = self.other_origin || redirect.other_origin;
            let started = self.ws.next_attempt(
                &redirect.url,
                other_origin,
                self.redirects + 1,
                Duration::ZERO,
            );
            match started {
                Some(Ok(())) => return, // no callback for a redirect
                Some(Err(e)) => self.error(e),
                None => {} // terminated meanwhile
            }
        }
        let reconnect = self.reconnect(was_clean);
        let event = TerminateEvent {
            code,
            reason,
            was_clean,
            reconnect,
        };
        self.call(reconnect.is_none(), |h, ws| h.on_terminate(ws, &event));
    }

    /// Starts the reconnect that follows, if the policy wants one.
    fn reconnect(&mut self, was_clean: bool) -> Option<Reconnect> {
        let inner = &self.ws.inner;
        let policy = inner.plan.reconnect.as_ref()?;
        let ending = Ending {
            by_user: inner.terminated.load(Ordering::Acquire),
            failed: self.error_repeats.is_some(),
            failed_for_good: self.error_repeats == Some(true),
            was_clean,
            opened: self.opened,
        };
        let next = lock(&inner.attempts).next(policy, &ending, rand::random::<f64>())?;
        let url = inner.plan.url.clone();
        match self.ws.next_attempt(&url, false, 0, next.delay) {
            Some(Ok(())) => {
                trace::info!(
                    ws = inner.id,
                    attempt = next.attempt,
                    delay_ms = next.delay.as_millis() as u64,
                    "reconnecting"
                );
                Some(next)
            }
            // The loop is stopping, or the settings cannot be used any
            // more (a certificate file gone): this end is the last.
            Some(Err(_)) | None => None,
        }
    }

    /// The round trip this pong ends: a ping sent with `WebSocket::ping`
    /// with the same payload (the oldest such), or the keepalive ping the
    /// state machine just matched it with.
    fn round_trip(&mut self, conn: &Conn, payload: &[u8]) -> Option<Duration> {
        let mut pings = lock(&self.ws.inner.pings);
        if let Some(i) = pings.iter().position(|(p, _)| p[..] == *payload) {
            let (_, sent) = pings.remove(i).expect("found");
            return Some(sent.elapsed());
        }
        drop(pings);
        let keepalive = conn.rtt();
        if keepalive.is_some() && keepalive != self.keepalive_rtt {
            self.keepalive_rtt = keepalive;
            return keepalive;
        }
        None
    }

    /// `terminate` was called: only `on_terminate` is still to come.
    fn terminated(&self) -> bool {
        self.ws.inner.terminated.load(Ordering::Acquire)
    }

    /// The message as the data type wants it.
    fn data(&self, message: Message) -> Result<Data, Error> {
        Ok(match (self.ws.inner.data_type, message) {
            (_, Message::Binary(bytes)) => Data::Blob(bytes),
            (DataType::Blob, Message::Text(text)) => Data::Blob(text.into_bytes()),
            (DataType::Text, Message::Text(text)) => Data::Text(text),
            #[cfg(feature = "json")]
            (DataType::Object, Message::Text(text)) => {
                Data::Object(serde_json::from_str(text.as_str()).map_err(Error::InvalidJson)?)
            }
        })
    }
}

impl<H: Handler> ws_mio::Handler for Dispatch<H> {
    fn on_event(&mut self, conn: &Conn, event: ws_mio::Event) {
        if !self.installed {
            self.installed = true;
            let mut slot = self
                .ws
                .inner
                .conn
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            slot.get_or_insert_with(|| conn.clone());
        }
        match event {
            ws_mio::Event::Open(open) => {
                let event = OpenEvent {
                    protocol: open.subprotocol,
                    headers: open.headers,
                    tls: conn.tls_info(),
                };
                self.opened = Some(Instant::now());
                self.call(false, |h, ws| h.on_open(ws, &event));
            }
            ws_mio::Event::Message(message) => {
                if self.ws.inner.terminated.load(Ordering::Acquire) {
                    return;
                }
                match self.data(message) {
                    Ok(data) => self.call(false, |h, ws| h.on_message(ws, MessageEvent { data })),
                    Err(e) => {
                        // RFC 6455 section 7.4.1: 1007, data inconsistent
                        // with the message's type. The connection reports
                        // the failure next, with nothing in between.
                        self.cause = Some(e);
                        let _ = conn.fail(CloseCode::INVALID_PAYLOAD, "invalid JSON");
                    }
                }
            }
            ws_mio::Event::Ping(payload) if !self.terminated() => {
                self.call(false, |h, ws| h.on_ping(ws, &payload));
            }
            ws_mio::Event::Pong(payload) => {
                let rtt = self.round_trip(conn, &payload);
                if let Some(rtt) = rtt {
                    let nanos = u64::try_from(rtt.as_nanos()).unwrap_or(NO_RTT - 1);
                    self.ws.inner.rtt_nanos.store(nanos, Ordering::Relaxed);
                }
                if !self.ws.inner.terminated.load(Ordering::Acquire) {
                    let event = PongEvent { payload, rtt };
                    self.call(false, |h, ws| h.on_pong(ws, &event));
                }
            }
            ws_mio::Event::Drain if !self.terminated() => self.call(false, |h, ws| h.on_drain(ws)),
            ws_mio::Event::Error(e) => self.failed(e),
            ws_mio::Event::Closed(closed) => {
                self.ended(closed.code.0, closed.reason, closed.was_clean);
            }
            // After `terminate`, or an event of a later ws-mio that the 4D
            // API has no callback for.
            _ => {}
        }
    }
}
