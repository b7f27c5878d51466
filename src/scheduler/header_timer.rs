//! The timer in every task's header (Go's `gp.timer`): one lock-free word,
//! so that a task that never sleeps pays 8 bytes for it, and a task that
//! sleeps in the usual way allocates nothing for the sleep.
//!
//! # The state word
//!
//! `state = seq << 2 | FIRED | CLAIMED`:
//!
//! - `seq` numbers the current arming; a heap entry carries the `seq` it
//!   was armed with, and one carrying another number is *stale*;
//! - `CLAIMED`: a `Sleep` holds the timer (at most one at a time);
//! - `FIRED`: the entry armed with `seq` fired (or shutdown fired it).
//!
//! The header timer stores no waker. The heap entry holds a clone of the
//! task's own waker (`TaskTimer` in sleep_timer.rs), which keeps the
//! header alive, and firing wakes the task through it. (A `NEVER` sleep
//! pushes no entry: it is claimed and released, never fired.) A `Sleep` may park
//! on the header timer only while it is polled with that same waker;
//! otherwise it moves to a timer of its own (below).
//!
//! # Transitions, and who makes them (as in Go's `netpoll.go`)
//!
//! - **claim** ([`HeaderTimer::claim`]): a `Sleep` arming inside its own
//!   task's poll, polled with the task's own waker. CAS sets `CLAIMED` if
//!   clear; the `seq` read by the CAS is the one the entry is armed with.
//! - **fire** ([`HeaderTimer::fire`]): the thread running the P's timers,
//!   or shutdown. CAS sets `FIRED` only if `seq` matches, `CLAIMED` is set
//!   and `FIRED` is clear; on success the caller wakes the task through the
//!   entry's waker, *after* the CAS, so a poll that saw `FIRED` clear and
//!   returned `Pending` is always polled again.
//! - **poll** (the claiming `Sleep`): `FIRED` with its `seq`: complete.
//!   Else, if its waker `will_wake` the task's own waker, `Pending`: the
//!   fire will wake that waker. Else (the `Sleep` moved to another task or
//!   is polled through a combinator that wraps the waker): **migrate**: CAS
//!   releases the timer only if it has not fired (if it has, the sleep is
//!   complete), then arms a timer of its own with the same deadline.
//! - **release** ([`HeaderTimer::release`]): the claiming `Sleep`, when it
//!   completes, is reset or dropped, on whatever thread that happens.
//!   Writes `seq + 1` with both flags clear: every entry in a heap becomes
//!   stale, and the timer is free for the task's next sleep. Only the
//!   holder changes `seq` and nobody else clears `CLAIMED`, so no compare
//!   is needed: a concurrent fire either set `FIRED` first (overwritten,
//!   and its wake is at worst spurious) or fails its CAS.
//!
//! A stale entry of an earlier arming (a `Sleep` dropped or reset before
//! firing: the lazy cancel leaves its entry in the heap) carries an old
//! `seq`, and every fire compares `seq` in the same CAS that sets `FIRED`,
//! so it can never mark a later arming fired: no `Sleep` completes before
//! its deadline. `seq` has 62 bits: it does not wrap.

use crate::sync::{AtomicU64, Ordering};

const CLAIMED: u64 = 1;
const FIRED: u64 = 2;
const SEQ_SHIFT: u32 = 2;

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct HeaderTimer {
    state: AtomicU64,
}

impl HeaderTimer {
    /// Claims the timer if free; returns the `seq` to arm with.
    #[inline]
    pub(crate) fn claim(&self) -> Option<u64> {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & CLAIMED != 0 {
                return None;
            }
            // Acquire: pairs with the previous holder's release (on
            // another thread if that `Sleep` moved).
            match self.state.compare_exchange_weak(
                s,
                s | CLAIMED,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(s >> SEQ_SHIFT),
                Err(now) => s = now,
            }
        }
    }

    /// True if an entry armed with `seq` is still current (a hint for the
    /// heap's lazy deletion; [`fire`](Self::fire) decides).
    #[inline]
    pub(crate) fn is_current(&self, seq: u64) -> bool {
        self.state.load(Ordering::Relaxed) >> SEQ_SHIFT == seq
    }

    /// The entry armed with `seq` is due: sets `FIRED` unless the timer
    /// was released or re-armed since (or already fired). True if it did:
    /// the caller then wakes the task.
    pub(crate) fn fire(&self, seq: u64) -> bool {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s >> SEQ_SHIFT != seq || s & FIRED != 0 || s & CLAIMED == 0 {
                return false;
            }
            // Release: the sleeper that sees `FIRED` sees the fire (and
            // the clock reading) that preceded it.
            match self.state.compare_exchange_weak(
                s,
                s | FIRED,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => s = now,
            }
        }
    }

    /// True if the arming `seq` (held by the caller) has fired.
    #[inline]
    pub(crate) fn has_fired(&self, seq: u64) -> bool {
        self.state.load(Ordering::Acquire) == (seq << SEQ_SHIFT | FIRED | CLAIMED)
    }

    /// Migrate's first half: releases the arming `seq` (held by the
    /// caller) only if it has not fired. False if it fired (the sleep is
    /// complete; the caller still holds the claim and releases it later).
    pub(crate) fn release_unfired(&self, seq: u64) -> bool {
        self.state
            .compare_exchange(
                seq << SEQ_SHIFT | CLAIMED,
                (seq + 1) << SEQ_SHIFT,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }

    /// The holder of arming `seq` is done with it: every entry armed so far
    /// goes stale and the timer is free again.
    #[inline]
    pub(crate) fn release(&self, seq: u64) {
        // A swap, not a store: both are correct under the C++ model (see
        // the module docs), but loom lets a plain store slip between the
        // read and the write of a concurrent CAS (tokio-rs/loom#254), and
        // the model should check the code that runs. It costs one locked
        // instruction per sleep, not per poll.
        self.state.swap((seq + 1) << SEQ_SHIFT, Ordering::Release);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_stale_entry_never_fires_a_later_arming() {
        let t = HeaderTimer::default();
        let first = t.claim().expect("free");
        assert_eq!(t.claim(), None, "claimed once at a time");
        t.release(first);
        let second = t.claim().expect("free again");
        assert_ne!(first, second);
        assert!(!t.is_current(first));
        assert!(!t.fire(first), "the stale entry fires nothing");
        assert!(!t.has_fired(second));
        assert!(t.fire(second));
        assert!(!t.fire(second), "fires once");
        assert!(t.has_fired(second));
        assert!(!t.release_unfired(second), "fired: not migrated");
        t.release(second);
        let third = t.claim().expect("free");
        assert!(t.release_unfired(third));
        assert!(!t.fire(third), "released: its entry is stale");
        assert!(t.claim().is_some());
    }

    #[test]
    fn a_task_header_timer_is_one_word() {
        assert_eq!(size_of::<HeaderTimer>(), 8);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;
    use loom::sync::atomic::AtomicBool;

    /// The sleeper arms (claim), cancels (release) and re-arms, then polls;
    /// the timer thread fires the first arming's stale entry and then the
    /// current one. The second arming never completes by the stale
    /// fire, and a fire of the current arming is never lost: the sleeper
    /// sees it, or is woken after its poll.
    #[test]
    fn loom_header_timer_stale_fire_and_rearm() {
        loom::model(|| {
            let t = Arc::new(HeaderTimer::default());
            // The second arming's seq, published for the timer thread as
            // a heap entry would be; u64::MAX: not armed yet.
            let second_seq = Arc::new(AtomicU64::new(u64::MAX));
            let woken = Arc::new(AtomicBool::new(false));
            let first = t.claim().expect("free");
            let timer = {
                let (t, second_seq, woken) = (t.clone(), second_seq.clone(), woken.clone());
                loom::thread::spawn(move || {
                    // The stale entry of the first arming.
                    let stale_fired = t.fire(first);
                    let seq = second_seq.load(Ordering::Acquire);
                    if seq != u64::MAX && t.fire(seq) {
                        woken.store(true, Ordering::Release);
                        return (stale_fired, true);
                    }
                    (stale_fired, false)
                })
            };
            // The sleeper cancels the first arming, re-arms and polls.
            t.release(first);
            let second = t.claim().expect("released: free");
            assert_ne!(first, second);
            second_seq.store(second, Ordering::Release);
            let seen = t.has_fired(second);
            let (_stale_fired, current_fired) = timer.join().unwrap();
            // No early completion: only a fire of `second` completes it.
            assert!(!seen || current_fired, "completed by a stale entry");
            // Not lost: a fire of `second` is seen now, and was woken.
            if current_fired {
                assert!(t.has_fired(second));
                assert!(woken.load(Ordering::Acquire));
            } else {
                assert!(!t.has_fired(second));
            }
            t.release(second);
            assert!(t.claim().is_some());
        });
    }

    /// Migrate races a fire of the current arming: either the fire wins
    /// (migrate fails and the sleep is complete) or migrate wins (the fire
    /// fails, and nothing wakes the task for an arming it gave up).
    #[test]
    fn loom_header_timer_migrate_races_fire() {
        loom::model(|| {
            let t = Arc::new(HeaderTimer::default());
            let seq = t.claim().expect("free");
            let timer = {
                let t = t.clone();
                loom::thread::spawn(move || t.fire(seq))
            };
            let migrated = t.release_unfired(seq);
            let fired = timer.join().unwrap();
            assert!(migrated != fired, "exactly one wins");
            if !migrated {
                assert!(t.has_fired(seq));
                t.release(seq);
            }
            // Free again either way, for a fresh arming no stale fire hits.
            let next = t.claim().expect("free");
            assert!(!t.fire(seq));
            assert!(!t.has_fired(next));
        });
    }
}
