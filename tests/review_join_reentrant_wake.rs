//! Review of `JoinHandle::abort_handle` (merge 4cc89fa): an awaiter's waker
//! woken while the shared state's lock is held.
//!
//! `Inner::abort` makes the first poll of `Task::cancel` under the state's
//! lock. That poll (async-task's `set_canceled`) wakes the awaiter
//! registered in the task at once, on the aborting thread (`notify(None)`),
//! before anything `WakeAfterUnlock` could defer. A waker that looks at the
//! same task again (`is_finished`, `abort`, or `Debug` of the handle) then
//! locks the state a second time on the same thread: `std`'s mutex
//! deadlocks. The module docs of `src/task/join.rs` say a waker "may drop
//! or poll the very handle whose state it is"; only the drop is handled
//! (`try_lock`). Tokio's `abort` never runs the join waker inline.
//!
//! The fix: `abort` first swaps the awaiter registered in the task for a
//! no-op waker, and wakes the awaiter itself once unlocked. The tests run
//! the abort on their own thread and fail (instead of hanging) if it does
//! not return in time; before the fix both failed that way.

mod support;
use support::drops::task_finishing_on_demand;

use goro::task::{AbortHandle, JoinHandle};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Wake, Waker};
use std::time::Duration;
use support::hang::within;
use support::rt::workers;

/// How long an `abort` may take on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(20);

/// A waker that, when woken, asks the task whether it has finished (as a
/// waker that logs the handle's state, or an executor that checks before
/// re-polling, would).
struct LooksAtTheTask {
    abort: AbortHandle,
    wakes: AtomicUsize,
}

impl Wake for LooksAtTheTask {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
        let _ = self.abort.is_finished();
    }
}

/// Polls `handle`, whose task is pending, once with a [`LooksAtTheTask`]
/// waker that looks through `abort`, registering it as the awaiter.
fn park_an_awaiter_that_looks(
    handle: &mut JoinHandle<()>,
    abort: AbortHandle,
) -> Arc<LooksAtTheTask> {
    let awaiter = Arc::new(LooksAtTheTask {
        abort,
        wakes: AtomicUsize::new(0),
    });
    let waker = Waker::from(awaiter.clone());
    assert!(
        Pin::new(handle)
            .poll(&mut Context::from_waker(&waker))
            .is_pending()
    );
    awaiter
}

#[test]
fn abort_handle_abort_does_not_run_the_awaiter_waker_under_the_lock() {
    let rt = workers(2);
    let mut handle = rt.spawn(std::future::pending::<()>());
    let abort = handle.abort_handle();
    let awaiter = park_an_awaiter_that_looks(&mut handle, abort.clone());
    // Deadlocks here before a fix: abort → set_canceled → awaiter.wake →
    // abort.is_finished() → the state's lock, held by this very thread.
    within(PATIENCE, move || abort.abort());
    assert!(awaiter.wakes.load(Ordering::SeqCst) >= 1);
    drop(handle);
    drop(rt);
}

/// The same through the `JoinHandle`'s own `abort` once it has an
/// `AbortHandle` (the state is shared): the waker re-enters through the
/// `AbortHandle`.
#[test]
fn join_handle_abort_does_not_run_the_awaiter_waker_under_the_lock() {
    let rt = workers(2);
    let mut handle = rt.spawn(std::future::pending::<()>());
    let abort = handle.abort_handle();
    let awaiter = park_an_awaiter_that_looks(&mut handle, abort);
    let handle = within(PATIENCE, move || {
        handle.abort();
        handle
    });
    assert!(awaiter.wakes.load(Ordering::SeqCst) >= 1);
    drop(handle);
    drop(rt);
}

/// Was a difference from tokio: with the `JoinHandle` dropped and an
/// `AbortHandle` kept (say, in a registry of cancellable jobs), a finished
/// task's output was kept until an `AbortHandle` next looked at the task or
/// the last one was dropped. Tokio drops it as soon as the task completes;
/// so does goro now (the dropped `JoinHandle` registers a reaper in the
/// task: `register_reaper` in src/task/join.rs).
#[test]
fn a_detached_tasks_output_is_dropped_when_it_finishes_like_tokio() {
    let rt = workers(2);
    let (handle, finish, drops) = task_finishing_on_demand(&rt, PATIENCE);
    let abort = handle.abort_handle();
    drop(handle);
    finish.send(()).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while drops.load(Ordering::SeqCst) == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let dropped = drops.load(Ordering::SeqCst);
    drop(abort);
    drop(rt);
    assert_eq!(dropped, 1, "the finished task's output was still alive");
}
