//! The parts of the "I/O parked next to a long task" scenario that
//! tests/io_behind_a_woken_task.rs and tests/sched_review_io_then_wake.rs
//! share: task T parks a read and queues task U, which computes for a long
//! time on T's worker; the peer writes during U's run, and the name of the
//! thread that wakes T tells whether the idle worker served the read or
//! only sysmon's backstop poll did.

use goro::runtime::{Builder, Runtime};
use std::io::Write;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long U computes.
pub const BUSY: Duration = Duration::from_millis(400);
/// Time for the idle worker to park before T parks its read.
pub const SETTLE: Duration = Duration::from_millis(100);
/// How long after U starts the peer writes.
pub const WRITE_AFTER: Duration = Duration::from_millis(50);
/// The prefix of the runtime's worker names.
pub const WORKER: &str = "review-worker";

/// The scenario's runtime: two workers named [`WORKER`].
pub fn runtime() -> Runtime {
    Builder::new()
        .worker_threads(2)
        .thread_name(WORKER)
        // U's long poll is the point of the test, not a stall to report.
        .stall_threshold(Duration::from_secs(30))
        .build()
        .expect("runtime")
}

/// U's body: says it started on `busy_tx`, then computes for [`BUSY`].
pub fn compute(busy_tx: mpsc::Sender<()>) {
    let _ = busy_tx.send(());
    let end = Instant::now() + BUSY;
    while Instant::now() < end {
        std::hint::spin_loop();
    }
}

/// Once U has started (`busy`), writes T's byte to `theirs`
/// [`WRITE_AFTER`] into U's run; returns the name of the thread that first
/// woke T (from `woken`).
pub fn write_during_u(
    busy: &mpsc::Receiver<()>,
    theirs: &mut StdUnixStream,
    woken: &mpsc::Receiver<String>,
) -> String {
    busy.recv_timeout(Duration::from_secs(10))
        .expect("U never ran");
    std::thread::sleep(WRITE_AFTER);
    theirs.write_all(b"t").expect("write");
    woken
        .recv_timeout(Duration::from_secs(10))
        .expect("T was never woken")
}
