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
//! Invariant: only goro's own polls are budgeted. Everywhere else — a
//! thread goro did not start, polling goro's futures with another
//! executor; a `spawn_blocking` closure; a `block_in_place` closure — the
//! budget is [`UNCONSTRAINED`]: nobody there refills it, so a limit would
//! make every goro future return `Pending` for ever once 128 operations
//! had completed on that thread (the executor re-polls at once, and the
//! thread spins). `block_on` and `block_in_place` put back the budget they
//! found when they return ([`Scope`]), as tokio's `coop` does.

use std::cell::Cell;
use std::task::{Context, Poll};

/// Operations one task poll may complete.
pub(crate) const BUDGET: u32 = 128;

/// The budget outside goro's own polls: no limit (see the module docs).
const UNCONSTRAINED: u32 = u32::MAX;

thread_local! {
    static LEFT: Cell<u32> = const { Cell::new(UNCONSTRAINED) };
}

/// Refills the budget (before each task poll and each `block_on` poll).
pub(crate) fn reset() {
    let _ = LEFT.try_with(|l| l.set(BUDGET));
}

/// Lifts the limit until the returned scope ends, then puts back the
/// budget this thread had (`block_in_place` and pool closures, which run
/// code that may drive goro futures with an executor of its own).
pub(crate) fn unconstrained() -> Scope {
    let scope = Scope::save();
    let _ = LEFT.try_with(|l| l.set(UNCONSTRAINED));
    scope
}

/// Puts back, when dropped, the budget the thread had when it was made
/// (`block_on` refills the budget for its own polls; what polls it — a
/// task, or nothing — gets its budget back afterwards).
#[must_use]
pub(crate) struct Scope(u32);

impl Scope {
    /// Remembers this thread's budget.
    pub(crate) fn save() -> Scope {
        Scope(LEFT.try_with(Cell::get).unwrap_or(UNCONSTRAINED))
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        let _ = LEFT.try_with(|l| l.set(self.0));
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
    fn outside_goro_polls_there_is_no_limit() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        std::thread::spawn(move || {
            let cx = Context::from_waker(&waker);
            // A thread goro did not start: never refilled, never limited.
            for _ in 0..BUDGET * 4 {
                assert!(poll_proceed(&cx).is_ready());
            }
            restore();
            assert_eq!(left(), UNCONSTRAINED);
            // A budgeted poll, exhausted; code inside it that lifts the
            // limit gets it back on return.
            reset();
            while poll_proceed(&cx).is_ready() {}
            {
                let _free = unconstrained();
                assert!(poll_proceed(&cx).is_ready());
            }
            assert_eq!(left(), 0);
            {
                let _scope = Scope::save();
                reset();
            }
            assert_eq!(left(), 0, "a scope puts back what it found");
        })
        .join()
        .unwrap();
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
    }
}
