//! A cancellation completed by someone other than the awaiter still wakes
//! the awaiter.
//!
//! `AbortHandle::is_finished` (and `abort`) poll the pending cancellation
//! from whatever thread calls them, with the awaiter's waker so it stays
//! registered in the task. When that poll finds the cancellation complete,
//! async-task takes the caller for the awaiter (its waker `will_wake` the
//! registered one) and drops the registered waker unwoken — also when a
//! worker had just marked the task completed and was about to wake it. The
//! awaiter then slept forever on a handle that was ready.
//!
//! The race is made deterministic here: the task is aborted while it is
//! being polled, then returns an output whose drop (async-task drops the
//! output of a cancelled task between marking it completed and taking the
//! awaiter's waker) holds the worker inside that window while the test
//! calls `is_finished`.

mod support;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};
use support::hang::watchdog;
use support::rt::workers;

/// How long any step may take on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(30);

/// A waker that counts its wakes: stands for a parked awaiter.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A task's output whose drop reports that it started and then waits to
/// be released: it holds the worker between "completed" and "awaiter
/// woken".
struct HeldDrop {
    dropping: Sender<()>,
    release: Receiver<()>,
}

impl Drop for HeldDrop {
    fn drop(&mut self) {
        let _ = self.dropping.send(());
        let _ = self.release.recv_timeout(PATIENCE);
    }
}

/// The test's side of a task spawned by [`held_task`].
struct Controls {
    started: Receiver<()>,
    finish: Sender<()>,
    dropping: Receiver<()>,
    release: Sender<()>,
}

/// A task that, once polled, blocks its worker until `finish`, then
/// returns a [`HeldDrop`].
fn held_task() -> (impl Future<Output = HeldDrop> + Send + 'static, Controls) {
    let (started_tx, started) = mpsc::channel();
    let (finish, finish_rx) = mpsc::channel::<()>();
    let (dropping_tx, dropping) = mpsc::channel();
    let (release, release_rx) = mpsc::channel::<()>();
    let task = async move {
        started_tx.send(()).unwrap();
        // Blocks inside the poll, so the abort lands while it runs.
        let _ = finish_rx.recv_timeout(PATIENCE);
        HeldDrop {
            dropping: dropping_tx,
            release: release_rx,
        }
    };
    let controls = Controls {
        started,
        finish,
        dropping,
        release,
    };
    (task, controls)
}

fn wait_for_wakes(waker: &CountingWaker, at_least: usize) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while waker.0.load(Ordering::SeqCst) < at_least {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    true
}

#[test]
fn abort_handle_is_finished_completing_a_cancellation_wakes_the_awaiter() {
    let _dog = watchdog(Duration::from_secs(120));
    let rt = workers(2);
    let (task, c) = held_task();
    let mut handle = rt.spawn(task);
    let abort = handle.abort_handle();
    c.started
        .recv_timeout(PATIENCE)
        .expect("the task never ran");

    let awaiter = Arc::new(CountingWaker::default());
    let waker = Waker::from(awaiter.clone());
    let mut cx = Context::from_waker(&waker);
    assert!(Pin::new(&mut handle).poll(&mut cx).is_pending());
    abort.abort();
    // The abort woke the awaiter, which polls again and waits for the
    // cancellation (the task's future is still being polled).
    assert!(
        wait_for_wakes(&awaiter, 1),
        "the abort did not wake the awaiter"
    );
    assert!(Pin::new(&mut handle).poll(&mut cx).is_pending());
    let woken = awaiter.0.load(Ordering::SeqCst);

    // The task completes; its worker is held after marking it completed,
    // before waking the awaiter.
    c.finish.send(()).unwrap();
    c.dropping
        .recv_timeout(PATIENCE)
        .expect("the cancelled task's output was not dropped");
    // Another thread looks at the task: this completes the cancellation.
    assert!(abort.is_finished());
    c.release.send(()).unwrap();

    assert!(
        wait_for_wakes(&awaiter, woken + 1),
        "the awaiter was never woken after the cancellation completed (lost wake-up)"
    );
    match Pin::new(&mut handle).poll(&mut cx) {
        Poll::Ready(Err(e)) => assert!(e.is_cancelled(), "{e:?}"),
        Poll::Ready(Ok(_)) => panic!("a cancelled task's output reached the awaiter"),
        Poll::Pending => panic!("woken, but the handle is not ready"),
    }
}

/// The same through a `JoinSet`'s `AbortHandle`: `join_next` must learn of
/// a cancellation that `is_finished` completed.
#[test]
fn join_set_abort_handle_is_finished_completing_a_cancellation_wakes_join_next() {
    let _dog = watchdog(Duration::from_secs(120));
    let rt = workers(2);
    let (task, c) = held_task();
    let mut set = goro::task::JoinSet::new();
    let abort = rt.block_on(async { set.spawn(task) });
    c.started
        .recv_timeout(PATIENCE)
        .expect("the task never ran");

    let awaiter = Arc::new(CountingWaker::default());
    let waker = Waker::from(awaiter.clone());
    let mut cx = Context::from_waker(&waker);
    assert!(set.poll_join_next(&mut cx).is_pending());
    abort.abort();
    assert!(
        wait_for_wakes(&awaiter, 1),
        "the abort did not wake join_next"
    );
    assert!(set.poll_join_next(&mut cx).is_pending());
    let woken = awaiter.0.load(Ordering::SeqCst);

    c.finish.send(()).unwrap();
    c.dropping
        .recv_timeout(PATIENCE)
        .expect("the cancelled task's output was not dropped");
    assert!(abort.is_finished());
    c.release.send(()).unwrap();

    assert!(
        wait_for_wakes(&awaiter, woken + 1),
        "join_next was never woken after the cancellation completed (lost wake-up)"
    );
    match set.poll_join_next(&mut cx) {
        Poll::Ready(Some(Err(e))) => assert!(e.is_cancelled(), "{e:?}"),
        Poll::Ready(other) => panic!("not a cancellation: ok={:?}", other.map(|r| r.is_ok())),
        Poll::Pending => panic!("woken, but join_next is not ready"),
    }
}
