//! Tasks: spawning, joining, yielding, and running blocking code.
//!
//! A task is goro's goroutine: a `Send + 'static` future scheduled on the
//! runtime's workers. [`spawn`] starts one and returns a [`JoinHandle`];
//! [`spawn_blocking`] runs a closure on the blocking pool;
//! [`block_in_place`] runs blocking code on the current worker after handing
//! its P to another thread (Go's `entersyscall`); [`yield_now`] gives other
//! tasks a turn. A [`JoinSet`] groups tasks, yields their results as
//! they finish and aborts the rest when dropped; an [`AbortHandle`]
//! cancels one of them.
//!
//! Every task has an [`Id`] ([`id()`] inside it, [`JoinHandle::id`]
//! outside), remembers where it was spawned, and can be named with a
//! [`Builder`]; [`Handle::dump`](crate::runtime::Handle::dump) lists the
//! live ones ([`TaskDump`]) and sysmon names a task that blocks its worker
//! ([`StallReport`]).

mod abort;
mod awaiter;
mod builder;
pub(crate) mod join;
#[cfg(all(test, not(loom)))]
mod join_lock_tests;
#[cfg(all(test, not(loom)))]
mod join_register_tests;
mod join_set;
mod yield_now;

pub use crate::taskinfo::{Id, StallReport, TaskDump, TaskInfo, TaskState, WaitingOn, id, try_id};
pub use abort::AbortHandle;
pub use builder::Builder;
pub use join::{JoinError, JoinHandle};
pub use join_set::JoinSet;
pub use yield_now::{YieldNow, yield_now};

use crate::runtime::Handle;
use std::future::Future;

/// Spawns a task on the current runtime, or on the default runtime when
/// called outside any runtime. The task starts running at once on some
/// worker; dropping the returned handle detaches it.
///
/// ```
/// # goro::block_on(async {
/// let h = goro::task::spawn(async { "done" });
/// assert_eq!(h.await.unwrap(), "done");
/// # });
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Handle::current_or_default().spawn(future)
}

/// Runs a blocking closure on the runtime's blocking pool (threads apart
/// from the workers) and returns a handle to its result. A panic in `f`
/// becomes a [`JoinError`].
///
/// ```
/// # goro::block_on(async {
/// let n = goro::task::spawn_blocking(|| std::fs::read_dir(".").map(|d| d.count()))
///     .await
///     .unwrap()
///     .unwrap();
/// assert!(n > 0);
/// # });
/// ```
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    Handle::current_or_default().spawn_blocking(f)
}

/// Runs blocking code on the current thread without stalling the runtime.
///
/// On a worker thread, the worker's P (its run queue and timers) is handed
/// to another thread *before* `f` runs, so every other task keeps running
/// (Go's `entersyscallblock`). When the task's poll returns, this thread
/// takes an idle P again or becomes a spare. Outside a worker, `f` simply
/// runs. A poll that blocks this way on purpose is not reported as a stall
/// (see [`StallReport`]).
///
/// ```
/// # goro::block_on(async {
/// let h = goro::spawn(async {
///     goro::task::block_in_place(|| std::thread::sleep(std::time::Duration::from_millis(5)));
///     1
/// });
/// assert_eq!(h.await.unwrap(), 1);
/// # });
/// ```
pub fn block_in_place<F, R>(f: F) -> R
where
    F: FnOnce() -> R,
{
    crate::scheduler::hand_off_current_p();
    // `f` blocks outside any goro poll: goro futures that a nested executor
    // polls in it are not budgeted (they would run dry and spin).
    let _budget = crate::scheduler::budget::PutBack::new();
    crate::scheduler::budget::unconstrain();
    f()
}
