//! Review of the shutdown contract (DESIGN.md §3, "Runtime shutdown") for
//! timers that cross runtimes: a `Sleep` belongs to the runtime current at
//! its first poll (after each `reset`, at the next poll). Checked here:
//!
//! - a `Sleep` armed on runtime A — on A's task's own timer or on a timer
//!   of its own — then moved into a task of runtime B completes when A is
//!   dropped, also when the drop races B's first poll of it; B is not
//!   disturbed (its own sleeps still wait);
//! - a `Sleep` reset after its runtime was dropped (to the past, or the far
//!   future) and polled on the dead runtime's handle completes at once;
//! - an `Interval` whose runtime is dropped between ticks ticks at once on
//!   the dead runtime's handle, and moved into a live runtime it keeps its
//!   period there (it does not spin).
//!
//! Every wait has a timeout, so a hang fails the test.

mod support;

use futures::FutureExt;
use goro::time::{Sleep, interval, sleep};
use std::pin::Pin;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::rt::workers;

const PROMPT: Duration = Duration::from_secs(5);
const HOUR: Duration = Duration::from_secs(3600);

/// A one-hour sleep armed on `rt`: polled once inside it, by `rt`'s
/// `block_on` (a timer of its own) or inside one of its tasks (the task's
/// own timer), and handed back pending.
// The block hands the armed `Sleep` back un-awaited on purpose.
#[allow(clippy::async_yields_async)]
fn armed_on(rt: &goro::runtime::Runtime, in_task: bool) -> Pin<Box<Sleep>> {
    let arm = async {
        let mut s = Box::pin(sleep(HOUR));
        assert!((&mut s).now_or_never().is_none(), "an hour has not passed");
        s
    };
    if in_task {
        rt.block_on(rt.spawn(arm)).unwrap()
    } else {
        rt.block_on(arm)
    }
}

#[test]
fn a_sleep_moved_to_another_runtime_completes_when_its_own_is_dropped() {
    let b = workers(1);
    for round in 0..40 {
        let a = workers(1);
        let s = armed_on(&a, round % 2 == 0);
        let (tx, rx) = mpsc::channel();
        let started = Instant::now();
        b.spawn(async move {
            s.await;
            let _ = tx.send(started.elapsed());
        });
        // Race the drop with B's first poll of the sleep: from no head
        // start to a few hundred microseconds.
        std::thread::sleep(Duration::from_micros(50 * (round % 8)));
        drop(a);
        rx.recv_timeout(PROMPT).unwrap_or_else(|_| {
            panic!("round {round}: the sleep of the dropped runtime hung in B")
        });
    }
    // B itself is untouched: its own sleeps still wait.
    let t = Instant::now();
    b.block_on(b.spawn(sleep(Duration::from_millis(30))))
        .unwrap();
    assert!(t.elapsed() >= Duration::from_millis(30));
}

#[test]
fn a_sleep_reset_after_its_runtime_was_dropped_completes_at_once_on_its_handle() {
    let rt = workers(1);
    let handle = rt.handle();
    let mut s = armed_on(&rt, true);
    drop(rt);
    let far = Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600);
    let past = Instant::now() - Duration::from_millis(1);
    let rx = {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for at in [far, past, far] {
                s.as_mut().reset(at);
                handle.block_on(s.as_mut());
                assert!(s.is_elapsed(), "complete after the runtime is gone");
            }
            // A new one of Duration::MAX, too.
            handle.block_on(sleep(Duration::MAX));
            let _ = tx.send(());
        });
        rx
    };
    rx.recv_timeout(PROMPT)
        .expect("a reset sleep of a dropped runtime waited on its handle");
}

#[test]
fn an_interval_whose_runtime_is_dropped_between_ticks_neither_hangs_nor_spins() {
    const PERIOD: Duration = Duration::from_millis(40);
    let a = workers(1);
    let handle = a.handle();
    let mut ticker = a.block_on(async {
        let mut t = interval(PERIOD);
        t.tick().await; // at once
        t.tick().await; // one period later
        t
    });
    drop(a);
    // On the dead runtime's handle the ticks come at once, on schedule.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let t = Instant::now();
        let ticks: Vec<Instant> = (0..3).map(|_| handle.block_on(ticker.tick())).collect();
        let _ = tx.send((t.elapsed(), ticks, ticker));
    });
    let (took, ticks, mut ticker) = rx
        .recv_timeout(PROMPT)
        .expect("an interval of a dropped runtime waited on its handle");
    assert!(took < Duration::from_secs(2), "3 ticks took {took:?}");
    assert!(ticks.windows(2).all(|w| w[1] - w[0] == PERIOD), "{ticks:?}");
    // Moved into a live runtime, it ticks there at its period.
    let b = workers(1);
    let (took, last) = b
        .block_on(b.spawn(async move {
            let t = Instant::now();
            let mut last = t;
            for _ in 0..4 {
                last = ticker.tick().await;
            }
            (t.elapsed(), last)
        }))
        .unwrap();
    assert!(
        took >= PERIOD * 2,
        "4 ticks in a live runtime took {took:?}: the interval spun instead of keeping its period"
    );
    assert!(took < Duration::from_secs(5), "4 ticks took {took:?}");
    assert!(last > ticks[2]);
}
