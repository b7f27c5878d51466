//! What a `Sleep` arms: a [`SleepTimer`] (sequence number, fired flag, the
//! sleeper's waker), and where it lives.
//!
//! # One allocation per sleeping task
//!
//! Like Go's per-goroutine `gp.timer`, every task carries one reusable
//! `SleepTimer` in its header (`TaskMeta::sleep`). A `Sleep` that arms
//! while a goro task is being polled on this thread *claims* that timer if
//! nobody holds it, and the heap entry references it through a clone of
//! the task's own waker, which keeps the header (and so the timer) alive
//! however long the entry stays in a heap. Only when the header timer is
//! taken (a second sleep armed in the same task) or there is no task (a
//! sleep polled by `block_on` or a foreign executor) does a `Sleep`
//! allocate its own `Arc<SleepTimer>`, as every sleep used to.
//!
//! # The timer's state, and who touches it
//!
//! `seq`, `fired`, `claimed` and `waker` change only under the timer's
//! lock, so a fire and a re-arming are atomic with respect to each other:
//!
//! - **arming** (the `Sleep` holding the claim, on the thread polling it):
//!   reads `seq` and pushes a heap entry carrying it;
//! - **parking** ([`SleepTimer::poll_fired`], same `Sleep`, any thread
//!   that polls it): returns `fired`, else stores its waker;
//! - **firing** ([`SleepTimer::fire`], the thread running the P's timers,
//!   or shutdown): only if the entry's `seq` equals `seq` *and* `fired` is
//!   false, sets `fired` and takes the waker (woken after the lock);
//! - **releasing** ([`SleepTimer::release`], the `Sleep` holding the claim,
//!   when it completes, is reset or dropped, on whatever thread that
//!   happens): bumps `seq` (every entry still in a heap becomes stale),
//!   clears `fired`, drops the waker (a parked waker of the task itself
//!   would otherwise keep the task alive through its own header), and
//!   clears `claimed`;
//! - **claiming** ([`claim_task_timer`], a `Sleep` polled while the task
//!   owning the header is polled on this thread): sets `claimed` if clear.
//!
//! A stale entry of an earlier arming of a reused timer (the `Sleep` was
//! dropped or reset, the lazy cancel left its entry in the heap) carries
//! an old `seq`; since firing compares `seq` under the same lock that
//! releasing bumps it under, it can never mark a later arming fired, so no
//! `Sleep` completes before its deadline. `seq` is also kept in an atomic
//! so the heap can drop stale entries without taking the lock
//! ([`SleepTimer::is_current`]: a hint, re-checked by `fire`).
//!
//! The header outlives every user: the claiming `Sleep` and every heap
//! entry hold a clone of the task's waker, so a task that completes (or is
//! cancelled) while a stale entry is still in a heap is freed only when
//! that entry is dropped.

use super::Shared;
use super::spawn::TaskMeta;
use crate::sync::Mutex;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Waker;

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct SleepTimer {
    /// Copy of `State::seq` for lock-free staleness checks (written only
    /// under the lock).
    seq: AtomicU64,
    state: Mutex<State>,
}

/// The locked part of a [`SleepTimer`].
#[derive(Debug, Default)]
struct State {
    /// Current arming; heap entries with another number are stale.
    seq: u64,
    /// The entry with `seq` fired (or shutdown fired it).
    fired: bool,
    /// A `Sleep` holds this (header) timer. Unused for an `Arc` timer.
    claimed: bool,
    /// The sleeper to wake.
    waker: Option<Waker>,
}

impl SleepTimer {
    /// True if an entry armed with `seq` is still current (a lock-free
    /// hint; [`fire`](Self::fire) decides under the lock).
    pub(crate) fn is_current(&self, seq: u64) -> bool {
        self.seq.load(Ordering::Acquire) == seq
    }

    /// The entry armed with `seq` is due: marks the timer fired and wakes
    /// the sleeper, unless the timer was released or re-armed since.
    /// Returns true if it fired.
    pub(crate) fn fire(&self, seq: u64) -> bool {
        let waker = {
            let mut s = self.state.lock();
            if s.seq != seq || s.fired {
                return false;
            }
            s.fired = true;
            s.waker.take()
        };
        if let Some(w) = waker {
            // Contained: it may be another executor's waker, and this runs
            // on a goro thread firing timers (poller/wake.rs).
            crate::poller::wake::wake(w);
        }
        true
    }

    /// Parks `waker` until the timer fires; true if it already has.
    pub(crate) fn poll_fired(&self, waker: &Waker) -> bool {
        let old = {
            let mut s = self.state.lock();
            if s.fired {
                return true;
            }
            match &s.waker {
                Some(w) if w.will_wake(waker) => None,
                _ => s.waker.replace(waker.clone()),
            }
        };
        // Dropped outside the lock: it may be a task's last reference.
        drop(old);
        false
    }

    /// Claims a free header timer; returns the sequence number to arm with.
    fn claim(&self) -> Option<u64> {
        let mut s = self.state.lock();
        if s.claimed {
            return None;
        }
        s.claimed = true;
        Some(s.seq)
    }

    /// The holder is done with this arming (see the module docs): every
    /// entry armed so far becomes stale, and the timer is free again.
    fn release(&self) {
        let waker = {
            let mut s = self.state.lock();
            s.seq = s.seq.wrapping_add(1);
            self.seq.store(s.seq, Ordering::Release);
            s.fired = false;
            s.claimed = false;
            s.waker.take()
        };
        drop(waker);
    }
}

/// A reference to a [`SleepTimer`] that keeps it alive: what a heap entry
/// and an armed `Sleep` hold.
#[derive(Debug, Clone)]
pub(crate) enum TimerRef {
    /// A timer of its own (no task to borrow one from, or its timer was
    /// taken).
    Own(Arc<SleepTimer>),
    /// A task's header timer.
    Task(TaskTimer),
}

impl TimerRef {
    /// The timer.
    pub(crate) fn get(&self) -> &SleepTimer {
        match self {
            TimerRef::Own(t) => t,
            TimerRef::Task(t) => &t.meta().sleep,
        }
    }
}

/// A task's header timer, kept alive by a clone of the task's waker.
#[derive(Debug, Clone)]
pub(crate) struct TaskTimer {
    /// Keeps the task's allocation (and its header) alive.
    _task: Waker,
    /// The header of the task `task` wakes.
    meta: NonNull<TaskMeta>,
}

// SAFETY: `meta` points into the header of the task `task` keeps alive;
// `TaskMeta` is Sync (an Arc, atomics, a lock and immutable data), and
// `Waker` is Send + Sync.
unsafe impl Send for TaskTimer {}
// SAFETY: as above.
unsafe impl Sync for TaskTimer {}

impl TaskTimer {
    fn meta(&self) -> &TaskMeta {
        // SAFETY: `task` holds a reference to the task, so its header (and
        // the metadata in it) is not freed before `self` drops.
        unsafe { self.meta.as_ref() }
    }
}

/// Claims the header timer of the task being polled on this thread, if
/// there is one, it belongs to `shared`, and it is free. Returns it with
/// the sequence number to arm with.
fn claim_task_timer(shared: &Arc<Shared>) -> Option<(TaskTimer, u64)> {
    let (header, waker) = crate::taskinfo::record::current_header()?;
    // SAFETY: `Tracked::poll` installs a pointer to its task's `TaskMeta`
    // and the task's waker, both valid until that poll returns, which
    // encloses this call (`current_header`'s contract).
    let (meta, waker) = unsafe { (&*header.cast::<TaskMeta>(), &*waker) };
    if !Arc::ptr_eq(&meta.shared, shared) {
        return None;
    }
    let seq = meta.sleep.claim()?;
    Some((
        TaskTimer {
            _task: waker.clone(),
            meta: NonNull::from(meta),
        },
        seq,
    ))
}

/// An armed sleep: the timer it waits on, the runtime, and the P whose
/// heap holds the entry. Dropping it without [`disarm`](Self::disarm) or
/// [`complete`](Self::complete) leaks a header timer's claim (the task
/// then allocates for its later sleeps), so `Sleep` always calls one.
#[derive(Debug)]
pub(crate) struct ArmedSleep {
    timer: TimerRef,
    shared: Arc<Shared>,
    p: usize,
}

impl ArmedSleep {
    /// Arms a timer for `when` on the current runtime: the current task's
    /// header timer if free, else a new one. `None` if the runtime is shut
    /// down (the sleep is complete).
    pub(crate) fn arm(when: u64) -> Option<ArmedSleep> {
        let shared = crate::runtime::current_scheduler();
        if shared.is_shutdown() {
            return None;
        }
        let (timer, seq) = match claim_task_timer(&shared) {
            Some((t, seq)) => (TimerRef::Task(t), seq),
            None => (TimerRef::Own(Arc::default()), 0),
        };
        // A `NEVER` entry is armed too, so that shutdown can wake it.
        let p = shared.arm_sleep(timer.clone(), seq, when);
        Some(ArmedSleep { timer, shared, p })
    }

    /// Parks `waker` until the timer fires; true if it has, or if the
    /// runtime is shut down. The shutdown check comes after parking: a
    /// shutdown that began earlier is seen here, one that begins later
    /// fires the timer (see `Timers::fire_all_at_shutdown`).
    pub(crate) fn poll(&self, waker: &Waker) -> bool {
        self.timer.get().poll_fired(waker) || self.shared.is_shutdown()
    }

    /// Cancels the timer (the sleep was dropped or reset before firing);
    /// its heap entry stays behind, stale, until the heap drops it.
    pub(crate) fn disarm(self) {
        self.release();
        self.shared.timer_stale(self.p);
    }

    /// The sleep completed: frees the timer for the task's next sleep.
    pub(crate) fn complete(self) {
        self.release();
    }

    fn release(&self) {
        match &self.timer {
            // Nobody else arms an own timer: only its entries need to go
            // stale (one may still be in a heap if shutdown completed us).
            TimerRef::Own(t) => t.release(),
            TimerRef::Task(t) => t.meta().sleep.release(),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_stale_entry_never_fires_a_later_arming() {
        let t = SleepTimer::default();
        let woken = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(woken.clone());
        // First arming, cancelled: its entry (seq 0) stays behind.
        let first = t.claim().expect("free");
        assert_eq!(t.claim(), None, "claimed once at a time");
        assert!(!t.poll_fired(&waker));
        t.release();
        // Second arming, same timer.
        let second = t.claim().expect("free again");
        assert_ne!(first, second);
        assert!(!t.poll_fired(&waker));
        assert!(!t.is_current(first));
        assert!(!t.fire(first), "the stale entry fires nothing");
        assert!(!t.poll_fired(&waker));
        assert_eq!(woken.0.load(Ordering::SeqCst), 0);
        assert!(t.fire(second));
        assert!(!t.fire(second), "fires once");
        assert_eq!(woken.0.load(Ordering::SeqCst), 1);
        assert!(t.poll_fired(&waker));
        t.release();
        assert!(!t.poll_fired(&waker), "released: no longer fired");
        t.release();
    }

    #[test]
    fn a_task_header_timer_stays_small() {
        // It is in every task's header, sleeping or not.
        assert!(size_of::<SleepTimer>() <= 48, "{}", size_of::<SleepTimer>());
    }
}
