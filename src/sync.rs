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
pub(crate) use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering, fence};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicPtr, AtomicUsize, Ordering, fence};

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
