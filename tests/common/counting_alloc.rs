//! A global allocator that keeps count, for the root package's memory
//! tests (`send_allocations.rs`, `deflate_memory.rs`), which include it with
//! `#[path = "common/counting_alloc.rs"] mod counting_alloc;`. It is not part
//! of `common/mod.rs`, which the benchmarks include too: installing it there
//! would put a counter on their every allocation.
//!
//! Only what the measuring thread does inside [`measure`] is counted, and
//! measurements are serialized, so tests running in parallel do not disturb
//! each other.
//!
//! `hostile.rs` measures across threads instead: a [`Scope`] (serialized with
//! [`measure`] by the same lock) counts every thread that called
//! [`track_current_thread`] while it was open, and keeps the peak of the
//! bytes live as well as the current figure. Counting is per thread, so
//! memory allocated on a tracked thread must be freed on a tracked thread
//! (and the other way round) for the figures to balance.

#![allow(dead_code, unreachable_pub)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// `System`, counting `alloc`/`alloc_zeroed` and `realloc` calls and the
/// bytes live (and their peak), for a thread while its `COUNTING` flag is
/// set or it is tracked by the open [`Scope`]. A `realloc` counts as the old
/// block freed and the new one allocated: the peak is of bytes held, not of
/// the copy's brief overlap.
struct Counting;

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

// SAFETY: every call is forwarded unchanged to `System`; the only addition is
// updating atomic counters, which does not allocate.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        allocated(&ALLOCS, layout.size());
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        allocated(&ALLOCS, layout.size());
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if counting() {
            LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if counting() {
            LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        }
        allocated(&REALLOCS, new_size);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// What [`measure`] counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counted {
    pub allocs: usize,
    pub reallocs: usize,
}

impl Counted {
    pub fn total(self) -> usize {
        self.allocs + self.reallocs
    }
}

/// Runs `f` with this thread's allocations counted, the counters starting
/// at zero.
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, Counted) {
    let _guard = MEASURE.lock().unwrap_or_else(|e| e.into_inner());
    ALLOCS.store(0, Ordering::SeqCst);
    REALLOCS.store(0, Ordering::SeqCst);
    LIVE.store(0, Ordering::SeqCst);
    PEAK.store(0, Ordering::SeqCst);
    COUNTING.with(|c| c.set(true));
    let result = f();
    COUNTING.with(|c| c.set(false));
    let counted = Counted {
        allocs: ALLOCS.load(Ordering::SeqCst),
        reallocs: REALLOCS.load(Ordering::SeqCst),
    };
    (result, counted)
}

/// Bytes allocated and not yet freed since the current [`measure`] began
/// (negative when it freed memory allocated before).
pub fn live_bytes() -> isize {
    LIVE.load(Ordering::SeqCst)
}

/// Counts this thread's allocations and frees for as long as the [`Scope`]
/// open now stays open (nothing when none is). Call it first thing on every
/// thread of the library under test: the event loop's, and any thread that
/// calls `Conn::send_*`.
pub fn track_current_thread() {
    let epoch = EPOCH.load(Ordering::SeqCst);
    let _ = TRACKED.try_with(|t| t.set(epoch));
}

/// One cross-thread measurement: holds the lock [`measure`] takes (so
/// measurements never overlap), with `LIVE` and `PEAK` starting at zero.
/// Threads count once they call [`track_current_thread`]; they stop when the
/// scope is dropped.
pub struct Scope {
    _guard: MutexGuard<'static, ()>,
}

impl Scope {
    /// Waits for any other measurement to end, then opens a new scope.
    pub fn open() -> Self {
        let guard = MEASURE.lock().unwrap_or_else(|e| e.into_inner());
        LIVE.store(0, Ordering::SeqCst);
        PEAK.store(0, Ordering::SeqCst);
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
