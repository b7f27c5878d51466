//! Integration tests of the runtime core: `block_on`, spawning, join handles,
//! panics, handles, the builder, metrics, the blocking pool, and shutdown.
//!
//! Tests that count process-wide resources (`/proc/self/fd`,
//! `/proc/self/task`) take the `exclusive` lock so no other test in this
//! binary opens or closes anything meanwhile; every other test takes the
//! `shared` lock.

mod support;

use futures::FutureExt;
use goro::runtime::{Builder, Handle, Runtime};
use goro::task::JoinError;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard, mpsc};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use support::hang::within;
use support::process::open_fds;
use support::rt::workers;

// ----- helpers ----------------------------------------------------------------

static RESOURCES: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    RESOURCES.read().unwrap_or_else(|e| e.into_inner())
}

fn exclusive() -> RwLockWriteGuard<'static, ()> {
    let guard = RESOURCES.write().unwrap_or_else(|e| e.into_inner());
    // Runtimes dropped by earlier tests may still be letting go of their
    // fds (see `dropping_runtime_after_spawn_blocking_closes_fds_at_once`):
    // wait until the count is steady before taking a baseline.
    let end = Instant::now() + Duration::from_secs(5);
    let mut last = open_fds();
    let mut steady_since = Instant::now();
    while Instant::now() < end && steady_since.elapsed() < Duration::from_millis(150) {
        std::thread::sleep(Duration::from_millis(10));
        let now = open_fds();
        if now != last {
            last = now;
            steady_since = Instant::now();
        }
    }
    guard
}

/// Threads of this process whose name (`comm`, at most 15 bytes) is `name`.
fn count_threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("read /proc/self/task")
        .filter_map(|e| e.ok())
        .filter(|e| {
            std::fs::read_to_string(e.path().join("comm")).is_ok_and(|comm| comm.trim_end() == name)
        })
        .count()
}

/// Threads of this process named `goro-*` (workers, sysmon, blocking pool).
/// Under the exclusive lock only the test's own runtime can add to them
/// (other tests' runtimes are dropped, the default runtime's threads only
/// ever time out).
fn count_goro_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("read /proc/self/task")
        .filter_map(|e| e.ok())
        .filter(|e| {
            std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.starts_with("goro-"))
        })
        .count()
}

/// Waits (up to `limit`) for `cond` to hold.
fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Sets a flag when dropped.
struct DropFlag(Arc<AtomicUsize>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

// ----- block_on and spawn -----------------------------------------------------------

#[test]
fn block_on_returns_the_output() {
    let _g = shared();
    let rt = workers(2);
    assert_eq!(rt.block_on(async { 40 + 2 }), 42);
    // A future that is pending at first and woken from another thread.
    let (tx, rx) = async_channel::bounded::<u32>(1);
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        tx.send_blocking(7).unwrap();
    });
    assert_eq!(rt.block_on(async { rx.recv().await.unwrap() }), 7);
}

#[test]
fn free_block_on_uses_the_default_runtime() {
    let _g = shared();
    let v = within(Duration::from_secs(30), || {
        goro::block_on(async {
            assert!(Handle::try_current().is_some());
            goro::spawn(async { "from default" }).await.unwrap()
        })
    });
    assert_eq!(v, "from default");
}

#[test]
fn spawn_inside_runtime_runs_on_its_workers() {
    let _g = shared();
    let rt = Builder::new()
        .worker_threads(2)
        .thread_name("inside-rt-w")
        .build()
        .unwrap();
    let names = rt.block_on(async {
        let handles: Vec<_> = (0..16)
            .map(|_| goro::spawn(async { std::thread::current().name().map(str::to_owned) }))
            .collect();
        let mut names = Vec::new();
        for h in handles {
            names.push(h.await.unwrap());
        }
        names
    });
    for n in names {
        assert_eq!(n.as_deref(), Some("inside-rt-w"));
    }
}

#[test]
fn spawn_outside_runtime_uses_default_runtime() {
    let _g = shared();
    let out = within(Duration::from_secs(30), || {
        // A plain thread: no runtime is current.
        assert!(Handle::try_current().is_none());
        let h = goro::spawn(async {
            assert!(Handle::try_current().is_some());
            goro::task::yield_now().await;
            5u8
        });
        futures::executor::block_on(h)
    });
    assert_eq!(out.unwrap(), 5);
}

#[test]
fn runtime_and_handle_spawn_from_other_threads() {
    let _g = shared();
    let rt = workers(2);
    let h1 = rt.spawn(async { 1 });
    let handle = rt.handle();
    let h2 = std::thread::spawn(move || handle.spawn(async { 2 }))
        .join()
        .unwrap();
    let (a, b) = within(Duration::from_secs(30), move || {
        futures::executor::block_on(async { (h1.await.unwrap(), h2.await.unwrap()) })
    });
    assert_eq!((a, b), (1, 2));
}

#[test]
fn many_tasks_all_complete() {
    let _g = shared();
    const N: u64 = 100_000;
    let rt = workers(2);
    let counter = Arc::new(AtomicUsize::new(0));
    let c = counter.clone();
    let sum = within(Duration::from_secs(120), move || {
        rt.block_on(async move {
            let handles: Vec<_> = (0..N)
                .map(|i| {
                    let c = c.clone();
                    goro::spawn(async move {
                        if i % 3 == 0 {
                            goro::task::yield_now().await;
                        }
                        c.fetch_add(1, Ordering::Relaxed);
                        i
                    })
                })
                .collect();
            let mut sum = 0;
            for h in handles {
                sum += h.await.unwrap();
            }
            sum
        })
    });
    assert_eq!(sum, N * (N - 1) / 2);
    assert_eq!(counter.load(Ordering::Relaxed), N as usize);
}

#[test]
fn tasks_spawning_tasks_recursively() {
    let _g = shared();
    fn tree(depth: u32) -> Pin<Box<dyn Future<Output = u64> + Send>> {
        Box::pin(async move {
            if depth == 0 {
                return 1;
            }
            let a = goro::spawn(tree(depth - 1));
            let b = goro::spawn(tree(depth - 1));
            a.await.unwrap() + b.await.unwrap()
        })
    }
    let rt = workers(2);
    let leaves = within(Duration::from_secs(60), move || rt.block_on(tree(12)));
    assert_eq!(leaves, 1 << 12);
}

// ----- JoinHandle -------------------------------------------------------------------

#[test]
fn join_handle_is_finished_and_output() {
    let _g = shared();
    let rt = workers(2);
    let (tx, rx) = async_channel::bounded::<()>(1);
    let h = rt.spawn(async move {
        rx.recv().await.unwrap();
        "out"
    });
    std::thread::sleep(Duration::from_millis(20));
    assert!(!h.is_finished(), "the task waits for the channel");
    tx.send_blocking(()).unwrap();
    assert!(
        eventually(Duration::from_secs(10), || h.is_finished()),
        "the task finishes once released"
    );
    assert_eq!(rt.block_on(h).unwrap(), "out");
}

#[test]
fn abort_cancels_a_pending_task() {
    let _g = shared();
    let rt = workers(2);
    let drops = Arc::new(AtomicUsize::new(0));
    let polled = Arc::new(AtomicBool::new(false));
    let (d, p) = (drops.clone(), polled.clone());
    let h = rt.spawn(async move {
        let _guard = DropFlag(d);
        p.store(true, Ordering::SeqCst);
        std::future::pending::<()>().await;
    });
    assert!(eventually(Duration::from_secs(10), || polled.load(Ordering::SeqCst)));
    assert!(!h.is_finished());
    h.abort();
    assert!(
        eventually(Duration::from_secs(10), || h.is_finished()),
        "an aborted handle reports finished once its future is dropped"
    );
    assert_eq!(drops.load(Ordering::SeqCst), 1, "finished means dropped");
    let err = rt.block_on(h).unwrap_err();
    assert!(err.is_cancelled(), "{err:?}");
    assert!(!err.is_panic());
}

/// Awaiting an aborted handle returns only once the task's future has been
/// dropped, even if the task is inside a poll when it is aborted (what it
/// owns — sockets, guards — is released by then, as in tokio).
#[test]
fn awaiting_an_aborted_task_waits_until_its_future_is_dropped() {
    let _g = shared();
    let rt = workers(2);
    let drops = Arc::new(AtomicUsize::new(0));
    let (started_tx, started_rx) = mpsc::channel();
    let d = drops.clone();
    let h = rt.spawn(async move {
        let _guard = DropFlag(d);
        started_tx.send(()).unwrap();
        // Inside this poll when the abort arrives.
        std::thread::sleep(Duration::from_millis(200));
        goro::task::yield_now().await;
        std::future::pending::<()>().await;
    });
    started_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    h.abort();
    let err = within(Duration::from_secs(30), move || rt.block_on(h).unwrap_err());
    assert!(err.is_cancelled(), "{err:?}");
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the join returned while the aborted future was still alive"
    );
}

#[test]
fn abort_a_sleeping_task_from_inside_the_runtime() {
    let _g = shared();
    let rt = workers(2);
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let err = within(Duration::from_secs(30), move || {
        rt.block_on(async move {
            let h = goro::spawn(async move {
                let _guard = DropFlag(d);
                goro::time::sleep(Duration::from_secs(3600)).await;
            });
            goro::time::sleep(Duration::from_millis(10)).await;
            h.abort();
            h.await.unwrap_err()
        })
    });
    assert!(err.is_cancelled());
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn abort_after_completion_keeps_the_output() {
    let _g = shared();
    let rt = workers(1);
    let h = rt.spawn(async { 99 });
    assert!(eventually(Duration::from_secs(10), || h.is_finished()));
    h.abort();
    assert_eq!(rt.block_on(h).unwrap(), 99);
}

#[test]
fn dropping_join_handle_detaches() {
    let _g = shared();
    let rt = workers(2);
    let (go_tx, go_rx) = async_channel::bounded::<()>(1);
    let (done_tx, done_rx) = mpsc::channel();
    let h = rt.spawn(async move {
        go_rx.recv().await.unwrap();
        goro::time::sleep(Duration::from_millis(5)).await;
        done_tx.send("side effect").unwrap();
    });
    drop(h);
    // The task is still alive: release it only after the handle is gone.
    go_tx.send_blocking(()).unwrap();
    assert_eq!(
        done_rx.recv_timeout(Duration::from_secs(10)),
        Ok("side effect")
    );
}

#[test]
fn panicking_task_gives_join_error_and_worker_survives() {
    let _g = shared();
    let rt = workers(1);
    let err = rt
        .block_on(rt.spawn(async {
            goro::task::yield_now().await;
            panic!("boom {}", 42);
        }))
        .unwrap_err();
    assert!(err.is_panic());
    assert!(!err.is_cancelled());
    assert!(err.to_string().contains("boom 42"), "{err}");
    assert_eq!(panic_message(&*err.into_panic()), "boom 42");

    // A `&'static str` payload.
    let err: JoinError = rt
        .block_on(rt.spawn(async { panic!("static payload") }))
        .unwrap_err();
    assert_eq!(panic_message(&*err.into_panic()), "static payload");

    // The only worker is still there and runs more work.
    let sum = within(Duration::from_secs(30), move || {
        let s = rt.block_on(async {
            let hs: Vec<_> = (0..100u32).map(|i| goro::spawn(async move { i })).collect();
            let mut s = 0;
            for h in hs {
                s += h.await.unwrap();
            }
            s
        });
        assert_eq!(rt.metrics().workers.len(), 1);
        s
    });
    assert_eq!(sum, 4950);
}

#[test]
fn many_panics_do_not_exhaust_workers() {
    let _g = shared();
    let rt = workers(2);
    let panics = within(Duration::from_secs(60), move || {
        rt.block_on(async {
            let hs: Vec<_> = (0..200)
                .map(|i| {
                    goro::spawn(async move {
                        if i % 2 == 0 {
                            panic!("even {i}");
                        }
                        i
                    })
                })
                .collect();
            let mut panics = 0;
            for (i, h) in hs.into_iter().enumerate() {
                match h.await {
                    Ok(v) => assert_eq!(v, i),
                    Err(e) => {
                        assert!(e.is_panic());
                        panics += 1;
                    }
                }
            }
            panics
        })
    });
    assert_eq!(panics, 100);
}

// ----- Handle -----------------------------------------------------------------------

#[test]
fn handle_current_inside_and_try_current_outside() {
    let _g = shared();
    let rt = workers(2);
    let v = rt.block_on(async {
        let h = Handle::current();
        let from_task = goro::spawn(async {
            let inner = Handle::current();
            inner.spawn(async { 3 }).await.unwrap()
        });
        h.spawn(async { 4 }).await.unwrap() + from_task.await.unwrap()
    });
    assert_eq!(v, 7);

    let outside = std::thread::spawn(|| {
        let none = Handle::try_current().is_none();
        let panic = std::panic::catch_unwind(Handle::current).unwrap_err();
        (none, panic_message(&*panic))
    })
    .join()
    .unwrap();
    assert!(outside.0, "try_current is None on a plain thread");
    assert!(
        outside.1.contains("outside"),
        "Handle::current panics with a clear message, got {:?}",
        outside.1
    );
}

#[test]
fn handle_block_on_from_another_thread() {
    let _g = shared();
    let rt = workers(2);
    let handle = rt.handle();
    let v = within(Duration::from_secs(30), move || {
        handle.block_on(async {
            goro::time::sleep(Duration::from_millis(5)).await;
            goro::spawn(async { 11 }).await.unwrap()
        })
    });
    assert_eq!(v, 11);
}

// ----- Builder ----------------------------------------------------------------------

#[test]
fn builder_rejects_zero_workers() {
    let _g = shared();
    let err = Builder::new().worker_threads(0).build().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let err = Runtime::builder().worker_threads(0).build().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn thread_name_is_visible_in_tasks() {
    let _g = shared();
    let rt = Builder::new()
        .worker_threads(1)
        .thread_name("goro-tn-test")
        .build()
        .unwrap();
    let name = rt.block_on(rt.spawn(async { std::thread::current().name().map(str::to_owned) }));
    assert_eq!(name.unwrap().as_deref(), Some("goro-tn-test"));
}

#[test]
fn metrics_are_sane() {
    let _g = shared();
    let rt = workers(3);
    let before = rt.metrics();
    assert_eq!(before.workers.len(), 3);
    assert!(before.worker_threads >= 3, "{before:?}");
    rt.block_on(async {
        for _ in 0..100 {
            goro::spawn(async {}).await.unwrap();
        }
    });
    let after = rt.metrics();
    assert_eq!(after.workers.len(), 3);
    assert!(
        after.tasks_polled() >= before.tasks_polled() + 100,
        "before {} after {}",
        before.tasks_polled(),
        after.tasks_polled()
    );
    assert!(
        eventually(Duration::from_secs(10), || rt.metrics().tasks_alive == 0),
        "finished tasks are not counted alive: {:?}",
        rt.metrics()
    );
    // A pending task is alive.
    let h = rt.spawn(std::future::pending::<()>());
    assert!(eventually(Duration::from_secs(10), || rt
        .metrics()
        .tasks_alive
        == 1));
    h.abort();
    assert!(eventually(Duration::from_secs(10), || rt
        .metrics()
        .tasks_alive
        == 0));
}

// ----- yield_now ----------------------------------------------------------------------

#[test]
fn yield_now_lets_other_tasks_run() {
    let _g = shared();
    // One worker: the spawned task can only run if the spinning one yields.
    let rt = workers(1);
    let yields = within(Duration::from_secs(30), move || {
        rt.block_on(rt.spawn(async {
            let flag = Arc::new(AtomicBool::new(false));
            let f = flag.clone();
            let _other = goro::spawn(async move { f.store(true, Ordering::SeqCst) });
            let mut yields = 0;
            while !flag.load(Ordering::SeqCst) {
                assert!(yields < 10_000, "the other task never ran");
                goro::task::yield_now().await;
                yields += 1;
            }
            yields
        }))
        .unwrap()
    });
    assert!(yields >= 1);
}

#[test]
fn yield_now_is_pending_once() {
    let _g = shared();
    let rt = workers(1);
    rt.block_on(async {
        let mut y = goro::task::yield_now();
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut y).poll(&mut cx).is_pending());
        assert!(Pin::new(&mut y).poll(&mut cx).is_ready());
    });
}

// ----- spawn_blocking and block_in_place -------------------------------------------------

#[test]
fn spawn_blocking_result_and_panic() {
    let _g = shared();
    let rt = workers(2);
    let (v, name, err) = within(Duration::from_secs(30), move || {
        rt.block_on(async {
            let v = goro::spawn_blocking(|| {
                std::thread::sleep(Duration::from_millis(10));
                6 * 7
            })
            .await
            .unwrap();
            let name =
                goro::task::spawn_blocking(|| std::thread::current().name().map(str::to_owned))
                    .await
                    .unwrap();
            let err = goro::spawn_blocking(|| -> u8 { panic!("blocking boom") })
                .await
                .unwrap_err();
            // The pool still works after the panic.
            assert_eq!(goro::spawn_blocking(|| 1).await.unwrap(), 1);
            (v, name, err)
        })
    });
    assert_eq!(v, 42);
    assert!(
        name.is_some_and(|n| !n.contains("goro-worker")),
        "blocking closures do not run on worker threads"
    );
    assert!(err.is_panic());
    assert_eq!(panic_message(&*err.into_panic()), "blocking boom");
}

#[test]
fn spawn_blocking_does_not_stall_workers() {
    let _g = shared();
    let rt = workers(1);
    within(Duration::from_secs(30), move || {
        rt.block_on(async {
            let (tx, rx) = mpsc::channel::<()>();
            // Several blocked closures at once, more than there are workers.
            let blocked: Vec<_> = (0..4)
                .map(|_| goro::spawn_blocking(|| std::thread::sleep(Duration::from_millis(300))))
                .collect();
            let waiter = goro::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(20)));
            // The worker still runs tasks while the pool threads block.
            goro::spawn(async move { tx.send(()).unwrap() })
                .await
                .unwrap();
            assert_eq!(waiter.await.unwrap(), Ok(()));
            for b in blocked {
                b.await.unwrap();
            }
        })
    });
}

#[test]
fn block_in_place_hands_off_the_worker() {
    let _g = shared();
    // One worker, and sysmon's own hand-off disabled (an hour), so the only
    // way the second task can run is block_in_place handing the P away.
    let rt = Builder::new()
        .worker_threads(1)
        .handoff_after(Duration::from_secs(3600))
        .build()
        .unwrap();
    let got = within(Duration::from_secs(60), move || {
        rt.block_on(async {
            let (tx, rx) = mpsc::channel::<u32>();
            let (started_tx, started_rx) = async_channel::bounded::<()>(1);
            let blocker = goro::spawn(async move {
                started_tx.send(()).await.unwrap();
                let got = goro::task::block_in_place(|| rx.recv_timeout(Duration::from_secs(10)));
                // Still a working task afterwards.
                goro::time::sleep(Duration::from_millis(1)).await;
                goro::task::yield_now().await;
                got
            });
            started_rx.recv().await.unwrap();
            goro::time::sleep(Duration::from_millis(20)).await;
            goro::spawn(async move { tx.send(5).unwrap() })
                .await
                .unwrap();
            blocker.await.unwrap()
        })
    });
    assert_eq!(got, Ok(5));
}

#[test]
fn block_in_place_outside_a_runtime_just_runs() {
    let _g = shared();
    assert_eq!(goro::task::block_in_place(|| 3), 3);
}

#[test]
fn nested_block_on_on_a_worker_does_not_deadlock() {
    let _g = shared();
    let rt = workers(1);
    let other = workers(1);
    let v = within(Duration::from_secs(60), move || {
        rt.block_on(rt.spawn(async move {
            // Same runtime, on its only worker: the inner future needs
            // another task of this runtime to run meanwhile.
            let inner = Handle::current().block_on(async {
                let t = goro::spawn(async {
                    goro::time::sleep(Duration::from_millis(5)).await;
                    10
                });
                t.await.unwrap()
            });
            // A different runtime, blocking this worker again.
            let other_v = other.block_on(async { goro::spawn(async { 20 }).await.unwrap() });
            // Back in the task: the runtime still schedules us.
            goro::task::yield_now().await;
            let after = goro::spawn(async { 30 }).await.unwrap();
            drop(other);
            inner + other_v + after
        }))
        .unwrap()
    });
    assert_eq!(v, 60);
}

// ----- shutdown ---------------------------------------------------------------------

#[test]
fn dropping_runtime_drops_tasks_joins_threads_closes_fds() {
    let _g = exclusive();
    let fds_before = open_fds();
    let sysmon_before = count_threads_named("goro-sysmon");

    let rt = Builder::new()
        .worker_threads(2)
        .thread_name("rtdrop-worker")
        .build()
        .unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let handles = rt.block_on(async {
        let (ready_tx, ready_rx) = async_channel::unbounded::<()>();
        let listener = goro::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = goro::net::TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let mut handles = Vec::new();
        // 1: pending forever, no waker stored anywhere but the runtime.
        let (d, r) = (drops.clone(), ready_tx.clone());
        handles.push(goro::spawn(async move {
            let _g = DropFlag(d);
            r.send(()).await.unwrap();
            std::future::pending::<()>().await;
        }));
        // 2: waiting on a long timer.
        let (d, r) = (drops.clone(), ready_tx.clone());
        handles.push(goro::spawn(async move {
            let _g = DropFlag(d);
            r.send(()).await.unwrap();
            goro::time::sleep(Duration::from_secs(3600)).await;
        }));
        // 3: owns the listener, blocked in accept.
        let (d, r) = (drops.clone(), ready_tx.clone());
        handles.push(goro::spawn(async move {
            let _g = DropFlag(d);
            r.send(()).await.unwrap();
            let _ = listener.accept().await;
        }));
        // 4 and 5: own the two ends of a connection, blocked in read.
        for s in [client, server] {
            let (d, r) = (drops.clone(), ready_tx.clone());
            handles.push(goro::spawn(async move {
                let _g = DropFlag(d);
                r.send(()).await.unwrap();
                let mut buf = [0u8; 16];
                let _ = s.read(&mut buf).await;
            }));
        }
        for _ in 0..handles.len() {
            ready_rx.recv().await.unwrap();
        }
        // Give every task time to reach its await point.
        goro::time::sleep(Duration::from_millis(50)).await;
        handles
    });
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    let fds_running = open_fds();
    assert!(
        fds_running >= fds_before + 5,
        "epoll, eventfd and 3 sockets should be open: before {fds_before}, running {fds_running}"
    );
    assert_eq!(count_threads_named("rtdrop-worker"), 2);
    assert_eq!(count_threads_named("goro-sysmon"), sysmon_before + 1);

    let started = Instant::now();
    within(Duration::from_secs(30), move || drop(rt));
    eprintln!("runtime drop took {:?}", started.elapsed());

    assert_eq!(
        drops.load(Ordering::SeqCst),
        5,
        "every task's future is dropped at shutdown"
    );
    // Joined threads are gone (allow the kernel a moment to reap them).
    assert!(
        eventually(Duration::from_millis(500), || count_threads_named(
            "rtdrop-worker"
        ) == 0),
        "worker threads still alive after drop: {}",
        count_threads_named("rtdrop-worker")
    );
    assert!(
        eventually(Duration::from_millis(500), || count_threads_named(
            "goro-sysmon"
        ) == sysmon_before),
        "sysmon still alive after drop"
    );
    // Awaiting the handles of dropped tasks reports cancellation.
    for h in handles {
        let r = within(Duration::from_secs(10), move || {
            futures::executor::block_on(h)
        });
        assert!(r.unwrap_err().is_cancelled());
    }
    assert_eq!(
        open_fds(),
        fds_before,
        "the runtime's epoll/eventfd and the tasks' sockets are closed"
    );
}

#[test]
fn dropping_runtime_closes_fds_while_join_handles_live() {
    let _g = exclusive();
    let fds_before = open_fds();
    let rt = workers(1);
    let h = rt.spawn(std::future::pending::<()>());
    rt.block_on(goro::time::sleep(Duration::from_millis(10)));
    drop(rt);
    let after = open_fds();
    drop(h);
    assert_eq!(
        after, fds_before,
        "fds still open after drop(Runtime) while a JoinHandle lives"
    );
}

#[test]
fn dropping_runtime_after_spawn_blocking_joins_threads() {
    let _g = exclusive();
    let fds_before = open_fds();
    let threads_before = count_goro_threads();
    let rt = workers(2);
    let v = rt.block_on(async {
        let hs: Vec<_> = (0..4)
            .map(|i| {
                goro::spawn_blocking(move || {
                    std::thread::sleep(Duration::from_millis(5));
                    i
                })
            })
            .collect();
        let mut s = 0;
        for h in hs {
            s += h.await.unwrap();
        }
        s
    });
    assert_eq!(v, 6);
    let running = count_goro_threads();
    assert!(
        running > threads_before + 3,
        "2 workers, sysmon and blocking threads: before {threads_before}, running {running}"
    );
    within(Duration::from_secs(30), move || drop(rt));
    // Idle blocking threads are told to exit at shutdown (not joined); give
    // them a moment, after which their references to the runtime are gone.
    assert!(
        eventually(Duration::from_secs(2), || count_goro_threads()
            <= threads_before),
        "threads before {threads_before}, after {}",
        count_goro_threads()
    );
    assert!(
        eventually(Duration::from_secs(2), || open_fds() == fds_before),
        "fds before {fds_before}, after {}",
        open_fds()
    );
}

#[test]
fn dropping_runtime_after_spawn_blocking_closes_fds_at_once() {
    let _g = exclusive();
    let fds_before = open_fds();
    let mut leaked = Vec::new();
    for round in 0..50 {
        let rt = workers(1);
        rt.block_on(rt.spawn_blocking(|| ())).unwrap();
        drop(rt);
        let now = open_fds();
        if now != fds_before {
            leaked.push((round, now));
        }
        // Let the stragglers go before the next round.
        assert!(eventually(Duration::from_secs(2), || open_fds() == fds_before));
    }
    assert!(
        leaked.is_empty(),
        "fds still open right after drop(Runtime) returned (round, count; baseline {fds_before}): {leaked:?}"
    );
}

#[test]
fn runtime_drop_with_busy_queues() {
    let _g = shared();
    // Tasks that keep re-waking themselves and spawning more while the
    // runtime is dropped: shutdown must still finish and drop all of them.
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    within(Duration::from_secs(60), move || {
        let rt = workers(2);
        for _ in 0..64 {
            let d = d.clone();
            rt.spawn(async move {
                let _g = DropFlag(d.clone());
                loop {
                    let d = d.clone();
                    drop(goro::spawn(async move {
                        let _g = DropFlag(d);
                        goro::task::yield_now().await;
                        std::future::pending::<()>().await
                    }));
                    goro::task::yield_now().await;
                    goro::time::sleep(Duration::from_millis(1)).await;
                }
            });
        }
        std::thread::sleep(Duration::from_millis(100));
        let alive_before_drop = rt.metrics().tasks_alive;
        drop(rt);
        assert!(alive_before_drop >= 64);
    });
    // Every task created (those 64 and whatever they spawned) was dropped;
    // at least the 64 loops.
    assert!(drops.load(Ordering::SeqCst) >= 64);
}

#[test]
fn spawn_on_a_dropped_runtime_is_cancelled() {
    let _g = shared();
    let rt = workers(1);
    let handle = rt.handle();
    drop(rt);
    let h = handle.spawn(async { 1 });
    let r = within(Duration::from_secs(10), move || {
        futures::executor::block_on(h)
    });
    assert!(r.unwrap_err().is_cancelled());
}

#[test]
fn join_handle_polled_by_a_foreign_executor() {
    let _g = shared();
    let rt = workers(2);
    let mut h = rt.spawn(async {
        goro::time::sleep(Duration::from_millis(50)).await;
        "x"
    });
    // Polling first with a noop waker must not lose the real waker later.
    let first = h.poll_unpin(&mut Context::from_waker(&futures::task::noop_waker()));
    if let Poll::Ready(r) = first {
        assert_eq!(r.unwrap(), "x");
        return;
    }
    let r = within(Duration::from_secs(10), move || {
        futures::executor::block_on(h)
    });
    assert_eq!(r.unwrap(), "x");
}

#[test]
fn runtime_new_uses_env_or_cpu_count() {
    let _g = shared();
    let rt = Runtime::new().unwrap();
    let want = match std::env::var("GORO_WORKER_THREADS") {
        Ok(v) => v.trim().parse::<usize>().unwrap(),
        Err(_) => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    assert_eq!(rt.metrics().workers.len(), want);
    assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1);
}

#[test]
fn a_task_may_drop_its_own_runtime() {
    let _g = shared();
    let rt = workers(2);
    let handle = rt.handle();
    let (tx, rx) = mpsc::channel();
    let other = handle.spawn(std::future::pending::<()>());
    drop(handle.spawn(async move {
        // Shutting down from one of the runtime's own worker threads: it
        // cannot join itself, but must not deadlock or panic.
        drop(rt);
        tx.send("dropped").unwrap();
    }));
    assert_eq!(rx.recv_timeout(Duration::from_secs(30)), Ok("dropped"));
    let r = within(Duration::from_secs(10), move || {
        futures::executor::block_on(other)
    });
    assert!(r.unwrap_err().is_cancelled());
}

#[test]
fn spawning_from_a_task_dropped_at_shutdown() {
    let _g = shared();
    struct SpawnOnDrop(Handle, mpsc::Sender<goro::JoinHandle<u8>>);
    impl Drop for SpawnOnDrop {
        fn drop(&mut self) {
            let _ = self.1.send(self.0.spawn(async { 1 }));
        }
    }
    let rt = workers(2);
    let (tx, rx) = mpsc::channel();
    let guard = SpawnOnDrop(rt.handle(), tx);
    rt.spawn(async move {
        let _guard = guard;
        std::future::pending::<()>().await
    });
    rt.block_on(goro::time::sleep(Duration::from_millis(20)));
    within(Duration::from_secs(30), move || drop(rt));
    let late = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the task was dropped");
    let r = within(Duration::from_secs(10), move || {
        futures::executor::block_on(late)
    });
    assert!(
        r.unwrap_err().is_cancelled(),
        "a task spawned into a shut-down runtime is cancelled"
    );
}
