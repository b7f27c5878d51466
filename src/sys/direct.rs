//! The stream syscalls of the I/O path, made directly.
//!
//! glibc's `recv` and `send` are POSIX cancellation points: around the
//! syscall, each switches the thread to asynchronous cancellation and back,
//! two atomic read-modify-writes on the thread's cancel state. goro never
//! cancels threads (Rust has no use for `pthread_cancel`), so the receive
//! and send of every message pay four locked instructions for nothing.
//! These make the same syscalls (`recvfrom`/`sendto` with no address,
//! which is what glibc's `recv`/`send` issue) through `syscall(2)`, which
//! is not a cancellation point. Results follow the C convention, as the
//! libc functions' do: `-1` with the reason in `errno`.
//!
//! One consequence: tools that interpose on libc's `recv`/`send` with
//! `LD_PRELOAD` (socket tracers, user-space network stacks) do not see
//! goro's stream reads and writes.

use std::ptr;

/// `recv(fd, buf, len, flags)`.
///
/// # Safety
///
/// `buf` must be valid for writes of `len` bytes.
pub(crate) unsafe fn recv(
    fd: libc::c_int,
    buf: *mut libc::c_void,
    len: usize,
    flags: libc::c_int,
) -> libc::ssize_t {
    // SAFETY: the caller vouches for `buf`; the address arguments are null,
    // which `recvfrom` accepts. Every argument is passed as a full word.
    unsafe {
        libc::syscall(
            libc::SYS_recvfrom,
            libc::c_long::from(fd),
            buf,
            len,
            libc::c_long::from(flags),
            ptr::null_mut::<libc::sockaddr>(),
            ptr::null_mut::<libc::socklen_t>(),
        ) as libc::ssize_t
    }
}

/// `send(fd, buf, len, flags)`.
///
/// # Safety
///
/// `buf` must be valid for reads of `len` bytes.
pub(crate) unsafe fn send(
    fd: libc::c_int,
    buf: *const libc::c_void,
    len: usize,
    flags: libc::c_int,
) -> libc::ssize_t {
    // SAFETY: the caller vouches for `buf`; a null address of length 0 is
    // what `send` passes to `sendto`.
    unsafe {
        libc::syscall(
            libc::SYS_sendto,
            libc::c_long::from(fd),
            buf,
            len,
            libc::c_long::from(flags),
            ptr::null::<libc::sockaddr>(),
            0 as libc::c_long,
        ) as libc::ssize_t
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::sys::cvt;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn send_and_recv_move_bytes_and_report_errno() {
        let (a, b) = UnixStream::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        let msg = b"direct";
        // SAFETY: `msg` is valid for reads of its length.
        let n = cvt(unsafe { send(a.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) });
        assert_eq!(n.unwrap(), msg.len() as libc::ssize_t);
        let mut buf = [0u8; 16];
        // SAFETY: `buf` is valid for writes of its length.
        let n = cvt(unsafe { recv(b.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) });
        assert_eq!(&buf[..n.unwrap() as usize], msg);
        // SAFETY: as above.
        let e = cvt(unsafe { recv(b.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) });
        assert_eq!(
            e.unwrap_err().kind(),
            std::io::ErrorKind::WouldBlock,
            "EAGAIN comes back through errno"
        );
        // SAFETY: as above; fd -1 is never open.
        let e = cvt(unsafe { recv(-1, buf.as_mut_ptr().cast(), buf.len(), 0) });
        assert_eq!(e.unwrap_err().raw_os_error(), Some(libc::EBADF));
        // MSG_PEEK passes through `flags`.
        // SAFETY: as above.
        unsafe { send(a.as_raw_fd(), b"x".as_ptr().cast(), 1, 0) };
        // SAFETY: as above.
        let n = unsafe { recv(b.as_raw_fd(), buf.as_mut_ptr().cast(), 1, libc::MSG_PEEK) };
        assert_eq!(n, 1);
        // SAFETY: as above.
        let n = unsafe { recv(b.as_raw_fd(), buf.as_mut_ptr().cast(), 1, 0) };
        assert_eq!(n, 1, "the peeked byte is still there");
    }
}
