//! The timers of one P (processor): a 4-ary heap under a mutex plus an
//! atomic copy of its earliest `when`, so schedulers and the poller can ask
//! "is anything due?" without taking the lock.
//!
//! Timers are cancelled lazily, as in Go: each timer target carries a
//! sequence number, each heap entry remembers the number it was armed with,
//! and an entry whose number no longer matches is stale ("zombie"). Stale
//! entries are dropped when they reach the top, or all at once when they
//! outnumber a quarter of the heap. That makes cancel O(1) and re-arming a
//! deadline (the per-request server pattern) a heap push with no allocation.
//!
//! Invariants:
//! - `next_when` is never later than the earliest live entry (it may be
//!   earlier, pointing at a zombie: that only causes an early, empty wake);
//! - timer callbacks run *without* the heap lock (they take descriptor
//!   locks, which are taken before the heap lock when arming deadlines);
//! - an entry for [`NEVER`] (a `Sleep` of `Duration::MAX`) is kept so that
//!   runtime shutdown can wake it, but never becomes "the earliest timer";
//! - at runtime shutdown [`Timers::fire_all_at_shutdown`] fires every live
//!   sleep at once (a `Sleep` of a shut-down runtime is complete), so no
//!   task or thread waits for a timer nobody will run.

use super::clock::NEVER;
use super::heap::{Heap4, Keyed};
use crate::poller::descriptor::{DeadlineMode, DescPtr};
use crate::poller::slot::{Slot, Wakers};
use crate::sync::Mutex;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// What a heap entry fires.
#[derive(Debug)]
pub(crate) enum TimerTarget {
    /// A `Sleep` (also behind `Timeout` and `Interval`).
    Sleep(Arc<SleepTimer>),
    /// A descriptor's read, write or combined deadline.
    Deadline(DescPtr, DeadlineMode),
}

/// One armed timer.
#[derive(Debug)]
pub(crate) struct TimerEntry {
    /// When it fires, in clock nanoseconds.
    pub(crate) when: u64,
    /// The target's sequence number when armed; a mismatch means stale.
    pub(crate) seq: u64,
    /// What to fire.
    pub(crate) target: TimerTarget,
}

impl Keyed for TimerEntry {
    fn key(&self) -> u64 {
        self.when
    }
}

impl TimerEntry {
    fn is_live(&self) -> bool {
        match &self.target {
            TimerTarget::Sleep(t) => t.seq.load(Ordering::Acquire) == self.seq,
            TimerTarget::Deadline(pd, mode) => pd.get().deadline_seq_matches(*mode, self.seq),
        }
    }

    /// Runs the timer's action, returning wakers to wake.
    fn fire(self, waiters: &AtomicUsize) -> Option<Wakers> {
        match self.target {
            TimerTarget::Sleep(t) => {
                if t.seq.load(Ordering::Acquire) != self.seq {
                    return None;
                }
                t.slot.unblock(true, &NO_WAITER_COUNT)
            }
            TimerTarget::Deadline(pd, mode) => pd.get().fire_deadline(mode, self.seq, waiters),
        }
    }
}

/// Sleep timers do not count as network waiters.
static NO_WAITER_COUNT: AtomicUsize = AtomicUsize::new(0);

/// The shared half of a `Sleep`: a sequence number (bumped to cancel) and a
/// slot the sleeping task parks in; firing the timer makes the slot ready.
#[derive(Debug, Default)]
pub(crate) struct SleepTimer {
    /// Current arming; entries with another number are stale.
    pub(crate) seq: AtomicU64,
    /// Ready once fired.
    pub(crate) slot: Slot,
}

impl SleepTimer {
    /// Parks `waker` until the timer fires; true if it already has.
    pub(crate) fn poll_fired(&self, waker: &std::task::Waker) -> bool {
        use crate::poller::slot::Wait;
        match self.slot.poll_wait(waker, &NO_WAITER_COUNT, || false) {
            Wait::Ready => true,
            Wait::Parked => false,
            Wait::Unblocked => false,
        }
    }
}

/// The timer set of one P. See the module docs.
#[derive(Debug)]
pub(crate) struct Timers {
    heap: Mutex<Heap4<TimerEntry>>,
    next_when: AtomicU64,
    zombies: AtomicUsize,
    fired: AtomicU64,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            heap: Mutex::new(Heap4::default()),
            next_when: AtomicU64::new(NEVER),
            zombies: AtomicUsize::new(0),
            fired: AtomicU64::new(0),
        }
    }
}

impl Timers {
    /// Earliest `when` in the heap, or [`NEVER`].
    pub(crate) fn next_when(&self) -> u64 {
        self.next_when.load(Ordering::Acquire)
    }

    /// Number of timers fired so far (metrics).
    pub(crate) fn fired(&self) -> u64 {
        self.fired.load(Ordering::Relaxed)
    }

    /// Number of entries, stale ones included.
    pub(crate) fn len(&self) -> usize {
        self.heap.lock().len()
    }

    /// Arms `entry`. Returns true if it is now the earliest timer here
    /// (never for a [`NEVER`] entry: nobody needs to wake up for it).
    pub(crate) fn add(&self, entry: TimerEntry) -> bool {
        let when = entry.when;
        let mut heap = self.heap.lock();
        let zombies = self.zombies.load(Ordering::Relaxed);
        if zombies > 64 && zombies > heap.len() / 4 {
            heap.retain(TimerEntry::is_live);
            self.zombies.store(0, Ordering::Relaxed);
        }
        heap.push(entry);
        let earliest = heap.peek().map_or(NEVER, |e| e.when);
        self.next_when.store(earliest, Ordering::Release);
        earliest == when && when != NEVER
    }

    /// Records that an armed entry went stale (cancel, reset, new deadline).
    pub(crate) fn note_stale(&self) {
        self.zombies.fetch_add(1, Ordering::Relaxed);
    }

    /// Fires every timer due at `now`. Wakers are woken after the heap lock
    /// is released. `waiters` is the poller's count of parked network
    /// waiters (deadline timers unpark them). Returns how many live timers
    /// fired.
    pub(crate) fn run(&self, now: u64, waiters: &AtomicUsize) -> usize {
        if self.next_when() > now {
            return 0;
        }
        let mut due = Vec::new();
        {
            let Some(mut heap) = self.heap.try_lock() else {
                // Another thread is running or arming these timers.
                return 0;
            };
            while heap.peek().is_some_and(|e| e.when <= now) {
                due.extend(heap.pop());
            }
            let earliest = heap.peek().map_or(NEVER, |e| e.when);
            self.next_when.store(earliest, Ordering::Release);
        }
        let mut fired = 0;
        for entry in due {
            let live = entry.is_live();
            if !live {
                let _ = self
                    .zombies
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |z| z.checked_sub(1));
            }
            if let Some(w) = entry.fire(waiters) {
                w.wake_all();
            }
            fired += live as usize;
        }
        self.fired.fetch_add(fired as u64, Ordering::Relaxed);
        fired
    }

    /// Runtime shutdown: takes every entry and fires the live sleeps now
    /// (their `Sleep`s complete), dropping the rest (deadline timers: the
    /// descriptors themselves are failed by the poller's shutdown).
    pub(crate) fn fire_all_at_shutdown(&self) {
        let entries = self.clear();
        for entry in entries {
            if let TimerTarget::Sleep(_) = entry.target
                && entry.is_live()
                && let Some(w) = entry.fire(&NO_WAITER_COUNT)
            {
                w.wake_all();
            }
        }
    }

    /// Drops every entry (runtime shutdown), waking nothing.
    pub(crate) fn clear(&self) -> Vec<TimerEntry> {
        let mut heap = self.heap.lock();
        self.next_when.store(NEVER, Ordering::Release);
        heap.drain().collect()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::task::Waker;

    fn sleep_entry(when: u64) -> (Arc<SleepTimer>, TimerEntry) {
        let t = Arc::new(SleepTimer::default());
        let e = TimerEntry {
            when,
            seq: 0,
            target: TimerTarget::Sleep(t.clone()),
        };
        (t, e)
    }

    #[test]
    fn fires_due_timers_only() {
        let ts = Timers::default();
        let (a, ea) = sleep_entry(10);
        let (b, eb) = sleep_entry(20);
        assert!(ts.add(eb));
        assert!(ts.add(ea));
        assert_eq!(ts.next_when(), 10);
        assert_eq!(ts.run(15, &NO_WAITER_COUNT), 1);
        assert!(a.poll_fired(Waker::noop()));
        assert!(!b.poll_fired(Waker::noop()));
        assert_eq!(ts.next_when(), 20);
    }

    #[test]
    fn cancelled_timers_are_skipped_and_compacted() {
        let ts = Timers::default();
        let all: Vec<_> = (0..1000)
            .map(|i| {
                let (t, e) = sleep_entry(100 + i);
                ts.add(e);
                t
            })
            .collect();
        for t in all.iter().step_by(2) {
            t.seq.fetch_add(1, Ordering::AcqRel);
            ts.note_stale();
        }
        // The next add compacts: 500 zombies > 1000 / 4.
        let (_, e) = sleep_entry(5000);
        ts.add(e);
        assert_eq!(ts.len(), 501);
        assert_eq!(ts.run(4000, &NO_WAITER_COUNT), 500);
        for (i, t) in all.iter().enumerate() {
            assert_eq!(t.poll_fired(Waker::noop()), i % 2 == 1, "timer {i}");
        }
    }

    #[test]
    fn a_million_timers_fit_and_fire() {
        let ts = Timers::default();
        let timers: Vec<_> = (0..1_000_000u64)
            .map(|i| {
                let (t, e) = sleep_entry(1 + (i * 7919) % 1_000_000);
                ts.add(e);
                t
            })
            .collect();
        assert_eq!(ts.run(NEVER - 1, &NO_WAITER_COUNT), 1_000_000);
        assert!(timers.iter().all(|t| t.poll_fired(Waker::noop())));
    }
}
