//! sysmon: a thread without a P that watches the scheduler (Go's `sysmon`).
//!
//! Every round it:
//! 1. polls the network without blocking if nobody has for 10 ms, and
//!    queues the tasks that became ready (they would otherwise wait for an
//!    M to go idle);
//! 2. wakes an M if a timer is overdue and nobody is blocked in the poller;
//! 3. **retakes Ps**: a P whose owner word (ownership.rs) has stayed the
//!    same in-poll word for `handoff_after` — its M is inside one task's
//!    poll that long — and that has work waiting (its queue or timers, the
//!    global queue, or I/O waiters with no idle P to serve them), is handed
//!    to another M — an idle one, or a spare started for the purpose, up to
//!    `max_spare_threads` — by a CAS from that exact word. The M's own CAS
//!    when the poll returns starts from the same word, so a P is never
//!    taken from an M that has left the poll. This is how a task that
//!    blocks its thread (a slow syscall, a CPU loop, a `std::thread::sleep`)
//!    stops stalling the tasks queued behind it;
//! 4. wakes an M for an idle P (no owner) whose queues hold tasks: nothing
//!    should leave tasks there, but if anything did they would wait for an
//!    unrelated wake; this bounds that wait by sysmon's period.
//!
//! It sleeps 20 µs between rounds, doubling after 1 ms without anything to
//! do, up to 10 ms; when every P has been idle for a second it sleeps until
//! a P is taken (there is nothing to watch, and the blocked poller serves
//! I/O and timers). It exits at shutdown.

use super::Shared;
use super::ownership::Ownership;
use super::processor::{PCounters, Processor};
use crate::time::clock::{self, NEVER};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
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
}

impl Sysmon {
    /// Wakes sysmon if it is in its all-idle sleep (called when a P is
    /// taken from the idle list).
    pub(crate) fn wake_if_sleeping(&self) {
        if self.sleeping.load(Ordering::SeqCst) {
            let _guard = crate::poller::fdmutex::lock(&self.stop);
            self.cv.notify_one();
        }
    }

    /// Asks sysmon to exit.
    pub(crate) fn stop(&self) {
        *crate::poller::fdmutex::lock(&self.stop) = true;
        self.cv.notify_one();
    }

    /// Sleeps `delay`, or — if `deep` — until a P is taken from the idle
    /// list. Returns false at shutdown. Only a deep sleep can be cut short
    /// by [`wake_if_sleeping`](Self::wake_if_sleeping): a timed one ends by
    /// itself soon enough, and waking sysmon on every P acquisition would
    /// cost a futex call and two context switches each time.
    fn sleep(&self, delay: Duration, deep: impl Fn() -> bool) -> bool {
        let mut stop = crate::poller::fdmutex::lock(&self.stop);
        if *stop {
            return false;
        }
        if deep() {
            self.sleeping.store(true, Ordering::SeqCst);
            // A P may have been taken between the caller's check and the
            // store above, and its taker saw `sleeping` still false: look
            // again before waiting (the store and this load pair with the
            // taker's `npidle` update and `sleeping` load).
            if deep() {
                stop = self.cv.wait(stop).unwrap_or_else(|e| e.into_inner());
            }
            self.sleeping.store(false, Ordering::SeqCst);
        } else {
            stop = self
                .cv
                .wait_timeout(stop, delay)
                .unwrap_or_else(|e| e.into_inner())
                .0;
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
    *crate::poller::fdmutex::lock(&shared.sysmon.thread) = Some(handle);
    Ok(())
}

/// Waits for the sysmon thread to exit (after `Sysmon::stop`).
pub(crate) fn join(shared: &Shared) {
    let handle = crate::poller::fdmutex::lock(&shared.sysmon.thread).take();
    if let Some(h) = handle
        && h.thread().id() != std::thread::current().id()
    {
        let _ = h.join();
    }
}

/// Per-P observation: the owner word last seen, and since when it has been
/// unchanged.
#[derive(Clone, Copy)]
struct Seen {
    word: u64,
    since: u64,
}

fn run(shared: &Shared) {
    let nprocs = shared.nprocs();
    let mut seen = vec![
        Seen {
            word: 0,
            since: clock::now()
        };
        nprocs
    ];
    let mut delay = MIN_DELAY;
    let mut idle_rounds = 0u32;
    let mut all_idle_since: Option<std::time::Instant> = None;
    let mut trace = super::super::runtime::trace::Tracer::new(shared);
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
        let deep = if shared.idle.npidle() == nprocs && trace.is_none() {
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
        let mut did = false;

        // 1. Poll the network if nobody has for 10 ms.
        if shared.poller.has_waiters()
            && !shared.polling.load(Ordering::SeqCst)
            && now.saturating_sub(shared.last_poll.load(Ordering::Relaxed)) > FORCE_POLL_NS
        {
            shared.last_poll.store(now, Ordering::Relaxed);
            PCounters::bump(&shared.counters.sysmon_netpolls);
            if let Ok(out) = shared.poller.poll(Some(Duration::ZERO)) {
                did |= out.events > 0;
            }
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
            let s = &mut seen[p.id];
            if Ownership::owner_of(word) == 0 && p.has_tasks() {
                shared.wakep();
            }
            // The clock restarts whenever the word changes: each poll has
            // its own word, and so does each release or acquisition (a P
            // taken from the idle list is not stuck, however long it sat
            // idle). It does not run while the owner is between polls.
            if word != s.word || !Ownership::in_poll(word) {
                *s = Seen { word, since: now };
                continue;
            }
            // The same poll for the threshold.
            if now.saturating_sub(s.since) < threshold || !has_work(shared, p) {
                continue;
            }
            if handoff(shared, p, word) {
                s.since = now;
                did = true;
            }
        }

        if let Some(t) = trace.as_mut() {
            t.tick(shared);
        }
        idle_rounds = if did { 0 } else { idle_rounds + 1 };
    }
}

/// Is anything waiting that P `p`'s stuck M would otherwise have run?
fn has_work(shared: &Shared, p: &Processor) -> bool {
    p.has_tasks()
        || p.timers.next_when() != NEVER
        || !shared.global.is_empty()
        || (shared.poller.has_waiters() && shared.idle.npidle() == 0)
}

/// Hands P `p` to another M (Go's `handoffp` after `retake`), if its owner
/// word is still `seen`: an in-poll word means "still inside that very
/// poll" (the owner's `leave_poll` and this CAS cannot both succeed), and
/// `block_in_place` passes the word of its own poll. Returns false if the
/// word changed or no M is available.
pub(crate) fn handoff(shared: &Shared, p: &Processor, seen: u64) -> bool {
    let mut lists = shared.idle.lock();
    if let Some(m) = lists.get_m() {
        if !p.owner.transfer_exact(seen, m.id) {
            lists.ms.push(m);
            return false;
        }
        drop(lists);
        m.hand_p(p.id, false);
        m.wake(&shared.poller);
    } else {
        if lists.threads >= shared.nprocs() + shared.config.max_spare_threads
            || shared.is_shutdown()
        {
            return false;
        }
        drop(lists);
        let m = shared.new_machine();
        let id = m.id;
        if !p.owner.transfer_exact(seen, id) {
            return false;
        }
        if shared.spawn_m(m, p.id, false).is_err() {
            // No thread. The stuck M may already have seen that it lost the
            // P, so it cannot be given back: it goes on the idle list, where
            // that M (or any other) takes it.
            let mut lists = shared.idle.lock();
            if p.owner.transfer(id, 0) {
                lists.put_p(&shared.idle, p.id);
            }
            drop(lists);
            shared.wakep();
            return false;
        }
    }
    shared.counters.handoffs.fetch_add(1, Ordering::Relaxed);
    true
}
