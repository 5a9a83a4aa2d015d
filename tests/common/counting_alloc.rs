//! A global allocator that keeps count, for the root package's memory
//! tests (`send_allocations.rs`, `deflate_memory.rs`), which include it with
//! `#[path = "common/counting_alloc.rs"] mod counting_alloc;`. It is not part
//! of `common/mod.rs`, which the benchmarks include too: installing it there
//! would put a counter on their every allocation.
//!
//! Only what the measuring thread does inside [`measure`] is counted, and
//! measurements are serialized, so tests running in parallel do not disturb
//! each other.

#![allow(dead_code, unreachable_pub)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};

/// `System`, counting `alloc`/`alloc_zeroed` and `realloc` calls and the
/// bytes live, for a thread while its `COUNTING` flag is set.
struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static REALLOCS: AtomicUsize = AtomicUsize::new(0);
static LIVE: AtomicIsize = AtomicIsize::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

/// One measurement at a time, since the counters are global.
static MEASURE: Mutex<()> = Mutex::new(());

fn counting() -> bool {
    COUNTING.try_with(Cell::get).unwrap_or(false)
}

fn allocated(calls: &AtomicUsize, bytes: usize) {
    if counting() {
        calls.fetch_add(1, Ordering::Relaxed);
        LIVE.fetch_add(bytes as isize, Ordering::Relaxed);
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
