//! Waking and starting Ms (Go's `wakep`, `startm`, `newm`: here
//! [`Shared::wakep`], [`Shared::start_m`], [`Shared::new_m`]), and making
//! sure some M wakes for new timers and I/O waiters (`wakeNetPoller`).
//!
//! New work calls [`Shared::wakep`]: if a P is idle and no M is spinning,
//! one idle M (or a new thread, if none is listed) is given an idle P and
//! spins for work. A P given to an M has its owner word set to that M
//! before the M is woken (ownership.rs); the idle lists' lost-wakeup
//! argument is in idle.rs.

use super::Shared;
use super::context;
use super::ids::{MId, PId};
use super::machine::{self, Machine};
use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;

impl Shared {
    /// Wakes an idle M to spin for work, unless one is already spinning or
    /// no P is idle.
    pub(crate) fn wakep(&self) {
        if self.idle.npidle() == 0 || self.idle.nmspinning() != 0 {
            return;
        }
        if self
            .idle
            .nmspinning
            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        self.start_m(None, true);
    }

    /// Gives P `p` (or an idle P) to an idle M, starting a spare M if none
    /// is listed (Go's `startm`). `spinning`: the caller incremented
    /// `nmspinning` for it.
    pub(crate) fn start_m(&self, p: Option<PId>, spinning: bool) {
        let mut lists = self.idle.lock();
        let pid = match p.or_else(|| lists.get_p(&self.idle)) {
            Some(pid) => pid,
            None => {
                drop(lists);
                if spinning {
                    self.idle.stop_spinning();
                }
                return;
            }
        };
        match lists.get_m() {
            Some(m) => {
                drop(lists);
                let taken = self.ps[pid].owner.transfer(None, Some(m.id));
                debug_assert!(taken, "an idle-listed P has no owner");
                m.hand_p(pid, spinning);
                m.wake(&self.poller);
            }
            None => {
                drop(lists);
                if self.is_shutdown() || self.new_m(pid, spinning).is_err() {
                    // No thread to run it (`new_m` left it unowned): the
                    // P goes back to the idle list.
                    let mut lists = self.idle.lock();
                    lists.put_p(&self.idle, pid);
                    drop(lists);
                    if spinning {
                        self.idle.stop_spinning();
                    }
                }
            }
        }
        self.sysmon.wake_if_sleeping();
    }

    /// Starts a new M thread that begins by running P `pid` (unowned), Go's
    /// `newm`. On error the P is left unowned.
    pub(super) fn new_m(&self, pid: PId, spinning: bool) -> io::Result<()> {
        let m = self.alloc_m();
        let taken = self.ps[pid].owner.transfer(None, Some(m.id));
        debug_assert!(taken, "a P being started has no owner");
        let id = m.id;
        self.spawn_m(m, pid, spinning).inspect_err(|_| {
            self.ps[pid].owner.transfer(Some(id), None);
        })
    }

    /// A fresh M with a new id, not yet running (Go's `allocm`).
    pub(crate) fn alloc_m(&self) -> Arc<Machine> {
        Arc::new(Machine::new(MId::nth(
            self.next_m_id.fetch_add(1, Ordering::Relaxed),
        )))
    }

    /// Starts the thread of M `m`, handing it P `pid` (whose `owner` the
    /// caller has already set to `m.id`).
    pub(crate) fn spawn_m(&self, m: Arc<Machine>, pid: PId, spinning: bool) -> io::Result<()> {
        m.hand_p(pid, spinning);
        let shared = self.arc();
        let mut builder = std::thread::Builder::new().name((self.config.thread_name)());
        if let Some(size) = self.config.stack_size {
            builder = builder.stack_size(size);
        }
        // Started and listed under the lock of the list that shutdown
        // takes to join, after it sets its flag: a thread is either on the
        // list or not started (a hand-off racing shutdown would otherwise
        // start one that nobody joins).
        let mut threads = self.threads.lock();
        if self.is_shutdown() {
            return Err(io::Error::other("goro runtime is shut down"));
        }
        self.idle.lock().threads += 1;
        let machine = m.clone();
        match builder.spawn(move || machine::run(shared, m)) {
            Ok(handle) => {
                threads.retain(|(h, _)| !h.is_finished());
                threads.push((handle, machine));
                Ok(())
            }
            Err(e) => {
                self.idle.lock().threads -= 1;
                Err(e)
            }
        }
    }
    /// A task just parked on a descriptor: make sure some M will poll for
    /// it. A worker of this runtime that holds a P with nothing queued will
    /// itself, as soon as this poll returns (its find-runnable loop polls
    /// before it goes idle, and the idle M that claims the poller role
    /// blocks in it), as Go's Ms do — unless the same poll then queues a
    /// task on the P, which wakes an M in its place (`owes_netpoll`,
    /// ready.rs). Any other thread (a `block_on` caller,
    /// a worker that lost its P, or one whose P has tasks to run first —
    /// a task woken into `runnext` wakes nobody, and may run long) wakes an
    /// idle M if none is blocked in the poller, since every M may be parked
    /// on its futex.
    pub(crate) fn ensure_poller(&self) {
        if self.polling.load(Ordering::SeqCst) {
            return;
        }
        // The owner word, not just the context's P: a worker inside
        // `block_in_place` (or whose stuck poll was handed off) keeps the
        // P's id but no longer owns it, and its M will not poll.
        // It then owes that poll: a task it queues on the P later in this
        // poll (which would run first, maybe for long) wakes an M instead
        // (`schedule_local`).
        let polls_next = context::with_worker(|w| {
            w.filter(|w| std::ptr::eq(&*w.shared, self))
                .and_then(|w| {
                    w.p.get().map(|pid| {
                        let p = &self.ps[pid];
                        let polls = p.owner.is_owned_by(w.machine.id) && !p.has_tasks();
                        w.owes_netpoll.set(polls);
                        polls
                    })
                })
                .unwrap_or(false)
        });
        if !polls_next {
            self.wakep();
        }
    }

    /// Go's `wakeNetPoller`: a timer for `when` was armed; make sure some M
    /// will wake up for it.
    pub(crate) fn wake_net_poller(&self, when: u64) {
        if self.polling.load(Ordering::SeqCst) {
            let until = self.poll_until.load(Ordering::SeqCst);
            if until == 0 || until > when {
                self.poller.wake();
            }
        } else {
            self.wakep();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::runtime::Builder;

    #[test]
    fn no_m_thread_starts_once_shutdown_has_begun() {
        let rt = Builder::new().worker_threads(1).build().unwrap();
        let shared = rt.handle().scheduler_for_tests();
        // As shutdown does first, before it takes the list of threads to
        // join: a hand-off (a task in `block_in_place`) that checked the
        // flag just before may get here now.
        shared.shutdown.store(true, Ordering::Release);
        let started = shared.spawn_m(shared.alloc_m(), PId::new(0), false);
        // For the real shutdown, which joins the threads.
        shared.shutdown.store(false, Ordering::Release);
        drop(rt);
        assert!(
            started.is_err(),
            "an M started after the shutdown flag: shutdown may have taken its join list already"
        );
    }
}
