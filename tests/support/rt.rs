//! Runtime builders for tests that need their own runtime rather than the
//! default one.

use goro::runtime::{Builder, Runtime};
use std::sync::mpsc;
use std::time::Duration;

/// A runtime with `n` worker threads.
pub fn workers(n: usize) -> Runtime {
    Builder::new()
        .worker_threads(n)
        .build()
        .expect("build runtime")
}

/// A runtime with one worker thread: everything lands on its one P, which
/// is what the hand-off tests need.
pub fn one_worker() -> Runtime {
    workers(1)
}

/// Binds a UDP socket on `rt` (to see afterwards that it reports the
/// shutdown), lets the runtime run for 20 ms, then drops `rt` on a new
/// thread, catching a panic: the receiver gets whether the drop returned
/// without unwinding (nothing, if it hangs).
pub fn bind_then_drop_elsewhere(rt: Runtime) -> (goro::net::UdpSocket, mpsc::Receiver<bool>) {
    let sock = rt
        .block_on(goro::net::UdpSocket::bind("127.0.0.1:0"))
        .unwrap();
    rt.block_on(goro::time::sleep(Duration::from_millis(20)));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(rt)));
        let _ = tx.send(r.is_ok());
    });
    (sock, rx)
}
