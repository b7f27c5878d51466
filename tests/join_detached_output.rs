//! A task whose `JoinHandle` was dropped while `AbortHandle`s live on
//! drops its output when it completes, as tokio does and as a plain
//! detached task does — not when an `AbortHandle` next looks at it.
//!
//! The dropped `JoinHandle` registers a reaper waker in the task
//! (`register_reaper` in src/task/join.rs) while the task is set aside
//! from the handle's state; an abort arriving in that window is carried
//! out when the task is put back. Every test runs under a watchdog.

mod support;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Context, RawWaker, RawWakerVTable, Waker};
use std::time::Duration;
use support::drops::{Counted, pending_task, task_finishing_on_demand, wait_until};
use support::hang::watchdog;
use support::rt::workers;

/// How long any step may take on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(60);

#[test]
fn the_output_is_dropped_when_the_task_completes() {
    let _dog = watchdog(PATIENCE * 2);
    let rt = workers(2);
    let (handle, finish, drops) = task_finishing_on_demand(&rt, PATIENCE);
    let abort = handle.abort_handle();
    drop(handle);
    finish.send(()).unwrap();
    wait_until("the output to be dropped", || {
        drops.load(Ordering::SeqCst) == 1
    });
    assert!(abort.is_finished());
    abort.abort();
    drop(abort);
    drop(rt);
    assert_eq!(drops.load(Ordering::SeqCst), 1, "dropped more than once");
}

/// The `JoinHandle` had been awaited (its waker is registered in the task)
/// before it was dropped: the reaper takes that waker's place.
#[test]
fn the_output_is_dropped_on_completion_after_the_handle_was_polled() {
    let _dog = watchdog(PATIENCE * 2);
    let rt = workers(2);
    let (mut handle, finish, drops) = task_finishing_on_demand(&rt, PATIENCE);
    let abort = handle.abort_handle();
    let mut cx = Context::from_waker(Waker::noop());
    assert!(Pin::new(&mut handle).poll(&mut cx).is_pending());
    drop(handle);
    finish.send(()).unwrap();
    wait_until("the output to be dropped", || {
        drops.load(Ordering::SeqCst) == 1
    });
    drop(abort);
}

/// A finished task's output is dropped when the `JoinHandle` is.
#[test]
fn the_output_of_a_finished_task_is_dropped_with_the_handle() {
    let _dog = watchdog(PATIENCE * 2);
    let rt = workers(2);
    let (handle, finish, drops) = task_finishing_on_demand(&rt, PATIENCE);
    let abort = handle.abort_handle();
    finish.send(()).unwrap();
    wait_until("the task to finish", || abort.is_finished());
    assert_eq!(
        drops.load(Ordering::SeqCst),
        0,
        "nobody took the output yet"
    );
    drop(handle);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    drop(abort);
}

/// A panic's payload, too.
#[test]
fn a_panic_payload_is_dropped_when_the_task_panics() {
    let _dog = watchdog(PATIENCE * 2);
    let rt = workers(2);
    let drops = Arc::new(AtomicUsize::new(0));
    let payload = Counted(drops.clone());
    let (finish, finish_rx) = mpsc::channel::<()>();
    let handle = rt.spawn(async move {
        let _ = finish_rx.recv_timeout(PATIENCE);
        std::panic::panic_any(payload);
    });
    let abort = handle.abort_handle();
    drop(handle);
    finish.send(()).unwrap();
    wait_until("the panic payload to be dropped", || {
        drops.load(Ordering::SeqCst) == 1
    });
    drop(abort);
}

/// The awaiter's waker: once armed, its drop (of any clone) aborts the task
/// through `abort` — stands for a waker that owns a cancellation hook.
struct AbortsWhenDropped {
    armed: AtomicBool,
    abort: Mutex<Option<goro::task::AbortHandle>>,
}

const VTABLE: RawWakerVTable = RawWakerVTable::new(clone, noop, noop, drop_waker);

fn raw(probe: Arc<AbortsWhenDropped>) -> RawWaker {
    RawWaker::new(Arc::into_raw(probe).cast(), &VTABLE)
}

/// # Safety
/// `data` comes from `raw`: a live `Arc<AbortsWhenDropped>` reference.
unsafe fn clone(data: *const ()) -> RawWaker {
    // SAFETY: `data` is a live Arc (see `raw`); the new waker owns one
    // more reference.
    unsafe {
        Arc::increment_strong_count(data.cast::<AbortsWhenDropped>());
        raw(Arc::from_raw(data.cast::<AbortsWhenDropped>()))
    }
}

unsafe fn noop(_: *const ()) {}

/// # Safety
/// As `clone`; consumes the waker's reference.
unsafe fn drop_waker(data: *const ()) {
    // SAFETY: takes back the reference this waker owned.
    let probe = unsafe { Arc::from_raw(data.cast::<AbortsWhenDropped>()) };
    if probe.armed.load(Ordering::SeqCst) {
        let abort = probe.abort.lock().unwrap().clone();
        if let Some(abort) = abort {
            abort.abort();
        }
    }
}

/// An abort that lands while the dropped `JoinHandle` registers the reaper
/// (the task is aside from the state then): the old awaiter's waker, which
/// the handle drops and async-task replaces in that window, aborts the
/// task. The abort must not be lost: the task's future is dropped.
#[test]
fn an_abort_while_the_reaper_is_registered_is_carried_out() {
    let _dog = watchdog(PATIENCE * 2);
    let rt = workers(2);
    let (mut handle, future_drops) = pending_task(&rt);
    let abort = handle.abort_handle();
    let probe = Arc::new(AbortsWhenDropped {
        armed: AtomicBool::new(false),
        abort: Mutex::new(Some(abort.clone())),
    });
    {
        // SAFETY: `raw` follows `VTABLE`'s contract.
        let waker = unsafe { Waker::from_raw(raw(probe.clone())) };
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut handle).poll(&mut cx).is_pending());
    }
    probe.armed.store(true, Ordering::SeqCst);
    drop(handle);
    wait_until("the aborted task's future to be dropped", || {
        future_drops.load(Ordering::SeqCst) == 1
    });
    wait_until("the task to be finished", || abort.is_finished());
    probe.armed.store(false, Ordering::SeqCst);
    drop(abort);
}

/// Dropping the `JoinHandle` on one thread while another aborts the task
/// (two rounds in three), and the task completes on a worker, over and
/// over: every future and every output is dropped exactly once, without
/// anyone looking at the task again, and nothing hangs.
#[test]
fn dropping_the_handle_racing_abort_and_completion() {
    const ROUNDS: usize = 300;
    let _dog = watchdog(Duration::from_secs(240));
    let rt = workers(2);
    let future_drops = Arc::new(AtomicUsize::new(0));
    let output_drops = Arc::new(AtomicUsize::new(0));
    let outputs = Arc::new(AtomicUsize::new(0));
    for i in 0..ROUNDS {
        let guard = Counted(future_drops.clone());
        let (out, made) = (output_drops.clone(), outputs.clone());
        let handle = rt.spawn(async move {
            let _guard = guard;
            for _ in 0..(i % 3) {
                goro::task::yield_now().await;
            }
            made.fetch_add(1, Ordering::SeqCst);
            Counted(out)
        });
        let abort = handle.abort_handle();
        let aborter = (i % 3 != 0).then(|| {
            let abort = abort.clone();
            std::thread::spawn(move || {
                if i % 2 == 0 {
                    std::thread::yield_now();
                }
                abort.abort();
            })
        });
        if i % 4 == 1 {
            std::thread::yield_now();
        }
        drop(handle);
        if let Some(aborter) = aborter {
            aborter.join().unwrap();
        }
        wait_until("the round's future to be dropped", || {
            future_drops.load(Ordering::SeqCst) == i + 1
        });
        // Every output made so far has been dropped, without any further
        // look at the task.
        wait_until("every output to be dropped", || {
            output_drops.load(Ordering::SeqCst) == outputs.load(Ordering::SeqCst)
        });
        assert!(abort.is_finished());
        drop(abort);
    }
    drop(rt);
    assert_eq!(future_drops.load(Ordering::SeqCst), ROUNDS);
    assert_eq!(
        output_drops.load(Ordering::SeqCst),
        outputs.load(Ordering::SeqCst)
    );
}
