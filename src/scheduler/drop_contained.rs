//! [`DropContained`]: a task's future whose destructor may panic without
//! taking the process down.
//!
//! async-task aborts the process when a future panics while it drops it
//! (`abort_on_panic` around the drop), and it drops a task's future off
//! the task's poll: when the task is cancelled — `JoinHandle::abort`, a
//! `spawn_blocking` closure cancelled before it started, and every task at
//! runtime shutdown. A destructor that panics is a bug, but an easy one (a
//! `send(..).unwrap()` to a receiver that is gone, an `assert!` in a guard),
//! and tokio contains it; so goro drops each task's future inside
//! `catch_unwind`, reports the first such panic on stderr (the panic hook
//! has already printed its message) and carries on. The task counts as
//! cancelled, as it would have without the panic.
//!
//! Invariant: the inner future is pinned whenever the wrapper is (the
//! wrapper never moves it) and is dropped exactly once, in place, by the
//! wrapper's `drop`.

use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

/// A future whose drop cannot unwind (see the module docs).
pub(crate) struct DropContained<F> {
    inner: ManuallyDrop<F>,
}

impl<F> DropContained<F> {
    pub(crate) fn new(inner: F) -> DropContained<F> {
        DropContained {
            inner: ManuallyDrop::new(inner),
        }
    }
}

impl<F: Future> Future for DropContained<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: structural pinning: `inner` is never moved out of a
        // pinned wrapper (only dropped in place, in `drop`).
        unsafe { self.map_unchecked_mut(|w| &mut *w.inner) }.poll(cx)
    }
}

impl<F> Drop for DropContained<F> {
    fn drop(&mut self) {
        // SAFETY: `inner` is dropped here, in place, once; nothing uses it
        // afterwards.
        let dropped = catch_unwind(AssertUnwindSafe(|| unsafe {
            ManuallyDrop::drop(&mut self.inner)
        }));
        if dropped.is_err() {
            report();
        }
    }
}

/// Notes a contained panic on stderr, once per process.
fn report() {
    static REPORTED: AtomicBool = AtomicBool::new(false);
    if !REPORTED.swap(true, Ordering::Relaxed) {
        eprintln!(
            "goro: a task's future panicked while being dropped (the task was \
             cancelled, or its runtime shut down); goro contained the panic and \
             carries on (reported once)"
        );
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn a_panicking_destructor_is_contained_and_runs_once() {
        struct Bomb(Arc<AtomicUsize>);
        impl Drop for Bomb {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
                panic!("destructor panics (expected by this test)");
            }
        }
        let drops = Arc::new(AtomicUsize::new(0));
        let bomb = Bomb(drops.clone());
        let fut = DropContained::new(async move {
            let _bomb = bomb;
            std::future::pending::<()>().await
        });
        let mut fut = Box::pin(fut);
        let waker = std::task::Waker::noop();
        assert!(
            fut.as_mut()
                .poll(&mut Context::from_waker(waker))
                .is_pending()
        );
        drop(fut);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }
}
