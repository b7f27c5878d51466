//! Spawning (Go's `newproc`): a future becomes a task of this runtime.
//!
//! Every task carries [`TaskMeta`] in its header: its runtime, and its
//! registry slot, which [`Tracked`] releases when the future completes or
//! is dropped (shutdown cancels whatever is still registered). A spawned
//! task is scheduled at once, as a woken one is (ready.rs); spawning into
//! a runtime that is shutting down cancels it.

use super::Shared;
use super::context;
use super::drop_contained::DropContained;
use super::header_timer::HeaderTimer;
use super::ids::PId;
use super::ready::schedule_task;
use super::registry::Key;
use async_task::{Runnable, WithInfo};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

/// What every task carries in its header: its runtime, and its registry
/// slot (none for blocking-pool tasks).
#[derive(Debug)]
pub(crate) struct TaskMeta {
    pub(crate) shared: Arc<Shared>,
    /// Registry slot, packed (`Key::pack`); set right after the task is
    /// created, before it can run.
    pub(crate) key: std::sync::atomic::AtomicU32,
    /// Id, name, spawn site, state (for dumps and stall reports).
    pub(crate) record: crate::taskinfo::record::TaskRecord,
    /// The timer a `Sleep` polled inside this task borrows (Go's
    /// `gp.timer`; header_timer.rs), so a sleeping task is one allocation.
    pub(crate) sleep: HeaderTimer,
}

impl TaskMeta {
    /// The header of a new task of `shared`, named `name`, spawned at
    /// `location`: not registered yet, its timer free.
    pub(crate) fn new(
        shared: &Arc<Shared>,
        name: Option<Box<str>>,
        location: &'static std::panic::Location<'static>,
    ) -> TaskMeta {
        TaskMeta {
            shared: shared.clone(),
            key: std::sync::atomic::AtomicU32::new(Key::pack(None)),
            record: crate::taskinfo::record::TaskRecord::new(
                name,
                location,
                shared.sysmon.spawn_clock(),
            ),
            sleep: HeaderTimer::default(),
        }
    }
}

/// A runnable task of this runtime.
pub(crate) type Task = Runnable<TaskMeta>;

/// The other half of a spawned task: its output, or cancellation when
/// dropped (`task::JoinHandle` wraps it).
pub(crate) type SpawnedTask<T> = async_task::Task<T, TaskMeta>;

impl Shared {
    /// Spawns `future` as a task of this runtime (Go's `newproc`), named
    /// `name`, spawned at `location`. Dropping the returned task cancels
    /// it: callers wrap it in a `JoinHandle` (or detach it).
    pub(crate) fn spawn<F>(
        self: &Arc<Self>,
        future: F,
        name: Option<Box<str>>,
        location: &'static std::panic::Location<'static>,
    ) -> SpawnedTask<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let hint = context::with_worker(|w| w.and_then(|w| w.p.get()))
            .map_or_else(thread_hint, PId::index);
        let meta = TaskMeta::new(self, name, location);
        let (runnable, task) = async_task::Builder::new()
            .metadata(meta)
            .propagate_panic(true)
            .spawn(
                move |meta: &TaskMeta| Tracked {
                    future: DropContained::new(future),
                    meta: meta as *const TaskMeta,
                },
                WithInfo(schedule_task),
            );
        // SAFETY: the metadata is in the task's header, which the waker
        // keeps alive.
        let key = unsafe {
            self.registry
                .insert(hint, runnable.waker(), runnable.metadata())
        };
        runnable
            .metadata()
            .key
            .store(Key::pack(Some(key)), Ordering::Release);
        if self.is_shutdown() {
            // Spawning into a runtime that is shutting down cancels the task.
            drop(runnable);
        } else {
            runnable.schedule();
        }
        task
    }
}

/// A per-thread number used to spread registry shards and timer heaps.
pub(super) fn thread_hint() -> usize {
    thread_local! {
        static HINT: usize = {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            NEXT.fetch_add(1, Ordering::Relaxed)
        };
    }
    HINT.try_with(|h| *h).unwrap_or(0)
}

pin_project_lite::pin_project! {
    /// A spawned future that releases its registry slot when it completes
    /// or is dropped (and whose destructor cannot unwind: see
    /// drop_contained.rs).
    struct Tracked<F> {
        #[pin]
        future: DropContained<F>,
        // Points into the task header, which outlives the future.
        meta: *const TaskMeta,
    }

    impl<F> PinnedDrop for Tracked<F> {
        fn drop(this: Pin<&mut Self>) {
            let meta = this.meta;
            // SAFETY: the metadata lives in the task header, which is freed
            // only after the future has been dropped.
            let meta = unsafe { &*meta };
            if let Some(key) = Key::unpack(meta.key.load(Ordering::Acquire)) {
                meta.shared.registry.release(key);
            }
        }
    }
}

// SAFETY: the raw pointer is to `TaskMeta`, which is Sync (an Arc<Shared>,
// atomics and immutable data); the wrapper is Send whenever the future is.
unsafe impl<F: Send> Send for Tracked<F> {}

impl<F: Future> Future for Tracked<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let meta = *this.meta;
        // SAFETY: as in `drop`: the metadata outlives the future. The
        // record is the one in this task's `TaskMeta` (`enter_task_poll`'s
        // contract, which `claim_task_timer` in sleep_timer.rs relies on
        // to find the header), and `cx`'s waker is this task's own
        // (async-task polls the future with it), valid until this poll
        // returns: `Context` offers no way to swap it.
        // The record pointer is projected from `meta` itself, so it keeps
        // the provenance of the whole `TaskMeta`.
        let _current = unsafe {
            crate::taskinfo::record::enter_task_poll(&raw const (*meta).record, cx.waker())
        };
        this.future.poll(cx)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn task_metadata_stays_small() {
        // In every task's header: with async-task's own header and a tiny
        // future, 64 bytes keep a task allocation at 120 bytes, which
        // glibc serves from its fastbins (spawn-heavy code feels each word
        // here: issue 9's follow-up measured 13% more instructions per
        // spawn at 168 bytes).
        assert!(size_of::<TaskMeta>() <= 64, "{}", size_of::<TaskMeta>());
    }
}
