//! The blocking pool: threads that run `spawn_blocking` closures, apart
//! from the workers so a blocking closure never holds a P.
//!
//! Threads are started on demand up to `max_blocking_threads` (default
//! 512); beyond that, closures queue until a thread frees up. A thread idle
//! for `keep_alive` (default 10 s) exits. Threads are named
//! `goro-blocking-N`. Each closure runs inside a task, so a panic is caught
//! into the `JoinHandle`'s `JoinError` and never kills the pool thread.
//!
//! Shutdown cancels closures that have not started (their `JoinHandle`s
//! report cancellation); running ones are waited for as the shutdown asks
//! ([`Pool::wait_threads_exit`]: without limit when a runtime is dropped,
//! up to a deadline for `shutdown_timeout`, not at all for
//! `shutdown_background`); threads still running then are detached and
//! exit when their closure returns.
//!
//! # Promised threads
//!
//! A closure pushed while a thread waits is *promised* that thread: the
//! push moves one thread from `idle` to `notified` before signalling the
//! condition variable, so the next push no longer counts it and starts (or
//! signals) another thread. Every waiting thread is counted exactly once in
//! `idle + notified`; a thread leaving its wait takes a pending
//! notification if there is one (whichever thread wakes first serves the
//! promise; the queue is checked before waiting again), else leaves `idle`.
//! So a closure never waits behind another closure for a thread that was
//! already promised — the deadlock when the first closure waits for the
//! second.

use super::{Shared, SpawnedTask, Task, TaskMeta};
use crate::sync::{Condvar, Mutex, MutexGuard};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

thread_local! {
    /// The pool this thread belongs to (null on other threads).
    static POOL_THREAD: std::cell::Cell<*const Pool> = const { std::cell::Cell::new(std::ptr::null()) };
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<Task>,
    /// The closures pool threads are running now (task dumps).
    running: Vec<Running>,
    threads: usize,
    /// Waiting threads not promised to a queued closure.
    idle: usize,
    /// Waiting threads promised to a queued closure (signalled, not yet
    /// awake); see the module docs.
    notified: usize,
    shutdown: bool,
}

/// A closure a pool thread is running: its task's metadata, kept alive by
/// the waker (the task's allocation lives while any waker does), so a dump
/// may read it under the pool lock.
#[derive(Debug)]
struct Running {
    meta: *const TaskMeta,
    _alive: std::task::Waker,
}

// SAFETY: `meta` points into a task header, which is Sync (`TaskMeta` is an
// Arc, atomics and immutable data), kept alive by `_alive`, and only read
// under the pool lock.
unsafe impl Send for Running {}

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    state: Mutex<State>,
    cv: Condvar,
    spawned: AtomicUsize,
}

impl Pool {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// Live pool threads.
    pub(crate) fn threads(&self) -> usize {
        self.lock().threads
    }

    /// Idle pool threads (waiting, whether or not promised to a closure).
    pub(crate) fn idle_threads(&self) -> usize {
        let st = self.lock();
        st.idle + st.notified
    }

    /// Closures waiting for a thread.
    pub(crate) fn queued(&self) -> usize {
        self.lock().queue.len()
    }

    /// Calls `f` with the metadata of every closure the pool runs
    /// (`running: true`) or holds queued, under the pool lock (task dumps).
    pub(crate) fn for_each(&self, mut f: impl FnMut(&TaskMeta, bool)) {
        let st = self.lock();
        for r in &st.running {
            // SAFETY: `r._alive` keeps the task's allocation, which holds
            // the metadata, alive while the entry is in the list.
            f(unsafe { &*r.meta }, true);
        }
        for t in &st.queue {
            f(t.metadata(), false);
        }
    }

    /// After `shutdown`: waits until every pool thread has exited (running
    /// closures have returned), or until `deadline` (`None`: no limit);
    /// threads still running then are detached. A pool thread calling this
    /// (a closure dropping its own runtime) does not wait for itself.
    /// Returns true if no other pool thread is left.
    pub(crate) fn wait_threads_exit(&self, deadline: Option<std::time::Instant>) -> bool {
        let me = usize::from(POOL_THREAD.with(|p| std::ptr::eq(p.get(), self)));
        let mut pause = std::time::Duration::from_micros(50);
        loop {
            let st = self.lock();
            if st.threads <= me {
                return true;
            }
            if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                return false;
            }
            drop(st);
            self.cv.notify_all();
            let pause_until = deadline.map_or(pause, |d| {
                d.saturating_duration_since(std::time::Instant::now())
                    .min(pause)
            });
            std::thread::sleep(pause_until);
            pause = (pause * 2).min(std::time::Duration::from_millis(5));
        }
    }

    /// Cancels queued closures and tells idle threads to exit.
    pub(crate) fn shutdown(&self) {
        let queued = {
            let mut st = self.lock();
            st.shutdown = true;
            std::mem::take(&mut st.queue)
        };
        self.cv.notify_all();
        drop(queued);
    }

    fn push(&self, shared: &Shared, task: Task) {
        let mut st = self.lock();
        if st.shutdown {
            drop(st);
            drop(task);
            return;
        }
        st.queue.push_back(task);
        if st.idle > 0 {
            // Promise one waiting thread to this closure.
            st.idle -= 1;
            st.notified += 1;
            drop(st);
            self.cv.notify_one();
            return;
        }
        if st.threads >= shared.config.max_blocking_threads {
            return; // queued until a thread frees up
        }
        st.threads += 1;
        drop(st);
        let n = self.spawned.fetch_add(1, Ordering::Relaxed);
        let me = shared.arc();
        let mut builder = std::thread::Builder::new().name(format!("goro-blocking-{n}"));
        if let Some(size) = shared.config.stack_size {
            builder = builder.stack_size(size);
        }
        if builder.spawn(move || me.blocking.run(&me)).is_err() {
            self.lock().threads -= 1;
            // The task stays queued; an existing thread (if any) will take it.
        }
    }

    /// A pool thread's loop.
    fn run(&self, shared: &Shared) {
        let _enter = super::context::enter(shared.arc());
        POOL_THREAD.with(|p| p.set(self));
        let keep_alive = shared.config.keep_alive;
        let mut st = self.lock();
        loop {
            if let Some(task) = st.queue.pop_front() {
                let meta: *const TaskMeta = task.metadata();
                st.running.push(Running {
                    meta,
                    _alive: task.waker(),
                });
                drop(st);
                // A closure is no cooperative task: goro futures a nested
                // executor polls in it must never run out of budget.
                crate::scheduler::budget::unconstrain();
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| task.run()));
                st = self.lock();
                let i = st.running.iter().position(|r| std::ptr::eq(r.meta, meta));
                let done = i.map(|i| st.running.swap_remove(i));
                // Dropping the last waker may free the task, and with it
                // the last reference to the runtime that owns this lock.
                drop(st);
                drop(done);
                st = self.lock();
                continue;
            }
            if st.shutdown {
                break;
            }
            st.idle += 1;
            let (guard, timed_out) = self.cv.wait_timeout(st, keep_alive);
            st = guard;
            if st.notified > 0 {
                // Serve a promise (this thread or another was signalled;
                // either way one waiter fewer is idle, and the queue is
                // checked before waiting again).
                st.notified -= 1;
            } else {
                st.idle -= 1;
            }
            if timed_out && st.queue.is_empty() {
                break;
            }
        }
        st.threads -= 1;
    }
}

/// Runs `f` on the blocking pool of `shared`.
pub(crate) fn spawn_blocking<F, R>(
    shared: &Arc<Shared>,
    f: F,
    location: &'static std::panic::Location<'static>,
) -> SpawnedTask<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    // Unregistered; its timer is never claimed (a blocking closure polls
    // no `Sleep` as a task).
    let meta = TaskMeta::new(shared, None, location);
    let (runnable, task) = async_task::Builder::new()
        .metadata(meta)
        .propagate_panic(true)
        .spawn(
            // A closure cancelled before it started drops its captures off
            // any poll: see drop_contained.rs.
            move |_: &TaskMeta| super::drop_contained::DropContained::new(async move { f() }),
            schedule_blocking,
        );
    runnable.schedule();
    task
}

fn schedule_blocking(task: Task) {
    let shared = task.metadata().shared.clone();
    shared.blocking.push(&shared, task);
}
