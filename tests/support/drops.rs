//! Counting drops (a task's future, its output, a panic payload), and
//! waiting, with a deadline that fails the test, until a count says so.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

/// Adds one to its counter when dropped: held by a future or returned as
/// an output to see when (and how often) it is dropped.
pub struct Counted(pub Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A task on `rt` that returns a [`Counted`] once `finish` (the sender
/// returned) is sent, or after `patience`; and the count of the output's
/// drops.
pub fn task_finishing_on_demand(
    rt: &goro::runtime::Runtime,
    patience: Duration,
) -> (
    goro::task::JoinHandle<Counted>,
    mpsc::Sender<()>,
    Arc<AtomicUsize>,
) {
    let drops = Arc::new(AtomicUsize::new(0));
    let output = Counted(drops.clone());
    let (finish, finish_rx) = mpsc::channel::<()>();
    let handle = rt.spawn(async move {
        // Blocks its worker: the test decides when the task completes.
        let _ = finish_rx.recv_timeout(patience);
        output
    });
    (handle, finish, drops)
}

/// A task on `rt` that never finishes and holds a [`Counted`]; and the
/// count of its future's drops.
pub fn pending_task(rt: &goro::runtime::Runtime) -> (goro::task::JoinHandle<()>, Arc<AtomicUsize>) {
    let future_drops = Arc::new(AtomicUsize::new(0));
    let guard = Counted(future_drops.clone());
    let handle = rt.spawn(async move {
        let _guard = guard;
        std::future::pending::<()>().await;
    });
    (handle, future_drops)
}

/// How long [`wait_until`] waits on a loaded machine before it fails.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Polls `f` every millisecond until it says true; fails the test, naming
/// `what`, after [`PATIENCE`].
pub fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}
