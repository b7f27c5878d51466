//! [`ListenConfig`]: Go's `net.ListenConfig` — socket options set on a
//! listening socket before `bind`/`listen` (address and port reuse,
//! backlog, buffer sizes) and the keep-alive given to each accepted
//! connection.
//!
//! Invariant: reuse options are set before `bind` (they only matter
//! there); buffer sizes are set on the listening socket, which accepted
//! sockets inherit from, so they apply from the first byte.

use super::listener::TcpListener;
use super::options::SocketOptions;
use crate::io::fd::Fd;
use crate::net::addr::{ToSocketAddrs, resolve};
use crate::net::socket::{self, SockAddr};
use crate::net::sockopt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::Duration;

/// The backlog [`TcpListener::bind`] uses, and [`ListenConfig`]'s default
/// (the kernel caps it at `net.core.somaxconn`).
pub(crate) const DEFAULT_BACKLOG: u32 = 4096;

/// Options for TCP listeners (Go's `net.ListenConfig`).
///
/// Defaults: `SO_REUSEADDR` on (as [`TcpListener::bind`] and Go),
/// `SO_REUSEPORT` off, backlog 4096 (capped by `net.core.somaxconn`), the
/// OS's buffer sizes, and **TCP keep-alive every 15 s on each accepted
/// connection**, as Go's `ListenConfig` does (a client that vanished is
/// eventually detected). [`TcpListener::bind`] leaves accepted
/// connections at the OS default (keep-alive off), like std and tokio.
/// Unlike Go, accepted connections keep `TCP_NODELAY` off (Nagle on, as in
/// std and tokio): call [`TcpStream::set_nodelay`](crate::net::TcpStream::set_nodelay)
/// where small writes must go out at once.
///
/// ```
/// # goro::block_on(async {
/// use goro::net::ListenConfig;
///
/// // Two listeners on one port: the kernel spreads connections over
/// // them (multi-process or multi-runtime scale-out).
/// let config = ListenConfig::new().reuse_port(true).backlog(1024);
/// let a = config.bind("127.0.0.1:0").await?;
/// let b = config.bind(a.local_addr()?).await?;
/// assert_eq!(a.local_addr()?, b.local_addr()?);
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct ListenConfig {
    reuse_address: bool,
    reuse_port: bool,
    backlog: u32,
    options: SocketOptions,
}

impl Default for ListenConfig {
    fn default() -> ListenConfig {
        ListenConfig::new()
    }
}

impl ListenConfig {
    /// The defaults listed on the type.
    ///
    /// ```
    /// let config = goro::net::ListenConfig::new();
    /// # let _ = config;
    /// ```
    pub fn new() -> ListenConfig {
        ListenConfig {
            reuse_address: true,
            reuse_port: false,
            backlog: DEFAULT_BACKLOG,
            options: SocketOptions::new(),
        }
    }

    /// `SO_REUSEPORT`: several sockets (in this process or others, of the
    /// same user) may bind the same address and port, and the kernel
    /// load-balances incoming connections across them. Default off.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let config = goro::net::ListenConfig::new().reuse_port(true);
    /// let a = config.bind("127.0.0.1:0").await?;
    /// let _b = config.bind(a.local_addr()?).await?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn reuse_port(mut self, on: bool) -> ListenConfig {
        self.reuse_port = on;
        self
    }

    /// `SO_REUSEADDR`: bind even while connections of a previous listener
    /// on the port linger in `TIME_WAIT` (so a restarted server does not
    /// fail with `AddrInUse`). Default on, as in Go.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let listener = goro::net::ListenConfig::new()
    ///     .reuse_address(false)
    ///     .bind("127.0.0.1:0")
    ///     .await?;
    /// # drop(listener);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn reuse_address(mut self, on: bool) -> ListenConfig {
        self.reuse_address = on;
        self
    }

    /// The `listen` backlog: how many connections the kernel completes and
    /// queues before they are accepted; past it, new connection attempts
    /// are dropped (clients retry their SYN). The kernel caps it at
    /// `net.core.somaxconn`. Default 4096.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let listener = goro::net::ListenConfig::new().backlog(16).bind("127.0.0.1:0").await?;
    /// # drop(listener);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn backlog(mut self, backlog: u32) -> ListenConfig {
        self.backlog = backlog;
        self
    }

    /// TCP keep-alive for each accepted connection: `Some(period)` enables
    /// it with `period` (rounded up to whole seconds) as idle time and
    /// probe interval; `None` leaves the OS default (off). Default
    /// `Some(15 s)`, as in Go.
    ///
    /// ```
    /// # goro::block_on(async {
    /// use std::time::Duration;
    /// let listener = goro::net::ListenConfig::new()
    ///     .keep_alive(Some(Duration::from_secs(60)))
    ///     .bind("127.0.0.1:0")
    ///     .await?;
    /// let _client = goro::net::TcpStream::connect(listener.local_addr()?).await?;
    /// let (conn, _) = listener.accept().await?;
    /// assert_eq!(conn.keepalive()?, Some(Duration::from_secs(60)));
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn keep_alive(mut self, period: Option<Duration>) -> ListenConfig {
        self.options.keep_alive = period;
        self
    }

    /// `SO_SNDBUF` of the listening socket, inherited by every accepted
    /// connection (doubled and capped by the kernel); zero makes `bind`
    /// fail with `InvalidInput`.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let listener = goro::net::ListenConfig::new()
    ///     .send_buffer_size(256 * 1024)
    ///     .bind("127.0.0.1:0")
    ///     .await?;
    /// # drop(listener);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn send_buffer_size(mut self, bytes: usize) -> ListenConfig {
        self.options.send_buffer_size = Some(bytes);
        self
    }

    /// `SO_RCVBUF` of the listening socket, inherited by every accepted
    /// connection (so its window scale is negotiated in the handshake).
    ///
    /// ```
    /// # goro::block_on(async {
    /// let listener = goro::net::ListenConfig::new()
    ///     .recv_buffer_size(256 * 1024)
    ///     .bind("127.0.0.1:0")
    ///     .await?;
    /// # drop(listener);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn recv_buffer_size(mut self, bytes: usize) -> ListenConfig {
        self.options.recv_buffer_size = Some(bytes);
        self
    }

    /// Creates a listener on `addr` with these options, trying each
    /// resolved address in turn.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let listener = goro::net::ListenConfig::new().bind("127.0.0.1:0").await?;
    /// assert_ne!(listener.local_addr()?.port(), 0);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn bind<A: ToSocketAddrs>(&self, addr: A) -> io::Result<TcpListener> {
        let mut last = None;
        for a in resolve(addr).await? {
            match self.bind_one(&a) {
                Ok(l) => return Ok(l),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("resolve returns at least one address"))
    }

    fn bind_one(&self, addr: &SocketAddr) -> io::Result<TcpListener> {
        let sock = socket::socket(socket::domain(addr), libc::SOCK_STREAM)?;
        let raw = sock.as_raw_fd();
        sockopt::set_reuse_address(raw, self.reuse_address)?;
        if self.reuse_port {
            sockopt::set_reuse_port(raw, true)?;
        }
        self.options.apply_buffer_sizes(raw)?;
        socket::bind(raw, &SockAddr::from(addr))?;
        socket::listen_with_backlog(raw, self.backlog)?;
        Ok(TcpListener::from_parts(
            Fd::new(sock)?,
            self.options.keep_alive,
        ))
    }
}
