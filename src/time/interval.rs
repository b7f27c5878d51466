//! [`Interval`]: a periodic timer, and [`MissedTickBehavior`], what it does
//! when its consumer falls behind.
//!
//! Invariant: the inner [`Sleep`]'s deadline is always the scheduled instant
//! of the next tick to deliver; `poll_tick` returns that instant and moves
//! the deadline on according to the missed-tick behaviour.

use super::clock::saturating_add;
use super::sleep::{Sleep, sleep_until};
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// A ticker that first completes at once, then every `period`.
///
/// Ticks that were missed (the task was busy for longer than `period`) are
/// by default delivered back to back until it catches up
/// ([`MissedTickBehavior::Burst`], tokio's default); see
/// [`Interval::set_missed_tick_behavior`] for the alternatives. A zero
/// period is treated as one millisecond rather than spinning.
///
/// ```
/// # goro::block_on(async {
/// use std::time::Duration;
/// let mut tick = goro::time::interval(Duration::from_millis(2));
/// let first = tick.tick().await;
/// let second = tick.tick().await;
/// assert!(second - first >= Duration::from_millis(2));
/// # });
/// ```
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// Like [`interval`], with the first tick at `start`.
///
/// ```
/// # goro::block_on(async {
/// use std::time::{Duration, Instant};
/// let start = Instant::now() + Duration::from_millis(5);
/// let mut tick = goro::time::interval_at(start, Duration::from_millis(5));
/// assert_eq!(tick.tick().await, start); // the first tick is at `start`
/// # });
/// ```
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    let period = if period.is_zero() {
        Duration::from_millis(1)
    } else {
        period
    };
    Interval {
        period,
        sleep: sleep_until(start),
        missed_tick_behavior: MissedTickBehavior::default(),
    }
}

/// What an [`Interval`] does when ticks were missed — when it is polled at
/// or after the instant of the tick *after* the one due, because its
/// consumer was busy (or the thread was descheduled) for longer than a
/// period.
///
/// Timeline for a 10 ms interval started at 0 whose consumer stalls from
/// 0 to 35 ms (ticks due at 10, 20 and 30 were missed):
///
/// | behaviour | ticks delivered (scheduled instants) | when they are delivered |
/// |---|---|---|
/// | `Burst` (default) | 10, 20, 30, 40, 50, … | 10, 20, 30 at once at 35; then 40, 50, … on time |
/// | `Delay` | 10, 45, 55, … | 10 at 35; then one period after each late delivery |
/// | `Skip` | 10, 40, 50, … | 10 at 35; the missed 20 and 30 are dropped; 40, 50, … keep the original grid |
///
/// A tick that is merely late (delivered before the next one is due) is
/// never "missed": the schedule is unchanged under every behaviour. Go's
/// `time.Ticker` drops ticks for slow receivers, which is closest to
/// `Skip`.
///
/// ```
/// # goro::block_on(async {
/// use goro::time::{MissedTickBehavior, interval};
/// use std::time::Duration;
/// let mut ticker = interval(Duration::from_millis(10));
/// ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
/// assert_eq!(ticker.missed_tick_behavior(), MissedTickBehavior::Skip);
/// # });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MissedTickBehavior {
    /// Deliver every missed tick, back to back, until the interval has
    /// caught up; the ticks keep their original schedule, so over a long
    /// run the number of ticks is exactly elapsed time / period. The
    /// default, as in tokio.
    #[default]
    Burst,
    /// Deliver one tick now and schedule the next one period after now:
    /// the schedule shifts by however long the consumer was late, and
    /// ticks are never closer together than one period.
    Delay,
    /// Deliver one tick now, drop the ones that were missed, and resume on
    /// the original schedule at its next instant after now (Go's
    /// `time.Ticker`).
    Skip,
}

impl MissedTickBehavior {
    /// The instant of the tick after `due`, delivered at `now`.
    fn next_tick(self, due: Instant, now: Instant, period: Duration) -> Instant {
        let on_schedule = saturating_add(due, period);
        if now < on_schedule {
            // Not missed: at most late.
            return on_schedule;
        }
        match self {
            MissedTickBehavior::Burst => on_schedule,
            MissedTickBehavior::Delay => saturating_add(now, period),
            MissedTickBehavior::Skip => {
                // The first instant of `due + k * period` after `now`.
                let behind = (now - due).as_nanos() % period.as_nanos();
                let behind = Duration::from_nanos(behind.min(u64::MAX as u128) as u64);
                saturating_add(now, period - behind)
            }
        }
    }
}

/// See [`interval`]. Also a [`futures_core::Stream`] of tick instants.
///
/// ```
/// # goro::block_on(async {
/// use futures::StreamExt;
/// let ticks: Vec<_> = goro::time::interval(std::time::Duration::from_millis(1))
///     .take(3)
///     .collect()
///     .await;
/// assert_eq!(ticks.len(), 3);
/// # });
/// ```
#[derive(Debug)]
pub struct Interval {
    period: Duration,
    sleep: Sleep,
    missed_tick_behavior: MissedTickBehavior,
}

impl Interval {
    /// Waits for the next tick and returns its scheduled instant.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let mut i = goro::time::interval(std::time::Duration::from_millis(1));
    /// let a = i.tick().await;
    /// let b = i.tick().await;
    /// assert!(b > a);
    /// # });
    /// ```
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let mut i = goro::time::interval(std::time::Duration::from_millis(1));
    /// let first = std::future::poll_fn(|cx| i.poll_tick(cx)).await;
    /// # let _ = first;
    /// # });
    /// ```
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        match Pin::new(&mut self.sleep).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => {
                let at = self.sleep.deadline();
                let next = self
                    .missed_tick_behavior
                    .next_tick(at, Instant::now(), self.period);
                self.sleep.reset(next);
                Poll::Ready(at)
            }
        }
    }

    /// The period (one millisecond if the interval was made with a zero
    /// period; see [`interval`]).
    ///
    /// ```
    /// let i = goro::time::interval(std::time::Duration::from_millis(250));
    /// assert_eq!(i.period(), std::time::Duration::from_millis(250));
    /// ```
    pub fn period(&self) -> Duration {
        self.period
    }

    /// What the interval does when ticks are missed (see
    /// [`MissedTickBehavior`]); [`Burst`](MissedTickBehavior::Burst)
    /// unless changed.
    ///
    /// ```
    /// let i = goro::time::interval(std::time::Duration::from_millis(5));
    /// assert_eq!(i.missed_tick_behavior(), goro::time::MissedTickBehavior::Burst);
    /// ```
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed_tick_behavior
    }

    /// Sets what the interval does when ticks are missed. Takes effect from
    /// the next tick delivered.
    ///
    /// ```
    /// # goro::block_on(async {
    /// use goro::time::{MissedTickBehavior, interval};
    /// use std::time::{Duration, Instant};
    /// let mut ticker = interval(Duration::from_millis(10));
    /// ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    /// ticker.tick().await; // the first tick is immediate
    /// std::thread::sleep(Duration::from_millis(35)); // a stalled consumer
    /// ticker.tick().await; // one late tick, at once
    /// let after = Instant::now();
    /// ticker.tick().await; // then a full period later, not a burst
    /// assert!(after.elapsed() >= Duration::from_millis(9));
    /// # });
    /// ```
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed_tick_behavior = behavior;
    }

    /// Restarts the interval: the next tick is one period from now.
    ///
    /// ```
    /// # goro::block_on(async {
    /// use std::time::{Duration, Instant};
    /// let mut i = goro::time::interval(Duration::from_millis(5));
    /// i.tick().await;
    /// let before = Instant::now();
    /// i.reset();
    /// let t = i.tick().await;
    /// assert!(t >= before + Duration::from_millis(5));
    /// # });
    /// ```
    pub fn reset(&mut self) {
        self.sleep
            .reset(saturating_add(Instant::now(), self.period));
    }
}

impl futures_core::Stream for Interval {
    type Item = Instant;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.get_mut().poll_tick(cx).map(Some)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::MissedTickBehavior::{self, *};
    use std::time::{Duration, Instant};

    const MS: Duration = Duration::from_millis(1);

    fn next(b: MissedTickBehavior, late_ms: u64) -> u64 {
        let due = Instant::now();
        let next = b.next_tick(due, due + MS * late_ms as u32, MS * 10);
        (next - due).as_millis() as u64
    }

    #[test]
    fn late_but_not_missed_keeps_the_schedule() {
        for b in [Burst, Delay, Skip] {
            assert_eq!(next(b, 0), 10, "{b:?}");
            assert_eq!(next(b, 9), 10, "{b:?}");
        }
    }

    #[test]
    fn missed_ticks_follow_the_behaviour() {
        // Due at 0, delivered at 25: ticks at 10 and 20 were missed.
        assert_eq!(next(Burst, 25), 10);
        assert_eq!(next(Delay, 25), 35);
        assert_eq!(next(Skip, 25), 30);
        // Exactly on a later grid point: Skip moves to the one after it.
        assert_eq!(next(Skip, 20), 30);
        assert_eq!(next(Delay, 10), 20);
    }

    #[test]
    fn huge_periods_saturate_instead_of_panicking() {
        let due = Instant::now();
        for b in [Burst, Delay, Skip] {
            let n = b.next_tick(due, due + MS, Duration::MAX);
            assert!(n > due);
        }
    }
}
