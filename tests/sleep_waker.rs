//! A task's header timer wakes the task through the task's own waker, so a
//! `Sleep` may rest on it only while polled with that waker. These tests
//! poll sleeps with other wakers: through a combinator that wraps the
//! waker (`FuturesUnordered`), from the first poll or after the sleep
//! armed on the header timer, and in another task after a move. Each must
//! complete on time (it is woken at all: a wake sent to the task would not
//! make `FuturesUnordered` poll it again) and not early (the header timer
//! it gave back is reused by a later sleep of its first task, and the old
//! heap entry must not fire that one).
//!
//! Timing is the semantics; upper bounds are generous (`SLACK`).

mod support;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use goro::time::{Sleep, sleep_until};
use std::time::{Duration, Instant};
use support::hang::within;
use support::rt::workers;
use support::sleeps::{assert_not_early, poll_once};

const SLACK: Duration = Duration::from_secs(5);

#[track_caller]
fn assert_on_time(deadline: Instant, what: &str) {
    assert_not_early(deadline, what);
    let now = Instant::now();
    assert!(
        now - deadline < SLACK,
        "{what} completed {:?} late",
        now - deadline
    );
}

/// Sleeps polled only through `FuturesUnordered` (whose waker is not the
/// task's) complete on time.
#[test]
fn sleeps_inside_futures_unordered() {
    within(Duration::from_secs(60), || {
        let rt = workers(2);
        let t = rt.spawn(async {
            let start = Instant::now();
            let mut set: FuturesUnordered<_> = [30u64, 10, 20]
                .into_iter()
                .map(|ms| {
                    let at = start + Duration::from_millis(ms);
                    async move {
                        sleep_until(at).await;
                        assert_on_time(at, "a sleep in FuturesUnordered");
                        ms
                    }
                })
                .collect();
            let mut order = Vec::new();
            while let Some(ms) = set.next().await {
                order.push(ms);
            }
            assert_eq!(order, [10, 20, 30]);
        });
        rt.block_on(t).expect("task");
    });
}

/// A sleep armed on the task's header timer, then pushed into
/// `FuturesUnordered`, moves to a timer of its own: it completes on time,
/// and the task's next sleep, back on the header timer, is not completed
/// early by the earlier arming's entry.
#[test]
fn a_sleep_armed_in_the_task_then_polled_in_futures_unordered() {
    within(Duration::from_secs(60), || {
        let rt = workers(2);
        let t = rt.spawn(async {
            for round in 0..20u64 {
                let short = Instant::now() + Duration::from_millis(2 + round % 5);
                let mut s = sleep_until(short);
                assert!(!poll_once(&mut s).await, "armed, not complete");
                let mut set = FuturesUnordered::new();
                set.push(s);
                // Polled with the set's waker: migrates.
                assert!(futures::poll!(set.next()).is_pending());
                // The header timer is free again: this one borrows it; the
                // short entry (still in the heap) must not fire it.
                let long = short + Duration::from_millis(15);
                let mut next = std::pin::pin!(sleep_until(long));
                assert!(futures::poll!(next.as_mut()).is_pending());
                assert_eq!(set.next().await, Some(()));
                assert_on_time(short, "the migrated sleep");
                next.await;
                assert_on_time(long, "the task's next sleep");
            }
        });
        rt.block_on(t).expect("task");
    });
}

/// A sleep armed in one task and awaited in another completes on time,
/// and the first task's later, longer sleeps (which reuse the header timer
/// the moved sleep gave back) are not completed early by its entry.
#[test]
fn a_moved_sleep_and_the_first_tasks_next_sleep() {
    within(Duration::from_secs(60), || {
        let rt = workers(2);
        let (tx, rx) = async_channel::bounded::<(Sleep, Instant)>(1);
        let (back_tx, back_rx) = async_channel::bounded::<()>(1);
        let first = rt.spawn(async move {
            let at = Instant::now() + Duration::from_millis(20);
            let mut s = sleep_until(at);
            assert!(!poll_once(&mut s).await, "armed, not complete");
            tx.send((s, at)).await.expect("send the sleep");
            // Wait until the other task polled (and so migrated) it.
            back_rx.recv().await.expect("polled");
            let long = Instant::now() + Duration::from_millis(80);
            sleep_until(long).await;
            assert_on_time(long, "the first task's next sleep");
        });
        let second = rt.spawn(async move {
            let (mut s, at) = rx.recv().await.expect("receive the sleep");
            let done = poll_once(&mut s).await;
            back_tx.send(()).await.expect("tell the first task");
            if !done {
                s.await;
            }
            assert_on_time(at, "the moved sleep");
        });
        rt.block_on(async {
            first.await.expect("first task");
            second.await.expect("second task");
        });
    });
}
