//! A task whose `JoinHandle` was dropped while an `AbortHandle` lives on
//! has a reaper registered in it (src/task/join.rs, `register_reaper`).
//! The runtime shutting down under it must neither hang nor lose or
//! double the drop of the task's future, and the `AbortHandle` must keep
//! working afterwards. Every test runs under a watchdog.

mod support;

use goro::runtime::Runtime;
use goro::task::{AbortHandle, JoinHandle};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use support::drops::{Counted, wait_until};
use support::hang::watchdog;
use support::rt::workers;

const PATIENCE: Duration = Duration::from_secs(60);

/// Spawns on `rt` a task that holds a [`Counted`] and, once started, awaits
/// what `park` makes; waits until it has started. Returns its handles and
/// the count of its future's drops.
fn started_task<F: Future<Output = ()> + Send + 'static>(
    rt: &Runtime,
    park: impl FnOnce() -> F + Send + 'static,
) -> (JoinHandle<()>, AbortHandle, Arc<AtomicUsize>) {
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = Counted(drops.clone());
    let started = Arc::new(AtomicUsize::new(0));
    let s = started.clone();
    let handle = rt.spawn(async move {
        let _guard = guard;
        s.store(1, Ordering::SeqCst);
        park().await;
    });
    let abort = handle.abort_handle();
    wait_until("the task to start", || started.load(Ordering::SeqCst) == 1);
    (handle, abort, drops)
}

/// The task sleeps (the runtime's timers hold its waker) when the runtime
/// shuts down; the `AbortHandle` is used after that, then dropped.
#[test]
fn shutdown_with_a_reaper_registered_in_a_sleeping_task() {
    let _dog = watchdog(PATIENCE * 2);
    let rt = workers(2);
    let (handle, abort, drops) = started_task(&rt, || goro::time::sleep(Duration::from_secs(3600)));
    drop(handle);
    assert!(!abort.is_finished());
    drop(rt);
    abort.abort();
    wait_until("the future to be dropped", || {
        drops.load(Ordering::SeqCst) == 1
    });
    wait_until("the task to be finished", || abort.is_finished());
    abort.abort();
    drop(abort);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

/// The task is idle with nothing holding its waker when the runtime shuts
/// down (nobody can wake it): the last `AbortHandle` going away releases
/// it, and its future is dropped once.
#[test]
fn shutdown_with_a_reaper_registered_in_an_idle_task() {
    let _dog = watchdog(PATIENCE * 2);
    let rt = workers(2);
    let (handle, abort, drops) = started_task(&rt, std::future::pending::<()>);
    drop(handle);
    drop(rt);
    let second = abort.clone();
    drop(abort);
    assert!(!second.is_finished() || drops.load(Ordering::SeqCst) == 1);
    second.abort();
    wait_until("the future to be dropped", || {
        drops.load(Ordering::SeqCst) == 1
    });
    wait_until("the task to be finished", || second.is_finished());
    drop(second);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}
