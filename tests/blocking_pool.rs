//! The blocking pool: separate threads, a cap, idle exit, names, panics,
//! and shutdown behaviour.

use goro::runtime::Builder;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[test]
fn runs_off_the_workers_with_named_threads() {
    let rt = Builder::new().worker_threads(1).build().unwrap();
    let name = rt.block_on(async {
        goro::spawn_blocking(|| std::thread::current().name().map(str::to_owned))
            .await
            .unwrap()
    });
    let name = name.expect("pool threads are named");
    assert!(name.starts_with("goro-blocking-"), "{name}");
}

#[test]
fn the_cap_bounds_concurrency() {
    let rt = Builder::new()
        .worker_threads(1)
        .max_blocking_threads(2)
        .build()
        .unwrap();
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let (running, peak) = (running.clone(), peak.clone());
                goro::spawn_blocking(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(50));
                    running.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
    });
    assert_eq!(peak.load(Ordering::SeqCst), 2);
    assert!(rt.metrics().blocking_threads <= 2);
}

#[test]
fn idle_threads_exit() {
    let rt = Builder::new()
        .worker_threads(1)
        .thread_keep_alive(Duration::from_millis(100))
        .build()
        .unwrap();
    rt.block_on(async {
        let hs: Vec<_> = (0..3)
            .map(|_| goro::spawn_blocking(|| std::thread::sleep(Duration::from_millis(20))))
            .collect();
        for h in hs {
            h.await.unwrap();
        }
    });
    assert!(rt.metrics().blocking_threads >= 1);
    let deadline = Instant::now() + Duration::from_secs(5);
    while rt.metrics().blocking_threads > 0 {
        assert!(
            Instant::now() < deadline,
            "idle blocking threads never exited"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn panics_become_join_errors() {
    let rt = Builder::new().worker_threads(1).build().unwrap();
    rt.block_on(async {
        let e = goro::spawn_blocking(|| -> u8 { panic!("blocking boom") })
            .await
            .unwrap_err();
        assert!(e.is_panic());
        let msg = e.into_panic();
        assert_eq!(msg.downcast_ref::<&str>(), Some(&"blocking boom"));
        // The pool keeps working.
        assert_eq!(goro::spawn_blocking(|| 3).await.unwrap(), 3);
    });
}

#[test]
fn shutdown_cancels_queued_work_and_does_not_wait_for_running_work() {
    let rt = Builder::new()
        .worker_threads(1)
        .max_blocking_threads(1)
        .build()
        .unwrap();
    let (running, queued) = rt.block_on(async {
        let running = goro::spawn_blocking(|| std::thread::sleep(Duration::from_secs(2)));
        // Make sure the first closure has started before queueing the second.
        goro::time::sleep(Duration::from_millis(50)).await;
        let queued = goro::spawn_blocking(|| 1);
        (running, queued)
    });
    let start = Instant::now();
    // (Dropping the runtime would wait for the running closure.)
    rt.shutdown_background();
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "shutdown_background waited: {:?}",
        start.elapsed()
    );
    let err = futures::executor::block_on(queued).unwrap_err();
    assert!(err.is_cancelled(), "{err}");
    // The running closure was detached: it still completes.
    futures::executor::block_on(running).unwrap();
}

#[test]
fn spawn_blocking_outside_a_runtime_uses_the_default_one() {
    let v = futures::executor::block_on(goro::spawn_blocking(|| 40 + 2)).unwrap();
    assert_eq!(v, 42);
}
