//! The G/M/P scheduler.
//!
//! | Go            | goro                                                        |
//! |---------------|-------------------------------------------------------------|
//! | G (goroutine) | a task: an `async_task::Runnable` carrying [`TaskMeta`]     |
//! | P             | [`Processor`](processor::Processor): run queue, `runnext`, timers |
//! | M             | [`Machine`](machine::Machine): an OS thread running the loop in `machine.rs` |
//! | `sched`       | [`Shared`]: the Ps, the global queue, idle lists, the poller |
//! | `sysmon`      | `sysmon.rs`                                                 |
//!
//! Files, one job each:
//!
//! | file              | job (Go)                                               |
//! |-------------------|--------------------------------------------------------|
//! | `mod.rs`          | [`Shared`] and [`Config`]; starting a runtime          |
//! | `ids.rs`          | `PId`, `MId`: names for Ps and Ms                      |
//! | `spawn.rs`        | spawning a task (`newproc`), [`TaskMeta`]              |
//! | `ready.rs`        | where a woken task goes (`ready`, `runqput`)           |
//! | `wake.rs`         | waking or starting an M (`wakep`, `startm`, `newm`)    |
//! | `handoff.rs`      | giving a P to another M (`handoffp`), and `has_work`   |
//! | `shutdown.rs`     | stopping threads, cancelling tasks                     |
//! | `timers.rs`       | the Ps' timers as one (earliest, run due, arm)         |
//! | `timer_target.rs` | what a timer fires (a timer's `f`/`arg`): a sleep or a deadline |
//! | `machine.rs`      | an M and its loop (`schedule`, `findRunnable`)         |
//! | `processor.rs`    | a P: run queue, `runnext`, timers                      |
//! | `runqueue.rs`     | the bounded local run queue (`runq`)                   |
//! | `global.rs`       | the global run queue (`sched.runq`), used in batches   |
//! | `idle.rs`         | idle Ps and Ms (`pidle`, `midle`), wake-up invariants  |
//! | `ownership.rs`    | which M owns a P; the retake protocol with sysmon      |
//! | `barrier.rs`      | the fences that protocol needs (`membarrier`)          |
//! | `sysmon.rs`       | `sysmon`: forced netpoll, retaking stuck Ps            |
//! | `context.rs`      | thread-locals: the current worker and runtime          |
//! | `registry.rs`     | live tasks, so shutdown can cancel them                |
//! | `blocking.rs`     | the blocking pool (`spawn_blocking`)                   |
//! | `budget.rs`       | the cooperative budget (Go's preemption, done by hand) |
//! | `metrics.rs`      | `runtime::Metrics`, a snapshot of the counters         |
//! | `trace.rs`        | `GORO_SCHEDTRACE` lines (`GODEBUG=schedtrace`), printed by sysmon |
//! | `stall.rs`        | sysmon's stall watch: naming a task that blocks its worker |
//! | `dump.rs`         | `Handle::dump`: every live task's record and state     |
//!
//! # Dependencies
//!
//! The scheduler sits on the poller, `time/`'s clock and timer heap, and
//! `sync`; it imports neither `task/` nor `runtime/` (only `taskinfo/`, the
//! per-task records below everything), which are built on it
//! ([`Shared::spawn`] returns the raw `async_task` half that
//! `task::JoinHandle` wraps). Inside it, the one cycle is `context.rs` ↔
//! `machine.rs`.

pub(crate) mod barrier;
pub(crate) mod blocking;
pub(crate) mod budget;
pub(crate) mod context;
mod drop_contained;
mod dump;
pub(crate) mod global;
mod handoff;
pub(crate) mod header_timer;
pub(crate) mod idle;
pub(crate) mod ids;
pub(crate) mod machine;
pub(crate) mod metrics;
pub(crate) mod ownership;
pub(crate) mod processor;
mod ready;
pub(crate) mod registry;
#[cfg(all(test, not(loom)))]
mod retake_tests;
pub(crate) mod runqueue;
mod shutdown;
pub(crate) mod sleep_timer;
mod spawn;
pub(crate) mod stall;
pub(crate) mod sysmon;
pub(crate) mod timer_target;
mod timers;
mod trace;
mod wake;

pub(crate) use handoff::hand_off_current_p;
pub(crate) use shutdown::ShutdownWait;
pub(crate) use spawn::{SpawnedTask, Task, TaskMeta};

use crate::poller::Poller;
use crate::sync::Mutex;
use crate::time::clock;
use idle::Idle;
use ids::PId;
use machine::Machine;
use processor::Processor;
use registry::Registry;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle as ThreadHandle;
use std::time::Duration;

/// How the runtime was configured (see `runtime::Builder`).
#[derive(Clone)]
pub(crate) struct Config {
    /// Number of Ps.
    pub(crate) workers: usize,
    /// Names worker threads.
    pub(crate) thread_name: Arc<dyn Fn() -> String + Send + Sync>,
    /// A poll running longer than this, while work waits, loses its P.
    pub(crate) handoff_after: Duration,
    /// Most extra M threads started for hand-offs.
    pub(crate) max_spare_threads: usize,
    /// Most blocking-pool threads.
    pub(crate) max_blocking_threads: usize,
    /// Idle blocking/spare threads exit after this long.
    pub(crate) keep_alive: Duration,
    /// Stack size for worker and blocking threads, if set.
    pub(crate) stack_size: Option<usize>,
    /// Print a schedtrace line this often, if set.
    pub(crate) schedtrace: Option<Duration>,
    /// Stall reports: threshold and destination.
    pub(crate) stall: crate::taskinfo::stall::StallConfig,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("workers", &self.workers)
            .field("handoff_after", &self.handoff_after)
            .finish_non_exhaustive()
    }
}

/// Runtime-wide counters (per-P ones live in `PCounters`).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) handoffs: AtomicU64,
    pub(crate) sysmon_netpolls: AtomicU64,
    pub(crate) netpoll_blocking: AtomicU64,
}

/// The scheduler state shared by all threads of one runtime (Go's `sched`).
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) ps: Box<[Processor]>,
    pub(crate) global: global::GlobalQueue<Task>,
    pub(crate) poller: Poller,
    pub(crate) idle: Idle,
    /// An M is blocked (or about to block) in `netpoll`.
    pub(crate) polling: AtomicBool,
    /// When that M will wake by itself (0: unknown, so any timer breaks it).
    pub(crate) poll_until: AtomicU64,
    /// Clock time of the last `netpoll` (sysmon polls if it gets old).
    pub(crate) last_poll: AtomicU64,
    pub(crate) shutdown: AtomicBool,
    /// Shutdown has drained the queues: late wakes drop their task.
    pub(crate) drained: AtomicBool,
    pub(crate) registry: Registry,
    pub(crate) next_m_id: AtomicU64,
    /// Join handles of the M threads, with their Ms.
    pub(crate) threads: Mutex<Vec<(ThreadHandle<()>, Arc<Machine>)>>,
    pub(crate) sysmon: sysmon::Sysmon,
    pub(crate) blocking: blocking::Pool,
    pub(crate) counters: Counters,
    /// A weak reference to this runtime, for threads started later.
    me: std::sync::Weak<Shared>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("workers", &self.ps.len())
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Creates the runtime state and starts one M per P plus sysmon.
    pub(crate) fn start(config: Config) -> io::Result<Arc<Shared>> {
        let workers = config.workers.max(1);
        let poller = Poller::new()?;
        let shared = Arc::new_cyclic(|me| Shared {
            ps: (0..workers).map(|i| Processor::new(PId::new(i))).collect(),
            global: global::GlobalQueue::default(),
            poller,
            idle: Idle::default(),
            polling: AtomicBool::new(false),
            poll_until: AtomicU64::new(0),
            last_poll: AtomicU64::new(clock::now()),
            shutdown: AtomicBool::new(false),
            drained: AtomicBool::new(false),
            registry: Registry::default(),
            next_m_id: AtomicU64::new(1),
            threads: Mutex::new(Vec::new()),
            sysmon: sysmon::Sysmon::default(),
            blocking: blocking::Pool::default(),
            counters: Counters::default(),
            config,
            me: me.clone(),
        });
        // Before any M runs: the Ms and sysmon must agree on the fences.
        barrier::init();
        for p in 0..workers {
            if let Err(e) = shared.new_m(PId::new(p), false) {
                shared.shutdown();
                return Err(e);
            }
        }
        if let Err(e) = sysmon::start(&shared) {
            shared.shutdown();
            return Err(e);
        }
        Ok(shared)
    }

    /// Number of Ps.
    pub(crate) fn nprocs(&self) -> usize {
        self.ps.len()
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    /// An `Arc` to self (for threads started after construction).
    pub(crate) fn arc(&self) -> Arc<Shared> {
        self.me
            .upgrade()
            .expect("a runtime in use is referenced by an Arc")
    }
}
