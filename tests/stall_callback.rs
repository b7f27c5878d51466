//! The `on_stall` callback runs without any lock the stalled worker needs:
//! a slow reporter (a blocked stderr pipe, a remote logger) must not extend
//! the stall it reports, and a callback that hands the report to a task and
//! waits for it must not deadlock with the worker whose poll just returned.
//! (Both failed when sysmon delivered the report while holding the M's
//! stall slot lock, which the worker takes when its poll returns.)

use goro::runtime::{Runtime, StallReport};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
// The stuck task returns the handle of the task it spawned, to await here.
#[allow(clippy::async_yields_async)]
fn worker_does_not_wait_for_a_slow_stall_callback() {
    let rt = Runtime::builder()
        .worker_threads(1)
        .stall_threshold(Duration::from_millis(20))
        .on_stall(|r: &StallReport| {
            if !r.finished() {
                // A slow reporter.
                std::thread::sleep(Duration::from_secs(2));
            }
        })
        .build()
        .unwrap();
    let ended: Arc<Mutex<Option<Instant>>> = Arc::default();
    let next_started: Arc<Mutex<Option<Instant>>> = Arc::default();
    let (e, n) = (ended.clone(), next_started.clone());
    let h = rt.handle();
    let stuck = rt.spawn(async move {
        std::thread::sleep(Duration::from_millis(80)); // the stall
        // Queued on this worker (runnext): runs as soon as the poll returns.
        let next = h.spawn(async move {
            *n.lock().unwrap() = Some(Instant::now());
        });
        *e.lock().unwrap() = Some(Instant::now());
        next
    });
    let next = rt.block_on(stuck).unwrap();
    rt.block_on(next).unwrap();
    let gap = next_started.lock().unwrap().unwrap() - ended.lock().unwrap().unwrap();
    assert!(
        gap < Duration::from_secs(1),
        "the worker waited {gap:?} after the stalled poll returned"
    );
}

/// The same lock turns a callback that hands the report to a task (and
/// waits for it, bounded) into a deadlock: the only worker, its stalled poll
/// over, waits for the callback, which waits for the worker.
#[test]
fn callback_handing_the_report_to_a_task_does_not_deadlock() {
    let handle: Arc<Mutex<Option<goro::runtime::Handle>>> = Arc::default();
    let waited: Arc<Mutex<Option<Duration>>> = Arc::default();
    let (h2, w2) = (handle.clone(), waited.clone());
    let rt = Runtime::builder()
        .worker_threads(1)
        .stall_threshold(Duration::from_millis(20))
        .on_stall(move |r: &StallReport| {
            if r.finished() {
                return;
            }
            let Some(h) = h2.lock().unwrap().clone() else {
                return;
            };
            let (tx, rx) = std::sync::mpsc::channel();
            let t = Instant::now();
            drop(h.spawn(async move {
                let _ = tx.send(());
            }));
            let _ = rx.recv_timeout(Duration::from_secs(2));
            *w2.lock().unwrap() = Some(t.elapsed());
        })
        .build()
        .unwrap();
    *handle.lock().unwrap() = Some(rt.handle());
    rt.block_on(rt.spawn(async {
        std::thread::sleep(Duration::from_millis(80));
    }))
    .unwrap();
    let t = Instant::now();
    while waited.lock().unwrap().is_none() && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let w = waited.lock().unwrap().expect("the callback ran");
    assert!(
        w < Duration::from_secs(1),
        "the callback's task ran only after {w:?}"
    );
}

/// A stall callback that drops the runtime it reports on (the last
/// reference to it), for the "stalled" report (on sysmon's thread) and for
/// the "returned" one (on sysmon's or the stalled worker's): the drop
/// returns, without waiting for itself.
#[test]
fn a_stall_callback_may_drop_its_runtime() {
    for on_finished in [false, true] {
        let slot: Arc<Mutex<Option<Runtime>>> = Arc::default();
        let (dropped_tx, dropped_rx) = std::sync::mpsc::channel();
        let rt = {
            let slot = slot.clone();
            Runtime::builder()
                .worker_threads(1)
                .stall_threshold(Duration::from_millis(10))
                .on_stall(move |r: &StallReport| {
                    if r.finished() == on_finished {
                        let rt = slot.lock().unwrap().take();
                        if rt.is_some() {
                            drop(rt);
                            let _ = dropped_tx.send(());
                        }
                    }
                })
                .build()
                .unwrap()
        };
        let handle = rt.handle();
        *slot.lock().unwrap() = Some(rt);
        handle.spawn(async { std::thread::sleep(Duration::from_millis(60)) });
        drop(handle);
        assert!(
            dropped_rx.recv_timeout(Duration::from_secs(10)).is_ok(),
            "the callback's drop of the runtime (finished: {on_finished}) did not return"
        );
    }
}
