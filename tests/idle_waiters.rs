//! Regression test for issue 8, bug 1: many tasks waiting on one idle fd
//! must cost no CPU.
//!
//! The slot's waker list used to be flushed (every waiter woken) once it
//! held 64 distinct wakers; the woken tasks registered again and refilled
//! it, forever. With 100 tasks awaiting `readable()` on one idle socket the
//! runtime polled millions of tasks per second with nothing ready.
//!
//! Each case parks 100 tasks on one idle fd, counts the task polls the
//! runtime makes over 500 ms (it must stay tiny: nothing is ready), then
//! makes the fd ready once and checks that every waiter is woken and
//! proceeds, with a bounded number of polls.

mod support;

use futures::io::AsyncReadExt;
use goro::io::PollFd;
use goro::net::{TcpListener, TcpStream, UdpSocket};
use goro::runtime::Runtime;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::process::cpu_time;
use support::rt::workers;

const WAITERS: usize = 100;
/// Task polls allowed while the fd is idle. Each waiter is polled once or
/// twice to park; the old code made millions.
const IDLE_POLL_LIMIT: u64 = 1_000;

/// Waits until `started` reaches `n` (every waiter has begun waiting), then
/// a little more so each reaches its first `Pending`.
fn wait_started(started: &AtomicUsize, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while started.load(Ordering::SeqCst) < n {
        assert!(Instant::now() < deadline, "waiters never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100));
}

/// Counts task polls over 500 ms of idleness and asserts they stay tiny.
fn assert_idle(rt: &Runtime, what: &str) {
    let polls0 = rt.metrics().tasks_polled();
    let cpu0 = cpu_time();
    std::thread::sleep(Duration::from_millis(500));
    let polls = rt.metrics().tasks_polled() - polls0;
    let cpu = cpu_time() - cpu0;
    eprintln!("{what}: {polls} task polls, {cpu:?} process CPU in 500 ms idle");
    assert!(
        polls < IDLE_POLL_LIMIT,
        "{what}: {polls} task polls in 500 ms with nothing ready (wake storm)"
    );
}

/// Waits until `done` reaches `n`, then checks the polls the wake-up cost.
fn assert_all_woken(rt: &Runtime, done: &AtomicUsize, n: usize, polls0: u64, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while done.load(Ordering::SeqCst) < n {
        assert!(
            Instant::now() < deadline,
            "{what}: only {} of {n} waiters proceeded",
            done.load(Ordering::SeqCst)
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let polls = rt.metrics().tasks_polled() - polls0;
    eprintln!("{what}: {polls} task polls to wake {n} waiters");
    assert!(
        polls < 10 * n as u64,
        "{what}: {polls} polls to wake {n} waiters"
    );
}

#[test]
fn many_readable_waiters_on_one_idle_udp_socket() {
    let rt = workers(2);
    let sock = Arc::new(rt.block_on(UdpSocket::bind("127.0.0.1:0")).unwrap());
    let addr = sock.local_addr().unwrap();
    let started = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    for _ in 0..WAITERS {
        let (sock, started, done) = (sock.clone(), started.clone(), done.clone());
        rt.spawn(async move {
            started.fetch_add(1, Ordering::SeqCst);
            sock.readable().await.unwrap();
            done.fetch_add(1, Ordering::SeqCst);
        });
    }
    wait_started(&started, WAITERS);
    assert_idle(&rt, "udp readable()");
    assert_eq!(done.load(Ordering::SeqCst), 0, "nothing was ready");
    let polls0 = rt.metrics().tasks_polled();
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sender.send_to(b"x", addr).unwrap();
    assert_all_woken(&rt, &done, WAITERS, polls0, "udp readable()");
}

#[test]
fn many_readable_waiters_on_one_idle_poll_fd() {
    let rt = workers(2);
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    let fd = Arc::new(rt.block_on(async { PollFd::new(a) }).unwrap());
    let started = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    for _ in 0..WAITERS {
        let (fd, started, done) = (fd.clone(), started.clone(), done.clone());
        rt.spawn(async move {
            started.fetch_add(1, Ordering::SeqCst);
            fd.readable().await.unwrap();
            done.fetch_add(1, Ordering::SeqCst);
        });
    }
    wait_started(&started, WAITERS);
    assert_idle(&rt, "PollFd readable()");
    assert_eq!(done.load(Ordering::SeqCst), 0, "nothing was ready");
    let polls0 = rt.metrics().tasks_polled();
    std::io::Write::write_all(&mut b, b"x").unwrap();
    assert_all_woken(&rt, &done, WAITERS, polls0, "PollFd readable()");
}

#[test]
fn many_async_readers_on_one_idle_shared_tcp_stream() {
    let rt = workers(2);
    let (client, mut server) = rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let server = std::net::TcpStream::connect(addr).unwrap();
        let (client, _) = l.accept().await.unwrap();
        (client, server)
    });
    let client: Arc<TcpStream> = Arc::new(client);
    let started = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let bytes = Arc::new(AtomicUsize::new(0));
    for _ in 0..WAITERS {
        let (client, started, done, bytes) =
            (client.clone(), started.clone(), done.clone(), bytes.clone());
        rt.spawn(async move {
            started.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 1];
            // The stateless futures-io path (`AsyncRead for &TcpStream`);
            // method syntax would pick the inherent, locking `read`.
            let mut reader: &TcpStream = &client;
            let n = AsyncReadExt::read(&mut reader, &mut buf).await.unwrap();
            bytes.fetch_add(n, Ordering::SeqCst);
            done.fetch_add(1, Ordering::SeqCst);
        });
    }
    wait_started(&started, WAITERS);
    assert_idle(&rt, "&TcpStream AsyncRead");
    assert_eq!(done.load(Ordering::SeqCst), 0, "nothing was ready");
    let polls0 = rt.metrics().tasks_polled();
    // One byte per reader, in one segment: every reader gets exactly one.
    std::io::Write::write_all(&mut server, &[7u8; WAITERS]).unwrap();
    assert_all_woken(&rt, &done, WAITERS, polls0, "&TcpStream AsyncRead");
    assert_eq!(bytes.load(Ordering::SeqCst), WAITERS);
}
