//! The Ps' timer heaps seen as one: the earliest timer (the blocking
//! poll's timeout), running every due timer, and arming a timer on the
//! current P (the [`TimerSink`] descriptors and sleeps use).

use super::Shared;
use super::context;
use super::ids::PId;
use super::spawn::thread_hint;
use crate::poller::descriptor::TimerSink;
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
        self.ps
            .iter()
            .map(|p| p.timers.run(now, self.poller.waiters()))
            .sum()
    }
}

impl TimerSink for Shared {
    fn arm(&self, entry: TimerEntry) -> usize {
        let when = entry.when;
        let p = context::with_worker(|w| {
            w.filter(|w| std::ptr::eq(&*w.shared, self))
                .and_then(|w| w.p.get())
                .map(PId::index)
        })
        .unwrap_or_else(|| thread_hint() % self.ps.len());
        if self.ps[p].timers.add(entry) {
            self.wake_net_poller(when);
        }
        p
    }

    fn stale(&self, p: usize) {
        self.ps[p].timers.note_stale();
    }
}
