//! The per-fd descriptor: Go's `pollDesc`.
//!
//! A descriptor lives in the [cache](super::cache) at a stable address and is
//! reused for many fds over its life; `fdseq` counts the reuses. (The fd
//! mutex, with the closed flag, lives in the socket object instead, as in
//! Go: a closed socket must stay closed even after its descriptor has been
//! recycled for another fd.) It holds:
//!
//! - the read and write [slots](super::slot) where waiting tasks park;
//! - deadline state under a lock (Go's `pd.lock`): `rd`/`wd` (0 = none,
//!   negative = expired, positive = when), timer sequence numbers
//!   `rseq`/`wseq` and where each armed timer lives;
//! - a share of the poller's count of parked slots (Go's `netpollWaiters`):
//!   the slot transitions report whether a slot became or stopped being
//!   parked, and the descriptor, their only caller besides sleeps, counts
//!   — before it drops any waker a transition took out (see
//!   [`Transition`](super::slot::Transition));
//! - `info`, a lock-free summary word (closing, read deadline expired, write
//!   deadline expired, event error, runtime shut down, and the low bits of
//!   `fdseq`) so the hot path checks for errors with one atomic load.
//!
//! # Runtime shutdown
//!
//! When its runtime shuts down, every descriptor gets the *shut-down* bit
//! ([`PollDesc::shut_down`]), which never clears, and both slots are
//! unblocked: waiters wake and every operation from then on fails with
//! [`shut_down_error`], wherever its future is polled. Closing still works
//! (and a closed socket still reports "use of closed network connection").
//!
//! # Deadline rules (Go's `poll_runtime_pollSetDeadline`)
//!
//! Setting a deadline records it, re-arms the direction's timer under a new
//! sequence number (which makes the old timer stale), and, if the deadline
//! is already past, fails waiters at once. When `rd == wd > 0` a single
//! combined timer serves both directions. A timer whose sequence number no
//! longer matches does nothing when it fires, so moving or clearing a
//! deadline can never let an old one fire. Expiry sets `rd`/`wd` to -1 and
//! the matching `info` bit; the bit stays until a new deadline is set, so an
//! expired deadline fails the next read even when data is buffered.

use super::Direction;
use super::slot::Parking;
use super::slot::{Registration, Slot, Wait, Waiter, Wakers};
use crate::sync::Mutex;
use crate::time::clock;
use std::io;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

const INFO_CLOSING: u64 = 1 << 0;
const INFO_RD_EXPIRED: u64 = 1 << 1;
const INFO_WD_EXPIRED: u64 = 1 << 2;
const INFO_EVENT_ERR: u64 = 1 << 3;
const INFO_SHUTDOWN: u64 = 1 << 4;
const INFO_SEQ_SHIFT: u32 = 32;

/// Which deadline(s) a timer serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeadlineMode {
    /// The read deadline only.
    Read,
    /// The write deadline only.
    Write,
    /// Both, when they are equal (one combined timer).
    Both,
}

/// Why a wait ended without readiness (Go's `pollErrTimeout` and
/// `pollErrClosing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WaitError {
    /// The direction's deadline has passed.
    Timeout,
    /// The descriptor is being closed.
    Closing,
    /// The runtime that owns the descriptor has shut down.
    Shutdown,
}

impl From<WaitError> for io::Error {
    fn from(e: WaitError) -> io::Error {
        match e {
            WaitError::Timeout => timeout_error(),
            WaitError::Closing => closed_error(),
            WaitError::Shutdown => shut_down_error(),
        }
    }
}

/// The error of an operation whose deadline passed (Go's "i/o timeout").
pub(crate) fn timeout_error() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "i/o timeout")
}

/// The error of an operation on a closed socket.
pub(crate) fn closed_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "use of closed network connection",
    )
}

/// The error of an I/O operation on a socket whose runtime has shut down
/// (kind `Other`, message "goro runtime is shut down"). Recognisable by
/// [`is_shut_down_error`].
pub(crate) fn shut_down_error() -> io::Error {
    io::Error::other(ShutDown)
}

/// True if `e` is [`shut_down_error`]'s error (accept loops end on it).
pub(crate) fn is_shut_down_error(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<ShutDown>())
}

/// The payload of [`shut_down_error`]. Its `Debug` is its message, so
/// `{:?}` of the `io::Error` reads as it did when the payload was a string.
struct ShutDown;

impl std::fmt::Debug for ShutDown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt("goro runtime is shut down", f)
    }
}

impl std::fmt::Display for ShutDown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("goro runtime is shut down")
    }
}

impl std::error::Error for ShutDown {}

/// Deadline state, guarded by the descriptor's lock.
#[derive(Debug, Default)]
struct Deadlines {
    closing: bool,
    rd: i64,
    wd: i64,
    /// The P whose timer heap holds the armed read (or combined) timer.
    rtimer: Option<usize>,
    /// The P whose timer heap holds the armed write timer.
    wtimer: Option<usize>,
}

/// Arms and disarms deadline timers; implemented by the scheduler, which
/// owns the timer heaps and decides what a firing timer does (for a
/// deadline: [`PollDesc::fire_deadline`]).
pub(crate) trait TimerSink {
    /// Arms a timer at `when` (clock nanoseconds) that fires `mode`'s
    /// deadline of `pd` if its sequence number is still `seq`, on some P's
    /// heap; returns that P's index.
    fn arm_deadline(&self, pd: DescPtr, mode: DeadlineMode, when: u64, seq: u64) -> usize;
    /// Records that an entry on P `p`'s heap went stale.
    fn stale(&self, p: usize);
}

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct PollDesc {
    /// Index in the cache (fixed for the descriptor's life).
    pub(crate) index: u32,
    /// Generation, bumped every time the descriptor is reused.
    pub(crate) fdseq: AtomicU32,
    /// The fd currently attached, or -1.
    pub(crate) fd: AtomicI32,
    info: AtomicU64,
    /// Sequence number of the read (or combined) deadline timer (Go's
    /// `rseq`). Written under the lock; read without it by the timer heap's
    /// stale-entry cleanup, which runs under the heap lock and so must never
    /// take this descriptor's lock (`set_deadline` holds it while arming).
    rseq: AtomicU64,
    /// Sequence number of the write deadline timer (Go's `wseq`).
    wseq: AtomicU64,
    /// Read slot (Go's `rg`).
    pub(crate) rg: Slot,
    /// Write slot (Go's `wg`).
    pub(crate) wg: Slot,
    deadlines: Mutex<Deadlines>,
    /// The poller's count of parked slots (shared by all its descriptors).
    waiters: Arc<AtomicUsize>,
}

/// A pointer to a cached descriptor. Descriptors are never freed while their
/// poller lives, and the poller outlives every timer and socket that holds
/// one of these, so the pointer is always valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DescPtr(NonNull<PollDesc>);

// SAFETY: PollDesc is Sync (atomics, mutexes, and slots that are Sync); the
// pointer is valid for as long as any holder exists (see the type docs).
unsafe impl Send for DescPtr {}
// SAFETY: as above.
unsafe impl Sync for DescPtr {}

impl DescPtr {
    pub(crate) fn new(pd: &PollDesc) -> DescPtr {
        DescPtr(NonNull::from(pd))
    }

    /// The descriptor.
    pub(crate) fn get(&self) -> &PollDesc {
        // SAFETY: see the type docs: the cache never frees a descriptor while
        // the poller (which outlives every DescPtr) is alive.
        unsafe { self.0.as_ref() }
    }
}

impl PollDesc {
    /// A fresh descriptor for cache slot `index`, counting its parked
    /// slots in `waiters`.
    pub(crate) fn with_index(index: u32, waiters: Arc<AtomicUsize>) -> PollDesc {
        PollDesc {
            index,
            waiters,
            ..PollDesc::default()
        }
    }

    /// `slot`'s unblock, counted: a slot it unblocks leaves `PARKED`.
    fn unblock(&self, slot: &Slot, ioready: bool, sticky: bool) -> Option<Wakers> {
        let wakers = slot.unblock_with(ioready, sticky);
        if wakers.is_some() {
            Parking::Unparked.apply(&self.waiters);
        }
        wakers
    }

    /// Empties both slots, dropping their wakers (the descriptor is being
    /// recycled: nobody may wait on it). Both slots are counted before any
    /// waker is dropped, and the drops' panics are contained: these wakers
    /// belong to nobody the closing (or opening) thread serves.
    pub(crate) fn reset_slots(&self) {
        let (r, w) = (self.rg.reset(), self.wg.reset());
        r.apply_contained(&self.waiters);
        w.apply_contained(&self.waiters);
    }

    /// Prepares a recycled descriptor for `fd` (Go's `poll_runtime_pollOpen`).
    /// Called before the fd is registered with epoll.
    pub(crate) fn open(&self, fd: i32) {
        // Before taking the lock: dropping leftover wakers may run any code.
        // (Nobody else uses a descriptor being opened; a stale timer's
        // sequence number no longer matches, so it leaves the slots alone.)
        self.reset_slots();
        let mut d = self.deadlines.lock();
        d.closing = false;
        d.rd = 0;
        d.wd = 0;
        d.rtimer = None;
        d.wtimer = None;
        // The previous fd's pending-error report does not carry over.
        self.set_event_err(false);
        // A new fd may already be readable or writable: the first operation
        // must try its syscall rather than wait for an event.
        drop(self.unblock(&self.rg, true, false));
        drop(self.unblock(&self.wg, true, false));
        self.fd.store(fd, Ordering::Relaxed);
        self.publish_info(&d);
    }

    /// The token stored in epoll's event data: cache index plus generation.
    pub(crate) fn token(&self) -> u64 {
        u64::from(self.index) | (u64::from(self.fdseq.load(Ordering::Acquire)) << 32)
    }

    fn publish_info(&self, d: &Deadlines) {
        let mut info = 0;
        if d.closing {
            info |= INFO_CLOSING;
        }
        if d.rd < 0 {
            info |= INFO_RD_EXPIRED;
        }
        if d.wd < 0 {
            info |= INFO_WD_EXPIRED;
        }
        let seq = u64::from(self.fdseq.load(Ordering::Relaxed)) << INFO_SEQ_SHIFT;
        // Keep the event-error bit, which the poller sets without our lock,
        // and the shut-down bit, which never clears.
        let _ = self
            .info
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |old| {
                Some((old & (INFO_EVENT_ERR | INFO_SHUTDOWN)) | info | seq)
            });
    }

    /// Records whether the last event was a bare `EPOLLERR` (Go's
    /// `setEventErr`).
    pub(crate) fn set_event_err(&self, on: bool) {
        if on {
            self.info.fetch_or(INFO_EVENT_ERR, Ordering::SeqCst);
        } else if self.info.load(Ordering::Relaxed) & INFO_EVENT_ERR != 0 {
            self.info.fetch_and(!INFO_EVENT_ERR, Ordering::SeqCst);
        }
    }

    /// True if the poller reported an error condition on this fd.
    pub(crate) fn has_event_err(&self) -> bool {
        self.info.load(Ordering::SeqCst) & INFO_EVENT_ERR != 0
    }

    /// Go's `netpollcheckerr`: the error an operation in `mode` must return
    /// now, if any. One atomic load.
    #[inline]
    pub(crate) fn check_err(&self, mode: Direction) -> Result<(), WaitError> {
        // SeqCst: see the ordering note in slot.rs.
        let info = self.info.load(Ordering::SeqCst);
        if info & INFO_CLOSING != 0 {
            return Err(WaitError::Closing);
        }
        if info & INFO_SHUTDOWN != 0 {
            return Err(WaitError::Shutdown);
        }
        let expired = match mode {
            Direction::Read => INFO_RD_EXPIRED,
            Direction::Write => INFO_WD_EXPIRED,
        };
        if info & expired != 0 {
            return Err(WaitError::Timeout);
        }
        Ok(())
    }

    #[inline]
    fn slot(&self, mode: Direction) -> &Slot {
        match mode {
            Direction::Read => &self.rg,
            Direction::Write => &self.wg,
        }
    }

    /// The direction's event tick if it may be ready (see
    /// [`Slot::ready_tick`]).
    #[inline]
    pub(crate) fn ready_tick(&self, mode: Direction) -> Option<usize> {
        self.slot(mode).ready_tick()
    }

    /// A short transfer suggests the direction is empty (or full): clear
    /// readiness unless it is sticky or an event arrived after `tick` (see
    /// [`Slot::clear_ready`]).
    pub(crate) fn clear_ready(&self, mode: Direction, tick: usize) {
        self.slot(mode).clear_ready(tick)
    }

    /// A syscall got `EAGAIN`: clear readiness, sticky or not, unless an
    /// event arrived after `tick` (see [`Slot::clear_on_eagain`]).
    pub(crate) fn clear_on_eagain(&self, mode: Direction, tick: usize) {
        self.slot(mode).clear_on_eagain(tick)
    }

    /// Go's `poll_runtime_pollWait` as a poll: `Ready(Ok)` when the
    /// direction may be ready (retry the syscall), `Ready(Err)` on deadline
    /// or close, `Pending` with the task parked in the slot.
    ///
    /// `reg`: the caller's registration if it is a future that withdraws
    /// its waker when done (it must then call
    /// [`deregister`](Self::deregister)); `None` for a stateless poll.
    pub(crate) fn poll_wait(
        &self,
        mode: Direction,
        cx: &Context<'_>,
        reg: Option<&mut Registration>,
    ) -> Poll<Result<(), WaitError>> {
        self.check_err(mode)?;
        let waiter = match reg {
            Some(reg) => Waiter::Owned(cx.waker(), reg),
            None => Waiter::Task(cx.waker()),
        };
        let (wait, transition) = self
            .slot(mode)
            .poll_wait_as(waiter, || self.check_err(mode).is_err());
        // Counts, then drops any waker the poll replaced or withdrew (a
        // panic in that drop reaches the caller with the count right).
        transition.apply(&self.waiters);
        match wait {
            Wait::Ready => Poll::Ready(Ok(())),
            Wait::Parked => {
                let fd = self.fd.load(Ordering::Relaxed);
                crate::taskinfo::record::waiting_on_fd(fd, mode == Direction::Write);
                Poll::Pending
            }
            Wait::Unblocked => Poll::Ready(self.check_err(mode)),
        }
    }

    /// Withdraws `reg`'s waker from the `mode` slot, if it is still there
    /// (a future that waited completed or was dropped). The count is
    /// updated before the withdrawn waker is dropped.
    #[inline]
    pub(crate) fn deregister(&self, mode: Direction, reg: &mut Registration) {
        self.slot(mode).deregister(reg).apply(&self.waiters);
    }

    /// Readiness reported by the poller (Go's `netpollready`). The event's
    /// `*_sticky` flags mark readiness that only `EAGAIN` can clear (end of
    /// stream, hang-up, error, urgent data; see the slot docs).
    pub(crate) fn ready(&self, ev: &crate::poller::epoll::Event) {
        if ev.readable
            && let Some(w) = self.unblock(&self.rg, true, ev.read_sticky)
        {
            w.wake_all();
        }
        if ev.writable
            && let Some(w) = self.unblock(&self.wg, true, ev.write_sticky)
        {
            w.wake_all();
        }
    }

    /// Go's `poll_runtime_pollUnblock`: marks the descriptor closing, makes
    /// every deadline timer stale and wakes both slots so waiters see
    /// `Closing`.
    pub(crate) fn evict(&self, timers: &dyn TimerSink) {
        let (rw, ww) = {
            let mut d = self.deadlines.lock();
            d.closing = true;
            self.rseq.fetch_add(1, Ordering::AcqRel);
            self.wseq.fetch_add(1, Ordering::AcqRel);
            if let Some(p) = d.rtimer.take() {
                timers.stale(p);
            }
            if let Some(p) = d.wtimer.take() {
                timers.stale(p);
            }
            self.publish_info(&d);
            (
                self.unblock(&self.rg, false, false),
                self.unblock(&self.wg, false, false),
            )
        };
        wake(rw);
        wake(ww);
    }

    /// The runtime is shutting down: set the shut-down bit (for good) and
    /// wake both slots' waiters so they see it (see the module docs). The
    /// bit is published before the slots are read, as a close does.
    pub(crate) fn shut_down(&self) {
        self.info.fetch_or(INFO_SHUTDOWN, Ordering::SeqCst);
        wake(self.unblock(&self.rg, false, false));
        wake(self.unblock(&self.wg, false, false));
    }

    /// The read and write deadlines (clock nanoseconds) of the fd attached
    /// now, if it is `fd`: `None` if it is another fd or is being closed;
    /// per direction `None` if no deadline is set or it has passed. For
    /// task dumps: takes the lock, never on an I/O path.
    pub(crate) fn deadlines_if_fd(&self, fd: i32) -> Option<(Option<u64>, Option<u64>)> {
        let d = self.deadlines.lock();
        // Checked under the lock, which `open` holds while it attaches an fd.
        if d.closing || self.fd.load(Ordering::Relaxed) != fd {
            return None;
        }
        let set = |t: i64| u64::try_from(t).ok().filter(|&t| t > 0);
        Some((set(d.rd), set(d.wd)))
    }

    /// Sets the read, write or both deadlines (Go's
    /// `poll_runtime_pollSetDeadline`). `None` clears.
    pub(crate) fn set_deadline(
        &self,
        deadline: Option<Instant>,
        mode: DeadlineMode,
        timers: &dyn TimerSink,
    ) {
        let d = match deadline {
            None => 0,
            Some(t) => {
                let when = clock::to_nanos(t);
                if when <= clock::now() {
                    -1
                } else {
                    i64::try_from(when).unwrap_or(i64::MAX)
                }
            }
        };
        let (rw, ww) = {
            let mut s = self.deadlines.lock();
            if s.closing {
                return;
            }
            let (rd0, wd0) = (s.rd, s.wd);
            let combo0 = rd0 > 0 && rd0 == wd0;
            if mode != DeadlineMode::Write {
                s.rd = d;
            }
            if mode != DeadlineMode::Read {
                s.wd = d;
            }
            self.publish_info(&s);
            let combo = s.rd > 0 && s.rd == s.wd;
            let rmode = if combo {
                DeadlineMode::Both
            } else {
                DeadlineMode::Read
            };
            // The read (or combined) timer.
            if s.rtimer.is_none() || s.rd != rd0 || combo != combo0 {
                if let Some(p) = s.rtimer.take() {
                    self.rseq.fetch_add(1, Ordering::AcqRel);
                    timers.stale(p);
                }
                if s.rd > 0 {
                    let seq = self.rseq.load(Ordering::Acquire);
                    s.rtimer = Some(self.arm(timers, s.rd, seq, rmode));
                }
            }
            // The write timer, unless the combined timer covers it.
            let want_w = s.wd > 0 && !combo;
            if s.wtimer.is_none() || s.wd != wd0 || combo != combo0 {
                if let Some(p) = s.wtimer.take() {
                    self.wseq.fetch_add(1, Ordering::AcqRel);
                    timers.stale(p);
                }
                if want_w {
                    let seq = self.wseq.load(Ordering::Acquire);
                    s.wtimer = Some(self.arm(timers, s.wd, seq, DeadlineMode::Write));
                }
            }
            let rw = if s.rd < 0 {
                self.unblock(&self.rg, false, false)
            } else {
                None
            };
            let ww = if s.wd < 0 {
                self.unblock(&self.wg, false, false)
            } else {
                None
            };
            (rw, ww)
        };
        wake(rw);
        wake(ww);
    }

    fn arm(&self, timers: &dyn TimerSink, when: i64, seq: u64, mode: DeadlineMode) -> usize {
        timers.arm_deadline(DescPtr::new(self), mode, when as u64, seq)
    }

    /// True if a timer armed with `seq` for `mode` is still current. Takes
    /// no lock (see `rseq`).
    pub(crate) fn deadline_seq_matches(&self, mode: DeadlineMode, seq: u64) -> bool {
        let current = match mode {
            DeadlineMode::Read | DeadlineMode::Both => &self.rseq,
            DeadlineMode::Write => &self.wseq,
        };
        current.load(Ordering::Acquire) == seq
    }

    /// A deadline timer fired (Go's `netpolldeadlineimpl`). Stale timers
    /// (sequence mismatch) do nothing.
    pub(crate) fn fire_deadline(&self, mode: DeadlineMode, seq: u64) -> Option<Wakers> {
        let mut d = self.deadlines.lock();
        let read = mode != DeadlineMode::Write;
        let write = mode != DeadlineMode::Read;
        let current = if read { &self.rseq } else { &self.wseq };
        if seq != current.load(Ordering::Acquire) {
            return None;
        }
        let mut out: Option<Wakers> = None;
        if read {
            d.rd = -1;
            d.rtimer = None;
        }
        if write {
            d.wd = -1;
            if mode == DeadlineMode::Write {
                d.wtimer = None;
            }
        }
        self.publish_info(&d);
        if read {
            out = merge(out, self.unblock(&self.rg, false, false));
        }
        if write {
            out = merge(out, self.unblock(&self.wg, false, false));
        }
        out
    }
}

fn wake(w: Option<Wakers>) {
    if let Some(w) = w {
        w.wake_all();
    }
}

fn merge(a: Option<Wakers>, b: Option<Wakers>) -> Option<Wakers> {
    match (a, b) {
        (Some(mut a), Some(b)) => {
            a.absorb(b);
            Some(a)
        }
        (a, b) => a.or(b),
    }
}
