//! A foreign waker's *drop* may run any code. When a waiting future is
//! polled again with a new waker, the slot drops the old one; it must do so
//! after leaving `WAIT` (owning the waker list), or a drop that withdraws
//! another waiter of the same slot spins on its own thread's `WAIT` forever,
//! and a drop that panics leaves the slot wedged in `WAIT`. It must also
//! do so after the runtime has counted the slot's change of parking, or a
//! drop that panics leaves the slot counted as a waiter for good.

use goro::io::PollFd;
use goro::runtime::Builder;
use std::future::Future;
use std::io;
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

type BoxFut = Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;

/// A foreign waker that owns a future; dropping the waker drops the future.
struct Holder(#[allow(dead_code)] Mutex<Option<BoxFut>>);
impl Wake for Holder {
    fn wake(self: Arc<Self>) {}
}

struct PanicOnDrop;
impl Wake for PanicOnDrop {
    fn wake(self: Arc<Self>) {}
}
impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("foreign waker panics on drop (expected)");
        }
    }
}

fn readable(p: &Arc<PollFd<UnixStream>>) -> BoxFut {
    let p = p.clone();
    Box::pin(async move { p.readable().await })
}

#[test]
fn replacing_a_waker_whose_drop_withdraws_another_waiter() {
    let rt = goro::runtime::Runtime::new().unwrap();
    let _g = rt.enter();
    let (a, _b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    let pfd = Arc::new(PollFd::new(a).unwrap());

    // B waits on the read slot with an owned registration.
    let mut b = readable(&pfd);
    assert!(
        b.as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_pending()
    );
    // A waits too, with a waker that owns B.
    let mut fa = readable(&pfd);
    let w1 = Waker::from(Arc::new(Holder(Mutex::new(Some(b)))));
    assert!(fa.as_mut().poll(&mut Context::from_waker(&w1)).is_pending());
    drop(w1); // the slot's entry is now the last owner of B

    // A is polled again by another task: its entry's waker is replaced and
    // the old one (the last owner of B) dropped.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let r = fa.as_mut().poll(&mut Context::from_waker(Waker::noop()));
        tx.send(r.is_pending()).unwrap();
        drop(fa);
    });
    match rx.recv_timeout(Duration::from_secs(5)) {
        Ok(pending) => assert!(pending),
        Err(_) => panic!("re-poll of readable() never returned: self-deadlock on WAIT"),
    }
}

#[test]
fn a_replaced_waker_panicking_on_drop_does_not_wedge_the_slot() {
    let rt = goro::runtime::Runtime::new().unwrap();
    let _g = rt.enter();
    let (a, _b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    let pfd = Arc::new(PollFd::new(a).unwrap());
    let mut fa = readable(&pfd);
    let w1 = Waker::from(Arc::new(PanicOnDrop));
    assert!(fa.as_mut().poll(&mut Context::from_waker(&w1)).is_pending());
    drop(w1);
    // Re-poll with another waker: the replaced waker's drop panics (inside
    // goro, while the slot is in WAIT).
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = fa.as_mut().poll(&mut Context::from_waker(Waker::noop()));
    }));
    assert!(r.is_err(), "the waker's drop panicked through the poll");
    // Any later waiter on the slot must still be served.
    let (tx, rx) = mpsc::channel();
    let p2 = pfd.clone();
    std::thread::spawn(move || {
        let mut c = readable(&p2);
        let r = c.as_mut().poll(&mut Context::from_waker(Waker::noop()));
        tx.send(matches!(r, Poll::Pending)).unwrap();
    });
    match rx.recv_timeout(Duration::from_secs(5)) {
        Ok(_) => {}
        Err(_) => panic!("a new readable() on the slot spins forever: slot left in WAIT"),
    }
    std::mem::forget(fa);
}

#[test]
fn a_withdrawn_waker_panicking_on_drop_leaves_no_phantom_io_waiter() {
    let rt = Builder::new().worker_threads(1).build().unwrap();
    let (a, _b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    let pfd = {
        let _g = rt.enter();
        Arc::new(PollFd::new(a).unwrap())
    };
    // A future from another executor waits, with a waker whose drop
    // panics, then is dropped: withdrawing its entry drops that waker.
    let mut fa = readable(&pfd);
    let w = Waker::from(Arc::new(PanicOnDrop));
    assert!(fa.as_mut().poll(&mut Context::from_waker(&w)).is_pending());
    drop(w);
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(fa)));
    assert!(dropped.is_err(), "the waker's drop panicked through");

    // Nothing waits on I/O now, so a worker that blocks in place has no
    // reason to hand its P to another thread. A phantom waiter made every
    // `block_in_place` hand it off (and idle workers poll for it).
    let before = rt.metrics().handoffs;
    let (tx, rx) = mpsc::channel();
    rt.spawn(async move {
        for _ in 0..5 {
            goro::task::block_in_place(|| {});
        }
        tx.send(()).unwrap();
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the task never ran");
    let handoffs = rt.metrics().handoffs - before;
    assert_eq!(
        handoffs, 0,
        "block_in_place handed the P off for an I/O waiter that is gone"
    );
}
