//! What a P's timer fires. The heap (`time::timers`) only orders entries;
//! a [`TimerTarget`] says what an entry does, as Go's `f`/`arg` do: wake a
//! [`SleepTimer`] (behind `Sleep`, `Timeout` and `Interval`), or expire a
//! descriptor's deadline. The choice between the two lives here, with the
//! scheduler that owns the heaps, not in `time/` or the poller.

use crate::poller::descriptor::{DeadlineMode, DescPtr};
use crate::poller::slot::{Slot, Wait};
use crate::time::timers::{Fire, Timers};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The timers of one P.
pub(crate) type PTimers = Timers<TimerTarget>;

/// What a heap entry fires.
#[derive(Debug)]
pub(crate) enum TimerTarget {
    /// A `Sleep` (also behind `Timeout` and `Interval`).
    Sleep(Arc<SleepTimer>),
    /// A descriptor's read, write or combined deadline.
    Deadline(DescPtr, DeadlineMode),
}

impl Fire for TimerTarget {
    fn is_live(&self, seq: u64) -> bool {
        match self {
            TimerTarget::Sleep(t) => t.seq.load(Ordering::Acquire) == seq,
            TimerTarget::Deadline(pd, mode) => pd.get().deadline_seq_matches(*mode, seq),
        }
    }

    fn fire(self, seq: u64) {
        let wakers = match self {
            TimerTarget::Sleep(t) => {
                if t.seq.load(Ordering::Acquire) != seq {
                    return;
                }
                // A sleep's slot is no network waiter: its parking is not
                // counted.
                t.slot.unblock(true)
            }
            TimerTarget::Deadline(pd, mode) => pd.get().fire_deadline(mode, seq),
        };
        if let Some(w) = wakers {
            w.wake_all();
        }
    }

    fn fire_at_shutdown(self, seq: u64) {
        // Sleeps complete; deadline timers are dropped (the descriptors
        // themselves are failed by the poller's shutdown).
        if let TimerTarget::Sleep(_) = self
            && self.is_live(seq)
        {
            self.fire(seq);
        }
    }
}

/// The shared half of a `Sleep`: a sequence number (bumped to cancel) and a
/// slot the sleeping task parks in; firing the timer makes the slot ready.
#[derive(Debug, Default)]
pub(crate) struct SleepTimer {
    /// Current arming; entries with another number are stale.
    pub(crate) seq: AtomicU64,
    /// Ready once fired.
    slot: Slot,
}

impl SleepTimer {
    /// Parks `waker` until the timer fires; true if it already has.
    pub(crate) fn poll_fired(&self, waker: &std::task::Waker) -> bool {
        // Not a network waiter: the slot's parking is not counted.
        let (wait, _) = self.slot.poll_wait(waker, || false);
        match wait {
            Wait::Ready => true,
            Wait::Parked => false,
            Wait::Unblocked => false,
        }
    }
}
