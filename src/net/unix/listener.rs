//! [`UnixListener`] and its [`UnixIncoming`] stream.

use super::stream::UnixStream;
use crate::io::fd::Fd;
use crate::net::backoff::AcceptBackoff;
use crate::net::socket::{self, SockAddr};
use crate::poller::Direction;
use crate::poller::descriptor::DeadlineMode;
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Instant;

type StdListener = std::os::unix::net::UnixListener;

/// A Unix-domain socket server, listening for connections.
///
/// As in Go, a listener created by [`bind`](Self::bind) removes its socket
/// file when it is closed or dropped, so the path can be bound again; one
/// made by [`from_std`](Self::from_std) leaves the file alone.
/// [`set_unlink_on_close`](Self::set_unlink_on_close) changes either.
///
/// ```
/// # goro::block_on(async {
/// use goro::net::{UnixListener, UnixStream};
/// let path = std::env::temp_dir().join(format!("goro-doc-listener-{}.sock", std::process::id()));
/// let listener = UnixListener::bind(&path)?;
/// goro::spawn({
///     let path = path.clone();
///     async move { UnixStream::connect(path).await?.write_all(b"hi").await }
/// });
/// let (stream, _) = listener.accept().await?;
/// let mut buf = [0; 2];
/// stream.read_exact(&mut buf).await?;
/// assert_eq!(&buf, b"hi");
/// drop(listener);
/// assert!(!path.exists());
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
pub struct UnixListener {
    // Field order matters: the fd is closed before the file is removed.
    fd: Fd,
    unlink: Unlink,
}

/// Removes a listener's socket file once, when armed.
struct Unlink {
    path: Option<PathBuf>,
    armed: AtomicBool,
}

impl Unlink {
    fn new(path: Option<PathBuf>, armed: bool) -> Unlink {
        Unlink {
            path,
            armed: AtomicBool::new(armed),
        }
    }

    fn run(&self) {
        if self.armed.swap(false, Ordering::AcqRel)
            && let Some(path) = &self.path
        {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Drop for Unlink {
    fn drop(&mut self) {
        self.run();
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener")
            .field("fd", &self.fd.raw())
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

impl UnixListener {
    /// Binds a listener to `path`. Fails with `AddrInUse` if the file
    /// exists (remove a stale one first), and with `InvalidInput` for a
    /// path with a NUL byte or over 107 bytes. The path is kept as given
    /// for removal on close, so a relative one is resolved against the
    /// working directory at that time.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let path = std::env::temp_dir().join(format!("goro-doc-bind-{}.sock", std::process::id()));
    /// let listener = goro::net::UnixListener::bind(&path)?;
    /// assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        let path = path.as_ref();
        let addr = SockAddr::from_path(path)?;
        let fd = UnixListener::listen(&addr, Some(path))?;
        let named = !path.as_os_str().is_empty();
        Ok(UnixListener {
            fd,
            unlink: Unlink::new(named.then(|| path.to_owned()), named),
        })
    }

    /// Binds a listener to `addr` (a pathname or, on Linux, an abstract
    /// address, which has no file to remove).
    ///
    /// ```
    /// # goro::block_on(async {
    /// use std::os::linux::net::SocketAddrExt;
    /// use std::os::unix::net::SocketAddr;
    /// let addr = SocketAddr::from_abstract_name(format!("goro-doc-bind-{}", std::process::id()))?;
    /// let listener = goro::net::UnixListener::bind_addr(&addr)?;
    /// assert!(listener.local_addr()?.as_abstract_name().is_some());
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixListener> {
        let fd = UnixListener::listen(&SockAddr::from_unix(addr)?, addr.as_pathname())?;
        let path = addr.as_pathname().map(Path::to_owned);
        let named = path.is_some();
        Ok(UnixListener {
            fd,
            unlink: Unlink::new(path, named),
        })
    }

    fn listen(addr: &SockAddr, path: Option<&Path>) -> io::Result<Fd> {
        let sock = socket::socket(libc::AF_UNIX, libc::SOCK_STREAM)?;
        socket::bind_unix(sock, addr, path, |sock| {
            socket::listen(sock.as_raw_fd())?;
            Fd::new(sock)
        })
    }

    /// Accepts a connection. Errors — including running out of file
    /// descriptors (`EMFILE`) — are returned as they are;
    /// [`incoming`](Self::incoming) backs off on those instead (retrying
    /// `accept` at once after `EMFILE` spins). The address is usually
    /// unnamed (clients rarely bind).
    ///
    /// ```
    /// # goro::block_on(async {
    /// use goro::net::{UnixListener, UnixStream};
    /// let path = std::env::temp_dir().join(format!("goro-doc-accept-{}.sock", std::process::id()));
    /// let listener = UnixListener::bind(&path)?;
    /// let _client = UnixStream::connect(&path).await?;
    /// let (_server, addr) = listener.accept().await?;
    /// assert!(addr.is_unnamed());
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (fd, addr) = self.fd.op(Direction::Read, socket::accept).await?;
        Ok((UnixStream::from_fd(Fd::new(fd)?), addr))
    }

    /// Polls for a connection (the stateless form of
    /// [`accept`](Self::accept)).
    ///
    /// ```
    /// # goro::block_on(async {
    /// use goro::net::{UnixListener, UnixStream};
    /// let path = std::env::temp_dir().join(format!("goro-doc-poll-accept-{}.sock", std::process::id()));
    /// let listener = UnixListener::bind(&path)?;
    /// let _client = UnixStream::connect(&path).await?;
    /// let (_server, _) = std::future::poll_fn(|cx| listener.poll_accept(cx)).await?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        let (fd, addr) = ready!(self.fd.poll_io(cx, Direction::Read, socket::accept))?;
        Poll::Ready(Fd::new(fd).map(|fd| (UnixStream::from_fd(fd), addr)))
    }

    /// A stream of accepted connections. When the process
    /// runs out of descriptors or memory (`EMFILE`, `ENFILE`, `ENOBUFS`,
    /// `ENOMEM`) it waits 5 ms, doubling up to 1 s, and tries again (as
    /// [`TcpListener::incoming`](crate::net::TcpListener::incoming) does),
    /// so a server keeps serving the connections it has and recovers when
    /// descriptors free up. Other errors are yielded as `Some(Err(_))`.
    /// The stream ends (`None`, and `None` ever after) once the listener is
    /// [closed](Self::close), so `while let Some(conn) = incoming.next().await`
    /// loops stop; and once the listener's runtime has shut down, after
    /// yielding that error ("goro runtime is shut down") once.
    ///
    /// ```
    /// # goro::block_on(async {
    /// use goro::net::{UnixListener, UnixStream};
    /// let path = std::env::temp_dir().join(format!("goro-doc-incoming-{}.sock", std::process::id()));
    /// let listener = UnixListener::bind(&path)?;
    /// let _client = UnixStream::connect(&path).await?;
    /// let mut incoming = listener.incoming();
    /// let _server: UnixStream = incoming.next().await.expect("open")?;
    /// listener.close()?;
    /// assert!(incoming.next().await.is_none());
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn incoming(&self) -> UnixIncoming<'_> {
        UnixIncoming {
            listener: self,
            backoff: AcceptBackoff::default(),
        }
    }

    /// The local address.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let path = std::env::temp_dir().join(format!("goro-doc-local-{}.sock", std::process::id()));
    /// let listener = goro::net::UnixListener::bind(&path)?;
    /// assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.with_std(|l: &StdListener| l.local_addr())
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
    /// let path = std::env::temp_dir().join(format!("goro-doc-deadline-{}.sock", std::process::id()));
    /// let listener = goro::net::UnixListener::bind(&path)?;
    /// listener.set_deadline(Some(Instant::now() + Duration::from_millis(10)))?;
    /// let err = listener.accept().await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn set_deadline(&self, deadline: Option<Instant>) -> io::Result<()> {
        self.fd.set_deadline(deadline, DeadlineMode::Read)
    }

    /// Chooses whether closing or dropping the listener removes its socket
    /// file (Go's `SetUnlinkOnClose`). Has no effect on a listener without
    /// a pathname address.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let path = std::env::temp_dir().join(format!("goro-doc-unlink-{}.sock", std::process::id()));
    /// let listener = goro::net::UnixListener::bind(&path)?;
    /// listener.set_unlink_on_close(false);
    /// drop(listener);
    /// assert!(path.exists());
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn set_unlink_on_close(&self, unlink: bool) {
        self.unlink.armed.store(unlink, Ordering::Release);
    }

    /// Stops listening (Go's `Listener.Close`). Pending and later
    /// `accept`s fail with `NotConnected`, [`incoming`](Self::incoming)
    /// streams end (`None`), and the socket file is removed (see the type
    /// docs); closing twice returns `NotConnected`.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let path = std::env::temp_dir().join(format!("goro-doc-close-{}.sock", std::process::id()));
    /// let listener = goro::net::UnixListener::bind(&path)?;
    /// listener.close()?;
    /// assert!(!path.exists());
    /// let err = listener.accept().await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotConnected);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn close(&self) -> io::Result<()> {
        self.fd.close()?;
        self.unlink.run();
        Ok(())
    }

    /// Wraps a std listener (switched to non-blocking mode). Its socket
    /// file is not removed on close unless
    /// [`set_unlink_on_close`](Self::set_unlink_on_close) says so.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let path = std::env::temp_dir().join(format!("goro-doc-from-std-{}.sock", std::process::id()));
    /// let listener = goro::net::UnixListener::from_std(std::os::unix::net::UnixListener::bind(&path)?)?;
    /// drop(listener);
    /// assert!(path.exists());
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn from_std(listener: StdListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        let path = listener
            .local_addr()
            .ok()
            .and_then(|a| a.as_pathname().map(Path::to_owned));
        Ok(UnixListener {
            fd: Fd::new(OwnedFd::from(listener))?,
            unlink: Unlink::new(path, false),
        })
    }

    /// Unwraps into a std listener (still in non-blocking mode); the socket
    /// file stays. Fails with `NotConnected` if the listener was closed.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let path = std::env::temp_dir().join(format!("goro-doc-into-std-{}.sock", std::process::id()));
    /// let listener = goro::net::UnixListener::bind(&path)?.into_std()?;
    /// assert!(path.exists());
    /// drop(listener);
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn into_std(self) -> io::Result<StdListener> {
        let UnixListener { fd, unlink } = self;
        unlink.armed.store(false, Ordering::Release);
        fd.into_owned().map(StdListener::from)
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
    /// # let dir = std::env::temp_dir().join(format!("goro-with-fd-doc-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let listener = goro::net::UnixListener::bind(dir.join("sock"))?;
    /// let fd = listener.with_fd(|fd| fd.as_raw_fd())?;
    /// assert_eq!(fd, listener.as_raw_fd());
    /// # drop(listener);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn with_fd<R>(&self, f: impl FnOnce(BorrowedFd<'_>) -> R) -> io::Result<R> {
        self.fd.with_borrowed(f)
    }
}

impl AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.raw()
    }
}

/// Stream returned by [`UnixListener::incoming`]: `Some(Ok(stream))` per
/// connection, `Some(Err(_))` for errors worth reporting, `None` once the
/// listener is closed. A `futures_core::Stream` (and `FusedStream`).
///
/// ```
/// # goro::block_on(async {
/// use goro::net::{UnixIncoming, UnixListener, UnixStream};
/// let path = std::env::temp_dir().join(format!("goro-doc-unix-incoming-{}.sock", std::process::id()));
/// let listener = UnixListener::bind(&path)?;
/// let _client = UnixStream::connect(&path).await?;
/// let mut incoming: UnixIncoming<'_> = listener.incoming();
/// while let Some(conn) = incoming.next().await {
///     let _conn: UnixStream = conn?;
///     listener.close()?; // ends the loop
/// }
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct UnixIncoming<'a> {
    listener: &'a UnixListener,
    backoff: AcceptBackoff,
}

impl UnixIncoming<'_> {
    /// The next connection (with the back-off described on
    /// [`UnixListener::incoming`]), or `None` once the listener is closed —
    /// the same as `futures::StreamExt::next`, without the import.
    ///
    /// ```
    /// # goro::block_on(async {
    /// use goro::net::{UnixListener, UnixStream};
    /// let path = std::env::temp_dir().join(format!("goro-doc-next-{}.sock", std::process::id()));
    /// let listener = UnixListener::bind(&path)?;
    /// let _client = UnixStream::connect(&path).await?;
    /// let _server = listener.incoming().next().await.expect("open")?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn next(&mut self) -> Option<io::Result<UnixStream>> {
        std::future::poll_fn(|cx| self.poll_next_stream(cx)).await
    }

    fn poll_next_stream(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<UnixStream>>> {
        let listener = self.listener;
        self.backoff.poll_next(cx, |cx| {
            listener.poll_accept(cx).map_ok(|(stream, _)| stream)
        })
    }
}

impl futures_core::Stream for UnixIncoming<'_> {
    type Item = io::Result<UnixStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_stream(cx)
    }
}

impl futures_core::stream::FusedStream for UnixIncoming<'_> {
    fn is_terminated(&self) -> bool {
        self.backoff.is_ended()
    }
}
