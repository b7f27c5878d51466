//! Go's `fdMutex`: a reference count of in-flight operations on a descriptor,
//! a read lock and a write lock, and the closed flag, all in one atomic word.
//!
//! It gives three guarantees:
//! - the file descriptor is closed only when the last in-flight operation
//!   releases it, so a concurrent syscall never touches a reused fd number
//!   (whoever drops the count to zero after `close` performs the close);
//! - reads are serialised among readers and writes among writers (an entire
//!   `write_all` holds the write lock, so two of them never interleave);
//! - after `close`, every lock or reference attempt fails, and every task
//!   waiting for a lock is woken so it can observe the close.
//!
//! # Word layout
//!
//! ```text
//!  63 ............................ 5   4       3       2       1       0
//! [        reference count          ][WWAIT ][RWAIT ][WLOCK ][RLOCK ][CLOSED]
//! ```
//!
//! A held lock also holds one reference. `RWAIT`/`WWAIT` say that wakers are
//! queued for that lock; they are set and cleared only while holding the
//! matching queue mutex, and the unlocker checks them after releasing the
//! lock, so a waiter that queued itself is always woken (see `unlock`).
//! Waiters are woken all at once and race for the lock: goro's waiters may be
//! stateless `poll_read` calls that cannot pass a baton on drop, so waking
//! one and relying on it to continue could strand the rest.

use super::Direction;
use crate::sync::{AtomicU64, ModelledMutex as Mutex, Ordering};
use std::task::{Poll, Waker};

const CLOSED: u64 = 1 << 0;
const RLOCK: u64 = 1 << 1;
const WLOCK: u64 = 1 << 2;
const RWAIT: u64 = 1 << 3;
const WWAIT: u64 = 1 << 4;
const REF: u64 = 1 << 5;
const REF_MASK: u64 = !(REF - 1);

/// The lock and waiter bits of the `dir` lock of the pair.
fn bits(dir: Direction) -> (u64, u64) {
    match dir {
        Direction::Read => (RLOCK, RWAIT),
        Direction::Write => (WLOCK, WWAIT),
    }
}

/// The operation failed because the descriptor is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Closed;

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct FdMutex {
    state: AtomicU64,
    read_waiters: Mutex<Vec<Waker>>,
    write_waiters: Mutex<Vec<Waker>>,
}

impl FdMutex {
    /// Takes a reference for an operation that needs no lock (Go's `incref`).
    pub(crate) fn incref(&self) -> Result<(), Closed> {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & CLOSED != 0 {
                return Err(Closed);
            }
            match self
                .state
                .compare_exchange_weak(s, s + REF, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(now) => s = now,
            }
        }
    }

    /// Drops a reference. Returns true if the descriptor is closed and this
    /// was the last reference: the caller must now destroy it.
    #[must_use]
    pub(crate) fn decref(&self) -> bool {
        let old = self.state.fetch_sub(REF, Ordering::AcqRel);
        debug_assert!(old & REF_MASK != 0, "fd mutex reference underflow");
        last_ref(old - REF)
    }

    /// Marks the descriptor closed, taking a reference the caller must drop
    /// with [`decref`](Self::decref). Fails if it was already closed. Wakes
    /// every task waiting for a lock so it sees the close.
    pub(crate) fn incref_and_close(&self) -> Result<(), Closed> {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & CLOSED != 0 {
                return Err(Closed);
            }
            match self.state.compare_exchange_weak(
                s,
                (s | CLOSED) + REF,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => s = now,
            }
        }
        self.wake_waiters(Direction::Read);
        self.wake_waiters(Direction::Write);
        Ok(())
    }

    /// Tries to take `side`'s lock (and a reference) without waiting.
    /// `Ok(false)` means another task holds it.
    pub(crate) fn try_lock(&self, side: Direction) -> Result<bool, Closed> {
        let (lock_bit, _) = bits(side);
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & CLOSED != 0 {
                return Err(Closed);
            }
            if s & lock_bit != 0 {
                return Ok(false);
            }
            match self.state.compare_exchange_weak(
                s,
                (s | lock_bit) + REF,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(true),
                Err(now) => s = now,
            }
        }
    }

    /// Takes `side`'s lock, or queues `waker` to be woken when it is released
    /// (or the descriptor is closed).
    pub(crate) fn poll_lock(&self, side: Direction, waker: &Waker) -> Poll<Result<(), Closed>> {
        match self.try_lock(side) {
            Ok(true) => return Poll::Ready(Ok(())),
            Err(e) => return Poll::Ready(Err(e)),
            Ok(false) => {}
        }
        let (lock_bit, wait_bit) = bits(side);
        let mut queue = self.queue(side).lock();
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & CLOSED != 0 {
                return Poll::Ready(Err(Closed));
            }
            let (next, acquired) = if s & lock_bit == 0 {
                ((s | lock_bit) + REF, true)
            } else {
                (s | wait_bit, false)
            };
            match self
                .state
                .compare_exchange_weak(s, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) if acquired => return Poll::Ready(Ok(())),
                Ok(_) => break,
                Err(now) => s = now,
            }
        }
        if !queue.iter().any(|w| w.will_wake(waker)) {
            queue.push(waker.clone());
        }
        Poll::Pending
    }

    /// Releases `side`'s lock and its reference, waking queued waiters.
    /// Returns true if the caller must destroy the descriptor (see `decref`).
    #[must_use]
    pub(crate) fn unlock(&self, side: Direction) -> bool {
        let (lock_bit, wait_bit) = bits(side);
        let old = self.state.fetch_sub(lock_bit + REF, Ordering::AcqRel);
        debug_assert!(old & lock_bit != 0, "unlock of an unlocked fd mutex");
        if old & wait_bit != 0 {
            self.wake_waiters(side);
        }
        last_ref(old - lock_bit - REF)
    }

    fn queue(&self, side: Direction) -> &Mutex<Vec<Waker>> {
        match side {
            Direction::Read => &self.read_waiters,
            Direction::Write => &self.write_waiters,
        }
    }

    fn wake_waiters(&self, side: Direction) {
        let (_, wait_bit) = bits(side);
        let wakers = {
            let mut queue = self.queue(side).lock();
            self.state.fetch_and(!wait_bit, Ordering::AcqRel);
            std::mem::take(&mut *queue)
        };
        for w in wakers {
            // A foreign waker may panic; that must not stop the others or
            // unwind into an unlock (see `poller/wake.rs`).
            super::wake::wake(w);
        }
    }
}

fn last_ref(state: u64) -> bool {
    state & (CLOSED | REF_MASK) == CLOSED
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    use crate::test_wakers::Count;

    #[test]
    fn close_waits_for_last_reference() {
        let m = FdMutex::default();
        m.incref().unwrap();
        assert!(m.try_lock(Direction::Read).unwrap());
        m.incref_and_close().unwrap();
        assert_eq!(m.incref(), Err(Closed));
        assert_eq!(m.try_lock(Direction::Write), Err(Closed));
        assert_eq!(
            m.incref_and_close(),
            Err(Closed),
            "double close is reported"
        );
        assert!(!m.decref(), "the closer's reference is not the last");
        assert!(!m.decref());
        assert!(m.unlock(Direction::Read), "the last release destroys");
    }

    #[test]
    fn locks_are_per_side_and_wake_waiters() {
        let m = FdMutex::default();
        let c = Arc::new(Count(AtomicUsize::new(0)));
        let w = Waker::from(c.clone());
        assert!(m.try_lock(Direction::Read).unwrap());
        assert!(
            m.try_lock(Direction::Write).unwrap(),
            "write lock is independent"
        );
        assert!(m.poll_lock(Direction::Read, &w).is_pending());
        assert!(m.poll_lock(Direction::Read, &w).is_pending());
        assert!(!m.unlock(Direction::Read));
        assert_eq!(c.0.load(Ordering::SeqCst), 1, "queued once, woken once");
        assert!(matches!(
            m.poll_lock(Direction::Read, &w),
            Poll::Ready(Ok(()))
        ));
        assert!(!m.unlock(Direction::Read));
        assert!(!m.unlock(Direction::Write));
        assert_eq!(m.state.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn close_wakes_lock_waiters() {
        let m = FdMutex::default();
        let c = Arc::new(Count(AtomicUsize::new(0)));
        let w = Waker::from(c.clone());
        assert!(m.try_lock(Direction::Write).unwrap());
        assert!(m.poll_lock(Direction::Write, &w).is_pending());
        m.incref_and_close().unwrap();
        assert_eq!(c.0.load(Ordering::SeqCst), 1);
        assert!(matches!(
            m.poll_lock(Direction::Write, &w),
            Poll::Ready(Err(Closed))
        ));
        assert!(!m.decref());
        assert!(m.unlock(Direction::Write));
    }

    #[test]
    fn contended_lock_stress_never_strands_a_waiter() {
        // Threads take the write lock by polling; each must get it 2,000 times.
        let m = Arc::new(FdMutex::default());
        let held = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (m, held) = (m.clone(), held.clone());
                std::thread::spawn(move || {
                    struct Unpark(std::thread::Thread);
                    impl Wake for Unpark {
                        fn wake(self: Arc<Self>) {
                            self.0.unpark();
                        }
                    }
                    let w = Waker::from(Arc::new(Unpark(std::thread::current())));
                    for _ in 0..2_000 {
                        while m.poll_lock(Direction::Write, &w).is_pending() {
                            let t = std::time::Instant::now();
                            std::thread::park_timeout(std::time::Duration::from_secs(10));
                            assert!(
                                t.elapsed() < std::time::Duration::from_secs(10),
                                "lost wakeup"
                            );
                        }
                        assert_eq!(held.fetch_add(1, Ordering::SeqCst), 0, "two holders");
                        held.fetch_sub(1, Ordering::SeqCst);
                        assert!(!m.unlock(Direction::Write));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::sync::AtomicUsize;
    use std::sync::Arc;
    use std::task::Wake;

    /// A waker that counts its wakes in a modelled atomic.
    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A task asks for the read lock while its holder releases it: either
    /// it gets the lock, or it queued itself and the release woke it (the
    /// `RWAIT` hand-shake never strands a waiter).
    #[test]
    fn loom_unlock_wakes_queued_waiter() {
        loom::model(|| {
            let m = loom::sync::Arc::new(FdMutex::default());
            assert_eq!(m.try_lock(Direction::Read), Ok(true));
            let holder = {
                let m = m.clone();
                loom::thread::spawn(move || {
                    assert!(!m.unlock(Direction::Read));
                })
            };
            let count = Arc::new(Count::default());
            let waker = Waker::from(count.clone());
            let got = m.poll_lock(Direction::Read, &waker);
            holder.join().unwrap();
            match got {
                Poll::Ready(r) => {
                    assert_eq!(r, Ok(()));
                    assert!(!m.unlock(Direction::Read));
                }
                Poll::Pending => {
                    assert_eq!(count.0.load(Ordering::SeqCst), 1, "queued waiter not woken");
                    assert_eq!(m.try_lock(Direction::Read), Ok(true));
                    assert!(!m.unlock(Direction::Read));
                }
            }
        });
    }

    /// A task waits for the write lock while the descriptor is closed: it
    /// either sees the close or is woken by it, and the closer's reference
    /// is the last one.
    #[test]
    fn loom_close_wakes_queued_waiter() {
        loom::model(|| {
            let m = loom::sync::Arc::new(FdMutex::default());
            assert_eq!(m.try_lock(Direction::Write), Ok(true));
            let closer = {
                let m = m.clone();
                loom::thread::spawn(move || {
                    m.incref_and_close().unwrap();
                    m.decref()
                })
            };
            let count = Arc::new(Count::default());
            let waker = Waker::from(count.clone());
            let got = m.poll_lock(Direction::Write, &waker);
            let closer_was_last = closer.join().unwrap();
            assert!(!closer_was_last, "the holder still has its reference");
            match got {
                Poll::Ready(r) => assert_eq!(r, Err(Closed)),
                Poll::Pending => {
                    assert_eq!(count.0.load(Ordering::SeqCst), 1, "queued waiter not woken");
                }
            }
            assert!(
                m.unlock(Direction::Write),
                "the holder's release is the last"
            );
        });
    }
}
