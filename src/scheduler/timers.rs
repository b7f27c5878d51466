//! The Ps' timer heaps seen as one: the earliest timer (which bounds the
//! blocking poll), running every due timer, and arming a timer on the
//! current P. Sleeps arm through [`Shared::arm_sleep`], descriptors through
//! the [`TimerSink`] they are given; what an entry fires is in
//! timer_target.rs.

use super::Shared;
use super::context;
use super::ids::PId;
use super::sleep_timer::TimerRef;
use super::spawn::thread_hint;
use super::timer_target::TimerTarget;
use crate::poller::descriptor::{DeadlineMode, DescPtr, TimerSink};
use crate::time::clock::NEVER;
use crate::time::timers::TimerEntry;

impl Shared {
    /// Earliest timer across all Ps.
    pub(crate) fn earliest_timer(&self) -> u64 {
        self.ps
            .iter()
            .map(|p| p.timers.next_when())
            .min()
            .unwrap_or(NEVER)
    }

    /// Runs every due timer on every P. Returns how many fired.
    pub(crate) fn run_all_timers(&self, now: u64) -> usize {
        self.ps.iter().map(|p| p.timers.run(now)).sum()
    }

    /// Arms `timer` (whose current sequence number is `seq`) for `when`, on
    /// the current P's heap if this thread holds a P of this runtime, else
    /// on one picked by thread; returns that P's index, for
    /// [`timer_stale`](Self::timer_stale), or `None` if shutdown closed the
    /// heaps already (the entry is dropped; the sleep is complete).
    pub(crate) fn arm_sleep(&self, timer: TimerRef, seq: u64, when: u64) -> Option<usize> {
        self.arm(TimerEntry {
            when,
            seq,
            target: TimerTarget::Sleep(timer),
        })
    }

    /// Records that a timer armed on P `p` went stale (cancelled or reset).
    pub(crate) fn timer_stale(&self, p: usize) {
        self.ps[p].timers.note_stale();
    }

    /// Pushes `entry` on a P's heap (see [`arm_sleep`](Self::arm_sleep));
    /// `None` if shutdown closed the heaps.
    fn arm(&self, entry: TimerEntry<TimerTarget>) -> Option<usize> {
        let when = entry.when;
        let p = context::with_worker(|w| {
            w.filter(|w| std::ptr::eq(&*w.shared, self))
                .and_then(|w| w.p.get())
                .map(PId::index)
        })
        .unwrap_or_else(|| thread_hint() % self.ps.len());
        if self.ps[p].timers.add(entry)? {
            self.wake_net_poller(when);
        }
        Some(p)
    }
}

impl TimerSink for Shared {
    fn arm_deadline(&self, pd: DescPtr, mode: DeadlineMode, when: u64, seq: u64) -> usize {
        // Refused after shutdown: the poller's shutdown failed the
        // descriptor already, so nothing waits for its deadline. (A later
        // `stale` for P 0 then counts an entry the closed heap never holds.)
        self.arm(TimerEntry {
            when,
            seq,
            target: TimerTarget::Deadline(pd, mode),
        })
        .unwrap_or(0)
    }

    fn stale(&self, p: usize) {
        self.timer_stale(p);
    }
}
