//! A task that hands its worker a long job and then waits on I/O must have
//! its I/O served by the runtime's idle worker, not by sysmon's 10 ms
//! backstop poll.
//!
//! The scenario: two workers, no I/O waiters, so the idle M parks on its
//! futex (nobody needs to poll). Task T, on the other worker, spawns task
//! U — which goes to `runnext` without waking anyone: the spawner is about
//! to yield the P — and then parks on a read. U computes for a long time
//! on the same worker. T's read needs some M to poll: the parking wakes
//! an idle M if nobody polls (`ensure_poller`), and that M, finding nothing
//! or stealing U, ends up in the poller. If the parking wakes nobody
//! because the parking thread "holds a P and polls itself before it goes
//! idle", that poll waits for U's whole poll, and only sysmon's backstop
//! poll rescues T, on the sysmon thread — which is what this test detects,
//! by the name of the thread that runs T's waker.
//!
//! (Waking a task and then blocking on I/O is the common shape of a
//! handler: send to a channel or spawn, then read the next request.)

mod support;

use futures::io::AsyncReadExt;
use goro::net::UnixStream;
use std::future::{Future, poll_fn};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::pin::pin;
use std::sync::mpsc;
use std::time::Duration;
use support::backstop::{BUSY, SETTLE, WORKER, compute, runtime, write_during_u};
use support::hang::watchdog;
use support::wakers::Recorder;

#[test]
fn io_parked_by_a_task_that_woke_a_long_task_is_served_by_the_idle_worker() {
    let _dog = watchdog(Duration::from_secs(60));
    for round in 0..3 {
        let rt = runtime();
        let (ours, mut theirs) = StdUnixStream::pair().expect("socketpair");
        let (busy_tx, busy) = mpsc::channel();
        let (woken_tx, woken) = mpsc::channel();
        let t = rt.spawn(async move {
            let mut stream = UnixStream::from_std(ours).expect("from_std");
            // Let the other worker find nothing and park on its futex.
            std::thread::sleep(SETTLE);
            let u = goro::spawn(async move { compute(busy_tx) });
            let mut buf = [0u8; 8];
            let mut read = pin!(AsyncReadExt::read(&mut stream, &mut buf));
            let mut report = Some(woken_tx);
            let n = poll_fn(|cx| {
                let waker = match report.take() {
                    Some(tx) => Recorder::waker(tx, cx.waker()),
                    None => cx.waker().clone(),
                };
                read.as_mut()
                    .poll(&mut std::task::Context::from_waker(&waker))
            })
            .await
            .expect("read");
            u.await.expect("task U");
            n
        });
        let waker_thread = write_during_u(&busy, &mut theirs, &woken);
        assert_eq!(rt.block_on(t).expect("task T"), 1);
        assert!(
            waker_thread.starts_with(WORKER),
            "round {round}: T's read waited for sysmon's backstop poll \
             (woken on {waker_thread}) while the other worker slept and U \
             computed for {BUSY:?} on T's worker"
        );
    }
}
