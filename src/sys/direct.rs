//! The per-message socket syscalls, made directly.
//!
//! glibc's `recv` and `send` (and `recvfrom`, `sendto`, `sendmsg`,
//! `readv`) are POSIX cancellation points: around the syscall, each
//! switches the thread to asynchronous cancellation and back, two atomic
//! read-modify-writes on the thread's cancel state. goro never
//! cancels threads (Rust has no use for `pthread_cancel`), so the receive
//! and send of every message pay four locked instructions for nothing.
//! These make the same syscalls (`recv` and `send` are `recvfrom` and
//! `sendto` with no address, as in glibc; also `sendmsg` for gathered
//! writes and `readv` for scattered reads) through `syscall(2)`, which is
//! not a cancellation point. Results follow the C convention, as the
//! libc functions' do: `-1` with the reason in `errno`.
//!
//! One consequence: tools that interpose on these libc functions with
//! `LD_PRELOAD` (socket tracers, user-space network stacks) do not see
//! goro's socket reads and writes.

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
    // SAFETY: the caller vouches for `buf`; null address arguments are
    // what `recv` passes to `recvfrom`.
    unsafe { recvfrom(fd, buf, len, flags, ptr::null_mut(), ptr::null_mut()) }
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
    unsafe { sendto(fd, buf, len, flags, ptr::null(), 0) }
}

/// `recvfrom(fd, buf, len, flags, addr, addrlen)`.
///
/// # Safety
///
/// `buf` must be valid for writes of `len` bytes; `addr` and `addrlen`
/// null, or `*addrlen` the size of the writable buffer at `addr`.
pub(crate) unsafe fn recvfrom(
    fd: libc::c_int,
    buf: *mut libc::c_void,
    len: usize,
    flags: libc::c_int,
    addr: *mut libc::sockaddr,
    addrlen: *mut libc::socklen_t,
) -> libc::ssize_t {
    // SAFETY: the caller's contract is `recvfrom(2)`'s. Integer arguments
    // are widened to full words, as the kernel's syscall ABI expects.
    unsafe {
        libc::syscall(
            libc::SYS_recvfrom,
            libc::c_long::from(fd),
            buf,
            len,
            libc::c_long::from(flags),
            addr,
            addrlen,
        ) as libc::ssize_t
    }
}

/// `sendto(fd, buf, len, flags, addr, addrlen)`.
///
/// # Safety
///
/// `buf` must be valid for reads of `len` bytes; `addr` null with
/// `addrlen` 0, or a valid address of `addrlen` bytes.
pub(crate) unsafe fn sendto(
    fd: libc::c_int,
    buf: *const libc::c_void,
    len: usize,
    flags: libc::c_int,
    addr: *const libc::sockaddr,
    addrlen: libc::socklen_t,
) -> libc::ssize_t {
    // SAFETY: the caller's contract is `sendto(2)`'s.
    unsafe {
        libc::syscall(
            libc::SYS_sendto,
            libc::c_long::from(fd),
            buf,
            len,
            libc::c_long::from(flags),
            addr,
            addrlen as libc::c_long,
        ) as libc::ssize_t
    }
}

/// `sendmsg(fd, msg, flags)`.
///
/// # Safety
///
/// `msg` must be a valid `msghdr` whose buffers are valid for reads.
pub(crate) unsafe fn sendmsg(
    fd: libc::c_int,
    msg: *const libc::msghdr,
    flags: libc::c_int,
) -> libc::ssize_t {
    // SAFETY: the caller's contract is `sendmsg(2)`'s.
    unsafe {
        libc::syscall(
            libc::SYS_sendmsg,
            libc::c_long::from(fd),
            msg,
            libc::c_long::from(flags),
        ) as libc::ssize_t
    }
}

/// `readv(fd, iov, iovcnt)`.
///
/// # Safety
///
/// `iov` must point to `iovcnt` valid `iovec`s, each valid for writes.
pub(crate) unsafe fn readv(
    fd: libc::c_int,
    iov: *const libc::iovec,
    iovcnt: libc::c_int,
) -> libc::ssize_t {
    // SAFETY: the caller's contract is `readv(2)`'s.
    unsafe {
        libc::syscall(
            libc::SYS_readv,
            libc::c_long::from(fd),
            iov,
            libc::c_long::from(iovcnt),
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

    /// `127.0.0.1:port` as a `sockaddr_in`.
    fn loopback(port: u16) -> libc::sockaddr_in {
        // SAFETY: all-zero is a valid sockaddr_in.
        let mut sin: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        sin.sin_family = libc::AF_INET as libc::sa_family_t;
        sin.sin_port = port.to_be();
        sin.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
        sin
    }

    #[test]
    fn sendto_and_recvfrom_carry_addresses() {
        let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = loopback(b.local_addr().unwrap().port());
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        // SAFETY: the buffer and the address are valid for reads.
        let n = unsafe {
            sendto(
                a.as_raw_fd(),
                b"dgram".as_ptr().cast(),
                5,
                0,
                (&to as *const libc::sockaddr_in).cast(),
                len,
            )
        };
        assert_eq!(n, 5);
        let mut buf = [0u8; 16];
        let mut from = loopback(0);
        let mut from_len = len;
        // SAFETY: the buffer and the address buffer are valid for writes.
        let n = unsafe {
            recvfrom(
                b.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                0,
                (&mut from as *mut libc::sockaddr_in).cast(),
                &mut from_len,
            )
        };
        assert_eq!(&buf[..n as usize], b"dgram");
        assert_eq!(from_len, len);
        assert_eq!(u16::from_be(from.sin_port), a.local_addr().unwrap().port());
    }

    #[test]
    fn sendmsg_gathers_and_readv_scatters() {
        let (a, b) = UnixStream::pair().unwrap();
        let parts = [std::io::IoSlice::new(b"ab"), std::io::IoSlice::new(b"cde")];
        // SAFETY: all-zero is a valid msghdr.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = parts.as_ptr() as *mut libc::iovec;
        msg.msg_iovlen = parts.len() as _;
        // SAFETY: `msg` points to two valid slices.
        let n = unsafe { sendmsg(a.as_raw_fd(), &msg, 0) };
        assert_eq!(n, 5);
        let (mut x, mut y) = ([0u8; 3], [0u8; 8]);
        let mut bufs = [
            std::io::IoSliceMut::new(&mut x),
            std::io::IoSliceMut::new(&mut y),
        ];
        // SAFETY: IoSliceMut is ABI-compatible with iovec; both are writable.
        let n = unsafe { readv(b.as_raw_fd(), bufs.as_mut_ptr() as *const libc::iovec, 2) };
        assert_eq!(n, 5);
        assert_eq!(&x, b"abc");
        assert_eq!(&y[..2], b"de");
    }
}
