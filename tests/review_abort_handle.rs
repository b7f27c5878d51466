//! Adversarial checks of `JoinHandle::abort_handle`: repeated aborts,
//! cross-thread aborts racing an awaiter, drop counts of futures and
//! outputs, outputs and futures that own their own `AbortHandle`, panics,
//! and runtime shutdown. Every test runs under a watchdog so a deadlock
//! fails the run instead of hanging it.

use goro::task::AbortHandle;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// Where a looping test is, for the watchdog's message.
static PHASE: AtomicUsize = AtomicUsize::new(0);
static ITER: AtomicUsize = AtomicUsize::new(0);

/// A whole test's budget: the 1000-round stress took up to 55 s in a debug build
/// at nice 19 beside two CPU hogs and a compiler.
const PATIENCE: Duration = Duration::from_secs(180);

/// Aborts the process if the test is still running after `PATIENCE`.
struct Watchdog(Arc<AtomicBool>);

fn watchdog(name: &'static str) -> Watchdog {
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    std::thread::spawn(move || {
        let deadline = Instant::now() + PATIENCE;
        while !d.load(Ordering::Acquire) {
            if Instant::now() > deadline {
                eprintln!(
                    "watchdog: {name} hung (deadlock?) at phase {} of iteration {}",
                    PHASE.load(Ordering::SeqCst),
                    ITER.load(Ordering::SeqCst)
                );
                std::process::abort();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    Watchdog(done)
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Counts its drops.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn runtime(workers: usize) -> goro::runtime::Runtime {
    goro::runtime::Builder::new()
        .worker_threads(workers)
        .build()
        .unwrap()
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A second abort (a clone of the AbortHandle, or the JoinHandle itself)
/// must not make the JoinHandle resolve before the task's future has been
/// dropped: "awaiting yields a cancelled JoinError only once the future
/// has been dropped".
#[test]
fn a_second_abort_still_waits_for_the_future_to_be_dropped() {
    let _w = watchdog("second abort");
    let rt = runtime(2);
    let future_drops = Arc::new(AtomicUsize::new(0));
    let (started_tx, started) = mpsc::channel();
    let guard = Counted(future_drops.clone());
    let handle = rt.spawn(async move {
        let _guard = guard;
        started_tx.send(()).unwrap();
        // Busy inside a poll: the cancellation can only take effect after.
        std::thread::sleep(Duration::from_millis(300));
        std::future::pending::<()>().await;
    });
    started.recv_timeout(PATIENCE).unwrap();
    let first = handle.abort_handle();
    let second = first.clone();
    first.abort();
    second.abort();
    handle.abort();
    assert!(!first.is_finished(), "the future is still being polled");
    let err = rt.block_on(handle).unwrap_err();
    assert!(err.is_cancelled());
    assert_eq!(
        future_drops.load(Ordering::SeqCst),
        1,
        "the JoinHandle resolved before the aborted task's future was dropped"
    );
}

/// Awaiting a JoinHandle while another thread aborts through its
/// AbortHandle: the awaiter must always be woken, each future and output
/// dropped exactly once.
#[test]
fn awaiting_while_another_thread_aborts_stress() {
    let _w = watchdog("stress");
    let rt = runtime(2);
    let future_drops = Arc::new(AtomicUsize::new(0));
    let output_drops = Arc::new(AtomicUsize::new(0));
    let outputs = Arc::new(AtomicUsize::new(0));
    let created = Arc::new(AtomicUsize::new(0));
    const N: usize = 1000;
    for i in 0..N {
        let guard = Counted(future_drops.clone());
        let (out, made) = (output_drops.clone(), created.clone());
        let handle = rt.spawn(async move {
            let _guard = guard;
            for _ in 0..(i % 4) {
                goro::task::yield_now().await;
            }
            made.fetch_add(1, Ordering::SeqCst);
            Counted(out)
        });
        let abort = handle.abort_handle();
        let aborter = std::thread::spawn(move || {
            if i % 2 == 0 {
                std::thread::yield_now();
            }
            abort.abort();
            abort
        });
        ITER.store(i, Ordering::SeqCst);
        PHASE.store(1, Ordering::SeqCst);
        let mut handle = handle;
        let began = Instant::now();
        let waited = rt.block_on(goro::time::timeout(Duration::from_secs(5), &mut handle));
        // `Timeout` polls the handle again when its timer fires: a result
        // that only came then was a lost wake-up.
        assert!(
            began.elapsed() < Duration::from_secs(4),
            "iteration {i}: awaiter woken only by the timeout (lost wake-up)"
        );
        let result = match waited {
            Ok(r) => r,
            Err(_) => {
                let finished = handle.is_finished();
                let again = std::pin::Pin::new(&mut handle)
                    .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()));
                panic!(
                    "iteration {i}: awaiter not woken in 5s; is_finished={finished}, \
                     ready on re-poll={}, alive={}",
                    again.is_ready(),
                    rt.metrics().num_alive_tasks()
                );
            }
        };
        match result {
            Ok(output) => {
                outputs.fetch_add(1, Ordering::SeqCst);
                drop(output);
            }
            Err(e) => assert!(e.is_cancelled(), "{e:?}"),
        }
        PHASE.store(2, Ordering::SeqCst);
        let abort = aborter.join().unwrap();
        PHASE.store(3, Ordering::SeqCst);
        assert!(abort.is_finished());
    }
    PHASE.store(4, Ordering::SeqCst);
    assert_eq!(future_drops.load(Ordering::SeqCst), N);
    // An abort racing the last poll may discard a just-made output (async-task
    // drops it when the task was closed while running): every output made is
    // dropped exactly once, whether or not the awaiter received it.
    wait_until("outputs dropped", || {
        output_drops.load(Ordering::SeqCst) == created.load(Ordering::SeqCst)
    });
    assert!(outputs.load(Ordering::SeqCst) <= created.load(Ordering::SeqCst));
}

/// JoinHandle dropped (before or after the task finishes) with AbortHandles
/// alive: the future and the output are each dropped exactly once, and
/// once the last AbortHandle is gone nothing is left.
#[test]
fn detached_with_abort_handles_drops_future_and_output_once() {
    let _w = watchdog("detached drops");
    let rt = runtime(2);
    for drop_before_finish in [true, false] {
        let future_drops = Arc::new(AtomicUsize::new(0));
        let output_drops = Arc::new(AtomicUsize::new(0));
        let go = Arc::new(AtomicBool::new(false));
        let (g, guard, out) = (
            go.clone(),
            Counted(future_drops.clone()),
            output_drops.clone(),
        );
        let handle = rt.spawn(async move {
            let _guard = guard;
            while !g.load(Ordering::Acquire) {
                goro::time::sleep(Duration::from_millis(1)).await;
            }
            Counted(out)
        });
        let aborts: Vec<AbortHandle> = (0..3).map(|_| handle.abort_handle()).collect();
        if drop_before_finish {
            drop(handle);
            go.store(true, Ordering::Release);
        } else {
            go.store(true, Ordering::Release);
            wait_until("finish", || handle.is_finished());
            drop(handle);
        }
        wait_until("future dropped", || {
            future_drops.load(Ordering::SeqCst) == 1
        });
        drop(aborts);
        assert_eq!(output_drops.load(Ordering::SeqCst), 1);
        assert_eq!(future_drops.load(Ordering::SeqCst), 1);
        wait_until("no alive tasks", || rt.metrics().num_alive_tasks() == 0);
    }
}

/// An output whose `Drop` aborts (and queries) its own task through an
/// AbortHandle must not deadlock on the shared state's lock.
#[test]
fn an_output_that_aborts_itself_on_drop_does_not_deadlock() {
    let _w = watchdog("output aborts itself");
    let rt = runtime(2);
    struct AbortOnDrop(Arc<Mutex<Option<AbortHandle>>>, Arc<AtomicUsize>);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            if let Some(h) = self.0.lock().unwrap().take() {
                h.abort();
                let _ = h.is_finished();
            }
            self.1.fetch_add(1, Ordering::SeqCst);
        }
    }
    for via_join_handle_drop in [false, true] {
        let slot = Arc::new(Mutex::new(None));
        let drops = Arc::new(AtomicUsize::new(0));
        let go = Arc::new(AtomicBool::new(false));
        let (s, d, g) = (slot.clone(), drops.clone(), go.clone());
        let handle = rt.spawn(async move {
            while !g.load(Ordering::Acquire) {
                goro::time::sleep(Duration::from_millis(1)).await;
            }
            AbortOnDrop(s, d)
        });
        let outside = handle.abort_handle();
        *slot.lock().unwrap() = Some(handle.abort_handle());
        go.store(true, Ordering::Release);
        if via_join_handle_drop {
            wait_until("finish", || outside.is_finished());
            drop(handle); // drops the output here
        } else {
            drop(handle);
            wait_until("finish", || outside.is_finished()); // or here
        }
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        outside.abort();
    }
}

/// A task that owns an AbortHandle to itself and aborts itself, with its
/// JoinHandle dropped: the future is dropped once and nothing hangs.
#[test]
fn a_task_aborting_itself_through_its_own_abort_handle() {
    let _w = watchdog("self abort");
    let rt = runtime(2);
    for i in 0..50 {
        let future_drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel::<AbortHandle>();
        let guard = Counted(future_drops.clone());
        let handle = rt.spawn(async move {
            let _guard = guard;
            let me = loop {
                if let Ok(me) = rx.try_recv() {
                    break me;
                }
                goro::task::yield_now().await;
            };
            me.abort();
            goro::task::yield_now().await;
            unreachable!("aborted");
        });
        tx.send(handle.abort_handle()).unwrap();
        if i % 2 == 0 {
            drop(handle);
            wait_until("future dropped", || {
                future_drops.load(Ordering::SeqCst) == 1
            });
        } else {
            assert!(rt.block_on(handle).unwrap_err().is_cancelled());
            assert_eq!(future_drops.load(Ordering::SeqCst), 1);
        }
    }
    wait_until("no alive tasks", || rt.metrics().num_alive_tasks() == 0);
}

/// abort_handle() on a handle that was already aborted or whose task
/// already finished; a panicking task seen through an AbortHandle.
#[test]
fn abort_handle_after_abort_finish_and_panic() {
    let _w = watchdog("late abort_handle");
    let rt = runtime(2);
    rt.block_on(async {
        let h = goro::spawn(std::future::pending::<()>());
        h.abort();
        let a = h.abort_handle();
        a.abort();
        assert!(h.await.unwrap_err().is_cancelled());
        assert!(a.is_finished());

        let h = goro::spawn(async { 5 });
        while !h.is_finished() {
            goro::task::yield_now().await;
        }
        let a = h.abort_handle();
        a.abort();
        assert!(a.is_finished());
        assert_eq!(h.await.unwrap(), 5);

        let h = goro::spawn(async { panic!("boom") });
        let a = h.abort_handle();
        let err = h.await.unwrap_err();
        assert!(err.is_panic());
        assert!(a.is_finished());

        // Detached panicking task: the AbortHandle sees it finish.
        let h = goro::spawn(async {
            goro::task::yield_now().await;
            panic!("boom")
        });
        let a = h.abort_handle();
        drop(h);
        while !a.is_finished() {
            goro::task::yield_now().await;
        }
        a.abort();
    });
}

/// Runtime shutdown with live AbortHandles (JoinHandle kept or dropped):
/// the runtime drops promptly, the futures are dropped, and the handles
/// keep working afterwards.
#[test]
fn runtime_shutdown_with_live_abort_handles() {
    let _w = watchdog("shutdown");
    let future_drops = Arc::new(AtomicUsize::new(0));
    let rt = runtime(2);
    let mut kept = Vec::new();
    let mut aborts = Vec::new();
    for i in 0..20 {
        let guard = Counted(future_drops.clone());
        let h = rt.spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        });
        aborts.push(h.abort_handle());
        if i % 2 == 0 {
            kept.push(h);
        }
    }
    drop(rt);
    assert_eq!(future_drops.load(Ordering::SeqCst), 20);
    for a in &aborts {
        a.abort();
        assert!(a.is_finished());
    }
    for h in kept {
        assert!(goro::block_on(h).unwrap_err().is_cancelled());
    }
    drop(aborts);
}

/// A waker that, when woken, drops the JoinHandle its owner was awaiting
/// (what an executor does when waking a task it can no longer run: it
/// drops the task, and with it the awaited handle). `AbortHandle::abort`
/// wakes the JoinHandle's awaiter (async-task notifies it as it marks the
/// task cancelled): that must not deadlock against the JoinHandle's drop.
#[test]
fn a_waker_that_drops_the_join_handle_when_aborted_does_not_deadlock() {
    use std::task::{Context, Wake, Waker};
    let _w = watchdog("waker drops JoinHandle");
    let rt = runtime(1);
    struct DropOnWake(Mutex<Option<goro::task::JoinHandle<()>>>);
    impl Wake for DropOnWake {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            let handle = self.0.lock().unwrap().take();
            drop(handle);
        }
    }
    let handle = rt.spawn(std::future::pending::<()>());
    let abort = handle.abort_handle();
    let owner = Arc::new(DropOnWake(Mutex::new(None)));
    let waker = Waker::from(owner.clone());
    let mut handle = handle;
    let polled = std::pin::Pin::new(&mut handle).poll(&mut Context::from_waker(&waker));
    assert!(polled.is_pending());
    *owner.0.lock().unwrap() = Some(handle);
    abort.abort();
    wait_until("cancelled", || abort.is_finished());
    assert!(owner.0.lock().unwrap().is_none(), "the awaiter was woken");
}
