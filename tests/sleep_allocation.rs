//! A task that sleeps the usual way allocates nothing for its sleep: the
//! `Sleep` borrows the timer in the task's header (Go's per-goroutine
//! timer; `src/scheduler/sleep_timer.rs`). This is what keeps a million
//! sleeping tasks at one allocation each, and it holds only while a sleep
//! recognises its task's own waker (`Waker::will_wake` against the waker
//! async-task hands the task), so it is checked here by counting
//! allocations: if the recognition ever failed, every sleep would quietly
//! fall back to a timer of its own and this test would see one extra
//! allocation per task.

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; the
// counter has no effect on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const TASKS: usize = 2000;

/// Allocations made while `TASKS` tasks are spawned and each runs its first
/// poll, which ends parked in `park()`.
fn allocations_to_park<F, P>(park: P) -> usize
where
    P: Fn() -> F + Send + Sync + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let rt = goro::runtime::Builder::new()
        .worker_threads(1)
        .build()
        .unwrap();
    let started = Arc::new(AtomicUsize::new(0));
    let park = Arc::new(park);
    let mut handles = Vec::with_capacity(TASKS);
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    for _ in 0..TASKS {
        let started = started.clone();
        let park = park.clone();
        handles.push(rt.spawn(async move {
            started.fetch_add(1, Ordering::SeqCst);
            park().await;
        }));
    }
    // (Waiting allocates nothing, however long it takes.)
    while started.load(Ordering::SeqCst) < TASKS {
        std::thread::sleep(Duration::from_millis(1));
    }
    // One worker: a task spawned now runs after the last parked task's
    // first poll has returned.
    rt.block_on(async { goro::spawn(async {}).await.unwrap() });
    let after = ALLOCATIONS.load(Ordering::SeqCst);
    for h in &handles {
        h.abort();
    }
    drop(handles);
    drop(rt);
    after - before
}

#[test]
fn a_sleeping_task_allocates_nothing_for_its_sleep() {
    // Either future lives inside its task's allocation, so the difference
    // is what sleeping costs beyond parking.
    let parked = allocations_to_park(std::future::pending::<()>);
    let sleeping = allocations_to_park(|| goro::time::sleep(Duration::from_secs(3600)));
    let extra = sleeping.saturating_sub(parked);
    // The timer heap's pages (64 KiB each) are the only allocation a sleep
    // may add; an own timer per sleep would add TASKS.
    assert!(
        extra < TASKS / 10,
        "{TASKS} sleeping tasks made {sleeping} allocations, {TASKS} parked ones \
         {parked}: {extra} more — the sleeps did not use their tasks' header timers"
    );
}
