//! A dropped `JoinSet` lets go of every task it held: an output nobody
//! joined is dropped, and so is the set's own bookkeeping.
//!
//! Each entry of a set is also the waker the set polls its task's
//! `JoinHandle` with, and the handle keeps the waker of its last poll: an
//! entry polled once (`join_next` or `try_join_next` found its task
//! pending) held a reference to itself. Dropping the set must break that
//! cycle, else the entry, its handle and a finished task's output leak.

mod support;

use goro::task::JoinSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;
use support::drops::{Counted, wait_until};
use support::hang::watchdog;
use support::rt::workers;

const PATIENCE: Duration = Duration::from_secs(60);

/// The task finished after the set had polled it (its entry's waker is
/// kept in the handle), and the set is dropped without joining it: the
/// output is dropped with the set.
#[test]
fn an_unjoined_output_is_dropped_with_the_set() {
    let _dog = watchdog(PATIENCE * 2);
    let rt = workers(2);
    let drops = Arc::new(AtomicUsize::new(0));
    let output = Counted(drops.clone());
    let (finish, finish_rx) = mpsc::channel::<()>();
    let mut set = JoinSet::new();
    let abort = set.spawn_on(
        async move {
            let _ = finish_rx.recv_timeout(PATIENCE);
            output
        },
        &rt.handle(),
    );
    // Polls the entry once: its task is pending, the entry's waker is kept.
    assert!(set.try_join_next().is_none());
    finish.send(()).unwrap();
    wait_until("the task to finish", || abort.is_finished());
    drop(abort);
    assert_eq!(drops.load(Ordering::SeqCst), 0, "nobody joined it yet");
    drop(set);
    wait_until("the unjoined output to be dropped", || {
        drops.load(Ordering::SeqCst) == 1
    });
}
