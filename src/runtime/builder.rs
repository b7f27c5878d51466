//! [`Builder`]: configures and starts a [`Runtime`].

use super::Runtime;
use crate::scheduler::Config;
use crate::signal::SignalKind;
use crate::task::StallReport;
use crate::taskinfo::stall::{self, StallConfig};
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
    /// `None`: not set, `GORO_STALL_MS` or the default decides.
    stall_threshold: Option<Option<Duration>>,
    on_stall: Option<stall::OnStall>,
    dump_on_signal: Option<SignalKind>,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("workers", &self.workers)
            .field("handoff_after", &self.handoff_after)
            .field("max_spare_threads", &self.max_spare_threads)
            .field("max_blocking_threads", &self.max_blocking_threads)
            .field("stall_threshold", &self.stall_threshold)
            .field("dump_on_signal", &self.dump_on_signal)
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
    /// threads and 512 blocking threads, 10 s idle keep-alive, stall reports
    /// to stderr after 100 ms (or `GORO_STALL_MS`), no dump on signal.
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
            stall_threshold: None,
            on_stall: None,
            dump_on_signal: None,
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

    /// Most extra threads (beyond the workers) that sysmon starts to take
    /// over the Ps of stuck workers, and most that stay alive idle
    /// (default 64).
    ///
    /// The cap never stops a task that blocks on purpose —
    /// [`block_in_place`](crate::task::block_in_place), or
    /// [`Handle::block_on`](crate::runtime::Handle::block_on) on a worker —
    /// from handing its worker's queue to another thread: like a Go
    /// syscall, which always releases its P, it starts a thread past the
    /// cap if no idle one is left (the blocked code may be waiting for a
    /// task queued behind it, which would otherwise never run). Idle
    /// spare threads beyond the cap (beyond those that idle workers' queues
    /// need) exit at once; the others after
    /// [`thread_keep_alive`](Self::thread_keep_alive). With `0`, sysmon
    /// never hands off a stuck worker's queue.
    ///
    /// ```
    /// let rt = goro::runtime::Builder::new()
    ///     .worker_threads(1)
    ///     .max_spare_threads(0)
    ///     .build()
    ///     .unwrap();
    /// // Even with no spare threads, the P goes to a new thread while the
    /// // closure blocks, so the task it waits for runs.
    /// let got = rt.block_on(async {
    ///     goro::spawn(async {
    ///         let (tx, rx) = std::sync::mpsc::channel();
    ///         // Queued on this worker, behind the task that spawns it.
    ///         goro::spawn(async move { tx.send(1).unwrap() });
    ///         goro::task::block_in_place(|| rx.recv())
    ///     })
    ///     .await
    ///     .unwrap()
    /// });
    /// assert_eq!(got, Ok(1));
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

    /// How long one task poll may block its worker thread before sysmon
    /// reports it (default 100 ms; `Duration::ZERO` turns reports off).
    /// Overrides the environment variable `GORO_STALL_MS` (milliseconds, `0`
    /// for off; anything else makes [`build`](Self::build) fail), which
    /// applies when this is not called.
    ///
    /// A stall is reported once when the poll has run this long — the
    /// task's id, name and spawn location, the worker, how long, and
    /// whether its queue was handed to another thread — and once more when
    /// the poll returns, with the total time. Reports go to stderr, or to
    /// [`on_stall`](Self::on_stall). See [`StallReport`].
    ///
    /// ```
    /// let rt = goro::runtime::Builder::new()
    ///     .stall_threshold(std::time::Duration::from_millis(250))
    ///     .build()
    ///     .unwrap();
    /// # drop(rt);
    /// ```
    pub fn stall_threshold(&mut self, d: Duration) -> &mut Self {
        self.stall_threshold = Some((!d.is_zero()).then_some(d));
        self
    }

    /// Sends stall reports to `f` instead of printing them to stderr. The
    /// "stalled" report is delivered on the sysmon thread, the "returned"
    /// one on the worker whose poll returned (or on sysmon, if the poll
    /// returned while sysmon was still delivering the first); `f` runs
    /// holding no lock of the runtime, so a slow `f` delays sysmon's next
    /// round (and that worker's next poll) but never the stalled worker's
    /// queue, and `f` may spawn tasks and wait for them. A panic in `f` is
    /// caught.
    ///
    /// Without `f`, reports are written to stderr by a thread of the
    /// runtime's own (started at the first report), so a stderr that nobody reads (a full pipe) never blocks
    /// sysmon or a worker; reports that find 64 lines still waiting are
    /// dropped, and how many is written once stderr catches up.
    ///
    /// ```
    /// let rt = goro::runtime::Builder::new()
    ///     .on_stall(|r: &goro::runtime::StallReport| {
    ///         eprintln!("stall: task {} at {} for {:?}", r.id(), r.location(), r.blocked_for())
    ///     })
    ///     .build()
    ///     .unwrap();
    /// # drop(rt);
    /// ```
    pub fn on_stall(&mut self, f: impl Fn(&StallReport) + Send + Sync + 'static) -> &mut Self {
        self.on_stall = Some(Arc::new(f));
        self
    }

    /// Prints a task dump ([`Handle::dump`](super::Handle::dump), every
    /// task) to stderr each time the process receives `signal`, and keeps
    /// running — Go's `SIGQUIT` goroutine dump, without the exit. Off by
    /// default. The signal is handled through `goro::signal` (so its
    /// default action, such as `SIGQUIT`'s core dump, no longer applies),
    /// by a task of this runtime named `goro-dump-on-signal`.
    /// [`build`](Self::build) fails if the signal cannot be caught.
    ///
    /// ```no_run
    /// use goro::signal::SignalKind;
    /// let rt = goro::runtime::Builder::new()
    ///     .dump_on_signal(SignalKind::quit())
    ///     .build()
    ///     .unwrap();
    /// // `kill -QUIT <pid>` now prints every task to stderr.
    /// # drop(rt);
    /// ```
    pub fn dump_on_signal(&mut self, signal: SignalKind) -> &mut Self {
        self.dump_on_signal = Some(signal);
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
            stall: StallConfig {
                threshold: match self.stall_threshold {
                    Some(t) => t,
                    None => stall::threshold_from_env()?.unwrap_or(Some(stall::DEFAULT_THRESHOLD)),
                },
                on_stall: self.on_stall.clone(),
                stderr: Default::default(),
            },
        };
        let rt = Runtime::start(config)?;
        if let Some(signal) = self.dump_on_signal {
            super::dump_on_signal::start(&rt, signal)?;
        }
        Ok(rt)
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
