//! [`Builder`]: spawns a task with a name.

use super::JoinHandle;
use crate::runtime::Handle;
use std::future::Future;
use std::panic::Location;

/// Configures a task before spawning it: for now, its name, which stall
/// reports and task dumps print next to its id and spawn location.
///
/// ```
/// # goro::block_on(async {
/// let h = goro::task::Builder::new()
///     .name("conn-handler")
///     .spawn(async { 1 });
/// assert_eq!(h.await.unwrap(), 1);
/// # });
/// ```
#[derive(Debug, Default, Clone)]
pub struct Builder<'a> {
    name: Option<&'a str>,
}

impl<'a> Builder<'a> {
    /// A builder for an unnamed task.
    pub fn new() -> Builder<'a> {
        Builder { name: None }
    }

    /// Names the task (the name is copied at spawn).
    pub fn name(self, name: &'a str) -> Builder<'a> {
        Builder { name: Some(name) }
    }

    /// Spawns the task on the current runtime, or the default one outside
    /// any runtime (as [`spawn`](super::spawn)).
    #[track_caller]
    pub fn spawn<F>(self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_on(future, &Handle::current_or_default())
    }

    /// Spawns the task on the runtime of `handle`.
    ///
    /// ```
    /// let rt = goro::runtime::Runtime::new().unwrap();
    /// let h = goro::task::Builder::new()
    ///     .name("on-rt")
    ///     .spawn_on(async { 2 }, &rt.handle());
    /// assert_eq!(rt.block_on(h).unwrap(), 2);
    /// ```
    #[track_caller]
    pub fn spawn_on<F>(self, future: F, handle: &Handle) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        handle.spawn_at(future, self.name.map(Box::from), Location::caller())
    }
}
