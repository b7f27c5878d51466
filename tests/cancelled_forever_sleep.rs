//! A task that arms a `sleep(Duration::MAX)` (here the timer of a
//! `timeout(Duration::MAX, ..)`) and finishes before it could fire leaves
//! nothing behind: its allocation is freed when it finishes.
//!
//! Such a sleep claims the timer in its task's header
//! (`src/scheduler/sleep_timer.rs`), and a heap entry for it keeps the
//! task's allocation alive through its clone of the task's waker. A
//! cancelled entry is dropped lazily: when it reaches the top of its heap,
//! which a never-firing entry never does, or when the heap compacts, which
//! it does only once more than 64 entries are stale. So these tasks, fewer
//! than that, would stay allocated until the runtime is dropped. The test
//! follows the tasks' own allocations by address.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Fewer than the stale entries that make a heap compact.
const TASKS: usize = 48;

/// The ballast each task's future carries across its await (under the
/// size at which async-task boxes a future apart from its task).
const BALLAST: usize = 1200;

/// The addresses of the tasks' allocations (0: free slot).
static TRACKED: [AtomicUsize; TASKS] = [const { AtomicUsize::new(0) }; TASKS];
static NEXT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Set on the test thread while it spawns: allocations of task size
    /// made then are the tasks'.
    static SPAWNING: Cell<bool> = const { Cell::new(false) };
}

fn is_task_sized(size: usize) -> bool {
    (BALLAST..BALLAST * 2).contains(&size)
}

struct Tracking;

// SAFETY: forwards every call to the system allocator unchanged; the
// bookkeeping has no effect on the memory handed out.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is the system allocator's.
        let p = unsafe { System.alloc(layout) };
        if is_task_sized(layout.size()) && SPAWNING.with(Cell::get) {
            let i = NEXT.fetch_add(1, Ordering::SeqCst);
            if let Some(slot) = TRACKED.get(i) {
                slot.store(p as usize, Ordering::SeqCst);
            }
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if is_task_sized(layout.size()) {
            for slot in &TRACKED {
                let _ = slot.compare_exchange(ptr as usize, 0, Ordering::SeqCst, Ordering::SeqCst);
            }
        }
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Tracking = Tracking;

fn still_allocated() -> usize {
    TRACKED
        .iter()
        .filter(|s| s.load(Ordering::SeqCst) != 0)
        .count()
}

#[test]
fn a_finished_task_is_freed_though_its_cancelled_forever_sleep_was_armed() {
    let rt = goro::runtime::Builder::new()
        .worker_threads(1)
        .build()
        .unwrap();
    // Warm up: the first spawns allocate the task registry's pages.
    rt.block_on(async {
        for _ in 0..64 {
            goro::spawn(async {}).await.unwrap();
        }
    });
    let mut handles = Vec::with_capacity(TASKS);
    SPAWNING.with(|s| s.set(true));
    for _ in 0..TASKS {
        handles.push(rt.spawn(async {
            let ballast = std::hint::black_box([1u8; BALLAST]);
            // The first poll arms the timer (the yield is pending), the
            // second returns and cancels it.
            let r = goro::time::timeout(Duration::MAX, goro::task::yield_now()).await;
            assert!(r.is_ok());
            std::hint::black_box(&ballast);
        }));
    }
    SPAWNING.with(|s| s.set(false));
    assert_eq!(
        NEXT.load(Ordering::SeqCst),
        TASKS,
        "not one allocation of the size followed per task"
    );
    rt.block_on(async {
        for h in handles {
            h.await.unwrap();
        }
    });
    // A worker may hold the last task a moment after handing its output over.
    let deadline = Instant::now() + Duration::from_secs(5);
    while still_allocated() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let kept = still_allocated();
    assert_eq!(
        kept, 0,
        "{kept} of {TASKS} finished tasks are still allocated: their cancelled \
         sleep(Duration::MAX) entries keep them"
    );
    drop(rt);
    assert_eq!(still_allocated(), 0, "dropping the runtime frees them");
}

/// Such a sleep arms no heap entry, so the shutdown's sweep of the heaps
/// does not wake its task: the shutdown cancels the task instead, as it
/// does every task, and nothing waits on.
#[test]
fn a_task_pending_on_a_forever_sleep_is_cancelled_by_the_shutdown() {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    struct SetOnDrop(Arc<AtomicBool>);
    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    let rt = goro::runtime::Runtime::new().unwrap();
    let dropped = Arc::new(AtomicBool::new(false));
    let guard = SetOnDrop(dropped.clone());
    let (parked_tx, parked_rx) = std::sync::mpsc::channel();
    let handle = rt.spawn(async move {
        let _guard = guard;
        let mut forever = std::pin::pin!(goro::time::sleep(Duration::MAX));
        std::future::poll_fn(|cx| {
            let p = forever.as_mut().poll(cx);
            let _ = parked_tx.send(());
            p
        })
        .await;
    });
    parked_rx.recv().unwrap();
    drop(rt);
    assert!(
        dropped.load(Ordering::SeqCst),
        "the shutdown dropped the task"
    );
    let err = goro::block_on(handle).expect_err("cancelled, not completed");
    assert!(err.is_cancelled(), "{err:?}");
}
