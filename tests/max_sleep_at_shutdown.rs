//! Never-ending sleeps at shutdown, after the timer changes that let a `Duration::MAX` sleep on its
//! task's header timer arm no heap entry, and that close each timer heap
//! at shutdown (a late arming is refused): every way a never-ending sleep
//! can be waited on must still end when its runtime shuts down, and the
//! header timer's claim must come back for the task's next sleep.
//!
//! - a `Handle::block_on` on a plain thread, and one inside
//!   `block_in_place` in a task, waiting on `sleep(Duration::MAX)`, on
//!   `timeout(Duration::MAX, pending)` and on an `Interval` whose next tick
//!   is never, are woken by the shutdown;
//! - a `sleep(Duration::MAX)` first polled (so claimed) in a task and then
//!   awaited on a plain thread (it migrates to a timer of its own) is woken
//!   by the shutdown, or completes at once if polled after it;
//! - a task pending on `sleep(Duration::MAX)` is cancelled (its future
//!   dropped) by the shutdown;
//! - resetting a claimed sleep from `MAX` to a deadline and back leaves the
//!   claim free afterwards, and the deadline is kept.

mod support;

use goro::runtime::{Handle, Runtime};
use goro::time::{Sleep, sleep, timeout};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::task::Poll;
use std::time::{Duration, Instant};
use support::hang::watchdog;
use support::sleeps::{assert_not_early, poll_once};

/// How long a woken waiter may take to report back on a loaded machine.
const BOUND: Duration = Duration::from_secs(20);

fn rt() -> Runtime {
    Runtime::builder().worker_threads(2).build().unwrap()
}

/// Runs `wait` (a `block_on` of a never-ending timer) on a plain thread,
/// gives it time to park, drops the runtime, and requires `wait` to return.
fn woken_by_shutdown(what: &str, wait: impl FnOnce(Handle) + Send + 'static) {
    let _dog = watchdog(BOUND * 3);
    let rt = rt();
    let handle = rt.handle();
    let (done_tx, done_rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        wait(handle);
        done_tx.send(()).unwrap();
    });
    std::thread::sleep(Duration::from_millis(50));
    drop(rt);
    done_rx
        .recv_timeout(BOUND)
        .unwrap_or_else(|_| panic!("{what}: not woken by the shutdown"));
    t.join().unwrap();
}

#[test]
fn a_max_sleep_in_block_on_on_a_plain_thread_ends_at_shutdown() {
    woken_by_shutdown("block_on(sleep(MAX))", |h| {
        h.block_on(sleep(Duration::MAX));
    });
}

#[test]
fn a_max_timeout_in_block_on_ends_at_shutdown() {
    woken_by_shutdown("block_on(timeout(MAX, pending))", |h| {
        let r = h.block_on(timeout(Duration::MAX, std::future::pending::<()>()));
        assert!(r.is_err(), "the pending future cannot have won");
    });
}

#[test]
fn an_interval_whose_next_tick_is_never_ends_at_shutdown() {
    woken_by_shutdown("block_on(interval(MAX).tick())", |h| {
        h.block_on(async {
            let mut i = goro::time::interval(Duration::MAX);
            i.tick().await; // the first tick is at once
            i.tick().await; // never, but for the shutdown
        });
    });
}

#[test]
fn a_max_sleep_in_block_in_place_block_on_inside_a_task_ends_at_shutdown() {
    let _dog = watchdog(BOUND * 3);
    let rt = rt();
    let (done_tx, done_rx) = mpsc::channel();
    let (parked_tx, parked_rx) = mpsc::channel();
    drop(rt.spawn(async move {
        // The task's own poll frame stays installed around the nested
        // block_on, whose waker is not the task's: an own timer.
        let mut claimed = sleep(Duration::MAX);
        let _ = poll_once(&mut claimed).await; // holds the header timer
        goro::task::block_in_place(|| {
            parked_tx.send(()).unwrap();
            Handle::current().block_on(sleep(Duration::MAX));
        });
        done_tx.send(()).unwrap();
        drop(claimed);
    }));
    parked_rx.recv_timeout(BOUND).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    drop(rt);
    done_rx
        .recv_timeout(BOUND)
        .expect("the nested block_on's sleep(MAX) was not woken by the shutdown");
}

/// A `Sleep` first polled inside a task (so on its header timer, with no
/// heap entry) and then handed to a plain thread.
fn claimed_max_sleep(rt: &Runtime) -> Pin<Box<Sleep>> {
    let (tx, rx) = mpsc::channel();
    drop(rt.spawn(async move {
        let mut s = Box::pin(sleep(Duration::MAX));
        let ready = std::future::poll_fn(|cx| Poll::Ready(s.as_mut().poll(cx).is_ready())).await;
        assert!(!ready);
        tx.send(s).unwrap();
    }));
    rx.recv_timeout(BOUND).unwrap()
}

#[test]
fn a_claimed_max_sleep_awaited_on_a_plain_thread_ends_at_shutdown() {
    let _dog = watchdog(BOUND * 3);
    let rt = rt();
    let s = claimed_max_sleep(&rt);
    let handle = rt.handle();
    let (done_tx, done_rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        handle.block_on(s);
        done_tx.send(()).unwrap();
    });
    std::thread::sleep(Duration::from_millis(50));
    drop(rt);
    done_rx
        .recv_timeout(BOUND)
        .expect("the migrated sleep(MAX) was not woken by the shutdown");
    t.join().unwrap();
}

#[test]
fn a_claimed_max_sleep_first_polled_elsewhere_after_shutdown_is_complete() {
    let _dog = watchdog(BOUND * 3);
    let rt = rt();
    let mut s = claimed_max_sleep(&rt);
    drop(rt);
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    assert!(
        s.as_mut().poll(&mut cx).is_ready(),
        "a sleep of a shut-down runtime is complete"
    );
}

#[test]
fn a_task_pending_on_a_max_sleep_is_cancelled_by_the_shutdown() {
    let _dog = watchdog(BOUND * 3);
    struct Dropped(Arc<AtomicBool>);
    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let rt = rt();
    let dropped = Arc::new(AtomicBool::new(false));
    let (parked_tx, parked_rx) = mpsc::channel();
    let guard = Dropped(dropped.clone());
    let join = rt.spawn(async move {
        let _guard = guard;
        let mut s = sleep(Duration::MAX);
        assert!(!poll_once(&mut s).await);
        parked_tx.send(()).unwrap();
        s.await;
    });
    parked_rx.recv_timeout(BOUND).unwrap();
    drop(rt);
    assert!(dropped.load(Ordering::SeqCst), "the task was not cancelled");
    let other = Runtime::builder().worker_threads(1).build().unwrap();
    let r = support::hang::within(BOUND, move || other.block_on(join));
    assert!(r.is_err(), "the task cannot have finished its sleep(MAX)");
}

/// Sum of every P's heap length (stale entries included).
fn heap_entries(h: &Handle) -> usize {
    h.metrics().workers.iter().map(|w| w.timers_pending).sum()
}

#[test]
fn resetting_a_claimed_sleep_between_max_and_a_deadline_keeps_the_claim_and_the_deadline() {
    let _dog = watchdog(BOUND * 3);
    let rt = Runtime::builder().worker_threads(1).build().unwrap();
    let h = rt.handle();
    let out = rt.block_on(rt.spawn(async move {
        let mut s = sleep(Duration::MAX);
        for round in 0..20u64 {
            assert!(!poll_once(&mut s).await); // claimed, no entry
            let at = Instant::now() + Duration::from_millis(2 + round % 3);
            s.reset(at);
            assert!(!poll_once(&mut s).await || Instant::now() >= at);
            s.reset(Instant::now() + Duration::from_secs(1 << 40)); // never
            assert!(!poll_once(&mut s).await);
            let at = Instant::now() + Duration::from_millis(3);
            s.reset(at);
            (&mut s).await;
            assert_not_early(at, "a sleep reset from MAX");
            s.reset(Instant::now() + Duration::from_secs(1 << 40));
        }
        drop(s);
        // Let every stale entry of the dance reach the top of the heap and
        // leave it, so that only the next two polls change its length.
        sleep(Duration::from_millis(30)).await;
        // The claim is free again: a new sleep(MAX) in this task takes it
        // and so pushes no entry (an own timer would push one).
        let before = heap_entries(&h);
        let mut fresh = sleep(Duration::MAX);
        assert!(!poll_once(&mut fresh).await);
        let after = heap_entries(&h);
        // And a second one at once cannot take it: it pushes one.
        let mut second = sleep(Duration::MAX);
        assert!(!poll_once(&mut second).await);
        let second_after = heap_entries(&h);
        (before, after, second_after)
    }));
    let (before, after, second_after) = out.unwrap();
    assert_eq!(
        after, before,
        "a new sleep(MAX) pushed an entry: the header timer's claim was leaked \
         (or a claimed NEVER sleep armed an entry)"
    );
    assert_eq!(
        second_after,
        after + 1,
        "an own timer's NEVER entry is kept"
    );
}

/// A deadline set after the shutdown closed the heaps arms no timer (the
/// heap refuses it): the descriptor itself must fail every operation, so
/// nothing waits for a deadline nobody will fire.
#[test]
fn a_deadline_set_after_the_shutdown_fails_the_read_instead_of_timing_it() {
    use futures::io::AsyncReadExt;
    let _dog = watchdog(BOUND * 3);
    let rt = rt();
    let (a, b) = rt
        .block_on(async { goro::net::UnixStream::pair() })
        .unwrap();
    drop(rt);
    let r = support::hang::within(BOUND, move || {
        let _ = a.set_read_deadline(Some(Instant::now() + Duration::from_secs(3600)));
        let mut buf = [0u8; 8];
        let r = goro::block_on(AsyncReadExt::read(&mut &a, &mut buf));
        drop(b);
        r
    });
    assert!(r.is_err(), "a socket of a shut-down runtime reads nothing");
}

/// Yields once: pending at the first poll, ready at the second.
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}

/// Cancelled `NEVER` entries of own timers never reach the top of their
/// heap: they must be counted stale and compacted away, so the heaps stay
/// small however many such sleeps are cancelled (on a plain thread's
/// `block_on`, and in a task whose header timer is taken).
#[test]
fn cancelled_forever_sleeps_on_own_timers_are_compacted() {
    const ROUNDS: usize = 5_000;
    let _dog = watchdog(BOUND * 6);
    let rt = rt();
    let h = rt.handle();
    for _ in 0..ROUNDS {
        let r = h.block_on(timeout(Duration::MAX, yield_once()));
        assert!(r.is_ok());
    }
    let plain = heap_entries(&h);
    let h2 = h.clone();
    let in_task = rt
        .block_on(rt.spawn(async move {
            let mut holder = sleep(Duration::from_secs(3600));
            assert!(!poll_once(&mut holder).await); // takes the header timer
            for _ in 0..ROUNDS {
                let r = timeout(Duration::MAX, yield_once()).await;
                assert!(r.is_ok());
            }
            heap_entries(&h2)
        }))
        .unwrap();
    assert!(
        plain < 300,
        "{plain} entries left after {ROUNDS} cancelled sleeps"
    );
    assert!(
        in_task < 300,
        "{in_task} entries left after {ROUNDS} cancelled sleeps"
    );
}

/// Tasks and plain threads arm sleeps (finite and never-ending, on header
/// and own timers) in tight loops while the runtime is shut down: every
/// waiter ends, and the runtime is freed afterwards (an entry pushed into
/// a heap after the shutdown swept it would keep its task, and so the
/// runtime, alive). The runtime's `thread_name_fn` closure is dropped with
/// it, which is what this watches.
#[test]
fn armings_racing_a_shutdown_leave_nothing_that_keeps_the_runtime() {
    let _dog = watchdog(BOUND * 6);
    for round in 0..6u32 {
        let alive = Arc::new(());
        let witness = Arc::downgrade(&alive);
        let rt = Runtime::builder()
            .worker_threads(2)
            .thread_name_fn(move || {
                let _ = &alive;
                "review-timer".to_owned()
            })
            .build()
            .unwrap();
        assert_eq!(
            witness.strong_count(),
            1,
            "the runtime keeps its thread_name_fn"
        );
        for i in 0..32u64 {
            drop(rt.spawn(async move {
                loop {
                    let _ = timeout(Duration::MAX, yield_once()).await;
                    let _ = timeout(Duration::from_micros(50 + i), yield_once()).await;
                    sleep(Duration::from_micros(20 * (i % 4))).await;
                }
            }));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..3)
            .map(|k| {
                let (h, stop) = (rt.handle(), stop.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let _ = h.block_on(timeout(Duration::MAX, yield_once()));
                        let _ = h.block_on(timeout(Duration::from_micros(30 + k), yield_once()));
                        h.block_on(sleep(Duration::from_micros(10)));
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(20 + 15 * u64::from(round)));
        if round % 2 == 0 {
            rt.shutdown_background();
        } else {
            drop(rt);
        }
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            t.join().unwrap();
        }
        let deadline = Instant::now() + BOUND;
        while witness.strong_count() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(
            witness.strong_count(),
            0,
            "round {round}: the runtime was never freed"
        );
    }
}
