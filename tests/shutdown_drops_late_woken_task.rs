//! Dropping a runtime drops every task's future, also that of a task whose
//! poll was still running on a detached worker when shutdown finished and
//! which woke itself during that poll (DESIGN.md: "dropping a Runtime shuts
//! it down: tasks are dropped, threads joined, fds closed").
//!
//! What this guards: shutdown detaches a worker stuck in a task's poll for
//! longer than its grace period, then drains the run queues. When the
//! stuck poll returned `Pending` with the task already woken again, the
//! task used to be pushed onto its P's local run queue, which nobody would
//! pop again. The queued task held the scheduler's shared state and that
//! state owned the queue: a reference cycle, so the future, and every
//! socket and buffer it owned, were never dropped. A late wake-up after
//! the drain must drop the task instead.

use goro::runtime::Builder;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

struct DropFlag(Arc<AtomicBool>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn task_stuck_during_shutdown_is_dropped_when_its_poll_returns() {
    let rt = Builder::new().worker_threads(1).build().unwrap();
    let dropped = Arc::new(AtomicBool::new(false));
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let flag = DropFlag(dropped.clone());
    // Also own a real fd, to show what leaks.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        let _flag = flag;
        let _listener = goro::net::TcpListener::from_std(listener).unwrap();
        let _ = started_tx.send(());
        loop {
            std::thread::sleep(Duration::from_millis(600));
            goro::task::yield_now().await;
        }
    });
    started_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let t = Instant::now();
    drop(rt);
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "drop took {:?}",
        t.elapsed()
    );
    // The stuck poll returns within ~600 ms; give it plenty of time.
    let deadline = Instant::now() + Duration::from_secs(4);
    while !dropped.load(Ordering::SeqCst) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let still_listening = std::net::TcpStream::connect(addr).is_ok();
    assert!(
        dropped.load(Ordering::SeqCst),
        "the task's future was never dropped (listener fd still open: {still_listening})"
    );
}
