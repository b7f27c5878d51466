//! The runtime: [`Runtime`], its [`Builder`], cheap [`Handle`]s to it, and
//! its [`Metrics`].
//!
//! A runtime is one poller (epoll instance), a set of Ps (worker contexts,
//! one per unit of parallelism), the OS threads (Ms) that run them, a
//! sysmon thread and a blocking pool. Dropping a [`Runtime`] shuts it down:
//! threads are joined, every task is dropped (closing the sockets it owned),
//! and the poller's fds are closed.
//!
//! Code that is not inside any runtime (plain `main`, a test) uses the
//! *default runtime*, started on first use with `GORO_WORKER_THREADS`
//! workers (or one per CPU) and never shut down.
//!
//! # After shutdown
//!
//! Nothing that belongs to a shut-down runtime waits forever, wherever its
//! futures are polled (by [`Handle::block_on`] on another thread, or by
//! another executor):
//!
//! - I/O futures of its sockets and [`PollFd`](crate::io::PollFd)s — those
//!   waiting when it shuts down and any started later — fail with an
//!   [`io::Error`] of kind [`io::ErrorKind::Other`] whose message is
//!   "goro runtime is shut down". Closing them still works; creating new
//!   ones on it fails with the same error.
//! - Futures whose output is not a `Result` complete at once:
//!   [`Sleep`](crate::time::Sleep) returns, an
//!   [`Interval`](crate::time::Interval) ticks, and so a
//!   [`Timeout`](crate::time::Timeout) whose inner future is not ready
//!   reports [`Elapsed`](crate::time::Elapsed).
//! - [`Handle::block_on`] on a handle to it still runs its future; timers
//!   and sockets inside it behave as above.
//!
//! ```
//! let rt = goro::runtime::Runtime::new()?;
//! let handle = rt.handle();
//! let socket = rt.block_on(goro::net::UdpSocket::bind("127.0.0.1:0"))?;
//! drop(rt);
//! let err = handle.block_on(socket.recv(&mut [0; 8])).unwrap_err();
//! assert_eq!(err.to_string(), "goro runtime is shut down");
//! handle.block_on(goro::time::sleep(std::time::Duration::from_secs(3600))); // returns at once
//! # Ok::<(), std::io::Error>(())
//! ```

mod block_on;
mod builder;
mod metrics;
pub(crate) mod trace;

pub use builder::Builder;
pub use metrics::{Metrics, WorkerMetrics};

use crate::scheduler::{Config, Shared, context};
use crate::task::JoinHandle;
use std::fmt;
use std::future::Future;
use std::io;
use std::sync::{Arc, OnceLock};

/// A goro runtime. See the [module docs](self).
///
/// ```
/// let rt = goro::runtime::Runtime::new().unwrap();
/// let v = rt.block_on(async {
///     let h = goro::spawn(async { 21 * 2 });
///     h.await.unwrap()
/// });
/// assert_eq!(v, 42);
/// ```
pub struct Runtime {
    handle: Handle,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("workers", &self.handle.shared.nprocs())
            .finish()
    }
}

impl Runtime {
    /// Starts a runtime with the default configuration (worker count from
    /// `GORO_WORKER_THREADS`, else the number of CPUs).
    ///
    /// ```
    /// let rt = goro::runtime::Runtime::new()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new() -> io::Result<Runtime> {
        Builder::new().build()
    }

    /// A [`Builder`] to configure a runtime.
    ///
    /// ```
    /// let rt = goro::runtime::Runtime::builder().worker_threads(2).build()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn builder() -> Builder {
        Builder::new()
    }

    pub(crate) fn start(config: Config) -> io::Result<Runtime> {
        Ok(Runtime {
            handle: Handle {
                shared: Shared::start(config)?,
            },
        })
    }

    /// Runs `future` to completion on the calling thread, with this runtime
    /// as the current one (so `goro::spawn`, timers and sockets inside it use
    /// this runtime). Spawned tasks run on the worker threads meanwhile.
    ///
    /// ```
    /// let rt = goro::runtime::Runtime::new().unwrap();
    /// let v = rt.block_on(async {
    ///     goro::time::sleep(std::time::Duration::from_millis(1)).await;
    ///     5
    /// });
    /// assert_eq!(v, 5);
    /// ```
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }

    /// Spawns a task on this runtime.
    ///
    /// ```
    /// let rt = goro::runtime::Runtime::new().unwrap();
    /// let h = rt.spawn(async { "from a worker" });
    /// assert_eq!(rt.block_on(h).unwrap(), "from a worker");
    /// ```
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Runs a blocking closure on this runtime's blocking pool.
    ///
    /// ```
    /// let rt = goro::runtime::Runtime::new().unwrap();
    /// let h = rt.spawn_blocking(|| std::thread::current().name().map(str::to_owned));
    /// assert!(rt.block_on(h).unwrap().unwrap().starts_with("goro-blocking"));
    /// ```
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.handle.spawn_blocking(f)
    }

    /// A handle to this runtime.
    ///
    /// ```
    /// let rt = goro::runtime::Runtime::new().unwrap();
    /// let handle = rt.handle();
    /// std::thread::spawn(move || handle.spawn(async {})).join().unwrap();
    /// ```
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// A snapshot of the scheduler's counters.
    ///
    /// ```
    /// let rt = goro::runtime::Runtime::new().unwrap();
    /// rt.block_on(rt.spawn(async {})).unwrap();
    /// assert!(rt.metrics().tasks_polled() >= 1);
    /// ```
    pub fn metrics(&self) -> Metrics {
        self.handle.metrics()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.handle.shared.shutdown();
    }
}

/// A cloneable reference to a runtime, usable from any thread.
///
/// ```
/// let rt = goro::runtime::Runtime::new().unwrap();
/// let handle = rt.handle();
/// let worker = std::thread::spawn(move || handle.block_on(async { 40 + 2 }));
/// assert_eq!(worker.join().unwrap(), 42);
/// ```
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("workers", &self.shared.nprocs())
            .finish()
    }
}

impl Handle {
    /// The runtime this code runs in.
    ///
    /// # Panics
    ///
    /// Outside a runtime (not on a worker thread, not inside `block_on`);
    /// use [`try_current`](Self::try_current) to handle that case.
    ///
    /// ```
    /// let rt = goro::runtime::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let h = goro::runtime::Handle::current();
    ///     h.spawn(async {}).await.unwrap();
    /// });
    /// ```
    #[track_caller]
    pub fn current() -> Handle {
        Handle::try_current().expect(
            "goro::runtime::Handle::current() called outside a goro runtime; \
             call it from a task or inside Runtime::block_on, or use Handle::try_current()",
        )
    }

    /// The runtime this code runs in, if any.
    ///
    /// ```
    /// assert!(goro::runtime::Handle::try_current().is_none());
    /// let rt = goro::runtime::Runtime::new().unwrap();
    /// assert!(rt.block_on(async { goro::runtime::Handle::try_current().is_some() }));
    /// ```
    pub fn try_current() -> Option<Handle> {
        context::current().map(|shared| Handle { shared })
    }

    /// The current runtime, else the default one (started on first use).
    pub(crate) fn current_or_default() -> Handle {
        Handle::try_current().unwrap_or_else(|| default_runtime().handle.clone())
    }

    /// Spawns a task on this runtime.
    ///
    /// ```
    /// let rt = goro::runtime::Runtime::new().unwrap();
    /// let handle = rt.handle();
    /// let h = std::thread::spawn(move || handle.spawn(async { 7 })).join().unwrap();
    /// assert_eq!(rt.block_on(h).unwrap(), 7);
    /// ```
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.shared.spawn(future)
    }

    /// Runs a blocking closure on this runtime's blocking pool.
    ///
    /// ```
    /// let rt = goro::runtime::Runtime::new().unwrap();
    /// let h = rt.handle().spawn_blocking(|| 3);
    /// assert_eq!(rt.block_on(h).unwrap(), 3);
    /// ```
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        crate::scheduler::blocking::spawn_blocking(&self.shared, f)
    }

    /// Runs `future` to completion on the calling thread (see
    /// [`Runtime::block_on`]). Called on a worker thread, it first hands that
    /// worker's P to another thread, so it blocks only this thread.
    ///
    /// ```
    /// let rt = goro::runtime::Runtime::new().unwrap();
    /// let handle = rt.handle();
    /// assert_eq!(handle.block_on(async { 1 + 1 }), 2);
    /// ```
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        block_on::block_on(&self.shared, future)
    }

    /// A snapshot of the scheduler's counters.
    ///
    /// ```
    /// let rt = goro::runtime::Runtime::new().unwrap();
    /// assert_eq!(rt.handle().metrics().tasks_alive, 0);
    /// ```
    pub fn metrics(&self) -> Metrics {
        Metrics::collect(&self.shared)
    }
}

/// The process-wide default runtime.
pub(crate) fn default_runtime() -> &'static Runtime {
    static DEFAULT: OnceLock<Runtime> = OnceLock::new();
    DEFAULT.get_or_init(|| {
        Runtime::new().unwrap_or_else(|e| panic!("goro: cannot start the default runtime: {e}"))
    })
}
