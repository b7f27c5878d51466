//! `Interval` with each `MissedTickBehavior`, driven by a consumer that
//! deliberately stalls (blocks its thread) for several periods. Timing
//! assertions have a generous upper tolerance; lower bounds are exact
//! (timers never fire early) but for 1 ms of clock rounding. "At once" is
//! checked without a clock where the API allows it: a tick whose instant
//! has passed and that is not armed yet is ready on its first poll.

use futures::FutureExt;
use goro::time::{Interval, MissedTickBehavior, interval};
use std::time::{Duration, Instant};

const PERIOD: Duration = Duration::from_millis(100);
/// The consumer stalls 3.5 periods: the ticks due at 1, 2 and 3 periods
/// after the first are missed.
const STALL: Duration = Duration::from_millis(350);
/// Upper bound for "at once" and for how late a tick may come: generous,
/// since a loaded 2-core machine can deschedule a worker for most of a
/// second.
const PROMPT: Duration = Duration::from_secs(2);
const ROUNDING: Duration = Duration::from_millis(1);

/// Returns the first tick's instant after stalling the consumer.
async fn start_and_stall(ticker: &mut Interval) -> Instant {
    let t0 = ticker.tick().await;
    std::thread::sleep(STALL);
    t0
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let rt = goro::runtime::Runtime::builder()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(f)
}

#[test]
fn default_is_burst() {
    assert_eq!(
        interval(PERIOD).missed_tick_behavior(),
        MissedTickBehavior::Burst
    );
    assert_eq!(MissedTickBehavior::default(), MissedTickBehavior::Burst);
}

#[test]
fn burst_delivers_missed_ticks_back_to_back() {
    block_on(async {
        let mut ticker = interval(PERIOD);
        let t0 = start_and_stall(&mut ticker).await;
        let resumed = Instant::now();
        // Ticks 1..=3 were missed: all delivered at once, with their
        // original instants. The first one's timer was armed before the
        // stall and may still have to be run; the next two are re-armed
        // for instants already passed, so they are ready on the first poll.
        assert_eq!(ticker.tick().await, t0 + PERIOD);
        assert!(
            resumed.elapsed() < PROMPT,
            "the first missed tick took {:?}",
            resumed.elapsed()
        );
        for k in 2..=3u32 {
            let tk = ticker
                .tick()
                .now_or_never()
                .expect("a missed tick is delivered at once");
            assert_eq!(tk, t0 + PERIOD * k);
        }
        // Then back on the original schedule.
        let t4 = ticker.tick().await;
        assert_eq!(t4, t0 + PERIOD * 4);
        assert!(Instant::now() + ROUNDING >= t4);
        assert!(Instant::now() < t4 + PROMPT);
    });
}

#[test]
fn delay_shifts_the_schedule_after_a_late_tick() {
    block_on(async {
        let mut ticker = interval(PERIOD);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let t0 = start_and_stall(&mut ticker).await;
        let resumed = Instant::now();
        // One late tick at once (its scheduled instant is the missed one)...
        assert_eq!(ticker.tick().await, t0 + PERIOD);
        let late_at = Instant::now();
        assert!(late_at - resumed < PROMPT);
        // ...then ticks a full period apart, counted from the late one.
        let t2 = ticker.tick().await;
        let got_t2 = Instant::now();
        // (`t2` is counted from the clock read inside the late tick's poll,
        // which lies between `resumed` and `late_at`.)
        assert!(
            t2 >= resumed + PERIOD && t2 <= late_at + PERIOD,
            "t2 {:?} after resuming, late tick {:?} after resuming",
            t2 - resumed,
            late_at - resumed
        );
        assert!(got_t2 + ROUNDING >= t2, "t2 came {:?} early", t2 - got_t2);
        assert!(got_t2 < t2 + PROMPT, "t2 came {:?} late", got_t2 - t2);
        let t3 = ticker.tick().await;
        if got_t2 < t2 + PERIOD {
            // `t2` was delivered in time: the next tick is a period after it.
            assert_eq!(t3, t2 + PERIOD);
        } else {
            // The machine stalled us about `t3`'s instant: if `t2`'s poll
            // came after it, `t3` is delayed to a period after that poll
            // (which read the clock before `got_t2`).
            assert!(
                t3 >= t2 + PERIOD && t3 <= got_t2 + PERIOD,
                "t3 {:?} after t2, t2 delivered {:?} after its instant",
                t3 - t2,
                got_t2 - t2
            );
        }
    });
}

#[test]
fn skip_drops_missed_ticks_and_keeps_the_grid() {
    block_on(async {
        let mut ticker = interval(PERIOD);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let t0 = start_and_stall(&mut ticker).await;
        let resumed = Instant::now();
        assert_eq!(ticker.tick().await, t0 + PERIOD);
        let late_at = Instant::now();
        assert!(late_at - resumed < PROMPT);
        // The next tick is the first grid instant after the late delivery
        // (t0 + 4 periods, unless the machine stalled us further): the
        // ticks at 2 and 3 periods are dropped.
        let next = ticker.tick().await;
        let got_next = Instant::now();
        let since_start = next - t0;
        assert_eq!(since_start.as_nanos() % PERIOD.as_nanos(), 0, "off grid");
        // (`next` is after the clock read inside the late tick's poll,
        // which lies after `resumed`.)
        assert!(next > resumed, "a missed tick was delivered");
        assert!(next <= late_at + PERIOD, "a grid tick was skipped too many");
        assert!(since_start >= PERIOD * 4);
        assert!(got_next + ROUNDING >= next);
        let after = ticker.tick().await;
        if got_next < next + PERIOD {
            // `next` was delivered in time: the schedule continues on the grid.
            assert_eq!(after, next + PERIOD);
        } else {
            // The machine stalled us about the following grid instant: if
            // `next`'s poll came after it, that one is skipped as well (the
            // poll read the clock before `got_next`); the grid still holds.
            assert!(after >= next + PERIOD && after <= got_next + PERIOD);
            assert_eq!((after - t0).as_nanos() % PERIOD.as_nanos(), 0, "off grid");
        }
    });
}

#[test]
fn a_late_but_not_missed_tick_keeps_the_schedule_for_every_behaviour() {
    block_on(async {
        for b in [
            MissedTickBehavior::Burst,
            MissedTickBehavior::Delay,
            MissedTickBehavior::Skip,
        ] {
            let mut ticker = interval(PERIOD);
            ticker.set_missed_tick_behavior(b);
            let t0 = ticker.tick().await;
            // Late by 40% of a period: the next tick keeps its instant.
            goro::time::sleep(PERIOD * 2 / 5).await;
            assert_eq!(ticker.tick().await, t0 + PERIOD, "{b:?}");
            if Instant::now() < t0 + PERIOD * 2 {
                assert_eq!(ticker.tick().await, t0 + PERIOD * 2, "{b:?}");
            }
        }
    });
}
