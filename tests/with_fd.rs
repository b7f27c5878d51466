//! `with_fd` (Go's `RawConn.Control`): every socket type lends its fd to a
//! closure for options goro has no method for; the fd stays open while the
//! closure runs, even if the socket is closed meanwhile; a closed socket
//! lends nothing (`NotConnected`).

mod support;

use goro::net::{TcpListener, UdpSocket, UnixDatagram, UnixListener, UnixStream};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use support::hang::run;
use support::net::{TempDir, getsockopt_int, tcp_pair};

/// An int socket option, set with setsockopt(2).
fn set_int_option(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: i32,
) -> io::Result<()> {
    // SAFETY: an int-sized option value and its length, on an open fd.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// True if `fd` is an open file descriptor.
fn is_open(fd: BorrowedFd<'_>) -> bool {
    // SAFETY: F_GETFD reads the descriptor flags; no memory is involved.
    unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) != -1 }
}

#[test]
fn every_socket_type_lends_its_own_fd() {
    run(async {
        let dir = TempDir::new("with-fd");
        let (a, _b) = tcp_pair().await;
        assert_eq!(a.with_fd(|fd| fd.as_raw_fd()).unwrap(), a.as_raw_fd());
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        assert_eq!(l.with_fd(|fd| fd.as_raw_fd()).unwrap(), l.as_raw_fd());
        let u = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        assert_eq!(u.with_fd(|fd| fd.as_raw_fd()).unwrap(), u.as_raw_fd());
        let (s, _t) = UnixStream::pair().unwrap();
        assert_eq!(s.with_fd(|fd| fd.as_raw_fd()).unwrap(), s.as_raw_fd());
        let ul = UnixListener::bind(dir.path("sock")).unwrap();
        assert_eq!(ul.with_fd(|fd| fd.as_raw_fd()).unwrap(), ul.as_raw_fd());
        let (d, _e) = UnixDatagram::pair().unwrap();
        assert_eq!(d.with_fd(|fd| fd.as_raw_fd()).unwrap(), d.as_raw_fd());
    });
}

#[test]
fn an_option_set_through_the_fd_sticks() {
    run(async {
        let (a, _b) = tcp_pair().await;
        let (level, name) = (libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT);
        a.with_fd(|fd| set_int_option(fd, level, name, 4_321))
            .unwrap()
            .unwrap();
        let read_back = a.with_fd(|fd| getsockopt_int(&fd, level, name)).unwrap();
        assert_eq!(read_back.unwrap(), 4_321);
    });
}

#[test]
fn the_fd_stays_open_while_lent_even_if_closed_meanwhile() {
    run(async {
        let (a, _b) = tcp_pair().await;
        let still_open = a
            .with_fd(|fd| {
                a.close().unwrap();
                // close() has returned, but the fd is lent: not closed yet.
                (
                    is_open(fd),
                    getsockopt_int(&fd, libc::SOL_SOCKET, libc::SO_TYPE),
                )
            })
            .unwrap();
        assert!(still_open.0, "the lent fd was closed under the closure");
        assert_eq!(still_open.1.unwrap(), libc::SOCK_STREAM);
    });
}

#[test]
fn a_closed_socket_lends_nothing() {
    run(async {
        let (a, _b) = tcp_pair().await;
        a.close().unwrap();
        let err = a.with_fd(|_| ()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotConnected);
        let u = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        u.close().unwrap();
        let err = u.with_fd(|_| ()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotConnected);
    });
}
