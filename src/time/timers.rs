//! The timers of one P (processor): a 4-ary heap under a mutex plus an
//! atomic copy of its earliest `when`, so schedulers and the poller can ask
//! "is anything due?" without taking the lock.
//!
//! The heap does not know what its timers do. As Go's timers carry `f`,
//! `arg` and `seq`, an entry here carries a *target* implementing
//! [`Fire`] and the sequence number it was armed with; whoever arms a timer
//! decides what firing means (the scheduler's `TimerTarget`: wake a sleep,
//! or expire a descriptor's deadline). So this module imports nothing from
//! the poller or the scheduler.
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
//! - an entry for [`NEVER`] (a `Sleep` of `Duration::MAX` on a timer of
//!   its own; one on its task's header timer arms none, see
//!   `scheduler/sleep_timer.rs`) is kept so that runtime shutdown can wake
//!   it, but never becomes "the earliest timer", so once stale it leaves
//!   only when the heap compacts;
//! - at runtime shutdown [`Timers::fire_all_at_shutdown`] fires every live
//!   sleep at once (a `Sleep` of a shut-down runtime is complete), so no
//!   task or thread waits for a timer nobody will run;
//! - that sweep also *closes* the heap, under its lock: from then on
//!   [`Timers::add`] refuses every entry (and drops it). An arming that saw
//!   the runtime running and pushes after the sweep (a worker preempted in
//!   between, or one left inside a task's poll when shutdown stopped
//!   waiting for it) would otherwise leave an entry nobody fires or
//!   clears, and a sleep's entry keeps its task, whose header keeps the
//!   runtime, whose heap keeps the entry: the runtime would never be freed.

use super::clock::NEVER;
use super::heap::{Heap4, Keyed};
use crate::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// What a timer does when it fires (Go's `f(arg, seq)`); implemented by
/// the module that arms timers.
pub(crate) trait Fire {
    /// True if an entry armed with `seq` is still current (not cancelled,
    /// reset or re-armed since). Runs under the heap lock: must take no
    /// lock that is held while arming.
    fn is_live(&self, seq: u64) -> bool;
    /// The timer is due: act on it if `seq` is still current, and wake
    /// whoever waits. Runs without the heap lock.
    fn fire(self, seq: u64);
    /// The runtime is shutting down with this entry armed: complete it now,
    /// or drop it (see [`Timers::fire_all_at_shutdown`]).
    fn fire_at_shutdown(self, seq: u64);
}

/// Due entries taken out per lock acquisition: bounds the lock hold time
/// and keeps the temporary list small (see pages.rs).
const BATCH: usize = 256;

/// One armed timer.
#[derive(Debug)]
pub(crate) struct TimerEntry<T> {
    /// When it fires, in clock nanoseconds.
    pub(crate) when: u64,
    /// The target's sequence number when armed; a mismatch means stale.
    pub(crate) seq: u64,
    /// What to fire.
    pub(crate) target: T,
}

impl<T> Keyed for TimerEntry<T> {
    fn key(&self) -> u64 {
        self.when
    }
}

impl<T: Fire> TimerEntry<T> {
    fn is_live(&self) -> bool {
        self.target.is_live(self.seq)
    }
}

/// The timer set of one P. See the module docs.
#[derive(Debug)]
pub(crate) struct Timers<T> {
    heap: Mutex<Heap4<TimerEntry<T>>>,
    next_when: AtomicU64,
    zombies: AtomicUsize,
    fired: AtomicU64,
    /// Set by the shutdown sweep; written and read under the heap lock.
    closed: AtomicBool,
}

impl<T> Default for Timers<T> {
    fn default() -> Self {
        Timers {
            heap: Mutex::new(Heap4::default()),
            next_when: AtomicU64::new(NEVER),
            zombies: AtomicUsize::new(0),
            fired: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        }
    }
}

impl<T: Fire> Timers<T> {
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

    /// Arms `entry`. Returns whether it is now the earliest timer here
    /// (never for a [`NEVER`] entry: nobody needs to wake up for it), or
    /// `None` if the runtime's shutdown swept this heap already: the entry
    /// is dropped, and its timer counts as fired by the shutdown.
    pub(crate) fn add(&self, entry: TimerEntry<T>) -> Option<bool> {
        let when = entry.when;
        let mut stale = None;
        let earliest = {
            let mut heap = self.heap.lock();
            if self.closed.load(Ordering::Relaxed) {
                drop(heap);
                // Dropped without the lock, as below.
                drop(entry);
                return None;
            }
            let zombies = self.zombies.load(Ordering::Relaxed);
            if zombies > 64 && zombies > heap.len() / 4 {
                stale = Some(heap.retain(TimerEntry::is_live));
                self.zombies.store(0, Ordering::Relaxed);
            }
            heap.push(entry);
            let earliest = heap.peek().map_or(NEVER, |e| e.when);
            self.next_when.store(earliest, Ordering::Release);
            earliest
        };
        // Dropped without the lock: an entry may hold the last reference
        // to a task.
        drop(stale);
        Some(earliest == when && when != NEVER)
    }

    /// Records that an armed entry went stale (cancel, reset, new deadline).
    pub(crate) fn note_stale(&self) {
        self.zombies.fetch_add(1, Ordering::Relaxed);
    }

    /// Fires every timer due at `now`, after the heap lock is released.
    /// Returns how many live timers fired.
    pub(crate) fn run(&self, now: u64) -> usize {
        if self.next_when() > now {
            return 0;
        }
        let mut fired = 0;
        let mut due = Vec::new();
        loop {
            {
                let Some(mut heap) = self.heap.try_lock() else {
                    // Another thread is running or arming these timers.
                    break;
                };
                while due.len() < BATCH && heap.peek().is_some_and(|e| e.when <= now) {
                    due.extend(heap.pop());
                }
                let earliest = heap.peek().map_or(NEVER, |e| e.when);
                self.next_when.store(earliest, Ordering::Release);
            }
            // A short batch took everything due at `now`: done after it.
            let more = due.len() == BATCH;
            for entry in due.drain(..) {
                let live = entry.is_live();
                if !live {
                    let _ = self
                        .zombies
                        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |z| z.checked_sub(1));
                }
                entry.target.fire(entry.seq);
                fired += live as usize;
            }
            if !more {
                break;
            }
        }
        self.fired.fetch_add(fired as u64, Ordering::Relaxed);
        fired
    }

    /// Runtime shutdown: closes the heap (later [`add`](Self::add)s are
    /// refused), takes every entry and lets each target decide
    /// ([`Fire::fire_at_shutdown`]): live sleeps complete now (their
    /// `Sleep`s are done), deadline timers are dropped (the descriptors
    /// themselves are failed by the poller's shutdown).
    pub(crate) fn fire_all_at_shutdown(&self) {
        self.take_all(|entry| entry.target.fire_at_shutdown(entry.seq));
    }

    /// Takes every entry out (O(1) under the lock, no list built: see
    /// pages.rs) and closes the heap, then hands each entry to `f` without
    /// the lock, in array order, which is roughly the order they were
    /// armed.
    fn take_all(&self, f: impl FnMut(TimerEntry<T>)) {
        let all = {
            let mut heap = self.heap.lock();
            self.closed.store(true, Ordering::Relaxed);
            self.next_when.store(NEVER, Ordering::Release);
            self.zombies.store(0, Ordering::Relaxed);
            heap.take_all()
        };
        all.into_iter().for_each(f);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    /// A target that records whether it fired.
    #[derive(Debug, Default)]
    struct TestTimer {
        seq: AtomicU64,
        fired: AtomicBool,
    }

    impl TestTimer {
        fn has_fired(&self) -> bool {
            self.fired.load(Ordering::SeqCst)
        }
    }

    impl Fire for Arc<TestTimer> {
        fn is_live(&self, seq: u64) -> bool {
            self.seq.load(Ordering::Acquire) == seq
        }
        fn fire(self, seq: u64) {
            if self.is_live(seq) {
                self.fired.store(true, Ordering::SeqCst);
            }
        }
        fn fire_at_shutdown(self, seq: u64) {
            self.fire(seq);
        }
    }

    fn sleep_entry(when: u64) -> (Arc<TestTimer>, TimerEntry<Arc<TestTimer>>) {
        let t = Arc::new(TestTimer::default());
        let e = TimerEntry {
            when,
            seq: 0,
            target: t.clone(),
        };
        (t, e)
    }

    #[test]
    fn fires_due_timers_only() {
        let ts = Timers::default();
        let (a, ea) = sleep_entry(10);
        let (b, eb) = sleep_entry(20);
        assert_eq!(ts.add(eb), Some(true));
        assert_eq!(ts.add(ea), Some(true));
        assert_eq!(ts.next_when(), 10);
        assert_eq!(ts.run(15), 1);
        assert!(a.has_fired());
        assert!(!b.has_fired());
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
        assert_eq!(ts.run(4000), 500);
        for (i, t) in all.iter().enumerate() {
            assert_eq!(t.has_fired(), i % 2 == 1, "timer {i}");
        }
    }

    #[test]
    fn an_entry_armed_after_the_shutdown_sweep_is_not_kept() {
        let ts = Timers::default();
        let (early, e) = sleep_entry(10);
        ts.add(e);
        ts.fire_all_at_shutdown();
        assert!(early.has_fired(), "the sweep fires what it finds");
        // An arming that looked before the sweep and pushes after it (a
        // worker preempted in between, or detached inside a task's poll).
        let (late, e) = sleep_entry(10);
        assert_eq!(ts.add(e), None, "refused");
        assert_eq!(ts.len(), 0, "nothing runs this heap's timers any more");
        assert_eq!(Arc::strong_count(&late), 1, "the late entry is dropped");
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
        assert_eq!(ts.run(NEVER - 1), 1_000_000);
        assert!(timers.iter().all(|t| t.has_fired()));
    }
}
