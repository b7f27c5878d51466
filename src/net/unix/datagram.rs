//! [`UnixDatagram`]: a Unix-domain datagram socket.

use crate::io::fd::Fd;
use crate::net::socket::{self, SockAddr};
use crate::poller::Direction;
use crate::poller::descriptor::DeadlineMode;
use std::fmt;
use std::io;
use std::net::Shutdown;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::task::{Context, Poll};
use std::time::Instant;

type StdDatagram = std::os::unix::net::UnixDatagram;

/// A Unix-domain datagram socket.
///
/// The same shape as [`UdpSocket`](crate::net::UdpSocket) over paths:
/// every method takes `&self`; receives are serialised among receivers and
/// sends among senders; each receive returns one datagram (zero-length ones
/// included); deadlines follow Go (an expired deadline fails operations with
/// `io::ErrorKind::TimedOut`); [`close`](Self::close) wakes blocked tasks
/// with `io::ErrorKind::NotConnected`. Unlike a
/// [`UnixListener`](crate::net::UnixListener), a bound datagram socket does
/// not remove its file when closed.
///
/// ```
/// # goro::block_on(async {
/// use goro::net::UnixDatagram;
/// let dir = std::env::temp_dir();
/// let path = dir.join(format!("goro-doc-dgram-{}.sock", std::process::id()));
/// let server = UnixDatagram::bind(&path)?;
/// let client = UnixDatagram::unbound()?;
/// client.send_to(b"ping", &path).await?;
/// let mut buf = [0; 16];
/// let (n, from) = server.recv_from(&mut buf).await?;
/// assert_eq!(&buf[..n], b"ping");
/// assert!(from.is_unnamed());
/// std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
pub struct UnixDatagram {
    fd: Fd,
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixDatagram")
            .field("fd", &self.fd.raw())
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}

impl UnixDatagram {
    /// Creates a socket bound to `path`. Fails with `AddrInUse` if the
    /// file exists, and with `InvalidInput` for a path with a NUL byte or
    /// over 107 bytes. The file is not removed when the socket closes.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let path = std::env::temp_dir().join(format!("goro-doc-dgram-bind-{}.sock", std::process::id()));
    /// let socket = goro::net::UnixDatagram::bind(&path)?;
    /// assert_eq!(socket.local_addr()?.as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        let path = path.as_ref();
        UnixDatagram::bind_raw(&SockAddr::from_path(path)?, Some(path))
    }

    /// Creates a socket bound to `addr` (a pathname or, on Linux, an
    /// abstract address).
    ///
    /// ```
    /// # goro::block_on(async {
    /// use std::os::linux::net::SocketAddrExt;
    /// use std::os::unix::net::SocketAddr;
    /// let addr = SocketAddr::from_abstract_name(format!("goro-doc-dgram-{}", std::process::id()))?;
    /// let socket = goro::net::UnixDatagram::bind_addr(&addr)?;
    /// assert!(socket.local_addr()?.as_abstract_name().is_some());
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixDatagram> {
        UnixDatagram::bind_raw(&SockAddr::from_unix(addr)?, addr.as_pathname())
    }

    fn bind_raw(addr: &SockAddr, path: Option<&Path>) -> io::Result<UnixDatagram> {
        let sock = socket::socket(libc::AF_UNIX, libc::SOCK_DGRAM)?;
        socket::bind_unix(sock, addr, path, |sock| {
            Ok(UnixDatagram { fd: Fd::new(sock)? })
        })
    }

    /// Creates a socket bound to no address: it can send, and receive
    /// replies only once connected (its address is unnamed).
    ///
    /// ```
    /// # goro::block_on(async {
    /// let socket = goro::net::UnixDatagram::unbound()?;
    /// assert!(socket.local_addr()?.is_unnamed());
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn unbound() -> io::Result<UnixDatagram> {
        let sock = socket::socket(libc::AF_UNIX, libc::SOCK_DGRAM)?;
        Ok(UnixDatagram { fd: Fd::new(sock)? })
    }

    /// Creates a pair of sockets connected to each other (`socketpair`).
    ///
    /// ```
    /// # goro::block_on(async {
    /// let (a, b) = goro::net::UnixDatagram::pair()?;
    /// a.send(b"x").await?;
    /// assert_eq!(b.recv(&mut [0; 4]).await?, 1);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = socket::socketpair(libc::SOCK_DGRAM)?;
        Ok((
            UnixDatagram { fd: Fd::new(a)? },
            UnixDatagram { fd: Fd::new(b)? },
        ))
    }

    /// Sets the default destination to the socket at `path` and limits
    /// receives to datagrams from it. Completes at once.
    ///
    /// ```
    /// # goro::block_on(async {
    /// use goro::net::UnixDatagram;
    /// let path = std::env::temp_dir().join(format!("goro-doc-dgram-connect-{}.sock", std::process::id()));
    /// let server = UnixDatagram::bind(&path)?;
    /// let client = UnixDatagram::unbound()?;
    /// client.connect(&path)?;
    /// client.send(b"hi").await?;
    /// assert_eq!(server.recv(&mut [0; 4]).await?, 2);
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        self.connect_raw(&SockAddr::from_path(path.as_ref())?)
    }

    /// Like [`connect`](Self::connect), to a pathname or abstract address.
    ///
    /// ```
    /// # goro::block_on(async {
    /// use goro::net::UnixDatagram;
    /// use std::os::linux::net::SocketAddrExt;
    /// use std::os::unix::net::SocketAddr;
    /// let addr = SocketAddr::from_abstract_name(format!("goro-doc-dgram-c-{}", std::process::id()))?;
    /// let server = UnixDatagram::bind_addr(&addr)?;
    /// let client = UnixDatagram::unbound()?;
    /// client.connect_addr(&addr)?;
    /// client.send(b"hi").await?;
    /// assert_eq!(server.recv(&mut [0; 4]).await?, 2);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn connect_addr(&self, addr: &SocketAddr) -> io::Result<()> {
        self.connect_raw(&SockAddr::from_unix(addr)?)
    }

    fn connect_raw(&self, addr: &SockAddr) -> io::Result<()> {
        // A datagram connect never returns "in progress".
        self.fd
            .with_std(|s: &StdDatagram| socket::start_connect(s.as_raw_fd(), addr))
            .map(drop)
    }

    /// Sends `buf` as one datagram to the connected peer.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let (a, _b) = goro::net::UnixDatagram::pair()?;
    /// assert_eq!(a.send(b"abc").await?, 3);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.fd.datagram_send(buf).await
    }

    /// Receives one datagram from the connected peer, returning how many
    /// bytes were stored (a longer datagram is truncated to `buf` and the
    /// rest discarded, silently, as in std).
    ///
    /// ```
    /// # goro::block_on(async {
    /// let (a, b) = goro::net::UnixDatagram::pair()?;
    /// a.send(b"abc").await?;
    /// assert_eq!(b.recv(&mut [0; 8]).await?, 3);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.fd.datagram_recv(buf, 0).await
    }

    /// Receives the next datagram without removing it from the queue.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let (a, b) = goro::net::UnixDatagram::pair()?;
    /// a.send(b"abc").await?;
    /// let mut buf = [0; 8];
    /// assert_eq!(b.peek(&mut buf).await?, 3);
    /// assert_eq!(b.recv(&mut buf).await?, 3); // still there
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.fd.datagram_recv(buf, libc::MSG_PEEK).await
    }

    /// Sends `buf` as one datagram to the socket bound at `path`.
    ///
    /// ```
    /// # goro::block_on(async {
    /// use goro::net::UnixDatagram;
    /// let path = std::env::temp_dir().join(format!("goro-doc-dgram-send-to-{}.sock", std::process::id()));
    /// let server = UnixDatagram::bind(&path)?;
    /// assert_eq!(UnixDatagram::unbound()?.send_to(b"hi", &path).await?, 2);
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn send_to<P: AsRef<Path>>(&self, buf: &[u8], path: P) -> io::Result<usize> {
        let addr = SockAddr::from_path(path.as_ref())?;
        self.fd.datagram_send_to(buf, &addr).await
    }

    /// Sends `buf` as one datagram to `addr` — for example the address a
    /// [`recv_from`](Self::recv_from) reported, to reply.
    ///
    /// ```
    /// # goro::block_on(async {
    /// use goro::net::UnixDatagram;
    /// let dir = std::env::temp_dir();
    /// let a_path = dir.join(format!("goro-doc-dgram-a-{}.sock", std::process::id()));
    /// let b_path = dir.join(format!("goro-doc-dgram-b-{}.sock", std::process::id()));
    /// let (a, b) = (UnixDatagram::bind(&a_path)?, UnixDatagram::bind(&b_path)?);
    /// a.send_to(b"ping", &b_path).await?;
    /// let mut buf = [0; 8];
    /// let (_, from) = b.recv_from(&mut buf).await?;
    /// b.send_to_addr(b"pong", &from).await?;
    /// assert_eq!(a.recv(&mut buf).await?, 4);
    /// std::fs::remove_file(&a_path)?;
    /// std::fs::remove_file(&b_path)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn send_to_addr(&self, buf: &[u8], addr: &SocketAddr) -> io::Result<usize> {
        let addr = SockAddr::from_unix(addr)?;
        self.fd.datagram_send_to(buf, &addr).await
    }

    /// Receives one datagram, returning its length and the sender's address
    /// (unnamed if the sender is not bound, or bound to a path that fills
    /// all 108 bytes of `sun_path`, which Linux allows but std's
    /// `SocketAddr` cannot hold; the datagram is returned either way).
    ///
    /// ```
    /// # goro::block_on(async {
    /// let (a, b) = goro::net::UnixDatagram::pair()?;
    /// a.send(b"abc").await?;
    /// let (n, from) = b.recv_from(&mut [0; 8]).await?;
    /// assert_eq!(n, 3);
    /// assert!(from.is_unnamed());
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.fd.datagram_recv_from(buf, 0).await
    }

    /// Like [`recv_from`](Self::recv_from), but leaves the datagram queued.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let (a, b) = goro::net::UnixDatagram::pair()?;
    /// a.send(b"abc").await?;
    /// let mut buf = [0; 8];
    /// assert_eq!(b.peek_from(&mut buf).await?.0, 3);
    /// assert_eq!(b.recv_from(&mut buf).await?.0, 3);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.fd.datagram_recv_from(buf, libc::MSG_PEEK).await
    }

    /// Polls to receive one datagram (the stateless form of
    /// [`recv`](Self::recv)).
    ///
    /// ```
    /// # goro::block_on(async {
    /// let (a, b) = goro::net::UnixDatagram::pair()?;
    /// a.send(b"x").await?;
    /// let mut buf = [0; 4];
    /// assert_eq!(std::future::poll_fn(|cx| b.poll_recv(cx, &mut buf)).await?, 1);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.fd.poll_datagram_recv(cx, buf)
    }

    /// Polls to send one datagram to the connected peer.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let (a, _b) = goro::net::UnixDatagram::pair()?;
    /// assert_eq!(std::future::poll_fn(|cx| a.poll_send(cx, b"x")).await?, 1);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.fd.poll_datagram_send(cx, buf)
    }

    /// Polls to receive one datagram and its sender.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let (a, b) = goro::net::UnixDatagram::pair()?;
    /// a.send(b"x").await?;
    /// let mut buf = [0; 4];
    /// let (n, _) = std::future::poll_fn(|cx| b.poll_recv_from(cx, &mut buf)).await?;
    /// assert_eq!(n, 1);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        self.fd.poll_datagram_recv_from(cx, buf)
    }

    /// Polls to send one datagram to the socket bound at `path`.
    ///
    /// ```
    /// # goro::block_on(async {
    /// use goro::net::UnixDatagram;
    /// let path = std::env::temp_dir().join(format!("goro-doc-dgram-poll-{}.sock", std::process::id()));
    /// let server = UnixDatagram::bind(&path)?;
    /// let client = UnixDatagram::unbound()?;
    /// let n = std::future::poll_fn(|cx| client.poll_send_to(cx, b"x", &path)).await?;
    /// assert_eq!(n, 1);
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        path: &Path,
    ) -> Poll<io::Result<usize>> {
        let addr = match SockAddr::from_path(path) {
            Ok(a) => a,
            Err(e) => return Poll::Ready(Err(e)),
        };
        self.fd.poll_datagram_send_to(cx, buf, &addr)
    }

    /// Waits until the socket may be readable.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let (a, b) = goro::net::UnixDatagram::pair()?;
    /// a.send(b"x").await?;
    /// b.readable().await?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn readable(&self) -> io::Result<()> {
        self.fd.ready(Direction::Read).await
    }

    /// Waits until the socket may be writable.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let (a, _b) = goro::net::UnixDatagram::pair()?;
    /// a.writable().await?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn writable(&self) -> io::Result<()> {
        self.fd.ready(Direction::Write).await
    }

    /// The local address.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let socket = goro::net::UnixDatagram::unbound()?;
    /// assert!(socket.local_addr()?.is_unnamed());
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.with_std(|s: &StdDatagram| s.local_addr())
    }

    /// The connected peer's address (`NotConnected` if not connected).
    ///
    /// ```
    /// # goro::block_on(async {
    /// let socket = goro::net::UnixDatagram::unbound()?;
    /// assert!(socket.peer_addr().is_err());
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.fd.with_std(|s: &StdDatagram| s.peer_addr())
    }

    /// Shuts down the read half, the write half, or both. After
    /// `Shutdown::Write`, sends fail with `BrokenPipe`. (On a datagram
    /// socket Linux gives no end-of-file: receives after `Shutdown::Read`
    /// keep waiting for a datagram, as in Go; use a deadline or
    /// [`close`](Self::close) to stop them.)
    ///
    /// ```
    /// # goro::block_on(async {
    /// let (a, _b) = goro::net::UnixDatagram::pair()?;
    /// a.shutdown(std::net::Shutdown::Write)?;
    /// let err = a.send(b"x").await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.fd.with_std(|s: &StdDatagram| s.shutdown(how))
    }

    /// Takes the socket's pending error (`SO_ERROR`), if any.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let socket = goro::net::UnixDatagram::unbound()?;
    /// assert!(socket.take_error()?.is_none());
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.fd.with_std(|s: &StdDatagram| s.take_error())
    }

    /// Sets the read deadline (Go's `SetReadDeadline`): the instant after
    /// which receives (`recv`, `recv_from`, `peek`, `peek_from`, `readable`) fail with `io::ErrorKind::TimedOut` ("i/o timeout").
    ///
    /// - It applies to operations **already waiting**: a task blocked in one
    ///   fails when the new deadline passes (at once if it already has),
    ///   and moving the deadline later, or clearing it, lets it keep
    ///   waiting.
    /// - Once passed, it fails them **even if a datagram is already queued**, and keeps
    ///   failing them until a new deadline is set. It is not a per-call
    ///   timeout: for an idle timeout, push it forward before each call.
    /// - `None` clears it: they wait as long as they need.
    ///
    /// ```
    /// # goro::block_on(async {
    /// use std::time::{Duration, Instant};
    /// let (a, _b) = goro::net::UnixDatagram::pair()?;
    /// a.set_read_deadline(Some(Instant::now() + Duration::from_millis(10)))?;
    /// let err = a.recv(&mut [0; 4]).await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn set_read_deadline(&self, deadline: Option<Instant>) -> io::Result<()> {
        self.fd.set_deadline(deadline, DeadlineMode::Read)
    }

    /// Sets the write deadline (Go's `SetWriteDeadline`): the instant after
    /// which sends (`send`, `send_to`, `writable`) fail with `io::ErrorKind::TimedOut` ("i/o timeout").
    ///
    /// - It applies to operations **already waiting** (e.g. for buffer
    ///   space): a task blocked in one fails when the new deadline passes
    ///   (at once if it already has), and moving the deadline later, or
    ///   clearing it, lets it keep waiting.
    /// - Once passed, it fails them **even if the socket buffer has room**, and keeps
    ///   failing them until a new deadline is set.
    /// - `None` clears it.
    ///
    /// ```
    /// # goro::block_on(async {
    /// use std::time::{Duration, Instant};
    /// let (a, _b) = goro::net::UnixDatagram::pair()?;
    /// a.set_write_deadline(Some(Instant::now() - Duration::from_secs(1)))?;
    /// let err = a.send(b"x").await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn set_write_deadline(&self, deadline: Option<Instant>) -> io::Result<()> {
        self.fd.set_deadline(deadline, DeadlineMode::Write)
    }

    /// Sets the read and the write deadline to the same instant (Go's
    /// `SetDeadline`; one timer serves both). As for each of
    /// [`set_read_deadline`](Self::set_read_deadline) and [`set_write_deadline`](Self::set_write_deadline):
    /// the new deadline applies to operations already waiting; once it has
    /// passed, operations fail with `TimedOut` even if a datagram is queued or there is room to send, until a
    /// new deadline is set; `None` clears both.
    ///
    /// ```
    /// # goro::block_on(async {
    /// use std::time::{Duration, Instant};
    /// let (a, _b) = goro::net::UnixDatagram::pair()?;
    /// a.set_deadline(Some(Instant::now() + Duration::from_secs(5)))?;
    /// a.set_deadline(None)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn set_deadline(&self, deadline: Option<Instant>) -> io::Result<()> {
        self.fd.set_deadline(deadline, DeadlineMode::Both)
    }

    /// Closes the socket now (Go's `Conn.Close`). Tasks blocked on it wake
    /// with `NotConnected` ("use of closed network connection"), as do
    /// later calls; queued datagrams are discarded; the fd itself is closed
    /// once the last in-flight operation has let go of it. Closing twice
    /// returns that error; dropping closes too. (Datagram sockets have no
    /// write side to shut down: there is no `AsyncWrite` to confuse this
    /// with.)
    ///
    /// ```
    /// # goro::block_on(async {
    /// let (a, _b) = goro::net::UnixDatagram::pair()?;
    /// a.close()?;
    /// let err = a.recv(&mut [0; 4]).await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotConnected);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn close(&self) -> io::Result<()> {
        self.fd.close()
    }

    /// Wraps a std socket (switched to non-blocking mode).
    ///
    /// ```
    /// # goro::block_on(async {
    /// let (a, b) = std::os::unix::net::UnixDatagram::pair()?;
    /// let a = goro::net::UnixDatagram::from_std(a)?;
    /// b.send(b"x")?;
    /// assert_eq!(a.recv(&mut [0; 4]).await?, 1);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn from_std(socket: StdDatagram) -> io::Result<UnixDatagram> {
        socket.set_nonblocking(true)?;
        Ok(UnixDatagram {
            fd: Fd::new(OwnedFd::from(socket))?,
        })
    }

    /// Unwraps into a std socket (still in non-blocking mode). Fails with
    /// `NotConnected` if the socket was closed.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let (a, b) = goro::net::UnixDatagram::pair()?;
    /// let a: std::os::unix::net::UnixDatagram = a.into_std()?;
    /// b.send(b"x").await?;
    /// assert_eq!(a.recv(&mut [0; 4])?, 1);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn into_std(self) -> io::Result<StdDatagram> {
        self.fd.into_owned().map(StdDatagram::from)
    }

    /// Runs `f` with the socket's fd borrowed (Go's
    /// `SyscallConn().Control(f)`), for options goro has no method for;
    /// the fd cannot be closed while `f` runs. See
    /// [`TcpStream::with_fd`](crate::net::TcpStream::with_fd). Fails with
    /// `NotConnected` once the socket is closed.
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// # goro::block_on(async {
    /// let (a, _b) = goro::net::UnixDatagram::pair()?;
    /// let fd = a.with_fd(|fd| fd.as_raw_fd())?;
    /// assert_eq!(fd, a.as_raw_fd());
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn with_fd<R>(&self, f: impl FnOnce(BorrowedFd<'_>) -> R) -> io::Result<R> {
        self.fd.with_borrowed(f)
    }
}

impl AsRawFd for UnixDatagram {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.raw()
    }
}
