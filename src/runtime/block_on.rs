//! Driving a future to completion on the calling thread.

use crate::scheduler::{Shared, context};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// Wakes the thread blocked in `block_on`.
struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

thread_local! {
    /// This thread's `block_on` waker (unparks the thread).
    static WAKER: Waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
}

/// True if `waker` is `block_on`'s waker of this thread (which never
/// panics: `task/awaiter.rs` registers it unwrapped).
pub(crate) fn is_block_on_waker(waker: &Waker) -> bool {
    WAKER.try_with(|w| w.will_wake(waker)).unwrap_or(false)
}

/// Runs `future` on this thread with `shared` as the current runtime,
/// parking between polls. On a worker thread, the worker's P is handed off
/// first so the runtime keeps running its other tasks meanwhile.
pub(crate) fn block_on<F: Future>(shared: &Arc<Shared>, future: F) -> F::Output {
    crate::scheduler::hand_off_current_p();
    let _enter = context::enter(shared.clone());
    let waker = WAKER.with(Waker::clone);
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    // Each poll below is budgeted like a task's; put back what the thread
    // had (unconstrained, or the calling task's budget) when done, or a
    // later foreign executor on this thread would find it spent.
    let _budget = crate::scheduler::budget::PutBack::new();
    loop {
        crate::scheduler::budget::reset();
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}
