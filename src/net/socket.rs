//! Raw socket plumbing: creating non-blocking sockets, converting between
//! `SocketAddr` and `sockaddr`, and the few syscalls std does not expose in
//! non-blocking form (`accept4`, a non-blocking `connect`, `SO_ERROR`),
//! for IP sockets and — with `sockaddr_un` in place of `sockaddr_in` — for
//! Unix-domain ones (`recvfrom`/`sendto` with addresses, `socketpair`).

use std::ffi::OsStr;
use std::io;
use std::mem::{self, MaybeUninit};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::SocketAddr as UnixSocketAddr;
use std::path::Path;

/// Creates a non-blocking, close-on-exec socket.
pub(crate) fn socket(domain: i32, ty: i32) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; the result is checked.
    let fd = unsafe { libc::socket(domain, ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh fd nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The address family of `addr`.
pub(crate) fn domain(addr: &SocketAddr) -> i32 {
    match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    }
}

/// `addr` as a `sockaddr_storage` and its length.
pub(crate) fn to_raw(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all-zero is a valid sockaddr_storage.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin) };
            mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin6) };
            mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

/// Converts a kernel-filled `sockaddr_storage` back to a `SocketAddr`.
pub(crate) fn from_raw(storage: &libc::sockaddr_storage) -> io::Result<SocketAddr> {
    match storage.ss_family as i32 {
        libc::AF_INET => {
            // SAFETY: the family says this storage holds a sockaddr_in.
            let sin: &libc::sockaddr_in =
                unsafe { &*(storage as *const _ as *const libc::sockaddr_in) };
            Ok(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes()),
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says this storage holds a sockaddr_in6.
            let sin6: &libc::sockaddr_in6 =
                unsafe { &*(storage as *const _ as *const libc::sockaddr_in6) };
            Ok(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        f => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("unsupported address family {f}"),
        )),
    }
}

/// `accept4` with `SOCK_NONBLOCK | SOCK_CLOEXEC`.
pub(crate) fn accept(fd: RawFd) -> io::Result<(OwnedFd, SocketAddr)> {
    let mut storage = MaybeUninit::<libc::sockaddr_storage>::zeroed();
    let mut len = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `storage` and `len` describe a writable buffer of that size.
    let new = unsafe {
        libc::accept4(
            fd,
            storage.as_mut_ptr().cast(),
            &mut len,
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    };
    if new < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh fd nobody else owns.
    let owned = unsafe { OwnedFd::from_raw_fd(new) };
    // SAFETY: the kernel initialised the storage (zeroed beforehand anyway).
    let addr = from_raw(unsafe { storage.assume_init_ref() })?;
    Ok((owned, addr))
}

/// Starts a non-blocking `connect`. `Ok(true)`: connected at once;
/// `Ok(false)`: in progress (wait for writability, then check `SO_ERROR`).
pub(crate) fn start_connect(fd: RawFd, addr: &SocketAddr) -> io::Result<bool> {
    let (storage, len) = to_raw(addr);
    loop {
        // SAFETY: `storage` holds a valid sockaddr of `len` bytes.
        let r =
            unsafe { libc::connect(fd, (&storage as *const libc::sockaddr_storage).cast(), len) };
        if r == 0 {
            return Ok(true);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINPROGRESS) | Some(libc::EALREADY) => return Ok(false),
            Some(libc::EINTR) => continue,
            Some(libc::EISCONN) => return Ok(true),
            _ => return Err(err),
        }
    }
}

/// Reads and clears the socket's pending error (`SO_ERROR`).
pub(crate) fn take_error(fd: RawFd) -> io::Result<Option<io::Error>> {
    let mut err: libc::c_int = 0;
    let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `err`/`len` describe a writable int.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut err as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((err != 0).then(|| io::Error::from_raw_os_error(err)))
}

/// Sets an integer socket option.
pub(crate) fn setsockopt_int(fd: RawFd, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: passes a pointer to a live int and its size.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const i32).cast(),
            mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Binds `fd` to `addr`.
pub(crate) fn bind(fd: RawFd, addr: &SocketAddr) -> io::Result<()> {
    let (storage, len) = to_raw(addr);
    // SAFETY: `storage` holds a valid sockaddr of `len` bytes.
    if unsafe { libc::bind(fd, (&storage as *const libc::sockaddr_storage).cast(), len) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `recv` into `buf` with `flags`.
pub(crate) fn recv(fd: RawFd, buf: &mut [u8], flags: i32) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of its length.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), flags) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// `recv` into a buffer that may be uninitialised (hyper's and tokio's read
/// buffers); the first `n` bytes are initialised when it returns `Ok(n)`.
#[cfg(any(feature = "hyper", feature = "tokio-io"))]
pub(crate) fn recv_uninit(fd: RawFd, buf: &mut [mem::MaybeUninit<u8>]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of its length; `recv` only writes
    // bytes into it, never reads them.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// `send` from `buf`, never raising `SIGPIPE`.
pub(crate) fn send(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for reads of its length.
    let n = unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Gathered `sendmsg`, never raising `SIGPIPE`.
pub(crate) fn send_vectored(fd: RawFd, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
    // SAFETY: all-zero is a valid msghdr.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    // IoSlice is ABI-compatible with iovec on Unix.
    msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = bufs.len().min(1024) as _;
    // SAFETY: `msg` points to `bufs`, valid for reads.
    let n = unsafe { libc::sendmsg(fd, &msg, libc::MSG_NOSIGNAL) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Scattered `readv`.
pub(crate) fn recv_vectored(fd: RawFd, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
    // SAFETY: IoSliceMut is ABI-compatible with iovec; the buffers are valid
    // for writes.
    let n = unsafe {
        libc::readv(
            fd,
            bufs.as_ptr() as *const libc::iovec,
            bufs.len().min(1024) as i32,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// `listen` with the backlog goro uses everywhere (the kernel caps it at
/// `net.core.somaxconn`).
pub(crate) fn listen(fd: RawFd) -> io::Result<()> {
    // SAFETY: plain syscall on a socket the caller owns.
    if unsafe { libc::listen(fd, 4096) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// True for accept errors that mean "out of resources, try later"
/// (`incoming()` backs off on them).
pub(crate) fn is_resource_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// True if `fd` has a peer (`getpeername` succeeds); `ENOTCONN` is `false`.
/// Used after a non-blocking connect reports writability.
pub(crate) fn is_connected(fd: RawFd) -> io::Result<bool> {
    let mut storage = MaybeUninit::<libc::sockaddr_storage>::zeroed();
    let mut len = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `storage`/`len` describe a writable buffer of that size.
    if unsafe { libc::getpeername(fd, storage.as_mut_ptr().cast(), &mut len) } < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ENOTCONN) => Ok(false),
            _ => Err(e),
        };
    }
    Ok(true)
}

/// `recvfrom` into `buf` with `flags`, returning the sender's address.
pub(crate) fn recv_from(fd: RawFd, buf: &mut [u8], flags: i32) -> io::Result<(usize, SocketAddr)> {
    let mut storage = MaybeUninit::<libc::sockaddr_storage>::zeroed();
    let mut len = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `buf` is valid for writes of its length; `storage`/`len`
    // describe a writable address buffer of that size.
    let n = unsafe {
        libc::recvfrom(
            fd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            flags,
            storage.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: zero-initialised and filled by the kernel.
    let addr = from_raw(unsafe { storage.assume_init_ref() })?;
    Ok((n as usize, addr))
}

/// `sendto` `addr` from `buf`.
pub(crate) fn send_to(fd: RawFd, buf: &[u8], addr: &SocketAddr) -> io::Result<usize> {
    let (storage, len) = to_raw(addr);
    // SAFETY: `buf` is valid for reads of its length; `storage` holds a
    // valid sockaddr of `len` bytes.
    let n = unsafe {
        libc::sendto(
            fd,
            buf.as_ptr().cast(),
            buf.len(),
            libc::MSG_NOSIGNAL,
            (&storage as *const libc::sockaddr_storage).cast(),
            len,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Creates a connected pair of non-blocking, close-on-exec Unix sockets.
pub(crate) fn socketpair(ty: i32) -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors the call writes.
    let r = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: two fresh fds nobody else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Offset of `sun_path` in `sockaddr_un`: an address of exactly this length
/// is unnamed.
const SUN_PATH_OFFSET: usize = mem::offset_of!(libc::sockaddr_un, sun_path);

/// A Unix-domain socket address in the form the kernel takes.
pub(crate) struct UnixAddr {
    raw: libc::sockaddr_un,
    len: libc::socklen_t,
}

impl UnixAddr {
    /// An address with the family only.
    fn empty() -> UnixAddr {
        // SAFETY: all-zero is a valid sockaddr_un.
        let mut raw: libc::sockaddr_un = unsafe { mem::zeroed() };
        raw.sun_family = libc::AF_UNIX as libc::sa_family_t;
        UnixAddr {
            raw,
            len: SUN_PATH_OFFSET as libc::socklen_t,
        }
    }

    /// Copies `bytes` into `sun_path` at `at`; `extra` is added to the
    /// length (1 for a pathname's terminating NUL).
    fn with_bytes(at: usize, bytes: &[u8], extra: usize) -> io::Result<UnixAddr> {
        let mut a = UnixAddr::empty();
        if at + bytes.len() + extra > a.raw.sun_path.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "Unix socket path is too long (the limit is 107 bytes)",
            ));
        }
        for (dst, src) in a.raw.sun_path[at..].iter_mut().zip(bytes) {
            *dst = *src as libc::c_char;
        }
        a.len = (SUN_PATH_OFFSET + at + bytes.len() + extra) as libc::socklen_t;
        Ok(a)
    }

    /// A pathname address. Paths with NUL bytes or longer than `sun_path`
    /// are rejected with `InvalidInput`; an empty path gives an unnamed
    /// address (for `bind`, Linux then picks an abstract name).
    pub(crate) fn from_path(path: &Path) -> io::Result<UnixAddr> {
        let bytes = path.as_os_str().as_bytes();
        if bytes.contains(&0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "Unix socket paths must not contain NUL bytes",
            ));
        }
        if bytes.is_empty() {
            return Ok(UnixAddr::empty());
        }
        UnixAddr::with_bytes(0, bytes, 1)
    }

    /// The kernel form of a std address (pathname, abstract or unnamed).
    pub(crate) fn from_std(addr: &UnixSocketAddr) -> io::Result<UnixAddr> {
        if let Some(path) = addr.as_pathname() {
            return UnixAddr::from_path(path);
        }
        #[cfg(target_os = "linux")]
        {
            use std::os::linux::net::SocketAddrExt;
            if let Some(name) = addr.as_abstract_name() {
                return UnixAddr::with_bytes(1, name, 0);
            }
        }
        Ok(UnixAddr::empty())
    }

    fn as_ptr(&self) -> *const libc::sockaddr {
        (&self.raw as *const libc::sockaddr_un).cast()
    }

    /// Converts a kernel-filled address of `len` bytes to a std address.
    fn to_std(&self) -> io::Result<UnixSocketAddr> {
        let len = (self.len as usize).min(mem::size_of::<libc::sockaddr_un>());
        if len <= SUN_PATH_OFFSET {
            // Linux reports the sender of a datagram from an unbound socket
            // with a length of 0 or of the family alone.
            return unnamed();
        }
        if self.raw.sun_family != libc::AF_UNIX as libc::sa_family_t {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a Unix socket address",
            ));
        }
        let path: Vec<u8> = self.raw.sun_path[..len - SUN_PATH_OFFSET]
            .iter()
            .map(|&c| c as u8)
            .collect();
        if path[0] == 0 {
            #[cfg(target_os = "linux")]
            {
                use std::os::linux::net::SocketAddrExt;
                return UnixSocketAddr::from_abstract_name(&path[1..]);
            }
            #[cfg(not(target_os = "linux"))]
            return unnamed();
        }
        let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
        UnixSocketAddr::from_pathname(Path::new(OsStr::from_bytes(&path[..end])))
    }
}

/// The unnamed Unix socket address (std has no constructor for it, but a
/// pathname address of the empty path is exactly that).
fn unnamed() -> io::Result<UnixSocketAddr> {
    match UnixSocketAddr::from_pathname("") {
        Ok(a) if a.is_unnamed() => Ok(a),
        _ => std::os::unix::net::UnixDatagram::unbound()?.local_addr(),
    }
}

/// Binds a Unix socket to `addr`.
pub(crate) fn bind_unix(fd: RawFd, addr: &UnixAddr) -> io::Result<()> {
    // SAFETY: `addr` holds a valid sockaddr_un of `addr.len` bytes.
    if unsafe { libc::bind(fd, addr.as_ptr(), addr.len) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Starts a non-blocking `connect` on a Unix socket. `Ok(true)`: connected;
/// `Ok(false)`: in progress. A stream listener whose backlog is full makes
/// Linux fail at once with `EAGAIN` (`WouldBlock`), which the caller must
/// handle: no readiness edge announces room in someone else's backlog.
pub(crate) fn connect_unix(fd: RawFd, addr: &UnixAddr) -> io::Result<bool> {
    loop {
        // SAFETY: `addr` holds a valid sockaddr_un of `addr.len` bytes.
        if unsafe { libc::connect(fd, addr.as_ptr(), addr.len) } == 0 {
            return Ok(true);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINPROGRESS) | Some(libc::EALREADY) => return Ok(false),
            Some(libc::EINTR) => continue,
            Some(libc::EISCONN) => return Ok(true),
            _ => return Err(err),
        }
    }
}

/// `accept4` on a Unix listener with `SOCK_NONBLOCK | SOCK_CLOEXEC`.
pub(crate) fn accept_unix(fd: RawFd) -> io::Result<(OwnedFd, UnixSocketAddr)> {
    let mut addr = UnixAddr::empty();
    addr.len = mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    // SAFETY: `addr.raw`/`addr.len` describe a writable sockaddr_un.
    let new = unsafe {
        libc::accept4(
            fd,
            (&mut addr.raw as *mut libc::sockaddr_un).cast(),
            &mut addr.len,
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    };
    if new < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh fd nobody else owns.
    let owned = unsafe { OwnedFd::from_raw_fd(new) };
    Ok((owned, addr.to_std()?))
}

/// `recvfrom` on a Unix socket, returning the sender's address.
pub(crate) fn recv_from_unix(
    fd: RawFd,
    buf: &mut [u8],
    flags: i32,
) -> io::Result<(usize, UnixSocketAddr)> {
    let mut addr = UnixAddr::empty();
    addr.len = mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    // SAFETY: `buf` is valid for writes of its length; `addr.raw` and
    // `addr.len` describe a writable sockaddr_un.
    let n = unsafe {
        libc::recvfrom(
            fd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            flags,
            (&mut addr.raw as *mut libc::sockaddr_un).cast(),
            &mut addr.len,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((n as usize, addr.to_std()?))
}

/// `sendto` a Unix socket address, never raising `SIGPIPE`.
pub(crate) fn send_to_unix(fd: RawFd, buf: &[u8], addr: &UnixAddr) -> io::Result<usize> {
    // SAFETY: `buf` is valid for reads of its length; `addr` holds a valid
    // sockaddr_un of `addr.len` bytes.
    let n = unsafe {
        libc::sendto(
            fd,
            buf.as_ptr().cast(),
            buf.len(),
            libc::MSG_NOSIGNAL,
            addr.as_ptr(),
            addr.len,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn sockaddr_round_trip() {
        for s in ["127.0.0.1:8080", "[::1]:9", "[fe80::1%3]:443", "0.0.0.0:0"] {
            let a: SocketAddr = s.parse().unwrap();
            let (raw, _) = to_raw(&a);
            assert_eq!(from_raw(&raw).unwrap(), a);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod unix_addr_tests {
    use super::*;

    #[test]
    fn unnamed_is_unnamed() {
        assert!(unnamed().unwrap().is_unnamed());
        assert!(UnixAddr::empty().to_std().unwrap().is_unnamed());
    }

    #[test]
    fn pathname_round_trip() {
        let a = UnixAddr::from_path(Path::new("/tmp/goro.sock")).unwrap();
        let back = a.to_std().unwrap();
        assert_eq!(back.as_pathname(), Some(Path::new("/tmp/goro.sock")));
        let again = UnixAddr::from_std(&back).unwrap();
        assert_eq!(again.len, a.len);
    }

    #[test]
    fn bad_paths_are_rejected() {
        let nul = UnixAddr::from_path(Path::new("a\0b")).err().unwrap();
        assert_eq!(nul.kind(), io::ErrorKind::InvalidInput);
        let long = "x".repeat(108);
        let e = UnixAddr::from_path(Path::new(&long)).err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        // 107 bytes plus the NUL fit exactly.
        assert!(UnixAddr::from_path(Path::new(&long[..107])).is_ok());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn abstract_round_trip() {
        use std::os::linux::net::SocketAddrExt;
        let a = UnixSocketAddr::from_abstract_name(b"goro-test").unwrap();
        let raw = UnixAddr::from_std(&a).unwrap();
        let back = raw.to_std().unwrap();
        assert_eq!(back.as_abstract_name(), Some(&b"goro-test"[..]));
    }
}
