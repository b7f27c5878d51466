//! What a P's timer fires. The heap (`time::timers`) only orders entries;
//! a [`TimerTarget`] says what an entry does, as Go's `f`/`arg` do: fire a
//! `Sleep`'s timer (its own or its task's header timer, behind `Sleep`,
//! `Timeout` and `Interval`; sleep_timer.rs), or expire a descriptor's
//! deadline. The choice between the two lives here, with the
//! scheduler that owns the heaps, not in `time/` or the poller.

use super::sleep_timer::TimerRef;
use crate::poller::descriptor::{DeadlineMode, DescPtr};
use crate::time::timers::{Fire, Timers};

/// The timers of one P.
pub(crate) type PTimers = Timers<TimerTarget>;

/// What a heap entry fires.
#[derive(Debug)]
pub(crate) enum TimerTarget {
    /// A `Sleep` (also behind `Timeout` and `Interval`): its own timer,
    /// or its task's header timer (the reference keeps either alive).
    Sleep(TimerRef),
    /// A descriptor's read, write or combined deadline.
    Deadline(DescPtr, DeadlineMode),
}

impl Fire for TimerTarget {
    fn is_live(&self, seq: u64) -> bool {
        match self {
            TimerTarget::Sleep(t) => t.is_current(seq),
            TimerTarget::Deadline(pd, mode) => pd.get().deadline_seq_matches(*mode, seq),
        }
    }

    fn fire(self, seq: u64) {
        match self {
            // `t` (and so the task it may keep alive) drops after the fire.
            TimerTarget::Sleep(t) => t.fire(seq),
            TimerTarget::Deadline(pd, mode) => {
                if let Some(w) = pd.get().fire_deadline(mode, seq) {
                    w.wake_all();
                }
            }
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
