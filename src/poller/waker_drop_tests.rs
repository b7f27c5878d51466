//! Regression tests: a foreign waker whose *drop* panics never leaves the
//! poller's count of parked slots wrong.
//!
//! A slot transition reports how it changed the slot's parking, and the
//! descriptor adds that to the count idle workers read
//! ([`Poller::has_waiters`]). Wakers a transition takes out without waking
//! them (a withdrawn registration's, a replaced one, a recycled slot's list)
//! are dropped only after the count is updated: a drop that panicked before
//! the count was applied used to leave it one too high for good, so every
//! `block_in_place` handed its P away and idle workers blocked in
//! `epoll_wait` for I/O nobody waited for.

use super::Direction;
use super::Poller;
use super::slot::{Registration, Slot, Wait};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Wake, Waker};

/// A foreign waker whose drop panics (once the slot holds its last handle).
struct PanicsOnDrop;
impl Wake for PanicsOnDrop {
    fn wake(self: Arc<Self>) {}
}
impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("a foreign waker panics on drop (expected in this test)");
        }
    }
}

fn panics_on_drop() -> Waker {
    Waker::from(Arc::new(PanicsOnDrop))
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for two descriptors.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
    assert_eq!(rc, 0);
    // SAFETY: fresh descriptors owned by the caller.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// A poller with one open pipe read end whose read slot holds `waker`
/// (the slot's copy is its last handle) under `reg`.
fn parked_reader(poller: &Poller, fd: &OwnedFd, reg: &mut Registration) -> super::DescPtr {
    let pd = poller.open(fd.as_raw_fd()).unwrap();
    // Every new descriptor starts ready; an operation that got EAGAIN
    // clears that before it waits.
    let tick = pd.get().ready_tick(Direction::Read).unwrap();
    pd.get().clear_on_eagain(Direction::Read, tick);
    let waker = panics_on_drop();
    let cx = Context::from_waker(&waker);
    assert!(
        pd.get()
            .poll_wait(Direction::Read, &cx, Some(reg))
            .is_pending()
    );
    drop(waker);
    assert_eq!(poller.waiters(), 1);
    pd
}

#[test]
fn deregister_counts_before_dropping_the_withdrawn_waker() {
    let poller = Poller::new().unwrap();
    let (r, _w) = pipe();
    let mut reg = Registration::default();
    let pd = parked_reader(&poller, &r, &mut reg);
    // The future completes or is dropped: its entry is withdrawn and the
    // waker dropped, which panics.
    let dropped = catch_unwind(AssertUnwindSafe(|| {
        pd.get().deregister(Direction::Read, &mut reg);
    }));
    assert!(dropped.is_err(), "the waker's drop panicked through");
    assert!(!reg.is_registered());
    assert_eq!(
        poller.waiters(),
        0,
        "the slot is empty, yet still counted as a waiter"
    );
    assert!(!poller.has_waiters());
    poller.close(pd.get(), r.as_raw_fd());
}

#[test]
fn closing_a_descriptor_counts_before_dropping_its_wakers() {
    let poller = Poller::new().unwrap();
    let (r, _w) = pipe();
    let mut reg = Registration::default();
    let pd = parked_reader(&poller, &r, &mut reg);
    // Recycling the descriptor empties its slots (Go's pollClose); the
    // waker's drop panics on the closing thread, which has nothing to do
    // with it.
    let _ = catch_unwind(AssertUnwindSafe(|| poller.close(pd.get(), r.as_raw_fd())));
    assert_eq!(
        poller.waiters(),
        0,
        "a recycled descriptor is still counted as a waiter"
    );
    assert_eq!(
        poller.descriptors_in_use(),
        0,
        "the descriptor was not freed"
    );
}

#[test]
fn a_failed_registration_counts_before_dropping_the_replaced_waker() {
    // The slot-level path (the descriptor applies the result the same way
    // the counted test adapter does): a future parked with a waker whose
    // drop panics is polled again with another waker, and an error bit is
    // found after publishing (a close or deadline raced with the poll). The
    // slot empties — the count must drop to 0 — and the replaced waker is
    // dropped.
    let slot = Slot::new();
    let count = AtomicUsize::new(0);
    let mut reg = Registration::default();
    let first = panics_on_drop();
    assert_eq!(
        slot.poll_wait_owned_counted(&first, &mut reg, &count, || false),
        Wait::Parked
    );
    drop(first);
    assert_eq!(count.load(Ordering::SeqCst), 1);
    let polled = catch_unwind(AssertUnwindSafe(|| {
        slot.poll_wait_owned_counted(Waker::noop(), &mut reg, &count, || true)
    }));
    assert!(
        polled.is_err(),
        "the replaced waker's drop panicked through"
    );
    assert_eq!(
        count.load(Ordering::SeqCst),
        0,
        "the slot is empty, yet still counted as parked"
    );
    assert_eq!(slot.parked(), 0);
}
