//! TCP keep-alive and buffer-size options on an open [`TcpStream`] (the
//! ones a [`Dialer`](crate::net::Dialer) or
//! [`ListenConfig`](crate::net::ListenConfig) sets up front). Each runs
//! with a reference held on the fd, so a concurrent `close` cannot
//! release it mid-call.

use super::stream::TcpStream;
use crate::net::sockopt;
use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

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
