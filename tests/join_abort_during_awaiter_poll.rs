//! An abort that lands while the awaiter is polling the task.
//!
//! The awaiter polls the task without the handle's lock, the task set
//! aside from the state meanwhile (src/task/join.rs, `poll_awaited`); an
//! abort that finds it so leaves itself to the awaiter, which carries it
//! out when it puts the task back. Here the abort comes from inside the
//! awaiter's poll — from its waker's `clone`. The handle registers a
//! waker it did not make wrapped (src/task/awaiter.rs), and makes that
//! wrapper, which clones the waker, before it takes the lock; so the
//! abort lands just before the task is set aside, not in the window
//! itself (`src/task/join_register_tests.rs` holds the window open with
//! goro's own waker). Either way it must neither deadlock (the clone once
//! ran under the lock) nor be lost (the task would run on forever).

mod support;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
use std::time::{Duration, Instant};
use support::drops::pending_task;
use support::hang::{watchdog, within};
use support::rt::workers;

/// How long any step may take on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(60);

/// The awaiter's waker: its `abort_at`-th clone aborts the task; every
/// wake is counted.
struct AbortsOnClone {
    abort_at: usize,
    clones: AtomicUsize,
    wakes: AtomicUsize,
    abort: Mutex<Option<Box<dyn Fn() + Send>>>,
}

const VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);

fn raw(probe: Arc<AbortsOnClone>) -> RawWaker {
    RawWaker::new(Arc::into_raw(probe).cast(), &VTABLE)
}

/// # Safety
/// `data` comes from `raw`: a live `Arc<AbortsOnClone>` reference.
unsafe fn clone(data: *const ()) -> RawWaker {
    // SAFETY: `data` is a live Arc (see `raw`); the new waker owns one
    // more reference.
    let probe = unsafe {
        Arc::increment_strong_count(data.cast::<AbortsOnClone>());
        Arc::from_raw(data.cast::<AbortsOnClone>())
    };
    if probe.clones.fetch_add(1, Ordering::SeqCst) + 1 == probe.abort_at {
        let abort = probe.abort.lock().unwrap().take();
        if let Some(abort) = abort {
            abort();
        }
    }
    raw(probe)
}

/// # Safety
/// As `clone`; consumes the waker's reference.
unsafe fn wake(data: *const ()) {
    // SAFETY: takes back the reference this waker owned.
    let probe = unsafe { Arc::from_raw(data.cast::<AbortsOnClone>()) };
    probe.wakes.fetch_add(1, Ordering::SeqCst);
}

/// # Safety
/// As `clone`.
unsafe fn wake_by_ref(data: *const ()) {
    // SAFETY: `data` is a live Arc borrowed for this call.
    let probe = unsafe { &*data.cast::<AbortsOnClone>() };
    probe.wakes.fetch_add(1, Ordering::SeqCst);
}

/// # Safety
/// As `clone`; consumes the waker's reference.
unsafe fn drop_waker(data: *const ()) {
    // SAFETY: takes back and drops the reference this waker owned.
    drop(unsafe { Arc::from_raw(data.cast::<AbortsOnClone>()) });
}

/// Polls `handle` with a waker whose second clone — both are made as the
/// handle wraps the waker for the task — runs `abort`; then awaits the
/// cancellation.
fn abort_inside_the_first_poll(
    abort: impl Fn(&goro::task::JoinHandle<()>) -> Box<dyn Fn() + Send>,
) {
    let _dog = watchdog(PATIENCE * 2);
    let rt = workers(2);
    let (mut handle, future_drops) = pending_task(&rt);
    let probe = Arc::new(AbortsOnClone {
        abort_at: 2,
        clones: AtomicUsize::new(0),
        wakes: AtomicUsize::new(0),
        abort: Mutex::new(Some(abort(&handle))),
    });
    let polled = {
        let probe = probe.clone();
        within(PATIENCE, move || {
            // SAFETY: `raw` follows `VTABLE`'s contract.
            let waker = unsafe { Waker::from_raw(raw(probe)) };
            let first = Pin::new(&mut handle).poll(&mut Context::from_waker(&waker));
            (handle, first)
        })
    };
    let (mut handle, first) = polled;
    // The abort may already be complete when this poll looks at the task.
    let done = match first {
        Poll::Ready(result) => {
            assert!(result.unwrap_err().is_cancelled(), "the task cannot finish");
            true
        }
        Poll::Pending => false,
    };
    assert!(
        probe.abort.lock().unwrap().is_none(),
        "the abort did not run inside the poll"
    );
    // The abort was carried out: the future is dropped, and the handle
    // becomes a cancellation.
    let deadline = Instant::now() + PATIENCE;
    if !done {
        loop {
            // SAFETY: as above.
            let waker = unsafe { Waker::from_raw(raw(probe.clone())) };
            match Pin::new(&mut handle).poll(&mut Context::from_waker(&waker)) {
                Poll::Ready(result) => {
                    assert!(result.unwrap_err().is_cancelled());
                    break;
                }
                Poll::Pending => {
                    assert!(
                        Instant::now() < deadline,
                        "the abort made inside the awaiter's poll was lost"
                    );
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }
    assert_eq!(future_drops.load(Ordering::SeqCst), 1);
    drop(rt);
}

#[test]
fn an_abort_handle_abort_inside_the_awaiters_poll_is_carried_out() {
    abort_inside_the_first_poll(|handle| {
        let abort = handle.abort_handle();
        Box::new(move || abort.abort())
    });
}

/// The same abort made on another thread, which the awaiter's poll waits
/// for: it must not wait for the lock that poll holds.
#[test]
fn an_abort_from_another_thread_inside_the_awaiters_poll_is_carried_out() {
    abort_inside_the_first_poll(|handle| {
        let abort = handle.abort_handle();
        Box::new(move || {
            let abort = abort.clone();
            std::thread::spawn(move || abort.abort()).join().unwrap();
        })
    });
}
