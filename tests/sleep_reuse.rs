//! A `Sleep` polled inside a task borrows the task's own timer (one
//! allocation per sleeping task), and that timer is reused by the task's
//! next sleep. These tests go after what reuse can break: a stale heap
//! entry of an earlier arming firing a later one early, a sleep that moves
//! to another task or outlives its task or runtime, a second sleep in the
//! same task (which gets a timer of its own), sleeps outside any task, and
//! a task freed while a stale entry still points at its timer (run this
//! file under valgrind: `scripts/valgrind.sh sleep_reuse`).
//!
//! Timing is the semantics: every sleep must complete at or after its
//! deadline; upper bounds are generous (`SLACK`).

mod support;

use futures::FutureExt;
use goro::time::{Sleep, sleep, sleep_until, timeout};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::data::Rng;
use support::hang::within;
use support::rt::workers;
use support::sleeps::{assert_not_early, poll_once};

const SLACK: Duration = Duration::from_secs(5);

#[test]
fn sleep_types_stay_send_sync_unpin() {
    fn check<T: Send + Sync + Unpin>() {}
    check::<Sleep>();
    check::<goro::time::Interval>();
}

/// The regression test for reuse: each task arms a sleep with a short
/// deadline and drops it armed (its entry stays in the heap, stale), then
/// awaits a longer sleep on the same reused timer, resets sleeps, and
/// races sleeps in timeouts, with random deadlines. If a stale entry could
/// fire a later arming, some sleep would complete before its deadline.
#[test]
fn stale_entries_never_complete_a_reused_timer_early() {
    within(Duration::from_secs(120), || {
        let rt = workers(2);
        let completed = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..200u64)
            .map(|t| {
                let completed = completed.clone();
                rt.spawn(async move {
                    let mut rng = Rng(support::data::mix(t + 1));
                    for _ in 0..30 {
                        let short = Duration::from_micros(rng.below(2_000));
                        let long = short + Duration::from_micros(500 + rng.below(3_000));
                        match rng.below(3) {
                            0 => {
                                // Armed, then dropped: a stale entry due at `short`.
                                let mut s = sleep(short);
                                if !poll_once(&mut s).await {
                                    drop(s);
                                }
                                let at = Instant::now() + long;
                                sleep_until(at).await;
                                assert_not_early(at, "a sleep after a dropped one");
                            }
                            1 => {
                                // Armed, then reset later: the first entry goes stale.
                                let mut s = sleep(short);
                                let _ = poll_once(&mut s).await;
                                let at = Instant::now() + long;
                                s.reset(at);
                                (&mut s).await;
                                assert_not_early(at, "a reset sleep");
                            }
                            _ => {
                                // A timeout whose timer is cancelled, then a sleep.
                                let r = timeout(short, goro::task::yield_now()).await;
                                std::hint::black_box(r.is_ok());
                                let at = Instant::now() + long;
                                sleep_until(at).await;
                                assert_not_early(at, "a sleep after a timeout");
                            }
                        }
                        completed.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        rt.block_on(async {
            for t in tasks {
                t.await.expect("sleeper task");
            }
        });
        assert_eq!(completed.load(Ordering::Relaxed), 200 * 30);
    });
}

/// A sleep armed in one task (on that task's timer), then moved to another
/// task that awaits it, while the first task goes on sleeping with
/// timers of its own and then finishes before the moved sleep fires.
#[test]
fn a_sleep_moved_to_another_task_completes_on_time() {
    within(Duration::from_secs(60), || {
        let rt = workers(2);
        let (tx, rx) = async_channel::bounded::<(Sleep, Instant)>(1);
        let first = rt.spawn(async move {
            let at = Instant::now() + Duration::from_millis(60);
            let mut s = sleep_until(at);
            assert!(!poll_once(&mut s).await, "armed, not complete");
            tx.send((s, at)).await.expect("send the sleep");
            // The task's own timer is taken by the moved sleep: these get
            // timers of their own, and must still be on time.
            for _ in 0..3 {
                let at = Instant::now() + Duration::from_millis(5);
                sleep_until(at).await;
                assert_not_early(at, "a sleep in the first task");
            }
        });
        let second = rt.spawn(async move {
            let (s, at) = rx.recv().await.expect("receive the sleep");
            let start = Instant::now();
            s.await;
            assert_not_early(at, "the moved sleep");
            assert!(start.elapsed() < SLACK);
        });
        rt.block_on(async {
            first.await.expect("first task");
            second.await.expect("second task");
        });
    });
}

/// Two sleeps pending at once in one task: the second cannot borrow the
/// task's timer and gets its own; both complete on time, in order, and
/// the task's timer is free again afterwards.
#[test]
fn two_sleeps_in_one_task() {
    within(Duration::from_secs(60), || {
        let rt = workers(2);
        rt.block_on(rt.spawn(async {
            for round in 0..20u64 {
                let start = Instant::now();
                let (a, b) = (
                    Duration::from_millis(1 + round % 3),
                    Duration::from_millis(4),
                );
                let (ta, tb) = futures::join!(
                    sleep(a).map(|()| Instant::now()),
                    sleep(b).map(|()| Instant::now()),
                );
                assert!(ta >= start + a, "the first sleep completed early");
                assert!(tb >= start + b, "the second sleep completed early");
                assert!(ta <= tb, "the shorter sleep completes first");
            }
            let at = Instant::now() + Duration::from_millis(3);
            sleep_until(at).await;
            assert_not_early(at, "a sleep after two at once");
        }))
        .expect("task");
    });
}

/// Sleeps outside any task (`block_on`'s own future, and a future polled
/// by another executor inside a task) use timers of their own.
#[test]
fn sleeps_outside_tasks() {
    within(Duration::from_secs(60), || {
        let rt = workers(1);
        rt.block_on(async {
            for _ in 0..5 {
                let at = Instant::now() + Duration::from_millis(2);
                sleep_until(at).await;
                assert_not_early(at, "a sleep in block_on");
            }
        });
        goro::block_on(async {
            let at = Instant::now() + Duration::from_millis(2);
            sleep_until(at).await;
            assert_not_early(at, "a sleep in goro::block_on");
        });
        // A nested executor inside a task: its waker is not the task's, so
        // the sleep takes a timer of its own and wakes the nested
        // executor's thread.
        rt.block_on(rt.spawn(async {
            let at = Instant::now() + Duration::from_millis(5);
            futures::executor::block_on(sleep_until(at));
            assert_not_early(at, "a sleep in a nested executor");
        }))
        .expect("task");
    });
}

/// Dropping a runtime while its tasks sleep on their own timers: shutdown
/// completes the sleeps, cancels the tasks and frees them; a sleep that
/// escaped its task (returned as the task's output) keeps that task's
/// memory alive and is complete once its runtime is gone.
#[test]
fn shutdown_with_task_timers_armed() {
    within(Duration::from_secs(60), || {
        let rt = workers(2);
        let escaped = rt
            .block_on(rt.spawn(async {
                let mut s = sleep(Duration::from_secs(3600));
                assert!(!poll_once(&mut s).await);
                // In a tuple only to hand it out: clippy flags a future
                // returned from an async block as a likely missing `.await`.
                (s,)
            }))
            .expect("task")
            .0;
        for _ in 0..1000 {
            rt.spawn(sleep(Duration::from_secs(3600)));
        }
        rt.spawn(async {
            // Armed and dropped: a stale entry at shutdown.
            let mut s = sleep(Duration::from_secs(3600));
            let _ = poll_once(&mut s).await;
            drop(s);
            sleep(Duration::from_secs(3600)).await;
        });
        // Let them all run once and arm.
        std::thread::sleep(Duration::from_millis(200));
        let start = Instant::now();
        drop(rt);
        assert!(
            start.elapsed() < SLACK,
            "dropping the runtime took too long"
        );
        // The escaped sleep's runtime is shut down: it is complete.
        let start = Instant::now();
        futures::executor::block_on(escaped);
        assert!(start.elapsed() < SLACK);
    });
}

/// Tasks that finish while stale entries of their timers are still in a
/// heap: the entries fire (or are compacted away) after the tasks are
/// gone, which must not touch freed memory (valgrind reports it if it
/// does), and they must not disturb the sleeps of later tasks.
#[test]
fn tasks_finish_before_their_stale_entries_fire() {
    within(Duration::from_secs(60), || {
        let rt = workers(2);
        for round in 0..5u64 {
            let handles: Vec<_> = (0..100u64)
                .map(|i| {
                    rt.spawn(async move {
                        // A timeout cancelled after one pending poll leaves
                        // a stale entry due in a few ms; the task ends now.
                        // (Whether the yield beat the deadline depends on
                        // the machine's speed: either way an entry was armed.)
                        let d = Duration::from_millis(1 + (i + round) % 8);
                        let r = timeout(d, goro::task::yield_now()).await;
                        std::hint::black_box(r.is_ok());
                    })
                })
                .collect();
            rt.block_on(async {
                for h in handles {
                    h.await.expect("task");
                }
                // Let the stale entries come due while later tasks sleep
                // (they may reuse the freed tasks' memory).
                let later: Vec<_> = (0..50u64)
                    .map(|i| {
                        goro::spawn(async move {
                            let at = Instant::now() + Duration::from_millis(5 + i % 10);
                            sleep_until(at).await;
                            assert_not_early(at, "a sleep among stale entries");
                        })
                    })
                    .collect();
                for h in later {
                    h.await.expect("later task");
                }
            });
        }
    });
}
