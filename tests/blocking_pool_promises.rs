//! Regression test (issue 8, bug 2): a blocking-pool thread that was
//! promised to one closure must not be counted idle for the next one.
//!
//! With exactly one idle pool thread, `spawn_blocking(A)` then
//! `spawn_blocking(B)` back to back used to notify the same idle thread
//! twice (the idle count dropped only when the thread woke), so B queued
//! behind A. When A waits for B, that is a deadlock. Each round here builds
//! a runtime whose pool holds exactly one idle thread, then runs that
//! pattern; A waits at most `WATCHDOG` so a regression fails instead of
//! hanging.

use goro::runtime::{Builder, Runtime};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const ROUNDS: usize = 200;
const WATCHDOG: Duration = Duration::from_secs(5);

/// A runtime whose blocking pool has exactly one thread, idle.
fn runtime_with_one_idle_pool_thread() -> Runtime {
    let rt = Builder::new().worker_threads(1).build().unwrap();
    rt.block_on(rt.spawn_blocking(|| ())).unwrap();
    let deadline = Instant::now() + WATCHDOG;
    loop {
        let m = rt.metrics();
        assert_eq!(m.blocking_threads, 1, "{m:?}");
        if m.blocking_idle_threads == 1 {
            return rt;
        }
        assert!(Instant::now() < deadline, "pool thread never went idle");
        std::thread::sleep(Duration::from_micros(50));
    }
}

#[test]
fn a_job_never_waits_for_a_thread_promised_to_another() {
    for round in 0..ROUNDS {
        let rt = runtime_with_one_idle_pool_thread();
        let (tx, rx) = mpsc::channel::<()>();
        let a = rt.spawn_blocking(move || rx.recv_timeout(WATCHDOG).is_ok());
        let b = rt.spawn_blocking(move || {
            let _ = tx.send(());
        });
        let a_got_b = rt.block_on(a).unwrap();
        rt.block_on(b).unwrap();
        assert!(
            a_got_b,
            "round {round}: B was queued behind A on the one idle pool thread"
        );
    }
}
