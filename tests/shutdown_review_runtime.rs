//! Review of the shutdown contract (DESIGN.md §3, "Runtime shutdown") for
//! tasks, the blocking pool and the ways a runtime goes away, from a user's
//! side: `JoinHandle`s of tasks and `spawn_blocking` closures awaited on
//! other threads while the runtime is dropped (the closure running, or
//! queued), `shutdown_timeout` with a closure that never ends (its thread
//! leaks only until the closure returns), and a runtime shut down from
//! places that are easy to deadlock in: the future of a `Handle::block_on`,
//! `block_in_place`, and its own tasks and closures with the other two
//! shutdown methods. Complements `tests/graceful_shutdown.rs`,
//! `tests/blocking_pool.rs` and `tests/runtime.rs`.
//!
//! Every wait goes through a channel with a timeout, so a hang fails the
//! test instead of stalling the suite.

mod support;

use goro::runtime::{Builder, Handle, Runtime};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};
use support::hang::on_thread;
use support::rt::workers;

/// "Promptly" on a loaded 2-core machine.
const PROMPT: Duration = Duration::from_secs(5);

#[track_caller]
fn expect_prompt<T>(rx: &mpsc::Receiver<T>, what: &str) -> T {
    rx.recv_timeout(PROMPT)
        .unwrap_or_else(|_| panic!("{what}: still waiting after {PROMPT:?}"))
}

/// Polls `cond` until it holds or `limit` passes.
fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    cond()
}

/// A runtime whose blocking pool has one thread, so a second closure
/// queues behind the first.
fn one_pool_thread() -> Runtime {
    Builder::new()
        .worker_threads(2)
        .max_blocking_threads(1)
        .build()
        .unwrap()
}

/// Dropped on one thread while other threads wait — in futures' executor
/// and in `Handle::block_on` — on the `JoinHandle`s of a running closure,
/// a queued closure and a sleeping task: the running closure is waited for
/// and its handle gets its value; the others are cancelled.
#[test]
fn join_handles_awaited_elsewhere_resolve_when_the_runtime_is_dropped() {
    let rt = one_pool_thread();
    let handle = rt.handle();
    let started = Arc::new(AtomicBool::new(false));
    let running = {
        let started = started.clone();
        rt.spawn_blocking(move || {
            started.store(true, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(300));
            7
        })
    };
    assert!(eventually(PROMPT, || started.load(Ordering::SeqCst)));
    let queued = rt.spawn_blocking(|| 8);
    let sleeping = rt.spawn(goro::time::sleep(Duration::from_secs(3600)));
    let running = on_thread(move || futures::executor::block_on(running));
    let queued = {
        let h = handle.clone();
        on_thread(move || h.block_on(queued))
    };
    let sleeping = on_thread(move || futures::executor::block_on(sleeping));
    std::thread::sleep(Duration::from_millis(20));
    let dropping = on_thread(move || drop(rt));
    assert!(
        expect_prompt(&queued, "queued closure's handle")
            .unwrap_err()
            .is_cancelled()
    );
    assert!(
        expect_prompt(&sleeping, "sleeping task's handle")
            .unwrap_err()
            .is_cancelled()
    );
    assert_eq!(
        expect_prompt(&running, "running closure's handle").unwrap(),
        7
    );
    expect_prompt(&dropping, "drop");
}

/// `shutdown_timeout` with a closure that never ends returns after its
/// limit; the closure's thread is detached, its `JoinHandle` stays pending
/// (nothing cancels running code) and resolves when the closure returns;
/// then the thread exits instead of leaking.
#[test]
fn a_closure_detached_by_shutdown_timeout_finishes_and_its_thread_exits() {
    let rt = workers(2);
    let handle = rt.handle();
    let stop = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    let h = {
        let (stop, started) = (stop.clone(), started.clone());
        rt.spawn_blocking(move || {
            started.store(true, Ordering::SeqCst);
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
            "done"
        })
    };
    assert!(eventually(PROMPT, || started.load(Ordering::SeqCst)));
    let waiter = on_thread(move || futures::executor::block_on(h));
    let start = Instant::now();
    let shut = on_thread(move || rt.shutdown_timeout(Duration::from_millis(100)));
    expect_prompt(&shut, "shutdown_timeout(100 ms)");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(100),
        "returned after {took:?}"
    );
    assert_eq!(handle.metrics().blocking_threads, 1, "the closure's thread");
    assert!(
        waiter.recv_timeout(Duration::from_millis(100)).is_err(),
        "the running closure's handle resolved before the closure returned"
    );
    stop.store(true, Ordering::SeqCst);
    assert_eq!(
        expect_prompt(&waiter, "detached closure's handle").unwrap(),
        "done"
    );
    assert!(
        eventually(PROMPT, || handle.metrics().blocking_threads == 0),
        "the detached pool thread did not exit: {} left",
        handle.metrics().blocking_threads
    );
}

/// The future of a `Handle::block_on` on a plain thread drops the runtime
/// (which owns the thread no worker runs on) and then keeps using its
/// timers, sockets and spawns: all fail or complete at once.
#[test]
fn a_block_on_future_may_drop_its_runtime_and_go_on() {
    let rt = workers(2);
    let handle = rt.handle();
    let task = rt.spawn(std::future::pending::<()>());
    let rx = on_thread(move || {
        handle.block_on(async move {
            drop(rt);
            goro::time::sleep(Duration::from_secs(3600)).await;
            let cancelled = task.await.unwrap_err().is_cancelled();
            let late = goro::spawn(async { 1 }).await.unwrap_err().is_cancelled();
            let bind = goro::net::UdpSocket::bind("127.0.0.1:0").await.map(|_| ());
            (cancelled, late, bind)
        })
    });
    let (cancelled, late, bind) = expect_prompt(&rx, "block_on future that dropped its runtime");
    assert!(cancelled, "the pending task is cancelled");
    assert!(late, "a task spawned after the drop is cancelled");
    assert_eq!(bind.unwrap_err().to_string(), "goro runtime is shut down");
}

/// A runtime may be shut down from inside one of its own tasks — in the
/// task's poll, inside `block_in_place`, with `shutdown_timeout` or
/// `shutdown_background` — and from its own `spawn_blocking` closure with
/// either method: no deadlock (a thread cannot wait for itself), and the
/// other tasks are cancelled.
#[test]
fn every_shutdown_method_works_from_the_runtimes_own_threads() {
    type Shut = fn(Runtime);
    let methods: [(&str, Shut); 3] = [
        ("drop", drop),
        ("shutdown_timeout", |rt| {
            rt.shutdown_timeout(Duration::from_secs(30))
        }),
        ("shutdown_background", Runtime::shutdown_background),
    ];
    for (name, shut) in methods {
        for place in ["task", "block_in_place", "spawn_blocking"] {
            let what = format!("{name} from {place}");
            let rt = workers(2);
            let handle = rt.handle();
            let other = rt.spawn(std::future::pending::<()>());
            let (tx, rx) = mpsc::channel();
            let go = move || {
                shut(rt);
                let _ = tx.send(());
            };
            match place {
                "task" => drop(handle.spawn(async move { go() })),
                "block_in_place" => drop(handle.spawn(async move {
                    goro::task::block_in_place(go);
                })),
                _ => drop(handle.spawn_blocking(go)),
            }
            expect_prompt(&rx, &what);
            let r = on_thread(move || futures::executor::block_on(other));
            assert!(
                expect_prompt(&r, &what).unwrap_err().is_cancelled(),
                "{what}"
            );
        }
    }
}

/// Tasks waiting on each other's `JoinHandle`s, and a `JoinSet`, when the
/// runtime is dropped: everything is cancelled, and a `JoinSet` polled
/// afterwards (here by another executor) drains and ends instead of
/// waiting.
#[test]
fn join_sets_and_chains_of_join_handles_end_at_shutdown() {
    let rt = workers(2);
    let mut set = {
        let _g = rt.enter();
        let mut set = goro::task::JoinSet::new();
        for _ in 0..10 {
            set.spawn(goro::time::sleep(Duration::from_secs(3600)));
        }
        set
    };
    // A chain: each task awaits the previous one.
    let mut last = rt.spawn(std::future::pending::<u32>());
    for _ in 0..10 {
        let prev = last;
        last = rt.spawn(async move { prev.await.map(|v| v + 1).unwrap_or(0) });
    }
    let chain = on_thread(move || futures::executor::block_on(last));
    std::thread::sleep(Duration::from_millis(20));
    drop(rt);
    assert!(expect_prompt(&chain, "chain").unwrap_err().is_cancelled());
    let drained = on_thread(move || {
        futures::executor::block_on(async {
            let mut cancelled = 0;
            while let Some(r) = set.join_next().await {
                cancelled += usize::from(r.unwrap_err().is_cancelled());
            }
            cancelled
        })
    });
    assert_eq!(expect_prompt(&drained, "JoinSet drain"), 10);
}

/// A runtime with `n` workers whose threads are named `name`.
fn named_workers(n: usize, name: &str) -> Runtime {
    Builder::new()
        .worker_threads(n)
        .thread_name(name)
        .build()
        .unwrap()
}

/// Fails round `round` unless every thread of the dropped runtime of
/// `handle`, whose workers are named `name`, and of its pool exits in time.
#[track_caller]
fn assert_no_thread_left(handle: &Handle, name: &str, round: u64) {
    assert!(
        eventually(PROMPT, || threads_named(name) == 0
            && handle.metrics().blocking_threads == 0),
        "round {round}: {} worker(s) and {} pool thread(s) left",
        threads_named(name),
        handle.metrics().blocking_threads
    );
}

/// On a new thread, repeats `op` through `handle` until it says it saw the
/// runtime shut down or `stop_after` passes; the receiver gets how many
/// times it ran before the shutdown, or `u32::MAX` if it never saw one.
fn loop_until_shutdown(
    handle: &Handle,
    stop_after: Duration,
    mut op: impl FnMut(&Handle) -> bool + Send + 'static,
) -> mpsc::Receiver<u32> {
    let h = handle.clone();
    on_thread(move || {
        let t = Instant::now();
        let mut n = 0;
        while t.elapsed() < stop_after {
            if op(&h) {
                return n;
            }
            n += 1;
        }
        u32::MAX
    })
}

/// Threads of this process named `name` (`comm`).
fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("read /proc/self/task")
        .filter_map(|e| e.ok())
        .filter(|e| {
            std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim_end() == name)
        })
        .count()
}

/// A task stuck in its poll past the drop's grace period is detached with
/// its worker; when it comes back it finds the runtime shut down and goes
/// on using it — `block_in_place` (which hands the worker's P off), a
/// nested `Handle::block_on`, spawns, sleeps, yields — without hanging,
/// and the detached worker then exits: no runtime thread is left behind.
#[test]
fn a_task_detached_by_the_drop_finishes_and_leaves_no_thread_behind() {
    const NAME: &str = "rv-detach-wkr";
    let rt = named_workers(2, NAME);
    let (in_poll_tx, in_poll) = mpsc::channel();
    let (done_tx, done) = mpsc::channel();
    drop(rt.spawn(async move {
        in_poll_tx.send(()).unwrap();
        // Stuck in the poll well past the drop's 100 ms grace.
        std::thread::sleep(Duration::from_millis(400));
        goro::task::block_in_place(|| std::thread::sleep(Duration::from_millis(1)));
        goro::runtime::Handle::current()
            .block_on(async { goro::time::sleep(Duration::from_secs(3600)).await });
        let spawned = goro::spawn(async { 1 }).await;
        goro::task::yield_now().await;
        goro::time::sleep(Duration::from_secs(3600)).await;
        let _ = done_tx.send(spawned.is_err());
    }));
    in_poll.recv().unwrap();
    let start = Instant::now();
    drop(rt);
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "drop waited {:?}",
        start.elapsed()
    );
    // The task may be dropped at its first await after the shutdown (it is
    // cancelled) or finish; either way its worker must not hang.
    let _ = done.recv_timeout(PROMPT);
    assert!(
        eventually(PROMPT, || threads_named(NAME) == 0),
        "{} runtime thread(s) left after the detached task returned",
        threads_named(NAME)
    );
}

/// The drop races threads that keep using the runtime through its handle —
/// spawning tasks, spawning blocking closures, binding sockets, sleeping —
/// each awaiting the result with `Handle::block_on`. Every loop must see
/// the shutdown (a cancelled `JoinHandle`, the shut-down error, a sleep
/// that completes at once) and end; none may be stranded by an operation
/// that slipped in while the runtime was going down, and no runtime or
/// pool thread may be left running.
#[test]
fn a_drop_racing_spawns_binds_and_sleeps_strands_nobody() {
    const NAME: &str = "rv-storm-wkr";
    for round in 0..15u64 {
        let rt = named_workers(2, NAME);
        let handle = rt.handle();
        let stop_after = Duration::from_secs(3);
        let loops: Vec<(&str, mpsc::Receiver<u32>)> = vec![
            (
                "spawn",
                loop_until_shutdown(&handle, stop_after, |h| {
                    let j = h.spawn(async { goro::task::yield_now().await });
                    h.block_on(j).is_err()
                }),
            ),
            (
                "spawn_blocking",
                loop_until_shutdown(&handle, stop_after, |h| {
                    h.block_on(h.spawn_blocking(|| ())).is_err()
                }),
            ),
            (
                "bind",
                loop_until_shutdown(&handle, stop_after, |h| {
                    let r = h.block_on(async {
                        let s = goro::net::UdpSocket::bind("127.0.0.1:0").await?;
                        goro::time::timeout(Duration::from_micros(50), s.recv(&mut [0; 1]))
                            .await
                            .map_or(Ok(0), |r| r)
                    });
                    r.is_err()
                }),
            ),
            (
                "sleep",
                loop_until_shutdown(&handle, stop_after, |h| {
                    let s = Instant::now();
                    h.block_on(goro::time::sleep(Duration::from_millis(1)));
                    // A sleep waits at least its duration, unless its
                    // runtime is shut down: then it is complete at once.
                    s.elapsed() < Duration::from_millis(1)
                }),
            ),
        ];
        std::thread::sleep(Duration::from_millis(2 + (round % 5) * 3));
        drop(rt);
        for (what, rx) in loops {
            let n = rx
                .recv_timeout(PROMPT)
                .unwrap_or_else(|_| panic!("round {round}: the {what} loop hung after the drop"));
            assert_ne!(
                n,
                u32::MAX,
                "round {round}: the {what} loop never saw the shutdown"
            );
        }
        assert_no_thread_left(&handle, NAME, round);
    }
}

/// A busy runtime — tasks ping-ponging over UDP, sleeping, spawning,
/// running blocking closures, handing their worker off with
/// `block_in_place`, and threads in `Handle::block_on` reading its sockets —
/// dropped mid-flight, over and over. Every outside waiter must be
/// released, the drop must return, and every runtime thread must exit.
#[test]
fn dropping_a_busy_runtime_mid_flight_releases_everyone() {
    const NAME: &str = "rv-busy-wkr";
    for round in 0..10u64 {
        let rt = named_workers(3, NAME);
        let handle = rt.handle();
        let mut outside = Vec::new();
        for i in 0..8 {
            let (a, b) = rt.block_on(async {
                let a = goro::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
                let b = goro::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
                a.connect(b.local_addr().unwrap()).await.unwrap();
                b.connect(a.local_addr().unwrap()).await.unwrap();
                (Arc::new(a), Arc::new(b))
            });
            // Ping-pong between two tasks.
            let a2 = a.clone();
            rt.spawn(async move {
                let mut buf = [0u8; 8];
                loop {
                    if a2.send(b"ping").await.is_err() || a2.recv(&mut buf).await.is_err() {
                        return;
                    }
                    if i % 2 == 0 {
                        goro::time::sleep(Duration::from_micros(100)).await;
                    } else {
                        goro::task::yield_now().await;
                    }
                }
            });
            let b2 = b.clone();
            rt.spawn(async move {
                let mut buf = [0u8; 8];
                while b2.recv(&mut buf).await.is_ok() {
                    if b2.send(b"pong").await.is_err() {
                        return;
                    }
                    if i % 3 == 0 {
                        let _ = goro::spawn_blocking(|| ()).await;
                    } else if i % 3 == 1 {
                        goro::task::block_in_place(std::thread::yield_now);
                    } else {
                        let _ = goro::spawn(async {}).await;
                    }
                }
            });
            // An outside reader on a third socket of the runtime.
            let c = Arc::new(
                rt.block_on(goro::net::UdpSocket::bind("127.0.0.1:0"))
                    .unwrap(),
            );
            let h = handle.clone();
            outside.push(on_thread(move || {
                if i % 2 == 0 {
                    h.block_on(c.recv(&mut [0u8; 8])).map(|_| ())
                } else {
                    futures::executor::block_on(c.recv(&mut [0u8; 8])).map(|_| ())
                }
            }));
        }
        std::thread::sleep(Duration::from_millis(5 + 7 * (round % 4)));
        let dropping = on_thread(move || drop(rt));
        expect_prompt(&dropping, &format!("round {round}: drop"));
        for (i, rx) in outside.iter().enumerate() {
            let r = expect_prompt(rx, &format!("round {round}: outside reader {i}"));
            assert_eq!(r.unwrap_err().to_string(), "goro runtime is shut down");
        }
        assert_no_thread_left(&handle, NAME, round);
    }
}
