//! Waking (and discarding) wakers without letting their panics escape.
//!
//! goro calls `Waker::wake` on its own threads — the M blocked in netpoll,
//! sysmon, a worker firing timers, the thread that closes a socket or drops
//! a runtime — and some of those wakers belong to other executors (a goro
//! socket polled by `futures::executor::block_on`, say). A panic in such a
//! waker must not unwind through goro's state machines: out of netpoll it
//! would leave the "an M is polling" flag set forever, out of a slot it
//! would drop the rest of the waiters it was waking. [`wake`] runs the wake
//! under `catch_unwind`, reports the first such panic on stderr (the panic
//! hook has already printed its message) and carries on. [`discard`] does
//! the same for dropping a waker nobody will wake, on a thread that does not
//! serve its task (a recycled descriptor's leftovers).
//!
//! Invariant: every wake goro performs on behalf of a slot, a timer or a
//! lock queue goes through [`wake`]. (A waker a future's own poll or drop
//! releases — replaced or withdrawn — is dropped uncontained, on that
//! future's thread, after the slot's transition is fully accounted for.)

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Waker;

/// Wakes `waker`, containing a panic in its `wake` (see the module docs).
pub(crate) fn wake(waker: Waker) {
    // AssertUnwindSafe: the closure owns the waker and nothing else; a
    // panic leaves no goro state half-updated, because every caller has
    // already released the waker from its data structures.
    if catch_unwind(AssertUnwindSafe(move || waker.wake())).is_err() {
        report();
    }
}

/// Drops `waker`, containing a panic in its drop (see the module docs).
pub(crate) fn discard(waker: Waker) {
    // AssertUnwindSafe: as in `wake`, the caller has already released the
    // waker from its data structures.
    if catch_unwind(AssertUnwindSafe(move || drop(waker))).is_err() {
        report();
    }
}

/// Notes a contained panic on stderr, once per process.
fn report() {
    static REPORTED: AtomicBool = AtomicBool::new(false);
    if !REPORTED.swap(true, Ordering::Relaxed) {
        eprintln!(
            "goro: a Waker panicked in wake or drop (a waker from another \
             executor?); goro contained the panic and carries on (reported once)"
        );
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    struct Panics(AtomicUsize);
    impl Wake for Panics {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
            panic!("a foreign waker panics on wake (expected in this test)");
        }
    }

    #[test]
    fn a_panicking_wake_is_contained() {
        let p = Arc::new(Panics(AtomicUsize::new(0)));
        wake(Waker::from(p.clone()));
        wake(Waker::from(p.clone()));
        assert_eq!(p.0.load(Ordering::SeqCst), 2);
    }
}
