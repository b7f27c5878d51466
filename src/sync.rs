//! Synchronisation primitives, swappable for [loom]'s model-checked versions.
//!
//! The lock-free parts of goro (the slot state machine in
//! [`poller::slot`](crate::poller) and the run queue in
//! [`scheduler::runqueue`](crate::scheduler)) import their atomics and cells
//! from here. A normal build re-exports `std`; a build with `--cfg loom`
//! re-exports loom's instrumented types so `cargo test --cfg loom` explores
//! every interleaving of the models in those files.
//!
//! [loom]: https://docs.rs/loom

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering, fence};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering, fence};

/// An `UnsafeCell` with loom's closure-based access API, so code written
/// against it runs unchanged under the model checker.
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> Self {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    /// Runs `f` with a shared pointer to the contents.
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Runs `f` with an exclusive pointer to the contents.
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;

/// Marks the middle of a Dekker pattern made of `SeqCst` accesses: this
/// thread wrote one location and now reads another, while some other
/// thread does the mirror image, and at least one must see the other's
/// write. Rust's (C++20's) memory model guarantees that for `SeqCst`
/// accesses alone: they all sit in one total order. loom models `SeqCst`
/// loads and stores as acquire/release only, and would report the pattern
/// as broken, so under `--cfg loom` this is a `SeqCst` fence; a normal build
/// compiles it to nothing (no `mfence` on the scheduler's hot path).
#[inline(always)]
pub(crate) fn dekker_point() {
    #[cfg(loom)]
    fence(Ordering::SeqCst);
}
