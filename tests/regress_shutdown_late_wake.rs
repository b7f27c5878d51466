//! Regression test for a bug found in review, since fixed; the scenario
//! as it was found:
//!
//! `Shared::shutdown` (src/scheduler/mod.rs) detaches an M that is
//! stuck inside a task's poll for longer than SHUTDOWN_GRACE, then `drain`s
//! the queues and sets `drained`. When the stuck poll finally returns
//! `Pending` with the task already re-woken (by itself, or by `drain`'s
//! registry wake-up, which happened *during* the poll), async-task calls the
//! schedule function on that worker thread: `schedule_task` ->
//! `schedule_local`, which — unlike `schedule_remote` — does not look at
//! `drained`, and pushes the task onto its P's run queue. Nobody will ever
//! pop it: the M exits on the shutdown flag and the drain is over.
//!
//! The queued `Runnable` holds an `Arc<Shared>` (task metadata) and
//! `Shared` owns the run queue that holds the `Runnable`: a reference cycle.
//! The task's future — and every socket / fd / buffer it owns — is never
//! dropped. DESIGN.md: "dropping a Runtime shuts it down: tasks are
//! dropped, threads joined, fds closed".

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
