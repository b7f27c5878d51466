//! Regression test for issue 8, bug 6: a waker from another executor that
//! panics when goro wakes it.
//!
//! goro wakes such wakers on its own threads: the M blocked in netpoll, a
//! worker firing timers. The panic used to unwind out of the blocking poll,
//! killing that thread and leaving the runtime's "an M is polling" flag set
//! forever, so the network was never polled again. Now the panic is
//! contained: the runtime keeps delivering other sockets' traffic and
//! firing timers.

use goro::net::UdpSocket;
use goro::runtime::{Builder, Runtime};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

/// A waker of some other executor that panics when woken.
struct PanickingWaker(AtomicUsize);

impl Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
        panic!("foreign waker panics on wake (expected by this test)");
    }
}

/// Polls `fut` once with a panicking waker; it must be pending.
fn poll_once_with<F: Future + ?Sized>(fut: Pin<&mut F>, waker: &Arc<PanickingWaker>) {
    let waker = Waker::from(waker.clone());
    let mut cx = Context::from_waker(&waker);
    assert!(fut.poll(&mut cx).is_pending(), "nothing is ready yet");
}

/// Waits for `rx` without relying on goro's timers (which may be what
/// broke).
fn recv<T>(rx: &mpsc::Receiver<T>, what: &str) -> T {
    rx.recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("{what}: the runtime stopped making progress"))
}

/// Worker threads of this process named `name` (thread names are cut to
/// 15 bytes in /proc).
fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == name)
        .count()
}

/// Checks that the runtime still delivers datagrams to a task (several
/// rounds, so an M has to block in netpoll again between them) and still
/// fires timers.
fn assert_runtime_alive(rt: &Runtime) {
    let b = Arc::new(rt.block_on(UdpSocket::bind("127.0.0.1:0")).unwrap());
    let addr = b.local_addr().unwrap();
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for round in 0..3u8 {
        let (tx, rx) = mpsc::channel();
        let b2 = b.clone();
        rt.spawn(async move {
            let mut buf = [0u8; 8];
            let r = b2.recv(&mut buf).await.map(|n| buf[..n].to_vec());
            let _ = tx.send(r);
        });
        // Let the runtime go idle, with an M blocked in netpoll.
        std::thread::sleep(Duration::from_millis(50));
        sender.send_to(&[round], addr).unwrap();
        let got = recv(&rx, &format!("round {round}: datagram"));
        assert_eq!(got.unwrap(), [round]);
    }
    let (tx, rx) = mpsc::channel();
    rt.spawn(async move {
        goro::time::sleep(Duration::from_millis(20)).await;
        let _ = tx.send(());
    });
    recv(&rx, "timer");
}

#[test]
fn a_panicking_waker_woken_by_netpoll_does_not_stop_the_poller() {
    let rt = Builder::new().worker_threads(2).build().unwrap();
    let a = Arc::new(rt.block_on(UdpSocket::bind("127.0.0.1:0")).unwrap());
    let a_addr = a.local_addr().unwrap();
    let panicky = Arc::new(PanickingWaker(AtomicUsize::new(0)));
    // A read of `a` polled by "another executor" (this thread, by hand).
    let a2 = a.clone();
    let mut foreign = Box::pin(async move {
        let mut buf = [0u8; 8];
        a2.recv(&mut buf).await
    });
    poll_once_with(foreign.as_mut(), &panicky);
    std::thread::sleep(Duration::from_millis(50));
    // Readiness on `a`: whichever goro thread polls the network wakes the
    // panicking waker.
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sender.send_to(b"boom", a_addr).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while panicky.0.load(Ordering::SeqCst) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the event never reached the waker"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_runtime_alive(&rt);
    drop(foreign);
}

#[test]
fn a_panicking_waker_woken_by_a_timer_does_not_stop_the_runtime() {
    const NAME: &str = "tmr-panic-m";
    let rt = Builder::new()
        .worker_threads(2)
        .thread_name(NAME)
        .build()
        .unwrap();
    // Threads name themselves as they start.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while threads_named(NAME) < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "workers never started"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let workers = threads_named(NAME);
    let panicky = Arc::new(PanickingWaker(AtomicUsize::new(0)));
    // A sleep polled by "another executor" (by hand, with a panicking
    // waker); it arms its timer on the first poll, so poll it inside `rt`.
    let mut sleep = Box::pin(goro::time::sleep(Duration::from_millis(30)));
    rt.block_on(async { poll_once_with(sleep.as_mut(), &panicky) });
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while panicky.0.load(Ordering::SeqCst) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the timer never fired"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        threads_named(NAME) >= workers,
        "the worker thread that fired the timer died of the waker's panic"
    );
    assert_runtime_alive(&rt);
    let waker = Waker::noop();
    assert_eq!(
        sleep.as_mut().poll(&mut Context::from_waker(waker)),
        Poll::Ready(()),
        "the sleep itself completed"
    );
}
