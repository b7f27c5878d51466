//! Raw socket plumbing: creating non-blocking sockets, the kernel form of
//! socket addresses, and the few syscalls std does not expose in
//! non-blocking form (`accept4`, a non-blocking `connect`, `SO_ERROR`,
//! `recvfrom`/`sendto` with addresses, `socketpair`).
//!
//! Every call that takes or returns an address exists once, for IP and
//! Unix-domain sockets alike: addresses go in as a [`SockAddr`] (built from
//! a `SocketAddr`, a Unix path or a std Unix address) and come out as
//! whichever std type the caller asks for ([`FromSockAddr`]). Failures go
//! through [`cvt`] (`-1` and `errno` to `io::Error`).
//!
//! With the `fault-injection` feature, `accept4`, `connect` and the
//! transfer calls consult [`crate::fault`] first (the [`fault`] macro), which
//! may fail them or shorten their buffer; without it the hooks vanish.

/// Asks the fault injector about one call: `fault!(Kind, fd)` returns the
/// injected error early; `fault!(Kind, fd, len)` evaluates to the length the
/// call may use. Without the feature it is `len` (or nothing).
macro_rules! fault {
    ($call:ident, $fd:expr) => {
        #[cfg(feature = "fault-injection")]
        crate::fault::allow(crate::fault::Syscall::$call, $fd, 0)?;
    };
    ($call:ident, $fd:expr, $len:expr) => {{
        #[cfg(feature = "fault-injection")]
        let len = crate::fault::allow(crate::fault::Syscall::$call, $fd, $len)?;
        #[cfg(not(feature = "fault-injection"))]
        let len = $len;
        len
    }};
}

use std::ffi::OsStr;
use std::io;
use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::SocketAddr as UnixSocketAddr;
use std::path::Path;

use crate::sys::cvt;

/// Creates a non-blocking, close-on-exec socket.
pub(crate) fn socket(domain: i32, ty: i32) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; the result is checked.
    let fd =
        cvt(unsafe { libc::socket(domain, ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) })?;
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

/// Offset of `sun_path` in `sockaddr_un`: a Unix address of exactly this
/// length is unnamed.
const SUN_PATH_OFFSET: usize = mem::offset_of!(libc::sockaddr_un, sun_path);

/// A socket address in the form the kernel takes and fills: a
/// `sockaddr_storage` (room for `sockaddr_in`, `sockaddr_in6` and
/// `sockaddr_un`) and the length in use.
///
/// Invariant: `len` never exceeds the size of `storage`, and the bytes up
/// to `len` are a valid address of the family in `ss_family` (or, for a
/// buffer the kernel is about to fill, `len` is the whole storage).
pub(crate) struct SockAddr {
    storage: libc::sockaddr_storage,
    len: libc::socklen_t,
}

impl SockAddr {
    /// An all-zero buffer for the kernel to fill (`accept4`, `recvfrom`).
    fn buffer() -> SockAddr {
        SockAddr {
            // SAFETY: all-zero is a valid sockaddr_storage.
            storage: unsafe { mem::zeroed() },
            len: mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t,
        }
    }

    /// A pointer to the address, for calls that read it.
    pub(crate) fn as_ptr(&self) -> *const libc::sockaddr {
        (&self.storage as *const libc::sockaddr_storage).cast()
    }

    /// A pointer to the address, for calls that fill it.
    fn as_mut_ptr(&mut self) -> *mut libc::sockaddr {
        (&mut self.storage as *mut libc::sockaddr_storage).cast()
    }

    /// The length in bytes of the address.
    pub(crate) fn len(&self) -> libc::socklen_t {
        self.len
    }

    /// The storage viewed as a Unix-domain address.
    fn as_unix(&self) -> &libc::sockaddr_un {
        // SAFETY: sockaddr_storage is larger than and aligned for
        // sockaddr_un, and every bit pattern is a valid sockaddr_un (plain
        // integers).
        unsafe { &*(&self.storage as *const libc::sockaddr_storage).cast() }
    }

    /// The storage viewed as a mutable Unix-domain address.
    fn as_unix_mut(&mut self) -> &mut libc::sockaddr_un {
        // SAFETY: as for `as_unix`; the borrow of `self` is exclusive.
        unsafe { &mut *(&mut self.storage as *mut libc::sockaddr_storage).cast() }
    }

    /// The unnamed Unix address: the family alone.
    fn unix_unnamed() -> SockAddr {
        let mut a = SockAddr::buffer();
        a.as_unix_mut().sun_family = libc::AF_UNIX as libc::sa_family_t;
        a.len = SUN_PATH_OFFSET as libc::socklen_t;
        a
    }

    /// A Unix address with `bytes` copied into `sun_path` at `at`; `extra`
    /// is added to the length (1 for a pathname's terminating NUL).
    fn unix_with_bytes(at: usize, bytes: &[u8], extra: usize) -> io::Result<SockAddr> {
        let mut a = SockAddr::unix_unnamed();
        let sun_path = &mut a.as_unix_mut().sun_path;
        if at + bytes.len() + extra > sun_path.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "Unix socket path is too long (the limit is 107 bytes)",
            ));
        }
        for (dst, src) in sun_path[at..].iter_mut().zip(bytes) {
            *dst = *src as libc::c_char;
        }
        a.len = (SUN_PATH_OFFSET + at + bytes.len() + extra) as libc::socklen_t;
        Ok(a)
    }

    /// A Unix pathname address. Paths with NUL bytes or longer than
    /// `sun_path` are rejected with `InvalidInput`; an empty path gives an
    /// unnamed address (for `bind`, Linux then picks an abstract name).
    pub(crate) fn from_path(path: &Path) -> io::Result<SockAddr> {
        let bytes = path.as_os_str().as_bytes();
        if bytes.contains(&0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "Unix socket paths must not contain NUL bytes",
            ));
        }
        if bytes.is_empty() {
            return Ok(SockAddr::unix_unnamed());
        }
        SockAddr::unix_with_bytes(0, bytes, 1)
    }

    /// The kernel form of a std Unix address (pathname, abstract or
    /// unnamed).
    pub(crate) fn from_unix(addr: &UnixSocketAddr) -> io::Result<SockAddr> {
        if let Some(path) = addr.as_pathname() {
            return SockAddr::from_path(path);
        }
        #[cfg(target_os = "linux")]
        {
            use std::os::linux::net::SocketAddrExt;
            if let Some(name) = addr.as_abstract_name() {
                return SockAddr::unix_with_bytes(1, name, 0);
            }
        }
        Ok(SockAddr::unix_unnamed())
    }
}

impl From<&SocketAddr> for SockAddr {
    fn from(addr: &SocketAddr) -> SockAddr {
        let mut a = SockAddr::buffer();
        a.len = match addr {
            SocketAddr::V4(v4) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: v4.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(v4.ip().octets()),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
                unsafe { std::ptr::write(a.as_mut_ptr().cast(), sin) };
                mem::size_of::<libc::sockaddr_in>()
            }
            SocketAddr::V6(v6) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: v6.port().to_be(),
                    sin6_flowinfo: v6.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: v6.ip().octets(),
                    },
                    sin6_scope_id: v6.scope_id(),
                };
                // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
                unsafe { std::ptr::write(a.as_mut_ptr().cast(), sin6) };
                mem::size_of::<libc::sockaddr_in6>()
            }
        } as libc::socklen_t;
        a
    }
}

/// A std address type that a kernel-filled [`SockAddr`] converts to, so
/// `accept` and `recv_from` serve IP and Unix sockets alike.
pub(crate) trait FromSockAddr: Sized {
    /// Converts `addr`, failing with `InvalidInput` for another family
    /// (or an address the std type cannot represent).
    fn from_sock_addr(addr: &SockAddr) -> io::Result<Self>;

    /// The peer of the connection just accepted as `fd`, asked of the
    /// kernel through std, for when [`from_sock_addr`](Self::from_sock_addr)
    /// failed: the connection is already ours and must not be lost over
    /// how its address is spelt. `None`: no other way to ask.
    fn peer_of(fd: &OwnedFd) -> Option<io::Result<Self>> {
        let _ = fd;
        None
    }

    /// The sender of a datagram that has already been taken off the
    /// queue: as [`from_sock_addr`](Self::from_sock_addr), but a sender
    /// whose address the std type cannot represent gets the nearest one it
    /// can, since failing would lose the datagram.
    fn from_received(addr: &SockAddr) -> io::Result<Self> {
        Self::from_sock_addr(addr)
    }
}

impl FromSockAddr for SocketAddr {
    fn from_sock_addr(addr: &SockAddr) -> io::Result<SocketAddr> {
        let storage = &addr.storage;
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
}

impl FromSockAddr for UnixSocketAddr {
    fn from_sock_addr(addr: &SockAddr) -> io::Result<UnixSocketAddr> {
        let len = (addr.len as usize).min(mem::size_of::<libc::sockaddr_un>());
        if len <= SUN_PATH_OFFSET {
            // Linux reports the sender of a datagram from an unbound socket
            // with a length of 0 or of the family alone.
            return unnamed();
        }
        let raw = addr.as_unix();
        if raw.sun_family != libc::AF_UNIX as libc::sa_family_t {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a Unix socket address",
            ));
        }
        let path: Vec<u8> = raw.sun_path[..len - SUN_PATH_OFFSET]
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

    fn peer_of(fd: &OwnedFd) -> Option<io::Result<UnixSocketAddr>> {
        use std::os::fd::AsRawFd;
        // SAFETY: `fd` is open for the whole call and the wrapper is never
        // dropped, so it never closes it.
        let s = mem::ManuallyDrop::new(unsafe {
            std::os::unix::net::UnixStream::from_raw_fd(fd.as_raw_fd())
        });
        Some(s.peer_addr())
    }

    fn from_received(addr: &SockAddr) -> io::Result<UnixSocketAddr> {
        // A pathname filling all 108 bytes of `sun_path` (no NUL; Linux
        // allows it) has no std `SocketAddr`: report the sender as unnamed.
        UnixSocketAddr::from_sock_addr(addr).or_else(|e| {
            if addr.as_unix().sun_family == libc::AF_UNIX as libc::sa_family_t {
                unnamed()
            } else {
                Err(e)
            }
        })
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

/// `accept4` with `SOCK_NONBLOCK | SOCK_CLOEXEC`, returning the peer's
/// address as `A` (`SocketAddr` or a std Unix address).
pub(crate) fn accept<A: FromSockAddr>(fd: RawFd) -> io::Result<(OwnedFd, A)> {
    fault!(Accept, fd);
    let mut addr = SockAddr::buffer();
    // SAFETY: `addr.storage`/`addr.len` describe a writable buffer of that
    // size.
    let new = cvt(unsafe {
        libc::accept4(
            fd,
            addr.as_mut_ptr(),
            &mut addr.len,
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    })?;
    // SAFETY: a fresh fd nobody else owns.
    let owned = unsafe { OwnedFd::from_raw_fd(new) };
    let peer = match A::from_sock_addr(&addr) {
        Ok(a) => a,
        Err(e) => match A::peer_of(&owned) {
            Some(Ok(a)) => a,
            _ => return Err(e),
        },
    };
    Ok((owned, peer))
}

/// Starts a non-blocking `connect`. `Ok(true)`: connected at once;
/// `Ok(false)`: in progress (wait for writability, then check `SO_ERROR`).
/// A Unix stream listener whose backlog is full makes Linux fail at once
/// with `EAGAIN` (`WouldBlock`), which the caller must handle: no readiness
/// edge announces room in someone else's backlog.
pub(crate) fn start_connect(fd: RawFd, addr: &SockAddr) -> io::Result<bool> {
    loop {
        // SAFETY: `addr` holds a valid sockaddr of `addr.len()` bytes.
        let r = unsafe { libc::connect(fd, addr.as_ptr(), addr.len()) };
        let err = cvt(r).err();
        if interrupted_connect(fd, &err) {
            continue;
        }
        let Some(err) = err else {
            return Ok(true);
        };
        match err.raw_os_error() {
            Some(libc::EINPROGRESS) | Some(libc::EALREADY) => return Ok(false),
            Some(libc::EINTR) => continue,
            Some(libc::EISCONN) => return Ok(true),
            _ => return Err(err),
        }
    }
}

/// True if the fault injector turns this `connect` result (success or
/// `EINPROGRESS`) into `EINTR`, after the kernel started the connection.
#[cfg(feature = "fault-injection")]
fn interrupted_connect(fd: RawFd, err: &Option<io::Error>) -> bool {
    let started = err
        .as_ref()
        .is_none_or(|e| e.raw_os_error() == Some(libc::EINPROGRESS));
    started && crate::fault::interrupts_connect(fd)
}

#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
fn interrupted_connect(_: RawFd, _: &Option<io::Error>) -> bool {
    false
}

/// Binds `fd` to `addr`.
pub(crate) fn bind(fd: RawFd, addr: &SockAddr) -> io::Result<()> {
    // SAFETY: `addr` holds a valid sockaddr of `addr.len()` bytes.
    cvt(unsafe { libc::bind(fd, addr.as_ptr(), addr.len()) })?;
    Ok(())
}

/// Binds the Unix socket `sock` to `addr`, then hands it to `rest` (listen,
/// register). A pathname bind creates the file `path`; if `rest` fails, the
/// caller gets no socket, so the file is removed again — else every later
/// bind of that path would fail with `AddrInUse`.
pub(crate) fn bind_unix<R>(
    sock: OwnedFd,
    addr: &SockAddr,
    path: Option<&Path>,
    rest: impl FnOnce(OwnedFd) -> io::Result<R>,
) -> io::Result<R> {
    use std::os::fd::AsRawFd;
    bind(sock.as_raw_fd(), addr)?;
    let r = rest(sock);
    if r.is_err()
        && let Some(path) = path.filter(|p| !p.as_os_str().is_empty())
    {
        let _ = std::fs::remove_file(path);
    }
    r
}

/// `recv` into `buf` with `flags`.
pub(crate) fn recv(fd: RawFd, buf: &mut [u8], flags: i32) -> io::Result<usize> {
    let len = fault!(Recv, fd, buf.len());
    let buf = &mut buf[..len];
    // SAFETY: `buf` is valid for writes of its length.
    let n =
        cvt(unsafe { crate::sys::direct::recv(fd, buf.as_mut_ptr().cast(), buf.len(), flags) })?;
    Ok(n as usize)
}

/// `recv` into a buffer that may be uninitialised (hyper's and tokio's read
/// buffers); the first `n` bytes are initialised when it returns `Ok(n)`.
#[cfg(any(feature = "hyper", feature = "tokio-io"))]
pub(crate) fn recv_uninit(fd: RawFd, buf: &mut [mem::MaybeUninit<u8>]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of its length; `recv` only writes
    // bytes into it, never reads them.
    let n = cvt(unsafe { crate::sys::direct::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) })?;
    Ok(n as usize)
}

/// `send` from `buf`, never raising `SIGPIPE`.
pub(crate) fn send(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    let buf = &buf[..fault!(Send, fd, buf.len())];
    // SAFETY: `buf` is valid for reads of its length.
    let n = cvt(unsafe {
        crate::sys::direct::send(fd, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL)
    })?;
    Ok(n as usize)
}

/// The most slices one `sendmsg`/`readv` takes (Linux's `UIO_MAXIOV`);
/// the vectored calls below pass only the first this many, as std does.
pub(crate) const MAX_IOV: usize = 1024;

/// Gathered `sendmsg`, never raising `SIGPIPE`. Only the first
/// [`MAX_IOV`] slices are sent.
pub(crate) fn send_vectored(fd: RawFd, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
    fault!(Send, fd);
    // SAFETY: all-zero is a valid msghdr.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    // IoSlice is ABI-compatible with iovec on Unix.
    msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = bufs.len().min(MAX_IOV) as _;
    // SAFETY: `msg` points to `bufs`, valid for reads.
    let n = cvt(unsafe { crate::sys::direct::sendmsg(fd, &msg, libc::MSG_NOSIGNAL) })?;
    Ok(n as usize)
}

/// Scattered `readv` into the first [`MAX_IOV`] slices.
pub(crate) fn recv_vectored(fd: RawFd, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
    fault!(Recv, fd);
    // SAFETY: IoSliceMut is ABI-compatible with iovec; the buffers are valid
    // for writes.
    let n = cvt(unsafe {
        crate::sys::direct::readv(
            fd,
            bufs.as_ptr() as *const libc::iovec,
            bufs.len().min(MAX_IOV) as i32,
        )
    })?;
    Ok(n as usize)
}

/// `listen` with `backlog` (the kernel caps it at `net.core.somaxconn`).
pub(crate) fn listen_with_backlog(fd: RawFd, backlog: u32) -> io::Result<()> {
    let backlog = backlog.min(i32::MAX as u32) as i32;
    // SAFETY: plain syscall on a socket the caller owns.
    cvt(unsafe { libc::listen(fd, backlog) })?;
    Ok(())
}

/// `listen` with the backlog goro uses everywhere (the kernel caps it at
/// `net.core.somaxconn`).
pub(crate) fn listen(fd: RawFd) -> io::Result<()> {
    listen_with_backlog(fd, 4096)
}

/// True for accept errors that mean "out of resources, try later"
/// (`incoming()` backs off on them).
pub(crate) fn is_resource_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// `recvfrom` into `buf` with `flags`, returning the sender's address as
/// `A` (`SocketAddr` or a std Unix address).
pub(crate) fn recv_from<A: FromSockAddr>(
    fd: RawFd,
    buf: &mut [u8],
    flags: i32,
) -> io::Result<(usize, A)> {
    fault!(Recv, fd);
    let mut addr = SockAddr::buffer();
    // SAFETY: `buf` is valid for writes of its length; `addr.storage` and
    // `addr.len` describe a writable address buffer of that size.
    let n = cvt(unsafe {
        crate::sys::direct::recvfrom(
            fd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            flags,
            addr.as_mut_ptr(),
            &mut addr.len,
        )
    })?;
    Ok((n as usize, A::from_received(&addr)?))
}

/// `sendto` `addr` from `buf`, never raising `SIGPIPE`.
pub(crate) fn send_to(fd: RawFd, buf: &[u8], addr: &SockAddr) -> io::Result<usize> {
    fault!(Send, fd);
    // SAFETY: `buf` is valid for reads of its length; `addr` holds a valid
    // sockaddr of `addr.len()` bytes.
    let n = cvt(unsafe {
        crate::sys::direct::sendto(
            fd,
            buf.as_ptr().cast(),
            buf.len(),
            libc::MSG_NOSIGNAL,
            addr.as_ptr(),
            addr.len(),
        )
    })?;
    Ok(n as usize)
}

/// Creates a connected pair of non-blocking, close-on-exec Unix sockets.
pub(crate) fn socketpair(ty: i32) -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors the call writes.
    cvt(unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    })?;
    // SAFETY: two fresh fds nobody else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn sockaddr_round_trip() {
        for s in ["127.0.0.1:8080", "[::1]:9", "[fe80::1%3]:443", "0.0.0.0:0"] {
            let a: SocketAddr = s.parse().unwrap();
            let raw = SockAddr::from(&a);
            assert_eq!(SocketAddr::from_sock_addr(&raw).unwrap(), a);
        }
    }

    #[test]
    fn families_do_not_mix() {
        let unix = SockAddr::from_path(Path::new("/tmp/goro.sock")).unwrap();
        let e = SocketAddr::from_sock_addr(&unix).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let ip = SockAddr::from(&"127.0.0.1:80".parse::<SocketAddr>().unwrap());
        let e = UnixSocketAddr::from_sock_addr(&ip).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }
}

#[cfg(all(test, not(loom)))]
mod unix_addr_tests {
    use super::*;

    #[test]
    fn unnamed_is_unnamed() {
        assert!(unnamed().unwrap().is_unnamed());
        let a = SockAddr::unix_unnamed();
        assert!(UnixSocketAddr::from_sock_addr(&a).unwrap().is_unnamed());
    }

    #[test]
    fn pathname_round_trip() {
        let a = SockAddr::from_path(Path::new("/tmp/goro.sock")).unwrap();
        let back = UnixSocketAddr::from_sock_addr(&a).unwrap();
        assert_eq!(back.as_pathname(), Some(Path::new("/tmp/goro.sock")));
        let again = SockAddr::from_unix(&back).unwrap();
        assert_eq!(again.len(), a.len());
    }

    #[test]
    fn bad_paths_are_rejected() {
        let nul = SockAddr::from_path(Path::new("a\0b")).err().unwrap();
        assert_eq!(nul.kind(), io::ErrorKind::InvalidInput);
        let long = "x".repeat(108);
        let e = SockAddr::from_path(Path::new(&long)).err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        // 107 bytes plus the NUL fit exactly.
        assert!(SockAddr::from_path(Path::new(&long[..107])).is_ok());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn abstract_round_trip() {
        use std::os::linux::net::SocketAddrExt;
        let a = UnixSocketAddr::from_abstract_name(b"goro-test").unwrap();
        let raw = SockAddr::from_unix(&a).unwrap();
        let back = UnixSocketAddr::from_sock_addr(&raw).unwrap();
        assert_eq!(back.as_abstract_name(), Some(&b"goro-test"[..]));
    }
}
