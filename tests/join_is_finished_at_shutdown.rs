//! `is_finished` is true only once the task's future has been dropped, and
//! never goes back to false.
//!
//! A runtime shutting down drops the tasks left in its queues. async-task
//! marks such a task closed *before* it drops the future; a handle that
//! answered `is_finished` from that mark alone said "finished" while the
//! future was still being dropped, and after an `abort` in that window
//! (the abort found the task not done and started a cancellation) said
//! "not finished" again. The future's own `Drop` looks at its task here,
//! the one place that window can be seen deterministically.

mod support;

use goro::task::AbortHandle;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use support::hang::watchdog;
use support::rt::workers;

const PATIENCE: Duration = Duration::from_secs(60);

/// What the future's `Drop` saw: `is_finished` before and after an abort.
type Seen = Arc<Mutex<Option<(bool, bool)>>>;

struct LooksOnDrop {
    abort: Arc<OnceLock<AbortHandle>>,
    seen: Seen,
}

impl Drop for LooksOnDrop {
    fn drop(&mut self) {
        if let Some(abort) = self.abort.get() {
            let before = abort.is_finished();
            abort.abort();
            let after = abort.is_finished();
            *self.seen.lock().unwrap() = Some((before, after));
        }
    }
}

#[test]
fn a_task_dropped_by_shutdown_is_not_finished_while_its_future_drops() {
    let _dog = watchdog(PATIENCE * 2);
    let rt = workers(1);
    let abort = Arc::new(OnceLock::new());
    let seen: Seen = Arc::default();
    let guard = LooksOnDrop {
        abort: abort.clone(),
        seen: seen.clone(),
    };
    let started = Arc::new(AtomicBool::new(false));
    let s = started.clone();
    // Always queued or running: shutdown drops it from its queue.
    let handle = rt.spawn(async move {
        let _guard = guard;
        s.store(true, Ordering::SeqCst);
        loop {
            goro::task::yield_now().await;
        }
    });
    let _ = abort.set(handle.abort_handle());
    let deadline = Instant::now() + PATIENCE;
    while !started.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "the task never ran");
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(rt);
    let (before, after) = seen.lock().unwrap().expect("the future was dropped");
    assert!(
        !before || after,
        "is_finished went from true to false across an abort"
    );
    assert!(!before, "finished while its future was being dropped");
    drop(handle);
    assert!(abort.get().unwrap().is_finished());
}
