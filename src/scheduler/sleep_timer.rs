//! What a `Sleep` arms, and where the timer it waits on lives.
//!
//! # One allocation per sleeping task
//!
//! Like Go's per-goroutine `gp.timer`, every task carries one reusable
//! timer in its header (`TaskMeta::sleep`, a one-word [`HeaderTimer`]; its
//! protocol is in header_timer.rs). A `Sleep` that arms while a goro task
//! is being polled on this thread, *with that task's own waker*, claims
//! that timer if nobody holds it, and the heap entry references it through
//! a clone of the task's waker, which keeps the header (and so the timer)
//! alive however long the entry stays in a heap, and which the fire wakes.
//!
//! Otherwise a `Sleep` allocates its own `Arc<SleepTimer>`, as every sleep
//! used to: when the header timer is taken (a second sleep pending in the
//! same task), when there is no task (`block_on`, a foreign executor), and
//! when the waker is not the task's own (a combinator such as
//! `FuturesUnordered` wraps it; the header timer could not wake that). A
//! `Sleep` on the header timer that is later polled with another waker
//! (moved to another task, or into such a combinator) *migrates*: it gives
//! the header timer back unless it already fired, and arms its own timer
//! for the same deadline.
//!
//! # An own timer's state
//!
//! A [`SleepTimer`] keeps `seq`, `fired` and the sleeper's waker under its
//! lock, so a fire and a re-arming are atomic with respect to each other:
//!
//! - **arming** (the `Sleep`, on the thread polling it): pushes a heap
//!   entry carrying `seq`;
//! - **parking** ([`SleepTimer::poll_fired`], same `Sleep`, any thread
//!   that polls it): returns `fired`, else stores its waker;
//! - **firing** ([`SleepTimer::fire`], the thread running the P's timers,
//!   or shutdown): only if the entry's `seq` equals `seq` *and* `fired` is
//!   false, sets `fired` and takes the waker (woken after the lock);
//! - **releasing** ([`SleepTimer::release`], when the `Sleep` completes,
//!   is reset or dropped): bumps `seq` (an entry still in a heap, e.g.
//!   after shutdown completed the sleep, becomes stale), clears `fired` and
//!   drops the waker.
//!
//! `seq` is also kept in an atomic so the heap can drop stale entries
//! without taking the lock ([`SleepTimer::is_current`]: a hint, re-checked
//! by `fire`).
//!
//! The header outlives every user: the claiming `Sleep` and every heap
//! entry hold a clone of the task's waker, so a task that completes (or is
//! cancelled) while a stale entry is still in a heap is freed only when
//! that entry is dropped: when its deadline comes (it reaches the top of
//! its heap) or the heap compacts. A `NEVER` sleep (`Duration::MAX`) on
//! the header timer therefore arms no entry, since its entry would never
//! reach the top (see [`ArmedSleep::arm`]).
//!
//! An arming that finds the heaps closed by the runtime's shutdown (it saw
//! the runtime running, then the shutdown swept the heaps before its push)
//! is refused, and the sleep is complete (`Timers::add`).

use super::Shared;
use super::header_timer::HeaderTimer;
use super::spawn::TaskMeta;
use crate::sync::Mutex;
use crate::time::clock::NEVER;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Waker;

/// A timer of a `Sleep`'s own (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct SleepTimer {
    /// Copy of `State::seq` for lock-free staleness checks (written only
    /// under the lock).
    seq: AtomicU64,
    state: Mutex<State>,
}

/// The locked part of a [`SleepTimer`].
#[derive(Debug, Default)]
struct State {
    /// Current arming; heap entries with another number are stale.
    seq: u64,
    /// The entry with `seq` fired (or shutdown fired it).
    fired: bool,
    /// The sleeper to wake.
    waker: Option<Waker>,
}

impl SleepTimer {
    /// True if an entry armed with `seq` is still current (a lock-free
    /// hint; [`fire`](Self::fire) decides under the lock).
    pub(crate) fn is_current(&self, seq: u64) -> bool {
        self.seq.load(Ordering::Acquire) == seq
    }

    /// The entry armed with `seq` is due: marks the timer fired and wakes
    /// the sleeper, unless the timer was released or re-armed since.
    /// Returns true if it fired.
    pub(crate) fn fire(&self, seq: u64) -> bool {
        let waker = {
            let mut s = self.state.lock();
            if s.seq != seq || s.fired {
                return false;
            }
            s.fired = true;
            s.waker.take()
        };
        if let Some(w) = waker {
            // Contained: it may be another executor's waker, and this runs
            // on a goro thread firing timers (poller/wake.rs).
            crate::poller::wake::wake(w);
        }
        true
    }

    /// Parks `waker` until the timer fires; true if it already has.
    pub(crate) fn poll_fired(&self, waker: &Waker) -> bool {
        let old = {
            let mut s = self.state.lock();
            if s.fired {
                return true;
            }
            match &s.waker {
                Some(w) if w.will_wake(waker) => None,
                _ => s.waker.replace(waker.clone()),
            }
        };
        // Dropped outside the lock: it may be a task's last reference.
        drop(old);
        false
    }

    /// The holder is done with this arming: every entry armed so far
    /// becomes stale.
    fn release(&self) {
        let waker = {
            let mut s = self.state.lock();
            s.seq = s.seq.wrapping_add(1);
            self.seq.store(s.seq, Ordering::Release);
            s.fired = false;
            s.waker.take()
        };
        drop(waker);
    }
}

/// What a heap entry fires, kept alive by the reference.
#[derive(Debug, Clone)]
pub(crate) enum TimerRef {
    /// A timer of its own (no task to borrow one from, its timer was
    /// taken, or the waker is not the task's).
    Own(Arc<SleepTimer>),
    /// A task's header timer.
    Task(TaskTimer),
}

impl TimerRef {
    /// True if an entry armed with `seq` may still fire (a hint for the
    /// heap's lazy deletion).
    pub(crate) fn is_current(&self, seq: u64) -> bool {
        match self {
            TimerRef::Own(t) => t.is_current(seq),
            TimerRef::Task(t) => t.meta().sleep.is_current(seq),
        }
    }

    /// The entry armed with `seq` is due: fires the timer and wakes the
    /// sleeper (the task, through the entry's own clone of its waker),
    /// unless the arming is stale.
    pub(crate) fn fire(self, seq: u64) {
        match self {
            TimerRef::Own(t) => {
                t.fire(seq);
            }
            TimerRef::Task(t) => {
                if t.meta().sleep.fire(seq) {
                    // The task's own waker (goro's schedule function): no
                    // foreign code to contain.
                    t.task.wake();
                }
            }
        }
    }
}

/// A task's header timer, kept alive by a clone of the task's waker.
#[derive(Debug, Clone)]
pub(crate) struct TaskTimer {
    /// Keeps the task's allocation (and its header) alive; what a fire
    /// wakes, and what the `Sleep`'s poll compares its waker against.
    task: Waker,
    /// The header of the task `task` wakes.
    meta: NonNull<TaskMeta>,
}

// SAFETY: `meta` points into the header of the task `task` keeps alive;
// `TaskMeta` is Sync (an Arc, atomics and immutable data), and `Waker` is
// Send + Sync.
unsafe impl Send for TaskTimer {}
// SAFETY: as above.
unsafe impl Sync for TaskTimer {}

impl TaskTimer {
    fn meta(&self) -> &TaskMeta {
        // SAFETY: `task` holds a reference to the task, so its header (and
        // the metadata in it) is not freed before `self` drops.
        unsafe { self.meta.as_ref() }
    }

    fn timer(&self) -> &HeaderTimer {
        &self.meta().sleep
    }
}

/// Claims the header timer of the task being polled on this thread, if
/// there is one, it belongs to `shared`, `waker` is that task's own waker
/// (else its fire could not wake the sleeper), and the timer is free.
/// Returns it with the sequence number to arm with.
fn claim_task_timer(shared: &Arc<Shared>, waker: &Waker) -> Option<(TaskTimer, u64)> {
    let (record, task_waker) = crate::taskinfo::record::current_task()?;
    // SAFETY: only `Tracked::poll` enters a task poll, with the record
    // inside its task's `TaskMeta` (`enter_task_poll`'s contract), so the
    // `TaskMeta` starts `offset_of!(TaskMeta, record)` bytes before it;
    // both it and the task's waker stay valid until that poll returns,
    // which encloses this call (`current_task`'s contract).
    let (meta, task_waker) = unsafe {
        let meta = record
            .byte_sub(std::mem::offset_of!(TaskMeta, record))
            .cast::<TaskMeta>();
        (&*meta, &*task_waker)
    };
    if !waker.will_wake(task_waker) || !Arc::ptr_eq(&meta.shared, shared) {
        return None;
    }
    let seq = meta.sleep.claim()?;
    Some((
        TaskTimer {
            task: task_waker.clone(),
            meta: NonNull::from(meta),
        },
        seq,
    ))
}

/// An armed sleep: the timer it waits on, the arming's sequence number,
/// the runtime, and the P whose heap holds the entry ([`NO_ENTRY`] if
/// none does). Dropping it without [`disarm`](Self::disarm) or
/// [`complete`](Self::complete) leaks a header timer's claim (the task then
/// allocates for its later sleeps), so `Sleep` always calls one.
#[derive(Debug)]
pub(crate) struct ArmedSleep {
    timer: TimerRef,
    seq: u64,
    shared: Arc<Shared>,
    p: usize,
}

/// [`ArmedSleep::p`] of a sleep with no heap entry: a [`NEVER`] sleep on
/// its task's header timer, or one the shutdown completed as it armed.
const NO_ENTRY: usize = usize::MAX;

impl ArmedSleep {
    /// Arms a timer for `when` on the current runtime, for a `Sleep`
    /// polled with `waker`: the current task's header timer if free and
    /// `waker` is the task's, else a new one. `None` if the runtime is shut
    /// down (the sleep is complete).
    ///
    /// A [`NEVER`] sleep on the header timer pushes no heap entry: nothing
    /// would ever fire it, and an entry holds a clone of the task's waker,
    /// so once the sleep was cancelled (a `timeout(Duration::MAX, ..)`
    /// whose future won) its stale entry, which never reaches the top of
    /// the heap, would keep the finished task allocated until the heap
    /// compacts. Shutdown needs no entry to end such a sleep either: it
    /// cancels the task through the registry (and a poll after the shutdown
    /// sees it). A `NEVER` sleep on an own timer (outside a task, or polled
    /// with another waker, e.g. by a blocked worker's `block_on`) still
    /// pushes one, so that the shutdown can wake it; its stale entry holds
    /// only the small own timer, whose release dropped the waker.
    pub(crate) fn arm(when: u64, waker: &Waker) -> Option<ArmedSleep> {
        let shared = crate::runtime::current_scheduler();
        if shared.is_shutdown() {
            return None;
        }
        let (timer, seq) = match claim_task_timer(&shared, waker) {
            Some((t, seq)) if when == NEVER => {
                return Some(ArmedSleep {
                    timer: TimerRef::Task(t),
                    seq,
                    shared,
                    p: NO_ENTRY,
                });
            }
            Some((t, seq)) => (TimerRef::Task(t), seq),
            None => (TimerRef::Own(Arc::default()), 0),
        };
        let armed = ArmedSleep {
            timer: timer.clone(),
            seq,
            shared,
            p: NO_ENTRY,
        };
        match armed.shared.arm_sleep(timer, seq, when) {
            Some(p) => Some(ArmedSleep { p, ..armed }),
            None => {
                // The shutdown closed the heaps since the check above: the
                // sleep is complete.
                armed.complete();
                None
            }
        }
    }

    /// Parks `waker` until the timer (armed for `deadline`) fires; true if
    /// it has, or if the runtime is shut down. The shutdown check comes after
    /// parking: a shutdown that began earlier is seen here, one that begins
    /// later fires the timer (see `Timers::fire_all_at_shutdown`).
    pub(crate) fn poll(&mut self, waker: &Waker, deadline: std::time::Instant) -> bool {
        match &self.timer {
            TimerRef::Own(t) => t.poll_fired(waker) || self.shared.is_shutdown(),
            TimerRef::Task(t) => {
                if t.timer().has_fired(self.seq) {
                    return true;
                }
                if waker.will_wake(&t.task) {
                    // Parked already: the entry holds this very waker (a
                    // `NEVER` sleep has no entry: only shutdown ends it).
                    return self.shared.is_shutdown();
                }
                if !t.timer().release_unfired(self.seq) {
                    // It fired meanwhile: complete (we still hold the
                    // claim; `complete` releases it).
                    return true;
                }
                self.migrate(waker, crate::time::clock::to_nanos(deadline))
            }
        }
    }

    /// The header timer was given back (its entry is stale now): arms an
    /// own timer for the same deadline and parks `waker` on it.
    #[cold]
    fn migrate(&mut self, waker: &Waker, when: u64) -> bool {
        self.note_stale();
        let own = Arc::<SleepTimer>::default();
        let p = self.shared.arm_sleep(TimerRef::Own(own.clone()), 0, when);
        self.p = p.unwrap_or(NO_ENTRY);
        self.timer = TimerRef::Own(own.clone());
        self.seq = 0;
        // Refused: the shutdown closed the heaps, the sleep is complete.
        p.is_none() || own.poll_fired(waker) || self.shared.is_shutdown()
    }

    /// Cancels the timer (the sleep was dropped or reset before firing);
    /// its heap entry stays behind, stale, until the heap drops it.
    pub(crate) fn disarm(self) {
        self.release();
        self.note_stale();
    }

    /// Counts this sleep's heap entry, if it has one, as stale.
    fn note_stale(&self) {
        if self.p != NO_ENTRY {
            self.shared.timer_stale(self.p);
        }
    }

    /// The sleep completed: frees the timer for the task's next sleep.
    pub(crate) fn complete(self) {
        self.release();
    }

    fn release(&self) {
        match &self.timer {
            // Nobody else arms an own timer: only its entries need to go
            // stale (one may still be in a heap if shutdown completed us).
            TimerRef::Own(t) => t.release(),
            TimerRef::Task(t) => t.timer().release(self.seq),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    use crate::test_wakers::Count;

    #[test]
    fn a_stale_entry_never_fires_a_later_arming() {
        let t = SleepTimer::default();
        let woken = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(woken.clone());
        // First arming, cancelled: its entry (seq 0) stays behind.
        let first = t.seq.load(Ordering::Relaxed);
        assert!(!t.poll_fired(&waker));
        t.release();
        // Second arming, same timer.
        let second = t.seq.load(Ordering::Relaxed);
        assert_ne!(first, second);
        assert!(!t.poll_fired(&waker));
        assert!(!t.is_current(first));
        assert!(!t.fire(first), "the stale entry fires nothing");
        assert!(!t.poll_fired(&waker));
        assert_eq!(woken.0.load(Ordering::SeqCst), 0);
        assert!(t.fire(second));
        assert!(!t.fire(second), "fires once");
        assert_eq!(woken.0.load(Ordering::SeqCst), 1);
        assert!(t.poll_fired(&waker));
        t.release();
        assert!(!t.poll_fired(&waker), "released: no longer fired");
        t.release();
    }

    /// A worker looks at the shutdown flag, claims its task's header timer
    /// and pushes the entry: if the whole shutdown runs in between (the
    /// worker preempted, or detached while stuck in this task's poll), the
    /// entry lands in a heap nobody runs or clears again, and its clone of
    /// the task's waker keeps the task, whose header holds the runtime,
    /// whose heap holds the entry: a cycle. The runtime must still be freed.
    #[test]
    fn a_sleep_armed_across_a_whole_shutdown_does_not_keep_the_runtime() {
        use std::sync::mpsc;
        let rt = crate::runtime::Runtime::builder()
            .worker_threads(1)
            .build()
            .unwrap();
        let runtime = Arc::downgrade(&rt.handle().scheduler_for_tests());
        let (claimed_tx, claimed_rx) = mpsc::channel();
        let (shut_down_tx, shut_down_rx) = mpsc::channel::<()>();
        let (armed_tx, armed_rx) = mpsc::channel();
        drop(rt.spawn(std::future::poll_fn(move |cx| {
            // `ArmedSleep::arm`, with the shutdown between its check and
            // its push.
            let shared = crate::runtime::current_scheduler();
            assert!(!shared.is_shutdown());
            let (timer, seq) = claim_task_timer(&shared, cx.waker()).expect("free");
            claimed_tx.send(()).unwrap();
            shut_down_rx.recv().unwrap();
            let in_an_hour = crate::time::clock::now() + 3_600_000_000_000;
            let _ = shared.arm_sleep(TimerRef::Task(timer.clone()), seq, in_an_hour);
            // The sleep sees the shutdown and completes.
            assert!(shared.is_shutdown());
            timer.timer().release(seq);
            armed_tx.send(()).unwrap();
            std::task::Poll::Ready(())
        })));
        claimed_rx.recv().unwrap();
        // Detaches the worker stuck in that poll at once.
        rt.shutdown_background();
        shut_down_tx.send(()).unwrap();
        armed_rx.recv().unwrap();
        // The detached worker exits when the poll returns.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while runtime.strong_count() > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        assert_eq!(
            runtime.strong_count(),
            0,
            "the late entry keeps its task, and so the runtime, alive"
        );
    }

    #[test]
    fn an_own_timer_stays_small() {
        // 64 bytes with the Arc's counts (CHANGELOG).
        assert!(size_of::<SleepTimer>() <= 48, "{}", size_of::<SleepTimer>());
    }
}
