//! An abort that finds the task finished leaves its result alone: the
//! handle still yields the output (or the panic), and the output is
//! dropped once, by whoever takes it.
//!
//! `abort` takes the task out of the handle's state and polls it before
//! cancelling it; a task that has finished — before the abort, or between
//! the abort's look and that poll — answers that poll with its result,
//! which the abort keeps (`cancel` in src/task/join.rs). The two cases run
//! the same code, so a task that finished before the abort tests the
//! narrow race deterministically. Every test runs under a watchdog.

mod support;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use support::drops::{Counted, task_finishing_on_demand, wait_until};
use support::hang::watchdog;
use support::rt::workers;
use support::wakers::CountingWaker;

/// How long any step may take on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(60);

/// A task that returns a [`Counted`] at once, and the count of its drops.
fn finished_task(
    rt: &goro::runtime::Runtime,
) -> (goro::task::JoinHandle<Counted>, Arc<AtomicUsize>) {
    let drops = Arc::new(AtomicUsize::new(0));
    let output = Counted(drops.clone());
    let handle = rt.spawn(async move { output });
    wait_until("the task to finish", || handle.is_finished());
    (handle, drops)
}

/// Checks that an abort of the finished task behind `handle` left its
/// output alone: not dropped, and still the handle's to yield.
#[track_caller]
fn output_kept(
    rt: &goro::runtime::Runtime,
    handle: goro::task::JoinHandle<Counted>,
    drops: &AtomicUsize,
) -> Counted {
    assert_eq!(
        drops.load(Ordering::SeqCst),
        0,
        "the abort dropped the output"
    );
    rt.block_on(handle)
        .expect("an abort after the task finished cost it its output")
}

#[test]
fn join_handle_abort_after_the_task_finished_keeps_the_output() {
    let _dog = watchdog(PATIENCE * 2);
    let rt = workers(2);
    let (handle, drops) = finished_task(&rt);
    handle.abort();
    assert!(handle.is_finished(), "a finished task became unfinished");
    let output = output_kept(&rt, handle, &drops);
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    drop(output);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn abort_handle_abort_after_the_task_finished_keeps_the_output() {
    let _dog = watchdog(PATIENCE * 2);
    let rt = workers(2);
    let (handle, drops) = finished_task(&rt);
    let abort = handle.abort_handle();
    std::thread::spawn(move || {
        abort.abort();
        abort.abort();
        assert!(abort.is_finished());
    })
    .join()
    .unwrap();
    let output = output_kept(&rt, handle, &drops);
    drop(output);
    assert_eq!(drops.load(Ordering::SeqCst), 1, "dropped more than once");
}

/// The awaiter was parked on the task before it finished: the abort
/// still leaves it the output, and it is woken to take it.
#[test]
fn a_parked_awaiter_gets_the_output_of_a_task_that_finished_before_the_abort() {
    let _dog = watchdog(PATIENCE * 2);
    let rt = workers(2);
    let (mut handle, finish, drops) = task_finishing_on_demand(&rt, PATIENCE);
    let (awaiter, waker) = CountingWaker::new_waker();
    let mut cx = Context::from_waker(&waker);
    assert!(Pin::new(&mut handle).poll(&mut cx).is_pending());
    finish.send(()).unwrap();
    wait_until("the task to finish", || handle.is_finished());
    handle.abort_handle().abort();
    wait_until("the awaiter to be woken", || {
        awaiter.0.load(Ordering::SeqCst) > 0
    });
    match Pin::new(&mut handle).poll(&mut cx) {
        Poll::Ready(Ok(output)) => drop(output),
        Poll::Ready(Err(e)) => panic!("the finished task's output was lost: {e:?}"),
        Poll::Pending => panic!("woken, but the handle is not ready"),
    }
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn abort_after_the_task_panicked_keeps_the_panic() {
    let _dog = watchdog(PATIENCE * 2);
    let rt = workers(2);
    let handle = rt.spawn(async { std::panic::panic_any(7u32) });
    wait_until("the task to panic", || handle.is_finished());
    handle.abort();
    handle.abort_handle().abort();
    let err = rt.block_on(handle).unwrap_err();
    assert!(err.is_panic(), "the abort replaced the panic: {err:?}");
    assert_eq!(err.into_panic().downcast_ref::<u32>(), Some(&7));
}

/// In a `JoinSet`, the aborted entry is reported with its output.
#[test]
fn join_set_abort_after_the_task_finished_keeps_the_output() {
    let _dog = watchdog(PATIENCE * 2);
    let rt = workers(2);
    let mut set = goro::task::JoinSet::new();
    let abort = rt.block_on(async { set.spawn(async { 42u8 }) });
    wait_until("the task to finish", || abort.is_finished());
    abort.abort();
    let joined = rt.block_on(set.join_next()).expect("the set had a task");
    assert_eq!(joined.expect("the abort cost the task its output"), 42);
}
