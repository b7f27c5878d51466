//! Review of the shutdown contract (DESIGN.md §3, "Runtime shutdown"): a
//! `JoinHandle` polled by another executor whose waker panics when woken.
//! async-task wakes the awaiter where the task finishes — on a worker, or
//! on the thread dropping the runtime, which cancels it — and aborts the
//! process if that wake panics; so such a handle used to kill the process
//! (SIGABRT) when its task finished or its runtime was dropped. goro now
//! registers foreign wakers wrapped so their panics are contained, as it
//! does for every other wake (poller/wake.rs): the process lives, the
//! worker survives, and every other awaiter — of handles and of a
//! `JoinSet` — is still woken.
//!
//! A regression aborts this whole binary, which is why these tests live in
//! a file of their own. Every wait has a timeout.

mod support;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, mpsc};
use std::task::{Context, Wake, Waker};
use std::time::Duration;
use support::hang::on_thread;
use support::rt::{bind_then_drop_elsewhere, workers};

const PROMPT: Duration = Duration::from_secs(10);

/// Another executor's waker that panics when woken.
struct PanickingWaker;

impl Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        panic!("foreign waker panics on wake (expected by this test)");
    }
}

/// Polls `fut` once with a panicking waker; it must be pending.
fn park_with_panicking_waker<F: Future + Unpin>(fut: &mut F) {
    let waker = Waker::from(Arc::new(PanickingWaker));
    assert!(
        Pin::new(fut)
            .poll(&mut Context::from_waker(&waker))
            .is_pending()
    );
}

/// Awaits `fut` with futures' executor on a new thread.
fn await_elsewhere<T: Send + 'static>(
    fut: impl Future<Output = T> + Send + 'static,
) -> mpsc::Receiver<T> {
    on_thread(move || futures::executor::block_on(fut))
}

#[test]
fn a_task_finishing_under_a_panicking_awaiter_does_not_abort() {
    let rt = workers(1);
    let (go_tx, go) = async_channel::bounded::<()>(1);
    let mut bad = rt.spawn(async move { go.recv().await.is_ok() });
    park_with_panicking_waker(&mut bad);
    let good = {
        let (go_tx2, go2) = async_channel::bounded::<()>(1);
        let h = rt.spawn(async move { go2.recv().await.is_ok() });
        let rx = await_elsewhere(h);
        go_tx2.send_blocking(()).unwrap();
        rx
    };
    assert!(good.recv_timeout(PROMPT).unwrap().unwrap());
    // The bad handle's task finishes on the worker, which wakes the
    // panicking waker.
    go_tx.send_blocking(()).unwrap();
    let out = rt.block_on(async { goro::time::timeout(PROMPT, &mut bad).await });
    assert!(out.expect("the finished task's handle hung").unwrap());
    // The worker survived.
    assert_eq!(rt.block_on(rt.spawn(async { 3 })).unwrap(), 3);
}

#[test]
fn dropping_a_runtime_under_panicking_awaiters_does_not_abort() {
    let rt = workers(2);
    let mut bad: Vec<_> = (0..3)
        .map(|_| rt.spawn(std::future::pending::<()>()))
        .collect();
    bad.iter_mut().for_each(park_with_panicking_waker);
    // A JoinSet whose join_next is parked with a panicking waker too.
    let mut set = {
        let _g = rt.enter();
        let mut set = goro::task::JoinSet::new();
        set.spawn(std::future::pending::<()>());
        set
    };
    {
        let mut next = Box::pin(set.join_next());
        let waker = Waker::from(Arc::new(PanickingWaker));
        assert!(
            next.as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
    }
    let good: Vec<_> = (0..5)
        .map(|_| await_elsewhere(rt.spawn(std::future::pending::<()>())))
        .collect();
    let (sock, rx) = bind_then_drop_elsewhere(rt);
    assert_eq!(
        rx.recv_timeout(PROMPT),
        Ok(true),
        "drop(rt) unwound or hung"
    );
    for (i, g) in good.iter().enumerate() {
        let r = g
            .recv_timeout(PROMPT)
            .unwrap_or_else(|_| panic!("awaiter {i} was not woken"));
        assert!(r.unwrap_err().is_cancelled());
    }
    for h in bad {
        assert!(futures::executor::block_on(h).unwrap_err().is_cancelled());
    }
    let r = futures::executor::block_on(set.join_next());
    assert!(r.expect("one entry").unwrap_err().is_cancelled());
    let e = futures::executor::block_on(sock.recv(&mut [0; 1])).unwrap_err();
    assert_eq!(e.to_string(), "goro runtime is shut down");
}
