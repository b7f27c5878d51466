//! Thread-local scheduling context: which runtime this thread belongs to,
//! and, on worker threads, which M it is and which P it holds.
//!
//! Two kinds of threads run goro code:
//! - **workers** (Ms): [`WorkerContext`] lives on the M's stack for its whole
//!   life and is reachable through [`with_worker`]. Wakes on a worker go to
//!   its P's `runnext`/local queue, or into `batch` while the M is turning
//!   a netpoll result into runnable tasks (so one netpoll's tasks are
//!   injected together, with one wake-up).
//! - **entered** threads (inside `Runtime::block_on`): only the runtime is
//!   known; wakes go through the global queue.
//!
//! Anything that needs "the current runtime" (spawn, timers, sockets) asks
//! [`current`], which falls back to the default runtime.

use super::ids::PId;
use super::machine::Machine;
use super::{Shared, TaskMeta};
use async_task::Runnable;
use std::cell::{Cell, RefCell};
use std::sync::Arc;

/// The context of a worker thread (an M).
#[derive(Debug)]
pub(crate) struct WorkerContext {
    /// The runtime.
    pub(crate) shared: Arc<Shared>,
    /// This M.
    pub(crate) machine: Arc<Machine>,
    /// The P this M holds, if any.
    pub(crate) p: Cell<Option<PId>>,
    /// While `Some`, tasks woken on this thread are collected here instead
    /// of queued (netpoll batches).
    pub(crate) batch: RefCell<Option<Vec<Runnable<TaskMeta>>>>,
    /// The emptied buffer of the last batch, reused by the next one, so
    /// netpolls allocate nothing once it has grown.
    pub(crate) batch_buf: RefCell<Vec<Runnable<TaskMeta>>>,
    /// Consecutive tasks taken from `runnext`, to bound LIFO starvation.
    pub(crate) lifo_streak: Cell<u32>,
    /// The running task gave the P away (`block_in_place`).
    pub(crate) handed_off: Cell<bool>,
    /// During the running poll a task parked on I/O and `ensure_poller`
    /// woke no M, because this M, holding its P with nothing queued, would
    /// poll as soon as the poll returned. Queuing a task on the P later in
    /// the same poll breaks that promise: the queuing wakes an M instead
    /// (ready.rs). Cleared before every poll and when the M releases or
    /// loses its P.
    pub(crate) owes_netpoll: Cell<bool>,
}

impl WorkerContext {
    /// This M takes P `pid` as its own (Go's `wirep`).
    pub(crate) fn wire_p(&self, pid: PId) {
        // Go throws if an M that holds a P acquires another.
        debug_assert!(self.p.get().is_none(), "an M took a second P");
        self.p.set(Some(pid));
    }
}

thread_local! {
    static WORKER: Cell<*const WorkerContext> = const { Cell::new(std::ptr::null()) };
    static ENTERED: RefCell<Option<Arc<Shared>>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's worker context, if it is a worker.
pub(crate) fn with_worker<R>(f: impl FnOnce(Option<&WorkerContext>) -> R) -> R {
    let ptr = WORKER.try_with(|w| w.get()).unwrap_or(std::ptr::null());
    // SAFETY: a non-null pointer was installed by `set_worker` and points to
    // a context on the M's stack that outlives every use (it is cleared
    // before the context is dropped).
    f(unsafe { ptr.as_ref() })
}

/// Installs `ctx` as this thread's worker context until the guard drops.
pub(crate) fn set_worker(ctx: &WorkerContext) -> impl Drop + use<> {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            let _ = WORKER.try_with(|w| w.set(std::ptr::null()));
        }
    }
    WORKER.with(|w| w.set(ctx));
    Reset
}

/// The runtime this thread runs in, if any: the one entered by `block_on`
/// (which may differ from the worker's own, when a task calls another
/// runtime's `block_on`), else the worker's.
pub(crate) fn current() -> Option<Arc<Shared>> {
    if let Some(s) = ENTERED.try_with(|e| e.borrow().clone()).ok().flatten() {
        return Some(s);
    }
    with_worker(|w| w.map(|w| w.shared.clone()))
}

/// Marks this thread as running inside `shared` until the guard drops
/// (nesting restores the previous runtime).
pub(crate) fn enter(shared: Arc<Shared>) -> EnterGuard {
    let prev = ENTERED.with(|e| e.borrow_mut().replace(shared));
    EnterGuard { prev }
}

/// Restores the previously entered runtime on drop.
#[derive(Debug)]
pub(crate) struct EnterGuard {
    prev: Option<Arc<Shared>>,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let prev = self.prev.take();
        let _ = ENTERED.try_with(|e| *e.borrow_mut() = prev);
    }
}
