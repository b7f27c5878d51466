//! Regression tests (issue 8, bug 5): after sysmon hands a P away from a
//! stuck worker thread, that thread no longer owns the P, and tasks it
//! spawns or wakes must reach a thread that runs them.
//!
//! The scenario each test builds on a 1-worker runtime: task T blocks its
//! thread (M0) long enough for sysmon to hand P0 to another M, which runs
//! the work queued behind T and then finds nothing more, so P0 goes idle.
//! Still inside the same poll, T spawns or wakes a task U and blocks on a
//! std channel until U sends. Before the fix, U went to P0's `runnext`
//! (the stuck thread still believed it owned P0) and nobody was woken: U
//! waited for T's poll to return, and T waited for U. Each wait here is
//! bounded, so a regression fails instead of hanging.

mod support;

use goro::runtime::Builder;
use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use support::rt::one_worker;

/// How long the stuck task waits for U (and the test for the stuck task).
const WATCHDOG: Duration = Duration::from_secs(5);
/// How long T blocks first: far past sysmon's 10 ms hand-off threshold, so
/// P0 is handed off and goes idle again before T goes on.
const STUCK: Duration = Duration::from_millis(150);
const ROUNDS: usize = 2;

/// Runs `scenario` on a new thread and fails if it does not finish in time.
fn with_watchdog(name: &str, scenario: impl FnOnce() -> bool + Send + 'static) {
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(scenario());
    });
    match finished.recv_timeout(WATCHDOG * 2) {
        Ok(got) => assert!(got, "{name}: the task woken by the stuck thread never ran"),
        Err(_) => panic!("{name}: hung"),
    }
}

/// Blocks the calling worker thread past the hand-off threshold, with a
/// task queued behind it so sysmon has a reason to hand its P off.
fn block_until_handed_off() {
    drop(goro::spawn(async {}));
    std::thread::sleep(STUCK);
}

#[test]
fn task_spawned_by_a_stuck_thread_runs() {
    for _ in 0..ROUNDS {
        with_watchdog("spawn", || {
            let rt = one_worker();
            let ok = rt
                .block_on(rt.spawn(async {
                    block_until_handed_off();
                    let (tx, rx) = mpsc::channel();
                    drop(goro::spawn(async move {
                        let _ = tx.send(());
                    }));
                    rx.recv_timeout(WATCHDOG).is_ok()
                }))
                .unwrap();
            assert!(rt.metrics().handoffs >= 1, "{:?}", rt.metrics());
            ok
        });
    }
}

/// A one-shot gate: a future that completes once `open` is called.
#[derive(Clone, Default)]
struct Gate(Arc<Mutex<(bool, Option<Waker>)>>);

impl Gate {
    fn open(&self) {
        let waker = {
            let mut g = self.0.lock().unwrap();
            g.0 = true;
            g.1.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn is_waited_on(&self) -> bool {
        self.0.lock().unwrap().1.is_some()
    }
}

impl Future for Gate {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut g = self.0.lock().unwrap();
        if g.0 {
            Poll::Ready(())
        } else {
            g.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

#[test]
fn task_woken_by_a_stuck_thread_runs() {
    for _ in 0..ROUNDS {
        with_watchdog("wake", || {
            let rt = one_worker();
            let gate = Gate::default();
            let (tx, rx) = mpsc::channel();
            let g = gate.clone();
            drop(rt.spawn(async move {
                g.await;
                let _ = tx.send(());
            }));
            while !gate.is_waited_on() {
                std::thread::sleep(Duration::from_millis(1));
            }
            let ok = rt
                .block_on(rt.spawn(async move {
                    block_until_handed_off();
                    gate.open();
                    rx.recv_timeout(WATCHDOG).is_ok()
                }))
                .unwrap();
            assert!(rt.metrics().handoffs >= 1, "{:?}", rt.metrics());
            ok
        });
    }
}

#[test]
fn task_spawned_in_block_in_place_after_a_handoff_runs() {
    // The thread lost its P to sysmon first; `block_in_place` must then
    // not leave it believing it still holds that P.
    for _ in 0..ROUNDS {
        with_watchdog("block_in_place after hand-off", || {
            let rt = one_worker();
            rt.block_on(rt.spawn(async {
                block_until_handed_off();
                goro::task::block_in_place(|| {
                    let (tx, rx) = mpsc::channel();
                    drop(goro::spawn(async move {
                        let _ = tx.send(());
                    }));
                    rx.recv_timeout(WATCHDOG).is_ok()
                })
            }))
            .unwrap()
        });
    }
}

#[test]
fn task_spawned_in_block_in_place_runs() {
    // `block_in_place` gives the P away at once: a task spawned just before
    // it (onto the P's own queue) and one spawned inside it both run while
    // the thread blocks.
    for _ in 0..ROUNDS {
        with_watchdog("block_in_place", || {
            let rt = Builder::new()
                .worker_threads(1)
                .handoff_after(Duration::from_secs(60))
                .build()
                .unwrap();
            rt.block_on(rt.spawn(async {
                let (tx1, rx1) = mpsc::channel();
                drop(goro::spawn(async move {
                    let _ = tx1.send(());
                }));
                goro::task::block_in_place(|| {
                    let (tx2, rx2) = mpsc::channel();
                    drop(goro::spawn(async move {
                        let _ = tx2.send(());
                    }));
                    rx1.recv_timeout(WATCHDOG).is_ok() && rx2.recv_timeout(WATCHDOG).is_ok()
                })
            }))
            .unwrap()
        });
    }
}
