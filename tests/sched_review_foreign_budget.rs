//! goro's futures polled by another executor, on a thread goro does not
//! run, must keep completing: the cooperative budget (budget.rs) is
//! goro's to refill before each of its own task polls, and a thread that
//! never runs one must not run out of it.
//!
//! What this guards: the per-thread budget started full on every thread
//! and was refilled only by goro's workers, `block_on` and the blocking
//! pool. On any other thread — a plain thread driving a goro socket with
//! `futures::executor::block_on`, another runtime's worker, a
//! `spawn_blocking` or `block_in_place` closure running a nested executor
//! — the 129th ready
//! operation found it empty, and from then on every ready operation woke
//! its task and returned `Pending`, for good: the future spun without
//! completing. Each check runs on its own thread, bounded, so that
//! livelock fails the test instead of hanging it.

mod support;

use goro::net::UnixStream;
use std::io::Write;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::time::Duration;
use support::hang::within;

/// Far more ready operations than one budget (128).
const OPS: usize = 1_000;
const LIMIT: Duration = Duration::from_secs(20);

/// Ready reads, one byte each, from a goro socket whose peer wrote them
/// all up front.
async fn read_ready_bytes() -> usize {
    let (ours, mut theirs) = StdUnixStream::pair().unwrap();
    theirs.write_all(&[7u8; OPS]).unwrap();
    let ours = UnixStream::from_std(ours).unwrap();
    let mut buf = [0u8; 1];
    let mut n = 0;
    while n < OPS {
        n += ours.read(&mut buf).await.unwrap();
    }
    n
}

#[test]
fn reads_on_a_foreign_executor_thread_complete() {
    let n = within(LIMIT, || futures::executor::block_on(read_ready_bytes()));
    assert_eq!(n, OPS);
}

#[test]
fn a_nested_executor_in_spawn_blocking_completes() {
    let n = within(LIMIT, || {
        goro::block_on(async {
            goro::spawn_blocking(|| futures::executor::block_on(read_ready_bytes()))
                .await
                .unwrap()
        })
    });
    assert_eq!(n, OPS);
}

#[test]
fn a_foreign_executor_after_block_on_on_the_same_thread_completes() {
    let n = within(LIMIT, || {
        // `block_on` leaves this thread's budget where its last poll did.
        goro::block_on(async {
            let (ours, mut theirs) = StdUnixStream::pair().unwrap();
            theirs.write_all(&[1u8; 200]).unwrap();
            let ours = UnixStream::from_std(ours).unwrap();
            let mut buf = [0u8; 1];
            for _ in 0..200 {
                ours.read(&mut buf).await.unwrap();
            }
        });
        futures::executor::block_on(read_ready_bytes())
    });
    assert_eq!(n, OPS);
}

#[test]
fn a_nested_executor_in_block_in_place_completes() {
    let n = within(LIMIT, || {
        goro::block_on(async {
            goro::spawn(async {
                goro::task::block_in_place(|| futures::executor::block_on(read_ready_bytes()))
            })
            .await
            .unwrap()
        })
    });
    assert_eq!(n, OPS);
}
