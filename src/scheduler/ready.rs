//! Where a woken task goes (Go's `ready` and `runqput`).
//!
//! - woken on a worker that holds a P, by the task that P is running: into
//!   `runnext` (the task displaced from `runnext` goes to the back of the
//!   local queue and an idle M is woken, since the queue grew; an idle M
//!   is woken too if this poll parked a task on I/O counting on this M to
//!   poll next, see `ensure_poller` in wake.rs);
//! - a task that woke itself (`yield_now`): back of the local queue;
//! - woken while the worker collects a netpoll batch: into the batch;
//! - woken on a worker whose P was handed away while its task's poll was
//!   stuck (or given away by `block_in_place`): the global queue, then
//!   `wakep` — the thread no longer owns a P (see `ownership.rs`);
//! - anywhere else (other threads, sysmon, timers fired off-worker): the
//!   global queue, then `wakep`.
//!
//! Once shutdown has drained the queues (`drained`, shutdown.rs), a late
//! wake drops its task instead: nobody would run it again.

use super::context::{self, WorkerContext};
use super::ids::PId;
use super::ownership;
use super::processor::{self, Processor};
use super::runqueue;
use super::{Shared, Task};
use async_task::ScheduleInfo;
use std::sync::Arc;
use std::sync::atomic::Ordering;

impl Shared {
    /// A task woke on this runtime's worker thread `w`: onto its P if the
    /// thread still owns one, else the global queue (ownership.rs).
    fn schedule_local(&self, w: &WorkerContext, task: Task, info: ScheduleInfo) {
        if let Some(batch) = w.batch.borrow_mut().as_mut() {
            batch.push(task);
            return;
        }
        let Some(pid) = w.p.get() else {
            return self.schedule_remote(task);
        };
        if self.drained.load(Ordering::Acquire) {
            // A worker detached at shutdown finished its poll late: nobody
            // will run this task again; dropping it cancels it.
            drop(task);
            return;
        }
        let p = &self.ps[pid];
        let mut task = Some(task);
        let published = p.owner.publish_as(w.machine.id, || {
            let Some(task) = task.take() else { return };
            if info.woken_while_running {
                self.push_local(p, task);
                self.wakep();
            } else if let Some(old) = p.put_runnext(task) {
                self.push_local(p, old);
                self.wakep();
            } else if w.owes_netpoll.replace(false) {
                // A task of this poll parked on I/O counting on this M to
                // poll next (`ensure_poller`); the task just queued runs
                // first, so some other M must poll meanwhile.
                self.wakep();
            }
        });
        match published {
            ownership::Published::Owned => {}
            // The P was taken while we published: its new owner may have
            // looked already and released it, so make sure an M looks.
            ownership::Published::LostMeanwhile => self.wakep(),
            ownership::Published::NotOwner => {
                // sysmon handed this thread's P away while its task's poll
                // was stuck (Go's M in a syscall): the P belongs to another
                // M or sits idle, so the task goes where any M will find it.
                if let Some(task) = task {
                    return self.schedule_remote(task);
                }
            }
        }
        self.drop_if_drained();
    }

    /// A task woke anywhere else: global queue, then wake an M.
    pub(crate) fn schedule_remote(&self, task: Task) {
        if self.drained.load(Ordering::Acquire) {
            // Nobody will ever run it; dropping it cancels the task.
            drop(task);
            return;
        }
        self.global.push(task);
        if !self.is_shutdown() {
            self.wakep();
        }
        self.drop_if_drained();
    }

    /// Pairs with `drain`: a task pushed while shutdown finished draining
    /// (the push and the `drained` flag raced) is dropped here, by whoever
    /// pushed it, instead of staying queued forever.
    fn drop_if_drained(&self) {
        if self.drained.load(Ordering::SeqCst) {
            self.drop_queued();
        }
    }

    /// Appends to P's local queue; when it is full, moves half of it (and
    /// `task`) to the global queue (Go's `runqputslow`).
    pub(crate) fn push_local(&self, p: &Processor, task: Task) {
        if let Err(task) = p.runq.push(task) {
            processor::PCounters::bump(&p.counters.overflows);
            let mut batch = Vec::with_capacity(runqueue::CAPACITY / 2 + 1);
            batch.extend(std::iter::from_fn(|| p.runq.pop()).take(runqueue::CAPACITY / 2));
            batch.push(task);
            self.global.push_batch(batch);
        }
    }

    /// Moves tasks made runnable together (a netpoll batch; `tasks` is left
    /// empty, its buffer kept for the next batch) to P `pid` if there is
    /// one, else to the global queue. What P's local queue cannot hold goes
    /// to the global queue behind it (Go's `runqputbatch`): unlike
    /// `push_local`'s overflow, this never moves tasks queued earlier behind
    /// later ones.
    ///
    /// Wakes an M if more than `kept` tasks were injected: `kept` is how
    /// many of them the calling M, which holds `pid`, is about to run itself
    /// (1 for an M that leaves the poller with a P and nothing else to do:
    /// a lone ready task needs no second thread, and waking one only for it
    /// to find nothing and park again costs two futex calls and two context
    /// switches per blocking poll).
    pub(crate) fn inject(&self, pid: Option<PId>, tasks: &mut Vec<Task>, kept: usize) {
        let n = tasks.len();
        let mut rest = Vec::new();
        for t in tasks.drain(..) {
            match pid {
                Some(pid) => rest.extend(self.ps[pid].runq.push(t).err()),
                None => rest.push(t),
            }
        }
        if !rest.is_empty() {
            self.global.push_batch(rest);
        }
        if n > kept {
            self.wakep();
        }
    }

    /// True if any queue holds a task (the idle re-check).
    pub(crate) fn any_tasks(&self) -> bool {
        !self.global.is_empty() || self.ps.iter().any(Processor::has_tasks)
    }
}

/// The schedule function of every task (async-task calls it on wake).
pub(super) fn schedule_task(task: Task, info: ScheduleInfo) {
    task.metadata().record.queued();
    let shared = Arc::as_ptr(&task.metadata().shared);
    context::with_worker(|w| match w {
        Some(w) if std::ptr::eq(Arc::as_ptr(&w.shared), shared) => {
            w.shared.schedule_local(w, task, info)
        }
        _ => {
            // Keep the runtime alive while we use it: once the task is
            // queued, another thread may run and drop it (and its Arc).
            let shared = task.metadata().shared.clone();
            shared.schedule_remote(task);
        }
    });
}
