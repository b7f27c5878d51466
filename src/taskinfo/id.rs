//! [`Id`]: a task's number, and [`id`]/[`try_id`]: the running task's.
//!
//! Ids are handed out in blocks of [`BLOCK`] per thread (Go's per-P `goid`
//! cache), so spawning on several workers never contends on one counter.
//! Invariant: an id is never handed out twice in a process (the counter is
//! 64 bits and only grows); ids are not dense and, across threads, not in
//! spawn order.

use std::cell::Cell;
use std::fmt;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};

/// How many ids a thread takes from the global counter at a time.
const BLOCK: u64 = 256;

/// A task's identifier: unique among all tasks of the process, for the
/// process's lifetime (an id is never reused). Printed as a plain number.
///
/// ```
/// # goro::block_on(async {
/// let a = goro::spawn(async { goro::task::id() });
/// let b = goro::spawn(async { goro::task::id() });
/// let (a_id, b_id) = (a.id(), b.id());
/// assert_eq!(a.await.unwrap(), a_id);
/// assert_eq!(b.await.unwrap(), b_id);
/// assert_ne!(a_id, b_id);
/// # });
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(NonZeroU64);

impl Id {
    /// A fresh id, never handed out before.
    #[inline]
    pub(crate) fn next() -> Id {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        thread_local! {
            /// The rest of this thread's block: next id, end (exclusive).
            static RANGE: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
        }
        let n = RANGE
            .try_with(|r| {
                let (next, end) = r.get();
                if next < end {
                    r.set((next + 1, end));
                    next
                } else {
                    let start = NEXT.fetch_add(BLOCK, Ordering::Relaxed);
                    r.set((start + 1, start + BLOCK));
                    start
                }
            })
            // A thread being torn down: take a single id.
            .unwrap_or_else(|_| NEXT.fetch_add(1, Ordering::Relaxed));
        Id(NonZeroU64::new(n).unwrap_or(NonZeroU64::MIN))
    }

    /// Rebuilds an id from [`as_u64`](Self::as_u64) (0 is not an id).
    pub(crate) fn from_u64(n: u64) -> Option<Id> {
        NonZeroU64::new(n).map(Id)
    }

    /// The id as a number (never 0).
    ///
    /// ```
    /// # goro::block_on(async {
    /// let h = goro::spawn(async {});
    /// assert!(h.id().as_u64() > 0);
    /// # });
    /// ```
    pub fn as_u64(&self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.0)
    }
}

/// The id of the task being polled on this thread.
///
/// # Panics
///
/// Outside a task (for example in the future given to `block_on`, or on a
/// thread goro does not run tasks on); [`try_id`] returns `None` there.
///
/// ```
/// # goro::block_on(async {
/// let h = goro::spawn(async { goro::task::id() });
/// assert_eq!(h.id(), h.await.unwrap());
/// # });
/// ```
#[track_caller]
pub fn id() -> Id {
    try_id().expect("goro::task::id() called outside a task (use try_id)")
}

/// The id of the task being polled on this thread, or `None` outside a task
/// (in a `block_on` future, a `spawn_blocking` closure, or a foreign thread).
///
/// ```
/// assert!(goro::task::try_id().is_none());
/// # goro::block_on(async {
/// assert!(goro::spawn(async { goro::task::try_id() }).await.unwrap().is_some());
/// # });
/// ```
pub fn try_id() -> Option<Id> {
    super::record::with_current(|r| r.id)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_across_threads() {
        let mut all: Vec<u64> = (0..4)
            .map(|_| std::thread::spawn(|| (0..1000).map(|_| Id::next().as_u64()).collect()))
            .flat_map(|t| t.join().unwrap_or_else(|_| Vec::new()))
            .collect();
        assert_eq!(all.len(), 4000);
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 4000, "an id was handed out twice");
        assert!(all.iter().all(|&n| n > 0));
        assert_eq!(Id::from_u64(all[0]).map(|i| i.as_u64()), Some(all[0]));
        assert_eq!(Id::from_u64(0), None);
    }
}
