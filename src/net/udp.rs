//! [`UdpSocket`]: a UDP socket on the netpoller.
//!
//! Datagrams keep their boundaries: every receive returns one datagram
//! (truncated to the buffer), and zero-length datagrams are legal, so unlike
//! `TcpStream` no method short-circuits an empty buffer.

use crate::io::fd::Fd;
use crate::net::addr::{ToSocketAddrs, resolve};
use crate::net::socket::{self, SockAddr};
use crate::poller::Direction;
use crate::poller::descriptor::DeadlineMode;
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::task::{Context, Poll};
use std::time::Instant;

/// A UDP socket.
///
/// All methods take `&self`, so one socket can be shared between tasks
/// (for example in an `Arc`): receives are serialised among receivers and
/// sends among senders, as on Go's `net.UDPConn`.
///
/// A socket is used either unconnected, with [`send_to`](Self::send_to)
/// and [`recv_from`](Self::recv_from), or after
/// [`connect`](Self::connect) with [`send`](Self::send) and
/// [`recv`](Self::recv), which only exchange datagrams with that peer.
///
/// Deadlines follow Go: once the read deadline passes, receives fail with
/// `io::ErrorKind::TimedOut` (even if a datagram is queued) until a new
/// deadline is set. [`close`](Self::close) wakes every task blocked on the
/// socket with `io::ErrorKind::NotConnected`.
///
/// ```
/// use goro::net::UdpSocket;
/// # goro::block_on(async {
/// let a = UdpSocket::bind("127.0.0.1:0").await?;
/// let b = UdpSocket::bind("127.0.0.1:0").await?;
/// a.send_to(b"ping", b.local_addr()?).await?;
/// let mut buf = [0; 16];
/// let (n, from) = b.recv_from(&mut buf).await?;
/// assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr()?));
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
pub struct UdpSocket {
    fd: Fd,
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("fd", &self.fd.raw())
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}

impl UdpSocket {
    /// Creates a socket bound to `addr`. If `addr` resolves to several
    /// addresses, each is tried in turn; name lookups run on the blocking
    /// pool. Port 0 picks a free port (see [`local_addr`](Self::local_addr)).
    ///
    /// ```
    /// # goro::block_on(async {
    /// let socket = goro::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// assert_ne!(socket.local_addr()?.port(), 0);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        let mut last = None;
        for a in resolve(addr).await? {
            match UdpSocket::bind_one(&a) {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("resolve returns at least one address"))
    }

    fn bind_one(addr: &SocketAddr) -> io::Result<UdpSocket> {
        let sock = socket::socket(socket::domain(addr), libc::SOCK_DGRAM)?;
        socket::bind(sock.as_raw_fd(), &SockAddr::from(addr))?;
        Ok(UdpSocket { fd: Fd::new(sock)? })
    }

    /// Sets the socket's default destination and limits receives to
    /// datagrams from it. Each resolved address is tried in turn (a UDP
    /// connect sends nothing; it fails only for an address the socket
    /// cannot reach, such as one of the other IP family).
    ///
    /// ```
    /// # goro::block_on(async {
    /// use goro::net::UdpSocket;
    /// let server = UdpSocket::bind("127.0.0.1:0").await?;
    /// let client = UdpSocket::bind("127.0.0.1:0").await?;
    /// client.connect(server.local_addr()?).await?;
    /// assert_eq!(client.peer_addr()?, server.local_addr()?);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        let mut last = None;
        for a in resolve(addr).await? {
            // A datagram connect completes at once: no need to wait.
            match self.fd.with_std(|s: &std::net::UdpSocket| s.connect(a)) {
                Ok(_) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("resolve returns at least one address"))
    }

    /// Sends `buf` as one datagram to the connected peer, returning the
    /// number of bytes sent. An empty `buf` sends an empty datagram.
    ///
    /// ```
    /// # goro::block_on(async {
    /// use goro::net::UdpSocket;
    /// let server = UdpSocket::bind("127.0.0.1:0").await?;
    /// let client = UdpSocket::bind("127.0.0.1:0").await?;
    /// client.connect(server.local_addr()?).await?;
    /// assert_eq!(client.send(b"hello").await?, 5);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.fd.datagram_send(buf).await
    }

    /// Receives one datagram from the connected peer into `buf`, returning
    /// how many bytes were stored. A datagram longer than `buf` is
    /// truncated: the rest is discarded and, as in std and tokio, nothing
    /// reports it (the result is then `buf.len()`; use a buffer of 65,536
    /// bytes to never truncate). A zero-length `buf` consumes a datagram.
    ///
    /// ```
    /// # goro::block_on(async {
    /// use goro::net::UdpSocket;
    /// let a = UdpSocket::bind("127.0.0.1:0").await?;
    /// let b = UdpSocket::bind("127.0.0.1:0").await?;
    /// a.connect(b.local_addr()?).await?;
    /// b.connect(a.local_addr()?).await?;
    /// a.send(b"hi").await?;
    /// let mut buf = [0; 8];
    /// assert_eq!(b.recv(&mut buf).await?, 2);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.fd.datagram_recv(buf, 0).await
    }

    /// Receives the next datagram from the connected peer without removing
    /// it from the queue.
    ///
    /// ```
    /// # goro::block_on(async {
    /// use goro::net::UdpSocket;
    /// let a = UdpSocket::bind("127.0.0.1:0").await?;
    /// let b = UdpSocket::bind("127.0.0.1:0").await?;
    /// a.connect(b.local_addr()?).await?;
    /// b.connect(a.local_addr()?).await?;
    /// a.send(b"hi").await?;
    /// let mut buf = [0; 8];
    /// assert_eq!(b.peek(&mut buf).await?, 2);
    /// assert_eq!(b.recv(&mut buf).await?, 2); // still there
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.fd.datagram_recv(buf, libc::MSG_PEEK).await
    }

    /// Sends `buf` as one datagram to `target`, returning the number of
    /// bytes sent. A name is resolved on the blocking pool and the first
    /// address of the socket's IP family is used (else the first address);
    /// an address that does not parse or resolve is an error.
    ///
    /// ```
    /// # goro::block_on(async {
    /// use goro::net::UdpSocket;
    /// let a = UdpSocket::bind("127.0.0.1:0").await?;
    /// let b = UdpSocket::bind("127.0.0.1:0").await?;
    /// assert_eq!(a.send_to(b"ping", b.local_addr()?).await?, 4);
    /// assert!(a.send_to(b"ping", "not an address").await.is_err());
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], target: A) -> io::Result<usize> {
        let addrs = resolve(target).await?;
        // A name may resolve to both families: prefer the socket's own
        // (asked of the kernel only then, not for every datagram to one
        // address).
        let addr = match &addrs[..] {
            [one] => one,
            _ => {
                let v4 = self.local_addr()?.is_ipv4();
                addrs
                    .iter()
                    .find(|a| a.is_ipv4() == v4)
                    .unwrap_or(&addrs[0])
            }
        };
        let addr = SockAddr::from(addr);
        self.fd.datagram_send_to(buf, &addr).await
    }

    /// Receives one datagram into `buf`, returning how many bytes were
    /// stored and the sender. A datagram longer than `buf` is truncated
    /// silently, as by [`recv`](Self::recv).
    ///
    /// ```
    /// # goro::block_on(async {
    /// use goro::net::UdpSocket;
    /// let a = UdpSocket::bind("127.0.0.1:0").await?;
    /// let b = UdpSocket::bind("127.0.0.1:0").await?;
    /// a.send_to(b"ping", b.local_addr()?).await?;
    /// let mut buf = [0; 16];
    /// let (n, from) = b.recv_from(&mut buf).await?;
    /// assert_eq!((n, from), (4, a.local_addr()?));
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.fd.datagram_recv_from(buf, 0).await
    }

    /// Like [`recv_from`](Self::recv_from), but leaves the datagram queued.
    ///
    /// ```
    /// # goro::block_on(async {
    /// use goro::net::UdpSocket;
    /// let a = UdpSocket::bind("127.0.0.1:0").await?;
    /// let b = UdpSocket::bind("127.0.0.1:0").await?;
    /// a.send_to(b"ping", b.local_addr()?).await?;
    /// let mut buf = [0; 16];
    /// let (n, from) = b.peek_from(&mut buf).await?;
    /// assert_eq!(b.recv_from(&mut buf).await?, (n, from));
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.fd.datagram_recv_from(buf, libc::MSG_PEEK).await
    }

    /// Polls to receive one datagram from the connected peer (the stateless
    /// form of [`recv`](Self::recv), for hand-written futures).
    ///
    /// ```
    /// # goro::block_on(async {
    /// use goro::net::UdpSocket;
    /// let a = UdpSocket::bind("127.0.0.1:0").await?;
    /// let b = UdpSocket::bind("127.0.0.1:0").await?;
    /// a.connect(b.local_addr()?).await?;
    /// b.connect(a.local_addr()?).await?;
    /// a.send(b"x").await?;
    /// let mut buf = [0; 4];
    /// let n = std::future::poll_fn(|cx| b.poll_recv(cx, &mut buf)).await?;
    /// assert_eq!(n, 1);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.fd.poll_datagram_recv(cx, buf)
    }

    /// Polls to send one datagram to the connected peer.
    ///
    /// ```
    /// # goro::block_on(async {
    /// use goro::net::UdpSocket;
    /// let a = UdpSocket::bind("127.0.0.1:0").await?;
    /// a.connect("127.0.0.1:9").await?;
    /// let n = std::future::poll_fn(|cx| a.poll_send(cx, b"x")).await?;
    /// assert_eq!(n, 1);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.fd.poll_datagram_send(cx, buf)
    }

    /// Polls to receive one datagram and its sender.
    ///
    /// ```
    /// # goro::block_on(async {
    /// use goro::net::UdpSocket;
    /// let a = UdpSocket::bind("127.0.0.1:0").await?;
    /// let b = UdpSocket::bind("127.0.0.1:0").await?;
    /// a.send_to(b"x", b.local_addr()?).await?;
    /// let mut buf = [0; 4];
    /// let (n, from) = std::future::poll_fn(|cx| b.poll_recv_from(cx, &mut buf)).await?;
    /// assert_eq!((n, from), (1, a.local_addr()?));
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        self.fd.poll_datagram_recv_from(cx, buf)
    }

    /// Polls to send one datagram to `target` (already an address: polls
    /// cannot wait for a name lookup).
    ///
    /// ```
    /// # goro::block_on(async {
    /// use goro::net::UdpSocket;
    /// let a = UdpSocket::bind("127.0.0.1:0").await?;
    /// let b = UdpSocket::bind("127.0.0.1:0").await?;
    /// let to = b.local_addr()?;
    /// let n = std::future::poll_fn(|cx| a.poll_send_to(cx, b"x", to)).await?;
    /// assert_eq!(n, 1);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        let target = SockAddr::from(&target);
        self.fd.poll_datagram_send_to(cx, buf, &target)
    }

    /// Waits until the socket may be readable (a datagram or an error is
    /// queued). A later receive may still find nothing and wait.
    ///
    /// ```
    /// # goro::block_on(async {
    /// use goro::net::UdpSocket;
    /// let a = UdpSocket::bind("127.0.0.1:0").await?;
    /// let b = UdpSocket::bind("127.0.0.1:0").await?;
    /// a.send_to(b"x", b.local_addr()?).await?;
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
    /// let a = goro::net::UdpSocket::bind("127.0.0.1:0").await?;
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
    /// let a = goro::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// assert!(a.local_addr()?.ip().is_loopback());
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.with_std(|s: &std::net::UdpSocket| s.local_addr())
    }

    /// The connected peer's address (`NotConnected` if not connected).
    ///
    /// ```
    /// # goro::block_on(async {
    /// let a = goro::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// assert!(a.peer_addr().is_err());
    /// a.connect("127.0.0.1:9").await?;
    /// assert_eq!(a.peer_addr()?.port(), 9);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.fd.with_std(|s: &std::net::UdpSocket| s.peer_addr())
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
    /// let a = goro::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// a.set_read_deadline(Some(Instant::now() + Duration::from_millis(10)))?;
    /// let err = a.recv_from(&mut [0; 8]).await.unwrap_err();
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
    /// let a = goro::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// a.set_write_deadline(Some(Instant::now() - Duration::from_secs(1)))?;
    /// let err = a.send_to(b"x", "127.0.0.1:9").await.unwrap_err();
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
    /// let a = goro::net::UdpSocket::bind("127.0.0.1:0").await?;
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
    /// let a = goro::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// a.close()?;
    /// let err = a.recv(&mut [0; 8]).await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotConnected);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn close(&self) -> io::Result<()> {
        self.fd.close()
    }

    /// Sets `SO_BROADCAST` (permission to send to broadcast addresses).
    ///
    /// ```
    /// # goro::block_on(async {
    /// let a = goro::net::UdpSocket::bind("0.0.0.0:0").await?;
    /// a.set_broadcast(true)?;
    /// assert!(a.broadcast()?);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.fd
            .with_std(|s: &std::net::UdpSocket| s.set_broadcast(on))
    }

    /// Gets `SO_BROADCAST`.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let a = goro::net::UdpSocket::bind("0.0.0.0:0").await?;
    /// assert!(!a.broadcast()?);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn broadcast(&self) -> io::Result<bool> {
        self.fd.with_std(|s: &std::net::UdpSocket| s.broadcast())
    }

    /// Sets `IP_TTL` for outgoing unicast datagrams.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let a = goro::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// a.set_ttl(42)?;
    /// assert_eq!(a.ttl()?, 42);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.fd.with_std(|s: &std::net::UdpSocket| s.set_ttl(ttl))
    }

    /// Gets `IP_TTL`.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let a = goro::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// assert!(a.ttl()? > 0);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.fd.with_std(|s: &std::net::UdpSocket| s.ttl())
    }

    /// Sets `IP_MULTICAST_LOOP` (whether IPv4 multicast sent from this
    /// socket is looped back to local listeners).
    ///
    /// ```
    /// # goro::block_on(async {
    /// let a = goro::net::UdpSocket::bind("0.0.0.0:0").await?;
    /// a.set_multicast_loop_v4(false)?;
    /// assert!(!a.multicast_loop_v4()?);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.fd
            .with_std(|s: &std::net::UdpSocket| s.set_multicast_loop_v4(on))
    }

    /// Gets `IP_MULTICAST_LOOP`.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let a = goro::net::UdpSocket::bind("0.0.0.0:0").await?;
    /// assert!(a.multicast_loop_v4()?);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        self.fd
            .with_std(|s: &std::net::UdpSocket| s.multicast_loop_v4())
    }

    /// Sets `IP_MULTICAST_TTL` for outgoing IPv4 multicast.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let a = goro::net::UdpSocket::bind("0.0.0.0:0").await?;
    /// a.set_multicast_ttl_v4(4)?;
    /// assert_eq!(a.multicast_ttl_v4()?, 4);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        self.fd
            .with_std(|s: &std::net::UdpSocket| s.set_multicast_ttl_v4(ttl))
    }

    /// Gets `IP_MULTICAST_TTL`.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let a = goro::net::UdpSocket::bind("0.0.0.0:0").await?;
    /// assert_eq!(a.multicast_ttl_v4()?, 1);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        self.fd
            .with_std(|s: &std::net::UdpSocket| s.multicast_ttl_v4())
    }

    /// Sets `IPV6_MULTICAST_LOOP` (on an IPv6 socket).
    ///
    /// ```no_run
    /// # goro::block_on(async {
    /// let a = goro::net::UdpSocket::bind("[::]:0").await?;
    /// a.set_multicast_loop_v6(false)?;
    /// assert!(!a.multicast_loop_v6()?);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn set_multicast_loop_v6(&self, on: bool) -> io::Result<()> {
        self.fd
            .with_std(|s: &std::net::UdpSocket| s.set_multicast_loop_v6(on))
    }

    /// Gets `IPV6_MULTICAST_LOOP`.
    ///
    /// ```no_run
    /// # goro::block_on(async {
    /// let a = goro::net::UdpSocket::bind("[::]:0").await?;
    /// assert!(a.multicast_loop_v6()?);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn multicast_loop_v6(&self) -> io::Result<bool> {
        self.fd
            .with_std(|s: &std::net::UdpSocket| s.multicast_loop_v6())
    }

    /// Joins the IPv4 multicast group `group` on the interface with address
    /// `interface` (`Ipv4Addr::UNSPECIFIED` lets the kernel choose).
    ///
    /// ```no_run
    /// # goro::block_on(async {
    /// use std::net::Ipv4Addr;
    /// let a = goro::net::UdpSocket::bind("0.0.0.0:5353").await?;
    /// a.join_multicast_v4(Ipv4Addr::new(224, 0, 0, 251), Ipv4Addr::UNSPECIFIED)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn join_multicast_v4(&self, group: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.fd
            .with_std(|s: &std::net::UdpSocket| s.join_multicast_v4(&group, &interface))
    }

    /// Leaves an IPv4 multicast group joined with
    /// [`join_multicast_v4`](Self::join_multicast_v4).
    ///
    /// ```no_run
    /// # goro::block_on(async {
    /// use std::net::Ipv4Addr;
    /// let a = goro::net::UdpSocket::bind("0.0.0.0:5353").await?;
    /// let group = Ipv4Addr::new(224, 0, 0, 251);
    /// a.join_multicast_v4(group, Ipv4Addr::UNSPECIFIED)?;
    /// a.leave_multicast_v4(group, Ipv4Addr::UNSPECIFIED)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn leave_multicast_v4(&self, group: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.fd
            .with_std(|s: &std::net::UdpSocket| s.leave_multicast_v4(&group, &interface))
    }

    /// Joins the IPv6 multicast group `group` on interface index
    /// `interface` (0 lets the kernel choose).
    ///
    /// ```no_run
    /// # goro::block_on(async {
    /// let a = goro::net::UdpSocket::bind("[::]:5353").await?;
    /// a.join_multicast_v6(&"ff02::fb".parse().unwrap(), 0)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn join_multicast_v6(&self, group: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.fd
            .with_std(|s: &std::net::UdpSocket| s.join_multicast_v6(group, interface))
    }

    /// Leaves an IPv6 multicast group joined with
    /// [`join_multicast_v6`](Self::join_multicast_v6).
    ///
    /// ```no_run
    /// # goro::block_on(async {
    /// let a = goro::net::UdpSocket::bind("[::]:5353").await?;
    /// let group = "ff02::fb".parse().unwrap();
    /// a.join_multicast_v6(&group, 0)?;
    /// a.leave_multicast_v6(&group, 0)?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn leave_multicast_v6(&self, group: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.fd
            .with_std(|s: &std::net::UdpSocket| s.leave_multicast_v6(group, interface))
    }

    /// Takes the socket's pending error (`SO_ERROR`), if any — for example
    /// `ConnectionRefused` after a datagram to a closed port.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let a = goro::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// assert!(a.take_error()?.is_none());
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.fd.with_std(|s: &std::net::UdpSocket| s.take_error())
    }

    /// Wraps a std socket (switched to non-blocking mode).
    ///
    /// ```
    /// # goro::block_on(async {
    /// let std_socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let addr = std_socket.local_addr()?;
    /// let socket = goro::net::UdpSocket::from_std(std_socket)?;
    /// assert_eq!(socket.local_addr()?, addr);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        Ok(UdpSocket {
            fd: Fd::new(OwnedFd::from(socket))?,
        })
    }

    /// Unwraps into a std socket (still in non-blocking mode). Fails with
    /// `NotConnected` if the socket was closed.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let socket = goro::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// let addr = socket.local_addr()?;
    /// let std_socket = socket.into_std()?;
    /// assert_eq!(std_socket.local_addr()?, addr);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        self.fd.into_owned().map(std::net::UdpSocket::from)
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
    /// let socket = goro::net::UdpSocket::bind("127.0.0.1:0").await?;
    /// let fd = socket.with_fd(|fd| fd.as_raw_fd())?;
    /// assert_eq!(fd, socket.as_raw_fd());
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn with_fd<R>(&self, f: impl FnOnce(BorrowedFd<'_>) -> R) -> io::Result<R> {
        self.fd.with_borrowed(f)
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.raw()
    }
}
