//! A read or write *slot* of a descriptor: Go's `pollDesc.rg` / `wg`, holding
//! `Waker`s where Go holds a parked goroutine.
//!
//! # State machine
//!
//! ```text
//!                 poll_wait (publish, re-check errors, commit)
//!        ┌──────────────┐                ┌──────────────────────┐
//!        │              ▼                │                      ▼
//!      NIL ───────────► WAIT ─────────────────────────────────► PARKED
//!       ▲  ▲  poll_wait   │  commit fails: unblock ran            │
//!       │  │  consumes    │  meanwhile; the registrant owns       │
//!       │  │  READY       │  the wakers and settles them          │
//!       │  └──────────────┼───── READY ◄─── unblock(io) ──────────┤
//!       │                 │                                       │
//!       └──────────────── unblock(timeout / close) ───────────────┘
//! ```
//!
//! - `NIL`: nobody waits and no readiness is pending.
//! - `READY`: an I/O edge arrived that no waiter has consumed yet (Go's
//!   `pdReady`). Edge-triggered epoll reports each edge once, so it must be
//!   remembered: the next waiter consumes it and returns at once.
//! - `WAIT`: a registrant owns the waker cell for a moment (Go's `pdWait`). It
//!   publishes this state *before* re-checking the descriptor's error bits, so
//!   a close or deadline that races with it either sees `WAIT` (and moves it
//!   to `NIL`, which makes the registrant's commit fail) or has already
//!   published its error bit (which the re-check sees). Either way the
//!   registrant never sleeps through it.
//! - `PARKED`: the cell holds one or more wakers (Go's goroutine pointer).
//!   Whoever moves the state *out of* `PARKED` owns the cell and wakes them.
//!
//! The close/deadline side *stores an error bit, then reads the slot*, while
//! the waiter *writes the slot, then reads the error bit*: the store-buffer
//! pattern, where each side can miss the other's write unless both put a
//! `SeqCst` fence between their write and their read. Go gets this from its
//! atomics all being sequentially consistent; here the fences are explicit
//! (`register` and `unblock(false)`), and the loom model
//! `loom_close_vs_wait` fails without them.
//!
//! Ownership of the waker cell is the whole safety argument: it belongs to
//! the thread that performed the transition `NIL|PARKED → WAIT` until it
//! leaves `WAIT`, and to the thread that performed `PARKED → *` (an unblock).
//! No other transition touches it.
//!
//! Unlike Go, a slot may hold several wakers: goro's inherent socket methods
//! serialise waiters with the descriptor's fd mutex (so there is normally
//! one), but `AsyncRead for &TcpStream` is stateless and cannot hold a lock
//! across `Pending`. Extra wakers live in a `Vec` that stays empty (and
//! unallocated) in the common case; every unblock wakes them all, so no
//! wakeup is ever lost.

use crate::sync::{AtomicU8, Ordering, UnsafeCell, fence};
// The waiter count is a plain statistic shared with the scheduler; it is not
// part of the slot's protocol, so it stays a std atomic even under loom.
use std::sync::atomic::AtomicUsize;
use std::task::Waker;

const NIL: u8 = 0;
const READY: u8 = 1;
const WAIT: u8 = 2;
const PARKED: u8 = 3;

/// What [`Slot::poll_wait`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Readiness was pending and has been consumed: retry the syscall.
    Ready,
    /// The waker is stored; it will be woken by the next unblock.
    Parked,
    /// An error bit was set (or an unblock without readiness raced with the
    /// registration): re-check the descriptor's errors.
    Unblocked,
}

/// The wakers parked in a slot.
#[derive(Debug, Default)]
pub(crate) struct Wakers {
    first: Option<Waker>,
    rest: Vec<Waker>,
}

impl Wakers {
    /// Adds `waker` unless a waker for the same task is already present.
    fn insert(&mut self, waker: &Waker) {
        match &mut self.first {
            None => self.first = Some(waker.clone()),
            Some(w) if w.will_wake(waker) => {}
            Some(_) => {
                if !self.rest.iter().any(|w| w.will_wake(waker)) {
                    self.rest.push(waker.clone());
                }
            }
        }
    }

    /// Removes the waker for `waker`'s task, if present.
    fn remove(&mut self, waker: &Waker) {
        if self.first.as_ref().is_some_and(|w| w.will_wake(waker)) {
            self.first = self.rest.pop();
        } else if let Some(i) = self.rest.iter().position(|w| w.will_wake(waker)) {
            self.rest.swap_remove(i);
        }
    }

    /// Moves every waker of `other` into `self`.
    pub(crate) fn absorb(&mut self, other: Wakers) {
        for w in other.first.into_iter().chain(other.rest) {
            self.insert(&w);
        }
    }

    fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    /// Wakes every stored waker.
    pub(crate) fn wake_all(self) {
        if let Some(w) = self.first {
            w.wake();
        }
        for w in self.rest {
            w.wake();
        }
    }
}

/// One direction's wait slot. See the module docs for the state machine.
#[derive(Debug)]
pub(crate) struct Slot {
    state: AtomicU8,
    wakers: UnsafeCell<Wakers>,
}

impl Default for Slot {
    fn default() -> Self {
        Slot::new()
    }
}

impl Slot {
    /// An empty slot in state `NIL`.
    pub(crate) fn new() -> Slot {
        Slot {
            state: AtomicU8::new(NIL),
            wakers: UnsafeCell::new(Wakers {
                first: None,
                rest: Vec::new(),
            }),
        }
    }

    /// Go's `netpollblock`, as a poll: consume pending readiness or park
    /// `waker`.
    ///
    /// `has_error` is evaluated after the waiter is published (the race with
    /// close and deadlines). `waiters` counts slots in `PARKED`, so idle
    /// workers can skip polling the network when nobody waits (Go's
    /// `netpollWaiters`).
    pub(crate) fn poll_wait(
        &self,
        waker: &Waker,
        waiters: &AtomicUsize,
        has_error: impl Fn() -> bool,
    ) -> Wait {
        let mut spins = 0u32;
        loop {
            let from = self.state.load(Ordering::SeqCst);
            match from {
                READY => {
                    if self
                        .state
                        .compare_exchange(READY, NIL, Ordering::SeqCst, Ordering::SeqCst)
                        .is_ok()
                    {
                        return Wait::Ready;
                    }
                }
                NIL | PARKED => {
                    if self
                        .state
                        .compare_exchange(from, WAIT, Ordering::SeqCst, Ordering::SeqCst)
                        .is_err()
                    {
                        continue;
                    }
                    return self.register(from, waker, waiters, has_error);
                }
                _ => {
                    // Another registrant owns the cell for a few instructions.
                    spins += 1;
                    backoff(spins);
                }
            }
        }
    }

    /// Second half of `poll_wait`, entered in `WAIT` owning the cell.
    fn register(
        &self,
        from: u8,
        waker: &Waker,
        waiters: &AtomicUsize,
        has_error: impl Fn() -> bool,
    ) -> Wait {
        // SAFETY: we moved the state to WAIT, which grants exclusive access to
        // the cell until we leave WAIT (see the module docs).
        self.wakers.with_mut(|w| unsafe { (*w).insert(waker) });
        // Publish WAIT before reading the error bits (see the module docs).
        fence(Ordering::SeqCst);
        if has_error() {
            // Withdraw this waker; leave any others parked.
            // SAFETY: still in WAIT, we own the cell.
            let empty = self.wakers.with_mut(|w| unsafe {
                (*w).remove(waker);
                (*w).is_empty()
            });
            let back = if empty { NIL } else { PARKED };
            if self
                .state
                .compare_exchange(WAIT, back, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                if from == PARKED && empty {
                    waiters.fetch_sub(1, Ordering::SeqCst);
                }
                return Wait::Unblocked;
            }
            // An unblock ran meanwhile; settle below like a failed commit.
        } else if self
            .state
            .compare_exchange(WAIT, PARKED, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            if from == NIL {
                // SeqCst: pairs with idle workers reading the count after
                // publishing themselves idle (see scheduler/idle.rs).
                waiters.fetch_add(1, Ordering::SeqCst);
            }
            return Wait::Parked;
        }
        // The commit failed: an unblock changed WAIT to READY or NIL without
        // touching the cell, so it is still ours. Everyone parked here must
        // learn about the unblock; we return its result ourselves.
        // SAFETY: the unblock left the cell to us (it only takes it from PARKED).
        let mut wakers = self.wakers.with_mut(|w| unsafe { std::mem::take(&mut *w) });
        wakers.remove(waker);
        if from == PARKED {
            waiters.fetch_sub(1, Ordering::SeqCst);
        }
        wakers.wake_all();
        if self
            .state
            .compare_exchange(READY, NIL, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            Wait::Ready
        } else {
            Wait::Unblocked
        }
    }

    /// Go's `netpollunblock`: records readiness (`ioready`) or wakes waiters so
    /// they re-check errors (timeout, close). Returns the wakers to wake;
    /// the caller wakes them after releasing any locks.
    pub(crate) fn unblock(&self, ioready: bool, waiters: &AtomicUsize) -> Option<Wakers> {
        if !ioready {
            // The caller just published an error bit; order that before
            // reading the state (see the module docs).
            fence(Ordering::SeqCst);
        }
        let to = if ioready { READY } else { NIL };
        loop {
            let from = self.state.load(Ordering::SeqCst);
            if from == READY || (from == NIL && !ioready) {
                return None;
            }
            if self
                .state
                .compare_exchange(from, to, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
            {
                continue;
            }
            if from != PARKED {
                return None;
            }
            waiters.fetch_sub(1, Ordering::SeqCst);
            // SAFETY: we moved the state out of PARKED, which hands us the cell;
            // registrants only touch it after moving NIL/PARKED to WAIT, and the
            // state is now READY or NIL.
            return Some(self.wakers.with_mut(|w| unsafe { std::mem::take(&mut *w) }));
        }
    }

    /// Returns the slot to `NIL`, dropping any readiness and wakers. Used when
    /// a descriptor is recycled; nobody may be registering concurrently.
    pub(crate) fn reset(&self, waiters: &AtomicUsize) {
        if let Some(w) = self.unblock(false, waiters) {
            drop(w);
        }
        let _ = self
            .state
            .compare_exchange(READY, NIL, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// True if readiness is pending (tests).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn is_ready(&self) -> bool {
        self.state.load(Ordering::SeqCst) == READY
    }
}

// SAFETY: the cell is only accessed under the ownership protocol above, which
// makes accesses from different threads exclusive; `Waker` is Send + Sync.
unsafe impl Send for Slot {}
// SAFETY: as above.
unsafe impl Sync for Slot {}

/// Spin briefly, then yield: the owner of `WAIT` holds it for a few
/// instructions, unless the OS preempted it.
fn backoff(spins: u32) {
    #[cfg(loom)]
    {
        let _ = spins;
        loom::thread::yield_now();
    }
    #[cfg(not(loom))]
    if spins < 64 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize as StdCounter;
    use std::task::Wake;

    #[derive(Default)]
    struct Flag(StdCounter);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    fn flag() -> (Arc<Flag>, Waker) {
        let f = Arc::new(Flag::default());
        (f.clone(), Waker::from(f))
    }

    #[test]
    fn readiness_before_wait_is_remembered() {
        let s = Slot::new();
        let n = AtomicUsize::new(0);
        assert!(s.unblock(true, &n).is_none());
        assert!(s.is_ready());
        let (_, w) = flag();
        assert_eq!(s.poll_wait(&w, &n, || false), Wait::Ready);
        assert_eq!(s.poll_wait(&w, &n, || false), Wait::Parked);
        assert_eq!(n.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn unblock_wakes_parked_waiter_once() {
        let s = Slot::new();
        let n = AtomicUsize::new(0);
        let (f, w) = flag();
        assert_eq!(s.poll_wait(&w, &n, || false), Wait::Parked);
        // Re-polling with the same task does not duplicate the waker.
        assert_eq!(s.poll_wait(&w, &n, || false), Wait::Parked);
        s.unblock(true, &n).unwrap().wake_all();
        assert_eq!(f.0.load(Ordering::SeqCst), 1);
        assert_eq!(n.load(Ordering::SeqCst), 0);
        assert_eq!(s.poll_wait(&w, &n, || false), Wait::Ready);
    }

    #[test]
    fn error_seen_after_publishing_is_not_slept_through() {
        let s = Slot::new();
        let n = AtomicUsize::new(0);
        let (f, w) = flag();
        assert_eq!(s.poll_wait(&w, &n, || true), Wait::Unblocked);
        assert_eq!(n.load(Ordering::SeqCst), 0);
        assert!(
            s.unblock(false, &n).is_none(),
            "withdrawn waker must not stay"
        );
        assert_eq!(f.0.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn timeout_unblock_does_not_leave_readiness() {
        let s = Slot::new();
        let n = AtomicUsize::new(0);
        let (f, w) = flag();
        s.poll_wait(&w, &n, || false);
        s.unblock(false, &n).unwrap().wake_all();
        assert_eq!(f.0.load(Ordering::SeqCst), 1);
        assert!(!s.is_ready());
        assert_eq!(s.poll_wait(&w, &n, || false), Wait::Parked);
    }

    #[test]
    fn several_tasks_are_all_woken() {
        let s = Slot::new();
        let n = AtomicUsize::new(0);
        let flags: Vec<_> = (0..4).map(|_| flag()).collect();
        for (_, w) in &flags {
            assert_eq!(s.poll_wait(w, &n, || false), Wait::Parked);
        }
        assert_eq!(n.load(Ordering::SeqCst), 1, "one parked slot");
        s.unblock(true, &n).unwrap().wake_all();
        for (f, _) in &flags {
            assert_eq!(f.0.load(Ordering::SeqCst), 1);
        }
    }

    #[test]
    fn reset_drops_wakers_and_readiness() {
        let s = Slot::new();
        let n = AtomicUsize::new(0);
        let (f, w) = flag();
        s.poll_wait(&w, &n, || false);
        s.reset(&n);
        assert_eq!(Arc::strong_count(&f), 2, "only `w` and `f` remain");
        assert_eq!(n.load(Ordering::SeqCst), 0);
        s.unblock(true, &n);
        s.reset(&n);
        assert!(!s.is_ready());
    }

    #[test]
    fn stress_no_lost_wakeup() {
        // One waiter, one unblocker, many rounds: every round must complete.
        use std::sync::atomic::AtomicBool;
        let s = Arc::new(Slot::new());
        let n = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let (s2, n2, d2) = (s.clone(), n.clone(), done.clone());
        let unblocker = std::thread::spawn(move || {
            while !d2.load(Ordering::SeqCst) {
                if let Some(w) = s2.unblock(true, &n2) {
                    w.wake_all();
                }
                std::hint::spin_loop();
            }
        });
        let thread = std::thread::current();
        struct Unpark(std::thread::Thread);
        impl Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(Unpark(thread)));
        for _ in 0..20_000 {
            loop {
                match s.poll_wait(&waker, &n, || false) {
                    Wait::Ready => break,
                    Wait::Parked => {
                        let t = std::time::Instant::now();
                        std::thread::park_timeout(std::time::Duration::from_secs(10));
                        assert!(
                            t.elapsed() < std::time::Duration::from_secs(10),
                            "lost wakeup"
                        );
                    }
                    Wait::Unblocked => unreachable!("no errors in this test"),
                }
            }
        }
        done.store(true, Ordering::SeqCst);
        unblocker.join().unwrap();
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;
    use loom::sync::atomic::AtomicBool;
    use std::task::Wake;

    struct Flag(AtomicBool);

    /// Readiness racing with registration is never lost: either the waiter
    /// sees READY, or its waker is woken.
    #[test]
    fn loom_ready_vs_wait() {
        loom::model(|| {
            let slot = Arc::new(Slot::new());
            let n = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let flag = Arc::new(Flag(AtomicBool::new(false)));
            let waker = Waker::from(std::sync::Arc::new(FlagStd(flag.clone())));
            let (s2, n2) = (slot.clone(), n.clone());
            let t = loom::thread::spawn(move || {
                if let Some(w) = s2.unblock(true, &n2) {
                    w.wake_all();
                }
            });
            let r = slot.poll_wait(&waker, &n, || false);
            t.join().unwrap();
            match r {
                Wait::Ready => {}
                Wait::Parked => assert!(flag.0.load(Ordering::SeqCst), "readiness lost"),
                Wait::Unblocked => panic!("no error was set"),
            }
        });
    }

    /// Close racing with registration: the waiter returns Unblocked, or is
    /// woken, never parks unnoticed.
    #[test]
    fn loom_close_vs_wait() {
        loom::model(|| {
            let slot = Arc::new(Slot::new());
            let n = Arc::new(AtomicUsize::new(0));
            let closed = Arc::new(AtomicBool::new(false));
            let flag = Arc::new(Flag(AtomicBool::new(false)));
            let waker = Waker::from(std::sync::Arc::new(FlagStd(flag.clone())));
            let (s2, n2, c2) = (slot.clone(), n.clone(), closed.clone());
            let t = loom::thread::spawn(move || {
                c2.store(true, Ordering::SeqCst);
                if let Some(w) = s2.unblock(false, &n2) {
                    w.wake_all();
                }
            });
            let c3 = closed.clone();
            let r = slot.poll_wait(&waker, &n, move || c3.load(Ordering::SeqCst));
            t.join().unwrap();
            if r == Wait::Parked {
                assert!(flag.0.load(Ordering::SeqCst), "parked waiter never woken");
            }
            assert_eq!(n.load(Ordering::SeqCst), 0);
        });
    }

    /// Two registrants and one unblocker: both are woken or return.
    #[test]
    fn loom_two_waiters() {
        loom::model(|| {
            let slot = Arc::new(Slot::new());
            let n = Arc::new(AtomicUsize::new(0));
            let f1 = Arc::new(Flag(AtomicBool::new(false)));
            let f2 = Arc::new(Flag(AtomicBool::new(false)));
            let w1 = Waker::from(std::sync::Arc::new(FlagStd(f1.clone())));
            let w2 = Waker::from(std::sync::Arc::new(FlagStd(f2.clone())));
            let (s2, n2) = (slot.clone(), n.clone());
            let t = loom::thread::spawn(move || s2.poll_wait(&w2, &n2, || false));
            let r1 = slot.poll_wait(&w1, &n, || false);
            let r2 = t.join().unwrap();
            if let Some(w) = slot.unblock(true, &n) {
                w.wake_all();
            }
            for (r, f) in [(r1, &f1), (r2, &f2)] {
                if r == Wait::Parked {
                    assert!(f.0.load(Ordering::SeqCst));
                }
            }
            assert_eq!(n.load(Ordering::SeqCst), 0);
        });
    }

    /// `Waker::from` needs a std `Arc`; this forwards to the loom flag.
    struct FlagStd(Arc<Flag>);
    impl Wake for FlagStd {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.0.store(true, Ordering::SeqCst);
        }
    }
}
