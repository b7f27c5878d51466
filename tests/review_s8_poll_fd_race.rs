//! `PollFd::new` must not undo another registration's non-blocking mode.
//! The mode belongs to the open file, which several fds (dups, another
//! process's copy) share. `new` used to switch it on, try to register, and
//! on failure switch it back off if it had been off — but in between
//! another `PollFd::new` on a dup of the same file may have found it on,
//! registered, and kept it: the failed call then turned it off under a
//! live `PollFd`, whose reads and writes would block a worker thread. Now
//! `new` registers first and changes the mode only once registered, so a
//! failed call never touches it.

use goro::io::PollFd;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Barrier};

fn is_nonblocking(fd: &impl AsRawFd) -> bool {
    // SAFETY: F_GETFL on an open fd.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    assert!(flags >= 0, "{}", io::Error::last_os_error());
    flags & libc::O_NONBLOCK != 0
}

fn set_blocking(fd: &impl AsRawFd) {
    // SAFETY: fcntl on an open fd.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        assert!(flags >= 0);
        assert!(libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK) >= 0);
    }
}

const ROUNDS: usize = 20_000;

#[test]
fn a_failed_new_does_not_make_a_live_poll_fd_blocking() {
    let rt = goro::runtime::Runtime::builder()
        .worker_threads(1)
        .build()
        .unwrap();
    let (a, _peer) = UnixStream::pair().unwrap();
    // Two fds of one open file. `x` is registered for good, so every
    // further `PollFd::new(x)` fails (`EEXIST`); `y` is registered anew in
    // each round, racing with that failure.
    let x = a.try_clone().unwrap();
    let y = a.try_clone().unwrap();
    let _held = {
        let _g = rt.enter();
        PollFd::new(x.as_fd()).unwrap()
    };
    let start = Arc::new(Barrier::new(2));
    let done = Arc::new(Barrier::new(2));
    // Nothing panics between the barriers (a panic there would leave the
    // other thread waiting): failures are counted and asserted at the end.
    let (doubles, blocking) = std::thread::scope(|s| {
        let (start2, done2, handle) = (start.clone(), done.clone(), rt.handle().clone());
        let x = &x;
        let other = s.spawn(move || {
            let _g = handle.enter();
            let mut doubles = 0;
            for _ in 0..ROUNDS {
                start2.wait();
                doubles += usize::from(PollFd::new(x.as_fd()).is_ok());
                done2.wait();
            }
            doubles
        });
        let _g = rt.enter();
        let mut blocking = Vec::new();
        for round in 0..ROUNDS {
            set_blocking(&a);
            start.wait();
            let live = PollFd::new(y.as_fd());
            done.wait();
            if let Ok(live) = &live
                && !is_nonblocking(live)
            {
                blocking.push(round);
            }
            drop(live);
        }
        (other.join().unwrap(), blocking)
    });
    assert_eq!(doubles, 0, "x was registered twice");
    assert!(
        blocking.is_empty(),
        "a failed PollFd::new on a dup made a live PollFd's fd blocking in {} of {ROUNDS} rounds",
        blocking.len()
    );
}
