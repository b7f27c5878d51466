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
//! Files: `runqueue.rs` (local queue), `global.rs` (global queue), `processor.rs` (P), `machine.rs` (M
//! and `findRunnable`), `idle.rs` (idle Ps/Ms and the wake-up invariants),
//! `ownership.rs` (which M owns a P, and the hand-off protocol),
//! `context.rs` (thread-locals), `registry.rs` (live tasks, for shutdown),
//! `sysmon.rs`, `blocking.rs` (the blocking pool), and this file: scheduling
//! a woken task, waking an M (`wakep`/`startm`), arming timers, spawning, and
//! shutdown.
//!
//! # Where a woken task goes (Go's `ready`)
//!
//! - woken on a worker that holds a P, by the task that P is running: into
//!   `runnext` (the task displaced from `runnext` goes to the back of the
//!   local queue and an idle M is woken, since the queue grew);
//! - a task that woke itself (`yield_now`): back of the local queue;
//! - woken while the worker collects a netpoll batch: into the batch;
//! - woken on a worker whose P was handed away while its task's poll was
//!   stuck (or given away by `block_in_place`): the global queue, then
//!   `wakep` — the thread no longer owns a P (see `ownership.rs`);
//! - anywhere else (other threads, sysmon, timers fired off-worker): the
//!   global queue, then `wakep`.

pub(crate) mod barrier;
pub(crate) mod blocking;
pub(crate) mod context;
pub(crate) mod global;
pub(crate) mod idle;
pub(crate) mod machine;
pub(crate) mod ownership;
pub(crate) mod processor;
pub(crate) mod registry;
#[cfg(all(test, not(loom)))]
mod retake_tests;
pub(crate) mod runqueue;
pub(crate) mod sysmon;

use crate::poller::Poller;
use crate::poller::descriptor::TimerSink;
use crate::sync::Mutex;
use crate::task::JoinHandle;
use crate::time::clock::{self, NEVER};
use crate::time::timers::TimerEntry;
use async_task::{Runnable, ScheduleInfo, WithInfo};
use context::WorkerContext;
use idle::Idle;
use machine::Machine;
use processor::Processor;
use registry::{Key, Registry};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::thread::JoinHandle as ThreadHandle;
use std::time::{Duration, Instant};

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
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("workers", &self.workers)
            .field("handoff_after", &self.handoff_after)
            .finish_non_exhaustive()
    }
}

/// How long dropping a runtime waits for a worker that is inside a task's
/// poll before detaching it.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(100);

/// How long shutdown waits for the runtime's threads (see the docs of
/// `runtime::Runtime`, which chooses one of these).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ShutdownWait {
    /// Stop waiting for threads at this time (`None`: no limit). Workers
    /// that are not inside a task's poll exit promptly and are always joined.
    pub(crate) deadline: Option<Instant>,
    /// Detach a worker stuck inside one task's poll after this long, even
    /// before the deadline (`None`: wait until the deadline).
    pub(crate) stuck_worker_grace: Option<Duration>,
}

impl ShutdownWait {
    /// Dropping a runtime: stuck workers get `SHUTDOWN_GRACE`; running
    /// blocking closures are waited for without limit.
    pub(crate) fn on_drop() -> ShutdownWait {
        ShutdownWait {
            deadline: None,
            stuck_worker_grace: Some(SHUTDOWN_GRACE),
        }
    }

    /// `shutdown_timeout(limit)`: every thread gets until `now + limit`.
    pub(crate) fn within(limit: Duration) -> ShutdownWait {
        ShutdownWait {
            deadline: Instant::now().checked_add(limit),
            stuck_worker_grace: None,
        }
    }

    /// `shutdown_background()`: detach anything that is not about to exit.
    pub(crate) fn detach() -> ShutdownWait {
        ShutdownWait {
            deadline: Some(Instant::now()),
            stuck_worker_grace: Some(Duration::ZERO),
        }
    }

    fn past_deadline(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

/// What every task carries in its header: its runtime, and its registry
/// slot (none for blocking-pool tasks).
#[derive(Debug)]
pub(crate) struct TaskMeta {
    pub(crate) shared: Arc<Shared>,
    /// Registry slot, packed (`Key::pack`); set right after the task is
    /// created, before it can run.
    pub(crate) key: std::sync::atomic::AtomicU32,
}

/// A runnable task of this runtime.
pub(crate) type Task = Runnable<TaskMeta>;

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
            ps: (0..workers).map(Processor::new).collect(),
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
            if let Err(e) = shared.start_m(p, false) {
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

    // ----- spawning ---------------------------------------------------------

    /// Spawns `future` as a task of this runtime (Go's `newproc`).
    pub(crate) fn spawn<F>(self: &Arc<Self>, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let hint = context::with_worker(|w| w.and_then(|w| w.p.get())).unwrap_or_else(thread_hint);
        let meta = TaskMeta {
            shared: self.clone(),
            key: std::sync::atomic::AtomicU32::new(Key::pack(None)),
        };
        let (runnable, task) = async_task::Builder::new()
            .metadata(meta)
            .propagate_panic(true)
            .spawn(
                move |meta: &TaskMeta| Tracked {
                    future,
                    meta: meta as *const TaskMeta,
                },
                WithInfo(schedule_task),
            );
        let key = self.registry.insert(hint, runnable.waker());
        runnable
            .metadata()
            .key
            .store(Key::pack(Some(key)), Ordering::Release);
        if self.is_shutdown() {
            // Spawning into a runtime that is shutting down cancels the task.
            drop(runnable);
        } else {
            runnable.schedule();
        }
        JoinHandle::new(task)
    }

    // ----- scheduling -------------------------------------------------------

    /// A task woke on this runtime's worker thread `w`: onto its P if the
    /// thread still owns one, else the global queue (ownership.rs).
    fn schedule_local(&self, w: &WorkerContext, task: Task, info: ScheduleInfo) {
        if let Some(batch) = w.batch.borrow_mut().as_mut() {
            batch.push(task);
            return;
        }
        let Some(pid) = w.p.get() else {
            return self.schedule_remote(task);
        };
        if self.drained.load(Ordering::Acquire) {
            // A worker detached at shutdown finished its poll late: nobody
            // will run this task again; dropping it cancels it.
            drop(task);
            return;
        }
        let p = &self.ps[pid];
        let mut task = Some(task);
        let published = p.owner.publish_as(w.machine.id, || {
            let Some(task) = task.take() else { return };
            if info.woken_while_running {
                self.push_local(p, task);
                self.wakep();
            } else if let Some(old) = p.put_runnext(task) {
                self.push_local(p, old);
                self.wakep();
            }
        });
        match published {
            ownership::Published::Owned => {}
            // The P was taken while we published: its new owner may have
            // looked already and released it, so make sure an M looks.
            ownership::Published::LostMeanwhile => self.wakep(),
            ownership::Published::NotOwner => {
                // sysmon handed this thread's P away while its task's poll
                // was stuck (Go's M in a syscall): the P belongs to another
                // M or sits idle, so the task goes where any M will find it.
                if let Some(task) = task {
                    return self.schedule_remote(task);
                }
            }
        }
        self.drop_if_drained();
    }

    /// A task woke anywhere else: global queue, then wake an M.
    pub(crate) fn schedule_remote(&self, task: Task) {
        if self.drained.load(Ordering::Acquire) {
            // Nobody will ever run it; dropping it cancels the task.
            drop(task);
            return;
        }
        self.global.push(task);
        if !self.is_shutdown() {
            self.wakep();
        }
        self.drop_if_drained();
    }

    /// Pairs with `drain`: a task pushed while shutdown finished draining
    /// (the push and the `drained` flag raced) is dropped here, by whoever
    /// pushed it, instead of staying queued forever.
    fn drop_if_drained(&self) {
        if self.drained.load(Ordering::SeqCst) {
            self.drop_queued();
        }
    }

    /// Appends to P's local queue; when it is full, moves half of it (and
    /// `task`) to the global queue (Go's `runqputslow`).
    pub(crate) fn push_local(&self, p: &Processor, task: Task) {
        if let Err(task) = p.runq.push(task) {
            processor::PCounters::bump(&p.counters.overflows);
            let mut batch = Vec::with_capacity(runqueue::CAPACITY / 2 + 1);
            batch.extend(std::iter::from_fn(|| p.runq.pop()).take(runqueue::CAPACITY / 2));
            batch.push(task);
            self.global.push_batch(batch);
        }
    }

    /// Moves tasks made runnable together (a netpoll batch; `tasks` is left
    /// empty, its buffer kept for the next batch) to P `pid` if
    /// there is one, else on the global queue, and wakes an M if more than
    /// one task is waiting. What P's local queue cannot hold goes to the
    /// global queue behind it (Go's `runqputbatch`): unlike `push_local`'s
    /// overflow, this never moves tasks queued earlier behind later ones.
    pub(crate) fn inject(&self, pid: Option<usize>, tasks: &mut Vec<Task>) {
        let n = tasks.len();
        let mut rest = Vec::new();
        for t in tasks.drain(..) {
            match pid {
                Some(pid) => rest.extend(self.ps[pid].runq.push(t).err()),
                None => rest.push(t),
            }
        }
        if !rest.is_empty() {
            self.global.push_batch(rest);
        }
        if n > 0 {
            self.wakep();
        }
    }

    /// True if any queue holds a task (the idle re-check).
    pub(crate) fn any_tasks(&self) -> bool {
        !self.global.is_empty() || self.ps.iter().any(Processor::has_tasks)
    }

    // ----- waking Ms (Go's wakep / startm) ----------------------------------

    /// Wakes an idle M to spin for work, unless one is already spinning or
    /// no P is idle.
    pub(crate) fn wakep(&self) {
        if self.idle.npidle() == 0 || self.idle.nmspinning() != 0 {
            return;
        }
        if self
            .idle
            .nmspinning
            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        self.startm(None, true);
    }

    /// Gives P `p` (or an idle P) to an idle M, starting a spare M if none
    /// is listed. `spinning`: the caller incremented `nmspinning` for it.
    pub(crate) fn startm(&self, p: Option<usize>, spinning: bool) {
        let mut lists = self.idle.lock();
        let pid = match p.or_else(|| lists.get_p(&self.idle)) {
            Some(pid) => pid,
            None => {
                drop(lists);
                if spinning {
                    self.idle.nmspinning.fetch_sub(1, Ordering::SeqCst);
                }
                return;
            }
        };
        match lists.get_m() {
            Some(m) => {
                drop(lists);
                let taken = self.ps[pid].owner.transfer(0, m.id);
                debug_assert!(taken, "an idle-listed P has no owner");
                m.hand_p(pid, spinning);
                m.wake(&self.poller);
            }
            None => {
                drop(lists);
                if self.is_shutdown() || self.start_m(pid, spinning).is_err() {
                    // No thread to run it (`start_m` left it unowned): the
                    // P goes back to the idle list.
                    let mut lists = self.idle.lock();
                    lists.put_p(&self.idle, pid);
                    drop(lists);
                    if spinning {
                        self.idle.nmspinning.fetch_sub(1, Ordering::SeqCst);
                    }
                }
            }
        }
        self.sysmon.wake_if_sleeping();
    }

    /// Starts a new M thread that begins by running P `pid` (unowned). On
    /// error the P is left unowned.
    fn start_m(&self, pid: usize, spinning: bool) -> io::Result<()> {
        let m = self.new_machine();
        let taken = self.ps[pid].owner.transfer(0, m.id);
        debug_assert!(taken, "a P being started has no owner");
        let id = m.id;
        self.spawn_m(m, pid, spinning).inspect_err(|_| {
            self.ps[pid].owner.transfer(id, 0);
        })
    }

    /// A fresh M with a new id, not yet running.
    pub(crate) fn new_machine(&self) -> Arc<Machine> {
        Arc::new(Machine::new(self.next_m_id.fetch_add(1, Ordering::Relaxed)))
    }

    /// Starts the thread of M `m`, handing it P `pid` (whose `owner` the
    /// caller has already set to `m.id`).
    pub(crate) fn spawn_m(&self, m: Arc<Machine>, pid: usize, spinning: bool) -> io::Result<()> {
        m.hand_p(pid, spinning);
        let shared = self.arc();
        let mut builder = std::thread::Builder::new().name((self.config.thread_name)());
        if let Some(size) = self.config.stack_size {
            builder = builder.stack_size(size);
        }
        self.idle.lock().threads += 1;
        let machine = m.clone();
        match builder.spawn(move || machine::run(shared, m)) {
            Ok(handle) => {
                let mut threads = self.threads.lock();
                threads.retain(|(h, _)| !h.is_finished());
                threads.push((handle, machine));
                Ok(())
            }
            Err(e) => {
                self.idle.lock().threads -= 1;
                Err(e)
            }
        }
    }

    /// An `Arc` to self (for threads started after construction).
    pub(crate) fn arc(&self) -> Arc<Shared> {
        self.me
            .upgrade()
            .expect("a runtime in use is referenced by an Arc")
    }

    // ----- timers and the poller --------------------------------------------

    /// Earliest timer across all Ps.
    pub(crate) fn earliest_timer(&self) -> u64 {
        self.ps
            .iter()
            .map(|p| p.timers.next_when())
            .min()
            .unwrap_or(NEVER)
    }

    /// Runs every due timer on every P. Returns how many fired.
    pub(crate) fn run_all_timers(&self, now: u64) -> usize {
        self.ps
            .iter()
            .map(|p| p.timers.run(now, self.poller.waiters()))
            .sum()
    }

    /// A task just parked on a descriptor: if no M is blocked in the poller,
    /// wake an idle one so it takes that role. (In Go the parking goroutine's
    /// own M goes on to poll; here the waiter may be a `block_on` thread, and
    /// every M may already be parked on its futex.)
    pub(crate) fn ensure_poller(&self) {
        if !self.polling.load(Ordering::SeqCst) {
            self.wakep();
        }
    }

    /// Go's `wakeNetPoller`: a timer for `when` was armed; make sure some M
    /// will wake up for it.
    pub(crate) fn wake_net_poller(&self, when: u64) {
        if self.polling.load(Ordering::SeqCst) {
            let until = self.poll_until.load(Ordering::SeqCst);
            if until == 0 || until > when {
                self.poller.wake();
            }
        } else {
            self.wakep();
        }
    }

    // ----- shutdown -----------------------------------------------------------

    /// Shuts down as dropping a runtime does ([`ShutdownWait::on_drop`]).
    pub(crate) fn shutdown(&self) {
        self.shutdown_with(ShutdownWait::on_drop());
    }

    /// Stops every M and sysmon, waits for them, cancels every task, then
    /// waits for the blocking pool's threads, as long as `wait` allows.
    /// Idempotent: only the first call does anything.
    pub(crate) fn shutdown_with(&self, wait: ShutdownWait) {
        if self.shutdown.swap(true, Ordering::AcqRel) {
            return;
        }
        // First, before waiting for any thread: a worker may be blocked on
        // one of this runtime's sleeps or sockets (a sync library calling
        // `futures::executor::block_on` inside a task), and only this
        // releases it.
        self.release_waiters();
        self.sysmon.stop();
        let listed: Vec<Arc<Machine>> = self.idle.lock().ms.clone();
        for m in &listed {
            m.wake(&self.poller);
        }
        self.poller.wake();
        self.blocking.shutdown();
        sysmon::join(self);
        // Join every M. One that is stuck inside a task's poll (the case
        // sysmon hands off for) cannot be joined without waiting for that
        // task: it is detached instead, and exits when the poll returns and
        // it sees the shutdown flag.
        let me = std::thread::current().id();
        let threads = std::mem::take(&mut *self.threads.lock());
        for (handle, m) in threads {
            if handle.thread().id() == me {
                continue; // dropped from one of its own tasks: cannot join itself
            }
            let mut stuck_since = None;
            while !handle.is_finished() {
                if m.in_task_poll() {
                    let since = *stuck_since.get_or_insert_with(Instant::now);
                    let grace_over = wait
                        .stuck_worker_grace
                        .is_some_and(|grace| since.elapsed() >= grace);
                    if grace_over || wait.past_deadline() {
                        break;
                    }
                } else {
                    stuck_since = None;
                }
                // Keep waking: an M may have parked again before seeing the flag.
                for idle in self.idle.lock().ms.iter() {
                    idle.wake(&self.poller);
                }
                self.poller.wake();
                std::thread::sleep(Duration::from_micros(200));
            }
            if handle.is_finished() {
                let _ = handle.join();
            }
        }
        self.drain();
        self.blocking.wait_threads_exit(wait.deadline);
        self.poller.shutdown();
    }

    /// Runtime shutdown: nothing may keep waiting on this runtime's sockets
    /// or timers, wherever it is polled (DESIGN.md §3). Fails every
    /// descriptor (I/O futures return "goro runtime is shut down") and
    /// completes every armed sleep, waking their waiters. Idempotent.
    pub(crate) fn release_waiters(&self) {
        self.poller.shut_down_waiters();
        for p in self.ps.iter() {
            p.timers.fire_all_at_shutdown();
        }
    }

    /// Cancels every task: wakes all registered tasks so they land in a
    /// queue, then drops everything queued until nothing is left.
    fn drain(&self) {
        for w in self.registry.take_all() {
            w.wake();
        }
        while self.drop_queued() {}
        self.drained.store(true, Ordering::SeqCst);
        // Anything pushed between the last pass and the flag (the pushers
        // re-check the flag after pushing; see `drop_if_drained`).
        self.drop_queued();
    }

    /// Drops every queued task and armed timer; true if there was any.
    fn drop_queued(&self) -> bool {
        let mut dropped = false;
        while let Some(t) = self.global.pop() {
            drop(t);
            dropped = true;
        }
        for p in self.ps.iter() {
            while let Some(t) = p.runq.pop() {
                drop(t);
                dropped = true;
            }
            if let Some(t) = p.take_runnext() {
                drop(t);
                dropped = true;
            }
            for entry in p.timers.clear() {
                drop(entry);
                dropped = true;
            }
        }
        dropped
    }
}

impl TimerSink for Shared {
    fn arm(&self, entry: TimerEntry) -> usize {
        let when = entry.when;
        let p = context::with_worker(|w| {
            w.filter(|w| std::ptr::eq(&*w.shared, self))
                .and_then(|w| w.p.get())
        })
        .unwrap_or_else(|| thread_hint() % self.ps.len());
        if self.ps[p].timers.add(entry) {
            self.wake_net_poller(when);
        }
        p
    }

    fn stale(&self, p: usize) {
        self.ps[p].timers.note_stale();
    }
}

/// Gives away the P of the current worker thread, if it holds one, before
/// it runs blocking code (Go's `entersyscallblock` + `handoffp`): to another
/// M if work is waiting for the P, else back to the idle list. Either way
/// (and also when sysmon already took the P) the thread stops treating the
/// P as its own: wakes during the rest of this poll go through the global
/// queue, and the M looks for a P again when the poll returns.
pub(crate) fn hand_off_current_p() {
    context::with_worker(|w| {
        let Some(w) = w else { return };
        let Some(pid) = w.p.get() else { return };
        let shared = &*w.shared;
        let p = &shared.ps[pid];
        let me = w.machine.id;
        let has_work = || {
            p.has_tasks()
                || !shared.global.is_empty()
                || p.timers.next_when() != NEVER
                || shared.poller.has_waiters()
        };
        // (A reservation by sysmon is resolved first: this M is inside a
        // poll, so sysmon takes the P.)
        let word = p.owner.settled();
        let released = if !ownership::Ownership::owned_by(word, me) {
            true // sysmon took it already
        } else if has_work() {
            // False if no M is available (this M keeps its P, like a stuck
            // one) or sysmon took the P meanwhile.
            sysmon::handoff(shared, p, word) || !p.owner.holds(me)
        } else {
            let ok = {
                let mut lists = shared.idle.lock();
                let ok = p.owner.transfer(me, 0);
                if ok {
                    lists.put_p(&shared.idle, pid);
                }
                ok
            };
            // Work that arrived after the check above found no idle P to
            // wake; this re-check (after publishing the idle P) closes that
            // window, as in the idle protocol.
            if ok && (shared.any_tasks() || has_work()) {
                shared.wakep();
            }
            // Not ok: sysmon handed it off between the checks.
            true
        };
        if released {
            // (A task is running, so this M is not spinning.)
            w.p.set(None);
            w.handed_off.set(true);
        }
    });
}

/// The schedule function of every task (async-task calls it on wake).
fn schedule_task(task: Task, info: ScheduleInfo) {
    let shared = Arc::as_ptr(&task.metadata().shared);
    context::with_worker(|w| match w {
        Some(w) if std::ptr::eq(Arc::as_ptr(&w.shared), shared) => {
            w.shared.schedule_local(w, task, info)
        }
        _ => {
            // Keep the runtime alive while we use it: once the task is
            // queued, another thread may run and drop it (and its Arc).
            let shared = task.metadata().shared.clone();
            shared.schedule_remote(task);
        }
    });
}

/// A per-thread number used to spread registry shards and timer heaps.
fn thread_hint() -> usize {
    thread_local! {
        static HINT: usize = {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            NEXT.fetch_add(1, Ordering::Relaxed)
        };
    }
    HINT.try_with(|h| *h).unwrap_or(0)
}

pin_project_lite::pin_project! {
    /// A spawned future that releases its registry slot when it completes
    /// or is dropped.
    struct Tracked<F> {
        #[pin]
        future: F,
        // Points into the task header, which outlives the future.
        meta: *const TaskMeta,
    }

    impl<F> PinnedDrop for Tracked<F> {
        fn drop(this: Pin<&mut Self>) {
            let meta = this.meta;
            // SAFETY: the metadata lives in the task header, which is freed
            // only after the future has been dropped.
            let meta = unsafe { &*meta };
            if let Some(key) = Key::unpack(meta.key.load(Ordering::Acquire)) {
                meta.shared.registry.release(key);
            }
        }
    }
}

// SAFETY: the raw pointer is to `TaskMeta`, which is Sync (an Arc<Shared>
// and an atomic key); the wrapper is Send whenever the future is.
unsafe impl<F: Send> Send for Tracked<F> {}

impl<F: Future> Future for Tracked<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().future.poll(cx)
    }
}
