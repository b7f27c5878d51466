//! Synchronisation primitives: the one place goro gets its locks, and the
//! atomics and cells that [loom] can swap for model-checked versions.
//!
//! - [`Mutex`], [`Condvar`] and [`RwLock`] wrap `std`'s and ignore
//!   poisoning: goro catches task panics (a panicking task's `JoinHandle`
//!   reports it), so a lock held by a panicking thread is never evidence of
//!   a broken invariant the way `std` assumes, and every caller would only
//!   unwrap the poison away. Their `lock`/`read`/`write`/`wait` return the
//!   guard directly. They are `std`'s under `--cfg loom` too: several of
//!   them live in process-wide statics, which loom's types (created per
//!   model execution, non-`const`) cannot.
//! - [`ModelledMutex`] is the same poison-ignoring lock for the one place a
//!   lock is part of a modelled protocol (the waiter queues of
//!   [`poller::fdmutex`](crate::poller)); it is loom's under `--cfg loom`.
//! - The atomics, [`fence`] and [`UnsafeCell`] used by the lock-free parts
//!   of goro (the slot state machine in [`poller::slot`](crate::poller) and
//!   the run queue in [`scheduler::runqueue`](crate::scheduler)) come from
//!   here. A normal build re-exports `std`; a build with `--cfg loom`
//!   re-exports loom's instrumented types so `cargo test --cfg loom`
//!   explores every interleaving of the models in those files. Code outside
//!   the models keeps `std`'s atomics (many sit in statics or run outside
//!   any loom model, where loom's types would panic).
//!
//! [loom]: https://docs.rs/loom

use std::time::Duration;

/// A mutual-exclusion lock whose [`lock`](Mutex::lock) ignores poisoning.
#[derive(Debug, Default)]
pub(crate) struct Mutex<T: ?Sized>(std::sync::Mutex<T>);

/// The guard [`Mutex::lock`] returns (`std`'s).
pub(crate) type MutexGuard<'a, T> = std::sync::MutexGuard<'a, T>;

impl<T> Mutex<T> {
    /// A new unlocked mutex holding `value`; `const`, so it can sit in a
    /// static.
    pub(crate) const fn new(value: T) -> Self {
        Mutex(std::sync::Mutex::new(value))
    }

    /// Consumes the mutex and returns its value, poisoned or not.
    pub(crate) fn into_inner(self) -> T {
        self.0.into_inner().unwrap_or_else(|e| e.into_inner())
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Blocks until the lock is acquired. A previous holder's panic is
    /// ignored (see the module documentation).
    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Acquires the lock if it is free right now (poisoned or not), or
    /// returns `None` if another thread holds it.
    pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        match self.0.try_lock() {
            Ok(guard) => Some(guard),
            Err(std::sync::TryLockError::Poisoned(e)) => Some(e.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }
}

/// A [`Mutex`] that the loom models see: loom's mutex under `--cfg loom`,
/// a plain [`Mutex`] otherwise. Not `const`-constructible under loom, so
/// never in a static.
#[cfg(not(loom))]
pub(crate) type ModelledMutex<T> = Mutex<T>;

/// See the `cfg(not(loom))` definition.
#[cfg(loom)]
#[derive(Debug, Default)]
pub(crate) struct ModelledMutex<T>(loom::sync::Mutex<T>);

#[cfg(loom)]
impl<T> ModelledMutex<T> {
    /// Blocks until the lock is acquired, ignoring poisoning.
    pub(crate) fn lock(&self) -> loom::sync::MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A condition variable paired with [`Mutex`], ignoring poisoning.
#[derive(Debug, Default)]
pub(crate) struct Condvar(std::sync::Condvar);

impl Condvar {
    /// Releases `guard`, blocks until notified (or woken spuriously) and
    /// re-acquires the lock.
    pub(crate) fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.0.wait(guard).unwrap_or_else(|e| e.into_inner())
    }

    /// Like [`wait`](Condvar::wait), giving up after `timeout`; the flag is
    /// true if it timed out.
    pub(crate) fn wait_timeout<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> (MutexGuard<'a, T>, bool) {
        let (guard, result) = self
            .0
            .wait_timeout(guard, timeout)
            .unwrap_or_else(|e| e.into_inner());
        (guard, result.timed_out())
    }

    /// Wakes one waiter.
    pub(crate) fn notify_one(&self) {
        self.0.notify_one();
    }

    /// Wakes every waiter.
    pub(crate) fn notify_all(&self) {
        self.0.notify_all();
    }
}

/// A reader-writer lock whose [`read`](RwLock::read) and
/// [`write`](RwLock::write) ignore poisoning.
#[derive(Debug, Default)]
pub(crate) struct RwLock<T: ?Sized>(std::sync::RwLock<T>);

/// The shared guard [`RwLock::read`] returns (`std`'s).
pub(crate) type RwLockReadGuard<'a, T> = std::sync::RwLockReadGuard<'a, T>;

/// The exclusive guard [`RwLock::write`] returns (`std`'s).
pub(crate) type RwLockWriteGuard<'a, T> = std::sync::RwLockWriteGuard<'a, T>;

impl<T> RwLock<T> {
    /// A new unlocked lock holding `value`; `const`, so it can sit in a
    /// static.
    pub(crate) const fn new(value: T) -> Self {
        RwLock(std::sync::RwLock::new(value))
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Blocks until shared access is acquired, ignoring poisoning.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, T> {
        self.0.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Blocks until exclusive access is acquired, ignoring poisoning.
    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, T> {
        self.0.write().unwrap_or_else(|e| e.into_inner())
    }
}

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
