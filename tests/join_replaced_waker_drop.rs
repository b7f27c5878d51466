//! The awaiter's previous waker is dropped without the handle's lock.
//!
//! A `JoinHandle` keeps the waker of its last poll; a poll with another
//! waker replaces it. Dropping a waker may run anything — the last
//! reference to a task's waker drops that task, an `Arc`-based waker drops
//! whatever it owns — and that may look at the same task again (here: the
//! waker owns a hook that asks its task's `AbortHandle` whether it has
//! finished). Dropped under the handle's lock, that deadlocked. The poll
//! runs on its own thread under a timeout.

mod support;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Context, RawWaker, RawWakerVTable, Waker};
use std::time::Duration;
use support::hang::watchdog;
use support::rt::workers;

const PATIENCE: Duration = Duration::from_secs(30);

/// A waker whose drop (of any clone, once armed) asks the task whether it
/// has finished.
struct LooksWhenDropped {
    armed: AtomicBool,
    looks: AtomicUsize,
    abort: Mutex<Option<goro::task::AbortHandle>>,
}

const VTABLE: RawWakerVTable = RawWakerVTable::new(clone, noop, noop, drop_waker);

fn raw(probe: Arc<LooksWhenDropped>) -> RawWaker {
    RawWaker::new(Arc::into_raw(probe).cast(), &VTABLE)
}

/// # Safety
/// `data` comes from `raw`: a live `Arc<LooksWhenDropped>` reference.
unsafe fn clone(data: *const ()) -> RawWaker {
    // SAFETY: `data` is a live Arc (see `raw`); the new waker owns one
    // more reference.
    unsafe {
        Arc::increment_strong_count(data.cast::<LooksWhenDropped>());
        raw(Arc::from_raw(data.cast::<LooksWhenDropped>()))
    }
}

unsafe fn noop(_: *const ()) {}

/// # Safety
/// As `clone`; consumes the waker's reference.
unsafe fn drop_waker(data: *const ()) {
    // SAFETY: takes back the reference this waker owned.
    let probe = unsafe { Arc::from_raw(data.cast::<LooksWhenDropped>()) };
    if probe.armed.load(Ordering::SeqCst) {
        let abort = probe.abort.lock().unwrap().clone();
        if let Some(abort) = abort {
            let _ = abort.is_finished();
            probe.looks.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[test]
fn a_replaced_waker_that_looks_at_the_task_when_dropped() {
    let _dog = watchdog(PATIENCE * 3);
    let rt = workers(2);
    let mut handle = rt.spawn(std::future::pending::<()>());
    let abort = handle.abort_handle();
    let probe = Arc::new(LooksWhenDropped {
        armed: AtomicBool::new(false),
        looks: AtomicUsize::new(0),
        abort: Mutex::new(Some(abort.clone())),
    });
    {
        // SAFETY: `raw` follows `VTABLE`'s contract.
        let waker = unsafe { Waker::from_raw(raw(probe.clone())) };
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut handle).poll(&mut cx).is_pending());
    }
    probe.armed.store(true, Ordering::SeqCst);
    // A poll with another waker replaces (and drops) the kept one.
    let (done, done_rx) = mpsc::channel();
    let poller = std::thread::spawn(move || {
        let mut cx = Context::from_waker(Waker::noop());
        let pending = Pin::new(&mut handle).poll(&mut cx).is_pending();
        let _ = done.send(pending);
        handle
    });
    let pending = done_rx
        .recv_timeout(PATIENCE)
        .expect("the poll did not return (the replaced waker was dropped under the lock?)");
    assert!(pending);
    let handle = poller.join().unwrap();
    assert!(
        probe.looks.load(Ordering::SeqCst) >= 1,
        "the kept waker was dropped"
    );
    probe.armed.store(false, Ordering::SeqCst);
    handle.abort();
    drop(handle);
    drop(abort);
    probe.abort.lock().unwrap().take();
}

/// The same waker, kept until the result is taken: the poll that returns
/// the result stops keeping it.
#[test]
fn the_kept_waker_that_looks_at_the_task_when_dropped_with_the_result() {
    let _dog = watchdog(PATIENCE * 3);
    let rt = workers(2);
    let (finish, finish_rx) = mpsc::channel::<()>();
    let mut handle = rt.spawn(async move {
        let _ = finish_rx.recv_timeout(PATIENCE);
        7
    });
    let abort = handle.abort_handle();
    let probe = Arc::new(LooksWhenDropped {
        armed: AtomicBool::new(true),
        looks: AtomicUsize::new(0),
        abort: Mutex::new(Some(abort.clone())),
    });
    let (done, done_rx) = mpsc::channel();
    let waker_probe = probe.clone();
    std::thread::spawn(move || {
        // SAFETY: `raw` follows `VTABLE`'s contract.
        let waker = unsafe { Waker::from_raw(raw(waker_probe)) };
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut handle).poll(&mut cx).is_pending());
        finish.send(()).unwrap();
        while !abort.is_finished() {
            std::thread::sleep(Duration::from_millis(1));
        }
        let out = Pin::new(&mut handle).poll(&mut cx);
        let _ = done.send(out.map(Result::unwrap).is_ready());
    });
    let ready = done_rx
        .recv_timeout(PATIENCE)
        .expect("the poll did not return (the kept waker was dropped under the lock?)");
    assert!(ready);
    probe.armed.store(false, Ordering::SeqCst);
    probe.abort.lock().unwrap().take();
}
