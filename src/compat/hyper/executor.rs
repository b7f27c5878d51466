//! hyper's `Executor` on goro: every future hyper hands over becomes a
//! detached goro task.
//!
//! hyper spawns background work it does not await itself: HTTP/2 connection
//! drivers and streams on both sides, and the client's connection tasks in
//! `hyper_util`'s legacy `Client`. The task runs on the runtime given by
//! [`Executor::with_handle`], else on the current goro runtime (the one
//! whose worker calls `execute`), else on the default runtime, exactly like
//! [`goro::spawn`](crate::spawn).

use crate::runtime::Handle;
use std::future::Future;

/// Runs hyper's background futures as goro tasks.
///
/// ```
/// use goro::compat::hyper::Executor;
/// use hyper::rt::Executor as _;
///
/// // What hyper does with the futures it spawns (an HTTP/2 connection
/// // takes `Executor::new()` in `http2::Builder::new`):
/// let (tx, rx) = std::sync::mpsc::channel();
/// Executor::new().execute(async move { tx.send(42).unwrap() });
/// assert_eq!(rx.recv().unwrap(), 42);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Executor {
    handle: Option<Handle>,
}

impl Executor {
    /// An executor that spawns on the current goro runtime (else the
    /// default one), wherever `execute` is called.
    pub fn new() -> Executor {
        Executor { handle: None }
    }

    /// An executor that always spawns on the runtime of `handle`.
    pub fn with_handle(handle: Handle) -> Executor {
        Executor {
            handle: Some(handle),
        }
    }
}

impl<F> hyper::rt::Executor<F> for Executor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        // Dropping the JoinHandle detaches the task: it keeps running.
        match &self.handle {
            Some(handle) => drop(handle.spawn(fut)),
            None => drop(crate::spawn(fut)),
        }
    }
}
