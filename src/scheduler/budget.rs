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
//!
//! Invariant: only goro's own polls are budgeted. A thread starts
//! *unconstrained* and stays so until goro polls a task on it; `block_on`
//! puts back the budget it found when it returns, and `block_in_place`
//! and the blocking pool run their closures unconstrained. A thread goro never refills — one
//! driving goro's futures with another executor, or a nested executor in
//! a `spawn_blocking` closure — would otherwise run dry after
//! [`BUDGET`] ready operations, and every ready operation from then on
//! would wake its task and return `Pending`, for good (tokio's budget is
//! unconstrained outside its tasks too).

use std::cell::Cell;
use std::task::{Context, Poll};

/// Operations one task poll may complete.
pub(crate) const BUDGET: u32 = 128;

/// The budget of a thread that is not inside a goro poll: no limit.
const UNCONSTRAINED: u32 = u32::MAX;

thread_local! {
    static LEFT: Cell<u32> = const { Cell::new(UNCONSTRAINED) };
}

/// Refills the budget (before each task poll).
pub(crate) fn reset() {
    set(BUDGET);
}

/// Lifts the limit: this thread polls nothing goro schedules (a blocking
/// closure).
pub(crate) fn unconstrain() {
    set(UNCONSTRAINED);
}

/// This thread's budget, to put back later with [`set`].
pub(crate) fn get() -> u32 {
    LEFT.try_with(Cell::get).unwrap_or(UNCONSTRAINED)
}

/// Sets this thread's budget (a value [`get`] returned).
pub(crate) fn set(n: u32) {
    let _ = LEFT.try_with(|l| l.set(n));
}

/// Puts this thread's budget back, when dropped, as it was when made
/// (around `block_on` and `block_in_place`, which change it meanwhile).
#[derive(Debug)]
pub(crate) struct PutBack(u32);

impl PutBack {
    /// Remembers this thread's budget.
    pub(crate) fn new() -> PutBack {
        PutBack(get())
    }
}

impl Drop for PutBack {
    fn drop(&mut self) {
        set(self.0);
    }
}

/// Spends one unit. When the budget is exhausted, wakes the task and
/// returns `Pending` so the caller yields.
#[inline]
pub(crate) fn poll_proceed(cx: &Context<'_>) -> Poll<()> {
    let left = LEFT.try_with(|l| {
        let n = l.get();
        if n > 0 && n != UNCONSTRAINED {
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
    let _ = LEFT.try_with(|l| {
        if l.get() != UNCONSTRAINED {
            l.set((l.get() + 1).min(BUDGET));
        }
    });
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

    #[test]
    fn a_thread_goro_never_refills_is_not_limited() {
        std::thread::spawn(|| {
            let count = Arc::new(Count(AtomicUsize::new(0)));
            let waker = Waker::from(count.clone());
            let cx = Context::from_waker(&waker);
            for _ in 0..10 * BUDGET {
                assert!(poll_proceed(&cx).is_ready());
                restore();
            }
            assert_eq!(count.0.load(Ordering::SeqCst), 0, "never yielded");
            reset();
            assert_eq!(left(), BUDGET, "a goro poll is budgeted");
            unconstrain();
            assert!(poll_proceed(&cx).is_ready());
            assert_eq!(left(), get(), "unconstrained again");
        })
        .join()
        .unwrap();
    }
}
