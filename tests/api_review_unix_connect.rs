//! `UnixStream::connect` to a listener whose backlog is full retries after
//! a growing sleep (Linux fails such a connect at once with `EAGAIN`, and no
//! readiness edge announces room in someone else's backlog). Once the
//! socket's runtime has shut down, sleeps complete at once, so that retry
//! loop must stop with the shut-down error instead of spinning forever
//! inside one `poll`.

mod support;

use goro::net::UnixStream;
use std::future::Future;
use std::os::fd::AsRawFd;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use support::net::TempDir;

#[test]
fn connect_to_a_full_backlog_ends_when_the_runtime_shuts_down() {
    let dir = TempDir::new("full-backlog-shutdown");
    let path = dir.path("l.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    // SAFETY: listen on a listening socket only changes its backlog.
    assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
    // One queued connection fills a backlog of 0.
    let _queued = std::os::unix::net::UnixStream::connect(&path).unwrap();

    let rt = support::rt::workers(1);
    let result = support::hang::within(Duration::from_secs(20), move || {
        let mut connect = Box::pin(UnixStream::connect(path));
        let mut cx = Context::from_waker(Waker::noop());
        {
            let _g = rt.enter();
            // Registers the socket with `rt`, gets EAGAIN, sleeps.
            assert!(connect.as_mut().poll(&mut cx).is_pending());
        }
        drop(rt);
        // Now it must finish promptly; a spin never returns from `poll`.
        let mut connect = pin!(connect);
        for _ in 0..1000 {
            if let Poll::Ready(r) = connect.as_mut().poll(&mut cx) {
                return r.map(drop);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("connect still pending 5 s after its runtime shut down");
    });
    let e = result.unwrap_err();
    assert!(e.to_string().contains("shut down"), "{e}");
    drop(listener);
}
