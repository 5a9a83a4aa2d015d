//! A global allocator that keeps count, for the memory tests and the
//! footprint benchmark. A binary installs it itself, since only one global
//! allocator may exist and only the binaries that measure should pay for
//! the counting:
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: ws_test_support::counting_alloc::CountingAlloc =
//!     ws_test_support::counting_alloc::CountingAlloc;
//! ```
//!
//! It keeps two sets of figures:
//!
//! - the whole process's: [`held_bytes`] and [`held_blocks`], always counted
//!   (alloc adds, dealloc subtracts, realloc adds the difference), for
//!   figures that include every thread (many connections on a loop thread,
//!   the footprint benchmark);
//! - a measurement's, serialized by one lock so that tests running in
//!   parallel do not disturb each other: what one thread does while
//!   [`measure`] runs (or a [`Measurement`] is open), counted as
//!   allocations, reallocations and bytes live; or what every thread that
//!   called [`track_current_thread`] does while a [`Scope`] is open, with
//!   the peak of the bytes live. Counting is per thread, so memory
//!   allocated on a counted thread must be freed on one (and the other way
//!   round) for the figures to balance.

// A global allocator is an unsafe trait; every call is forwarded to
// `System` unchanged.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// `System`, counting: see the [module](self) documentation.
pub struct CountingAlloc;

/// Bytes and blocks held by the whole process.
static HELD_BYTES: AtomicIsize = AtomicIsize::new(0);
static HELD_BLOCKS: AtomicIsize = AtomicIsize::new(0);

/// A measurement's figures.
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static REALLOCS: AtomicUsize = AtomicUsize::new(0);
static LIVE: AtomicIsize = AtomicIsize::new(0);
/// The highest value `LIVE` reached since the last reset.
static PEAK: AtomicIsize = AtomicIsize::new(0);
/// The open [`Scope`]'s number; 0 when none is open. A thread counts while
/// its `TRACKED` equals it, so a thread left over from an earlier scope (a
/// failed test's loop) never disturbs a later one.
static EPOCH: AtomicUsize = AtomicUsize::new(0);
static NEXT_EPOCH: AtomicUsize = AtomicUsize::new(1);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static TRACKED: Cell<usize> = const { Cell::new(0) };
}

/// One measurement at a time, since the counters are global.
static MEASURE: Mutex<()> = Mutex::new(());

/// Whether this thread's allocations count in the current measurement.
/// `try_with`: a thread's locals may already be gone while it frees its
/// last memory.
fn counting() -> bool {
    COUNTING.try_with(Cell::get).unwrap_or(false) || {
        let tracked = TRACKED.try_with(Cell::get).unwrap_or(0);
        tracked != 0 && tracked == EPOCH.load(Ordering::Relaxed)
    }
}

fn allocated(calls: &AtomicUsize, bytes: usize) {
    if counting() {
        calls.fetch_add(1, Ordering::Relaxed);
        let live = LIVE.fetch_add(bytes as isize, Ordering::Relaxed) + bytes as isize;
        PEAK.fetch_max(live, Ordering::Relaxed);
    }
}

fn freed(bytes: usize) {
    if counting() {
        LIVE.fetch_sub(bytes as isize, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to `System`; the only addition
// is updating atomic counters and reading thread-locals with const
// initializers, neither of which allocates.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            HELD_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
            HELD_BLOCKS.fetch_add(1, Ordering::Relaxed);
            allocated(&ALLOCS, layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            HELD_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
            HELD_BLOCKS.fetch_add(1, Ordering::Relaxed);
            allocated(&ALLOCS, layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) };
        HELD_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        HELD_BLOCKS.fetch_sub(1, Ordering::Relaxed);
        freed(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            HELD_BYTES.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
            // The old block freed and the new one allocated: the peak is of
            // bytes held, not of the copy's brief overlap.
            freed(layout.size());
            allocated(&REALLOCS, new_size);
        }
        new
    }
}

/// Heap bytes the whole process holds now (0 until a binary installs
/// [`CountingAlloc`]).
pub fn held_bytes() -> isize {
    HELD_BYTES.load(Ordering::SeqCst)
}

/// Heap blocks the whole process holds now.
pub fn held_blocks() -> isize {
    HELD_BLOCKS.load(Ordering::SeqCst)
}

/// What a measurement counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counted {
    /// `alloc` and `alloc_zeroed` calls.
    pub allocs: usize,
    /// `realloc` calls.
    pub reallocs: usize,
}

impl Counted {
    /// Allocations and reallocations together.
    pub fn total(self) -> usize {
        self.allocs + self.reallocs
    }
}

fn start() -> MutexGuard<'static, ()> {
    let guard = MEASURE.lock().unwrap_or_else(|e| e.into_inner());
    ALLOCS.store(0, Ordering::SeqCst);
    REALLOCS.store(0, Ordering::SeqCst);
    LIVE.store(0, Ordering::SeqCst);
    PEAK.store(0, Ordering::SeqCst);
    guard
}

/// This thread's allocations counted, the counters starting at zero, until
/// [`finish`](Self::finish); for code that cannot run inside a closure (an
/// `async` test on a current-thread runtime, whose every task runs on the
/// test's thread).
#[must_use = "counting stops at finish()"]
pub struct Measurement {
    _guard: MutexGuard<'static, ()>,
}

impl Measurement {
    /// Waits for any other measurement to end, then starts counting this
    /// thread.
    pub fn start() -> Self {
        let guard = start();
        COUNTING.with(|c| c.set(true));
        Self { _guard: guard }
    }

    /// Stops counting; what was counted.
    pub fn finish(self) -> Counted {
        COUNTING.with(|c| c.set(false));
        Counted {
            allocs: ALLOCS.load(Ordering::SeqCst),
            reallocs: REALLOCS.load(Ordering::SeqCst),
        }
    }
}

/// Runs `f` with this thread's allocations counted, the counters starting
/// at zero.
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, Counted) {
    let measurement = Measurement::start();
    let result = f();
    (result, measurement.finish())
}

/// Bytes allocated and not yet freed by the counted threads since the
/// current measurement began (negative when they freed memory allocated
/// before).
pub fn live_bytes() -> isize {
    LIVE.load(Ordering::SeqCst)
}

/// Counts this thread's allocations and frees for as long as the [`Scope`]
/// open now stays open (nothing when none is). Call it first thing on every
/// thread of the library under test: the event loop's, and any thread that
/// sends.
pub fn track_current_thread() {
    let epoch = EPOCH.load(Ordering::SeqCst);
    let _ = TRACKED.try_with(|t| t.set(epoch));
}

/// One cross-thread measurement: holds the lock [`measure`] takes (so
/// measurements never overlap), with the bytes live and their peak starting
/// at zero. Threads count once they call [`track_current_thread`]; they
/// stop when the scope is dropped.
pub struct Scope {
    _guard: MutexGuard<'static, ()>,
}

impl Scope {
    /// Waits for any other measurement to end, then opens a new scope.
    pub fn open() -> Self {
        let guard = start();
        EPOCH.store(NEXT_EPOCH.fetch_add(1, Ordering::SeqCst), Ordering::SeqCst);
        Self { _guard: guard }
    }

    /// Bytes allocated and not yet freed by tracked threads since the scope
    /// opened.
    pub fn live(&self) -> isize {
        LIVE.load(Ordering::SeqCst)
    }

    /// The most bytes live at once since the scope opened or the last
    /// [`reset_peak`](Self::reset_peak).
    pub fn peak(&self) -> isize {
        PEAK.load(Ordering::SeqCst)
    }

    /// Starts the peak over from what is live now (after a baseline).
    pub fn reset_peak(&self) {
        PEAK.store(LIVE.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        // Tracked threads still running stop counting here.
        EPOCH.store(0, Ordering::SeqCst);
    }
}
