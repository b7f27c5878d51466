//! [`Fd`]: a file descriptor registered with the poller — Go's `poll.FD`.
//!
//! Every goro socket and [`PollFd`](super::PollFd) is an `Fd`. It ties
//! together the raw fd, its [descriptor](crate::poller::descriptor) and the
//! runtime, and implements the two ways to run a syscall against it:
//!
//! - [`Fd::op`]: an `async` operation (Go's `fd.Read` loop). It takes the
//!   direction's lock (so reads are serialised among readers and a
//!   `write_all` is never interleaved with another write), then loops: check
//!   deadline/close (`prepareRead`), try the syscall, and on `EAGAIN` park
//!   in the direction's slot until the poller reports readiness. The lock is
//!   held across waits and released when the operation completes or is
//!   dropped.
//! - [`Fd::poll_io`]: the same attempt for stateless `poll_*` callers
//!   (`AsyncRead for &TcpStream`), which cannot hold a lock across
//!   `Pending`: it locks only around the attempt, and if another task holds
//!   the lock it queues on it.
//!
//! # Closing
//!
//! [`Fd::close`] marks the fd mutex closed, evicts the descriptor (waking
//! every waiter with "use of closed network connection") and drops its
//! reference; whoever drops the last reference deregisters the fd, recycles
//! the descriptor and closes the fd. So the fd number is never closed (and
//! reused by the kernel) while a syscall on it may still be in flight.

use crate::poller::Direction;
use crate::poller::descriptor::{DeadlineMode, DescPtr, PollDesc, closed_error, shut_down_error};
use crate::poller::fdmutex::FdMutex;
use crate::poller::slot::Registration;
use crate::scheduler::Shared;
use crate::scheduler::budget;
use crate::sys::cvt;
use crate::taskinfo::record::waiting_on_fd;
use std::future::Future;
use std::io;
use std::mem::ManuallyDrop;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Fd {
    fd: RawFd,
    /// Reference count, read/write locks and the closed flag. It belongs to
    /// this object, not the descriptor: once closed, an `Fd` never touches
    /// its descriptor again (the descriptor may already serve another fd).
    fdmu: FdMutex,
    pd: DescPtr,
    shared: Arc<Shared>,
    /// Close the fd on destroy (false for `PollFd`, whose `T` owns it).
    owns: bool,
    /// A short read proves the receive buffer is drained (true for TCP; see
    /// `net/stream.rs`).
    short_reads_drain: bool,
}

impl Fd {
    /// Registers `fd` (already non-blocking) with the current runtime's
    /// poller (the default runtime outside any).
    pub(crate) fn new(fd: OwnedFd) -> io::Result<Fd> {
        let this = Fd::register(fd.as_raw_fd(), true)?;
        // Ownership moves into `this`, which closes it in `destroy`.
        let _ = fd.into_raw_fd();
        Ok(this)
    }

    /// Registers an fd owned by someone else: closing this `Fd` only
    /// deregisters it. The caller must keep the fd open while this lives.
    pub(crate) fn borrowed(raw: RawFd) -> io::Result<Fd> {
        Fd::register(raw, false)
    }

    fn register(raw: RawFd, owns: bool) -> io::Result<Fd> {
        let shared = crate::runtime::current_scheduler();
        if shared.is_shutdown() {
            return Err(shut_down_error());
        }
        let pd = shared.poller.open(raw)?;
        Ok(Fd {
            fd: raw,
            fdmu: FdMutex::default(),
            pd,
            shared,
            owns,
            short_reads_drain: false,
        })
    }

    /// Marks this fd as a socket whose short reads prove the receive buffer
    /// is drained (TCP: the only exception, the urgent mark, is reported by
    /// `EPOLLPRI` and makes readiness sticky).
    pub(crate) fn with_short_reads_draining(mut self) -> Fd {
        self.short_reads_drain = true;
        self
    }

    /// See [`with_short_reads_draining`](Self::with_short_reads_draining).
    pub(crate) fn short_reads_drain(&self) -> bool {
        self.short_reads_drain
    }

    /// The descriptor; only valid while holding a reference or a lock.
    fn pd(&self) -> &PollDesc {
        self.pd.get()
    }

    /// Runs `f` holding a reference (so the descriptor stays ours).
    fn with_ref<R>(&self, f: impl FnOnce(&PollDesc) -> R) -> io::Result<R> {
        self.fdmu.incref().map_err(|_| closed_error())?;
        let r = f(self.pd());
        self.decref();
        Ok(r)
    }

    /// Runs `f` with the fd borrowed, holding a reference so that a
    /// concurrent `close` cannot close the fd meanwhile (Go's
    /// `RawConn.Control`). Fails with the closed error once closed.
    pub(crate) fn with_borrowed<R>(&self, f: impl FnOnce(BorrowedFd<'_>) -> R) -> io::Result<R> {
        self.with_ref(|_| {
            // SAFETY: the fd stays open while we hold the reference, and
            // the higher-ranked closure cannot keep the borrow past its call.
            f(unsafe { BorrowedFd::borrow_raw(self.fd) })
        })
    }

    /// The raw fd (valid while `self` is open).
    pub(crate) fn raw(&self) -> RawFd {
        self.fd
    }

    /// Runs `f` with a borrowed std object of type `T` wrapping the fd,
    /// holding a reference so the fd cannot be closed meanwhile.
    pub(crate) fn with_std<T, R>(&self, f: impl FnOnce(&T) -> io::Result<R>) -> io::Result<R>
    where
        T: FromRawFd + IntoRawFd,
    {
        self.with_ref(|_| {
            // SAFETY: the fd is open (we hold a reference) and the wrapper
            // is never dropped, so it never closes the fd.
            let obj = ManuallyDrop::new(unsafe { T::from_raw_fd(self.fd) });
            f(&obj)
        })?
    }

    fn decref(&self) {
        if self.fdmu.decref() {
            self.destroy();
        }
    }

    fn unlock(&self, side: Direction) {
        if self.fdmu.unlock(side) {
            self.destroy();
        }
    }

    /// Deregisters, recycles the descriptor and closes the fd. Runs once,
    /// by whoever released the last reference after `close`.
    fn destroy(&self) {
        self.shared.poller.close(self.pd(), self.fd);
        if self.owns {
            // SAFETY: the fd was ours and nothing references it any more.
            unsafe {
                libc::close(self.fd);
            }
        }
    }

    /// Closes the fd (see the module docs). Tasks blocked on it fail with
    /// `NotConnected` ("use of closed network connection"). Closing twice
    /// returns that error the second time.
    pub(crate) fn close(&self) -> io::Result<()> {
        self.fdmu.incref_and_close().map_err(|_| closed_error())?;
        self.pd().evict(&*self.shared);
        self.decref();
        Ok(())
    }

    /// Deregisters the fd and hands it back open (for `into_std`). For a
    /// borrowed fd, the returned value must be forgotten by the caller.
    pub(crate) fn into_owned(self) -> io::Result<OwnedFd> {
        // Already closed (`close()` then `into_std()`): nothing to hand
        // back. `self` is dropped as usual then (its `close` fails
        // harmlessly), releasing its reference to the runtime.
        self.fdmu.incref_and_close().map_err(|_| closed_error())?;
        let this = ManuallyDrop::new(self);
        let pd = this.pd();
        pd.evict(&*this.shared);
        // No other references can exist: `self` was owned.
        let _ = this.fdmu.decref();
        this.shared.poller.close(pd, this.fd);
        // SAFETY: the fd is open and owned by us; ownership moves out.
        let fd = unsafe { OwnedFd::from_raw_fd(this.fd) };
        // SAFETY: `this` is never used again; drop its Arc exactly once.
        drop(unsafe { std::ptr::read(&this.shared) });
        Ok(fd)
    }

    /// What a transfer of no bytes reports (it makes no syscall and takes
    /// no lock): `Ok(())`, or as in Go the closed error once the fd is
    /// closed (Go's `readLock`/`writeLock`), and for a write also an
    /// expired write deadline or a shut-down runtime (Go's `prepareWrite`;
    /// Go's zero-length `Read` returns before `prepareRead`).
    pub(crate) fn check_empty_transfer(&self, mode: Direction) -> io::Result<()> {
        self.with_ref(|pd| match mode {
            Direction::Read => Ok(()),
            Direction::Write => pd.check_err(mode).map_err(io::Error::from),
        })?
    }

    /// Fails with the shut-down error once this fd's runtime has shut down
    /// (for loops that wait by sleeping rather than in the poller).
    pub(crate) fn check_runtime(&self) -> io::Result<()> {
        if self.shared.is_shutdown() {
            return Err(shut_down_error());
        }
        Ok(())
    }

    /// Sets the read, write or both deadlines (`None` clears).
    /// Fails only if the fd is closed.
    pub(crate) fn set_deadline(
        &self,
        deadline: Option<Instant>,
        mode: DeadlineMode,
    ) -> io::Result<()> {
        self.with_ref(|pd| pd.set_deadline(deadline, mode, &*self.shared))
    }

    /// An async operation that takes `side`'s lock and retries `f` until
    /// it stops returning `WouldBlock` (see the module docs).
    pub(crate) fn op<F, R>(&self, mode: Direction, f: F) -> Op<'_, F, fn(&R) -> bool>
    where
        F: FnMut(RawFd) -> io::Result<R>,
    {
        self.make_op(mode, f, Drained(None))
    }

    /// Like [`op`](Self::op) for a syscall whose successful result can tell
    /// that it emptied the kernel buffer (`drained`: a short read or write on
    /// a stream socket). Readiness is then cleared, so the next operation
    /// parks at once instead of making a syscall just to get `EAGAIN`.
    pub(crate) fn op_drains<F, R, D>(&self, mode: Direction, f: F, drained: D) -> Op<'_, F, D>
    where
        F: FnMut(RawFd) -> io::Result<R>,
        D: Fn(&R) -> bool,
    {
        self.make_op(mode, f, Drained(Some(drained)))
    }

    fn make_op<F, D>(&self, mode: Direction, f: F, drained: Drained<D>) -> Op<'_, F, D> {
        Op {
            fd: self,
            mode,
            f,
            drained,
            locked: false,
            reg: Registration::default(),
        }
    }

    /// Waits for a non-blocking `connect` that returned `EINPROGRESS` to
    /// finish (Go's connect loop): wait for writability, then read
    /// `SO_ERROR`; a wake-up without an error and without a peer was
    /// spurious, so wait again.
    pub(crate) async fn await_connect(&self) -> io::Result<()> {
        self.op(Direction::Write, |raw| {
            if let Some(e) = crate::sys::sockopt::take_error(raw)? {
                return Err(e);
            }
            if crate::sys::sockopt::is_connected(raw)? {
                Ok(())
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            }
        })
        .await
    }

    /// Waits until the direction is ready (`readable()` / `writable()`).
    ///
    /// The slot's readiness only says "may be ready" (a new fd starts that
    /// way, and a read that did not drain the buffer leaves it set), so when
    /// it is set this confirms it with a zero-timeout `poll(2)` and clears it
    /// if the fd is not actually ready. The answer can still be stale by the
    /// time the caller acts on it, but a caller that loops on `readable()`
    /// and its own non-blocking read never spins.
    ///
    /// `reg` is the waiting future's place in the slot; it is withdrawn when
    /// the wait ends (and by [`Ready`]'s `Drop`), so the slot holds only
    /// live waiters however many wait.
    pub(crate) fn poll_ready(
        &self,
        mode: Direction,
        cx: &mut Context<'_>,
        reg: &mut Registration,
    ) -> Poll<io::Result<()>> {
        if self.fdmu.incref().is_err() {
            return Poll::Ready(Err(closed_error()));
        }
        let r = self.wait_ready(mode, cx, reg);
        if r.is_ready() {
            self.pd().deregister(mode, reg);
        }
        self.decref();
        r
    }

    /// The future behind `readable()` / `writable()` (see
    /// [`poll_ready`](Self::poll_ready)).
    pub(crate) fn ready(&self, mode: Direction) -> Ready<'_> {
        Ready {
            fd: self,
            mode,
            reg: Registration::default(),
        }
    }

    /// Withdraws `reg` from the `mode` slot, for a future that does not hold
    /// a reference. If the fd is closed, the close already emptied the slot.
    fn deregister(&self, mode: Direction, reg: &mut Registration) {
        if reg.is_registered() && self.fdmu.incref().is_ok() {
            self.pd().deregister(mode, reg);
            self.decref();
        }
    }

    fn wait_ready(
        &self,
        mode: Direction,
        cx: &mut Context<'_>,
        reg: &mut Registration,
    ) -> Poll<io::Result<()>> {
        let pd = self.pd();
        loop {
            if let Err(e) = pd.check_err(mode) {
                return Poll::Ready(Err(e.into()));
            }
            match pd.ready_tick(mode) {
                Some(tick) => match is_ready_now(self.fd, mode) {
                    Ok(true) => return Poll::Ready(Ok(())),
                    // As good as EAGAIN: nothing to do and no lasting condition.
                    Ok(false) => pd.clear_on_eagain(mode, tick),
                    Err(e) => return Poll::Ready(Err(e)),
                },
                None => match pd.poll_wait(mode, cx, Some(reg)) {
                    Poll::Pending => {
                        self.shared.ensure_poller();
                        return Poll::Pending;
                    }
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                },
            }
        }
    }

    /// One attempt for stateless `poll_*` callers (see the module docs).
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        mode: Direction,
        mut f: impl FnMut(RawFd) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io_with(cx, mode, &mut f, &Drained(None::<fn(&R) -> bool>))
    }

    /// [`poll_io`](Self::poll_io) with a `drained` test (see
    /// [`op_drains`](Self::op_drains)).
    pub(crate) fn poll_io_drains<R>(
        &self,
        cx: &mut Context<'_>,
        mode: Direction,
        mut f: impl FnMut(RawFd) -> io::Result<R>,
        drained: impl Fn(&R) -> bool,
    ) -> Poll<io::Result<R>> {
        self.poll_io_with(cx, mode, &mut f, &Drained(Some(drained)))
    }

    fn poll_io_with<R>(
        &self,
        cx: &mut Context<'_>,
        mode: Direction,
        f: &mut impl FnMut(RawFd) -> io::Result<R>,
        drained: &Drained<impl Fn(&R) -> bool>,
    ) -> Poll<io::Result<R>> {
        ready!(budget::poll_proceed(cx));
        let side = mode;
        match self.fdmu.poll_lock(side, cx.waker()) {
            Poll::Pending => {
                budget::restore();
                // Another task holds this direction: a dump shows the fd.
                waiting_on_fd(self.fd, side == Direction::Write);
                return Poll::Pending;
            }
            Poll::Ready(Err(_)) => return Poll::Ready(Err(closed_error())),
            Poll::Ready(Ok(())) => {}
        }
        // A stateless caller has no place to keep a registration: it waits
        // as a task (deduplicated; see `poller/slot.rs`).
        let r = self.attempt(cx, mode, f, drained, None);
        self.unlock(side);
        if r.is_pending() {
            budget::restore();
        }
        r
    }

    /// The retry loop shared by both paths; the caller holds the lock.
    ///
    /// `drained` says whether a successful result proves the kernel buffer
    /// is now empty (or full). Operations that can tell (stream reads and
    /// writes) are *readiness-first*: they make the syscall only while the
    /// slot says the direction may be ready, and park at once when it does
    /// not, so a read that has to wait costs no `EAGAIN`. Other operations
    /// (`read_with` closures, accept, datagrams) are *syscall-first*, as in
    /// Go: they try once, and only after `EAGAIN` wait for readiness.
    /// Either way, a syscall that finds the direction empty clears readiness
    /// tagged with the event tick read before it, so an event that raced
    /// with the syscall is never lost.
    ///
    /// `reg`: the calling future's registration (see
    /// [`PollDesc::poll_wait`]), or `None` for a stateless poll.
    fn attempt<R>(
        &self,
        cx: &mut Context<'_>,
        mode: Direction,
        f: &mut impl FnMut(RawFd) -> io::Result<R>,
        drained: &Drained<impl Fn(&R) -> bool>,
        mut reg: Option<&mut Registration>,
    ) -> Poll<io::Result<R>> {
        let pd = self.pd();
        let mut try_first = drained.0.is_none();
        loop {
            // Go's prepareRead/prepareWrite: an expired deadline or a close
            // wins even over buffered data.
            if let Err(e) = pd.check_err(mode) {
                return Poll::Ready(Err(e.into()));
            }
            let tick = pd.ready_tick(mode);
            if tick.is_some() || try_first {
                try_first = false;
                match f(self.fd) {
                    Ok(v) => {
                        if let (Some(tick), Some(test)) = (tick, &drained.0)
                            && test(&v)
                        {
                            pd.clear_ready(mode, tick);
                        }
                        return Poll::Ready(Ok(v));
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        // The poller saw a bare EPOLLERR: the socket has a
                        // pending error that this syscall did not report (an
                        // ICMP error on a datagram socket, say). Report it
                        // instead of waiting for an edge that will not come.
                        if pd.has_event_err()
                            && let Ok(Some(e)) = crate::sys::sockopt::take_error(self.fd)
                        {
                            return Poll::Ready(Err(e));
                        }
                        if let Some(tick) = tick {
                            pd.clear_on_eagain(mode, tick);
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                        try_first = true;
                        continue;
                    }
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
            if self.shared.is_shutdown() {
                return Poll::Ready(Err(shut_down_error()));
            }
            match pd.poll_wait(mode, cx, reg.as_deref_mut()) {
                Poll::Pending => {
                    self.shared.ensure_poller();
                    return Poll::Pending;
                }
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
            }
        }
    }
}

/// How an operation learns that it drained the kernel buffer: `None` for
/// operations that cannot tell (they are syscall-first; see `attempt`).
pub(crate) struct Drained<D>(Option<D>);

impl Drop for Fd {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// Level-triggered check of one direction with `poll(2)` and no timeout.
/// Hang-ups and errors count as ready: the next syscall will report them.
fn is_ready_now(fd: RawFd, mode: Direction) -> io::Result<bool> {
    let events = match mode {
        Direction::Read => libc::POLLIN | libc::POLLRDHUP | libc::POLLPRI,
        Direction::Write => libc::POLLOUT,
    };
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    if n < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(true); // report ready; the caller's syscall decides
        }
        return Err(e);
    }
    Ok(pfd.revents != 0)
}

/// Puts `fd` in non-blocking mode.
pub(crate) fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on an fd we own; errors are reported.
    let flags = cvt(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    if flags & libc::O_NONBLOCK == 0 {
        // SAFETY: as above.
        cvt(unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) })?;
    }
    Ok(())
}

/// Future returned by [`Fd::op`] and [`Fd::op_drains`].
#[must_use = "futures do nothing unless awaited"]
pub(crate) struct Op<'a, F, D> {
    fd: &'a Fd,
    mode: Direction,
    f: F,
    drained: Drained<D>,
    /// The direction's lock is held (with a reference).
    locked: bool,
    /// This operation's place in the slot, withdrawn before the lock is
    /// released.
    reg: Registration,
}

impl<F, D> Unpin for Op<'_, F, D> {}

impl<F, R, D> Future for Op<'_, F, D>
where
    F: FnMut(RawFd) -> io::Result<R>,
    D: Fn(&R) -> bool,
{
    type Output = io::Result<R>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        let this = &mut *self;
        let side = this.mode;
        ready!(budget::poll_proceed(cx));
        if !this.locked {
            match this.fd.fdmu.poll_lock(side, cx.waker()) {
                Poll::Pending => {
                    budget::restore();
                    waiting_on_fd(this.fd.fd, side == Direction::Write);
                    return Poll::Pending;
                }
                Poll::Ready(Err(_)) => return Poll::Ready(Err(closed_error())),
                Poll::Ready(Ok(())) => this.locked = true,
            }
        }
        let r = this.fd.attempt(
            cx,
            this.mode,
            &mut this.f,
            &this.drained,
            Some(&mut this.reg),
        );
        match r {
            Poll::Pending => budget::restore(),
            Poll::Ready(_) => this.release(),
        }
        r
    }
}

impl<F, D> Op<'_, F, D> {
    /// Withdraws the registration, then releases the lock (and reference).
    fn release(&mut self) {
        if self.locked {
            self.locked = false;
            self.fd.pd().deregister(self.mode, &mut self.reg);
            self.fd.unlock(self.mode);
        }
    }
}

impl<F, D> Drop for Op<'_, F, D> {
    fn drop(&mut self) {
        self.release();
    }
}

/// Future returned by [`Fd::ready`]: waits until the direction may be
/// ready, and withdraws its waker from the slot when it completes or is
/// dropped.
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub(crate) struct Ready<'a> {
    fd: &'a Fd,
    mode: Direction,
    reg: Registration,
}

impl Future for Ready<'_> {
    type Output = io::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        this.fd.poll_ready(this.mode, cx, &mut this.reg)
    }
}

impl Drop for Ready<'_> {
    fn drop(&mut self) {
        self.fd.deregister(self.mode, &mut self.reg);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Weak;

    /// Runs `f` with a fresh runtime current, then drops the runtime and
    /// says whether its scheduler state was freed (nothing leaked a
    /// reference to it).
    fn runtime_freed_after(f: impl FnOnce()) -> bool {
        let rt = crate::runtime::Runtime::builder()
            .worker_threads(1)
            .build()
            .unwrap();
        let weak: Weak<Shared> = {
            let _g = rt.enter();
            f();
            Arc::downgrade(&crate::runtime::current_scheduler())
        };
        drop(rt);
        weak.upgrade().is_none()
    }

    fn socket() -> OwnedFd {
        crate::net::socket::socket(libc::AF_INET, libc::SOCK_STREAM).unwrap()
    }

    #[test]
    fn a_closed_fd_and_a_dropped_one_release_the_runtime() {
        assert!(runtime_freed_after(|| drop(Fd::new(socket()).unwrap())));
        assert!(runtime_freed_after(|| {
            let fd = Fd::new(socket()).unwrap();
            fd.close().unwrap();
        }));
        assert!(runtime_freed_after(|| {
            let fd = Fd::new(socket()).unwrap();
            drop(fd.into_owned().unwrap());
        }));
    }

    #[test]
    fn into_owned_after_close_fails_without_leaking_the_runtime() {
        assert!(runtime_freed_after(|| {
            let fd = Fd::new(socket()).unwrap();
            fd.close().unwrap();
            let e = fd.into_owned().unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::NotConnected);
        }));
    }
}
