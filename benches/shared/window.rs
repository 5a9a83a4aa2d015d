//! The window of messages in flight of an async throughput client, shared
//! by `benches/echo.rs` (fastwebsockets) and `benches/tokio.rs` (every
//! contestant), and a join of two futures on one task.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Poll, Waker};

/// The window shared by a client's writing and reading futures, on one
/// task or two: the writer waits while `limit` messages are in flight and
/// is woken once no more than half of them are (so that a wake-up is not
/// paid per message). `Send + Sync`, so the reader may be a spawned task.
pub(crate) struct Window {
    limit: u64,
    sent: AtomicU64,
    received: AtomicU64,
    writer: Mutex<Option<Waker>>,
}

impl Window {
    pub(crate) fn new(limit: u64) -> Self {
        Self {
            limit,
            sent: AtomicU64::new(0),
            received: AtomicU64::new(0),
            writer: Mutex::new(None),
        }
    }

    fn room(&self) -> u64 {
        let in_flight = self.sent.load(Ordering::SeqCst) - self.received.load(Ordering::SeqCst);
        self.limit - in_flight.min(self.limit)
    }

    /// Writer: waits until another message may be sent.
    pub(crate) async fn wait_for_room(&self) {
        poll_fn(|cx| {
            if self.room() > 0 {
                return Poll::Ready(());
            }
            *self.writer.lock().unwrap() = Some(cx.waker().clone());
            // The reader may have made room between the check and the
            // waker's store (two tasks on a multi-threaded runtime).
            if self.room() > 0 {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
    }

    /// Writer: `sent` messages are written.
    pub(crate) fn sent(&self, sent: u64) {
        self.sent.store(sent, Ordering::SeqCst);
    }

    /// Reader: echoes received in total.
    pub(crate) fn received(&self, received: u64) {
        self.received.store(received, Ordering::SeqCst);
        if self.sent.load(Ordering::SeqCst) - received <= self.limit / 2 {
            if let Some(waker) = self.writer.lock().unwrap().take() {
                waker.wake();
            }
        }
    }
}

/// Polls two futures on one task until both are done.
pub(crate) async fn join2<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut ra, mut rb) = (None, None);
    poll_fn(move |cx| {
        if ra.is_none() {
            if let Poll::Ready(v) = a.as_mut().poll(cx) {
                ra = Some(v);
            }
        }
        if rb.is_none() {
            if let Poll::Ready(v) = b.as_mut().poll(cx) {
                rb = Some(v);
            }
        }
        match (ra.take(), rb.take()) {
            (Some(a), Some(b)) => Poll::Ready((a, b)),
            (a, b) => {
                (ra, rb) = (a, b);
                Poll::Pending
            }
        }
    })
    .await
}
