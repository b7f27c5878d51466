//! `max_spare_threads` bounds the threads sysmon starts for stuck polls
//! and the spare threads left idle; it never stops a worker that blocks on
//! purpose (`block_in_place`, `Handle::block_on` on a worker) from handing
//! its P away, as a Go syscall always releases its P.
//!
//! What this guards: with one worker and no spare threads allowed, a task
//! that blocked in place kept its P, because no thread was free to take
//! it; a task queued behind it on that P never ran, and when the blocked
//! code waited for that task (a channel it would send on) the runtime
//! deadlocked silently.

mod support;

use goro::runtime::{Builder, Handle, Runtime};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::hang::within;

/// How long the blocked code waits for the queued task before it gives
/// up: the task runs within milliseconds once the P is handed off, and
/// never otherwise.
const PATIENCE: Duration = Duration::from_secs(10);

fn one_worker_no_spares(keep_alive: Duration) -> Runtime {
    Builder::new()
        .worker_threads(1)
        .max_spare_threads(0)
        .thread_keep_alive(keep_alive)
        .build()
        .unwrap()
}

/// A task blocks (as `block`) on a channel that a task it spawned just
/// before, queued behind it on the same P, sends on.
fn blocks_on_a_task_queued_behind_it(
    rt: &Runtime,
    block: fn(&mpsc::Receiver<u32>) -> Result<u32, mpsc::RecvTimeoutError>,
) -> Result<u32, mpsc::RecvTimeoutError> {
    rt.block_on(async move {
        goro::spawn(async move {
            let (tx, rx) = mpsc::channel();
            let sender = goro::spawn(async move {
                let _ = tx.send(7);
            });
            let got = block(&rx);
            sender.await.unwrap();
            got
        })
        .await
        .unwrap()
    })
}

#[test]
fn block_in_place_hands_off_without_spare_threads() {
    let got = within(PATIENCE * 3, || {
        let rt = one_worker_no_spares(Duration::from_secs(10));
        let got = blocks_on_a_task_queued_behind_it(&rt, |rx| {
            goro::task::block_in_place(|| rx.recv_timeout(PATIENCE))
        });
        std::mem::forget(rt);
        got
    });
    assert_eq!(
        got,
        Ok(7),
        "the task queued behind block_in_place never ran"
    );
}

#[test]
fn block_on_in_a_task_hands_off_without_spare_threads() {
    let got = within(PATIENCE * 3, || {
        let rt = one_worker_no_spares(Duration::from_secs(10));
        let got = blocks_on_a_task_queued_behind_it(&rt, |rx| {
            Handle::current().block_on(async { rx.recv_timeout(PATIENCE) })
        });
        std::mem::forget(rt);
        got
    });
    assert_eq!(got, Ok(7), "the task queued behind block_on never ran");
}

#[test]
fn spares_beyond_the_cap_exit_once_idle() {
    within(PATIENCE * 3, || {
        // Keep-alive far longer than the test: only the cap can make the
        // extra thread exit.
        let rt = one_worker_no_spares(Duration::from_secs(600));
        let got = blocks_on_a_task_queued_behind_it(&rt, |rx| {
            goro::task::block_in_place(|| rx.recv_timeout(PATIENCE))
        });
        assert_eq!(got, Ok(7));
        let deadline = Instant::now() + PATIENCE;
        while rt.metrics().spare_threads != 0 {
            assert!(
                Instant::now() < deadline,
                "an idle spare outlived the cap of 0: {:?}",
                rt.metrics()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        // The runtime still works with its one worker.
        assert_eq!(rt.block_on(rt.spawn(async { 3 })).unwrap(), 3);
    });
}
