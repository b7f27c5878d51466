//! An M: an OS thread that runs the scheduling loop while it holds a P.
//!
//! # The loop (Go's `schedule` / `findRunnable`)
//!
//! ```text
//!            ┌──────────────── holds a P ─────────────────┐
//!            │ find_work:                                  │
//!            │  1. this P's due timers                     │
//!            │  2. every 61st tick: netpoll(0) if anyone   │
//!            │     waits on I/O, then one global task      │
//!            │  3. runnext (at most 16 in a row), local    │
//!            │  4. global queue (takes a batch)            │
//!            │  5. netpoll(0) if anyone waits on I/O and   │
//!            │     nobody is blocked in netpoll            │
//!            │  6. steal half of a random victim's queue   │
//!            │     (4 rounds; last round: runnext, timers) │
//!  run task ◄┤  found ──────────────────────────────────── ┘
//!            │  nothing: release the P, list this M as idle,
//!            │  re-check every queue (see idle.rs), then
//!            └► idle_wait: block in netpoll until the next timer if
//!               nobody else does and anyone waits on I/O or a timer;
//!               otherwise park until handed a P.
//! ```
//!
//! Each M counts its task polls (`poll_seq`, odd while inside one). After
//! every poll it stores the new count and checks it still owns its P (Go's
//! `exitsyscall`; the protocol with sysmon's retake is in ownership.rs):
//! sysmon may have handed the P to another M while the poll was stuck. If
//! so, the M lists itself idle and takes an idle P or parks, as a spare.
//! Spare Ms beyond the P count exit after `keep_alive` without work (at
//! once while more than `max_spare_threads` idle Ms are left over).

use super::barrier;
use super::context::{self, WorkerContext};
use super::ids::{MId, PId};
use super::processor::{PCounters, Processor};
use super::{Shared, Task};
use crate::time::clock::{self, NEVER};
use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// Tasks taken from `runnext` in a row before the local queue gets a turn.
const MAX_LIFO_STREAK: u32 = 16;
/// Every this many ticks the global queue is checked first (fairness).
const GLOBAL_CHECK_INTERVAL: u64 = 61;

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Machine {
    /// Unique per runtime.
    pub(crate) id: MId,
    thread: OnceLock<Thread>,
    /// A P handed to this M while it was idle: index + 1, or 0.
    next_p: AtomicUsize,
    /// This M is looking for work to steal (counted in `nmspinning`).
    spinning: AtomicBool,
    /// This M is blocked (or about to block) in `epoll_wait`.
    in_netpoll: AtomicBool,
    /// This M already left the thread count (a spare that timed out).
    retired: AtomicBool,
    /// Task polls this M started plus those it finished: odd while it is
    /// inside one. Only the M writes it (plain stores); sysmon reads it.
    poll_seq: AtomicU64,
    /// Id of the task of the current (or last) poll (stall reports, dumps).
    running: AtomicU64,
    /// The `poll_seq` of the last poll that gave its P away on purpose
    /// (`block_in_place`, `Handle::block_on`): not a stall.
    gave_p_in: AtomicU64,
    /// A stall sysmon reported for the running poll (stall.rs).
    pub(crate) stall: super::stall::StallSlot,
}

impl Machine {
    pub(crate) fn new(id: MId) -> Machine {
        Machine {
            id,
            thread: OnceLock::new(),
            next_p: AtomicUsize::new(0),
            spinning: AtomicBool::new(false),
            in_netpoll: AtomicBool::new(false),
            retired: AtomicBool::new(false),
            poll_seq: AtomicU64::new(0),
            running: AtomicU64::new(0),
            gave_p_in: AtomicU64::new(0),
            stall: super::stall::StallSlot::default(),
        }
    }

    /// Id (as a number) of the task this M polls, or last polled.
    pub(crate) fn running_task(&self) -> u64 {
        self.running.load(Ordering::Acquire)
    }

    /// This M's thread name, once its thread runs.
    pub(crate) fn thread_name(&self) -> Option<String> {
        self.thread.get().and_then(|t| t.name().map(String::from))
    }

    /// The running poll gives its P away to block on purpose.
    pub(crate) fn note_gave_p(&self) {
        self.gave_p_in.store(self.poll_seq(), Ordering::Relaxed);
    }

    /// True if poll `seq` gave its P away on purpose.
    pub(crate) fn gave_p_in(&self, seq: u64) -> bool {
        self.gave_p_in.load(Ordering::Relaxed) == seq
    }

    /// True while this M runs a task's poll.
    pub(crate) fn in_task_poll(&self) -> bool {
        self.poll_seq() & 1 == 1
    }

    /// The poll count (odd: inside a poll). Acquire: a reader that sees a
    /// poll started also sees the tick bumped for it.
    pub(crate) fn poll_seq(&self) -> u64 {
        self.poll_seq.load(Ordering::Acquire)
    }

    /// True while blocked in the poller.
    pub(crate) fn in_netpoll(&self) -> bool {
        self.in_netpoll.load(Ordering::SeqCst)
    }

    /// Hands P `pid` to this (idle) M; `wake` must follow.
    pub(crate) fn hand_p(&self, pid: PId, spinning: bool) {
        debug_assert_eq!(
            self.next_p.load(Ordering::Relaxed),
            0,
            "an M handed a second P before taking the first"
        );
        self.spinning.store(spinning, Ordering::Relaxed);
        self.next_p.store(pid.index() + 1, Ordering::SeqCst);
    }

    fn take_p(&self) -> Option<PId> {
        match self.next_p.swap(0, Ordering::SeqCst) {
            0 => None,
            n => Some(PId::new(n - 1)),
        }
    }

    /// Wakes this M wherever it sleeps: unpark, and break the poller if it
    /// is in `epoll_wait`.
    pub(crate) fn wake(&self, poller: &crate::poller::Poller) {
        if self.in_netpoll() {
            poller.wake();
        }
        if let Some(t) = self.thread.get() {
            t.unpark();
        }
    }
}

/// Thread entry point of an M.
pub(crate) fn run(shared: Arc<Shared>, m: Arc<Machine>) {
    let _ = m.thread.set(std::thread::current());
    let ctx = WorkerContext {
        p: Cell::new(m.take_p()),
        shared,
        machine: m,
        batch: RefCell::new(None),
        batch_buf: RefCell::new(Vec::new()),
        lifo_streak: Cell::new(0),
        handed_off: Cell::new(false),
        owes_netpoll: Cell::new(false),
    };
    let guard = context::set_worker(&ctx);
    schedule_loop(&ctx);
    drop(guard);
    let mut lists = ctx.shared.idle.lock();
    lists.unlist_m(&ctx.machine);
    if !ctx.machine.retired.load(Ordering::Relaxed) {
        lists.threads -= 1;
    }
}

fn schedule_loop(ctx: &WorkerContext) {
    let shared = &*ctx.shared;
    let m = &*ctx.machine;
    loop {
        if shared.is_shutdown() {
            return;
        }
        let Some(pid) = ctx.p.get() else {
            if ctx.handed_off.take() {
                lost_p(ctx);
                continue;
            }
            if !idle_wait(ctx) {
                return;
            }
            continue;
        };
        let p = &shared.ps[pid];
        // Go's `exitsyscall`: sysmon may have handed the P away while the
        // last poll was stuck. Find out before touching it.
        if !p.owner.holds(m.id) {
            lost_p(ctx);
            continue;
        }
        match find_work(ctx, p) {
            Some(task) => {
                // Only this M changes its flag while it holds a P, so a plain
                // load keeps the common case free of a locked instruction.
                if m.spinning.load(Ordering::Relaxed)
                    && m.spinning.swap(false, Ordering::Relaxed)
                    && shared.idle.stop_spinning() == 1
                {
                    // The last spinner found work: there may be more, so
                    // make sure someone else keeps looking (Go's
                    // `resetspinning`).
                    shared.wakep();
                }
                ctx.owes_netpoll.set(false);
                let kept = run_task(m, p, task);
                // Not kept: handed off while the poll was stuck, or given
                // away by `block_in_place`. The word no longer names this
                // M (only this M could give it back to itself), so the
                // check at the top of the loop takes the lost-P path.
                debug_assert!(kept || !p.owner.is_owned_by(m.id));
            }
            None => release_p(ctx, p),
        }
    }
}

/// Polls one task. Returns false if `p` was taken during the poll (the
/// caller must not touch it again).
fn run_task(m: &Machine, p: &Processor, task: Task) -> bool {
    PCounters::bump(&p.schedtick);
    // Only this M writes its count: load and store, no locked instruction.
    let seq = m.poll_seq.load(Ordering::Relaxed) + 1;
    // Release, paired with `running_task`: a sysmon that reads this id then
    // re-reads the count sees it move past `seq - 1`'s end (stall.rs).
    m.running
        .store(task.metadata().record.id.as_u64(), Ordering::Release);
    // Release: sysmon, reading the odd count, sees the tick bumped above.
    m.poll_seq.store(seq, Ordering::Release);
    crate::scheduler::budget::reset();
    // Task panics are caught by async-task and surface through the
    // JoinHandle; this catches anything else (a panicking waker or drop) so
    // the worker survives.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| task.run()));
    m.poll_seq.store(seq + 1, Ordering::Release);
    // The poll is over, then the owner word: sysmon reserves the word, then
    // reads the count (barrier.rs), so one of them sees the other.
    barrier::light();
    let kept = p.owner.holds(m.id);
    m.stall.poll_returned(seq, kept);
    kept
}

/// Steps 1–6 of the module docs. `None` means "nothing to do: go idle".
fn find_work(ctx: &WorkerContext, p: &Processor) -> Option<Task> {
    let shared = &*ctx.shared;
    let next = p.timers.next_when();
    if next != NEVER {
        let now = clock::now();
        if next <= now {
            p.timers.run(now);
        }
    }
    let mut polled = false;
    if p.schedtick
        .load(Ordering::Relaxed)
        .is_multiple_of(GLOBAL_CHECK_INTERVAL)
    {
        // Fairness under load: a busy M would otherwise leave I/O events
        // and remotely woken tasks waiting until its own queue runs dry.
        if shared.poller.has_waiters() && !shared.polling.load(Ordering::SeqCst) {
            polled = true;
            let mut batch = netpoll_batch(ctx, p);
            shared.inject(Some(p.id), &mut batch, 0);
            *ctx.batch_buf.borrow_mut() = batch;
        }
        if let Some(t) = shared.global.pop() {
            return Some(t);
        }
    }
    if ctx.lifo_streak.get() < MAX_LIFO_STREAK
        && let Some(t) = p.take_runnext()
    {
        ctx.lifo_streak.set(ctx.lifo_streak.get() + 1);
        return Some(t);
    }
    ctx.lifo_streak.set(0);
    if let Some(t) = p.runq.pop().or_else(|| p.take_runnext()) {
        return Some(t);
    }
    if let Some(t) = global_batch(shared, p) {
        return Some(t);
    }
    // (Not again if this call just polled on the 61st tick.)
    if !polled
        && shared.poller.has_waiters()
        && !shared.polling.load(Ordering::SeqCst)
        && let Some(t) = netpoll_now(ctx, p)
    {
        return Some(t);
    }
    steal(ctx, p)
}

/// Takes one task from the global queue plus a fair share into the local
/// queue (Go's `globrunqget`).
fn global_batch(shared: &Shared, p: &Processor) -> Option<Task> {
    let nprocs = shared.nprocs();
    shared.global.pop_batch(
        |left| (left / nprocs).min(super::runqueue::CAPACITY / 2),
        |t| p.runq.push(t),
    )
}

/// Polls the network without blocking; runs one ready task, queues the rest.
fn netpoll_now(ctx: &WorkerContext, p: &Processor) -> Option<Task> {
    let mut batch = netpoll_batch(ctx, p);
    if batch.is_empty() {
        *ctx.batch_buf.borrow_mut() = batch;
        return None;
    }
    // `remove`, not `swap_remove`: the rest keep their readiness order.
    let first = batch.remove(0);
    ctx.shared.inject(Some(p.id), &mut batch, 0);
    *ctx.batch_buf.borrow_mut() = batch;
    Some(first)
}

/// Polls the network without blocking and returns the tasks it made
/// runnable: no more than P's local queue has room for, so injecting them
/// never overflows it. (An overflow would move the queue's *oldest* half to
/// the global queue, which a busy P reads one task per 61 ticks: under a
/// steady stream of events that is where the latency tail came from.)
/// Descriptors left ready stay on the kernel's FIFO ready list.
fn netpoll_batch(ctx: &WorkerContext, p: &Processor) -> Vec<Task> {
    let shared = &*ctx.shared;
    let room = super::runqueue::CAPACITY.saturating_sub(p.runq.len());
    if room == 0 {
        return Vec::new();
    }
    PCounters::bump(&p.counters.netpoll_nonblocking);
    let batch = collect(ctx, || {
        let _ = shared.poller.poll_at_most(Some(Duration::ZERO), room);
    });
    shared.last_poll.store(clock::now(), Ordering::Relaxed);
    batch
}

/// Runs `f` with wakes on this thread collected into a batch (in the
/// buffer the last batch left, which the caller gives back once empty).
fn collect(ctx: &WorkerContext, f: impl FnOnce()) -> Vec<Task> {
    *ctx.batch.borrow_mut() = Some(ctx.batch_buf.take());
    f();
    ctx.batch.borrow_mut().take().unwrap_or_default()
}

/// Steals from other Ps (Go's `stealWork`). Limits the number of spinning
/// Ms to half the busy Ps, as Go does, so idle Ms do not burn the CPU that
/// busy ones need.
fn steal(ctx: &WorkerContext, p: &Processor) -> Option<Task> {
    let shared = &*ctx.shared;
    let m = &*ctx.machine;
    let n = shared.nprocs();
    if n == 1 {
        return None;
    }
    if !m.spinning.load(Ordering::Relaxed) {
        let busy = n - shared.idle.npidle();
        if 2 * shared.idle.nmspinning() >= busy {
            return None;
        }
        m.spinning.store(true, Ordering::Relaxed);
        shared.idle.nmspinning.fetch_add(1, Ordering::SeqCst);
    }
    const ROUNDS: usize = 4;
    for round in 0..ROUNDS {
        let last = round == ROUNDS - 1;
        let start = fastrand(n);
        for i in 0..n {
            let victim = &shared.ps[(start + i) % n];
            if victim.id == p.id {
                continue;
            }
            if last {
                let now = clock::now();
                if victim.timers.next_when() <= now {
                    victim.timers.run(now);
                    if let Some(t) = p.take_runnext().or_else(|| p.runq.pop()) {
                        return Some(t);
                    }
                }
            }
            if let Some(t) = victim.runq.steal_half_into(&p.runq, |t| {
                shared.global.push(t);
            }) {
                PCounters::bump(&p.counters.steals);
                return Some(t);
            }
            if last && let Some(t) = victim.take_runnext() {
                PCounters::bump(&p.counters.steals);
                return Some(t);
            }
        }
    }
    None
}

/// Nothing to run: give the P back and list this M idle, then re-check
/// every queue once (the lost-wakeup protocol of idle.rs).
fn release_p(ctx: &WorkerContext, p: &Processor) {
    let shared = &*ctx.shared;
    let m = &ctx.machine;
    let was_spinning = m.spinning.swap(false, Ordering::Relaxed);
    // Going idle: polling is up to the idle Ms now (`idle_wait`).
    ctx.owes_netpoll.set(false);
    {
        let mut lists = shared.idle.lock();
        if p.owner.transfer(Some(m.id), None) {
            lists.put_p(&shared.idle, p.id);
        }
        lists.ms.push(m.clone());
    }
    ctx.p.set(None);
    if was_spinning {
        shared.idle.stop_spinning();
    }
    if shared.any_tasks() || shared.earliest_timer() <= clock::now() {
        reacquire(ctx, true);
    }
}

/// Takes a P for this listed-idle M: the one handed to it, or any idle P.
/// Returns false (and stays listed) if there is none.
fn reacquire(ctx: &WorkerContext, spin: bool) -> bool {
    let shared = &*ctx.shared;
    let m = &*ctx.machine;
    if let Some(pid) = m.take_p() {
        ctx.wire_p(pid);
        return true;
    }
    let mut lists = shared.idle.lock();
    // Handed a P between the check above and the lock?
    if let Some(pid) = m.take_p() {
        ctx.wire_p(pid);
        return true;
    }
    if lists.ps.is_empty() || !lists.unlist_m(m) {
        return false;
    }
    let pid = lists.get_p(&shared.idle).expect("checked non-empty");
    let taken = shared.ps[pid].owner.transfer(None, Some(m.id));
    debug_assert!(taken, "an idle-listed P has no owner");
    drop(lists);
    if spin {
        m.spinning.store(true, Ordering::Relaxed);
        shared.idle.nmspinning.fetch_add(1, Ordering::SeqCst);
    }
    shared.sysmon.wake_if_sleeping();
    ctx.wire_p(pid);
    true
}

/// This M lost its P to a hand-off while a poll was stuck (or gave it away
/// in `block_in_place`): list itself idle, and take an idle P at once if
/// there is one (Go's `exitsyscallfast`), else become a spare.
fn lost_p(ctx: &WorkerContext) {
    ctx.p.set(None);
    ctx.owes_netpoll.set(false);
    if ctx.machine.spinning.swap(false, Ordering::Relaxed) {
        // It took the P back spinning just before sysmon handed it away:
        // give up the spinning count with the P, or wakep would believe
        // someone is still looking for work.
        ctx.shared.idle.stop_spinning();
    }
    ctx.shared.idle.lock().ms.push(ctx.machine.clone());
    reacquire(ctx, false);
}

/// An idle, listed M waits for a P: in the poller if it is the one M that
/// should, otherwise parked. Returns false when the M should exit.
fn idle_wait(ctx: &WorkerContext) -> bool {
    let shared = &*ctx.shared;
    let m = &*ctx.machine;
    if let Some(pid) = m.take_p() {
        ctx.wire_p(pid);
        return true;
    }
    if shared.is_shutdown() {
        return false;
    }
    if (shared.poller.has_waiters() || shared.earliest_timer() != NEVER)
        && shared
            .polling
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    {
        return poll_blocking(ctx);
    }
    park(ctx)
}

/// Blocks in `netpoll` until I/O, the next timer, or a break (Go's blocking
/// `netpoll(delay)` in `findRunnable`). Called with `polling` claimed.
fn poll_blocking(ctx: &WorkerContext) -> bool {
    let shared = &*ctx.shared;
    let m = &*ctx.machine;
    m.in_netpoll.store(true, Ordering::SeqCst);
    let mut batch = Vec::new();
    if m.next_p.load(Ordering::SeqCst) == 0 && !shared.is_shutdown() {
        let next = shared.earliest_timer();
        shared.poll_until.store(next, Ordering::SeqCst);
        let timeout =
            (next != NEVER).then(|| Duration::from_nanos(next.saturating_sub(clock::now())));
        PCounters::bump(&shared.counters.netpoll_blocking);
        batch = collect(ctx, || {
            let _ = shared.poller.poll(timeout);
        });
        shared.poll_until.store(0, Ordering::SeqCst);
    }
    m.in_netpoll.store(false, Ordering::SeqCst);
    shared.last_poll.store(clock::now(), Ordering::Relaxed);
    shared.polling.store(false, Ordering::SeqCst);
    // Not spinning: nobody asked this M to look for work (unless a waker
    // handed it a P while it polled; `hand_p` then says so), so finding
    // its own I/O is no reason to wake another M (`resetspinning`); only
    // more than the one task it runs next is. (The price, as in tokio: an
    // event that comes while this M runs a long poll waits for it, or for
    // sysmon's 10 ms poll, where a spinning M would have woken an idle M
    // to take the poller role — at two futex calls per blocking poll.)
    if reacquire(ctx, false) {
        let pid = ctx.p.get();
        shared.run_all_timers(clock::now());
        // The timers may have queued tasks (into `runnext`, waking
        // nobody): then the batch's first task does not run next either.
        let kept = pid.map_or(0, |pid| usize::from(!shared.ps[pid].has_tasks()));
        shared.inject(pid, &mut batch, kept);
        *ctx.batch_buf.borrow_mut() = batch;
        true
    } else {
        // Every P is busy: their Ms will pick these up from the global queue.
        shared.inject(None, &mut batch, 0);
        *ctx.batch_buf.borrow_mut() = batch;
        park(ctx)
    }
}

/// Parks until handed a P. Spare Ms (beyond the P count) exit after
/// `keep_alive` without work, or at once while more Ms are idle than idle
/// Ps plus `max_spare_threads`.
fn park(ctx: &WorkerContext) -> bool {
    let shared = &*ctx.shared;
    let m = &*ctx.machine;
    let keep_alive = shared.config.keep_alive;
    let mut idle_since = Instant::now();
    loop {
        if let Some(pid) = m.take_p() {
            ctx.wire_p(pid);
            return true;
        }
        if shared.is_shutdown() {
            return false;
        }
        let (threads, beyond_cap) = {
            let lists = shared.idle.lock();
            (lists.threads, idle_beyond_cap(shared, &lists))
        };
        if threads > shared.nprocs() {
            // A spare exits after `keep_alive`, or at once while more Ms
            // are idle than idle Ps plus `max_spare_threads` (a hand-off
            // may start spares past the cap, handoff.rs). Not by the
            // thread count: Ms blocked in `block_in_place` count there, and
            // the M that runs the P they left would exit each time it
            // idles, a new thread started for the next wake.
            let timed_out = idle_since.elapsed() >= keep_alive;
            if timed_out || beyond_cap {
                let mut lists = shared.idle.lock();
                if m.next_p.load(Ordering::SeqCst) == 0
                    && lists.threads > shared.nprocs()
                    && (timed_out || idle_beyond_cap(shared, &lists))
                    && lists.unlist_m(m)
                {
                    lists.threads -= 1;
                    m.retired.store(true, Ordering::Relaxed);
                    return false;
                }
                idle_since = Instant::now();
            }
            std::thread::park_timeout(keep_alive);
        } else {
            // A timer or I/O waiter may appear while nobody polls: wake up
            // to take the poller role if it is free.
            if (shared.poller.has_waiters() || shared.earliest_timer() != NEVER)
                && !shared.polling.load(Ordering::SeqCst)
            {
                return true;
            }
            std::thread::park();
        }
    }
}

/// More Ms idle than the idle Ps need, by over `max_spare_threads`.
fn idle_beyond_cap(shared: &Shared, lists: &super::idle::IdleLists) -> bool {
    lists.ms.len() > lists.ps.len() + shared.config.max_spare_threads
}

/// A small per-thread xorshift generator for victim selection.
fn fastrand(n: usize) -> usize {
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            (t ^ (&t as *const u64 as u64)) | 1
        });
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        (x % n as u64) as usize
    })
}
