//! `PollFd::new` puts the fd in non-blocking mode before registering it.
//! When the registration fails, the caller keeps using the fd (a borrowed
//! `&T`, stdin, a socket shared with blocking code): it must be left as it
//! was, or the caller's blocking reads start failing with `WouldBlock`.

mod support;

use goro::io::PollFd;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;

fn is_nonblocking(fd: &impl AsRawFd) -> bool {
    // SAFETY: F_GETFL on an open fd.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    assert!(flags >= 0, "{}", io::Error::last_os_error());
    flags & libc::O_NONBLOCK != 0
}

/// Blocking reads on `a` still work: it waits for `b`'s write instead of
/// failing with `WouldBlock`.
fn still_blocking(mut a: &UnixStream, mut b: &UnixStream) {
    std::thread::scope(|s| {
        s.spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            b.write_all(b"x").unwrap();
        });
        let mut buf = [0u8; 1];
        a.read_exact(&mut buf).unwrap();
    });
}

// The fault schedule below is process-wide: every test here takes the
// binary's one-at-a-time lock so none registers an fd while it is installed.

#[test]
fn failed_registration_after_shutdown_leaves_the_fd_blocking() {
    let _serial = support::process::one_at_a_time();
    let rt = support::rt::workers(1);
    let handle = rt.handle();
    drop(rt);
    let (a, b) = UnixStream::pair().unwrap();
    assert!(!is_nonblocking(&a));
    let r = {
        let _g = handle.enter();
        PollFd::new(a.as_fd()).map(drop)
    };
    assert!(r.is_err(), "a shut-down runtime took a new fd");
    assert!(
        !is_nonblocking(&a),
        "PollFd::new failed but left the fd non-blocking"
    );
    still_blocking(&a, &b);
}

#[test]
fn failed_registration_of_a_registered_fd_keeps_its_mode() {
    let _serial = support::process::one_at_a_time();
    support::hang::run(async {
        let (a, b) = UnixStream::pair().unwrap();
        // Registered once: the second registration fails (EEXIST), and the
        // first is unharmed.
        let first = PollFd::new(a.as_fd()).unwrap();
        let e = PollFd::new(a.as_fd()).map(drop).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EEXIST), "{e}");
        assert!(is_nonblocking(&a));
        (&b).write_all(b"y").unwrap();
        let mut buf = [0u8; 1];
        first.read_with(|_| (&a).read(&mut buf)).await.unwrap();
        assert_eq!(&buf, b"y");
    });
}

#[cfg(feature = "fault-injection")]
#[test]
fn failed_registration_under_memory_pressure_leaves_the_fd_blocking() {
    use goro::fault::{Fault, Schedule, Syscall, install};
    let _serial = support::process::one_at_a_time();
    support::hang::run(async {
        let (a, b) = UnixStream::pair().unwrap();
        let r = {
            let _faults =
                install(Schedule::new(7).fail(Syscall::EpollCtl, Fault::OutOfMemory, 1.0));
            PollFd::new(a.as_fd()).map(drop)
        };
        let e = r.unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOMEM), "{e}");
        assert!(
            !is_nonblocking(&a),
            "PollFd::new failed but left the fd non-blocking"
        );
        still_blocking(&a, &b);
    });
}
