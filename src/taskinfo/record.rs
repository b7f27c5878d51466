//! What the runtime knows about each live task, for dumps and stall
//! reports: its [`Id`], optional name, spawn location and spawn time (all
//! fixed at spawn), and one atomic **state word** saying whether it is
//! queued, being polled, or what it last parked on.
//!
//! The record lives in the task's header (`TaskMeta`), so it costs no
//! allocation beyond the task itself (a name, only for named tasks, is a
//! `Box<str>` in a thin box, so unnamed tasks pay one word for it).
//!
//! # The state word
//!
//! `kind` in the top 4 bits, a payload in the low 60:
//!
//! ```text
//! spawn ──► QUEUED ──poll──► RUNNING ──parks on fd/timer/join──► WAIT_* ──wake──► QUEUED
//!              ▲                │
//!              └──── wake ──────┘ (no hook ran: "waiting on another waker")
//! ```
//!
//! - the schedule function stores `QUEUED` on every wake;
//! - [`enter_task_poll`] stores `RUNNING` and makes the record the
//!   thread's *current task* until the poll returns, together with the
//!   task's own waker ([`current_task`]; a `Sleep` uses them to borrow the
//!   task's timer, see `scheduler/sleep_timer.rs`). Two thread-local words,
//!   set when a poll begins; only the record is cleared when it ends;
//! - during the poll, the leaf futures goro owns (descriptor waits, sleeps,
//!   join handles and sets, fd lock waits, signals) call [`waiting_on`] when they return `Pending`: the first
//!   one in a poll wins (the future polled first is the one the task awaits
//!   most directly, e.g. the I/O inside a `timeout`);
//! - a poll that returns with the word still `RUNNING` parked on something
//!   goro does not know (a channel, a user future). Nothing is stored for
//!   it on the hot path: a dump shows a `RUNNING` task that no worker is
//!   polling as waiting on "another waker".
//!
//! All stores are `Relaxed`: the word is a diagnostic, read by dumps that
//! tolerate a momentarily stale value; it orders nothing.

use super::Id;
use std::cell::Cell;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Waker;

const KIND_SHIFT: u32 = 60;
const PAYLOAD: u64 = (1 << KIND_SHIFT) - 1;

const QUEUED: u64 = 0;
const RUNNING: u64 = 1;
const WAIT_READ: u64 = 2;
const WAIT_WRITE: u64 = 3;
const WAIT_TIMER: u64 = 4;
const WAIT_JOIN: u64 = 5;
const WAIT_JOIN_SET: u64 = 6;
const WAIT_BLOCKING: u64 = 7;
const WAIT_SIGNAL: u64 = 8;

/// What a parking future waits on (see [`waiting_on`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Readiness of an fd for reading.
    Read(i32),
    /// Readiness of an fd for writing.
    Write(i32),
    /// A timer due at this clock time (`time::clock` nanoseconds).
    Timer(u64),
    /// Another task's completion.
    Join(Id),
    /// The next completion in a `JoinSet` of this many tasks.
    JoinSet(u64),
    /// A `spawn_blocking` call's completion (its task id).
    Blocking(Id),
    /// A signal's delivery (its number).
    Signal(i32),
}

/// A decoded state word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Word {
    Queued,
    Running,
    Waiting(Wait),
}

impl Wait {
    fn encode(self) -> u64 {
        let (kind, payload) = match self {
            Wait::Read(fd) => (WAIT_READ, fd as u32 as u64),
            Wait::Write(fd) => (WAIT_WRITE, fd as u32 as u64),
            Wait::Timer(when) => (WAIT_TIMER, when.min(PAYLOAD)),
            Wait::Join(id) => (WAIT_JOIN, id.as_u64() & PAYLOAD),
            Wait::JoinSet(n) => (WAIT_JOIN_SET, n.min(PAYLOAD)),
            Wait::Blocking(id) => (WAIT_BLOCKING, id.as_u64() & PAYLOAD),
            Wait::Signal(signo) => (WAIT_SIGNAL, signo as u32 as u64),
        };
        (kind << KIND_SHIFT) | payload
    }
}

fn decode(word: u64) -> Word {
    let payload = word & PAYLOAD;
    match word >> KIND_SHIFT {
        QUEUED => Word::Queued,
        RUNNING => Word::Running,
        WAIT_READ => Word::Waiting(Wait::Read(payload as u32 as i32)),
        WAIT_WRITE => Word::Waiting(Wait::Write(payload as u32 as i32)),
        WAIT_TIMER => Word::Waiting(Wait::Timer(if payload == PAYLOAD {
            crate::time::clock::NEVER
        } else {
            payload
        })),
        WAIT_JOIN_SET => Word::Waiting(Wait::JoinSet(payload)),
        WAIT_SIGNAL => Word::Waiting(Wait::Signal(payload as u32 as i32)),
        kind => match (kind, Id::from_u64(payload)) {
            (WAIT_JOIN, Some(id)) => Word::Waiting(Wait::Join(id)),
            (WAIT_BLOCKING, Some(id)) => Word::Waiting(Wait::Blocking(id)),
            _ => Word::Running,
        },
    }
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct TaskRecord {
    pub(crate) id: Id,
    /// Boxed twice so the field is one word: it sits in every task's
    /// header, and names are rare (a named task pays one more allocation).
    name: Option<Box<Box<str>>>,
    pub(crate) location: &'static Location<'static>,
    /// Spawn time, `time::clock` nanoseconds (to sysmon's period: see
    /// `Sysmon::spawn_clock`).
    pub(crate) spawned: u64,
    state: AtomicU64,
}

impl TaskRecord {
    /// A record for a task spawned at `location` at clock time `spawned`.
    #[inline]
    pub(crate) fn new(
        name: Option<Box<str>>,
        location: &'static Location<'static>,
        spawned: u64,
    ) -> Self {
        TaskRecord {
            id: Id::next(),
            name: name.map(Box::new),
            location,
            spawned,
            state: AtomicU64::new(QUEUED << KIND_SHIFT),
        }
    }

    /// The task was woken (scheduled to run).
    #[inline]
    pub(crate) fn queued(&self) {
        self.state.store(QUEUED << KIND_SHIFT, Ordering::Relaxed);
    }

    /// The task's name, if it was given one.
    pub(crate) fn name(&self) -> Option<&str> {
        self.name.as_deref().map(|n| &**n)
    }

    /// The current state word, decoded.
    pub(crate) fn word(&self) -> Word {
        decode(self.state.load(Ordering::Relaxed))
    }
}

thread_local! {
    /// The record of the task being polled on this thread (null: none).
    static RECORD: Cell<*const TaskRecord> = const { Cell::new(std::ptr::null()) };
    /// That task's own waker for the poll (null: none, or the poll was not
    /// entered through [`enter_task_poll`]); meaningful only while
    /// `RECORD` is not null.
    static WAKER: Cell<*const Waker> = const { Cell::new(std::ptr::null()) };
}

/// Clears the current task when a poll ends (or unwinds).
pub(crate) struct PollGuard(());

impl Drop for PollGuard {
    #[inline]
    fn drop(&mut self) {
        let _ = RECORD.try_with(|c| c.set(std::ptr::null()));
    }
}

/// Marks `record`'s task as running and current on this thread until the
/// guard drops, with no task waker (unit tests of the state word).
#[cfg(all(test, not(loom)))]
pub(crate) fn enter_poll(record: &TaskRecord) -> PollGuard {
    record.state.store(RUNNING << KIND_SHIFT, Ordering::Relaxed);
    let _ = WAKER.try_with(|c| c.set(std::ptr::null()));
    let _ = RECORD.try_with(|c| c.set(record));
    PollGuard(())
}

/// [`enter_poll`] for the spawner's own tasks, also installing `waker`,
/// the task's own waker for this poll, which must stay valid until the
/// guard drops (it lives in the poll's context).
///
/// # Safety
///
/// `record` must point to the record *inside the spawner's task header*
/// (the scheduler's `TaskMeta`), with the provenance of the whole header
/// (derived from a pointer to the header, not from a `&TaskRecord`), so
/// that [`current_task`]'s caller can step back to the header; the header
/// must outlive the guard. Only the scheduler's `Tracked::poll` calls
/// this.
///
/// Tasks are polled only at the top of a worker's or blocking-pool
/// thread's loop, never inside another task's poll, so there is nothing to
/// save and restore: the guard clears the record. Were a poll ever
/// nested, the inner guard would leave the slot empty for the rest of the
/// outer poll (its sleeps would allocate, its waits go unrecorded), never
/// pointing at a record whose poll is over.
#[inline]
pub(crate) unsafe fn enter_task_poll(record: *const TaskRecord, waker: &Waker) -> PollGuard {
    // SAFETY: the caller promised a record valid until the guard drops.
    unsafe { &*record }
        .state
        .store(RUNNING << KIND_SHIFT, Ordering::Relaxed);
    let _ = WAKER.try_with(|c| c.set(waker));
    let _ = RECORD.try_with(|c| c.set(record));
    PollGuard(())
}

/// The record and own waker of the task being polled on this thread, if
/// its poll was entered through [`enter_task_poll`] (so the record lies
/// in a task header). Both stay valid until that poll returns, and no
/// longer: a caller that keeps anything must clone the waker (which keeps
/// the header alive).
#[inline]
pub(crate) fn current_task() -> Option<(*const TaskRecord, *const Waker)> {
    let record = RECORD.try_with(|c| c.get()).ok()?;
    if record.is_null() {
        return None;
    }
    let waker = WAKER.try_with(|c| c.get()).ok()?;
    (!waker.is_null()).then_some((record, waker))
}

/// Runs `f` on the current task's record, if a task is being polled here.
pub(crate) fn with_current<R>(f: impl FnOnce(&TaskRecord) -> R) -> Option<R> {
    let ptr = RECORD.try_with(|c| c.get()).ok()?;
    // SAFETY: a non-null pointer was installed by `enter_poll` or
    // `enter_task_poll` for a poll that is still running on this thread
    // (its guard clears it before the poll returns), and the record lives
    // in the task's header, which outlives the poll.
    unsafe { ptr.as_ref() }.map(f)
}

/// A future goro owns is returning `Pending` waiting on `what`: note it on
/// the current task, unless something polled earlier in this poll already
/// did. Does nothing outside a task.
#[inline]
pub(crate) fn waiting_on(what: Wait) {
    with_current(|r| {
        if r.state.load(Ordering::Relaxed) >> KIND_SHIFT == RUNNING {
            r.state.store(what.encode(), Ordering::Relaxed);
        }
    });
}

/// [`waiting_on`] an fd: readable, or writable if `write`.
#[inline]
pub(crate) fn waiting_on_fd(fd: i32, write: bool) {
    waiting_on(if write {
        Wait::Write(fd)
    } else {
        Wait::Read(fd)
    });
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn state_word_round_trips() {
        let r = TaskRecord::new(None, Location::caller(), 1);
        assert_eq!(r.word(), Word::Queued);
        let id = Id::next();
        for w in [
            Wait::Read(7),
            Wait::Write(i32::MAX),
            Wait::Timer(123_456_789),
            Wait::Timer(crate::time::clock::NEVER),
            Wait::Join(id),
            Wait::JoinSet(3),
            Wait::Blocking(id),
            Wait::Signal(3),
        ] {
            assert_eq!(decode(w.encode()), Word::Waiting(w));
        }
        // Outside a poll nothing is recorded.
        waiting_on(Wait::Read(3));
        assert_eq!(r.word(), Word::Queued);
        {
            let _g = enter_poll(&r);
            assert!(current_task().is_none(), "not entered as a task poll");
            assert_eq!(r.word(), Word::Running);
            assert_eq!(with_current(|c| c.id), Some(r.id));
            waiting_on(Wait::Read(3));
            waiting_on(Wait::Timer(5)); // the first one wins
        }
        assert_eq!(r.word(), Word::Waiting(Wait::Read(3)));
        assert_eq!(with_current(|c| c.id), None);
        r.queued();
        assert_eq!(r.word(), Word::Queued);
    }
}
