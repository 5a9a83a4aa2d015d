//! Which task the transport and the timer wake.
//!
//! A tokio socket (and a `Sleep`) keeps one waker per direction: the last
//! task that polled it. Once a stream is split, both halves may poll the
//! same direction (the reader writes the pongs it owes, the writer reads
//! while it closes), and the second registration would silently replace
//! the first: that task would never be woken. So each source (read,
//! write, timer) of a split stream gets a [`Fanout`]: the transport is
//! polled with the fanout's own waker, which wakes every half that polled
//! that source since it last fired. An unsplit stream polls with the
//! caller's waker directly ([`Wakers::Direct`]).

use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Wake, Waker};

/// The two halves of a split stream, as slots of a [`Fanout`].
#[derive(Clone, Copy, Debug)]
pub(crate) enum Half {
    Read = 0,
    Write = 1,
}

/// The sources a connection waits on.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Source {
    Read = 0,
    Write = 1,
    Timer = 2,
}

/// The tasks waiting on one source, one slot per half.
#[derive(Default)]
struct Slots(Mutex<[Option<Waker>; 2]>);

impl Wake for Slots {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let taken = {
            let mut slots = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            [slots[0].take(), slots[1].take()]
        };
        for waker in taken.into_iter().flatten() {
            waker.wake();
        }
    }
}

/// One source's fanout: the waker the source is polled with, and where
/// the halves register.
struct Fanout {
    slots: Arc<Slots>,
    waker: Waker,
}

impl Fanout {
    fn new() -> Self {
        let slots = Arc::new(Slots::default());
        Self {
            waker: Waker::from(slots.clone()),
            slots,
        }
    }

    fn register(&self, half: Half, waker: &Waker) -> &Waker {
        let mut slots = self.slots.0.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = &mut slots[half as usize];
        match slot {
            Some(w) if w.will_wake(waker) => {}
            _ => *slot = Some(waker.clone()),
        }
        &self.waker
    }
}

/// The fanouts of a split stream's three sources.
pub(crate) struct Fanouts([Fanout; 3]);

impl Fanouts {
    pub(crate) fn new() -> Self {
        Self([Fanout::new(), Fanout::new(), Fanout::new()])
    }

    /// Wakes every half waiting on anything: the connection ended, so
    /// whatever they wait for will not come.
    pub(crate) fn wake_all(&self) {
        for fanout in &self.0 {
            fanout.waker.wake_by_ref();
        }
    }
}

/// The wakers one poll of a connection registers with its sources.
pub(crate) enum Wakers<'a> {
    /// An unsplit stream: the caller's waker for every source.
    Direct(&'a Waker),
    /// A half of a split stream: its waker goes into the fanout of each
    /// source it polls.
    Split {
        fanouts: &'a Fanouts,
        half: Half,
        waker: &'a Waker,
    },
}

impl Wakers<'_> {
    /// The waker to poll `source` with, registering the caller with it.
    #[inline]
    pub(crate) fn get(&self, source: Source) -> &Waker {
        match self {
            Self::Direct(waker) => waker,
            Self::Split {
                fanouts,
                half,
                waker,
            } => fanouts.0[source as usize].register(*half, waker),
        }
    }

    /// Wakes the other half of a split stream (the connection ended).
    pub(crate) fn wake_all(&self) {
        if let Self::Split { fanouts, .. } = self {
            fanouts.wake_all();
        }
    }
}
