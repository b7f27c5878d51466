//! [`Interval`]: a periodic timer.

use super::sleep::{Sleep, sleep_until};
use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// A ticker that first completes at once, then every `period`.
///
/// Ticks that were missed (the task was busy for longer than `period`) are
/// delivered back to back until it catches up, like tokio's default. A zero
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
                let next = super::clock::saturating_add(at, self.period);
                self.sleep.reset(next);
                Poll::Ready(at)
            }
        }
    }

    /// The period.
    ///
    /// ```
    /// let i = goro::time::interval(std::time::Duration::from_millis(250));
    /// assert_eq!(i.period(), std::time::Duration::from_millis(250));
    /// ```
    pub fn period(&self) -> Duration {
        self.period
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
            .reset(super::clock::saturating_add(Instant::now(), self.period));
    }
}

impl futures_core::Stream for Interval {
    type Item = Instant;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.get_mut().poll_tick(cx).map(Some)
    }
}

use std::future::Future;
