//! Regression tests for issue 8, bug 3: nothing hangs on a shut-down
//! runtime (DESIGN.md §3, "Runtime shutdown").
//!
//! Futures of a runtime's timers and sockets may be polled outside its
//! tasks: by `Handle::block_on` on another thread, or by another executor.
//! Dropping the runtime used to leave them waiting forever — its timers
//! were dropped unfired and its descriptors were never woken. Now I/O
//! futures fail with an `io::Error` (kind `Other`, "goro runtime is shut
//! down") and `Sleep`/`Timeout`/`Interval` complete at once.
//!
//! Every wait here goes through a std channel with a timeout, so on a
//! runtime that hangs the test fails instead of hanging.

mod support;

use goro::net::UdpSocket;
use goro::runtime::Runtime;
use std::io;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};
use support::hang::on_thread;
use support::rt::workers;

/// Generous bound for "promptly" on a loaded 2-core machine; the waits
/// involved are 30 s or forever, so this cannot pass by accident.
const PROMPT: Duration = Duration::from_secs(5);

/// Drops `rt` once the waiter has had time to park, then expects the
/// waiter's result promptly.
fn drop_and_expect<T>(rt: Runtime, rx: mpsc::Receiver<T>, what: &str) -> T {
    std::thread::sleep(Duration::from_millis(50));
    drop(rt);
    let dropped = Instant::now();
    let r = rx.recv_timeout(PROMPT).unwrap_or_else(|_| {
        panic!("{what}: still waiting {PROMPT:?} after the runtime was dropped")
    });
    eprintln!("{what}: returned {:?} after the drop", dropped.elapsed());
    r
}

fn assert_shut_down(r: io::Result<usize>, what: &str) {
    let e = r.expect_err(what);
    assert_eq!(e.kind(), io::ErrorKind::Other, "{what}: {e}");
    assert!(e.to_string().contains("shut down"), "{what}: {e}");
}

fn udp_on(rt: &Runtime) -> Arc<UdpSocket> {
    Arc::new(rt.block_on(UdpSocket::bind("127.0.0.1:0")).unwrap())
}

#[test]
fn sleep_in_handle_block_on_returns_when_the_runtime_is_dropped() {
    let rt = workers(2);
    let handle = rt.handle();
    let rx = on_thread(move || handle.block_on(goro::time::sleep(Duration::from_secs(30))));
    drop_and_expect(rt, rx, "handle.block_on(sleep)");
}

#[test]
fn sleeps_that_never_end_and_timeouts_and_intervals_also_return() {
    let rt = workers(2);
    let (h1, h2, h3) = (rt.handle(), rt.handle(), rt.handle());
    let forever = on_thread(move || h1.block_on(goro::time::sleep(Duration::MAX)));
    let timeout = on_thread(move || {
        h2.block_on(goro::time::timeout(
            Duration::from_secs(30),
            std::future::pending::<()>(),
        ))
    });
    let interval = on_thread(move || {
        h3.block_on(async {
            let mut i = goro::time::interval(Duration::from_secs(30));
            i.tick().await; // the first tick is immediate
            i.tick().await
        })
    });
    std::thread::sleep(Duration::from_millis(50));
    drop(rt);
    forever
        .recv_timeout(PROMPT)
        .expect("sleep(Duration::MAX) still waiting after the drop");
    let r = timeout
        .recv_timeout(PROMPT)
        .expect("timeout still waiting after the drop");
    assert!(r.is_err(), "the inner future never completes: Elapsed");
    interval
        .recv_timeout(PROMPT)
        .expect("interval tick still waiting after the drop");
}

#[test]
fn socket_read_in_handle_block_on_fails_when_the_runtime_is_dropped() {
    let rt = workers(2);
    let sock = udp_on(&rt);
    let handle = rt.handle();
    let rx = on_thread(move || {
        handle.block_on(async {
            let mut buf = [0u8; 8];
            sock.recv(&mut buf).await
        })
    });
    let r = drop_and_expect(rt, rx, "handle.block_on(recv)");
    assert_shut_down(r, "recv parked in handle.block_on");
}

#[test]
fn socket_read_polled_by_another_executor_fails_when_the_runtime_is_dropped() {
    let rt = workers(2);
    let sock = udp_on(&rt);
    let s2 = sock.clone();
    let rx = on_thread(move || {
        futures::executor::block_on(async {
            let mut buf = [0u8; 8];
            s2.recv(&mut buf).await
        })
    });
    let r = drop_and_expect(rt, rx, "futures::executor::block_on(recv)");
    assert_shut_down(r, "recv polled by another executor");
    // readable() too.
    let rx = on_thread(move || futures::executor::block_on(sock.readable()).map(|()| 0));
    let r = rx
        .recv_timeout(PROMPT)
        .expect("readable() on a dropped runtime's socket waits");
    assert_shut_down(r, "readable() after the drop");
}

#[test]
fn handle_block_on_after_the_drop_does_not_wait() {
    let rt = workers(2);
    let handle = rt.handle();
    let sock = udp_on(&rt);
    drop(rt);
    let h = handle.clone();
    let rx = on_thread(move || h.block_on(goro::time::sleep(Duration::from_secs(30))));
    rx.recv_timeout(PROMPT)
        .expect("sleep on a dropped runtime's handle waits");
    // New operations on the dropped runtime's sockets fail at once.
    let s2 = sock.clone();
    let rx = on_thread(move || {
        futures::executor::block_on(async {
            let mut buf = [0u8; 8];
            s2.recv(&mut buf).await
        })
    });
    let r = rx.recv_timeout(PROMPT).expect("recv after the drop waits");
    assert_shut_down(r, "recv after the drop");
    let target = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = target.local_addr().unwrap();
    let r = futures::executor::block_on(sock.send_to(b"x", to));
    assert_shut_down(r, "send_to after the drop");
    // New sockets cannot join it.
    let h = handle.clone();
    let rx = on_thread(move || h.block_on(UdpSocket::bind("127.0.0.1:0")).map(|_| 0));
    let r = rx.recv_timeout(PROMPT).expect("bind after the drop waits");
    assert_shut_down(r, "bind on a dropped runtime");
    // Closing still works.
    sock.close().unwrap();
}

/// A worker blocked *inside a task* on one of the runtime's sleeps (a sync
/// library calling `futures::executor::block_on`) is released by shutdown
/// itself: `shutdown_timeout` does not wait out its limit for it, and with
/// no limit it still returns.
#[test]
fn shutdown_timeout_releases_a_worker_blocked_on_a_goro_sleep() {
    for limit in [Duration::from_secs(20), Duration::MAX] {
        let rt = workers(2);
        let (tx, rx) = mpsc::channel();
        rt.spawn(async move {
            tx.send(()).unwrap();
            futures::executor::block_on(goro::time::sleep(Duration::from_secs(3600)));
        });
        rx.recv().unwrap();
        let start = Instant::now();
        let done = on_thread(move || rt.shutdown_timeout(limit));
        done.recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| {
                panic!("shutdown_timeout({limit:?}) waited for the blocked worker")
            });
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "shutdown_timeout({limit:?}) took {:?}",
            start.elapsed()
        );
    }
}
