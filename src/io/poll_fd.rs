//! [`PollFd`]: any file descriptor on the netpoller.

use super::fd::Fd;
use crate::poller::Direction;
use crate::poller::descriptor::DeadlineMode;
use futures_io::{AsyncRead, AsyncWrite};
use std::fmt;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

/// Wraps any fd-owning value (a pipe end, an eventfd, a tty, a socket from
/// another library) so its readiness is driven by goro's poller.
///
/// [`new`](Self::new) switches the fd to non-blocking mode and registers it
/// once. The value itself keeps ownership of the fd: dropping a `PollFd`
/// deregisters the fd and then drops the value, and
/// [`into_inner`](Self::into_inner) deregisters it and gives the value
/// back. Deadlines work as on [`TcpStream`](crate::net::TcpStream).
///
/// ```
/// use std::io::{Read, Write};
/// use std::os::unix::net::UnixStream;
/// # goro::block_on(async {
/// let (a, mut b) = UnixStream::pair()?;
/// let a = goro::io::PollFd::new(a)?;
/// b.write_all(b"hi")?;
/// let mut buf = [0; 2];
/// let n = a.read_with(|mut s| s.read(&mut buf)).await?;
/// assert_eq!(&buf[..n], b"hi");
/// # Ok::<(), std::io::Error>(()) });
/// ```
pub struct PollFd<T: AsRawFd> {
    // Field order matters: the registration is dropped before the value
    // that owns the fd.
    fd: Fd,
    inner: T,
}

impl<T: AsRawFd + fmt::Debug> fmt::Debug for PollFd<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PollFd")
            .field("inner", &self.inner)
            .finish()
    }
}

impl<T: AsRawFd> PollFd<T> {
    /// Registers `inner`'s fd with the current runtime's poller (switching
    /// it to non-blocking mode).
    ///
    /// Fails if the fd cannot be polled (`EPERM` for a regular file or a
    /// directory, `EBADF` for a closed fd), is already registered with the
    /// same runtime (`EEXIST`: one `PollFd` per fd), or the runtime is shut
    /// down; the fd's blocking mode is then left as it was. `inner` is
    /// dropped with the error, so wrap a borrowed fd (`BorrowedFd`,
    /// `&File` via `as_fd()`) to keep it.
    ///
    /// The fd stays in non-blocking mode after the `PollFd` is dropped or
    /// unwrapped with [`into_inner`](Self::into_inner); that matters for
    /// descriptors shared with other processes (stdin or a terminal: the
    /// mode is a property of the open file, not of this process's fd).
    ///
    /// ```
    /// # goro::block_on(async {
    /// use std::os::unix::net::UnixStream;
    /// let (a, _b) = UnixStream::pair()?;
    /// let a = goro::io::PollFd::new(a)?; // now non-blocking, on goro's poller
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn new(inner: T) -> io::Result<PollFd<T>> {
        let raw = inner.as_raw_fd();
        // Register first, and switch the mode only once registered: a
        // failed call then never touches the mode, which belongs to the
        // open file and may meanwhile have been switched on by another
        // `PollFd` on a dup of it (undoing that would make the other one's
        // fd blocking). If switching fails, dropping `fd` deregisters it.
        let fd = Fd::borrowed(raw)?;
        super::fd::set_nonblocking(raw)?;
        Ok(PollFd { fd, inner })
    }

    /// The wrapped value.
    ///
    /// ```
    /// # goro::block_on(async {
    /// # let (a, mut b) = std::os::unix::net::UnixStream::pair()?;
    /// let fd = goro::io::PollFd::new(a)?;
    /// assert!(fd.get_ref().peer_addr().is_ok());
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The wrapped value, mutably.
    ///
    /// Do not replace the value, or close or `dup2` over its fd, through
    /// this reference (nor in [`read_with_mut`](Self::read_with_mut) /
    /// [`write_with_mut`](Self::write_with_mut)): the registration belongs
    /// to the fd *number* `new` saw, and is removed by that number when the
    /// `PollFd` is dropped — by then the number may belong to another of
    /// this process's sockets, which would stop receiving events. (Memory
    /// safety does not depend on it; the same rule holds for tokio's
    /// `AsyncFd`.)
    ///
    /// ```
    /// # goro::block_on(async {
    /// # let (a, mut b) = std::os::unix::net::UnixStream::pair()?;
    /// let mut fd = goro::io::PollFd::new(a)?;
    /// let _: &mut std::os::unix::net::UnixStream = fd.get_mut();
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Deregisters the fd and returns the value (still non-blocking).
    ///
    /// ```
    /// # goro::block_on(async {
    /// # let (a, mut b) = std::os::unix::net::UnixStream::pair()?;
    /// let fd = goro::io::PollFd::new(a)?;
    /// let a = fd.into_inner()?; // deregistered, still open
    /// a.set_nonblocking(false)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn into_inner(self) -> io::Result<T> {
        let PollFd { fd, inner } = self;
        // The fd belongs to `inner`: forget the handle `into_owned` returns
        // so it is not closed twice.
        std::mem::forget(fd.into_owned()?);
        Ok(inner)
    }

    /// Waits until the fd may be readable.
    ///
    /// ```
    /// # goro::block_on(async {
    /// # let (a, mut b) = std::os::unix::net::UnixStream::pair()?;
    /// use std::io::Write;
    /// let fd = goro::io::PollFd::new(a)?;
    /// b.write_all(b"x")?;
    /// fd.readable().await?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn readable(&self) -> io::Result<()> {
        self.fd.ready(Direction::Read).await
    }

    /// Waits until the fd may be writable.
    ///
    /// ```
    /// # goro::block_on(async {
    /// # let (a, mut b) = std::os::unix::net::UnixStream::pair()?;
    /// let fd = goro::io::PollFd::new(a)?;
    /// fd.writable().await?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn writable(&self) -> io::Result<()> {
        self.fd.ready(Direction::Write).await
    }

    /// Runs a non-blocking read `f` until it stops failing with
    /// `WouldBlock`, waiting for readability in between. Reads through one
    /// `PollFd` are serialised.
    ///
    /// ```
    /// # goro::block_on(async {
    /// # let (a, mut b) = std::os::unix::net::UnixStream::pair()?;
    /// use std::io::{Read, Write};
    /// let fd = goro::io::PollFd::new(a)?;
    /// b.write_all(b"ping")?;
    /// let mut buf = [0; 4];
    /// fd.read_with(|mut s| s.read_exact(&mut buf)).await?;
    /// assert_eq!(&buf, b"ping");
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn read_with<R>(&self, mut f: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        let inner = self.get_ref();
        self.fd.op(Direction::Read, |_| f(inner)).await
    }

    /// Like [`read_with`](Self::read_with), with mutable access.
    ///
    /// ```
    /// # goro::block_on(async {
    /// # let (a, mut b) = std::os::unix::net::UnixStream::pair()?;
    /// use std::io::{Read, Write};
    /// let mut fd = goro::io::PollFd::new(a)?;
    /// b.write_all(b"x")?;
    /// let n = fd.read_with_mut(|s| s.read(&mut [0; 8])).await?;
    /// assert_eq!(n, 1);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn read_with_mut<R>(
        &mut self,
        mut f: impl FnMut(&mut T) -> io::Result<R>,
    ) -> io::Result<R> {
        let inner = &mut self.inner;
        self.fd.op(Direction::Read, |_| f(inner)).await
    }

    /// Runs a non-blocking write `f` until it stops failing with
    /// `WouldBlock`, waiting for writability in between.
    ///
    /// ```
    /// # goro::block_on(async {
    /// # let (a, mut b) = std::os::unix::net::UnixStream::pair()?;
    /// use std::io::{Read, Write};
    /// let fd = goro::io::PollFd::new(a)?;
    /// fd.write_with(|mut s| s.write(b"pong")).await?;
    /// let mut buf = [0; 4];
    /// b.read_exact(&mut buf)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn write_with<R>(&self, mut f: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        let inner = self.get_ref();
        self.fd.op(Direction::Write, |_| f(inner)).await
    }

    /// Like [`write_with`](Self::write_with), with mutable access.
    ///
    /// ```
    /// # goro::block_on(async {
    /// # let (a, mut b) = std::os::unix::net::UnixStream::pair()?;
    /// use std::io::Write;
    /// let mut fd = goro::io::PollFd::new(a)?;
    /// fd.write_with_mut(|s| s.write(b"x")).await?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn write_with_mut<R>(
        &mut self,
        mut f: impl FnMut(&mut T) -> io::Result<R>,
    ) -> io::Result<R> {
        let inner = &mut self.inner;
        self.fd.op(Direction::Write, |_| f(inner)).await
    }

    /// Sets the read deadline (Go's `SetReadDeadline`): the instant after
    /// which `readable()`, `read_with` and `AsyncRead` reads fail with `io::ErrorKind::TimedOut` ("i/o timeout").
    ///
    /// - It applies to operations **already waiting**: a task blocked in one
    ///   fails when the new deadline passes (at once if it already has),
    ///   and moving the deadline later, or clearing it, lets it keep
    ///   waiting.
    /// - Once passed, it fails them **even if the fd is readable**, and keeps
    ///   failing them until a new deadline is set. It is not a per-call
    ///   timeout: for an idle timeout, push it forward before each call.
    /// - `None` clears it: they wait as long as they need.
    ///
    /// ```
    /// # goro::block_on(async {
    /// # let (a, mut b) = std::os::unix::net::UnixStream::pair()?;
    /// use std::io::Read;
    /// use std::time::{Duration, Instant};
    /// let fd = goro::io::PollFd::new(a)?;
    /// fd.set_read_deadline(Some(Instant::now() + Duration::from_millis(10)))?;
    /// let err = fd.read_with(|mut s| s.read(&mut [0; 1])).await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn set_read_deadline(&self, deadline: Option<Instant>) -> io::Result<()> {
        self.fd.set_deadline(deadline, DeadlineMode::Read)
    }

    /// Sets the write deadline (Go's `SetWriteDeadline`): the instant after
    /// which `writable()`, `write_with` and `AsyncWrite` writes fail with `io::ErrorKind::TimedOut` ("i/o timeout").
    ///
    /// - It applies to operations **already waiting** (e.g. for buffer
    ///   space): a task blocked in one fails when the new deadline passes
    ///   (at once if it already has), and moving the deadline later, or
    ///   clearing it, lets it keep waiting.
    /// - Once passed, it fails them **even if the fd is writable**, and keeps
    ///   failing them until a new deadline is set.
    /// - `None` clears it.
    ///
    /// ```
    /// # goro::block_on(async {
    /// # let (a, mut b) = std::os::unix::net::UnixStream::pair()?;
    /// let fd = goro::io::PollFd::new(a)?;
    /// fd.set_write_deadline(None)?; // no deadline
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn set_write_deadline(&self, deadline: Option<Instant>) -> io::Result<()> {
        self.fd.set_deadline(deadline, DeadlineMode::Write)
    }

    /// Sets the read and the write deadline to the same instant (Go's
    /// `SetDeadline`; one timer serves both). As for each of
    /// [`set_read_deadline`](Self::set_read_deadline) and [`set_write_deadline`](Self::set_write_deadline):
    /// the new deadline applies to operations already waiting; once it has
    /// passed, operations fail with `TimedOut` even if the fd is ready, until a
    /// new deadline is set; `None` clears both.
    ///
    /// ```
    /// # goro::block_on(async {
    /// # let (a, mut b) = std::os::unix::net::UnixStream::pair()?;
    /// let fd = goro::io::PollFd::new(a)?;
    /// fd.set_deadline(Some(std::time::Instant::now() + std::time::Duration::from_secs(5)))?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn set_deadline(&self, deadline: Option<Instant>) -> io::Result<()> {
        self.fd.set_deadline(deadline, DeadlineMode::Both)
    }
}

impl<T: AsRawFd> AsRawFd for PollFd<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.raw()
    }
}

impl<T: AsRawFd + Read + Unpin> AsyncRead for PollFd<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let this = self.get_mut();
        let inner = &mut this.inner;
        this.fd.poll_io(cx, Direction::Read, |_| inner.read(buf))
    }
}

/// `poll_close` only flushes the value (`Write::flush`): the fd itself is
/// closed when the `PollFd` (with its value) is dropped, so a pipe's
/// reader sees end of file only then.
impl<T: AsRawFd + Write + Unpin> AsyncWrite for PollFd<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let this = self.get_mut();
        let inner = &mut this.inner;
        this.fd.poll_io(cx, Direction::Write, |_| inner.write(buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let inner = &mut this.inner;
        this.fd.poll_io(cx, Direction::Write, |_| inner.flush())
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}
