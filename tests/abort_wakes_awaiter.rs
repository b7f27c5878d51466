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
//! The first two tests make the race deterministic: the task is aborted
//! while it is being polled, then returns an output whose drop
//! (async-task drops the output of a cancelled task between marking it
//! completed and taking the awaiter's waker) holds the worker inside that
//! window while the test calls `is_finished`. The third races `abort`
//! against the task's completion many times; its window cannot be held
//! open, so it is a stress test.

mod support;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use support::hang::watchdog;
use support::rt::workers;
use support::wakers::CountingWaker;

/// How long any step may take on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(30);

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

impl Controls {
    /// Lets the aborted task complete and holds its worker after marking
    /// it completed, before waking the awaiter; meanwhile `abort` looks at
    /// the task from this thread, which completes the cancellation; then
    /// releases the worker.
    fn complete_the_cancellation_from_here(&self, abort: &goro::task::AbortHandle) {
        self.finish.send(()).unwrap();
        self.dropping
            .recv_timeout(PATIENCE)
            .expect("the cancelled task's output was not dropped");
        assert!(abort.is_finished());
        self.release.send(()).unwrap();
    }
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

    let (awaiter, waker) = CountingWaker::new_waker();
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

    c.complete_the_cancellation_from_here(&abort);

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

    let (awaiter, waker) = CountingWaker::new_waker();
    let mut cx = Context::from_waker(&waker);
    assert!(set.poll_join_next(&mut cx).is_pending());
    abort.abort();
    assert!(
        wait_for_wakes(&awaiter, 1),
        "the abort did not wake join_next"
    );
    assert!(set.poll_join_next(&mut cx).is_pending());
    let woken = awaiter.0.load(Ordering::SeqCst);

    c.complete_the_cancellation_from_here(&abort);

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

/// Busy-waits about `n` pause instructions: finer than any sleep.
fn spin(n: u64) {
    for _ in 0..n {
        std::hint::spin_loop();
    }
}

/// An abort racing the task's own completion, many times over, with the
/// awaiter already registered. If the abort's poll finds the task
/// completed after checking it was not, and before the worker woke the
/// awaiter, async-task drops that wake-up (the same skip as above): the
/// awaiter then only returned when its timeout fired. Probabilistic
/// (the worker's window is a few instructions wide); without the fix it
/// failed within seconds on a 2-core machine, not on every run.
#[test]
fn abort_racing_completion_always_wakes_the_awaiter() {
    const ROUNDS: u64 = 20_000;
    const BUDGET: Duration = Duration::from_secs(8);
    const LOST: Duration = Duration::from_secs(10);
    let _dog = watchdog(Duration::from_secs(120));
    let rt = workers(2);
    let go = Arc::new(AtomicBool::new(false));
    let registered = Arc::new(AtomicBool::new(false));
    let (jobs, job_rx) = mpsc::channel::<(goro::task::AbortHandle, u64)>();
    let (done_tx, done) = mpsc::channel::<()>();
    let aborter = {
        let (go, registered) = (go.clone(), registered.clone());
        std::thread::spawn(move || {
            for (abort, delay) in job_rx {
                while !registered.load(Ordering::Acquire) {
                    std::thread::yield_now();
                }
                go.store(true, Ordering::Release);
                spin(delay);
                abort.abort();
                done_tx.send(()).unwrap();
            }
        })
    };
    let mut random = support::data::Rng(7);
    let began = Instant::now();
    let mut rounds = 0;
    while rounds < ROUNDS && began.elapsed() < BUDGET {
        rounds += 1;
        go.store(false, Ordering::Release);
        registered.store(false, Ordering::Release);
        // The abort lands after the task's last spin about half the time.
        let (finish_after, abort_after) = (random.below(96), 150 + random.below(96));
        let task_go = go.clone();
        let mut handle = rt.spawn(async move {
            while !task_go.load(Ordering::Acquire) {
                std::thread::yield_now();
            }
            spin(finish_after);
        });
        jobs.send((handle.abort_handle(), abort_after)).unwrap();
        let round_began = Instant::now();
        let mut polled = false;
        let awaited = rt.block_on(goro::time::timeout(
            LOST,
            std::future::poll_fn(|cx| {
                let out = Pin::new(&mut handle).poll(cx);
                if !polled {
                    polled = true;
                    registered.store(true, Ordering::Release);
                }
                out
            }),
        ));
        assert!(
            round_began.elapsed() < LOST,
            "round {rounds}: the awaiter was only woken by its timeout (lost wake-up)"
        );
        if let Err(e) = awaited.expect("checked above") {
            assert!(e.is_cancelled(), "{e:?}");
        }
        done.recv_timeout(PATIENCE).expect("the aborter is stuck");
    }
    drop(jobs);
    aborter.join().unwrap();
    assert!(rounds > 0);
}
