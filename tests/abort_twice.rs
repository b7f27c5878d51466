//! Aborting a task twice changes nothing the first abort did not: the
//! handle still resolves only once the task's future has been dropped.
//!
//! A second `JoinHandle::abort` used to replace the pending cancellation
//! with "done", so awaiting the handle returned "cancelled" at once while
//! the task's future was still being polled on a worker.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;
use support::drops::Counted;
use support::rt::workers;

#[test]
fn a_second_abort_still_waits_for_the_future_to_be_dropped() {
    let rt = workers(2);
    let drops = Arc::new(AtomicUsize::new(0));
    let (started_tx, started) = mpsc::channel();
    let guard = Counted(drops.clone());
    let handle = rt.spawn(async move {
        let _guard = guard;
        started_tx.send(()).unwrap();
        // Inside this poll, both aborts arrive: the future cannot be
        // dropped before the poll returns.
        std::thread::sleep(Duration::from_millis(300));
        std::future::pending::<()>().await;
    });
    started
        .recv_timeout(Duration::from_secs(10))
        .expect("the task never ran");
    handle.abort();
    handle.abort();
    assert!(!handle.is_finished(), "the future is still being polled");
    let err = rt.block_on(handle).unwrap_err();
    assert!(err.is_cancelled());
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the handle resolved before the task's future was dropped"
    );
}
