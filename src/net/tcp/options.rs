//! TCP keep-alive and buffer sizes: [`SocketOptions`], the part of a
//! [`Dialer`](crate::net::Dialer) and a
//! [`ListenConfig`](crate::net::ListenConfig) they share (set on a fresh
//! socket before `connect`/`listen`), and the same options on an open
//! [`TcpStream`]. Each stream method runs with a reference held on the fd,
//! so a concurrent `close` cannot release it mid-call.

use super::stream::TcpStream;
use crate::net::sockopt;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

/// The options a `Dialer` and a `ListenConfig` share: keep-alive for the
/// connections they make and the buffer sizes of their socket. A listening
/// socket's buffer sizes are inherited by every connection it accepts.
#[derive(Debug, Clone, Copy)]
pub(super) struct SocketOptions {
    /// Keep-alive period of each connection; `None` leaves the OS default.
    pub(super) keep_alive: Option<Duration>,
    /// `SO_SNDBUF`, if set.
    pub(super) send_buffer_size: Option<usize>,
    /// `SO_RCVBUF`, if set.
    pub(super) recv_buffer_size: Option<usize>,
}

impl SocketOptions {
    /// Go's defaults: keep-alive every 15 s, the OS's buffer sizes.
    pub(super) fn new() -> SocketOptions {
        SocketOptions {
            keep_alive: Some(sockopt::DEFAULT_KEEP_ALIVE),
            send_buffer_size: None,
            recv_buffer_size: None,
        }
    }

    /// Sets the buffer sizes chosen on the fresh socket `raw`, before
    /// `connect` or `listen` so they take part in the handshake (window
    /// scaling).
    pub(super) fn apply_buffer_sizes(&self, raw: RawFd) -> io::Result<()> {
        if let Some(size) = self.send_buffer_size {
            sockopt::set_send_buffer_size(raw, size)?;
        }
        if let Some(size) = self.recv_buffer_size {
            sockopt::set_recv_buffer_size(raw, size)?;
        }
        Ok(())
    }
}

impl TcpStream {
    /// Sets TCP keep-alive: `Some(period)` enables it with `period`
    /// (rounded up to whole seconds, at least 1) as both the idle time
    /// before the first probe and the interval between probes, as Go's
    /// `SetKeepAlivePeriod` does; `None` disables it. A connection whose
    /// peer stopped answering then fails after about ten unanswered
    /// probes (the kernel's `tcp_keepalive_probes`).
    ///
    /// Streams from [`TcpStream::connect`] and [`TcpListener::bind`]
    /// start with keep-alive off (the OS default); those from a
    /// [`Dialer`] or [`ListenConfig`] start with 15 s, as in Go.
    ///
    /// [`TcpListener::bind`]: crate::net::TcpListener::bind
    /// [`Dialer`]: crate::net::Dialer
    /// [`ListenConfig`]: crate::net::ListenConfig
    ///
    /// ```
    /// # goro::block_on(async {
    /// use std::time::Duration;
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = goro::net::TcpStream::connect(listener.local_addr()?).await?;
    /// assert_eq!(stream.keepalive()?, None);
    /// stream.set_keepalive(Some(Duration::from_secs(20)))?;
    /// assert_eq!(stream.keepalive()?, Some(Duration::from_secs(20)));
    /// stream.set_keepalive(None)?;
    /// assert_eq!(stream.keepalive()?, None);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn set_keepalive(&self, period: Option<Duration>) -> io::Result<()> {
        self.fd
            .with_std(|s: &std::net::TcpStream| sockopt::set_keepalive(s.as_raw_fd(), period))
    }

    /// The keep-alive idle time if keep-alive is on (`SO_KEEPALIVE` and
    /// `TCP_KEEPIDLE`), else `None`.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = goro::net::Dialer::new().connect(listener.local_addr()?).await?;
    /// assert_eq!(stream.keepalive()?, Some(std::time::Duration::from_secs(15)));
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn keepalive(&self) -> io::Result<Option<Duration>> {
        self.fd
            .with_std(|s: &std::net::TcpStream| sockopt::keepalive(s.as_raw_fd()))
    }

    /// Sets `SO_SNDBUF`. The kernel doubles the value (for bookkeeping)
    /// and caps it at `net.core.wmem_max`; zero is `InvalidInput`.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = goro::net::TcpStream::connect(listener.local_addr()?).await?;
    /// stream.set_send_buffer_size(32 * 1024)?;
    /// assert!(stream.send_buffer_size()? >= 32 * 1024);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn set_send_buffer_size(&self, bytes: usize) -> io::Result<()> {
        self.fd
            .with_std(|s: &std::net::TcpStream| sockopt::set_send_buffer_size(s.as_raw_fd(), bytes))
    }

    /// Gets `SO_SNDBUF` (as the kernel reports it: twice what was set).
    ///
    /// ```
    /// # goro::block_on(async {
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = goro::net::TcpStream::connect(listener.local_addr()?).await?;
    /// assert!(stream.send_buffer_size()? > 0);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn send_buffer_size(&self) -> io::Result<usize> {
        self.fd
            .with_std(|s: &std::net::TcpStream| sockopt::send_buffer_size(s.as_raw_fd()))
    }

    /// Sets `SO_RCVBUF` (doubled and capped at `net.core.rmem_max`). Set
    /// after the handshake it cannot raise the window scale negotiated
    /// then; use [`Dialer::recv_buffer_size`](crate::net::Dialer::recv_buffer_size)
    /// or [`ListenConfig::recv_buffer_size`](crate::net::ListenConfig::recv_buffer_size)
    /// for large buffers.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = goro::net::TcpStream::connect(listener.local_addr()?).await?;
    /// stream.set_recv_buffer_size(32 * 1024)?;
    /// assert!(stream.recv_buffer_size()? >= 32 * 1024);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn set_recv_buffer_size(&self, bytes: usize) -> io::Result<()> {
        self.fd
            .with_std(|s: &std::net::TcpStream| sockopt::set_recv_buffer_size(s.as_raw_fd(), bytes))
    }

    /// Gets `SO_RCVBUF` (as the kernel reports it: twice what was set).
    ///
    /// ```
    /// # goro::block_on(async {
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = goro::net::TcpStream::connect(listener.local_addr()?).await?;
    /// assert!(stream.recv_buffer_size()? > 0);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn recv_buffer_size(&self) -> io::Result<usize> {
        self.fd
            .with_std(|s: &std::net::TcpStream| sockopt::recv_buffer_size(s.as_raw_fd()))
    }
}
