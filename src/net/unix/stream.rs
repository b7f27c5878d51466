//! [`UnixStream`]: a Unix-domain stream connection.

use crate::io::fd::Fd;
use crate::net::socket::{self, SockAddr};
use crate::poller::Direction;
use crate::poller::descriptor::DeadlineMode;
use crate::time::sleep;
use std::fmt;
use std::io;
use std::net::Shutdown;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

type StdStream = std::os::unix::net::UnixStream;

/// A Unix-domain stream connection.
///
/// The same shape as [`TcpStream`](crate::net::TcpStream): every method
/// takes `&self`, concurrent reads are serialised among readers and writes
/// among writers, `futures_io::AsyncRead`/`AsyncWrite` are implemented for
/// both `UnixStream` and `&UnixStream`, deadlines follow Go (an expired
/// deadline fails operations with `io::ErrorKind::TimedOut`), and
/// [`close`](Self::close) wakes blocked tasks with
/// `io::ErrorKind::NotConnected`.
///
/// ```
/// # goro::block_on(async {
/// let (a, b) = goro::net::UnixStream::pair()?;
/// a.write_all(b"ping").await?;
/// let mut buf = [0; 4];
/// b.read_exact(&mut buf).await?;
/// assert_eq!(&buf, b"ping");
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
pub struct UnixStream {
    fd: Fd,
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("fd", &self.fd.raw())
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}

impl UnixStream {
    pub(crate) fn from_fd(fd: Fd) -> UnixStream {
        UnixStream { fd }
    }

    /// Connects to the socket bound at `path`.
    ///
    /// The connect is non-blocking. If the listener's backlog is full,
    /// Linux refuses at once with `EAGAIN` and no readiness event announces
    /// room; like a blocking `connect`, this then keeps retrying (after
    /// 1 ms, doubling up to 100 ms) until the listener accepts — wrap it in
    /// [`goro::time::timeout`](crate::time::timeout) to bound the wait.
    /// If the runtime shuts down meanwhile, it fails with the runtime's
    /// shut-down error. A path nobody listens on fails with `NotFound` or
    /// `ConnectionRefused`; a path with a NUL byte or over 107 bytes with
    /// `InvalidInput`.
    ///
    /// ```
    /// # goro::block_on(async {
    /// use goro::net::{UnixListener, UnixStream};
    /// let path = std::env::temp_dir().join(format!("goro-doc-connect-{}.sock", std::process::id()));
    /// let listener = UnixListener::bind(&path)?;
    /// let client = UnixStream::connect(&path).await?;
    /// let (server, _) = listener.accept().await?;
    /// client.write_all(b"hi").await?;
    /// let mut buf = [0; 2];
    /// server.read_exact(&mut buf).await?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        let addr = SockAddr::from_path(path.as_ref())?;
        UnixStream::connect_raw(&addr).await
    }

    /// Connects to `addr` (a pathname or, on Linux, an abstract address);
    /// otherwise as [`connect`](Self::connect).
    ///
    /// ```
    /// # goro::block_on(async {
    /// use goro::net::{UnixListener, UnixStream};
    /// use std::os::linux::net::SocketAddrExt;
    /// use std::os::unix::net::SocketAddr;
    /// let addr = SocketAddr::from_abstract_name(format!("goro-doc-{}", std::process::id()))?;
    /// let listener = UnixListener::bind_addr(&addr)?;
    /// let client = UnixStream::connect_addr(&addr).await?;
    /// # drop((listener, client));
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn connect_addr(addr: &SocketAddr) -> io::Result<UnixStream> {
        let addr = SockAddr::from_unix(addr)?;
        UnixStream::connect_raw(&addr).await
    }

    async fn connect_raw(addr: &SockAddr) -> io::Result<UnixStream> {
        let sock = socket::socket(libc::AF_UNIX, libc::SOCK_STREAM)?;
        let fd = Fd::new(sock)?;
        let mut delay = Duration::ZERO;
        loop {
            // The retries below sleep; once the fd's runtime has shut down
            // (sleeps then end at once, or run on another runtime) nothing
            // could use the connection: stop instead of retrying forever.
            fd.check_runtime()?;
            match socket::start_connect(fd.raw(), addr) {
                Ok(true) => break,
                Ok(false) => {
                    fd.await_connect().await?;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    delay = crate::net::backoff::next_delay(
                        delay,
                        Duration::from_millis(1),
                        Duration::from_millis(100),
                    );
                    sleep(delay).await;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(UnixStream { fd })
    }

    /// Creates a connected pair of streams (`socketpair`).
    ///
    /// ```
    /// # goro::block_on(async {
    /// let (a, b) = goro::net::UnixStream::pair()?;
    /// a.write_all(b"x").await?;
    /// assert_eq!(b.read(&mut [0; 4]).await?, 1);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = socket::socketpair(libc::SOCK_STREAM)?;
        Ok((
            UnixStream { fd: Fd::new(a)? },
            UnixStream { fd: Fd::new(b)? },
        ))
    }

    /// Reads into `buf`, returning how many bytes were read (0 at end of
    /// stream, or if `buf` is empty — unless the stream was closed: then,
    /// like every read, it fails).
    ///
    /// ```
    /// # goro::block_on(async {
    /// let (a, b) = goro::net::UnixStream::pair()?;
    /// a.write_all(b"abc").await?;
    /// let mut buf = [0; 8];
    /// assert_eq!(b.read(&mut buf).await?, 3);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.fd.stream_read(buf).await
    }

    /// Reads exactly `buf.len()` bytes, holding the read lock throughout so
    /// no other reader takes bytes from the middle. Fails with
    /// `UnexpectedEof` if the stream ends first.
    ///
    /// Not cancel-safe (as std's and tokio's `read_exact`): if it fails
    /// (end of stream, an expired deadline) or its future is dropped (say
    /// by a [`timeout`](crate::time::timeout)) after some bytes arrived,
    /// those bytes are consumed and lost. [`read`](Self::read) is
    /// cancel-safe: it takes bytes only in the poll that returns them.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let (a, b) = goro::net::UnixStream::pair()?;
    /// a.write_all(b"abcd").await?;
    /// let mut buf = [0; 4];
    /// b.read_exact(&mut buf).await?;
    /// assert_eq!(&buf, b"abcd");
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn read_exact(&self, buf: &mut [u8]) -> io::Result<()> {
        self.fd.stream_read_exact(buf).await
    }

    /// Reads into `buf` without removing the data from the socket.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let (a, b) = goro::net::UnixStream::pair()?;
    /// a.write_all(b"abc").await?;
    /// let mut buf = [0; 8];
    /// assert_eq!(b.peek(&mut buf).await?, 3);
    /// assert_eq!(b.read(&mut buf).await?, 3); // still there
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.fd.stream_peek(buf).await
    }

    /// Writes some of `buf`, returning how many bytes were written.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let (a, _b) = goro::net::UnixStream::pair()?;
    /// assert_eq!(a.write(b"abc").await?, 3);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        self.fd.stream_write(buf).await
    }

    /// Writes all of `buf`, holding the write lock throughout so another
    /// writer's bytes never land in the middle.
    ///
    /// Not cancel-safe: if it fails or its future is dropped part-way, an
    /// unknown prefix of `buf` has been sent.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let (a, b) = goro::net::UnixStream::pair()?;
    /// a.write_all(b"hello").await?;
    /// let mut buf = [0; 5];
    /// b.read_exact(&mut buf).await?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        self.fd.stream_write_all(buf).await
    }

    /// Waits until the stream may be readable (data or end of stream).
    ///
    /// ```
    /// # goro::block_on(async {
    /// let (a, b) = goro::net::UnixStream::pair()?;
    /// a.write_all(b"x").await?;
    /// b.readable().await?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn readable(&self) -> io::Result<()> {
        self.fd.ready(Direction::Read).await
    }

    /// Waits until the stream may be writable.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let (a, _b) = goro::net::UnixStream::pair()?;
    /// a.writable().await?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn writable(&self) -> io::Result<()> {
        self.fd.ready(Direction::Write).await
    }

    /// Shuts down the read half, the write half, or both.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let (a, b) = goro::net::UnixStream::pair()?;
    /// a.shutdown(std::net::Shutdown::Write)?;
    /// assert_eq!(b.read(&mut [0; 4]).await?, 0); // end of stream
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.fd.with_std(|s: &StdStream| s.shutdown(how))
    }

    /// Closes the connection now (Go's `Conn.Close`). Tasks blocked on it
    /// wake with `NotConnected` ("use of closed network connection"), as
    /// do later calls; unread data is discarded; the fd itself is closed
    /// once the last in-flight operation has let go of it. Closing twice
    /// returns that error; dropping the last owner closes too.
    ///
    /// **Not the same as `AsyncWriteExt::close`.** The futures-io trait
    /// method (`futures::io::AsyncWriteExt::close(&mut stream).await`, also
    /// what `futures::io::copy` and codecs call at the end) only **shuts
    /// down the write side** — [`shutdown(Shutdown::Write)`](Self::shutdown):
    /// the peer reads end of stream after the bytes already written, and
    /// this side can still read the reply. (goro sockets do not buffer
    /// writes, so there is nothing to flush.) Which to call:
    ///
    /// - done sending but expecting an answer: `shutdown(Shutdown::Write)`
    ///   (or `AsyncWriteExt::close`), then read to the end;
    /// - done with the connection, or to unblock tasks stuck on it from
    ///   another task: `close()` (or drop it).
    ///
    /// With `AsyncWriteExt` in scope, `stream.close()` still calls this
    /// inherent method; spell the trait's out as above.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let (a, _b) = goro::net::UnixStream::pair()?;
    /// a.close()?;
    /// let err = a.write(b"x").await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotConnected);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn close(&self) -> io::Result<()> {
        self.fd.close()
    }

    /// Sets the read deadline (Go's `SetReadDeadline`): the instant after
    /// which reads (`read`, `read_exact`, `peek`, `readable`, `AsyncRead`) fail with `io::ErrorKind::TimedOut` ("i/o timeout").
    ///
    /// - It applies to operations **already waiting**: a task blocked in one
    ///   fails when the new deadline passes (at once if it already has),
    ///   and moving the deadline later, or clearing it, lets it keep
    ///   waiting.
    /// - Once passed, it fails them **even if data is already buffered**, and keeps
    ///   failing them until a new deadline is set. It is not a per-call
    ///   timeout: for an idle timeout, push it forward before each call.
    /// - `None` clears it: they wait as long as they need.
    ///
    /// ```
    /// # goro::block_on(async {
    /// use std::time::{Duration, Instant};
    /// let (a, _b) = goro::net::UnixStream::pair()?;
    /// a.set_read_deadline(Some(Instant::now() + Duration::from_millis(10)))?;
    /// let err = a.read(&mut [0; 4]).await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn set_read_deadline(&self, deadline: Option<Instant>) -> io::Result<()> {
        self.fd.set_deadline(deadline, DeadlineMode::Read)
    }

    /// Sets the write deadline (Go's `SetWriteDeadline`): the instant after
    /// which writes (`write`, `write_all`, `writable`, `AsyncWrite`) fail with `io::ErrorKind::TimedOut` ("i/o timeout").
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
    /// let (a, _b) = goro::net::UnixStream::pair()?;
    /// a.set_write_deadline(Some(Instant::now() - Duration::from_secs(1)))?;
    /// let err = a.write(b"x").await.unwrap_err();
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
    /// passed, operations fail with `TimedOut` even if data is buffered or there is room to write, until a
    /// new deadline is set; `None` clears both.
    ///
    /// ```
    /// # goro::block_on(async {
    /// use std::time::{Duration, Instant};
    /// let (a, _b) = goro::net::UnixStream::pair()?;
    /// a.set_deadline(Some(Instant::now() + Duration::from_secs(5)))?;
    /// a.set_deadline(None)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn set_deadline(&self, deadline: Option<Instant>) -> io::Result<()> {
        self.fd.set_deadline(deadline, DeadlineMode::Both)
    }

    /// The address of the other end (unnamed for a client that did not
    /// bind, or for [`pair`](Self::pair)).
    ///
    /// ```
    /// # goro::block_on(async {
    /// let (a, _b) = goro::net::UnixStream::pair()?;
    /// assert!(a.peer_addr()?.is_unnamed());
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.fd.with_std(|s: &StdStream| s.peer_addr())
    }

    /// The local address.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let (a, _b) = goro::net::UnixStream::pair()?;
    /// assert!(a.local_addr()?.is_unnamed());
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.with_std(|s: &StdStream| s.local_addr())
    }

    /// Takes the socket's pending error (`SO_ERROR`), if any.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let (a, _b) = goro::net::UnixStream::pair()?;
    /// assert!(a.take_error()?.is_none());
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.fd.with_std(|s: &StdStream| s.take_error())
    }

    /// Wraps a connected std stream (switched to non-blocking mode).
    ///
    /// ```
    /// # goro::block_on(async {
    /// let (a, mut b) = std::os::unix::net::UnixStream::pair()?;
    /// let a = goro::net::UnixStream::from_std(a)?;
    /// std::io::Write::write_all(&mut b, b"x")?;
    /// assert_eq!(a.read(&mut [0; 4]).await?, 1);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn from_std(stream: StdStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        Ok(UnixStream {
            fd: Fd::new(OwnedFd::from(stream))?,
        })
    }

    /// Unwraps into a std stream (still in non-blocking mode). Fails with
    /// `NotConnected` if the stream was closed.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let (a, _b) = goro::net::UnixStream::pair()?;
    /// let a: std::os::unix::net::UnixStream = a.into_std()?;
    /// assert!(a.peer_addr()?.is_unnamed());
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn into_std(self) -> io::Result<StdStream> {
        self.fd.into_owned().map(StdStream::from)
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
    /// let (a, _b) = goro::net::UnixStream::pair()?;
    /// let fd = a.with_fd(|fd| fd.as_raw_fd())?;
    /// assert_eq!(fd, a.as_raw_fd());
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn with_fd<R>(&self, f: impl FnOnce(BorrowedFd<'_>) -> R) -> io::Result<R> {
        self.fd.with_borrowed(f)
    }
}

impl AsRawFd for UnixStream {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.raw()
    }
}

crate::net::stream::impl_stream_traits!(UnixStream);
