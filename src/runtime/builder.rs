//! [`Builder`]: configures and starts a [`Runtime`].

use super::Runtime;
use crate::scheduler::Config;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Configures a [`Runtime`].
///
/// ```
/// let rt = goro::runtime::Builder::new()
///     .worker_threads(2)
///     .thread_name("my-worker")
///     .build()
///     .unwrap();
/// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
/// ```
pub struct Builder {
    workers: Option<usize>,
    thread_name: Arc<dyn Fn() -> String + Send + Sync>,
    handoff_after: Duration,
    max_spare_threads: usize,
    max_blocking_threads: usize,
    keep_alive: Duration,
    stack_size: Option<usize>,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("workers", &self.workers)
            .field("handoff_after", &self.handoff_after)
            .field("max_spare_threads", &self.max_spare_threads)
            .field("max_blocking_threads", &self.max_blocking_threads)
            .finish_non_exhaustive()
    }
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// A builder with the defaults: worker count from `GORO_WORKER_THREADS`
    /// or the number of CPUs, hand-off after 10 ms, at most 64 spare
    /// threads and 512 blocking threads, 10 s idle keep-alive.
    ///
    /// ```
    /// let rt = goro::runtime::Builder::new().build().unwrap();
    /// assert!(!rt.metrics().workers.is_empty());
    /// ```
    pub fn new() -> Builder {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        Builder {
            workers: None,
            thread_name: Arc::new(|| {
                format!("goro-worker-{}", NEXT.fetch_add(1, Ordering::Relaxed))
            }),
            handoff_after: Duration::from_millis(10),
            max_spare_threads: 64,
            max_blocking_threads: 512,
            keep_alive: Duration::from_secs(10),
            stack_size: None,
        }
    }

    /// Number of worker contexts (Ps), i.e. how many tasks run in parallel.
    /// Overrides `GORO_WORKER_THREADS`. Zero is rejected by [`build`](Self::build).
    ///
    /// ```
    /// let rt = goro::runtime::Builder::new().worker_threads(3).build().unwrap();
    /// assert_eq!(rt.metrics().workers.len(), 3);
    /// assert!(goro::runtime::Builder::new().worker_threads(0).build().is_err());
    /// ```
    pub fn worker_threads(&mut self, n: usize) -> &mut Self {
        self.workers = Some(n);
        self
    }

    /// Names the runtime's worker threads.
    ///
    /// ```
    /// let rt = goro::runtime::Builder::new().thread_name("app-worker").build().unwrap();
    /// let name = rt.block_on(rt.spawn(async {
    ///     std::thread::current().name().map(str::to_owned)
    /// }));
    /// assert_eq!(name.unwrap().as_deref(), Some("app-worker"));
    /// ```
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Self {
        let name = name.into();
        self.thread_name = Arc::new(move || name.clone());
        self
    }

    /// Names worker threads with a function called for each new thread.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// static N: AtomicUsize = AtomicUsize::new(0);
    /// let rt = goro::runtime::Builder::new()
    ///     .thread_name_fn(|| format!("app-{}", N.fetch_add(1, Ordering::Relaxed)))
    ///     .build()
    ///     .unwrap();
    /// # drop(rt);
    /// ```
    pub fn thread_name_fn(&mut self, f: impl Fn() -> String + Send + Sync + 'static) -> &mut Self {
        self.thread_name = Arc::new(f);
        self
    }

    /// Stack size of worker and blocking threads.
    ///
    /// ```
    /// let rt = goro::runtime::Builder::new().thread_stack_size(4 << 20).build().unwrap();
    /// # drop(rt);
    /// ```
    pub fn thread_stack_size(&mut self, bytes: usize) -> &mut Self {
        self.stack_size = Some(bytes);
        self
    }

    /// How long one task poll may run, while other work waits for its
    /// worker, before sysmon hands the worker's P to another thread
    /// (default 10 ms, as Go's sysmon).
    ///
    /// ```
    /// // Hand a stuck worker's queue to another thread after 2 ms.
    /// let rt = goro::runtime::Builder::new()
    ///     .handoff_after(std::time::Duration::from_millis(2))
    ///     .build()
    ///     .unwrap();
    /// # drop(rt);
    /// ```
    pub fn handoff_after(&mut self, d: Duration) -> &mut Self {
        self.handoff_after = d;
        self
    }

    /// Most extra threads started to take over Ps from stuck workers
    /// (default 64).
    ///
    /// ```
    /// let rt = goro::runtime::Builder::new().max_spare_threads(8).build().unwrap();
    /// # drop(rt);
    /// ```
    pub fn max_spare_threads(&mut self, n: usize) -> &mut Self {
        self.max_spare_threads = n;
        self
    }

    /// Most threads in the blocking pool (default 512). Zero is rejected by
    /// [`build`](Self::build).
    ///
    /// ```
    /// let rt = goro::runtime::Builder::new().max_blocking_threads(4).build().unwrap();
    /// assert_eq!(rt.block_on(rt.spawn_blocking(|| 2 + 2)).unwrap(), 4);
    /// ```
    pub fn max_blocking_threads(&mut self, n: usize) -> &mut Self {
        self.max_blocking_threads = n;
        self
    }

    /// How long an idle blocking or spare thread lives (default 10 s).
    ///
    /// ```
    /// let rt = goro::runtime::Builder::new()
    ///     .thread_keep_alive(std::time::Duration::from_secs(1))
    ///     .build()
    ///     .unwrap();
    /// # drop(rt);
    /// ```
    pub fn thread_keep_alive(&mut self, d: Duration) -> &mut Self {
        self.keep_alive = d;
        self
    }

    /// Starts the runtime: its worker threads, sysmon and the poller.
    ///
    /// ```
    /// let rt = goro::runtime::Builder::new().worker_threads(1).build()?;
    /// assert_eq!(rt.block_on(async { 1 }), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn build(&mut self) -> io::Result<Runtime> {
        let workers = match self.workers {
            Some(n) => n,
            None => workers_from_env()?,
        };
        if workers == 0 {
            return Err(invalid("worker_threads must be at least 1"));
        }
        if self.max_blocking_threads == 0 {
            return Err(invalid("max_blocking_threads must be at least 1"));
        }
        let config = Config {
            workers,
            thread_name: self.thread_name.clone(),
            handoff_after: self.handoff_after,
            max_spare_threads: self.max_spare_threads,
            max_blocking_threads: self.max_blocking_threads,
            keep_alive: self.keep_alive,
            stack_size: self.stack_size,
            schedtrace: schedtrace_from_env(),
        };
        Runtime::start(config)
    }
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("goro: {msg}"))
}

/// `GORO_WORKER_THREADS`, else the number of CPUs.
fn workers_from_env() -> io::Result<usize> {
    match std::env::var("GORO_WORKER_THREADS") {
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(invalid(&format!(
                "GORO_WORKER_THREADS must be a positive integer, got {v:?}"
            ))),
        },
        Err(_) => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

/// `GORO_SCHEDTRACE=<ms>`: print a scheduler trace line at that period.
fn schedtrace_from_env() -> Option<Duration> {
    let ms: u64 = std::env::var("GORO_SCHEDTRACE").ok()?.trim().parse().ok()?;
    (ms > 0).then(|| Duration::from_millis(ms))
}
