//! [`Awaiter`]: the waker a `JoinHandle` registers in its task, made safe
//! against wakers that panic.
//!
//! async-task wakes a task's awaiter on the thread that completes or
//! cancels the task — a worker, or the thread dropping the runtime — and
//! aborts the process if that wake panics. A `JoinHandle` polled by another
//! executor hands async-task that executor's waker, so a waker that panics
//! (a bug, but one goro contains everywhere else: poller/wake.rs) would
//! take the process down when the task finishes or the runtime shuts down.
//! So a waker goro did not make is registered wrapped in [`Contained`],
//! which wakes and drops it inside `catch_unwind`. goro's own wakers — the
//! polling task's, `block_on`'s, a `JoinSet`'s — are registered as they
//! are: they never panic, and wrapping them would cost an allocation.
//!
//! Invariant: [`Awaiter::waker`] is the waker registered in the task, and
//! stays the same (`will_wake`) while the handle is polled with wakers
//! that `will_wake` the one it was made for, so async-task keeps a single
//! registration (the handle's cancellation logic relies on that).

use std::sync::Arc;
use std::task::{Wake, Waker};

/// The awaiter of a `JoinHandle`: the waker it was polled with, and the
/// one registered for it in the task (see the module docs).
pub(super) struct Awaiter {
    polled_with: Waker,
    /// `Some` when `polled_with` is wrapped in [`Contained`].
    registered: Option<Waker>,
}

impl Awaiter {
    /// The awaiter for a poll with `waker`; `goros_own` if goro made that
    /// waker (it is registered as it is).
    pub(super) fn new(waker: &Waker, goros_own: bool) -> Awaiter {
        let registered = (!goros_own && !is_goros_own(waker))
            .then(|| Waker::from(Arc::new(Contained(Some(waker.clone())))));
        Awaiter {
            polled_with: waker.clone(),
            registered,
        }
    }

    /// True if this awaiter serves a poll with `waker`.
    pub(super) fn is_for(&self, waker: &Waker) -> bool {
        self.polled_with.will_wake(waker)
    }

    /// The waker to register in the task (and to wake).
    pub(super) fn waker(&self) -> &Waker {
        self.registered.as_ref().unwrap_or(&self.polled_with)
    }

    /// The wrapper registered in place of a foreign waker, if this one is
    /// wrapped (a poll with goro's own waker registers that waker itself).
    pub(super) fn wrapped(&self) -> Option<&Waker> {
        self.registered.as_ref()
    }
}

/// True for wakers goro makes that never panic: the waker of the goro task
/// polled on this thread, and `block_on`'s.
fn is_goros_own(waker: &Waker) -> bool {
    let task = crate::taskinfo::record::current_task().is_some_and(|(_, task_waker)| {
        // SAFETY: `current_task` returns the waker of the task whose poll
        // is running on this thread, valid until that poll returns, which
        // encloses this call.
        waker.will_wake(unsafe { &*task_waker })
    });
    task || crate::runtime::is_block_on_waker(waker)
}

/// Another executor's waker, woken and dropped with panics contained.
struct Contained(Option<Waker>);

impl Wake for Contained {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(w) = &self.0 {
            crate::poller::wake::wake(w.clone());
        }
    }
}

impl Drop for Contained {
    fn drop(&mut self) {
        if let Some(w) = self.0.take() {
            crate::poller::wake::discard(w);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    struct Panicking;

    impl Wake for Panicking {
        fn wake(self: Arc<Self>) {
            panic!("a foreign waker panics (expected by this test)");
        }
    }

    #[test]
    fn a_foreign_waker_is_contained_and_keeps_one_registration() {
        let foreign = Waker::from(Arc::new(Panicking));
        let a = Awaiter::new(&foreign, false);
        assert!(a.is_for(&foreign.clone()));
        assert!(!a.waker().will_wake(&foreign), "wrapped");
        assert!(a.waker().will_wake(&a.waker().clone()));
        a.waker().wake_by_ref(); // contained: no panic escapes
        let own = Awaiter::new(&foreign, true);
        assert!(own.waker().will_wake(&foreign), "goro's own: as it is");
    }
}
