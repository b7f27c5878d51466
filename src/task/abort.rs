//! [`AbortHandle`]: cancelling a task without owning its output.
//!
//! An `AbortHandle` refers to a task through a type-erased target, so it
//! is not generic over the task's output and can be stored anywhere. The
//! target decides what aborting means (for a [`JoinSet`] entry: abort the
//! task and tell the set, so `join_next` reports the cancellation; for a
//! `JoinHandle`'s shared state: abort as `JoinHandle::abort` does).
//!
//! [`JoinSet`]: super::JoinSet

use std::fmt;
use std::sync::Arc;

/// What an [`AbortHandle`] acts on.
pub(crate) trait AbortTarget: Send + Sync {
    fn abort(&self);
    fn is_finished(&self) -> bool;
    fn id(&self) -> super::Id;
}

/// Cancels a task from anywhere, without owning its output — what
/// [`JoinSet::spawn`](super::JoinSet::spawn) and
/// [`JoinHandle::abort_handle`](super::JoinHandle::abort_handle) return.
/// Cloning is cheap; dropping it does nothing to the task.
///
/// ```
/// # goro::block_on(async {
/// let mut set = goro::task::JoinSet::new();
/// let handle = set.spawn(std::future::pending::<()>());
/// handle.abort();
/// assert!(set.join_next().await.unwrap().unwrap_err().is_cancelled());
/// assert!(handle.is_finished());
/// # });
/// ```
#[derive(Clone)]
pub struct AbortHandle {
    target: Arc<dyn AbortTarget>,
}

impl AbortHandle {
    pub(crate) fn new(target: Arc<dyn AbortTarget>) -> AbortHandle {
        AbortHandle { target }
    }

    /// Cancels the task, as [`JoinHandle::abort`](super::JoinHandle::abort)
    /// does: its future is dropped at its next scheduling point and its
    /// result becomes a cancelled [`JoinError`](super::JoinError). A task
    /// that already finished keeps its output.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let mut set = goro::task::JoinSet::new();
    /// let slow = set.spawn(goro::time::sleep(std::time::Duration::from_secs(60)));
    /// slow.abort();
    /// assert!(set.join_next().await.unwrap().unwrap_err().is_cancelled());
    /// # });
    /// ```
    pub fn abort(&self) {
        self.target.abort();
    }

    /// True once the task has finished (completed, panicked or been
    /// cancelled).
    ///
    /// ```
    /// # goro::block_on(async {
    /// let mut set = goro::task::JoinSet::new();
    /// let h = set.spawn(async { 1 });
    /// set.join_next().await;
    /// assert!(h.is_finished());
    /// # });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.target.is_finished()
    }

    /// The task's [`Id`](super::Id).
    ///
    /// ```
    /// # goro::block_on(async {
    /// let mut set = goro::task::JoinSet::new();
    /// let h = set.spawn(async { goro::task::id() });
    /// let id = set.join_next().await.unwrap().unwrap();
    /// assert_eq!(h.id(), id);
    /// # });
    /// ```
    pub fn id(&self) -> super::Id {
        self.target.id()
    }
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortHandle")
            .field("id", &self.id())
            .field("finished", &self.is_finished())
            .finish()
    }
}
