//! sysmon: a thread without a P that watches the scheduler (Go's `sysmon`).
//!
//! Every round it:
//! 1. polls the network without blocking if nobody has for 10 ms, and
//!    queues the tasks that became ready (they would otherwise wait for an
//!    M to go idle);
//! 2. wakes an M if a timer is overdue and nobody is blocked in the poller;
//! 3. **retakes Ps**: a P owned by the same M (same owner word, see
//!    ownership.rs) whose scheduling tick has not moved for
//!    `handoff_after` while that M is inside a task's poll, and that has
//!    work waiting (its queue or timers, the global queue, or I/O waiters
//!    with no idle P to serve them), is handed to another M — an idle one,
//!    or a spare started for the purpose, up to `max_spare_threads` (a
//!    task that blocks on purpose, `block_in_place`, hands its P off past
//!    that cap: handoff.rs). The
//!    retake reserves the P and confirms, after a process-wide barrier,
//!    that the M is still inside that very poll; otherwise the P goes back
//!    to it untouched (ownership.rs). This is how a task that blocks its
//!    thread (a slow syscall, a CPU loop, a `std::thread::sleep`) stops
//!    stalling the tasks queued behind it;
//! 4. wakes an M for an idle P (no owner) whose queues hold tasks: nothing
//!    should leave tasks there, but if anything did they would wait for an
//!    unrelated wake; this bounds that wait by sysmon's period (sysmon does
//!    not go into its all-idle sleep while an idle P holds tasks).
//!
//! It sleeps 20 µs between rounds, doubling after 1 ms without a retake,
//! up to 10 ms; when every P has been idle for a second it sleeps until
//! a P is taken (there is nothing to watch, and the blocked poller serves
//! I/O and timers). It exits at shutdown.

use super::Shared;
use super::barrier;
use super::handoff::{self, IoWaiters, SpareCap, has_work};
use super::machine::Machine;
use super::ownership::Ownership;
use super::processor::{PCounters, Processor};
use crate::sync::{Condvar, Mutex};
use crate::time::clock::{self, NEVER};
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

const MIN_DELAY: Duration = Duration::from_micros(20);
const MAX_DELAY: Duration = Duration::from_millis(10);
/// All Ps idle this long: sleep until a P is taken.
const DEEP_SLEEP_AFTER: Duration = Duration::from_secs(1);
/// Poll the network if nobody has for this long.
const FORCE_POLL_NS: u64 = 10_000_000;

/// sysmon's sleep/wake state.
#[derive(Debug, Default)]
pub(crate) struct Sysmon {
    /// sysmon sleeps until woken because every P is idle.
    sleeping: AtomicBool,
    stop: Mutex<bool>,
    cv: Condvar,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Clock time at the start of sysmon's last round, 0 while it sleeps
    /// deeply (see `spawn_clock`).
    clock: AtomicU64,
}

impl Sysmon {
    /// A cheap "now" for spawn times: sysmon's last round (at most its
    /// period, 10 ms, old), or the clock while sysmon is not running rounds.
    pub(crate) fn spawn_clock(&self) -> u64 {
        match self.clock.load(Ordering::Relaxed) {
            0 => clock::now(),
            t => t,
        }
    }

    /// Wakes sysmon if it is in its all-idle sleep (called when a P is
    /// taken from the idle list).
    pub(crate) fn wake_if_sleeping(&self) {
        if self.sleeping.load(Ordering::SeqCst) {
            let _guard = self.stop.lock();
            self.cv.notify_one();
        }
    }

    /// Asks sysmon to exit.
    pub(crate) fn stop(&self) {
        *self.stop.lock() = true;
        self.cv.notify_one();
    }

    /// Sleeps `delay`, or — if `deep` — until a P is taken from the idle
    /// list. Returns false at shutdown. Only a deep sleep can be cut short
    /// by [`wake_if_sleeping`](Self::wake_if_sleeping): a timed one ends by
    /// itself soon enough, and waking sysmon on every P acquisition would
    /// cost a futex call and two context switches each time.
    fn sleep(&self, delay: Duration, deep: impl Fn() -> bool) -> bool {
        let mut stop = self.stop.lock();
        if *stop {
            return false;
        }
        if deep() {
            self.clock.store(0, Ordering::Relaxed);
            self.sleeping.store(true, Ordering::SeqCst);
            // A P may have been taken between the caller's check and the
            // store above, and its taker saw `sleeping` still false: look
            // again before waiting (the store and this load pair with the
            // taker's `npidle` update and `sleeping` load).
            if deep() {
                stop = self.cv.wait(stop);
            }
            self.sleeping.store(false, Ordering::SeqCst);
        } else {
            stop = self.cv.wait_timeout(stop, delay).0;
        }
        !*stop
    }
}

/// Starts the sysmon thread.
pub(crate) fn start(shared: &Arc<Shared>) -> io::Result<()> {
    let s = shared.clone();
    let handle = std::thread::Builder::new()
        .name("goro-sysmon".into())
        .spawn(move || run(&s))?;
    *shared.sysmon.thread.lock() = Some(handle);
    Ok(())
}

/// Waits for the sysmon thread to exit (after `Sysmon::stop`).
pub(crate) fn join(shared: &Shared) {
    let handle = shared.sysmon.thread.lock().take();
    if let Some(h) = handle
        && h.thread().id() != std::thread::current().id()
    {
        let _ = h.join();
    }
}

/// Per-P observation: the tick and owner word last seen, and since when
/// both have been unchanged.
#[derive(Clone, Copy)]
struct Seen {
    tick: u64,
    word: u64,
    since: u64,
}

fn run(shared: &Shared) {
    let nprocs = shared.nprocs();
    let mut seen = vec![
        Seen {
            tick: 0,
            word: 0,
            since: clock::now()
        };
        nprocs
    ];
    let mut delay = MIN_DELAY;
    let mut idle_rounds = 0u32;
    let mut all_idle_since: Option<std::time::Instant> = None;
    let mut trace = super::trace::Tracer::new(shared);
    let mut stalls = super::stall::StallWatch::default();
    loop {
        delay = if idle_rounds == 0 {
            MIN_DELAY
        } else if idle_rounds > 50 {
            (delay * 2).min(MAX_DELAY)
        } else {
            delay
        };
        // Every P idle: nothing to watch (the M blocked in the poller serves
        // I/O and timers). Sleep at the longest delay at first, and only
        // after a second of it for good, so a bursty server that goes idle
        // between bursts never pays for waking sysmon.
        // (Not while an idle P holds tasks: step 4 must get to them.)
        let deep = if shared.idle.npidle() == nprocs
            && trace.is_none()
            && !shared.ps.iter().any(|p| p.has_tasks())
            && !stalls.keeps_sysmon_awake(shared)
        {
            let since = *all_idle_since.get_or_insert_with(std::time::Instant::now);
            delay = MAX_DELAY;
            since.elapsed() >= DEEP_SLEEP_AFTER
        } else {
            all_idle_since = None;
            false
        };
        let still_idle = || deep && shared.idle.npidle() == nprocs;
        if !shared.sysmon.sleep(delay, still_idle) {
            return;
        }
        if deep {
            all_idle_since = None;
            idle_rounds = 0;
        }
        let now = clock::now();
        shared.sysmon.clock.store(now, Ordering::Relaxed);
        let mut did = false;

        // 1. Poll the network if nobody has for 10 ms.
        if shared.poller.has_waiters()
            && !shared.polling.load(Ordering::SeqCst)
            && now.saturating_sub(shared.last_poll.load(Ordering::Relaxed)) > FORCE_POLL_NS
        {
            shared.last_poll.store(now, Ordering::Relaxed);
            PCounters::bump(&shared.counters.sysmon_netpolls);
            // Not counted as work done (Go counts only retakes): polling
            // again sooner would find nothing more, since the next poll is
            // due 10 ms after this one whatever the delay, and a sysmon
            // waking every 20 µs preempts the workers it shares CPUs with.
            let _ = shared.poller.poll(Some(Duration::ZERO));
        }

        // 2. An overdue timer and nobody in the poller to fire it.
        let next = shared.earliest_timer();
        if next != NEVER
            && next.saturating_add(1_000_000) < now
            && !shared.polling.load(Ordering::SeqCst)
        {
            shared.wakep();
        }

        // 3. Retake Ps from Ms stuck in a poll; 4. wake an M for an idle P
        // holding tasks.
        let threshold = u64::try_from(shared.config.handoff_after.as_nanos()).unwrap_or(u64::MAX);
        for p in shared.ps.iter() {
            let word = p.owner.word();
            let tick = p.schedtick.load(Ordering::Relaxed);
            let s = &mut seen[p.id.index()];
            let idle = Ownership::owner_of(word).is_none();
            if idle && p.has_tasks() {
                shared.wakep();
            }
            // The clock restarts whenever the P polls a task, changes hands
            // (any release or acquisition changes the word: a P taken from
            // the idle list is not stuck, however long it sat idle), or is
            // idle.
            if tick != s.tick || word != s.word || idle {
                *s = Seen {
                    tick,
                    word,
                    since: now,
                };
                continue;
            }
            if now.saturating_sub(s.since) < threshold
                || !has_work(shared, p, IoWaiters::CountUnlessAPIsIdle)
            {
                continue;
            }
            // Owned by the same M, and no poll started, for the threshold:
            // that M is inside one poll that long — if it is in a poll at
            // all (it may be in `find_work`, firing slow timers).
            let Some((stuck, poll)) = in_task_poll(shared, word) else {
                continue;
            };
            // The poll read is the one running since `tick`, not one that
            // started since (its tick bump is ordered before its count).
            if p.schedtick.load(Ordering::Relaxed) != tick {
                continue;
            }
            if retake(shared, p, word, &stuck, poll) {
                s.since = now;
                did = true;
            }
        }

        stalls.round(shared, now);
        if let Some(t) = trace.as_mut() {
            t.tick(shared);
        }
        idle_rounds = if did { 0 } else { idle_rounds + 1 };
    }
}

/// The M named in `word`, if it is inside a task's poll, with its poll
/// count (odd).
pub(super) fn in_task_poll(shared: &Shared, word: u64) -> Option<(Arc<Machine>, u64)> {
    shared
        .threads
        .lock()
        .iter()
        .find(|(_, m)| Ownership::names(word, m.id))
        .and_then(|(_, m)| {
            let seq = m.poll_seq();
            (seq & 1 == 1).then(|| (m.clone(), seq))
        })
}

/// Retakes P `p` (Go's `retake` + `handoffp`): its owner word `seen`
/// names M `stuck`, inside poll number `poll` for the threshold. Reserves
/// the P, and hands it to another M only if, after the process-wide
/// barrier, `stuck` is still inside that poll; otherwise gives it back to
/// `stuck` (ownership.rs). Returns true if the P was handed off.
pub(super) fn retake(
    shared: &Shared,
    p: &Processor,
    seen: u64,
    stuck: &Machine,
    poll: u64,
) -> bool {
    // (A word that names no M cannot be reserved.)
    let Some(owner) = Ownership::owner_of(seen) else {
        return false;
    };
    handoff::give_p(shared, p, SpareCap::Respect, |to| {
        let Some(reserved) = p.owner.reserve(seen) else {
            return false;
        };
        let still_inside = barrier::heavy() && stuck.poll_seq() == poll;
        // Back to `stuck` if its poll returned: it goes on with its P.
        let to = if still_inside { to } else { owner };
        p.owner.resolve(reserved, to);
        still_inside
    })
}
