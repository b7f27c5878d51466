//! Thin helpers for raw OS calls, shared by the poller, `io` and `net`
//! layers; the layer below all three, importing none of them.
//!
//! - this file: [`cvt`] turns the C convention (a negative return, usually
//!   `-1`, with the reason in `errno`) into an `io::Result`, so every
//!   syscall site checks its result the same way;
//! - [`sockopt`]: integer socket options and socket state (pending error,
//!   connected or not);
//! - [`direct`]: `recv` and `send` without glibc's cancellation-point
//!   wrappers (the syscalls of every message);
//! - [`fd_table`]: the process's descriptor table, grown once before the
//!   first runtime's threads start, so accepting a burst of connections
//!   does not wait for the kernel to grow it.

pub(crate) mod direct;
pub(crate) mod fd_table;
pub(crate) mod sockopt;

use std::io;

/// A syscall's return value (an fd, a byte count, `0`…), which is negative
/// (`-1`) on failure.
pub(crate) trait SyscallResult: Copy {
    /// True for the failure value.
    fn is_failure(self) -> bool;
}

impl SyscallResult for libc::c_int {
    fn is_failure(self) -> bool {
        self < 0
    }
}

impl SyscallResult for libc::ssize_t {
    fn is_failure(self) -> bool {
        self < 0
    }
}

/// Converts a syscall's return value to an `io::Result`: failure becomes
/// the thread's `errno` (`io::Error::last_os_error`), anything else is
/// returned as is.
pub(crate) fn cvt<T: SyscallResult>(r: T) -> io::Result<T> {
    if r.is_failure() {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn cvt_maps_failure_to_errno() {
        assert_eq!(cvt(3 as libc::c_int).unwrap(), 3);
        assert_eq!(cvt(7 as libc::ssize_t).unwrap(), 7);
        // SAFETY: closing an fd that is never open makes the call fail with
        // EBADF and has no other effect.
        let e = cvt(unsafe { libc::close(-1) }).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EBADF));
    }
}
