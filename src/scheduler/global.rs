//! The global run queue (Go's `sched.runq`): runnable tasks that no P's
//! local queue holds — woken off a worker thread, moved out of a full
//! local queue, or part of a netpoll batch no P had room for.
//!
//! As in Go it is a lock-protected FIFO (`sched.lock`), used in batches:
//! an overflowing P moves half its local queue in with one lock
//! ([`push_batch`](GlobalQueue::push_batch), Go's `runqputslow`), and a P
//! takes its share out with one lock ([`pop_batch`](GlobalQueue::pop_batch),
//! Go's `globrunqget`). The ring buffer keeps its capacity, so moving
//! tasks through the queue allocates nothing once it has grown. (An
//! unbounded lock-free list of blocks cost a CAS per task, and a block
//! allocated by the producing thread and freed by the consuming one per 31
//! tasks: with one worker spawning and another running, those frees queued
//! on the producer's malloc arena lock.)
//!
//! Invariant: `len` equals the buffer's length whenever the lock is free;
//! it is written only under the lock, so [`len`](GlobalQueue::len) and
//! [`is_empty`](GlobalQueue::is_empty) — checked on every scheduling round,
//! by idle re-checks and by sysmon — take no lock.

use crate::sync::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};

/// See the module docs.
#[derive(Debug)]
pub(crate) struct GlobalQueue<T> {
    queue: Mutex<VecDeque<T>>,
    len: AtomicUsize,
}

impl<T> Default for GlobalQueue<T> {
    fn default() -> Self {
        GlobalQueue {
            queue: Mutex::new(VecDeque::new()),
            len: AtomicUsize::new(0),
        }
    }
}

impl<T> GlobalQueue<T> {
    /// Appends one task.
    pub(crate) fn push(&self, task: T) {
        let mut q = self.queue.lock();
        q.push_back(task);
        // SeqCst, like every load: a pusher's store and an idle M's
        // re-check of the queues must not both miss each other (idle.rs).
        self.len.store(q.len(), Ordering::SeqCst);
    }

    /// Appends tasks in order, under one lock.
    pub(crate) fn push_batch(&self, tasks: impl IntoIterator<Item = T>) {
        let mut q = self.queue.lock();
        q.extend(tasks);
        self.len.store(q.len(), Ordering::SeqCst);
    }

    /// Takes the oldest task.
    pub(crate) fn pop(&self) -> Option<T> {
        if self.is_empty() {
            return None;
        }
        let mut q = self.queue.lock();
        let task = q.pop_front();
        self.len.store(q.len(), Ordering::SeqCst);
        task
    }

    /// Takes the oldest task to run now, and hands up to `share(len)` more
    /// (`len` counted after taking the first) to `keep`, in order, under one
    /// lock. A task `keep` refuses goes back to the front of the queue and
    /// ends the batch.
    pub(crate) fn pop_batch(
        &self,
        share: impl FnOnce(usize) -> usize,
        mut keep: impl FnMut(T) -> Result<(), T>,
    ) -> Option<T> {
        if self.is_empty() {
            return None;
        }
        let mut q = self.queue.lock();
        let first = q.pop_front();
        if first.is_some() {
            for _ in 0..share(q.len()) {
                let Some(t) = q.pop_front() else { break };
                if let Err(t) = keep(t) {
                    q.push_front(t);
                    break;
                }
            }
        }
        self.len.store(q.len(), Ordering::SeqCst);
        first
    }

    /// Number of queued tasks.
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::SeqCst)
    }

    /// True if no task is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn fifo_single_and_batched() {
        let q = GlobalQueue::default();
        assert!(q.is_empty());
        assert_eq!(q.pop(), None);
        q.push(1);
        q.push_batch([2, 3, 4, 5, 6]);
        assert_eq!(q.len(), 6);
        assert_eq!(q.pop(), Some(1));
        let mut kept = Vec::new();
        let first = q.pop_batch(
            |left| {
                assert_eq!(left, 4, "share sees the length after the first pop");
                2
            },
            |t| {
                kept.push(t);
                Ok(())
            },
        );
        assert_eq!(first, Some(2));
        assert_eq!(kept, [3, 4]);
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop(), Some(5));
        assert_eq!(q.pop(), Some(6));
        assert!(q.is_empty());
        assert_eq!(q.pop_batch(|_| 10, |_| Ok(())), None);
    }

    #[test]
    fn refused_task_goes_back_to_the_front() {
        let q = GlobalQueue::default();
        q.push_batch([1, 2, 3, 4]);
        let first = q.pop_batch(|n| n, |t| if t == 3 { Err(t) } else { Ok(()) });
        assert_eq!(first, Some(1));
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop(), Some(3), "the refused task keeps its place");
        assert_eq!(q.pop(), Some(4));
    }
}
