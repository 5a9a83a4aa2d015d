//! Handing a connection's events to its handler, one at a time, so that an
//! answer the handler queues goes out before anything decoded after it.
//!
//! Whole messages already received are decoded a batch at a time, under
//! one lock, then handed out with the lock released: decoding them has no
//! other effect (see `ws_proto::Connection::poll_message`), so answers
//! still go out before anything decoded after them. Every other event is
//! decoded alone, just before its handler runs.
//!
//! A handler that opts in to lent messages ([`Handler::lends_messages`])
//! gets each message as a `MessageRef` for the length of the call. Small
//! ones are lent by the state machine (`poll_message_ref`, no `Bytes`
//! split off, so no atomic reference count per message) and copied into a
//! reused buffer of this thread, since the handler runs with the lock
//! released; larger ones are kept as `Bytes` (no copy) and lent from
//! there.

use std::cell::RefCell;
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use ws_proto::{CloseCode, Message, MessageRef};

use super::{Entry, event_for_handler};
use crate::conn::{Conn, Event, Handler, Shared};
use crate::link::{Link, lock};
use crate::trace;

/// Messages decoded under one lock before they are handed out.
const BATCH: usize = 16;

/// Lent messages up to this size are copied out of the read buffer;
/// splitting off a larger one costs less than copying it.
const COPY_MAX: usize = 256;

/// Hands the state machine's events to the handler.
pub(super) fn dispatch(entry: &mut Entry) {
    dispatch_then(entry, |_, _| ());
}

/// [`dispatch`], then `then` under the lock that found no event left (so
/// that what follows costs no lock of its own).
pub(super) fn dispatch_then<T>(entry: &mut Entry, then: impl FnOnce(&Shared, &mut Link) -> T) -> T {
    if entry.handler.lends_messages() {
        let mut lent = LENT.take();
        let result = dispatch_with(entry, &mut lent, then);
        LENT.set(lent);
        result
    } else {
        dispatch_with(entry, &mut Owned::default(), then)
    }
}

/// Whole messages decoded under one lock and handed out after it.
trait Batch {
    /// Decodes up to [`BATCH`] whole messages; whether there was any.
    fn decode(&mut self, proto: &mut ws_proto::Connection) -> bool;

    /// Hands out what [`decode`](Self::decode) decoded, in order, and
    /// forgets it.
    fn deliver(&mut self, entry: &mut Entry);

    /// Hands out a message the state machine decoded alone (fragmented,
    /// compressed, or after other events).
    fn deliver_message(entry: &mut Entry, message: Message);
}

fn dispatch_with<T, B: Batch>(
    entry: &mut Entry,
    batch: &mut B,
    then: impl FnOnce(&Shared, &mut Link) -> T,
) -> T {
    loop {
        let event = {
            let mut link = lock(&entry.conn.shared.link);
            if batch.decode(&mut link.proto) {
                None
            } else {
                match link.proto.poll_event() {
                    Some(event) => {
                        event_for_handler(event, &mut link, &mut entry.cause, &mut entry.closed)
                    }
                    None => return then(&entry.conn.shared, &mut link),
                }
            }
        };
        batch.deliver(entry);
        match event {
            Some(Event::Message(message)) => B::deliver_message(entry, message),
            Some(event) => deliver(entry, event),
            None => {}
        }
    }
}

/// Messages handed out owned (`Event::Message`).
#[derive(Default)]
struct Owned {
    messages: [Option<Message>; BATCH],
    len: usize,
}

impl Batch for Owned {
    fn decode(&mut self, proto: &mut ws_proto::Connection) -> bool {
        while self.len < BATCH {
            let Some(message) = proto.poll_message() else {
                break;
            };
            self.messages[self.len] = Some(message);
            self.len += 1;
        }
        self.len > 0
    }

    fn deliver(&mut self, entry: &mut Entry) {
        let len = std::mem::take(&mut self.len);
        let mut decoded = self.messages[..len].iter_mut().filter_map(Option::take);
        while let Some(message) = decoded.next() {
            deliver(entry, Event::Message(message));
            if ended_by_handler(entry) {
                decoded.for_each(drop);
                break;
            }
        }
    }

    fn deliver_message(entry: &mut Entry, message: Message) {
        deliver(entry, Event::Message(message));
    }
}

/// The handler failed its connection (invalid JSON, say) while messages
/// decoded ahead were waiting: the state machine would not have handed
/// out what it decoded after, so neither does the loop. Checked only
/// after a handler's `close` or `fail`, so an echoing handler pays
/// nothing.
fn ended_by_handler(entry: &Entry) -> bool {
    crate::conn::handler_ended() && !lock(&entry.conn.shared.link).proto.is_receiving()
}

/// Calls the handler with `event`.
pub(super) fn deliver(entry: &mut Entry, event: Event) {
    trace::event(entry.conn.id(), &event);
    call(entry, |handler, conn| handler.on_event(conn, event));
}

/// Runs `f` on the handler; a handler that panics fails its connection
/// with 1011, never the loop.
fn call(entry: &mut Entry, f: impl FnOnce(&mut dyn Handler, &Conn)) {
    let Entry { conn, handler, .. } = entry;
    let run = || catch_unwind(AssertUnwindSafe(|| f(handler.as_mut(), conn)));
    if crate::conn::serving(&conn.shared, run).is_err() {
        let _ = lock(&conn.shared.link).proto.close(
            Instant::now(),
            CloseCode::INTERNAL_ERROR,
            "handler panicked",
        );
    }
}

thread_local! {
    /// The loop thread's buffers for lent messages, reused from one
    /// dispatch to the next (taken out while in use).
    static LENT: RefCell<Lent> = RefCell::default();
}

/// A batch of messages decoded for a handler that borrows them.
#[derive(Default)]
struct Lent {
    items: Vec<Decoded>,
    /// The small text messages of the batch, one after the other.
    text: String,
    /// The small binary messages of the batch, one after the other.
    binary: Vec<u8>,
}

/// Where a decoded message of a [`Lent`] batch is.
enum Decoded {
    Kept(Message),
    Text(Range<usize>),
    Binary(Range<usize>),
}

impl Batch for Lent {
    fn decode(&mut self, proto: &mut ws_proto::Connection) -> bool {
        while self.items.len() < BATCH {
            let item = match proto.poll_message_ref() {
                Some(MessageRef::Text(t)) if t.len() <= COPY_MAX => {
                    Decoded::Text(append(&mut self.text, t))
                }
                Some(MessageRef::Binary(b)) if b.len() <= COPY_MAX => {
                    let start = self.binary.len();
                    self.binary.extend_from_slice(b);
                    Decoded::Binary(start..self.binary.len())
                }
                Some(_) => Decoded::Kept(proto.keep_lent_message().expect("lent just now")),
                None => break,
            };
            self.items.push(item);
        }
        !self.items.is_empty()
    }

    fn deliver(&mut self, entry: &mut Entry) {
        let Self {
            items,
            text,
            binary,
        } = self;
        for item in items.drain(..) {
            let message = match &item {
                Decoded::Kept(message) => MessageRef::from(message),
                Decoded::Text(range) => MessageRef::Text(&text[range.clone()]),
                Decoded::Binary(range) => MessageRef::Binary(&binary[range.clone()]),
            };
            call(entry, |handler, conn| handler.on_message_ref(conn, message));
            if ended_by_handler(entry) {
                break; // the rest is dropped by the drain
            }
        }
        text.clear();
        binary.clear();
    }

    fn deliver_message(entry: &mut Entry, message: Message) {
        call(entry, |handler, conn| {
            handler.on_message_ref(conn, MessageRef::from(&message));
        });
    }
}

/// Appends `text` to `buf`; returns where it is.
fn append(buf: &mut String, text: &str) -> Range<usize> {
    let start = buf.len();
    buf.push_str(text);
    start..buf.len()
}
