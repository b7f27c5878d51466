//! Unit tests: what async-task runs *inside* the calls a handle makes on an
//! abort must not run under the handle's lock.
//!
//! Cancelling an idle task makes async-task call the task's schedule
//! function at once, on the aborting thread (`set_canceled`). goro's
//! schedule function drops the task there and then once runtime shutdown
//! has drained the queues (`schedule_remote`, `drop_if_drained` in
//! scheduler/ready.rs) — so the task's future, whose `Drop` is user code,
//! is dropped inside `abort`. That only happens when an abort on another
//! thread races the end of a shutdown (the abort marks the task cancelled
//! before the shutdown wakes it, and reaches the schedule function after
//! the queues were drained), which a test cannot time. These tests give
//! the task a schedule function that does the same as a drained runtime,
//! deterministically: drop the task it is handed.
//!
//! Each abort runs on its own thread and the test fails if it does not
//! return in time (a future whose `Drop` looks at its own task deadlocked
//! on the handle's lock before the fix).

use super::{AbortHandle, JoinHandle};
use crate::scheduler::TaskMeta;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, mpsc};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// How long an abort may take on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(30);

/// A task's state that, when dropped, asks its own task whether it has
/// finished (as a guard that logs its task's state would).
struct LooksAtItsTaskOnDrop {
    look: Look,
    drops: Arc<AtomicUsize>,
}

impl Drop for LooksAtItsTaskOnDrop {
    fn drop(&mut self) {
        if let Some(look) = self.look.get() {
            look();
        }
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

/// What the future's drop calls.
type Look = Arc<OnceLock<Box<dyn Fn() + Send + Sync>>>;

/// A pending task run once by hand, left idle, whose schedule function
/// drops whatever it is handed from then on (a drained runtime). Returns
/// its handle, the slot its future's drop looks through, and the count of
/// the future's drops.
fn idle_task_of_a_drained_runtime(
    rt: &crate::runtime::Runtime,
) -> (JoinHandle<()>, Look, Arc<AtomicUsize>) {
    let shared = rt.handle().scheduler_for_tests();
    let look: Look = Arc::default();
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = LooksAtItsTaskOnDrop {
        look: look.clone(),
        drops: drops.clone(),
    };
    let future = async move {
        let _guard = guard;
        std::future::pending::<()>().await;
    };
    let drained = Arc::new(AtomicBool::new(false));
    let schedule = {
        let drained = drained.clone();
        move |runnable: async_task::Runnable<TaskMeta>| {
            // Before: nothing runs it again in this test. After: dropped
            // at once, as `schedule_remote` does once `drained` is set.
            assert!(drained.load(Ordering::SeqCst), "scheduled before the abort");
            drop(runnable);
        }
    };
    let meta = TaskMeta::new(&shared, None, std::panic::Location::caller());
    let (runnable, task) = async_task::Builder::new()
        .metadata(meta)
        .propagate_panic(true)
        .spawn(move |_| future, schedule);
    // One poll: the future is pending and the task idle (neither
    // scheduled nor running).
    assert!(!runnable.run());
    drained.store(true, Ordering::SeqCst);
    (JoinHandle::new(task), look, drops)
}

/// Runs `f` on its own thread; fails the test if it does not return in
/// time.
fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(PATIENCE)
        .unwrap_or_else(|_| panic!("{what} did not return (deadlock on the handle's lock?)"))
}

fn poll_now<T>(handle: &JoinHandle<T>) -> Poll<Result<T, super::JoinError>> {
    handle.poll_output(&mut Context::from_waker(Waker::noop()))
}

fn runtime() -> crate::runtime::Runtime {
    crate::runtime::Builder::new()
        .worker_threads(1)
        .build()
        .unwrap()
}

/// [`idle_task_of_a_drained_runtime`] whose future's drop looks at the task
/// through its (shared) `JoinHandle`, if that is still alive.
fn idle_task_that_looks_through_its_join_handle(
    rt: &crate::runtime::Runtime,
) -> (Arc<JoinHandle<()>>, Arc<AtomicUsize>) {
    let (handle, look, drops) = idle_task_of_a_drained_runtime(rt);
    let handle = Arc::new(handle);
    let seen = Arc::downgrade(&handle);
    let _ = look.set(Box::new(move || {
        if let Some(handle) = seen.upgrade() {
            let _ = handle.is_finished();
        }
    }));
    (handle, drops)
}

#[track_caller]
fn assert_dropped_once(drops: &AtomicUsize) {
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the future was not dropped"
    );
}

#[track_caller]
fn assert_cancelled(handle: &JoinHandle<()>) {
    match poll_now(handle) {
        Poll::Ready(Err(e)) => assert!(e.is_cancelled(), "{e:?}"),
        _ => panic!("the aborted task's handle is not a cancellation"),
    }
}

#[test]
fn abort_handle_abort_drops_the_future_without_the_lock() {
    let rt = runtime();
    let (handle, look, drops) = idle_task_of_a_drained_runtime(&rt);
    let abort: AbortHandle = handle.abort_handle();
    let seen = abort.clone();
    let _ = look.set(Box::new(move || {
        let _ = seen.is_finished();
    }));
    within("AbortHandle::abort", move || abort.abort());
    assert_dropped_once(&drops);
    assert_cancelled(&handle);
}

#[test]
fn join_handle_abort_drops_the_future_without_the_lock() {
    let rt = runtime();
    let (handle, drops) = idle_task_that_looks_through_its_join_handle(&rt);
    let aborting = handle.clone();
    within("JoinHandle::abort", move || aborting.abort());
    assert_dropped_once(&drops);
    assert_cancelled(&handle);
}

/// A dropped `JoinSet` cancels its tasks through `abort_unobserved`, which
/// drops the async-task handle: the same schedule call.
#[test]
fn abort_unobserved_drops_the_future_without_the_lock() {
    let rt = runtime();
    let (handle, drops) = idle_task_that_looks_through_its_join_handle(&rt);
    let aborting = handle.clone();
    within("JoinHandle::abort_unobserved", move || {
        aborting.abort_unobserved()
    });
    assert_dropped_once(&drops);
    assert!(handle.is_finished());
}
