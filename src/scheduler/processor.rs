//! A P (processor): the right to run tasks, and the work that comes with it.
//!
//! A P owns a local [run queue](super::runqueue), a LIFO slot `runnext`,
//! and a [timer set](crate::time::timers). An M (OS thread) must hold a P to
//! run tasks; the number of Ps is the runtime's parallelism (Go's
//! GOMAXPROCS), fixed at build time.
//!
//! # Ownership
//!
//! `owner` ([`Ownership`]) says which M runs this P; it changes only by
//! compare-and-swap, so exactly one M owns a P at a time (see
//! ownership.rs for the protocol with an M that sysmon hands off while it
//! is stuck in a poll). An M touches a P's state as its owner only after
//! checking the word; the run queue still accepts pushes and pops from any
//! thread, `runnext` is an atomic swap and timers are behind a mutex, so an
//! M that loses its P in the instant between that check and its next
//! step (sysmon handing off a P whose poll has just returned) can at
//! worst take one task from it, as a thief would.

use super::ids::PId;
use super::ownership::Ownership;
use super::runqueue::RunQueue;
use crate::sync::{AtomicPtr, Ordering};
use crate::time::timers::Timers;
use async_task::Runnable;
use std::ptr::NonNull;
use std::sync::atomic::AtomicU64;

use super::TaskMeta;

/// Per-P counters for metrics; written by the owning M with plain
/// load+store pairs (a lost increment during a hand-off is harmless).
#[derive(Debug, Default)]
pub(crate) struct PCounters {
    pub(crate) steals: AtomicU64,
    pub(crate) netpoll_nonblocking: AtomicU64,
    pub(crate) overflows: AtomicU64,
}

impl PCounters {
    /// Adds one to `c` without a locked instruction.
    pub(crate) fn bump(c: &AtomicU64) {
        c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Processor {
    /// Index in the runtime's P array.
    pub(crate) id: PId,
    /// Local run queue.
    pub(crate) runq: RunQueue<Runnable<TaskMeta>>,
    /// LIFO slot: the task most recently woken by this P's running task.
    runnext: AtomicPtr<()>,
    /// Timers armed on this P.
    pub(crate) timers: Timers,
    /// The owning M (see the module docs).
    pub(crate) owner: Ownership,
    /// Tasks polled on this P (Go's `schedtick`): paces the global-queue
    /// check, and metrics report it. (sysmon detects a stuck poll from the
    /// owner word, which changes with every poll.)
    pub(crate) schedtick: AtomicU64,
    /// Metrics.
    pub(crate) counters: PCounters,
}

impl Processor {
    pub(crate) fn new(id: PId) -> Processor {
        Processor {
            id,
            runq: RunQueue::new(),
            runnext: AtomicPtr::new(std::ptr::null_mut()),
            timers: Timers::default(),
            owner: Ownership::new(),
            schedtick: AtomicU64::new(0),
            counters: PCounters::default(),
        }
    }

    /// Puts `task` in `runnext`, returning the task it displaced.
    pub(crate) fn put_runnext(&self, task: Runnable<TaskMeta>) -> Option<Runnable<TaskMeta>> {
        let new = task.into_raw().as_ptr();
        // SeqCst: publishing work, before the pusher reads the owner word
        // or `npidle` (ownership.rs, idle.rs).
        let old = self.runnext.swap(new, Ordering::SeqCst);
        // SAFETY: every non-null pointer in `runnext` came from `into_raw`
        // and is taken out exactly once (by this swap or by `take_runnext`).
        NonNull::new(old).map(|p| unsafe { Runnable::from_raw(p) })
    }

    /// Takes the task in `runnext`, if any.
    pub(crate) fn take_runnext(&self) -> Option<Runnable<TaskMeta>> {
        if self.runnext.load(Ordering::Relaxed).is_null() {
            return None;
        }
        let old = self.runnext.swap(std::ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: as in `put_runnext`.
        NonNull::new(old).map(|p| unsafe { Runnable::from_raw(p) })
    }

    /// True if `runnext` holds a task (a racy snapshot).
    pub(crate) fn has_runnext(&self) -> bool {
        // SeqCst: the idle re-check half of the wake-up protocol (idle.rs).
        !self.runnext.load(Ordering::SeqCst).is_null()
    }

    /// True if this P has queued tasks (local queue or `runnext`).
    pub(crate) fn has_tasks(&self) -> bool {
        !self.runq.is_empty() || self.has_runnext()
    }
}

impl Drop for Processor {
    fn drop(&mut self) {
        drop(self.take_runnext());
    }
}
