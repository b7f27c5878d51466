//! [`TcpStream`]: a TCP connection.

use crate::io::fd::Fd;
use crate::net::addr::{ToSocketAddrs, resolve};
use crate::net::socket::{self, SockAddr};
use crate::poller::Direction;
use crate::poller::descriptor::DeadlineMode;
use crate::sys::cvt;
use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// A TCP connection.
///
/// All I/O methods take `&self`, so one stream can be shared between tasks
/// (for example in an `Arc`): concurrent reads are serialised among readers
/// and concurrent writes among writers, as Go's `net.Conn` does, so two
/// `write_all`s never interleave their bytes. `futures_io::AsyncRead` and
/// `AsyncWrite` are implemented for both `TcpStream` and `&TcpStream`.
///
/// Deadlines follow Go: [`set_read_deadline`](Self::set_read_deadline)
/// makes reads fail with `io::ErrorKind::TimedOut` once it passes (even if
/// data is buffered) until a new deadline is set. [`close`](Self::close)
/// wakes every task blocked on the stream with `io::ErrorKind::NotConnected`.
///
/// ```no_run
/// # goro::block_on(async {
/// let stream = goro::net::TcpStream::connect("127.0.0.1:8080").await?;
/// stream.write_all(b"ping").await?;
/// let mut buf = [0; 4];
/// stream.read_exact(&mut buf).await?;
/// # Ok::<(), std::io::Error>(()) });
/// ```
pub struct TcpStream {
    pub(super) fd: Fd,
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("fd", &self.fd.raw())
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}

impl TcpStream {
    pub(crate) fn from_fd(fd: Fd) -> TcpStream {
        TcpStream {
            fd: fd.with_short_reads_draining(),
        }
    }

    /// Connects to `addr`, trying each resolved address in turn. Name
    /// lookups run on the blocking pool. The connect itself is
    /// non-blocking: the socket is registered with the poller, `connect`
    /// returns `EINPROGRESS`, the task waits for writability and then reads
    /// `SO_ERROR` (as Go does).
    ///
    /// This is std's and tokio's `connect`: no timeout beyond the kernel's
    /// (minutes), no TCP keep-alive (the OS default), `TCP_NODELAY` off.
    /// For Go's `net.Dial` behaviour — a timeout or deadline, a local
    /// address, keep-alive every 15 s by default, buffer sizes — use a
    /// [`Dialer`](crate::net::Dialer).
    ///
    /// ```
    /// # async fn pair() -> std::io::Result<(goro::net::TcpStream, goro::net::TcpStream)> {
    /// #     let l = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// #     let c = goro::net::TcpStream::connect(l.local_addr()?).await?;
    /// #     Ok((c, l.accept().await?.0))
    /// # }
    /// # goro::block_on(async {
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = goro::net::TcpStream::connect(listener.local_addr()?).await?;
    /// assert_eq!(stream.peer_addr()?, listener.local_addr()?);
    /// // Refused connections are errors, not panics.
    /// let closed = { let l = std::net::TcpListener::bind("127.0.0.1:0")?; l.local_addr()? };
    /// let err = goro::net::TcpStream::connect(closed).await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        let mut last = None;
        for a in resolve(addr).await? {
            match TcpStream::connect_one(&a).await {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("resolve returns at least one address"))
    }

    async fn connect_one(addr: &SocketAddr) -> io::Result<TcpStream> {
        let sock = socket::socket(socket::domain(addr), libc::SOCK_STREAM)?;
        let fd = Fd::new(sock)?;
        if !socket::start_connect(fd.raw(), &SockAddr::from(addr))? {
            fd.await_connect().await?;
        }
        Ok(TcpStream::from_fd(fd))
    }

    /// Reads into `buf`, returning how many bytes were read (0 at end of
    /// stream, or if `buf` is empty — unless the stream was closed: then,
    /// like every read, it fails).
    ///
    /// ```
    /// # async fn pair() -> std::io::Result<(goro::net::TcpStream, goro::net::TcpStream)> {
    /// #     let l = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// #     let c = goro::net::TcpStream::connect(l.local_addr()?).await?;
    /// #     Ok((c, l.accept().await?.0))
    /// # }
    /// # goro::block_on(async {
    /// let (a, b) = pair().await?;
    /// a.write_all(b"hi").await?;
    /// let mut buf = [0; 8];
    /// let n = b.read(&mut buf).await?;
    /// assert_eq!(&buf[..n], b"hi");
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
    /// # async fn pair() -> std::io::Result<(goro::net::TcpStream, goro::net::TcpStream)> {
    /// #     let l = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// #     let c = goro::net::TcpStream::connect(l.local_addr()?).await?;
    /// #     Ok((c, l.accept().await?.0))
    /// # }
    /// # goro::block_on(async {
    /// let (a, b) = pair().await?;
    /// a.write_all(b"hello").await?;
    /// let mut buf = [0; 5];
    /// b.read_exact(&mut buf).await?;
    /// assert_eq!(&buf, b"hello");
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn read_exact(&self, buf: &mut [u8]) -> io::Result<()> {
        self.fd.stream_read_exact(buf).await
    }

    /// Reads into `buf` without removing the data from the socket.
    ///
    /// ```
    /// # async fn pair() -> std::io::Result<(goro::net::TcpStream, goro::net::TcpStream)> {
    /// #     let l = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// #     let c = goro::net::TcpStream::connect(l.local_addr()?).await?;
    /// #     Ok((c, l.accept().await?.0))
    /// # }
    /// # goro::block_on(async {
    /// let (a, b) = pair().await?;
    /// a.write_all(b"x").await?;
    /// let mut buf = [0; 1];
    /// b.peek(&mut buf).await?;
    /// b.read_exact(&mut buf).await?; // still there
    /// assert_eq!(&buf, b"x");
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.fd.stream_peek(buf).await
    }

    /// Writes some of `buf`, returning how many bytes were written.
    ///
    /// ```
    /// # async fn pair() -> std::io::Result<(goro::net::TcpStream, goro::net::TcpStream)> {
    /// #     let l = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// #     let c = goro::net::TcpStream::connect(l.local_addr()?).await?;
    /// #     Ok((c, l.accept().await?.0))
    /// # }
    /// # goro::block_on(async {
    /// let (a, b) = pair().await?;
    /// let n = a.write(b"abc").await?;
    /// assert!(n >= 1);
    /// let mut buf = [0; 3];
    /// b.read_exact(&mut buf[..n]).await?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        self.fd.stream_write(buf).await
    }

    /// Writes all of `buf`, holding the write lock throughout so another
    /// writer's bytes never land in the middle (Go's `fd.Write`).
    ///
    /// Not cancel-safe: if it fails or its future is dropped part-way, an
    /// unknown prefix of `buf` has been sent.
    ///
    /// ```
    /// # async fn pair() -> std::io::Result<(goro::net::TcpStream, goro::net::TcpStream)> {
    /// #     let l = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// #     let c = goro::net::TcpStream::connect(l.local_addr()?).await?;
    /// #     Ok((c, l.accept().await?.0))
    /// # }
    /// # goro::block_on(async {
    /// use std::sync::Arc;
    /// let (a, b) = pair().await?;
    /// let a = Arc::new(a);
    /// // Two writers: each 64 KiB block arrives whole.
    /// let w1 = { let a = a.clone(); goro::spawn(async move { a.write_all(&[1; 65536]).await }) };
    /// let w2 = { let a = a.clone(); goro::spawn(async move { a.write_all(&[2; 65536]).await }) };
    /// let mut block = vec![0; 65536];
    /// for _ in 0..2 {
    ///     b.read_exact(&mut block).await?;
    ///     assert!(block.iter().all(|&x| x == block[0]));
    /// }
    /// w1.await.unwrap()?;
    /// w2.await.unwrap()?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        self.fd.stream_write_all(buf).await
    }

    /// Waits until the stream may be readable (a read may still return
    /// `WouldBlock`-free data or EOF).
    ///
    /// ```
    /// # async fn pair() -> std::io::Result<(goro::net::TcpStream, goro::net::TcpStream)> {
    /// #     let l = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// #     let c = goro::net::TcpStream::connect(l.local_addr()?).await?;
    /// #     Ok((c, l.accept().await?.0))
    /// # }
    /// # goro::block_on(async {
    /// let (a, b) = pair().await?;
    /// a.write_all(b"!").await?;
    /// b.readable().await?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn readable(&self) -> io::Result<()> {
        self.fd.ready(Direction::Read).await
    }

    /// Waits until the stream may be writable.
    ///
    /// ```
    /// # async fn pair() -> std::io::Result<(goro::net::TcpStream, goro::net::TcpStream)> {
    /// #     let l = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// #     let c = goro::net::TcpStream::connect(l.local_addr()?).await?;
    /// #     Ok((c, l.accept().await?.0))
    /// # }
    /// # goro::block_on(async {
    /// let (a, _b) = pair().await?;
    /// a.writable().await?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn writable(&self) -> io::Result<()> {
        self.fd.ready(Direction::Write).await
    }

    /// Shuts down the read half, the write half, or both.
    ///
    /// ```
    /// # async fn pair() -> std::io::Result<(goro::net::TcpStream, goro::net::TcpStream)> {
    /// #     let l = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// #     let c = goro::net::TcpStream::connect(l.local_addr()?).await?;
    /// #     Ok((c, l.accept().await?.0))
    /// # }
    /// # goro::block_on(async {
    /// let (a, b) = pair().await?;
    /// a.shutdown(std::net::Shutdown::Write)?;
    /// assert_eq!(b.read(&mut [0; 4]).await?, 0); // end of stream
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.fd.with_std(|s: &std::net::TcpStream| s.shutdown(how))
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
    /// # async fn pair() -> std::io::Result<(goro::net::TcpStream, goro::net::TcpStream)> {
    /// #     let l = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// #     let c = goro::net::TcpStream::connect(l.local_addr()?).await?;
    /// #     Ok((c, l.accept().await?.0))
    /// # }
    /// # goro::block_on(async {
    /// use std::sync::Arc;
    /// let (a, _b) = pair().await?;
    /// let a = Arc::new(a);
    /// let reader = { let a = a.clone(); goro::spawn(async move { a.read(&mut [0; 4]).await }) };
    /// goro::time::sleep(std::time::Duration::from_millis(10)).await;
    /// a.close()?;
    /// let err = reader.await.unwrap().unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotConnected);
    /// assert!(a.close().is_err()); // closing twice reports it
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    ///
    /// Half-closing with the trait method instead: the peer sees end of
    /// stream and can still answer.
    ///
    /// ```
    /// # async fn pair() -> std::io::Result<(goro::net::TcpStream, goro::net::TcpStream)> {
    /// #     let l = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// #     let c = goro::net::TcpStream::connect(l.local_addr()?).await?;
    /// #     Ok((c, l.accept().await?.0))
    /// # }
    /// # goro::block_on(async {
    /// use futures::io::{AsyncReadExt, AsyncWriteExt};
    /// let (mut client, mut server) = pair().await?;
    /// client.write_all(b"request").await?;
    /// AsyncWriteExt::close(&mut client).await?; // = shutdown(Shutdown::Write)
    /// let mut req = Vec::new();
    /// server.read_to_end(&mut req).await?; // ends: the client's side is shut
    /// server.write_all(b"reply").await?;
    /// let mut reply = [0; 5];
    /// client.read_exact(&mut reply).await?; // the client still reads
    /// assert_eq!((&req[..], &reply), (&b"request"[..], b"reply"));
    /// client.close()?; // now release the socket
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
    /// # async fn pair() -> std::io::Result<(goro::net::TcpStream, goro::net::TcpStream)> {
    /// #     let l = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// #     let c = goro::net::TcpStream::connect(l.local_addr()?).await?;
    /// #     Ok((c, l.accept().await?.0))
    /// # }
    /// # goro::block_on(async {
    /// use std::time::{Duration, Instant};
    /// let (_a, b) = pair().await?;
    /// b.set_read_deadline(Some(Instant::now() + Duration::from_millis(20)))?;
    /// let err = b.read(&mut [0; 4]).await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// b.set_read_deadline(None)?; // cleared: reads wait again
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
    /// # async fn pair() -> std::io::Result<(goro::net::TcpStream, goro::net::TcpStream)> {
    /// #     let l = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// #     let c = goro::net::TcpStream::connect(l.local_addr()?).await?;
    /// #     Ok((c, l.accept().await?.0))
    /// # }
    /// # goro::block_on(async {
    /// use std::time::Instant;
    /// let (a, _b) = pair().await?;
    /// a.set_write_deadline(Some(Instant::now()))?; // already passed
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
    /// # async fn pair() -> std::io::Result<(goro::net::TcpStream, goro::net::TcpStream)> {
    /// #     let l = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// #     let c = goro::net::TcpStream::connect(l.local_addr()?).await?;
    /// #     Ok((c, l.accept().await?.0))
    /// # }
    /// # goro::block_on(async {
    /// use std::time::{Duration, Instant};
    /// let (a, _b) = pair().await?;
    /// a.set_deadline(Some(Instant::now() + Duration::from_secs(30)))?;
    /// a.write_all(b"ok").await?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn set_deadline(&self, deadline: Option<Instant>) -> io::Result<()> {
        self.fd.set_deadline(deadline, DeadlineMode::Both)
    }

    /// The remote address.
    ///
    /// ```
    /// # async fn pair() -> std::io::Result<(goro::net::TcpStream, goro::net::TcpStream)> {
    /// #     let l = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// #     let c = goro::net::TcpStream::connect(l.local_addr()?).await?;
    /// #     Ok((c, l.accept().await?.0))
    /// # }
    /// # goro::block_on(async {
    /// let (a, b) = pair().await?;
    /// assert_eq!(a.peer_addr()?, b.local_addr()?);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.fd.with_std(|s: &std::net::TcpStream| s.peer_addr())
    }

    /// The local address.
    ///
    /// ```
    /// # async fn pair() -> std::io::Result<(goro::net::TcpStream, goro::net::TcpStream)> {
    /// #     let l = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// #     let c = goro::net::TcpStream::connect(l.local_addr()?).await?;
    /// #     Ok((c, l.accept().await?.0))
    /// # }
    /// # goro::block_on(async {
    /// let (a, _b) = pair().await?;
    /// assert!(a.local_addr()?.ip().is_loopback());
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.with_std(|s: &std::net::TcpStream| s.local_addr())
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm).
    ///
    /// ```
    /// # async fn pair() -> std::io::Result<(goro::net::TcpStream, goro::net::TcpStream)> {
    /// #     let l = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// #     let c = goro::net::TcpStream::connect(l.local_addr()?).await?;
    /// #     Ok((c, l.accept().await?.0))
    /// # }
    /// # goro::block_on(async {
    /// let (a, _b) = pair().await?;
    /// a.set_nodelay(true)?;
    /// assert!(a.nodelay()?);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.fd
            .with_std(|s: &std::net::TcpStream| s.set_nodelay(on))
    }

    /// Gets `TCP_NODELAY`.
    ///
    /// ```
    /// # async fn pair() -> std::io::Result<(goro::net::TcpStream, goro::net::TcpStream)> {
    /// #     let l = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// #     let c = goro::net::TcpStream::connect(l.local_addr()?).await?;
    /// #     Ok((c, l.accept().await?.0))
    /// # }
    /// # goro::block_on(async {
    /// let (a, _b) = pair().await?;
    /// let _ = a.nodelay()?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.fd.with_std(|s: &std::net::TcpStream| s.nodelay())
    }

    /// Sets `IP_TTL`.
    ///
    /// ```
    /// # async fn pair() -> std::io::Result<(goro::net::TcpStream, goro::net::TcpStream)> {
    /// #     let l = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// #     let c = goro::net::TcpStream::connect(l.local_addr()?).await?;
    /// #     Ok((c, l.accept().await?.0))
    /// # }
    /// # goro::block_on(async {
    /// let (a, _b) = pair().await?;
    /// a.set_ttl(42)?;
    /// assert_eq!(a.ttl()?, 42);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.fd.with_std(|s: &std::net::TcpStream| s.set_ttl(ttl))
    }

    /// Gets `IP_TTL`.
    ///
    /// ```
    /// # async fn pair() -> std::io::Result<(goro::net::TcpStream, goro::net::TcpStream)> {
    /// #     let l = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// #     let c = goro::net::TcpStream::connect(l.local_addr()?).await?;
    /// #     Ok((c, l.accept().await?.0))
    /// # }
    /// # goro::block_on(async {
    /// let (a, _b) = pair().await?;
    /// assert!(a.ttl()? > 0);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.fd.with_std(|s: &std::net::TcpStream| s.ttl())
    }

    /// Sets `SO_LINGER` (`None` disables it). The kernel takes whole
    /// seconds: the duration is truncated, as std does, so `Some` of less
    /// than a second is `Some(0)` — close then resets the connection (RST)
    /// and discards unsent data instead of lingering.
    ///
    /// ```
    /// # async fn pair() -> std::io::Result<(goro::net::TcpStream, goro::net::TcpStream)> {
    /// #     let l = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// #     let c = goro::net::TcpStream::connect(l.local_addr()?).await?;
    /// #     Ok((c, l.accept().await?.0))
    /// # }
    /// # goro::block_on(async {
    /// let (a, _b) = pair().await?;
    /// a.set_linger(Some(std::time::Duration::ZERO))?; // reset on close
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        let l = libc::linger {
            l_onoff: linger.is_some() as i32,
            l_linger: linger.map_or(0, |d| d.as_secs().min(i32::MAX as u64) as i32),
        };
        self.fd.with_std(|s: &std::net::TcpStream| {
            // SAFETY: passes a pointer to a live linger struct and its size.
            cvt(unsafe {
                libc::setsockopt(
                    s.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    (&l as *const libc::linger).cast(),
                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                )
            })?;
            Ok(())
        })
    }

    /// Takes the socket's pending error (`SO_ERROR`), if any.
    ///
    /// ```
    /// # async fn pair() -> std::io::Result<(goro::net::TcpStream, goro::net::TcpStream)> {
    /// #     let l = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// #     let c = goro::net::TcpStream::connect(l.local_addr()?).await?;
    /// #     Ok((c, l.accept().await?.0))
    /// # }
    /// # goro::block_on(async {
    /// let (a, _b) = pair().await?;
    /// assert!(a.take_error()?.is_none());
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.fd.with_std(|s: &std::net::TcpStream| s.take_error())
    }

    /// Wraps a connected std stream (switched to non-blocking mode).
    ///
    /// ```
    /// # async fn pair() -> std::io::Result<(goro::net::TcpStream, goro::net::TcpStream)> {
    /// #     let l = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// #     let c = goro::net::TcpStream::connect(l.local_addr()?).await?;
    /// #     Ok((c, l.accept().await?.0))
    /// # }
    /// # goro::block_on(async {
    /// let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let std_stream = std::net::TcpStream::connect(l.local_addr()?)?;
    /// let stream = goro::net::TcpStream::from_std(std_stream)?;
    /// stream.write_all(b"from std").await?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        Ok(TcpStream::from_fd(Fd::new(OwnedFd::from(stream))?))
    }

    /// Unwraps into a std stream (still in non-blocking mode).
    ///
    /// ```
    /// # async fn pair() -> std::io::Result<(goro::net::TcpStream, goro::net::TcpStream)> {
    /// #     let l = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// #     let c = goro::net::TcpStream::connect(l.local_addr()?).await?;
    /// #     Ok((c, l.accept().await?.0))
    /// # }
    /// # goro::block_on(async {
    /// let (a, _b) = pair().await?;
    /// let std_stream = a.into_std()?;
    /// std_stream.set_nonblocking(false)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        self.fd.into_owned().map(std::net::TcpStream::from)
    }

    /// Runs `f` with the socket's fd borrowed — Go's
    /// `SyscallConn().Control(f)` — for socket options and calls goro has
    /// no method for, e.g. with socket2: `stream.with_fd(|fd|
    /// socket2::SockRef::from(&fd).set_tcp_user_timeout(..))`.
    ///
    /// goro's sockets do not implement `AsFd`: [`close`](Self::close)
    /// takes `&self`, so a `BorrowedFd` handed out by `as_fd` could outlive
    /// the fd. Here the fd cannot be closed while `f` runs (a concurrent
    /// `close` waits for it to return, as for any in-flight operation).
    /// Leave the fd in non-blocking mode and registered as it is; take
    /// ownership with [`into_std`](Self::into_std) instead. Fails with
    /// `NotConnected` once the socket is closed.
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// # async fn pair() -> std::io::Result<(goro::net::TcpStream, goro::net::TcpStream)> {
    /// #     let l = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// #     let c = goro::net::TcpStream::connect(l.local_addr()?).await?;
    /// #     Ok((c, l.accept().await?.0))
    /// # }
    /// # goro::block_on(async {
    /// let (stream, _peer) = pair().await?;
    /// // A socket option goro has no setter for: TCP_USER_TIMEOUT.
    /// let ms: libc::c_int = 5_000;
    /// let set = stream.with_fd(|fd| {
    ///     // SAFETY: an int option of the right size on an open socket.
    ///     unsafe {
    ///         libc::setsockopt(
    ///             fd.as_raw_fd(),
    ///             libc::IPPROTO_TCP,
    ///             libc::TCP_USER_TIMEOUT,
    ///             (&ms as *const libc::c_int).cast(),
    ///             std::mem::size_of::<libc::c_int>() as libc::socklen_t,
    ///         )
    ///     }
    /// })?;
    /// assert_eq!(set, 0);
    /// stream.close()?;
    /// // Closed: no fd to lend.
    /// assert_eq!(stream.with_fd(|_| ()).unwrap_err().kind(), std::io::ErrorKind::NotConnected);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn with_fd<R>(&self, f: impl FnOnce(BorrowedFd<'_>) -> R) -> io::Result<R> {
        self.fd.with_borrowed(f)
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.raw()
    }
}

crate::net::stream::impl_stream_traits!(TcpStream);
