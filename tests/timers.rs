//! Integration tests of `goro::time`: sleep, sleep_until, timeout, interval,
//! `Sleep::reset`, absurd durations, timer/poller interaction and scale.
//!
//! Timing is the semantics here, so tests assert that a timer never fires
//! before its deadline, and that it fires within a generous upper bound
//! (`SLACK`): the machine is small and busy, and nothing may depend on speed.

mod support;

use futures::FutureExt;
use futures::stream::{FuturesUnordered, StreamExt};
use goro::time::{Elapsed, interval, interval_at, sleep, sleep_until, timeout, timeout_at};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::hang::within;
use support::margins::{Setup, before, with_margins};
use support::rt::workers;

/// Upper tolerance on top of any expected duration: generous, since a
/// loaded 2-core machine can deschedule a worker for most of a second.
const SLACK: Duration = Duration::from_secs(2);

#[track_caller]
fn assert_took(elapsed: Duration, at_least: Duration) {
    assert!(
        elapsed >= at_least,
        "fired early: took {elapsed:?}, expected at least {at_least:?}"
    );
    assert!(
        elapsed < at_least + SLACK,
        "fired late: took {elapsed:?}, expected about {at_least:?}"
    );
}

// ----- sleep ------------------------------------------------------------------------

#[test]
fn sleep_waits_at_least_its_duration() {
    let rt = workers(2);
    for ms in [1u64, 10, 50, 120] {
        let d = Duration::from_millis(ms);
        let took = rt.block_on(async move {
            let start = Instant::now();
            sleep(d).await;
            start.elapsed()
        });
        assert_took(took, d);
        // The same in a spawned task.
        let took = rt
            .block_on(rt.spawn(async move {
                let start = Instant::now();
                sleep(d).await;
                start.elapsed()
            }))
            .unwrap();
        assert_took(took, d);
    }
}

#[test]
fn sleep_on_the_default_runtime() {
    let took = within(Duration::from_secs(30), || {
        goro::block_on(async {
            let start = Instant::now();
            sleep(Duration::from_millis(30)).await;
            start.elapsed()
        })
    });
    assert_took(took, Duration::from_millis(30));
}

#[test]
fn sleep_zero_and_sleep_until_past_are_immediate() {
    let rt = workers(1);
    rt.block_on(async {
        // Ready on the first poll: no timer, no waiting.
        assert_eq!(sleep(Duration::ZERO).now_or_never(), Some(()));
        let past = Instant::now() - Duration::from_millis(100);
        assert_eq!(sleep_until(past).now_or_never(), Some(()));
        let now = Instant::now();
        assert_eq!(sleep_until(now).now_or_never(), Some(()));
        // And when awaited.
        sleep_until(past).await;
    });
}

#[test]
fn sleep_deadline_and_is_elapsed() {
    let rt = workers(1);
    rt.block_on(async {
        let at = Instant::now() + Duration::from_millis(30);
        let mut s = sleep_until(at);
        assert_eq!(s.deadline(), at);
        assert!(!s.is_elapsed());
        (&mut s).await;
        assert!(s.is_elapsed());
        assert!(Instant::now() >= at);
        // Awaiting a completed sleep again is immediate.
        assert_eq!((&mut s).now_or_never(), Some(()));
    });
}

#[test]
fn many_sleeps_complete_in_deadline_order() {
    // One worker, one task, distinct deadlines: completions come in
    // deadline order even though the sleeps are created shuffled. That
    // needs every sleep armed before the first deadline (a sleep first
    // polled after its deadline is ready at once, in polling order), so the
    // scenario is retried with a later start if arming them took longer.
    const N: u64 = 200;
    let rt = workers(1);
    within(Duration::from_secs(60), move || {
        rt.block_on(with_margins(
            "200 sleeps armed in time",
            |scale| async move {
                let base = Instant::now() + Duration::from_millis(20) * scale;
                // A fixed permutation of 0..N.
                let perm: Vec<u64> = (0..N).map(|i| (i * 73) % N).collect();
                let mut sleeps: Vec<_> = perm
                    .iter()
                    .map(|&k| {
                        let at = base + Duration::from_millis(2 * k);
                        (k, at, sleep_until(at))
                    })
                    .collect();
                // Arm them all.
                for (_, _, s) in sleeps.iter_mut() {
                    let _ = futures::poll!(s);
                }
                if before(base) == Setup::Missed {
                    return Setup::Missed;
                }
                let mut all: FuturesUnordered<_> = sleeps
                    .into_iter()
                    .map(|(k, at, s)| {
                        s.map(move |()| {
                            assert!(Instant::now() >= at, "sleep {k} fired before its deadline");
                            k
                        })
                    })
                    .collect();
                let mut order = Vec::new();
                while let Some(k) = all.next().await {
                    order.push(k);
                }
                assert_eq!(order, (0..N).collect::<Vec<_>>());
                Setup::Met
            },
        ))
    });
}

#[test]
fn sleeps_in_many_tasks_fire_not_before_their_deadline_groups() {
    // Across tasks and two workers, every sleep completes, none before its
    // deadline. Completion *order* across groups is not asserted: when a
    // worker is descheduled past the next group's deadline, both groups'
    // timers fire in one batch, and a task woken on a worker goes to its
    // P's `runnext` (Go's `ready`), so the last one woken runs first; with
    // two workers, one may also simply run later than the other. Order
    // within one task is covered by `many_sleeps_complete_in_deadline_order`.
    let rt = workers(2);
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let l = log.clone();
    let base = Instant::now() + Duration::from_millis(20);
    within(Duration::from_secs(60), move || {
        rt.block_on(async move {
            let hs: Vec<_> = (0..30u64)
                .rev()
                .map(|i| {
                    let l = l.clone();
                    goro::spawn(async move {
                        let at = base + Duration::from_millis(100 * (i % 3));
                        sleep_until(at).await;
                        l.lock().unwrap().push((i, at, Instant::now()));
                    })
                })
                .collect();
            for h in hs {
                h.await.unwrap();
            }
        })
    });
    let log = log.lock().unwrap();
    let mut tasks: Vec<u64> = log.iter().map(|&(i, _, _)| i).collect();
    tasks.sort_unstable();
    assert_eq!(
        tasks,
        (0..30).collect::<Vec<_>>(),
        "every task completes once"
    );
    for &(i, at, woke) in log.iter() {
        assert!(
            woke >= at,
            "task {i} woke {:?} before its deadline",
            at - woke
        );
    }
}

// ----- timeout ----------------------------------------------------------------------

#[test]
fn timeout_elapses_on_a_slow_future() {
    let rt = workers(2);
    let (res, took) = rt.block_on(async {
        let start = Instant::now();
        let res = timeout(Duration::from_millis(50), sleep(Duration::from_secs(10))).await;
        (res, start.elapsed())
    });
    let err: Elapsed = res.unwrap_err();
    assert_took(took, Duration::from_millis(50));
    assert!(!err.to_string().is_empty());
    let as_dyn: &dyn std::error::Error = &err;
    assert!(as_dyn.source().is_none());
    let io = std::io::Error::from(err);
    assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
}

#[test]
fn timeout_on_a_pending_future_and_dropping_it() {
    let rt = workers(2);
    let drops = Arc::new(AtomicUsize::new(0));
    struct Guard(Arc<AtomicUsize>);
    impl Drop for Guard {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let d = drops.clone();
    let res = rt.block_on(async move {
        let g = Guard(d);
        timeout(Duration::from_millis(20), async move {
            let _g = g;
            std::future::pending::<()>().await
        })
        .await
    });
    assert!(res.is_err());
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the inner future is dropped"
    );
}

#[test]
fn timeout_around_ready_futures_is_ok() {
    let rt = workers(1);
    rt.block_on(async {
        // Ready at once: Ok on the first poll.
        assert_eq!(
            timeout(Duration::from_secs(10), async { 7 }).now_or_never(),
            Some(Ok(7))
        );
        // Even with a zero or past deadline, a ready future wins.
        assert_eq!(
            timeout(Duration::ZERO, async { 8 }).now_or_never(),
            Some(Ok(8))
        );
        assert_eq!(
            timeout_at(Instant::now() - Duration::from_secs(1), async { 9 }).now_or_never(),
            Some(Ok(9))
        );
        // A future that finishes well before the deadline.
        let start = Instant::now();
        let r = timeout(Duration::from_secs(10), async {
            sleep(Duration::from_millis(20)).await;
            "done"
        })
        .await;
        assert_eq!(r, Ok("done"));
        assert_took(start.elapsed(), Duration::from_millis(20));
        // Past deadline around a pending future: Elapsed at once.
        let r = timeout_at(
            Instant::now() - Duration::from_secs(1),
            std::future::pending::<()>(),
        )
        .now_or_never();
        assert!(matches!(r, Some(Err(_))));
    });
}

#[test]
fn timeout_in_spawned_tasks_across_workers() {
    let rt = workers(2);
    let results = within(Duration::from_secs(60), move || {
        rt.block_on(async {
            let hs: Vec<_> = (0..200u64)
                .map(|i| {
                    goro::spawn(async move {
                        // Even tasks finish in time, odd ones time out.
                        let inner = if i % 2 == 0 { 5 } else { 2000 };
                        let start = Instant::now();
                        let r = timeout(
                            Duration::from_millis(100),
                            sleep(Duration::from_millis(inner)),
                        )
                        .await;
                        (i, r.is_ok(), start.elapsed())
                    })
                })
                .collect();
            let mut out = Vec::new();
            for h in hs {
                out.push(h.await.unwrap());
            }
            out
        })
    });
    for (i, ok, took) in results {
        if i % 2 == 0 {
            assert!(ok, "task {i} should finish before its timeout");
            assert!(took >= Duration::from_millis(5));
        } else {
            assert!(!ok, "task {i} should time out");
            assert_took(took, Duration::from_millis(100));
        }
    }
}

// ----- absurd durations --------------------------------------------------------------

#[test]
fn absurd_durations_do_not_panic() {
    let rt = workers(1);
    within(Duration::from_secs(30), move || {
        rt.block_on(async {
            let start = Instant::now();
            let r = timeout(Duration::from_millis(30), sleep(Duration::MAX)).await;
            assert!(r.is_err());
            assert_took(start.elapsed(), Duration::from_millis(30));

            let r = timeout(
                Duration::from_millis(30),
                sleep(Duration::from_secs(u64::MAX / 2)),
            )
            .await;
            assert!(r.is_err());

            // A Duration::MAX timeout never fires.
            assert_eq!(timeout(Duration::MAX, async { 1 }).await, Ok(1));
            assert_eq!(
                timeout(Duration::MAX, sleep(Duration::from_millis(10))).await,
                Ok(())
            );

            // sleep(MAX) polled many times and dropped is harmless.
            let mut s = sleep(Duration::MAX);
            for _ in 0..10 {
                assert!((&mut s).now_or_never().is_none());
            }
            assert!(!s.is_elapsed());
            drop(s);
        })
    });
}

#[test]
fn interval_with_absurd_period_ticks_once() {
    let rt = workers(1);
    within(Duration::from_secs(30), move || {
        rt.block_on(async {
            let mut iv = interval(Duration::MAX);
            assert!(
                iv.tick().now_or_never().is_some(),
                "first tick is immediate"
            );
            assert!(
                timeout(Duration::from_millis(20), iv.tick()).await.is_err(),
                "the second tick of interval(Duration::MAX) must never come"
            );
            // Interval::reset has the same overflow fallback (`now`).
            iv.reset();
            assert!(
                timeout(Duration::from_millis(20), iv.tick()).await.is_err(),
                "after reset, the next tick is Duration::MAX away"
            );
        })
    });
}

// ----- Sleep::reset -----------------------------------------------------------------

#[test]
fn sleep_reset_earlier() {
    let rt = workers(2);
    let took = within(Duration::from_secs(30), move || {
        rt.block_on(async {
            let mut s = sleep(Duration::from_secs(10));
            // Poll once so the timer is armed, then move it earlier.
            assert!(futures::poll!(&mut s).is_pending());
            let start = Instant::now();
            s.reset(start + Duration::from_millis(30));
            (&mut s).await;
            start.elapsed()
        })
    });
    assert_took(took, Duration::from_millis(30));
}

#[test]
fn sleep_reset_later() {
    let rt = workers(2);
    let took = within(Duration::from_secs(30), move || {
        rt.block_on(async {
            let start = Instant::now();
            let mut s = sleep(Duration::from_millis(20));
            assert!(futures::poll!(&mut s).is_pending());
            s.reset(start + Duration::from_millis(200));
            (&mut s).await;
            start.elapsed()
        })
    });
    // Must not fire at the original 20 ms.
    assert_took(took, Duration::from_millis(200));
}

#[test]
fn sleep_reset_after_completion_and_in_a_task() {
    let rt = workers(2);
    let took = within(Duration::from_secs(30), move || {
        rt.block_on(rt.spawn(async {
            let mut s = sleep(Duration::from_millis(5));
            (&mut s).await;
            assert!(s.is_elapsed());
            let start = Instant::now();
            let at = start + Duration::from_millis(40);
            s.reset(at);
            assert_eq!(s.deadline(), at);
            assert!(!s.is_elapsed());
            (&mut s).await;
            // Reset to the past: immediate.
            s.reset(Instant::now() - Duration::from_millis(1));
            assert_eq!((&mut s).now_or_never(), Some(()));
            start.elapsed()
        }))
        .unwrap()
    });
    assert!(took >= Duration::from_millis(40), "{took:?}");
    assert!(took < Duration::from_millis(40) + SLACK, "{took:?}");
}

#[test]
fn sleep_reset_repeatedly_before_firing() {
    // The per-request deadline pattern: many resets, one final deadline.
    let rt = workers(1);
    let took = rt.block_on(async {
        let start = Instant::now();
        let mut s = sleep(Duration::from_millis(10));
        for i in 0..1000u64 {
            let _ = futures::poll!(&mut s);
            s.reset(start + Duration::from_millis(10 + i % 7));
        }
        s.reset(start + Duration::from_millis(60));
        (&mut s).await;
        start.elapsed()
    });
    assert!(took >= Duration::from_millis(60), "{took:?}");
    assert!(took < Duration::from_millis(60) + SLACK, "{took:?}");
}

// ----- interval ---------------------------------------------------------------------

#[test]
fn interval_first_tick_immediate_then_period() {
    let rt = workers(2);
    within(Duration::from_secs(30), move || {
        rt.block_on(async {
            let period = Duration::from_millis(30);
            let mut iv = interval(period);
            assert_eq!(iv.period(), period);
            let t0 = iv
                .tick()
                .now_or_never()
                .expect("the first tick completes at once");
            for k in 1..=4u32 {
                let tk = iv.tick().await;
                assert_eq!(tk, t0 + period * k, "tick instants are on the grid");
                let now = Instant::now();
                assert!(now >= tk, "tick {k} returned before its instant");
                assert!(now < tk + SLACK, "tick {k} late: {:?}", now - tk);
            }
        })
    });
}

#[test]
fn interval_is_a_stream() {
    let rt = workers(2);
    let ticks: Vec<Instant> = within(Duration::from_secs(30), move || {
        rt.block_on(async {
            let iv = interval(Duration::from_millis(15));
            iv.take(5).collect().await
        })
    });
    assert_eq!(ticks.len(), 5);
    for w in ticks.windows(2) {
        assert_eq!(w[1] - w[0], Duration::from_millis(15));
    }
    assert!(Instant::now() >= ticks[4]);
}

#[test]
fn interval_catches_up_missed_ticks() {
    let rt = workers(1);
    rt.block_on(async {
        let period = Duration::from_millis(20);
        let mut iv = interval(period);
        let t0 = iv.tick().await;
        // Busy for more than three periods.
        std::thread::sleep(period * 3 + Duration::from_millis(15));
        for k in 1..=3u32 {
            let tk = iv
                .tick()
                .now_or_never()
                .expect("a missed tick is delivered at once");
            assert_eq!(tk, t0 + period * k);
        }
        let t4 = iv.tick().await;
        assert_eq!(t4, t0 + period * 4);
        assert!(Instant::now() >= t4);
    });
}

#[test]
fn interval_at_and_reset() {
    let rt = workers(1);
    rt.block_on(async {
        let start = Instant::now() + Duration::from_millis(40);
        let mut iv = interval_at(start, Duration::from_millis(10));
        let t0 = iv.tick().await;
        assert_eq!(t0, start);
        assert!(Instant::now() >= start);
        // reset: the next tick is one period from now.
        let before = Instant::now();
        iv.reset();
        let t1 = iv.tick().await;
        assert!(t1 >= before + Duration::from_millis(10));
        assert!(Instant::now() >= t1);
        // A zero period is treated as 1 ms, not a spin.
        let mut z = interval(Duration::ZERO);
        assert_eq!(z.period(), Duration::from_millis(1));
        let a = z.tick().await;
        let b = z.tick().await;
        assert_eq!(b - a, Duration::from_millis(1));
    });
}

// ----- timers and the blocked poller -------------------------------------------------

/// With only a 10 s sleep pending the runtime is idle, one M blocked in
/// `epoll_wait` for ~10 s. Arming a 20 ms timer must break that wait.
fn new_short_timer_fires_promptly_on_idle_runtime(worker_threads: usize, from_task: bool) {
    let rt = workers(worker_threads);
    let _long = rt.spawn(async { sleep(Duration::from_secs(10)).await });
    // Let every worker go idle and one of them block in the poller.
    std::thread::sleep(Duration::from_millis(200));
    let took = within(Duration::from_secs(30), move || {
        let short = async {
            let start = Instant::now();
            sleep(Duration::from_millis(20)).await;
            start.elapsed()
        };
        if from_task {
            rt.block_on(rt.spawn(short)).unwrap()
        } else {
            rt.block_on(short)
        }
    });
    assert_took(took, Duration::from_millis(20));
}

#[test]
fn short_timer_breaks_blocked_poller_one_worker_from_task() {
    new_short_timer_fires_promptly_on_idle_runtime(1, true);
}

#[test]
fn short_timer_breaks_blocked_poller_two_workers_from_task() {
    new_short_timer_fires_promptly_on_idle_runtime(2, true);
}

#[test]
fn short_timer_breaks_blocked_poller_from_block_on() {
    new_short_timer_fires_promptly_on_idle_runtime(2, false);
}

#[test]
fn short_timer_armed_repeatedly_while_long_timer_waits() {
    // The same, many times in a row, with the new timer armed by a task
    // that was itself woken by a timer (so it runs on a worker).
    let rt = workers(2);
    let _long = rt.spawn(async { sleep(Duration::from_secs(60)).await });
    std::thread::sleep(Duration::from_millis(100));
    let worst = within(Duration::from_secs(60), move || {
        rt.block_on(rt.spawn(async {
            let mut worst = Duration::ZERO;
            for _ in 0..20 {
                // Let the runtime go idle between rounds.
                std::thread::sleep(Duration::from_millis(20));
                let start = Instant::now();
                sleep(Duration::from_millis(15)).await;
                let took = start.elapsed();
                assert!(took >= Duration::from_millis(15));
                worst = worst.max(took);
            }
            worst
        }))
        .unwrap()
    });
    assert!(
        worst < Duration::from_millis(15) + SLACK,
        "a short timer waited {worst:?}"
    );
}

// ----- scale ------------------------------------------------------------------------

#[test]
fn hundred_thousand_concurrent_sleeps() {
    const N: u64 = 100_000;
    let rt = workers(2);
    let fired = Arc::new(AtomicUsize::new(0));
    let early = Arc::new(AtomicUsize::new(0));
    let (f, e) = (fired.clone(), early.clone());
    let start = Instant::now();
    within(Duration::from_secs(180), move || {
        rt.block_on(async move {
            let hs: Vec<_> = (0..N)
                .map(|i| {
                    let (f, e) = (f.clone(), e.clone());
                    goro::spawn(async move {
                        let d = Duration::from_millis(1 + (i * 7919) % 100);
                        let at = Instant::now() + d;
                        sleep(d).await;
                        if Instant::now() < at {
                            e.fetch_add(1, Ordering::Relaxed);
                        }
                        f.fetch_add(1, Ordering::Relaxed);
                    })
                })
                .collect();
            for h in hs {
                h.await.unwrap();
            }
        })
    });
    eprintln!("100k sleeps took {:?}", start.elapsed());
    assert_eq!(fired.load(Ordering::Relaxed), N as usize);
    assert_eq!(early.load(Ordering::Relaxed), 0, "sleeps fired early");
}

#[test]
fn sleeps_ready_beyond_the_budget_in_one_poll_all_complete() {
    // 300 armed sleeps that have all fired, then polled together in one task
    // poll: the first ~128 complete, the rest hit the cooperative budget.
    // `Sleep::poll` consumes the timer's READY state before asking the
    // budget, so those return Pending with the readiness gone and are never
    // woken again.
    let rt = workers(1);
    let done = within(Duration::from_secs(30), move || {
        rt.block_on(rt.spawn(async {
            let mut sleeps: Vec<_> = (0..300).map(|_| sleep(Duration::from_millis(10))).collect();
            for s in sleeps.iter_mut() {
                assert!(futures::poll!(s).is_pending());
            }
            // Let them all fire.
            std::thread::sleep(Duration::from_millis(50));
            sleep(Duration::from_millis(20)).await;
            let all = futures::future::join_all(sleeps.iter_mut());
            timeout(Duration::from_secs(2), all).await.is_ok()
        }))
        .unwrap()
    });
    assert!(done, "fired sleeps never completed");
}

#[test]
fn hundred_thousand_sleeps_in_one_task() {
    // The same scale through one task's FuturesUnordered (all timers on one
    // P's heap).
    let rt = workers(2);
    let n = within(Duration::from_secs(120), move || {
        rt.block_on(rt.spawn(async {
            let mut all: FuturesUnordered<_> = (0..100_000u64)
                .map(|i| sleep(Duration::from_millis(1 + i % 100)))
                .collect();
            let mut n = 0usize;
            while all.next().await.is_some() {
                n += 1;
            }
            n
        }))
        .unwrap()
    });
    assert_eq!(n, 100_000);
}
