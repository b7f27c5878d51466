//! Review of the shutdown contract (DESIGN.md §3, "Runtime shutdown"): a
//! task whose future panics in its destructor — `send(..).unwrap()` to a
//! receiver that is gone, an `assert!` in a guard — when the task is
//! dropped off its poll: at runtime shutdown, by `abort`, or as a
//! `spawn_blocking` closure cancelled before it started. async-task aborts
//! the process when a future's drop panics, so dropping such a runtime used
//! to kill the process (SIGABRT, "panic in a function that cannot
//! unwind"). Now the panic is contained, as in tokio: the drop returns,
//! the other tasks are cancelled, and the runtime's sockets are released.
//!
//! A regression aborts this whole binary, which is why these tests live in
//! a file of their own. Every wait has a timeout.

mod support;

use goro::runtime::Builder;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;
use support::rt::{bind_then_drop_elsewhere, workers};

const PROMPT: Duration = Duration::from_secs(10);

/// Panics when dropped, after counting the drop.
struct Bomb(Arc<AtomicUsize>);

impl Drop for Bomb {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
        panic!("a destructor panics (expected by this test)");
    }
}

#[test]
fn dropping_a_runtime_whose_tasks_panic_in_drop_neither_aborts_nor_unwinds() {
    let rt = Builder::new()
        .worker_threads(2)
        .max_blocking_threads(1)
        .build()
        .unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let other = rt.spawn(std::future::pending::<()>());
    for _ in 0..3 {
        let bomb = Bomb(drops.clone());
        rt.spawn(async move {
            let _bomb = bomb;
            std::future::pending::<()>().await
        });
    }
    // A blocking closure that never starts (the one pool thread is busy),
    // whose capture panics when the shutdown cancels it.
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let busy = rt.spawn_blocking(move || release_rx.recv_timeout(Duration::from_millis(200)));
    let bomb = Bomb(drops.clone());
    let queued = rt.spawn_blocking(move || drop(bomb));
    let (sock, rx) = bind_then_drop_elsewhere(rt);
    assert_eq!(
        rx.recv_timeout(PROMPT),
        Ok(true),
        "drop(rt) unwound (or hung)"
    );
    drop(release_tx);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        4,
        "every bomb was dropped once"
    );
    let r = futures::executor::block_on(other);
    assert!(r.unwrap_err().is_cancelled());
    assert!(
        futures::executor::block_on(queued)
            .unwrap_err()
            .is_cancelled()
    );
    assert!(futures::executor::block_on(busy).is_ok());
    let e = futures::executor::block_on(sock.recv(&mut [0; 1])).unwrap_err();
    assert_eq!(e.to_string(), "goro runtime is shut down");
}

#[test]
fn aborting_a_task_that_panics_in_drop_cancels_it() {
    let rt = workers(1);
    let drops = Arc::new(AtomicUsize::new(0));
    let bomb = Bomb(drops.clone());
    let task = rt.spawn(async move {
        let _bomb = bomb;
        std::future::pending::<()>().await
    });
    rt.block_on(goro::time::sleep(Duration::from_millis(10)));
    task.abort();
    let r = rt.block_on(async { goro::time::timeout(PROMPT, task).await });
    assert!(
        r.expect("the aborted task hung")
            .unwrap_err()
            .is_cancelled()
    );
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    // The worker survived: the runtime still runs tasks.
    assert_eq!(rt.block_on(rt.spawn(async { 5 })).unwrap(), 5);
}
