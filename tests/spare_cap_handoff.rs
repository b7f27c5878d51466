//! `max_spare_threads` bounds the threads sysmon starts for stuck polls
//! and the spare threads left idle; it never stops a worker that blocks on
//! purpose (`block_in_place`, `Handle::block_on` on a worker) from handing
//! its P away, as a Go syscall always releases its P.
//!
//! What this guards: with one worker and no spare threads allowed, a task
//! that blocked in place kept its P, because no thread was free to take
//! it; a task queued behind it on that P never ran, and when the blocked
//! code waited for that task (a channel it would send on) the runtime
//! deadlocked silently.

mod support;

use goro::runtime::{Builder, Handle, Runtime};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::hang::within;

/// How long the blocked code waits for the queued task before it gives
/// up: the task runs within milliseconds once the P is handed off, and
/// never otherwise.
const PATIENCE: Duration = Duration::from_secs(10);

fn one_worker_no_spares(keep_alive: Duration) -> Runtime {
    Builder::new()
        .worker_threads(1)
        .max_spare_threads(0)
        .thread_keep_alive(keep_alive)
        .build()
        .unwrap()
}

/// A task blocks (as `block`) on a channel that a task it spawned just
/// before, queued behind it on the same P, sends on.
fn blocks_on_a_task_queued_behind_it(
    rt: &Runtime,
    block: fn(&mpsc::Receiver<u32>) -> Result<u32, mpsc::RecvTimeoutError>,
) -> Result<u32, mpsc::RecvTimeoutError> {
    rt.block_on(async move {
        goro::spawn(async move {
            let (tx, rx) = mpsc::channel();
            let sender = goro::spawn(async move {
                let _ = tx.send(7);
            });
            let got = block(&rx);
            sender.await.unwrap();
            got
        })
        .await
        .unwrap()
    })
}

#[test]
fn block_in_place_hands_off_without_spare_threads() {
    let got = within(PATIENCE * 3, || {
        let rt = one_worker_no_spares(Duration::from_secs(10));
        let got = blocks_on_a_task_queued_behind_it(&rt, |rx| {
            goro::task::block_in_place(|| rx.recv_timeout(PATIENCE))
        });
        std::mem::forget(rt);
        got
    });
    assert_eq!(
        got,
        Ok(7),
        "the task queued behind block_in_place never ran"
    );
}

#[test]
fn block_on_in_a_task_hands_off_without_spare_threads() {
    let got = within(PATIENCE * 3, || {
        let rt = one_worker_no_spares(Duration::from_secs(10));
        let got = blocks_on_a_task_queued_behind_it(&rt, |rx| {
            Handle::current().block_on(async { rx.recv_timeout(PATIENCE) })
        });
        std::mem::forget(rt);
        got
    });
    assert_eq!(got, Ok(7), "the task queued behind block_on never ran");
}

#[test]
fn spares_beyond_the_cap_exit_once_idle() {
    within(PATIENCE * 3, || {
        // Keep-alive far longer than the test: only the cap can make the
        // extra thread exit.
        let rt = one_worker_no_spares(Duration::from_secs(600));
        let got = blocks_on_a_task_queued_behind_it(&rt, |rx| {
            goro::task::block_in_place(|| rx.recv_timeout(PATIENCE))
        });
        assert_eq!(got, Ok(7));
        let deadline = Instant::now() + PATIENCE;
        while rt.metrics().spare_threads != 0 {
            assert!(
                Instant::now() < deadline,
                "an idle spare outlived the cap of 0: {:?}",
                rt.metrics()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        // The runtime still works with its one worker.
        assert_eq!(rt.block_on(rt.spawn(async { 3 })).unwrap(), 3);
    });
}

/// Samples `rt`'s worker-thread count every millisecond until `stop`;
/// returns the highest seen.
fn peak_threads(
    rt: &Runtime,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<usize> {
    let handle = rt.handle();
    std::thread::spawn(move || {
        let mut peak = 0;
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            peak = peak.max(handle.metrics().worker_threads);
            std::thread::sleep(Duration::from_millis(1));
        }
        peak
    })
}

/// Waits (boundedly) for the spare threads beyond a cap of 0 to exit.
fn spares_gone(rt: &Runtime) {
    let deadline = Instant::now() + PATIENCE;
    while rt.metrics().spare_threads != 0 {
        assert!(
            Instant::now() < deadline,
            "idle spares outlived the cap of 0: {:?}",
            rt.metrics()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// N tasks blocked in place at once, each started only because the one
/// before handed its P on: about one thread each, not more, and they go
/// once idle.
#[test]
fn a_burst_of_blocking_calls_starts_about_one_thread_each() {
    const N: usize = 8;
    within(PATIENCE * 3, || {
        let rt = one_worker_no_spares(Duration::from_secs(600));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sampler = peak_threads(&rt, stop.clone());
        let all_blocked = std::sync::Arc::new(std::sync::Barrier::new(N + 1));
        let release = std::sync::Arc::new(std::sync::Barrier::new(N + 1));
        let tasks: Vec<_> = (0..N)
            .map(|_| {
                let (all_blocked, release) = (all_blocked.clone(), release.clone());
                rt.spawn(async move {
                    goro::task::block_in_place(|| {
                        all_blocked.wait();
                        release.wait();
                    })
                })
            })
            .collect();
        // Passes only once all N block at once: each task runs only if the
        // one before handed the P on.
        all_blocked.wait();
        let during = rt.metrics().worker_threads;
        release.wait();
        for t in tasks {
            rt.block_on(t).unwrap();
        }
        spares_gone(&rt);
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let peak = sampler.join().unwrap().max(during);
        assert!(during >= N, "{N} blocked calls, {during} threads");
        // N blocked threads, plus one running the P.
        assert!(peak <= N + 1, "{N} blocked calls ran on {peak} threads");
    });
}

/// A task that blocks in place again and again, with work always queued
/// behind it: each call hands the P on, and the thread it comes back on
/// exits (the cap is 0), so the count stays small however long it runs.
#[test]
fn a_loop_of_blocking_calls_keeps_the_thread_count_small() {
    within(PATIENCE * 3, || {
        let rt = one_worker_no_spares(Duration::from_secs(600));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sampler = peak_threads(&rt, stop.clone());
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let busy = {
            let done = done.clone();
            rt.spawn(async move {
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    goro::task::yield_now().await;
                }
            })
        };
        let blocker = rt.spawn(async move {
            for _ in 0..300 {
                goro::task::block_in_place(|| std::thread::sleep(Duration::from_micros(200)));
                goro::task::yield_now().await;
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        rt.block_on(blocker).unwrap();
        rt.block_on(busy).unwrap();
        let handoffs = rt.metrics().handoffs;
        spares_gone(&rt);
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let peak = sampler.join().unwrap();
        assert!(handoffs >= 100, "the calls did not hand off: {handoffs}");
        // One blocked, one running the P, one on its way out.
        assert!(
            peak <= 4,
            "300 blocking calls in a row peaked at {peak} threads"
        );
    });
}

/// Dropping a runtime while its tasks block in place and hand their P on
/// in a loop (no spare allowed): the drop returns and every thread it
/// started is gone soon after.
#[test]
fn drop_while_blocking_calls_hand_off() {
    within(PATIENCE * 3, || {
        for round in 0..20u64 {
            let rt = Builder::new()
                .worker_threads(1 + (round % 2) as usize)
                .max_spare_threads(0)
                .thread_keep_alive(Duration::from_secs(600))
                .thread_name(format!("bipdrop-{round:02}"))
                .build()
                .unwrap();
            for i in 0..4u64 {
                rt.spawn(async move {
                    loop {
                        goro::task::block_in_place(|| {
                            std::thread::sleep(Duration::from_micros(50 * i))
                        });
                        goro::task::yield_now().await;
                    }
                });
            }
            std::thread::sleep(Duration::from_millis(2 + round % 7));
            drop(rt);
            // A worker detached inside a poll exits when the poll returns
            // (microseconds here).
            let name = format!("bipdrop-{round:02}");
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                let left = threads_named(&name);
                if left == 0 {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "round {round}: {left} runtime threads outlived the drop"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    });
}

/// Threads of this process whose name starts with `prefix` (truncated to
/// the kernel's 15 bytes).
fn threads_named(prefix: &str) -> usize {
    let prefix = &prefix[..prefix.len().min(15)];
    std::fs::read_dir("/proc/self/task")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter(|t| {
                    std::fs::read_to_string(t.path().join("comm"))
                        .is_ok_and(|comm| comm.trim_end().starts_with(prefix))
                })
                .count()
        })
        .unwrap_or(0)
}

/// One task blocked in place for the whole test (its thread counts, but
/// cannot run the P), and work arriving from outside now and then: the
/// thread that runs the P stays, idle in between, instead of exiting each
/// time the P goes idle and a new thread being started for the next task.
#[test]
fn a_long_blocking_call_does_not_make_each_wake_start_a_thread() {
    const ROUND_TRIPS: usize = 50;
    within(PATIENCE * 3, || {
        let rt = one_worker_no_spares(Duration::from_secs(600));
        let (unblock, blocked) = mpsc::channel::<()>();
        let blocker = rt.spawn(async move {
            goro::task::block_in_place(|| {
                let _ = blocked.recv();
            })
        });
        let mut threads = std::collections::HashSet::new();
        for _ in 0..ROUND_TRIPS {
            let on = rt.block_on(rt.spawn(async { std::thread::current().id() }));
            threads.insert(on.unwrap());
            // Time for the P's thread to go idle (and, if it would, exit).
            std::thread::sleep(Duration::from_millis(2));
        }
        drop(unblock);
        rt.block_on(blocker).unwrap();
        assert!(
            threads.len() <= 3,
            "{ROUND_TRIPS} tasks ran on {} threads: a thread started per wake",
            threads.len()
        );
    });
}
