//! [`TcpListener`] and its [`Incoming`] stream.

use super::stream::TcpStream;
use crate::io::fd::Fd;
use crate::net::addr::{ToSocketAddrs, resolve};
use crate::net::backoff::AcceptBackoff;
use crate::net::socket::{self, SockAddr};
use crate::net::sockopt;
use crate::poller::Direction;
use crate::poller::descriptor::DeadlineMode;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

/// A TCP socket server, listening for connections.
///
/// ```no_run
/// # goro::block_on(async {
/// let listener = goro::net::TcpListener::bind("127.0.0.1:8080").await?;
/// loop {
///     let (stream, peer) = listener.accept().await?;
///     goro::spawn(async move {
///         let mut buf = [0; 1024];
///         while let Ok(n) = stream.read(&mut buf).await {
///             if n == 0 || stream.write_all(&buf[..n]).await.is_err() {
///                 break;
///             }
///         }
///         drop(peer);
///     });
/// }
/// # #[allow(unreachable_code)] Ok::<(), std::io::Error>(()) });
/// ```
pub struct TcpListener {
    fd: Fd,
    /// Keep-alive for accepted connections ([`ListenConfig::keep_alive`]);
    /// `None` leaves them at the OS default.
    ///
    /// [`ListenConfig::keep_alive`]: crate::net::ListenConfig::keep_alive
    accepted_keep_alive: Option<Duration>,
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("fd", &self.fd.raw())
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

impl TcpListener {
    /// Binds a listener to `addr` (with `SO_REUSEADDR`, as Go does, and a
    /// backlog of 4096). If `addr` resolves to several addresses, each is
    /// tried in turn. Accepted connections keep the OS default of no TCP
    /// keep-alive (like std and tokio); [`ListenConfig`] sets Go's 15 s
    /// keep-alive, `SO_REUSEPORT`, the backlog and buffer sizes.
    ///
    /// [`ListenConfig`]: crate::net::ListenConfig
    ///
    /// ```
    /// # goro::block_on(async {
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// assert_ne!(listener.local_addr()?.port(), 0);
    /// // The same port twice is an error, not a panic.
    /// let err = goro::net::TcpListener::bind(listener.local_addr()?).await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        let mut last = None;
        for a in resolve(addr).await? {
            match TcpListener::bind_one(&a) {
                Ok(l) => return Ok(l),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("resolve returns at least one address"))
    }

    fn bind_one(addr: &SocketAddr) -> io::Result<TcpListener> {
        let sock = socket::socket(socket::domain(addr), libc::SOCK_STREAM)?;
        crate::sys::sockopt::setsockopt_int(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            1,
        )?;
        socket::bind(sock.as_raw_fd(), &SockAddr::from(addr))?;
        socket::listen(sock.as_raw_fd())?;
        Ok(TcpListener::from_parts(Fd::new(sock)?, None))
    }

    /// A listener on a listening socket; `accepted_keep_alive` is applied
    /// to each accepted connection.
    pub(super) fn from_parts(fd: Fd, accepted_keep_alive: Option<Duration>) -> TcpListener {
        TcpListener {
            fd,
            accepted_keep_alive,
        }
    }

    /// Wraps an accepted socket, applying the configured keep-alive.
    fn accepted(&self, fd: OwnedFd) -> io::Result<TcpStream> {
        if let Some(period) = self.accepted_keep_alive {
            // Best effort, as in Go: a connection already reset by its peer
            // may refuse options, and is reported by its first read instead.
            let _ = sockopt::set_keepalive(fd.as_raw_fd(), Some(period));
        }
        Ok(TcpStream::from_fd(Fd::new(fd)?))
    }

    /// Accepts a connection. Errors — including running out of file
    /// descriptors (`EMFILE`) — are returned as they are; [`incoming`]
    /// backs off on those instead. (The connection stays queued, so a loop
    /// that calls `accept` again at once after `EMFILE` spins until a
    /// descriptor frees up: sleep first, or use [`incoming`].)
    ///
    /// [`incoming`]: Self::incoming
    ///
    /// ```
    /// # goro::block_on(async {
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let client = goro::net::TcpStream::connect(listener.local_addr()?).await?;
    /// let (server, peer) = listener.accept().await?;
    /// assert_eq!(peer, client.local_addr()?);
    /// # drop(server);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (fd, addr) = self.fd.op(Direction::Read, accept_retrying).await?;
        Ok((self.accepted(fd)?, addr))
    }

    /// Polls for a connection (the stateless form of [`accept`](Self::accept)).
    ///
    /// ```
    /// # goro::block_on(async {
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let _c = goro::net::TcpStream::connect(listener.local_addr()?).await?;
    /// let (_s, _peer) = std::future::poll_fn(|cx| listener.poll_accept(cx)).await?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let (fd, addr) = ready!(self.fd.poll_io(cx, Direction::Read, accept_retrying))?;
        Poll::Ready(self.accepted(fd).map(|stream| (stream, addr)))
    }

    /// A stream of accepted connections, for `while let Some(conn) =
    /// incoming.next().await` loops. It ends (yields `None`, and keeps
    /// yielding `None`) once the listener is [closed](Self::close) — from
    /// this task or another — so an accept loop that skips errors stops
    /// instead of spinning. It also ends once the listener's runtime has
    /// shut down, after yielding that error ("goro runtime is shut down")
    /// once.
    ///
    /// When the process runs out of descriptors or memory (`EMFILE`,
    /// `ENFILE`, `ENOBUFS`, `ENOMEM`) it waits 5 ms, doubling up to 1 s,
    /// and tries again — as Go's HTTP server does — so a server keeps
    /// serving the connections it has and recovers when descriptors free
    /// up. Other errors (such as an expired [deadline](Self::set_deadline))
    /// are yielded as `Some(Err(_))` and the stream goes on.
    ///
    /// [`Incoming::next`] works without importing anything;
    /// `futures::StreamExt` combinators work too.
    ///
    /// ```
    /// # goro::block_on(async {
    /// use std::sync::Arc;
    /// let listener = Arc::new(goro::net::TcpListener::bind("127.0.0.1:0").await?);
    /// let addr = listener.local_addr()?;
    /// let server = {
    ///     let listener = listener.clone();
    ///     goro::spawn(async move {
    ///         let mut served = 0;
    ///         let mut incoming = listener.incoming();
    ///         while let Some(conn) = incoming.next().await {
    ///             let Ok(conn) = conn else { continue };
    ///             conn.write_all(b"hi").await.ok();
    ///             served += 1;
    ///         }
    ///         served // the loop ended: the listener was closed
    ///     })
    /// };
    /// let client = goro::net::TcpStream::connect(addr).await?;
    /// client.read_exact(&mut [0; 2]).await?;
    /// listener.close()?;
    /// assert_eq!(server.await.unwrap(), 1);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming {
            listener: self,
            backoff: AcceptBackoff::default(),
        }
    }

    /// The local address.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// assert!(listener.local_addr()?.ip().is_loopback());
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.with_std(|l: &std::net::TcpListener| l.local_addr())
    }

    /// Sets a deadline for `accept` (Go's `SetDeadline` on a listener):
    /// once it passes, accepts fail with `io::ErrorKind::TimedOut`, and
    /// `incoming()` yields that error, until a new deadline is set.
    ///
    /// - It applies to an `accept` **already waiting**: it fails when the
    ///   new deadline passes (at once if it already has); moving the
    ///   deadline later, or clearing it, lets it keep waiting.
    /// - Once passed, it fails accepts **even if a connection is already queued**.
    /// - `None` clears it.
    ///
    /// ```
    /// # goro::block_on(async {
    /// use std::time::{Duration, Instant};
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// listener.set_deadline(Some(Instant::now() + Duration::from_millis(10)))?;
    /// let err = listener.accept().await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn set_deadline(&self, deadline: Option<Instant>) -> io::Result<()> {
        self.fd.set_deadline(deadline, DeadlineMode::Read)
    }

    /// Sets `IP_TTL`.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// listener.set_ttl(64)?;
    /// assert_eq!(listener.ttl()?, 64);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.fd.with_std(|l: &std::net::TcpListener| l.set_ttl(ttl))
    }

    /// Gets `IP_TTL`.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// assert!(listener.ttl()? > 0);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.fd.with_std(|l: &std::net::TcpListener| l.ttl())
    }

    /// Stops listening (Go's `Listener.Close`): the port is released,
    /// connections queued but not accepted are reset, pending and later
    /// `accept`s fail with `NotConnected`, and [`incoming`](Self::incoming)
    /// streams end (`None`). Closing twice returns `NotConnected`; dropping
    /// closes too.
    ///
    /// ```
    /// # goro::block_on(async {
    /// use std::sync::Arc;
    /// let listener = Arc::new(goro::net::TcpListener::bind("127.0.0.1:0").await?);
    /// let l = listener.clone();
    /// let acceptor = goro::spawn(async move { l.accept().await.map(|_| ()) });
    /// goro::time::sleep(std::time::Duration::from_millis(10)).await;
    /// listener.close()?;
    /// let err = acceptor.await.unwrap().unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotConnected);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn close(&self) -> io::Result<()> {
        self.fd.close()
    }

    /// Wraps a std listener (switched to non-blocking mode).
    ///
    /// ```
    /// # goro::block_on(async {
    /// let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let listener = goro::net::TcpListener::from_std(std_listener)?;
    /// assert!(listener.local_addr().is_ok());
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        Ok(TcpListener::from_parts(
            Fd::new(OwnedFd::from(listener))?,
            None,
        ))
    }

    /// Unwraps into a std listener (still in non-blocking mode).
    ///
    /// ```
    /// # goro::block_on(async {
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let std_listener = listener.into_std()?;
    /// assert!(std_listener.local_addr().is_ok());
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        self.fd.into_owned().map(std::net::TcpListener::from)
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
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let fd = listener.with_fd(|fd| fd.as_raw_fd())?;
    /// assert_eq!(fd, listener.as_raw_fd());
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn with_fd<R>(&self, f: impl FnOnce(BorrowedFd<'_>) -> R) -> io::Result<R> {
        self.fd.with_borrowed(f)
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.raw()
    }
}

/// `accept4`, retrying `ECONNABORTED` (a connection reset while queued,
/// which Go also skips).
fn accept_retrying(fd: RawFd) -> io::Result<(OwnedFd, SocketAddr)> {
    loop {
        match socket::accept(fd) {
            Err(e) if e.raw_os_error() == Some(libc::ECONNABORTED) => continue,
            r => return r,
        }
    }
}

/// Stream returned by [`TcpListener::incoming`]: `Some(Ok(stream))` per
/// connection, `Some(Err(_))` for errors worth reporting, and `None` once
/// the listener is closed. A `futures_core::Stream` (and `FusedStream`).
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
    backoff: AcceptBackoff,
}

impl Incoming<'_> {
    /// The next connection, or `None` once the listener is closed — the
    /// same as `futures::StreamExt::next`, without the import (and with the
    /// same signature, so code written against either compiles with both
    /// in scope).
    ///
    /// ```
    /// # goro::block_on(async {
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let addr = listener.local_addr()?;
    /// goro::spawn(async move { goro::net::TcpStream::connect(addr).await });
    /// let mut incoming = listener.incoming();
    /// let stream = incoming.next().await.expect("listener is open")?;
    /// assert!(stream.peer_addr()?.ip().is_loopback());
    /// listener.close()?;
    /// assert!(incoming.next().await.is_none());
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn next(&mut self) -> Option<io::Result<TcpStream>> {
        std::future::poll_fn(|cx| self.poll_next_stream(cx)).await
    }

    fn poll_next_stream(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<TcpStream>>> {
        let listener = self.listener;
        self.backoff.poll_next(cx, |cx| {
            listener.poll_accept(cx).map_ok(|(stream, _)| stream)
        })
    }
}

impl futures_core::Stream for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_stream(cx)
    }
}

impl futures_core::stream::FusedStream for Incoming<'_> {
    fn is_terminated(&self) -> bool {
        self.backoff.is_ended()
    }
}
