//! [`Dialer`]: Go's `net.Dialer` — connecting with a timeout or deadline,
//! from a chosen local address, with keep-alive and buffer sizes set on the
//! socket before `connect`.
//!
//! Invariant: every option is applied to the fresh socket before the
//! `connect` syscall, so buffer sizes take part in the TCP handshake
//! (window scaling) and a bound local address is the one the peer sees.

use super::options::SocketOptions;
use super::stream::TcpStream;
use crate::io::fd::Fd;
use crate::net::addr::{ToSocketAddrs, resolve};
use crate::net::socket::{self, SockAddr};
use crate::net::sockopt;
use crate::poller::descriptor::timeout_error;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// Options for connecting TCP streams (Go's `net.Dialer`).
///
/// Built with chained setters and used with [`connect`](Self::connect);
/// one dialer can make many connections.
///
/// **Keep-alive**: a `Dialer` enables TCP keep-alive with a 15 s period by
/// default, as Go's does (the first probe after 15 s idle, then every
/// 15 s), so a connection to a peer that vanished without closing
/// eventually fails instead of hanging. [`keep_alive(None)`](Self::keep_alive)
/// leaves the socket at the OS default (off). The std-style
/// [`TcpStream::connect`] does **not** enable keep-alive (like std and
/// tokio), so it costs no extra syscalls; use a `Dialer` or
/// [`TcpStream::set_keepalive`] for it.
///
/// **Nagle**: unlike Go, which sets `TCP_NODELAY` on every TCP connection,
/// a `Dialer` leaves it off (Nagle's algorithm on, the OS default, as std
/// and tokio do). A request/response protocol that sends small writes
/// should call [`TcpStream::set_nodelay(true)`](TcpStream::set_nodelay)
/// on the stream, or its small segments may wait for the peer's delayed
/// ACK (tens of milliseconds).
///
/// ```
/// # goro::block_on(async {
/// use goro::net::{Dialer, TcpListener};
/// use std::time::Duration;
///
/// let listener = TcpListener::bind("127.0.0.1:0").await?;
/// let stream = Dialer::new()
///     .timeout(Duration::from_secs(5))
///     .keep_alive(Some(Duration::from_secs(30)))
///     .connect(listener.local_addr()?)
///     .await?;
/// assert_eq!(stream.keepalive()?, Some(Duration::from_secs(30)));
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct Dialer {
    timeout: Option<Duration>,
    deadline: Option<Instant>,
    local_addr: Option<SocketAddr>,
    options: SocketOptions,
}

impl Default for Dialer {
    fn default() -> Dialer {
        Dialer::new()
    }
}

impl Dialer {
    /// A dialer with no timeout or deadline, keep-alive every 15 s, and
    /// the OS's choice of local address and buffer sizes.
    ///
    /// ```
    /// let dialer = goro::net::Dialer::new();
    /// # let _ = dialer;
    /// ```
    pub fn new() -> Dialer {
        Dialer {
            timeout: None,
            deadline: None,
            local_addr: None,
            options: SocketOptions::new(),
        }
    }

    /// The longest a [`connect`](Self::connect) may take, name lookup and
    /// every address tried included; past it, `connect` fails with
    /// `io::ErrorKind::TimedOut` ("i/o timeout"). With a
    /// [`deadline`](Self::deadline) too, the earlier one applies. Without
    /// either, the kernel's own connect timeout (minutes) is the limit.
    ///
    /// As in Go, when a name resolves to several addresses each attempt
    /// gets an equal share of the time left, but at least 2 s of it, so an
    /// address that does not answer (a dead record, an IPv6 route that
    /// drops packets) cannot use up the whole budget before the next is
    /// tried. One difference from Go's `Dialer.Timeout`: `Duration::ZERO`
    /// fails at once (in Go a zero timeout means none: here, do not call
    /// this).
    ///
    /// ```
    /// # goro::block_on(async {
    /// use std::time::Duration;
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let dialer = goro::net::Dialer::new().timeout(Duration::from_secs(2));
    /// let _stream = dialer.connect(listener.local_addr()?).await?;
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Dialer {
        self.timeout = Some(timeout);
        self
    }

    /// An absolute time by which [`connect`](Self::connect) must have
    /// succeeded, else it fails with `io::ErrorKind::TimedOut`. A deadline
    /// already past fails at once, without a syscall.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let err = goro::net::Dialer::new()
    ///     .deadline(std::time::Instant::now())
    ///     .connect("127.0.0.1:9")
    ///     .await
    ///     .unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// # });
    /// ```
    pub fn deadline(mut self, deadline: Instant) -> Dialer {
        self.deadline = Some(deadline);
        self
    }

    /// TCP keep-alive for the new connection: `Some(period)` enables it
    /// with `period` (rounded up to whole seconds) as both the idle time
    /// before the first probe and the interval between probes; `None`
    /// leaves the OS default (off). Default: `Some(15 s)`, as in Go.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = goro::net::Dialer::new()
    ///     .keep_alive(None)
    ///     .connect(listener.local_addr()?)
    ///     .await?;
    /// assert_eq!(stream.keepalive()?, None);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn keep_alive(mut self, period: Option<Duration>) -> Dialer {
        self.options.keep_alive = period;
        self
    }

    /// The local address to connect from (Go's `LocalAddr`): the socket is
    /// bound to it before `connect`. Port 0 lets the kernel pick the port.
    /// Remote addresses of the other IP family are skipped; if none is
    /// left, `connect` fails with `InvalidInput`.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = goro::net::Dialer::new()
    ///     .local_addr("127.0.0.1:0".parse().unwrap())
    ///     .connect(listener.local_addr()?)
    ///     .await?;
    /// assert!(stream.local_addr()?.ip().is_loopback());
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn local_addr(mut self, addr: SocketAddr) -> Dialer {
        self.local_addr = Some(addr);
        self
    }

    /// `SO_SNDBUF` for the new socket, set before `connect`. The kernel
    /// doubles the value (for its bookkeeping) and caps it at
    /// `net.core.wmem_max`; zero makes `connect` fail with `InvalidInput`.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = goro::net::Dialer::new()
    ///     .send_buffer_size(64 * 1024)
    ///     .connect(listener.local_addr()?)
    ///     .await?;
    /// assert!(stream.send_buffer_size()? >= 64 * 1024);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn send_buffer_size(mut self, bytes: usize) -> Dialer {
        self.options.send_buffer_size = Some(bytes);
        self
    }

    /// `SO_RCVBUF` for the new socket, set before `connect` so the window
    /// scale it needs is negotiated. Doubled and capped by the kernel as
    /// for [`send_buffer_size`](Self::send_buffer_size).
    ///
    /// ```
    /// # goro::block_on(async {
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = goro::net::Dialer::new()
    ///     .recv_buffer_size(64 * 1024)
    ///     .connect(listener.local_addr()?)
    ///     .await?;
    /// assert!(stream.recv_buffer_size()? >= 64 * 1024);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub fn recv_buffer_size(mut self, bytes: usize) -> Dialer {
        self.options.recv_buffer_size = Some(bytes);
        self
    }

    /// Connects to `addr` with these options, trying each resolved address
    /// in turn (lookups run on the blocking pool) until one succeeds, all
    /// within the timeout/deadline (shared between the addresses as
    /// [`timeout`](Self::timeout) says). If every address fails, the error
    /// is the first address's, as in Go.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let port = listener.local_addr()?.port();
    /// let stream = goro::net::Dialer::new().connect(("localhost", port)).await?;
    /// assert_eq!(stream.peer_addr()?.port(), port);
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<TcpStream> {
        let deadline = self.effective_deadline();
        if deadline.is_some_and(|d| d <= Instant::now()) {
            return Err(timeout_error());
        }
        let addrs = match deadline {
            None => resolve(addr).await?,
            Some(d) => crate::time::timeout_at(d, resolve(addr))
                .await
                .map_err(|_| timeout_error())??,
        };
        self.connect_in_turn(&addrs, deadline)
            .await
            .map_err(|(_, e)| e)
    }

    /// The earlier of `deadline` and now + `timeout`.
    fn effective_deadline(&self) -> Option<Instant> {
        let from_timeout = self
            .timeout
            .map(|t| crate::time::clock::saturating_add(Instant::now(), t));
        match (from_timeout, self.deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Connects to each of `addrs` in turn until one answers (Go's
    /// `dialSerial`), each attempt ending by its share of the time left
    /// before `deadline` ([`attempt_deadline`]). On failure returns the
    /// first address tried with its error (an address of the other IP
    /// family than [`local_addr`](Self::local_addr) is skipped, and named
    /// only if no address could be tried).
    pub(crate) async fn connect_in_turn(
        &self,
        addrs: &[SocketAddr],
        deadline: Option<Instant>,
    ) -> Result<TcpStream, (SocketAddr, io::Error)> {
        let mut first = None;
        let mut other_family = None;
        // Only the addresses that will be tried share the time (Go filters
        // the list by the local address's family before `dialSerial`).
        let reachable = |a: &SocketAddr| self.local_addr.is_none_or(|l| l.is_ipv4() == a.is_ipv4());
        let mut left = addrs.iter().filter(|a| reachable(a)).count();
        for &a in addrs {
            if let Some(local) = self.local_addr
                && !reachable(&a)
            {
                other_family.get_or_insert_with(|| {
                    let msg = format!("local address {local} cannot reach {a} (other IP family)");
                    (a, io::Error::new(io::ErrorKind::InvalidInput, msg))
                });
                continue;
            }
            // This one and those after it.
            let share_among = left;
            left -= 1;
            let result = match deadline {
                None => self.connect_one(&a).await,
                Some(deadline) => {
                    let until = attempt_deadline(Instant::now(), deadline, share_among);
                    // Dropping a timed-out attempt closes its socket.
                    crate::time::timeout_at(until, self.connect_one(&a))
                        .await
                        .unwrap_or_else(|_| Err(timeout_error()))
                }
            };
            match result {
                Ok(s) => return Ok(s),
                Err(e) => {
                    first.get_or_insert((a, e));
                }
            }
        }
        Err(first.or(other_family).unwrap_or_else(|| {
            let unspecified = SocketAddr::from(([0, 0, 0, 0], 0));
            let e = io::Error::new(io::ErrorKind::InvalidInput, "no address to connect to");
            (unspecified, e)
        }))
    }

    async fn connect_one(&self, addr: &SocketAddr) -> io::Result<TcpStream> {
        let sock = socket::socket(socket::domain(addr), libc::SOCK_STREAM)?;
        let raw = sock.as_raw_fd();
        if let Some(period) = self.options.keep_alive {
            sockopt::set_keepalive(raw, Some(period))?;
        }
        self.options.apply_buffer_sizes(raw)?;
        if let Some(local) = &self.local_addr {
            socket::bind(raw, &SockAddr::from(local))?;
        }
        let fd = Fd::new(sock)?;
        if !socket::start_connect(fd.raw(), &SockAddr::from(addr))? {
            fd.await_connect().await?;
        }
        Ok(TcpStream::from_fd(fd))
    }
}

/// The least time one address's attempt gets while that much is left (Go's
/// `saneMinimum`).
const MIN_ATTEMPT: Duration = Duration::from_secs(2);

/// When the attempt on the first of the `left` addresses still to try
/// gives up (Go's `partialDeadline`): an equal share of the time left
/// before `deadline`, but at least [`MIN_ATTEMPT`] of it, so that one
/// address that hangs cannot use up the whole budget before the others
/// are tried.
fn attempt_deadline(now: Instant, deadline: Instant, left: usize) -> Instant {
    let time_left = deadline.saturating_duration_since(now);
    let share = time_left / u32::try_from(left.max(1)).unwrap_or(u32::MAX);
    now + share.max(MIN_ATTEMPT.min(time_left))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn attempt_deadlines_share_the_time_left() {
        let now = Instant::now();
        let secs = Duration::from_secs;
        // One address gets all of it; two share it; never under 2 s while
        // that much is left, and never past the deadline.
        assert_eq!(attempt_deadline(now, now + secs(30), 1), now + secs(30));
        assert_eq!(attempt_deadline(now, now + secs(30), 2), now + secs(15));
        assert_eq!(attempt_deadline(now, now + secs(3), 4), now + secs(2));
        assert_eq!(
            attempt_deadline(now, now + Duration::from_millis(500), 4),
            now + Duration::from_millis(500)
        );
        assert_eq!(attempt_deadline(now, now, 3), now);
    }
}
