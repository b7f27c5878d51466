//! sysmon still hands a P away from a worker stuck in a long poll after an
//! earlier task on that P gave it up mid-poll (`block_in_place`).
//!
//! What this guards: a worker used to mark "polling a task" on the P it
//! started with, and clear the mark on that same P when the poll returned.
//! A task that gives its P away mid-poll (`block_in_place`, or `block_on`
//! on a worker) returns while another thread owns the P, and the late
//! clear wiped the new owner's mark. sysmon, which only retakes a P whose
//! owner is inside a poll, then left a P with a stuck task alone, and
//! everything queued behind that task waited for it.
//!
//! Timeline (one P):
//!   t=0     A: block_in_place(sleep 400 ms)  -> P0 released (idle)
//!   t=100   B: std::thread::sleep(3 s)       -> a new M takes P0 and polls B
//!   t=400   A's poll returns on the old M    -> (used to clear B's mark)
//!   t=600   C spawned                        -> sysmon must hand P0 off
//! C must run about 10 ms later, not when B returns (~2.5 s later).

use goro::runtime::Builder;
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BOUND: Duration = Duration::from_millis(1000);

fn scenario(use_block_in_place: bool) -> Duration {
    let rt = Builder::new().worker_threads(1).build().unwrap();
    if use_block_in_place {
        rt.spawn(async {
            goro::task::block_in_place(|| std::thread::sleep(Duration::from_millis(400)));
        });
    }
    std::thread::sleep(Duration::from_millis(100));
    rt.spawn(async { std::thread::sleep(Duration::from_secs(3)) });
    std::thread::sleep(Duration::from_millis(500));
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    rt.spawn(async move {
        let _ = tx.send(start.elapsed());
    });
    let late = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    std::mem::forget(rt);
    late
}

/// Control: without the earlier `block_in_place`, sysmon hands P0 off from
/// the blocked M and C runs promptly.
#[test]
fn control_blocked_worker_is_handed_off() {
    let late = scenario(false);
    assert!(late < BOUND, "control failed: {late:?}");
}

#[test]
fn handoff_still_works_after_block_in_place_returned() {
    let late = scenario(true);
    assert!(
        late < BOUND,
        "task waited {late:?} behind a blocked worker: sysmon did not hand off"
    );
}
