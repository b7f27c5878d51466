//! The runtime: [`Runtime`], its [`Builder`], cheap [`Handle`]s to it, and
//! its [`Metrics`].
//!
//! A runtime is one poller (epoll instance), a set of Ps (worker contexts,
//! one per unit of parallelism), the OS threads (Ms) that run them, a
//! sysmon thread and a blocking pool. Dropping a [`Runtime`] shuts it down
//! (see [Shutdown](Runtime#shutdown)): every task is dropped (closing the
//! sockets it owned), threads are joined, and the poller's fds are closed.
//!
//! # Which runtime am I on?
//!
//! Free functions that need a runtime — [`crate::spawn`],
//! [`crate::spawn_blocking`], timers, sockets, signals — use the *current*
//! runtime of the calling thread: the runtime whose worker runs the task,
//! the one inside [`Runtime::block_on`], or the one made current with
//! [`Runtime::enter`] / [`Handle::enter`]. Code that is not inside any
//! runtime (plain `main`, a test) uses the *default runtime*, started on
//! first use with `GORO_WORKER_THREADS` workers (or one per CPU) and never
//! shut down.
//!
//! So arguments are evaluated *before* a runtime becomes current:
//!
//! ```
//! let rt = goro::runtime::Runtime::new().unwrap();
//! // Spawn on `rt` from synchronous code: use its methods…
//! let a = rt.spawn(async { 1 });
//! // …or make it current for a scope.
//! let b = {
//!     let _guard = rt.enter();
//!     goro::spawn(async { 2 })
//! };
//! assert_eq!(rt.block_on(async { a.await.unwrap() + b.await.unwrap() }), 3);
//! ```
//!
//! whereas `rt.block_on(goro::spawn(fut))` runs `goro::spawn` first, outside
//! `rt`, so the task lands on the default runtime. Debug builds print a
//! warning (once) when the default runtime starts while another runtime
//! exists, which is how that mistake usually shows up.
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
mod dump_on_signal;

pub use crate::scheduler::metrics::{Metrics, WorkerMetrics};
pub use crate::taskinfo::{StallReport, TaskDump};
pub(crate) use block_on::is_block_on_waker;
pub use builder::Builder;

use crate::scheduler::{Config, Shared, ShutdownWait, context};
use crate::task::join::JoinHandle;
use std::fmt;
use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Runtimes started and not yet shut down (for the default-runtime warning).
static LIVE_RUNTIMES: AtomicUsize = AtomicUsize::new(0);

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
///
/// # Shutdown
///
/// A runtime shuts down in one of three ways; all three take the same path
/// and differ only in how long they wait for threads:
///
/// | | waits for running `spawn_blocking` closures | waits for a worker stuck inside one task's `poll` |
/// |---|---|---|
/// | `drop(rt)` | **without limit** (as tokio) | 100 ms, then detaches it |
/// | [`shutdown_timeout(d)`](Self::shutdown_timeout) | up to `d` in all, then detaches | up to `d` in all, then detaches |
/// | [`shutdown_background()`](Self::shutdown_background) | no | no |
///
/// Each of them first stops the runtime accepting work (a task spawned from
/// then on is cancelled at once; a `spawn_blocking` closure that has not
/// started is cancelled), wakes and joins the worker threads that are not
/// busy (they exit within microseconds), drops every task — each task's
/// future is dropped, closing the sockets it owned, and its `JoinHandle`
/// reports cancellation — then waits for the blocking pool as the table
/// says, and closes the poller. A detached thread keeps running until its
/// closure (or poll) returns, then exits by itself; a detached task is
/// dropped when its poll returns.
///
/// Dropping a runtime therefore blocks while a `spawn_blocking` closure runs
/// — one that waits for stdin or a socket forever blocks it forever; bound
/// that with `shutdown_timeout`. After shutdown, timers and sockets of the
/// runtime fail (or complete) instead of hanging, wherever they are polled,
/// and signal streams end.
///
/// Dropping a runtime from inside one of its own tasks or `spawn_blocking`
/// closures works: the calling thread does not wait for itself.
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
        let shared = Shared::start(config)?;
        LIVE_RUNTIMES.fetch_add(1, Ordering::SeqCst);
        Ok(Runtime {
            handle: Handle { shared },
        })
    }

    /// Runs `future` to completion on the calling thread, with this runtime
    /// as the current one (so `goro::spawn`, timers and sockets inside it use
    /// this runtime). Spawned tasks run on the worker threads meanwhile.
    ///
    /// The runtime becomes current only once `block_on` runs: in
    /// `rt.block_on(goro::spawn(fut))` the spawn happens before, on the
    /// default runtime. Write `rt.block_on(rt.spawn(fut))` (see the
    /// [module docs](self#which-runtime-am-i-on)).
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
    #[track_caller]
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
    #[track_caller]
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

    /// Makes this runtime the current one on this thread until the guard is
    /// dropped, so synchronous code can use [`crate::spawn`], timers and
    /// sockets with it. See [`Handle::enter`].
    ///
    /// ```
    /// let rt = goro::runtime::Runtime::new().unwrap();
    /// let _guard = rt.enter();
    /// let h = goro::spawn(async { 5 }); // on `rt`, not the default runtime
    /// assert_eq!(rt.block_on(h).unwrap(), 5);
    /// ```
    pub fn enter(&self) -> EnterGuard<'_> {
        self.handle.enter()
    }

    /// Shuts the runtime down, waiting at most `limit` in all for its
    /// threads — workers stuck inside a task's poll and running
    /// `spawn_blocking` closures — and detaching those still running then.
    /// See [Shutdown](Self#shutdown).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let rt = goro::runtime::Runtime::new().unwrap();
    /// rt.spawn_blocking(|| std::thread::sleep(Duration::from_secs(2)));
    /// let start = Instant::now();
    /// rt.shutdown_timeout(Duration::from_millis(50));
    /// assert!(start.elapsed() < Duration::from_secs(1));
    /// ```
    pub fn shutdown_timeout(self, limit: Duration) {
        self.handle
            .shared
            .shutdown_with(ShutdownWait::within(limit));
    }

    /// Shuts the runtime down without waiting for threads that are busy:
    /// returns as soon as the tasks are dropped; workers stuck in a poll and
    /// running `spawn_blocking` closures finish in the background. The same
    /// as `shutdown_timeout(Duration::ZERO)`. See [Shutdown](Self#shutdown).
    ///
    /// ```
    /// let rt = goro::runtime::Runtime::new().unwrap();
    /// rt.spawn_blocking(|| std::thread::sleep(std::time::Duration::from_secs(2)));
    /// rt.shutdown_background(); // returns at once
    /// ```
    pub fn shutdown_background(self) {
        self.handle.shared.shutdown_with(ShutdownWait::detach());
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // Idempotent: after `shutdown_timeout`/`shutdown_background` (which
        // consume `self`), this returns at once.
        self.handle.shared.shutdown();
        LIVE_RUNTIMES.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The guard of [`Runtime::enter`] / [`Handle::enter`]: while it lives, its
/// runtime is this thread's current one. Dropping it restores the runtime
/// that was current before (guards nest; drop them in reverse order).
/// It cannot be sent to another thread.
///
/// ```
/// let a = goro::runtime::Runtime::new().unwrap();
/// let b = goro::runtime::Runtime::new().unwrap();
/// let _on_a = a.enter();
/// {
///     let _on_b = b.enter();
///     // goro::spawn here runs on `b`
/// }
/// // and here on `a` again
/// ```
#[must_use = "the runtime is current only while the guard lives"]
pub struct EnterGuard<'a> {
    _inner: context::EnterGuard,
    /// `!Send` and `!Sync`: the guard restores a thread-local.
    _not_send: PhantomData<*const ()>,
    _runtime: PhantomData<&'a Handle>,
}

impl fmt::Debug for EnterGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnterGuard").finish_non_exhaustive()
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
    shared: Arc<Shared>,
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

    /// Makes this runtime the current one on this thread until the guard is
    /// dropped: [`crate::spawn`], [`crate::spawn_blocking`], timers, sockets
    /// and signals created meanwhile belong to it, as inside
    /// [`block_on`](Self::block_on). Guards nest, and dropping one restores
    /// the runtime current before. Entering a runtime that has shut down is
    /// allowed; what is created in it then fails or is cancelled.
    ///
    /// ```
    /// use goro::runtime::{Handle, Runtime};
    /// let rt = Runtime::new().unwrap();
    /// assert!(Handle::try_current().is_none());
    /// {
    ///     let _guard = rt.handle().enter();
    ///     assert!(Handle::try_current().is_some());
    /// }
    /// assert!(Handle::try_current().is_none());
    /// ```
    pub fn enter(&self) -> EnterGuard<'_> {
        EnterGuard {
            _inner: context::enter(self.shared.clone()),
            _not_send: PhantomData,
            _runtime: PhantomData,
        }
    }

    /// Spawns a task on this runtime.
    ///
    /// ```
    /// let rt = goro::runtime::Runtime::new().unwrap();
    /// let handle = rt.handle();
    /// let h = std::thread::spawn(move || handle.spawn(async { 7 })).join().unwrap();
    /// assert_eq!(rt.block_on(h).unwrap(), 7);
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_at(future, None, std::panic::Location::caller())
    }

    /// Spawns a task named `name` whose spawn site is `location`.
    pub(crate) fn spawn_at<F>(
        &self,
        future: F,
        name: Option<Box<str>>,
        location: &'static std::panic::Location<'static>,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        JoinHandle::new(self.shared.spawn(future, name, location))
    }

    /// Lists every live task of this runtime: id, name, spawn location,
    /// age, and state — running (on which worker), queued, or waiting, with
    /// what it waits on when goro knows (an fd and direction, a timer, a
    /// `JoinHandle`). `Display` groups them by spawn location, like Go's
    /// goroutine dump; see [`TaskDump`]. Nothing is stopped while the dump
    /// is taken. [`Builder::dump_on_signal`] prints one on a signal.
    ///
    /// ```
    /// let rt = goro::runtime::Runtime::new().unwrap();
    /// let h = rt.spawn(goro::time::sleep(std::time::Duration::from_secs(60)));
    /// # while rt.handle().dump().count(|s| matches!(s, goro::task::TaskState::Waiting(_))) == 0 {
    /// #     std::thread::sleep(std::time::Duration::from_millis(1));
    /// # }
    /// let dump = rt.handle().dump();
    /// let t = dump.tasks().iter().find(|t| t.id() == h.id()).unwrap();
    /// assert!(matches!(
    ///     t.state(),
    ///     goro::task::TaskState::Waiting(goro::task::WaitingOn::Timer { .. })
    /// ));
    /// eprintln!("{dump}");
    /// ```
    pub fn dump(&self) -> TaskDump {
        self.shared.dump()
    }

    /// Runs a blocking closure on this runtime's blocking pool.
    ///
    /// ```
    /// let rt = goro::runtime::Runtime::new().unwrap();
    /// let h = rt.handle().spawn_blocking(|| 3);
    /// assert_eq!(rt.block_on(h).unwrap(), 3);
    /// ```
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        JoinHandle::new_blocking(crate::scheduler::blocking::spawn_blocking(
            &self.shared,
            f,
            std::panic::Location::caller(),
        ))
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

    /// The runtime's scheduler, for the scheduler's own unit tests (other
    /// code reaches it through `context` or [`current_scheduler`]).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn scheduler_for_tests(&self) -> Arc<Shared> {
        self.shared.clone()
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

/// The scheduler of the current runtime, else of the default one (started
/// on first use): where timers, sockets and signals created here belong.
pub(crate) fn current_scheduler() -> Arc<Shared> {
    context::current().unwrap_or_else(|| default_runtime().handle.shared.clone())
}

/// The process-wide default runtime.
pub(crate) fn default_runtime() -> &'static Runtime {
    static DEFAULT: OnceLock<Runtime> = OnceLock::new();
    DEFAULT.get_or_init(|| {
        if cfg!(debug_assertions) && LIVE_RUNTIMES.load(Ordering::SeqCst) > 0 {
            eprintln!(
                "goro: warning: starting the default runtime while another Runtime exists; \
                 goro::spawn (or a timer or socket) was used outside that runtime. \
                 `rt.block_on(goro::spawn(f))` spawns before block_on enters `rt`: \
                 write `rt.spawn(f)`, or hold `let _guard = rt.enter();` \
                 (this warning is printed once, in debug builds)"
            );
        }
        Runtime::new().unwrap_or_else(|e| panic!("goro: cannot start the default runtime: {e}"))
    })
}
