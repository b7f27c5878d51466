//! A task that parks on I/O and *then*, in the same poll, queues work on
//! its own worker (spawns a task, or wakes one) must still have its I/O
//! served by the runtime's idle worker, not by sysmon's 10 ms backstop
//! poll.
//!
//! `ensure_poller` wakes no M when the parking thread is a worker that
//! holds its P with nothing queued: that worker polls itself as soon as
//! the running poll returns and it finds nothing else to do. The promise
//! breaks if the same poll goes on to queue a task on that P — a spawn or
//! a wake lands in `runnext` and wakes nobody — and that task runs long:
//! the worker does not poll until it returns, the other worker sleeps on
//! its futex, and only sysmon's backstop poll, on the sysmon thread,
//! serves the read. (tests/io_behind_a_woken_task.rs covers the other
//! order: queue first, then park.)
//!
//! Timeline (two workers; the idle one has parked on its futex):
//!   T: poll the read (parks, no M woken) -> spawn or wake U (runnext)
//!   U: computes for 400 ms on T's worker
//!   peer writes 50 ms into U's run       -> who polls?
//! The test detects the backstop by the name of the thread that runs T's
//! waker.

mod support;

use futures::io::AsyncReadExt;
use goro::net::UnixStream;
use std::future::{Future, poll_fn};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::pin::{Pin, pin};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use support::backstop::{BUSY, SETTLE, WORKER, compute, runtime, write_during_u};
use support::hang::watchdog;
use support::wakers::Recorder;

/// A flag a task waits on (U, in the "wake" variant).
#[derive(Default)]
struct Flag(Mutex<(bool, Option<Waker>)>);

impl Flag {
    fn set(&self) {
        let w = {
            let mut s = self.0.lock().unwrap();
            s.0 = true;
            s.1.take()
        };
        if let Some(w) = w {
            w.wake();
        }
    }
}

struct FlagWait(Arc<Flag>);

impl Future for FlagWait {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut s = self.0.0.lock().unwrap();
        if s.0 {
            Poll::Ready(())
        } else {
            s.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

/// How T queues U after parking its read.
#[derive(Clone, Copy, Debug)]
enum Queue {
    /// `goro::spawn(U)`.
    Spawn,
    /// U already waits on a flag; T sets it.
    Wake,
}

fn scenario(how: Queue, round: usize) {
    let rt = runtime();
    let (ours, mut theirs) = StdUnixStream::pair().expect("socketpair");
    let (busy_tx, busy) = mpsc::channel();
    let (woken_tx, woken) = mpsc::channel();
    let flag = Arc::new(Flag::default());
    let (parked_tx, parked) = mpsc::channel();
    let u = match how {
        Queue::Spawn => None,
        Queue::Wake => {
            let (flag, busy_tx) = (flag.clone(), busy_tx.clone());
            let u = rt.spawn(async move {
                let _ = parked_tx.send(());
                FlagWait(flag).await;
                compute(busy_tx);
            });
            parked
                .recv_timeout(Duration::from_secs(10))
                .expect("U never ran");
            Some(u)
        }
    };
    let t = rt.spawn(async move {
        let mut stream = UnixStream::from_std(ours).expect("from_std");
        // Let the other worker find nothing and park on its futex.
        std::thread::sleep(SETTLE);
        let mut buf = [0u8; 8];
        let mut read = pin!(AsyncReadExt::read(&mut stream, &mut buf));
        let mut first = Some((woken_tx, busy_tx));
        let mut spawned = None;
        let n = poll_fn(|cx| {
            let Some((woken_tx, busy_tx)) = first.take() else {
                return read.as_mut().poll(cx);
            };
            let waker = Recorder::waker(woken_tx, cx.waker());
            let polled = read.as_mut().poll(&mut Context::from_waker(&waker));
            assert!(polled.is_pending(), "nothing was written yet");
            // The read is parked; now queue U on this worker.
            match how {
                Queue::Spawn => spawned = Some(goro::spawn(async move { compute(busy_tx) })),
                Queue::Wake => flag.set(),
            }
            Poll::Pending
        })
        .await
        .expect("read");
        if let Some(u) = spawned {
            u.await.expect("task U");
        }
        n
    });
    let waker_thread = write_during_u(&busy, &mut theirs, &woken);
    assert_eq!(rt.block_on(t).expect("task T"), 1);
    if let Some(u) = u {
        rt.block_on(u).expect("task U");
    }
    assert!(
        waker_thread.starts_with(WORKER),
        "{how:?}, round {round}: T's read waited for sysmon's backstop poll \
         (woken on {waker_thread}) while the other worker slept and U \
         computed for {BUSY:?} on T's worker"
    );
}

#[test]
fn io_parked_before_spawning_a_long_task_is_served_by_the_idle_worker() {
    let _dog = watchdog(Duration::from_secs(60));
    for round in 0..3 {
        scenario(Queue::Spawn, round);
    }
}

#[test]
fn io_parked_before_waking_a_long_task_is_served_by_the_idle_worker() {
    let _dog = watchdog(Duration::from_secs(60));
    for round in 0..3 {
        scenario(Queue::Wake, round);
    }
}
