//! Idle Ps and idle Ms: Go's `sched.pidle` / `sched.midle` under
//! `sched.lock`, plus the two counters the wake-up policy reads without the
//! lock (`npidle`, `nmspinning`).
//!
//! # Invariants (the lost-wakeup argument)
//!
//! - An M without a P is on the idle-M list, except while it is stuck in a
//!   task's poll after a hand-off (it then re-lists itself when the poll
//!   returns). Releasing a P and listing the M happen in one critical
//!   section, so a waker that finds an idle P always finds an M to give it.
//! - A waker publishes its work first, then reads `npidle`/`nmspinning`
//!   (SeqCst). An M going idle publishes `npidle` (and drops `nmspinning`)
//!   first, then re-checks every queue (SeqCst). So either the waker sees
//!   the idle P and starts an M, or the idling M sees the work.
//! - A listed M is woken by setting its `next_p` first and then either
//!   unparking it or, if it sits in `epoll_wait`, breaking the poller. The M
//!   sets `in_netpoll` before re-reading `next_p` and blocking, so one of
//!   the two sides always notices the other.

use super::ids::PId;
use super::machine::Machine;
use crate::sync::{Mutex, MutexGuard};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The lists guarded by the idle lock.
#[derive(Debug, Default)]
pub(crate) struct IdleLists {
    /// Idle Ps.
    pub(crate) ps: Vec<PId>,
    /// Ms without a P (parked, or blocked in the poller).
    pub(crate) ms: Vec<Arc<Machine>>,
    /// Live M threads (workers and spares).
    pub(crate) threads: usize,
}

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct Idle {
    lists: Mutex<IdleLists>,
    /// Idle Ps (readable without the lock).
    pub(crate) npidle: AtomicUsize,
    /// Ms looking for work to steal.
    pub(crate) nmspinning: AtomicUsize,
}

impl Idle {
    /// Takes the idle lock.
    pub(crate) fn lock(&self) -> MutexGuard<'_, IdleLists> {
        self.lists.lock()
    }

    /// Idle Ps right now.
    pub(crate) fn npidle(&self) -> usize {
        self.npidle.load(Ordering::SeqCst)
    }

    /// Spinning Ms right now.
    pub(crate) fn nmspinning(&self) -> usize {
        self.nmspinning.load(Ordering::SeqCst)
    }

    /// One spinning M stopped spinning (or a wake that counted one found
    /// no P for it). Returns the count before.
    pub(crate) fn stop_spinning(&self) -> usize {
        let before = self.nmspinning.fetch_sub(1, Ordering::SeqCst);
        // Go throws on a negative `nmspinning`.
        debug_assert!(before > 0, "nmspinning went negative");
        before
    }
}

impl IdleLists {
    /// Pushes an idle P (caller holds the lock and updates `npidle`).
    pub(crate) fn put_p(&mut self, idle: &Idle, p: PId) {
        debug_assert!(!self.ps.contains(&p), "a P listed idle twice");
        self.ps.push(p);
        idle.npidle.fetch_add(1, Ordering::SeqCst);
    }

    /// Pops an idle P.
    pub(crate) fn get_p(&mut self, idle: &Idle) -> Option<PId> {
        let p = self.ps.pop()?;
        idle.npidle.fetch_sub(1, Ordering::SeqCst);
        Some(p)
    }

    /// Removes `m` from the idle-M list; false if it was not listed.
    pub(crate) fn unlist_m(&mut self, m: &Machine) -> bool {
        match self.ms.iter().position(|x| std::ptr::eq(&**x, m)) {
            Some(i) => {
                self.ms.swap_remove(i);
                true
            }
            None => false,
        }
    }

    /// Pops an idle M, preferring one that is parked over the one blocked
    /// in the poller (waking a parked M costs a futex; breaking the poller
    /// costs a write and an extra `epoll_wait` round trip).
    pub(crate) fn get_m(&mut self) -> Option<Arc<Machine>> {
        let i = self
            .ms
            .iter()
            .rposition(|m| !m.in_netpoll())
            .or_else(|| self.ms.len().checked_sub(1))?;
        Some(self.ms.swap_remove(i))
    }
}
