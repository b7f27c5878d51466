//! Unit tests: async-task's `register` may wake the waker it is given on
//! the calling thread, and `is_finished` must not hold the handle's lock
//! when it does.
//!
//! `is_finished` polls a pending cancellation with the awaiter's waker.
//! async-task's `register` stores a clone of that waker; if the task's
//! worker notifies the awaiter meanwhile (it finds the registration in
//! progress and leaves it a flag), `register` takes the clone back out and
//! wakes it right there. A waker that looks at the task again then
//! re-entered the lock that `is_finished` held: a deadlock. In a real
//! runtime the window is a few instructions wide; here the awaiter's
//! waker holds `register` inside it (its `clone` blocks), and the "worker"
//! is the test, which runs the task by hand.

use super::JoinHandle;
use crate::scheduler::TaskMeta;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
use std::thread::ThreadId;
use std::time::Duration;

/// How long a step may take on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(30);

/// The awaiter's waker. Each wake asks the task whether it has finished
/// (through `look`, once set); its `hold_at`-th clone made on the thread
/// in `hold_on` reports itself on `held` and blocks until `release` —
/// that clone is the one async-task's `register` makes while registering.
struct Probe {
    hold_at: usize,
    wakes: AtomicUsize,
    look: OnceLock<Box<dyn Fn() + Send + Sync>>,
    hold_on: OnceLock<ThreadId>,
    clones_there: AtomicUsize,
    held: Mutex<mpsc::Sender<()>>,
    release: Mutex<mpsc::Receiver<()>>,
}

impl Probe {
    fn woken(&self) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
        if let Some(look) = self.look.get() {
            look();
        }
    }

    fn cloned(&self) {
        if self.hold_on.get() != Some(&std::thread::current().id()) {
            return;
        }
        if self.clones_there.fetch_add(1, Ordering::SeqCst) + 1 == self.hold_at {
            let _ = self.held.lock().unwrap().send(());
            let _ = self.release.lock().unwrap().recv_timeout(PATIENCE);
        }
    }
}

const VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);

fn raw(probe: Arc<Probe>) -> RawWaker {
    RawWaker::new(Arc::into_raw(probe).cast(), &VTABLE)
}

/// # Safety
/// `data` comes from `raw`: a live `Arc<Probe>` reference.
unsafe fn clone(data: *const ()) -> RawWaker {
    // SAFETY: `data` is a live `Arc<Probe>` (see `raw`); this makes one
    // more reference, owned by the new waker.
    let probe = unsafe {
        Arc::increment_strong_count(data.cast::<Probe>());
        Arc::from_raw(data.cast::<Probe>())
    };
    probe.cloned();
    raw(probe)
}

/// # Safety
/// As `clone`; consumes the waker's reference.
unsafe fn wake(data: *const ()) {
    // SAFETY: takes back the reference this waker owned.
    let probe = unsafe { Arc::from_raw(data.cast::<Probe>()) };
    probe.woken();
}

/// # Safety
/// As `clone`.
unsafe fn wake_by_ref(data: *const ()) {
    // SAFETY: `data` is a live `Arc<Probe>` borrowed for this call.
    let probe = unsafe { &*data.cast::<Probe>() };
    probe.woken();
}

/// # Safety
/// As `clone`; consumes the waker's reference.
unsafe fn drop_waker(data: *const ()) {
    // SAFETY: takes back and drops the reference this waker owned.
    drop(unsafe { Arc::from_raw(data.cast::<Probe>()) });
}

/// A pending task of `rt`'s scheduler run once by hand, left idle, whose
/// schedule function hands its runnable to the test (the "worker").
fn hand_run_task(
    rt: &crate::runtime::Runtime,
) -> (
    JoinHandle<()>,
    mpsc::Receiver<async_task::Runnable<TaskMeta>>,
) {
    let shared = rt.handle().scheduler_for_tests();
    let (queue, queued) = mpsc::channel();
    let schedule = move |runnable| queue.send(runnable).unwrap();
    let meta = TaskMeta::new(&shared, None, std::panic::Location::caller());
    let (runnable, task) = async_task::Builder::new()
        .metadata(meta)
        .propagate_panic(true)
        .spawn(move |_| std::future::pending::<()>(), schedule);
    assert!(!runnable.run(), "the task is pending");
    (JoinHandle::new(task), queued)
}

/// The scenario, with `look` as what the awaiter's waker does on a wake
/// and `is_finished` as the call under test (run on its own thread), whose
/// `hold_at`-th clone of the awaiter's waker is made inside `register`.
fn register_wakes_inline_during_is_finished(
    handle: &JoinHandle<()>,
    queued: &mpsc::Receiver<async_task::Runnable<TaskMeta>>,
    abort: impl FnOnce(),
    look: Box<dyn Fn() + Send + Sync>,
    hold_at: usize,
    is_finished: impl FnOnce(Waker) -> bool + Send + 'static,
) -> Arc<Probe> {
    let (held_tx, held) = mpsc::channel();
    let (release, release_rx) = mpsc::channel();
    let probe = Arc::new(Probe {
        hold_at,
        wakes: AtomicUsize::new(0),
        look: OnceLock::new(),
        hold_on: OnceLock::new(),
        clones_there: AtomicUsize::new(0),
        held: Mutex::new(held_tx),
        release: Mutex::new(release_rx),
    });
    // SAFETY: `raw` makes a RawWaker that follows `VTABLE`'s contract.
    let waker = unsafe { Waker::from_raw(raw(probe.clone())) };
    let mut cx = Context::from_waker(&waker);
    // The awaiter registers, the task is aborted (it is idle: scheduled so
    // that its future is dropped), the awaiter polls the cancellation.
    assert!(handle.poll_output(&mut cx).is_pending());
    abort();
    assert!(handle.poll_output(&mut cx).is_pending());
    let runnable = queued
        .recv_timeout(PATIENCE)
        .expect("the abort scheduled the task");
    let _ = probe.look.set(look);

    let (done_tx, done) = mpsc::channel();
    let checker = {
        let (probe, waker) = (probe.clone(), waker.clone());
        std::thread::spawn(move || {
            let _ = probe.hold_on.set(std::thread::current().id());
            let _ = done_tx.send(is_finished(waker));
        })
    };
    held.recv_timeout(PATIENCE)
        .expect("is_finished never registered the awaiter's waker");
    // The worker drops the cancelled future and notifies the awaiter while
    // `register` is under way: it leaves the wake to `register`.
    assert!(!runnable.run());
    release.send(()).unwrap();
    let finished = done
        .recv_timeout(PATIENCE)
        .expect("is_finished did not return (deadlock on the handle's lock?)");
    checker.join().unwrap();
    assert!(finished, "the future was dropped: the cancellation is over");
    assert!(probe.wakes.load(Ordering::SeqCst) >= 1);
    match handle.poll_output(&mut cx) {
        Poll::Ready(Err(e)) => assert!(e.is_cancelled(), "{e:?}"),
        _ => panic!("the cancelled task's handle is not a cancellation"),
    }
    probe
}

fn runtime() -> crate::runtime::Runtime {
    crate::runtime::Builder::new()
        .worker_threads(1)
        .build()
        .unwrap()
}

#[test]
fn abort_handle_is_finished_does_not_hold_the_lock_while_registering() {
    let rt = runtime();
    let (handle, queued) = hand_run_task(&rt);
    let abort = handle.abort_handle();
    let (seen, checking) = (abort.clone(), abort.clone());
    register_wakes_inline_during_is_finished(
        &handle,
        &queued,
        || abort.abort(),
        Box::new(move || {
            let _ = seen.is_finished();
        }),
        2,
        move |_| checking.is_finished(),
    );
}

/// The same on a handle's own lock (no `AbortHandle`): the waker looks
/// through the `JoinHandle` itself.
#[test]
fn join_handle_is_finished_does_not_hold_the_lock_while_registering() {
    let rt = runtime();
    let (handle, queued) = hand_run_task(&rt);
    let handle = Arc::new(handle);
    let seen = Arc::downgrade(&handle);
    let checking = handle.clone();
    register_wakes_inline_during_is_finished(
        &handle,
        &queued,
        || handle.abort(),
        Box::new(move || {
            if let Some(handle) = seen.upgrade() {
                let _ = handle.is_finished();
            }
        }),
        2,
        move |_| checking.is_finished(),
    );
}

/// The awaiter's own poll of the pending cancellation: the same inline
/// wake, of the awaiter's waker, inside its poll. The call under test is a
/// poll of the handle with the awaiter's waker (the one stored already, so
/// the first clone is `register`'s); it finds the cancellation complete.
#[test]
fn the_awaiters_poll_does_not_hold_the_lock_while_registering() {
    let rt = runtime();
    let (handle, queued) = hand_run_task(&rt);
    let handle = Arc::new(handle);
    let abort = handle.abort_handle();
    let seen = abort.clone();
    let polling = handle.clone();
    let probe = register_wakes_inline_during_is_finished(
        &handle,
        &queued,
        || abort.abort(),
        Box::new(move || {
            let _ = seen.is_finished();
        }),
        1,
        move |waker| {
            // Ready (cancelled) once the future is gone; the scenario
            // polls the handle again afterwards, which then says so too.
            matches!(
                polling.poll_output(&mut Context::from_waker(&waker)),
                Poll::Ready(Err(_))
            )
        },
    );
    drop(probe);
}
