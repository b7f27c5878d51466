//! Spawning (Go's `newproc`): a future becomes a task of this runtime.
//!
//! Every task carries [`TaskMeta`] in its header: its runtime, and its
//! registry slot, which [`Tracked`] releases when the future completes or
//! is dropped (shutdown cancels whatever is still registered). A spawned
//! task is scheduled at once, as a woken one is (ready.rs); spawning into
//! a runtime that is shutting down cancels it.

use super::Shared;
use super::context;
use super::ids::PId;
use super::ready::schedule_task;
use super::registry::Key;
use crate::task::JoinHandle;
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
}

/// A runnable task of this runtime.
pub(crate) type Task = Runnable<TaskMeta>;

impl Shared {
    /// Spawns `future` as a task of this runtime (Go's `newproc`).
    pub(crate) fn spawn<F>(self: &Arc<Self>, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let hint = context::with_worker(|w| w.and_then(|w| w.p.get()))
            .map_or_else(thread_hint, PId::index);
        let meta = TaskMeta {
            shared: self.clone(),
            key: std::sync::atomic::AtomicU32::new(Key::pack(None)),
        };
        let (runnable, task) = async_task::Builder::new()
            .metadata(meta)
            .propagate_panic(true)
            .spawn(
                move |meta: &TaskMeta| Tracked {
                    future,
                    meta: meta as *const TaskMeta,
                },
                WithInfo(schedule_task),
            );
        let key = self.registry.insert(hint, runnable.waker());
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
        JoinHandle::new(task)
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
    /// or is dropped.
    struct Tracked<F> {
        #[pin]
        future: F,
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

// SAFETY: the raw pointer is to `TaskMeta`, which is Sync (an Arc<Shared>
// and an atomic key); the wrapper is Send whenever the future is.
unsafe impl<F: Send> Send for Tracked<F> {}

impl<F: Future> Future for Tracked<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().future.poll(cx)
    }
}
