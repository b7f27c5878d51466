//! `Runtime::metrics()` and `GORO_SCHEDTRACE`.

use goro::runtime::Builder;
use std::time::Duration;

#[test]
fn counters_move_with_the_work() {
    let rt = Builder::new().worker_threads(2).build().unwrap();
    let before = rt.metrics();
    assert_eq!(before.workers.len(), 2);
    rt.block_on(async {
        let hs: Vec<_> = (0..1000).map(|i| goro::spawn(async move { i })).collect();
        for h in hs {
            h.await.unwrap();
        }
        goro::time::sleep(Duration::from_millis(5)).await;
        goro::spawn(async { goro::time::sleep(Duration::from_millis(5)).await })
            .await
            .unwrap();
        // Some socket traffic for the poller counters.
        let l = goro::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let server = goro::spawn(async move {
            let (s, _) = l.accept().await.unwrap();
            let mut b = [0u8; 4];
            s.read_exact(&mut b).await.unwrap();
        });
        let c = goro::net::TcpStream::connect(addr).await.unwrap();
        goro::time::sleep(Duration::from_millis(5)).await;
        c.write_all(b"ping").await.unwrap();
        server.await.unwrap();
        goro::spawn_blocking(|| ()).await.unwrap();
    });
    let m = rt.metrics();
    assert!(m.tasks_polled() >= before.tasks_polled() + 1000, "{m:?}");
    assert!(m.timers_fired() >= 2, "{m:?}");
    assert!(m.events_delivered >= 1, "{m:?}");
    assert!(
        m.netpoll_blocking + m.netpoll_nonblocking() + m.netpoll_sysmon >= 1,
        "{m:?}"
    );
    assert!(m.blocking_threads >= 1, "{m:?}");
    assert_eq!(m.worker_threads, 2);
    assert_eq!(m.tasks_alive, 0, "{m:?}");
    assert_eq!(m.descriptors, 0, "all sockets were dropped: {m:?}");
}

#[test]
fn tasks_alive_counts_pending_tasks() {
    let rt = Builder::new().worker_threads(1).build().unwrap();
    let handles: Vec<_> = (0..10)
        .map(|_| rt.spawn(std::future::pending::<()>()))
        .collect();
    assert_eq!(rt.metrics().tasks_alive, 10);
    for h in &handles {
        h.abort();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while rt.metrics().tasks_alive != 0 {
        assert!(std::time::Instant::now() < deadline, "{:?}", rt.metrics());
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn global_queue_and_local_queues_are_reported() {
    let rt = Builder::new().worker_threads(1).build().unwrap();
    // Fill the only worker's queue while it is blocked, from outside.
    rt.block_on(async {
        let gate = std::sync::Arc::new(std::sync::Barrier::new(2));
        let g = gate.clone();
        let blocker = goro::spawn(async move {
            g.wait();
            std::thread::sleep(Duration::from_millis(5));
        });
        let h = goro::runtime::Handle::current();
        let queued: Vec<_> = (0..50).map(|_| h.spawn(async {})).collect();
        let m = h.metrics();
        assert!(
            m.global_queue_depth + m.local_queue_depth() >= 1,
            "queued tasks not visible: {m:?}"
        );
        gate.wait();
        blocker.await.unwrap();
        for q in queued {
            q.await.unwrap();
        }
    });
}

#[test]
fn schedtrace_prints_lines() {
    if std::env::var_os("GORO_SCHEDTRACE_CHILD").is_some() {
        let rt = Builder::new().worker_threads(2).build().unwrap();
        rt.block_on(async {
            let hs: Vec<_> = (0..8)
                .map(|_| goro::spawn(goro::time::sleep(Duration::from_millis(200))))
                .collect();
            for h in hs {
                h.await.unwrap();
            }
        });
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "schedtrace_prints_lines", "--nocapture"])
        .env("GORO_SCHEDTRACE", "50")
        .env("GORO_SCHEDTRACE_CHILD", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    let lines = err.lines().filter(|l| l.starts_with("goro SCHED")).count();
    assert!(lines >= 2, "expected trace lines, got:\n{err}");
    assert!(err.contains("procs=2"), "{err}");
}

#[test]
fn num_workers_is_the_p_count() {
    let rt = Builder::new().worker_threads(3).build().unwrap();
    let m = rt.metrics();
    assert_eq!(m.num_workers(), 3);
    assert_eq!(m.num_workers(), m.workers.len());
}

#[test]
fn num_alive_tasks_is_exact_when_quiescent() {
    let rt = Builder::new().worker_threads(2).build().unwrap();
    assert_eq!(rt.metrics().num_alive_tasks(), 0);
    let pending: Vec<_> = (0..10)
        .map(|_| rt.spawn(std::future::pending::<()>()))
        .collect();
    // Detached tasks count too, until they finish.
    let go = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    for _ in 0..5 {
        let (go, done) = (go.clone(), done_tx.clone());
        drop(rt.spawn(async move {
            while !go.load(std::sync::atomic::Ordering::Acquire) {
                goro::time::sleep(Duration::from_millis(1)).await;
            }
            drop(done);
        }));
    }
    drop(done_tx);
    assert_eq!(rt.metrics().num_alive_tasks(), 15);
    // A finished, joined task is gone at once.
    rt.block_on(rt.spawn(async {})).unwrap();
    assert_eq!(rt.metrics().num_alive_tasks(), 15);
    for h in &pending {
        h.abort();
    }
    for h in pending {
        // A cancelled handle resolves once the future has been dropped.
        assert!(rt.block_on(h).unwrap_err().is_cancelled());
    }
    assert_eq!(rt.metrics().num_alive_tasks(), 5);
    go.store(true, std::sync::atomic::Ordering::Release);
    // The channel disconnects when the last detached task has finished.
    assert!(done_rx.recv().is_err());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while rt.metrics().num_alive_tasks() != 0 {
        assert!(std::time::Instant::now() < deadline, "{:?}", rt.metrics());
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(rt.metrics().num_alive_tasks(), rt.metrics().tasks_alive);
}

#[test]
fn global_queue_depth_counts_tasks_spawned_from_outside() {
    // One P, never handed off: while its worker is stuck in a poll, tasks
    // spawned from a plain thread wait in the global queue.
    let rt = Builder::new()
        .worker_threads(1)
        .handoff_after(Duration::from_secs(3600))
        .max_spare_threads(0)
        .build()
        .unwrap();
    let gate = std::sync::Arc::new(std::sync::Barrier::new(2));
    let g = gate.clone();
    let blocker = rt.spawn(async move {
        g.wait(); // the worker is now inside this poll
        g.wait();
    });
    gate.wait();
    let queued: Vec<_> = (0..50).map(|_| rt.spawn(async {})).collect();
    let m = rt.metrics();
    assert_eq!(m.global_queue_depth(), 50, "{m:?}");
    assert_eq!(m.global_queue_depth(), m.global_queue_depth);
    gate.wait();
    rt.block_on(async {
        blocker.await.unwrap();
        for q in queued {
            q.await.unwrap();
        }
    });
    assert_eq!(rt.metrics().global_queue_depth(), 0);
}
