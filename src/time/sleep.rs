//! [`Sleep`]: a future that completes at an instant.

use super::clock;
use crate::scheduler::sleep_timer::ArmedSleep;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Waits until `duration` has elapsed.
///
/// Absurd durations are fine: `Duration::MAX` sleeps forever.
///
/// ```
/// # goro::block_on(async {
/// let start = std::time::Instant::now();
/// goro::time::sleep(std::time::Duration::from_millis(10)).await;
/// assert!(start.elapsed() >= std::time::Duration::from_millis(10));
/// # });
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    Sleep::new(clock::instant_after(duration))
}

/// Waits until `deadline`. A deadline in the past completes at once.
///
/// ```
/// # goro::block_on(async {
/// let at = std::time::Instant::now() + std::time::Duration::from_millis(5);
/// goro::time::sleep_until(at).await;
/// assert!(std::time::Instant::now() >= at);
/// # });
/// ```
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep::new(deadline)
}

/// Future returned by [`sleep`] and [`sleep_until`].
///
/// ```
/// # goro::block_on(async {
/// let s: goro::time::Sleep = goro::time::sleep(std::time::Duration::from_millis(1));
/// s.await;
/// # });
/// ```
///
/// The timer is armed on the first poll (on the polling worker's P), so a
/// `Sleep` that is never polled costs nothing; dropping or resetting an
/// armed `Sleep` cancels its timer in O(1). Polled inside a goro task, a
/// `Sleep` borrows the task's own timer, as a goroutine's sleep uses its
/// `g`'s timer in Go: a task sleeping in the usual way allocates nothing
/// for it (a second sleep pending at once in the same task, one polled
/// outside any task, or one polled through a combinator that wraps the
/// task's waker, such as `FuturesUnordered`, allocates a small timer of its
/// own).
///
/// # Runtime shutdown
///
/// Once the runtime its timer belongs to (the current one at the first
/// poll) is shut down, a `Sleep` is complete: a pending one is woken and
/// returns `Ready`, and a new one returns `Ready` at its first poll. The
/// same goes for [`Timeout`](super::Timeout) (which then reports
/// [`Elapsed`](super::Elapsed)) and [`Interval`](super::Interval) ticks.
/// Nothing waits forever for timers nobody will fire. (One exception, which
/// nobody can wait on: a never-ending sleep, such as `sleep(Duration::MAX)`,
/// pending in one of that runtime's own tasks is not woken; the shutdown
/// cancels that task, as it cancels every task, and a poll after the
/// shutdown returns `Ready`.)
///
/// A `Sleep` that is not armed belongs to no runtime yet: after
/// [`reset`](Self::reset) (which an [`Interval`](super::Interval) does
/// after every tick) the next poll arms it on the runtime current *then*.
/// So an `Interval` whose runtime was dropped between two ticks completes
/// its next tick at once on that runtime's
/// [`Handle::block_on`](crate::runtime::Handle::block_on), but moved into
/// a live runtime it keeps its period there (on a plain thread, with
/// another executor: on the default runtime) instead of ticking in a loop.
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    armed: Option<ArmedSleep>,
    fired: bool,
}

impl Sleep {
    fn new(deadline: Instant) -> Sleep {
        Sleep {
            deadline,
            armed: None,
            fired: false,
        }
    }

    /// The deadline in clock nanoseconds (the timer heap's key). Computed
    /// when needed rather than at creation, so a `Timeout` around a future
    /// that is ready at once reads the clock only once.
    fn when(&self) -> u64 {
        clock::to_nanos(self.deadline)
    }

    /// The instant this sleep completes at.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let at = Instant::now() + Duration::from_secs(1);
    /// assert_eq!(goro::time::sleep_until(at).deadline(), at);
    /// ```
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// True once the deadline has passed.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let s = goro::time::sleep(std::time::Duration::ZERO);
    /// assert!(s.is_elapsed());
    /// # });
    /// ```
    pub fn is_elapsed(&self) -> bool {
        self.fired || self.when() <= clock::now()
    }

    /// Moves the deadline; the sleep can be awaited again even if it had
    /// completed.
    ///
    /// ```
    /// # goro::block_on(async {
    /// use std::time::{Duration, Instant};
    /// let mut s = goro::time::sleep(Duration::from_secs(3600));
    /// s.reset(Instant::now() + Duration::from_millis(5));
    /// (&mut s).await;
    /// # });
    /// ```
    pub fn reset(&mut self, deadline: Instant) {
        self.disarm();
        self.deadline = deadline;
        self.fired = false;
    }

    fn disarm(&mut self) {
        if let Some(a) = self.armed.take() {
            a.disarm();
        }
    }

    /// Arms the timer on the current runtime and parks `waker`; true if the
    /// sleep is already complete (fired, or the runtime is shut down).
    fn arm(&mut self, waker: &std::task::Waker) -> bool {
        let deadline = self.deadline;
        match ArmedSleep::arm(self.when(), waker) {
            Some(a) => self.armed.insert(a).poll(waker, deadline),
            None => true,
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.fired {
            return Poll::Ready(());
        }
        let deadline = self.deadline;
        let done = if let Some(a) = &mut self.armed {
            a.poll(cx.waker(), deadline)
        } else if self.when() <= clock::now() {
            true
        } else {
            self.arm(cx.waker())
        };
        if !done {
            crate::taskinfo::record::waiting_on(crate::taskinfo::record::Wait::Timer(self.when()));
            return Poll::Pending;
        }
        // Record the firing before asking the budget: the timer is released
        // (the task's next sleep may reuse it), so a `Pending` here must
        // not forget it.
        if let Some(a) = self.armed.take() {
            a.complete();
        }
        self.fired = true;
        if crate::scheduler::budget::poll_proceed(cx).is_pending() {
            return Poll::Pending;
        }
        Poll::Ready(())
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if !self.fired {
            self.disarm();
        }
    }
}
