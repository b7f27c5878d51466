//! Regression test for a bug found in review, since fixed; the scenario
//! as it was found:
//!
//! `run_task` (src/scheduler/machine.rs) sets `p.in_poll = true`
//! before polling and `p.in_poll = false` after, on the P it *started*
//! with. When the task gives its P away mid-poll (`block_in_place`, or
//! `block_on` on a worker: `hand_off_current_p`), the P is run by another M
//! by the time the poll returns, and the final store clears the *new*
//! owner's `in_poll`. If that new owner is itself stuck in a long poll,
//! sysmon (`sysmon.rs` step 3: `!p.in_poll` => skip) never hands its P off,
//! and every task queued behind it waits for the whole blocking call.
//!
//! Timeline (one P):
//!   t=0     A: block_in_place(sleep 400 ms)  -> P0 released (idle)
//!   t=100   B: std::thread::sleep(3 s)       -> a new M takes P0, in_poll = true
//!   t=400   A's poll returns on the old M    -> P0.in_poll = false (clobbered)
//!   t=600   C spawned                        -> sysmon sees in_poll == false: no hand-off
//! C then runs only when B returns (~2.5 s later) instead of ~10 ms later.

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
