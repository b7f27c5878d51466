//! The operating-system half of the netpoller: Linux `epoll` plus an
//! `eventfd` used to interrupt a blocked `epoll_wait` (Go's `netpollBreak`).
//!
//! This is the only file that knows about epoll. Everything above it speaks in
//! terms of [`Event`]s (a 64-bit token plus read/write/error flags), so a
//! kqueue backend would replace this file alone.
//!
//! Invariants:
//! - every descriptor is registered exactly once, edge-triggered, for
//!   `IN | OUT | RDHUP` (Go's `netpollopen`) plus `PRI`; interest is never
//!   modified. `PRI` (urgent data) matters to goro and not to Go because
//!   goro trusts a short TCP read to mean "drained", which is false at an
//!   urgent mark; the event marks read readiness sticky (see `slot.rs`);
//! - the break eventfd is registered level-triggered with a reserved token
//!   ([`BREAK_TOKEN`]), so a pending break makes the next `epoll_wait` return
//!   at once even if it starts after the break was written;
//! - both fds are closed by [`Epoll::close`] (runtime shutdown) even if
//!   sockets outlive the runtime. They sit behind a read-write lock, so a
//!   late `delete` from such a socket never reaches a recycled fd number:
//!   after `close` every call is a no-op or an error.
//!
//! With the `fault-injection` feature, `epoll_wait` and registration consult
//! [`crate::fault`] first, and registrations (with their interest and
//! token) are recorded there so the injector can re-arm a descriptor
//! itself.

use crate::sync::{RwLock, RwLockReadGuard};
use crate::sys::cvt;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// Token reserved for the break eventfd; descriptor tokens never take it.
pub(crate) const BREAK_TOKEN: u64 = u64::MAX;

/// Most events one `epoll_wait` returns (Go uses the same batch size).
pub(crate) const MAX_EVENTS: usize = 128;

/// One readiness report, already mapped to Go's read/write meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Event {
    /// The token given at registration.
    pub(crate) token: u64,
    /// `IN | RDHUP | HUP | ERR`: a reader should retry its syscall.
    pub(crate) readable: bool,
    /// `OUT | HUP | ERR`: a writer should retry its syscall.
    pub(crate) writable: bool,
    /// A bare `ERR` with no other bit: the socket has a pending error (Go
    /// sets `pollEventErr` only in this case).
    pub(crate) error: bool,
    /// `RDHUP | HUP | ERR | PRI`: a lasting read condition (end of stream,
    /// error, urgent data) rather than an edge; only `EAGAIN` clears it.
    pub(crate) read_sticky: bool,
    /// `HUP | ERR`: a lasting write condition.
    pub(crate) write_sticky: bool,
}

/// The interest every descriptor is registered with (see the invariants).
const INTEREST: i32 =
    libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLPRI | libc::EPOLLET;

/// Converts a raw `epoll_event` into an [`Event`] with Go's bit mapping.
fn map_event(ev: &libc::epoll_event) -> Event {
    let bits = ev.events as i32;
    let read_bits =
        libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR | libc::EPOLLPRI;
    let write_bits = libc::EPOLLOUT | libc::EPOLLHUP | libc::EPOLLERR;
    Event {
        token: ev.u64,
        readable: bits & read_bits != 0,
        writable: bits & write_bits != 0,
        error: bits == libc::EPOLLERR,
        read_sticky: bits & (libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR | libc::EPOLLPRI)
            != 0,
        write_sticky: bits & (libc::EPOLLHUP | libc::EPOLLERR) != 0,
    }
}

/// An epoll instance and its break eventfd.
#[derive(Debug)]
pub(crate) struct Epoll {
    fds: RwLock<Option<Fds>>,
}

#[derive(Debug)]
struct Fds {
    epfd: OwnedFd,
    breakfd: OwnedFd,
}

impl Epoll {
    /// Creates the epoll instance (`EPOLL_CLOEXEC`) and registers the break
    /// eventfd on it.
    pub(crate) fn new() -> io::Result<Epoll> {
        // SAFETY: plain syscall; the result is checked before use.
        let epfd = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: `epfd` is a fresh descriptor that nothing else owns.
        let epfd = unsafe { OwnedFd::from_raw_fd(epfd) };
        // The first runtime creates its poller before any of its threads:
        // grow the descriptor table while that is cheap (sys/fd_table.rs).
        crate::sys::fd_table::reserve(epfd.as_raw_fd());
        // SAFETY: plain syscall; the result is checked before use.
        let breakfd = cvt(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?;
        // SAFETY: `breakfd` is a fresh descriptor that nothing else owns.
        let breakfd = unsafe { OwnedFd::from_raw_fd(breakfd) };
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: BREAK_TOKEN,
        };
        // SAFETY: both descriptors are open; `ev` is a valid event struct.
        cvt(unsafe {
            libc::epoll_ctl(
                epfd.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                breakfd.as_raw_fd(),
                &mut ev,
            )
        })?;
        Ok(Epoll {
            fds: RwLock::new(Some(Fds { epfd, breakfd })),
        })
    }

    fn fds(&self) -> RwLockReadGuard<'_, Option<Fds>> {
        self.fds.read()
    }

    /// Closes the epoll fd and the eventfd. Later calls do nothing (or
    /// report that the poller is closed). Must not be called while a thread
    /// is blocked in [`wait`](Self::wait).
    pub(crate) fn close(&self) {
        let fds = self.fds.write().take();
        #[cfg(feature = "fault-injection")]
        if let Some(fds) = &fds {
            crate::fault::epoll_closing(fds.epfd.as_raw_fd());
        }
        drop(fds);
    }

    /// Registers `fd` once, edge-triggered, for reads and writes (Go's
    /// `netpollopen`).
    pub(crate) fn add(&self, fd: RawFd, token: u64) -> io::Result<()> {
        debug_assert_ne!(token, BREAK_TOKEN);
        let mut ev = libc::epoll_event {
            events: INTEREST as u32,
            u64: token,
        };
        let fds = self.fds();
        let fds = fds.as_ref().ok_or_else(closed)?;
        #[cfg(feature = "fault-injection")]
        crate::fault::allow(crate::fault::Syscall::EpollCtl, fd, 0)?;
        // SAFETY: `ev` is valid for the call and the read guard keeps `epfd`
        // open; a bad `fd` is reported as an error.
        cvt(unsafe { libc::epoll_ctl(fds.epfd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) })?;
        #[cfg(feature = "fault-injection")]
        crate::fault::registered(fds.epfd.as_raw_fd(), fd, INTEREST as u32, token);
        Ok(())
    }

    /// Removes `fd` from the interest list (Go's `netpollclose`).
    pub(crate) fn delete(&self, fd: RawFd) -> io::Result<()> {
        #[cfg(feature = "fault-injection")]
        crate::fault::deregistered(fd);
        let mut ev = libc::epoll_event { events: 0, u64: 0 };
        let fds = self.fds();
        let Some(fds) = fds.as_ref() else {
            return Ok(()); // closed: nothing is registered any more
        };
        // SAFETY: `ev` is valid (older kernels require a non-null pointer) and
        // the read guard keeps `epfd` open.
        cvt(unsafe { libc::epoll_ctl(fds.epfd.as_raw_fd(), libc::EPOLL_CTL_DEL, fd, &mut ev) })
            .map(drop)
    }

    /// Waits for events and appends them to `out`.
    ///
    /// `timeout`: `None` blocks until an event or a break; `Some(ZERO)` polls
    /// without blocking; otherwise waits at most that long, rounded *up* to
    /// whole milliseconds (and at least 1 ms) so a timer is never run early.
    /// `EINTR` counts as an empty wake-up. Break events are consumed here and
    /// reported through the return value (`true` if the break fd fired).
    /// At most `max` events (1 to `MAX_EVENTS`) are taken off the kernel's
    /// ready list; the rest stay there, in the order they became ready, for
    /// the next call.
    pub(crate) fn wait(
        &self,
        out: &mut Vec<Event>,
        timeout: Option<Duration>,
        max: usize,
    ) -> io::Result<bool> {
        let max = max.clamp(1, MAX_EVENTS);
        let ms: i32 = match timeout {
            None => -1,
            Some(d) if d.is_zero() => 0,
            Some(d) => {
                let ms = d.as_nanos().div_ceil(1_000_000);
                ms.clamp(1, i32::MAX as u128) as i32
            }
        };
        let mut raw = [libc::epoll_event { events: 0, u64: 0 }; MAX_EVENTS];
        let fds = self.fds();
        let fds = fds.as_ref().ok_or_else(closed)?;
        let n = match epoll_wait(fds.epfd.as_raw_fd(), &mut raw[..max], ms) {
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => return Ok(false),
            Err(err) => return Err(err),
        };
        let mut broke = false;
        for ev in &raw[..n] {
            if ev.u64 == BREAK_TOKEN {
                broke = true;
                continue;
            }
            out.push(map_event(ev));
        }
        Ok(broke)
    }

    /// Makes a blocked (or the next) `wait` return at once.
    pub(crate) fn wake(&self) -> io::Result<()> {
        let one: u64 = 1;
        let fds = self.fds();
        let Some(fds) = fds.as_ref() else {
            return Ok(()); // closed: nobody waits
        };
        // SAFETY: writes 8 bytes from a live u64 to our eventfd, which the
        // read guard keeps open.
        let n = unsafe { libc::write(fds.breakfd.as_raw_fd(), (&one as *const u64).cast(), 8) };
        if n < 0 {
            let err = io::Error::last_os_error();
            // A full counter means a wake-up is already pending: that is all we want.
            if err.kind() != io::ErrorKind::WouldBlock {
                return Err(err);
            }
        }
        Ok(())
    }

    /// Drains the break eventfd so the next `wait` can block again.
    pub(crate) fn clear_wake(&self) {
        let mut buf: u64 = 0;
        if let Some(fds) = self.fds().as_ref() {
            // SAFETY: reads 8 bytes into a live u64 from our eventfd (kept open
            // by the read guard); EAGAIN (nothing pending) is fine.
            unsafe {
                libc::read(fds.breakfd.as_raw_fd(), (&mut buf as *mut u64).cast(), 8);
            }
        }
    }
}

/// One `epoll_wait` into `raw`; the number of events filled in.
fn epoll_wait(epfd: RawFd, raw: &mut [libc::epoll_event], ms: i32) -> io::Result<usize> {
    #[cfg(feature = "fault-injection")]
    crate::fault::allow(crate::fault::Syscall::EpollWait, epfd, 0)?;
    // SAFETY: `raw` has room for `raw.len()` events; the caller keeps `epfd`
    // open for the whole wait.
    let n = unsafe { libc::epoll_wait(epfd, raw.as_mut_ptr(), raw.len() as i32, ms) };
    cvt(n).map(|n| n as usize)
}

fn closed() -> io::Error {
    io::Error::other("goro runtime has shut down (poller closed)")
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn event_bits_follow_go_mapping() {
        let ev = |bits: i32| {
            map_event(&libc::epoll_event {
                events: bits as u32,
                u64: 7,
            })
        };
        let e = ev(libc::EPOLLIN);
        assert!(e.readable && !e.writable && !e.error);
        let e = ev(libc::EPOLLOUT);
        assert!(!e.readable && e.writable);
        let e = ev(libc::EPOLLRDHUP);
        assert!(e.readable && !e.writable);
        assert!(e.read_sticky && !e.write_sticky);
        let e = ev(libc::EPOLLPRI);
        assert!(e.readable && e.read_sticky && !e.writable);
        let e = ev(libc::EPOLLIN | libc::EPOLLOUT);
        assert!(!e.read_sticky && !e.write_sticky);
        let e = ev(libc::EPOLLHUP);
        assert!(e.readable && e.writable && !e.error);
        let e = ev(libc::EPOLLERR);
        assert!(e.readable && e.writable && e.error);
        assert_eq!(e.token, 7);
    }

    #[test]
    fn wake_interrupts_a_blocking_wait_and_coalesces() {
        let ep = Epoll::new().unwrap();
        ep.wake().unwrap();
        ep.wake().unwrap();
        let mut out = Vec::new();
        let start = Instant::now();
        assert!(ep.wait(&mut out, None, MAX_EVENTS).unwrap());
        assert!(out.is_empty());
        assert!(start.elapsed() < Duration::from_secs(1));
        ep.clear_wake();
        // Both wakes were consumed by one clear: a timed wait now times out.
        assert!(
            !ep.wait(&mut out, Some(Duration::from_millis(5)), MAX_EVENTS)
                .unwrap()
        );
    }

    #[test]
    fn timed_wait_never_returns_early() {
        let ep = Epoll::new().unwrap();
        let mut out = Vec::new();
        let start = Instant::now();
        ep.wait(&mut out, Some(Duration::from_micros(1500)), MAX_EVENTS)
            .unwrap();
        // Rounded up to 2 ms, never down to 1 ms.
        assert!(start.elapsed() >= Duration::from_micros(1500));
    }

    #[test]
    fn registered_pipe_reports_edges() {
        let ep = Epoll::new().unwrap();
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for two descriptors.
        let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
        assert_eq!(rc, 0);
        // SAFETY: fresh descriptors owned by this test.
        let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        ep.add(r.as_raw_fd(), 42).unwrap();
        let mut out = Vec::new();
        ep.wait(&mut out, Some(Duration::ZERO), MAX_EVENTS).unwrap();
        assert!(out.is_empty(), "empty pipe must not be readable: {out:?}");
        // SAFETY: writes one byte from a live buffer.
        let rc = unsafe { libc::write(w.as_raw_fd(), b"x".as_ptr().cast(), 1) };
        assert_eq!(rc, 1);
        ep.wait(&mut out, Some(Duration::from_secs(1)), MAX_EVENTS)
            .unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].token, 42);
        assert!(out[0].readable);
        // Edge-triggered: no new edge, no new event.
        out.clear();
        ep.wait(&mut out, Some(Duration::ZERO), MAX_EVENTS).unwrap();
        assert!(out.is_empty());
        ep.delete(r.as_raw_fd()).unwrap();
        assert!(ep.delete(r.as_raw_fd()).is_err());
    }

    #[test]
    fn bounded_wait_leaves_the_rest_ready_in_order() {
        let ep = Epoll::new().unwrap();
        let mut pipes = Vec::new();
        for token in 0..3u64 {
            let mut fds = [0; 2];
            // SAFETY: `fds` has room for two descriptors.
            let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
            assert_eq!(rc, 0);
            // SAFETY: fresh descriptors owned by this test.
            let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
            ep.add(r.as_raw_fd(), token).unwrap();
            pipes.push((r, w));
        }
        let mut out = Vec::new();
        ep.wait(&mut out, Some(Duration::ZERO), MAX_EVENTS).unwrap();
        out.clear();
        for (_, w) in &pipes {
            // SAFETY: writes one byte from a live buffer.
            let rc = unsafe { libc::write(w.as_raw_fd(), b"x".as_ptr().cast(), 1) };
            assert_eq!(rc, 1);
        }
        ep.wait(&mut out, Some(Duration::ZERO), 2).unwrap();
        let first: Vec<u64> = out.iter().map(|e| e.token).collect();
        assert_eq!(first, [0, 1], "the two that became ready first");
        out.clear();
        ep.wait(&mut out, Some(Duration::ZERO), 2).unwrap();
        let rest: Vec<u64> = out.iter().map(|e| e.token).collect();
        assert_eq!(rest, [2], "the third stays ready for the next wait");
    }

    #[test]
    fn after_close_calls_are_harmless() {
        let ep = Epoll::new().unwrap();
        ep.close();
        let mut out = Vec::new();
        assert!(ep.wait(&mut out, Some(Duration::ZERO), MAX_EVENTS).is_err());
        assert!(ep.add(0, 1).is_err());
        assert!(ep.delete(0).is_ok());
        assert!(ep.wake().is_ok());
        ep.close();
    }
}
