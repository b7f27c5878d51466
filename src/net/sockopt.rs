//! Socket options set by [`Dialer`](super::Dialer),
//! [`ListenConfig`](super::ListenConfig) and the `TcpStream` option
//! methods: TCP keep-alive, buffer sizes, `SO_REUSEADDR`/`SO_REUSEPORT`,
//! on top of [`sys::sockopt`](crate::sys::sockopt)'s integer get/set calls. Callers hold
//! the fd open (a fresh socket they own, or `Fd::with_std`).

use crate::sys::sockopt::{getsockopt_int, setsockopt_int};
use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

/// Go's default keep-alive period for `Dialer` and `ListenConfig`: the
/// idle time before the first probe and the interval between probes.
pub(crate) const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Whole seconds for a keep-alive period: rounded up, at least 1, at most
/// what the kernel accepts for `TCP_KEEPIDLE` (32767).
fn keep_alive_secs(period: Duration) -> i32 {
    let secs = period
        .as_secs()
        .saturating_add(u64::from(period.subsec_nanos() > 0));
    secs.clamp(1, 32767) as i32
}

/// Enables TCP keep-alive with `period` as both the idle time and the
/// probe interval (as Go does), or disables it for `None`.
pub(crate) fn set_keepalive(fd: RawFd, period: Option<Duration>) -> io::Result<()> {
    let Some(period) = period else {
        return setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE, 0);
    };
    let secs = keep_alive_secs(period);
    setsockopt_int(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, secs)?;
    setsockopt_int(fd, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, secs)?;
    setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1)
}

/// The keep-alive idle time if keep-alive is on.
pub(crate) fn keepalive(fd: RawFd) -> io::Result<Option<Duration>> {
    if getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE)? == 0 {
        return Ok(None);
    }
    let idle = getsockopt_int(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE)?;
    Ok(Some(Duration::from_secs(idle.max(0) as u64)))
}

/// A buffer size as the kernel's int (it caps it at `wmem_max`/`rmem_max`
/// anyway).
fn size_arg(size: usize) -> io::Result<i32> {
    if size == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "socket buffer size must be greater than zero",
        ));
    }
    Ok(size.min(i32::MAX as usize) as i32)
}

/// Sets `SO_SNDBUF`.
pub(crate) fn set_send_buffer_size(fd: RawFd, size: usize) -> io::Result<()> {
    setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_SNDBUF, size_arg(size)?)
}

/// Sets `SO_RCVBUF`.
pub(crate) fn set_recv_buffer_size(fd: RawFd, size: usize) -> io::Result<()> {
    setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, size_arg(size)?)
}

/// Gets `SO_SNDBUF` (Linux reports twice the size set: it counts its
/// bookkeeping overhead).
pub(crate) fn send_buffer_size(fd: RawFd) -> io::Result<usize> {
    getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_SNDBUF).map(|v| v.max(0) as usize)
}

/// Gets `SO_RCVBUF` (doubled, as for `SO_SNDBUF`).
pub(crate) fn recv_buffer_size(fd: RawFd) -> io::Result<usize> {
    getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF).map(|v| v.max(0) as usize)
}

/// Sets `SO_REUSEADDR`.
pub(crate) fn set_reuse_address(fd: RawFd, on: bool) -> io::Result<()> {
    setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, on as i32)
}

/// Sets `SO_REUSEPORT`.
pub(crate) fn set_reuse_port(fd: RawFd, on: bool) -> io::Result<()> {
    setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_REUSEPORT, on as i32)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn keep_alive_periods_round_up_to_whole_seconds() {
        assert_eq!(keep_alive_secs(Duration::ZERO), 1);
        assert_eq!(keep_alive_secs(Duration::from_millis(1)), 1);
        assert_eq!(keep_alive_secs(Duration::from_millis(1500)), 2);
        assert_eq!(keep_alive_secs(Duration::from_secs(15)), 15);
        assert_eq!(keep_alive_secs(Duration::MAX), 32767);
    }

    #[test]
    fn zero_buffer_size_is_invalid_input() {
        assert_eq!(size_arg(0).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        assert_eq!(size_arg(usize::MAX).unwrap(), i32::MAX);
    }
}
