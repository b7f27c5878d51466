//! `JoinHandle::abort_handle`: cancelling a task through an `AbortHandle`,
//! with tokio's semantics (works from any thread and after the
//! `JoinHandle` is dropped; a no-op once the task finished).

use goro::task::AbortHandle;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// Sends on drop: tells the test a future (or an output) is gone.
struct DropSignal(mpsc::Sender<()>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

/// A future that never completes and signals when it is dropped.
fn pending_with_signal() -> (
    impl Future<Output = ()> + Send + 'static,
    mpsc::Receiver<()>,
) {
    let (tx, rx) = mpsc::channel();
    let guard = DropSignal(tx);
    let fut = async move {
        let _guard = guard;
        std::future::pending::<()>().await;
    };
    (fut, rx)
}

const PATIENCE: Duration = Duration::from_secs(10);

#[test]
fn abort_handle_is_send_sync_clone_static() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<AbortHandle>();
}

#[test]
fn aborting_through_the_abort_handle_cancels_the_task() {
    goro::block_on(async {
        let (fut, dropped) = pending_with_signal();
        let handle = goro::spawn(fut);
        let abort = handle.abort_handle();
        assert_eq!(abort.id(), handle.id());
        assert!(!abort.is_finished());
        // From another thread, while the JoinHandle is being awaited.
        let aborter = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(10));
            abort.abort();
            abort
        });
        let err = handle.await.unwrap_err();
        assert!(err.is_cancelled(), "{err:?}");
        // The cancelled result is reported only once the future is gone.
        assert_eq!(dropped.try_recv(), Ok(()));
        let abort = aborter.join().unwrap();
        assert!(abort.is_finished());
    });
}

#[test]
fn abort_before_awaiting_and_through_clones() {
    goro::block_on(async {
        let handle = goro::spawn(std::future::pending::<u8>());
        let first = handle.abort_handle();
        let second = handle.abort_handle().clone();
        second.abort();
        first.abort(); // a second abort changes nothing
        assert!(handle.await.unwrap_err().is_cancelled());
        assert!(first.is_finished() && second.is_finished());
    });
}

#[test]
fn abort_after_completion_is_a_no_op() {
    goro::block_on(async {
        let handle = goro::spawn(async { 7 });
        let early = handle.abort_handle();
        while !handle.is_finished() {
            goro::task::yield_now().await;
        }
        assert!(early.is_finished());
        early.abort();
        let late = handle.abort_handle();
        late.abort();
        assert_eq!(handle.await.unwrap(), 7, "the output survives the aborts");
        early.abort();
        assert!(late.is_finished());
    });
}

#[test]
fn dropping_every_handle_detaches_the_task() {
    goro::block_on(async {
        let done = Arc::new(AtomicBool::new(false));
        let d = done.clone();
        let (tx, rx) = mpsc::channel::<()>();
        let handle = goro::spawn(async move {
            goro::time::sleep(Duration::from_millis(10)).await;
            d.store(true, Ordering::Release);
            drop(tx);
        });
        let abort = handle.abort_handle();
        drop(handle);
        drop(abort);
        goro::task::spawn_blocking(move || assert!(rx.recv_timeout(PATIENCE).is_err()))
            .await
            .unwrap();
        assert!(done.load(Ordering::Acquire), "the task ran to completion");
    });
}

#[test]
fn a_detached_task_can_still_be_aborted() {
    let rt = goro::runtime::Builder::new()
        .worker_threads(1)
        .build()
        .unwrap();
    let (fut, dropped) = pending_with_signal();
    let handle = rt.spawn(fut);
    let abort = handle.abort_handle();
    drop(handle); // detaches; the task keeps running
    assert_eq!(
        dropped.recv_timeout(Duration::from_millis(20)),
        Err(mpsc::RecvTimeoutError::Timeout),
        "dropping the JoinHandle must not cancel the task"
    );
    assert!(!abort.is_finished());
    assert_eq!(rt.metrics().num_alive_tasks(), 1);
    abort.abort();
    assert_eq!(dropped.recv_timeout(PATIENCE), Ok(()), "future not dropped");
    let deadline = std::time::Instant::now() + PATIENCE;
    while !abort.is_finished() {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(rt.metrics().num_alive_tasks(), 0);
}

#[test]
fn a_detached_tasks_output_is_dropped_once_it_finishes() {
    let rt = goro::runtime::Builder::new()
        .worker_threads(1)
        .build()
        .unwrap();
    let (tx, output_dropped) = mpsc::channel();
    let go = Arc::new(AtomicBool::new(false));
    let g = go.clone();
    let handle = rt.spawn(async move {
        while !g.load(Ordering::Acquire) {
            goro::time::sleep(Duration::from_millis(1)).await;
        }
        DropSignal(tx)
    });
    let abort = handle.abort_handle();
    drop(handle);
    go.store(true, Ordering::Release);
    let deadline = std::time::Instant::now() + PATIENCE;
    while !abort.is_finished() {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(1));
    }
    // Nobody can take the output: it is dropped, not kept for as long as
    // the AbortHandle lives.
    assert_eq!(output_dropped.try_recv(), Ok(()));
    abort.abort(); // finished: nothing to do
    drop(abort);
}
