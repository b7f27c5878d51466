//! The cooperative budget: Rust futures cannot be preempted, so each task
//! poll may complete at most [`BUDGET`] I/O operations (and timer
//! expirations) before goro's futures start returning `Pending` — after
//! waking the task, so it goes to the back of the queue and everything
//! queued behind it gets a turn. tokio uses the same number.
//!
//! The budget is per thread and reset before every task poll (and every
//! `block_on` poll). Futures call [`poll_proceed`] when they are about to
//! return `Ready` from work that may always be ready (a socket with data,
//! an expired timer) and [`restore`] if they end up not using it.

use std::cell::Cell;
use std::task::{Context, Poll};

/// Operations one task poll may complete.
pub(crate) const BUDGET: u32 = 128;

thread_local! {
    static LEFT: Cell<u32> = const { Cell::new(BUDGET) };
}

/// Refills the budget (before each task poll).
pub(crate) fn reset() {
    let _ = LEFT.try_with(|l| l.set(BUDGET));
}

/// Spends one unit. When the budget is exhausted, wakes the task and
/// returns `Pending` so the caller yields.
#[inline]
pub(crate) fn poll_proceed(cx: &Context<'_>) -> Poll<()> {
    let left = LEFT.try_with(|l| {
        let n = l.get();
        if n > 0 {
            l.set(n - 1);
        }
        n
    });
    match left {
        Ok(0) => exhausted(cx),
        _ => Poll::Ready(()),
    }
}

/// The slow path of [`poll_proceed`]: wake the task so it runs again.
#[cold]
fn exhausted(cx: &Context<'_>) -> Poll<()> {
    cx.waker().wake_by_ref();
    Poll::Pending
}

/// Gives back a unit taken by `poll_proceed` that was not used.
#[inline]
pub(crate) fn restore() {
    let _ = LEFT.try_with(|l| l.set((l.get() + 1).min(BUDGET)));
}

/// Units left (tests).
#[cfg(all(test, not(loom)))]
pub(crate) fn left() -> u32 {
    LEFT.with(|l| l.get())
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Waker;

    use crate::test_wakers::Count;

    #[test]
    fn exhausted_budget_yields_once_and_wakes() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let cx = Context::from_waker(&waker);
        reset();
        for _ in 0..BUDGET {
            assert!(poll_proceed(&cx).is_ready());
        }
        assert_eq!(left(), 0);
        assert!(poll_proceed(&cx).is_pending());
        assert_eq!(
            count.0.load(Ordering::SeqCst),
            1,
            "the task is woken to run again"
        );
        restore();
        assert!(poll_proceed(&cx).is_ready());
        reset();
        assert_eq!(left(), BUDGET);
    }
}
