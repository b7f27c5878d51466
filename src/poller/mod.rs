//! The netpoller: one edge-triggered epoll instance per runtime, the
//! descriptors that track each registered fd, and `netpoll`, which turns
//! epoll events into woken tasks.
//!
//! Layout (one job per file):
//! - [`epoll`]: the OS calls (the only Linux-specific file);
//! - [`slot`]: the read/write wait slot state machine (Go's `rg`/`wg`);
//! - [`fdmutex`]: reference count + read/write locks + close (Go's `fdMutex`);
//! - [`descriptor`]: the per-fd descriptor and its deadlines (Go's `pollDesc`);
//! - [`cache`]: stable-address descriptor storage with generations
//!   (Go's `pollcache` and `fdseq`);
//! - [`wake`]: waking tasks from the poller, contained;
//! - this file: [`Poller`], registration, `netpoll(delay)`, and
//!   [`Direction`], the read/write half an operation is on.
//!
//! The poller imports nothing from the scheduler: descriptors arm deadline
//! timers through the [`TimerSink`](descriptor::TimerSink) they are given.
//!
//! # Counting waiters (Go's `netpollWaiters`)
//!
//! Idle workers skip `netpoll` while no task is parked on a descriptor.
//! The count lives here and is shared with every descriptor through the
//! cache; slot transitions only *report* whether a slot became or stopped
//! being parked ([`slot::Parking`]), and the descriptor that made the
//! transition adds it to the count. Sleeps use slots too, and ignore it.
//! A transition never drops a waker it takes out without waking: it hands
//! it over ([`slot::Transition`]), and the descriptor drops it only after
//! counting, so a foreign waker whose drop panics cannot leave a phantom
//! waiter behind.
//!
//! # Waking a blocked poller
//!
//! At most one worker blocks in `epoll_wait`. Others interrupt it with
//! [`Poller::wake`] (Go's `netpollBreak`), which writes the eventfd only if no
//! break is already pending, so concurrent breaks coalesce into one syscall.
//!
//! # Shutdown
//!
//! [`Poller::shut_down_waiters`] (called when the runtime shuts down) marks
//! every descriptor shut down and wakes everyone parked on one, so I/O
//! futures polled anywhere — another executor, `Handle::block_on` on another
//! thread — fail with "goro runtime is shut down" instead of waiting for
//! events nobody will deliver; [`Poller::open`] refuses new fds from then
//! on. [`Poller::shutdown`] closes the epoll fd afterwards.

pub(crate) mod cache;
pub(crate) mod descriptor;
pub(crate) mod epoll;
pub(crate) mod fdmutex;
pub(crate) mod slot;
pub(crate) mod wake;
#[cfg(all(test, not(loom)))]
mod waker_drop_tests;

use crate::sync::Mutex;
use cache::DescCache;
use descriptor::{DescPtr, PollDesc};
use epoll::{Epoll, Event};
use std::collections::{HashMap, HashSet};
use std::io;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// Which half of a full-duplex descriptor an operation is on: the read or
/// write slot, lock (fdmutex.rs) and deadline of a descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Reading (and accepting).
    Read,
    /// Writing (and connecting).
    Write,
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Poller {
    epoll: Epoll,
    cache: DescCache,
    /// Slots with a parked waker (Go's `netpollWaiters`), counted by the
    /// descriptors (they share it through the cache).
    waiters: Arc<AtomicUsize>,
    /// A break is pending (Go's `netpollWakeSig`).
    wake_sig: AtomicBool,
    /// Reusable event buffers, so polling never allocates in steady state.
    buffers: Mutex<Vec<Vec<Event>>>,
    /// Events delivered to live descriptors (metrics).
    delivered: AtomicU64,
    /// [`shut_down_waiters`](Self::shut_down_waiters) has begun.
    shut_down: AtomicBool,
}

/// What one `netpoll` call saw.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PollOutcome {
    /// Events delivered to live descriptors.
    pub(crate) events: usize,
    /// The poller was interrupted by [`Poller::wake`].
    pub(crate) woken: bool,
}

impl Poller {
    /// Creates the epoll instance and its break eventfd (Go's `netpollinit`).
    pub(crate) fn new() -> io::Result<Poller> {
        let waiters = Arc::new(AtomicUsize::new(0));
        Ok(Poller {
            epoll: Epoll::new()?,
            cache: DescCache::new(waiters.clone()),
            waiters,
            wake_sig: AtomicBool::new(false),
            buffers: Mutex::new(Vec::new()),
            delivered: AtomicU64::new(0),
            shut_down: AtomicBool::new(false),
        })
    }

    /// True if any task is parked on a descriptor.
    pub(crate) fn has_waiters(&self) -> bool {
        self.waiters.load(Ordering::SeqCst) > 0
    }

    /// The number of parked slots (tests).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn waiters(&self) -> usize {
        self.waiters.load(Ordering::SeqCst)
    }

    /// Events delivered so far (metrics).
    pub(crate) fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Descriptors currently attached to fds (tests and metrics).
    pub(crate) fn descriptors_in_use(&self) -> usize {
        self.cache.in_use()
    }

    /// Attaches a descriptor to `fd` and registers it with epoll, once, for
    /// `IN | OUT | RDHUP | ET` (Go's `poll_runtime_pollOpen`).
    /// Fails once the runtime has shut down.
    pub(crate) fn open(&self, fd: RawFd) -> io::Result<DescPtr> {
        let pd = self.cache.alloc()?;
        pd.get().open(fd);
        // Checked after `alloc`: a shutdown that began earlier is seen
        // here (the free-list lock orders the two), and one that begins
        // later finds this descriptor in its sweep.
        if self.shut_down.load(Ordering::SeqCst) {
            self.cache.free(pd.get());
            return Err(descriptor::shut_down_error());
        }
        if let Err(e) = self.epoll.add(fd, pd.get().token()) {
            self.cache.free(pd.get());
            return Err(e);
        }
        Ok(pd)
    }

    /// Deregisters `fd` and recycles its descriptor (Go's
    /// `poll_runtime_pollClose`). The caller closes the fd afterwards and
    /// must have evicted the descriptor already.
    pub(crate) fn close(&self, pd: &PollDesc, fd: RawFd) {
        // Deleting can fail only if the fd was already closed behind our
        // back; there is nothing useful to do about that here.
        let _ = self.epoll.delete(fd);
        pd.reset_slots();
        self.cache.free(pd);
    }

    /// The runtime is shutting down: mark every descriptor shut down and
    /// wake every task parked on one (see the module docs). Idempotent;
    /// wakes run on the caller's thread, contained (see `wake.rs`).
    pub(crate) fn shut_down_waiters(&self) {
        self.shut_down.store(true, Ordering::SeqCst);
        self.cache.for_each(|pd| pd.shut_down());
    }

    /// The read and write deadlines (clock nanoseconds; `None`: none set,
    /// or passed) of each of `fds` attached to this poller (task dumps).
    /// An fd is attached to at most one descriptor at a time: `close`
    /// detaches it before the caller closes (and the kernel can reuse) the
    /// number. Scans every descriptor, locking those whose fd is wanted.
    pub(crate) fn deadlines_of(
        &self,
        fds: &HashSet<RawFd>,
    ) -> HashMap<RawFd, (Option<u64>, Option<u64>)> {
        let mut out = HashMap::new();
        self.cache.for_each(|pd| {
            let fd = pd.fd.load(Ordering::Relaxed);
            if fds.contains(&fd)
                && let Some(d) = pd.deadlines_if_fd(fd)
            {
                out.insert(fd, d);
            }
        });
        out
    }

    /// Closes the epoll fd and the break eventfd (runtime shutdown, after
    /// every M has stopped polling). Sockets that outlive the runtime can
    /// still be closed (deregistration becomes a no-op).
    pub(crate) fn shutdown(&self) {
        self.epoll.close();
    }

    /// Interrupts a blocked `netpoll` (Go's `netpollBreak`). Concurrent calls
    /// coalesce into one eventfd write.
    pub(crate) fn wake(&self) {
        if self
            .wake_sig
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
            && let Err(e) = self.epoll.wake()
        {
            self.wake_sig.store(false, Ordering::Release);
            // The eventfd is ours and non-blocking; failure means the
            // process is out of something fundamental.
            eprintln!("goro: netpoll break failed: {e}");
        }
    }

    /// Go's `netpoll(delay)`: waits for I/O (`None` blocks, `Some(ZERO)`
    /// polls, otherwise waits at most that long) and wakes every task whose
    /// descriptor became ready. The caller decides where woken tasks go by
    /// the scheduling context it runs in (see `scheduler::context`).
    pub(crate) fn poll(&self, timeout: Option<Duration>) -> io::Result<PollOutcome> {
        self.poll_at_most(timeout, epoll::MAX_EVENTS)
    }

    /// [`poll`](Self::poll) waking the tasks of at most `max` ready
    /// descriptors (at most `epoll::MAX_EVENTS`): a busy worker takes no more
    /// than its run queue can hold, and leaves the rest on the kernel's ready
    /// list, which keeps them in the order they became ready.
    pub(crate) fn poll_at_most(
        &self,
        timeout: Option<Duration>,
        max: usize,
    ) -> io::Result<PollOutcome> {
        let mut events = self.buffers.lock().pop().unwrap_or_default();
        events.clear();
        let result = self.epoll.wait(&mut events, timeout, max);
        let mut outcome = PollOutcome::default();
        if let Ok(woken) = result {
            // Only a poll that could have blocked consumes a break: a
            // non-blocking poll (sysmon's, or a busy worker's) must leave it
            // for the M it was meant for, which may be about to block. Go's
            // `netpoll` draws the same line.
            if woken && timeout != Some(Duration::ZERO) {
                self.epoll.clear_wake();
                self.wake_sig.store(false, Ordering::Release);
                outcome.woken = true;
            }
            for ev in &events {
                // A stale token: the fd was closed (and maybe reused) after
                // the kernel queued this event. Drop it.
                let Some(pd) = self.cache.lookup(ev.token) else {
                    continue;
                };
                pd.set_event_err(ev.error);
                pd.ready(ev);
                outcome.events += 1;
            }
            self.delivered
                .fetch_add(outcome.events as u64, Ordering::Relaxed);
        }
        self.buffers.lock().push(events);
        result.map(|_| outcome)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::sync::Arc;
    use std::task::{Context, Poll, Waker};

    use crate::test_wakers::Count;

    /// What an operation does after `EAGAIN`: clear the read readiness that
    /// every new descriptor starts with.
    fn drained(pd: &descriptor::PollDesc) {
        let tick = pd.ready_tick(Direction::Read).unwrap();
        pd.clear_ready(Direction::Read, tick);
    }

    fn pipe() -> (OwnedFd, OwnedFd) {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for two descriptors.
        let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
        assert_eq!(rc, 0);
        // SAFETY: fresh descriptors owned by the caller.
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    }

    #[test]
    fn readiness_wakes_parked_reader() {
        let poller = Poller::new().unwrap();
        let (r, w) = pipe();
        let pd = poller.open(r.as_raw_fd()).unwrap();
        // Write readiness of a pipe's read end never comes; the first poll
        // delivers nothing for reads.
        poller.poll(Some(Duration::ZERO)).unwrap();
        drained(pd.get());
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let cx = Context::from_waker(&waker);
        let mode = Direction::Read;
        assert!(pd.get().poll_wait(mode, &cx, None).is_pending());
        assert!(poller.has_waiters());
        // SAFETY: writes one byte from a live buffer.
        let rc = unsafe { libc::write(w.as_raw_fd(), b"x".as_ptr().cast(), 1) };
        assert_eq!(rc, 1);
        let out = poller.poll(Some(Duration::from_secs(1))).unwrap();
        assert_eq!(out.events, 1);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert!(!poller.has_waiters());
        poller.close(pd.get(), r.as_raw_fd());
    }

    #[test]
    fn stale_events_after_reuse_are_dropped() {
        let poller = Poller::new().unwrap();
        let (r, w) = pipe();
        let pd = poller.open(r.as_raw_fd()).unwrap();
        // SAFETY: writes one byte from a live buffer.
        let rc = unsafe { libc::write(w.as_raw_fd(), b"x".as_ptr().cast(), 1) };
        assert_eq!(rc, 1);
        // The kernel has queued a readable event for the old token. Recycle
        // the descriptor for a new fd before polling.
        let old_token = pd.get().token();
        poller.close(pd.get(), r.as_raw_fd());
        drop(r);
        let (r2, _w2) = pipe();
        let pd2 = poller.open(r2.as_raw_fd()).unwrap();
        assert_eq!(pd, pd2);
        assert_ne!(pd2.get().token(), old_token);
        let out = poller.poll(Some(Duration::ZERO)).unwrap();
        assert_eq!(
            out.events, 0,
            "the old fd's event must not reach the new one"
        );
        drained(pd2.get());
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let cx = Context::from_waker(&waker);
        assert!(pd2.get().poll_wait(Direction::Read, &cx, None).is_pending());
        poller.close(pd2.get(), r2.as_raw_fd());
    }

    #[test]
    fn wake_interrupts_blocking_poll() {
        let poller = Arc::new(Poller::new().unwrap());
        let p2 = poller.clone();
        let t = std::thread::spawn(move || p2.poll(None).unwrap());
        std::thread::sleep(Duration::from_millis(20));
        poller.wake();
        let out = t.join().unwrap();
        assert!(out.woken);
        // The break was consumed: a short poll now times out quietly.
        assert!(!poller.poll(Some(Duration::from_millis(1))).unwrap().woken);
        // Breaks that arrive before a poll consumes one coalesce: one poll
        // reports them, the next has nothing. (Sent before polling, so the
        // outcome does not depend on how the threads are scheduled.)
        poller.wake();
        poller.wake();
        assert!(poller.poll(None).unwrap().woken);
        assert!(!poller.poll(Some(Duration::from_millis(1))).unwrap().woken);
    }

    #[test]
    fn close_reports_closing_to_waiter() {
        struct NoTimers;
        impl descriptor::TimerSink for NoTimers {
            fn arm_deadline(
                &self,
                _: descriptor::DescPtr,
                _: descriptor::DeadlineMode,
                _: u64,
                _: u64,
            ) -> usize {
                unreachable!()
            }
            fn stale(&self, _: usize) {}
        }
        let poller = Poller::new().unwrap();
        let (r, _w) = pipe();
        let pd = poller.open(r.as_raw_fd()).unwrap();
        drained(pd.get());
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let cx = Context::from_waker(&waker);
        let mode = Direction::Read;
        assert!(pd.get().poll_wait(mode, &cx, None).is_pending());
        pd.get().evict(&NoTimers);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert_eq!(
            pd.get().poll_wait(mode, &cx, None),
            Poll::Ready(Err(descriptor::WaitError::Closing))
        );
        poller.close(pd.get(), r.as_raw_fd());
    }
}
