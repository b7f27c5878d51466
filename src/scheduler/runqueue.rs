//! A P's local run queue: a bounded ring of [`CAPACITY`] tasks that its owner
//! pushes to and pops from, and that idle workers steal half of.
//!
//! Go's `runq` is single-producer: only the P's owner pushes. goro's
//! sysmon can hand a P to another thread while the previous owner is still
//! inside a task's `poll` (it cannot be preempted). That thread stops
//! pushing to the P as soon as it sees the hand-off (ownership.rs), but a
//! push it had already started when the P changed hands may land alongside
//! the new owner's. So this ring accepts pushes from any thread: it is
//! Dmitry Vyukov's bounded MPMC queue, where each cell carries a sequence
//! `stamp` saying whose turn it is:
//!
//! ```text
//! cell i, lap k (position p = k*CAP + i):
//!   stamp == p       free: the pusher that claims tail == p may write it
//!   stamp == p + 1   full: the popper that claims head == p may read it
//!   (after the pop)  stamp = p + CAP, i.e. free for position p + CAP
//! ```
//!
//! A push claims `tail` with a CAS and then publishes the cell with a
//! release store of its stamp; a pop claims `head` the same way. Positions
//! are `usize` and never wrap in practice (2^64 operations).
//! Stealing pops up to half of a victim's tasks one by one into the thief's
//! queue; it is not atomic as a batch (Go's is) but each task moves exactly
//! once, which is the property that matters.

use crate::sync::{AtomicUsize, Ordering, UnsafeCell};
use std::mem::MaybeUninit;

/// Tasks a local queue holds (Go's `len(p.runq)`).
#[cfg(not(loom))]
pub(crate) const CAPACITY: usize = 256;

/// Tasks a local queue holds under the model checker: small, so a model
/// with a handful of tasks reaches the full-queue and overflow paths (and
/// each queue is a handful of modelled atomics, not hundreds).
#[cfg(loom)]
pub(crate) const CAPACITY: usize = 4;

struct Cell<T> {
    stamp: AtomicUsize,
    task: UnsafeCell<MaybeUninit<T>>,
}

/// Pads a value to its own cache line so head and tail do not false-share.
#[repr(align(128))]
struct Padded<T>(T);

/// See the module docs. `T` is a task (`Runnable`) in the scheduler.
pub(crate) struct RunQueue<T> {
    head: Padded<AtomicUsize>,
    tail: Padded<AtomicUsize>,
    cells: Box<[Cell<T>]>,
}

// SAFETY: a cell's value is only accessed by the thread that claimed its
// position (see the module docs), so values only move between threads.
unsafe impl<T: Send> Send for RunQueue<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for RunQueue<T> {}

impl<T> std::fmt::Debug for RunQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunQueue")
            .field("len", &self.len())
            .finish()
    }
}

impl<T> Default for RunQueue<T> {
    fn default() -> Self {
        RunQueue::new()
    }
}

impl<T> RunQueue<T> {
    /// An empty queue.
    pub(crate) fn new() -> RunQueue<T> {
        RunQueue {
            head: Padded(AtomicUsize::new(0)),
            tail: Padded(AtomicUsize::new(0)),
            cells: (0..CAPACITY)
                .map(|i| Cell {
                    stamp: AtomicUsize::new(i),
                    task: UnsafeCell::new(MaybeUninit::uninit()),
                })
                .collect(),
        }
    }

    /// Number of queued tasks (a racy snapshot).
    pub(crate) fn len(&self) -> usize {
        let tail = self.tail.0.load(Ordering::SeqCst);
        let head = self.head.0.load(Ordering::SeqCst);
        tail.saturating_sub(head)
    }

    /// True if no task is queued (a racy snapshot).
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends `task`, or gives it back if the queue is full.
    pub(crate) fn push(&self, task: T) -> Result<(), T> {
        let mut tail = self.tail.0.load(Ordering::Relaxed);
        loop {
            let cell = &self.cells[tail % CAPACITY];
            let stamp = cell.stamp.load(Ordering::Acquire);
            if stamp == tail {
                // SeqCst: the push is the "publish work" half of the idle
                // protocol (scheduler/idle.rs); the pusher reads `npidle`
                // next, an idling M reads `len()` after publishing itself.
                match self.tail.0.compare_exchange_weak(
                    tail,
                    tail + 1,
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: we claimed position `tail`, whose cell is
                        // free (stamp == tail): nobody else touches it until
                        // we publish the new stamp.
                        cell.task.with_mut(|t| unsafe { (*t).write(task) });
                        cell.stamp.store(tail + 1, Ordering::Release);
                        return Ok(());
                    }
                    Err(now) => tail = now,
                }
            } else if stamp.wrapping_add(CAPACITY) == tail + 1 {
                // The cell still holds the task pushed one lap ago: full.
                return Err(task);
            } else {
                // Another pusher claimed this position; catch up.
                backoff();
                tail = self.tail.0.load(Ordering::Relaxed);
            }
        }
    }

    /// Removes the oldest task.
    pub(crate) fn pop(&self) -> Option<T> {
        let mut head = self.head.0.load(Ordering::Relaxed);
        loop {
            let cell = &self.cells[head % CAPACITY];
            let stamp = cell.stamp.load(Ordering::Acquire);
            if stamp == head + 1 {
                match self.head.0.compare_exchange_weak(
                    head,
                    head + 1,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: we claimed position `head`, whose cell holds
                        // a published task (stamp == head + 1).
                        let task = cell.task.with(|t| unsafe { (*t).assume_init_read() });
                        cell.stamp.store(head + CAPACITY, Ordering::Release);
                        return Some(task);
                    }
                    Err(now) => head = now,
                }
            } else if stamp == head {
                // Not yet written: empty, unless a pusher is mid-way.
                if self.tail.0.load(Ordering::Acquire) == head {
                    return None;
                }
                backoff();
                head = self.head.0.load(Ordering::Relaxed);
            } else {
                backoff();
                head = self.head.0.load(Ordering::Relaxed);
            }
        }
    }

    /// Moves up to half of this queue's tasks into `into` (Go's
    /// `runqsteal`) and returns one of them to run now. Tasks that do not
    /// fit (`into` filled up concurrently) go to `overflow`.
    pub(crate) fn steal_half_into(
        &self,
        into: &RunQueue<T>,
        mut overflow: impl FnMut(T),
    ) -> Option<T> {
        let n = self.len().div_ceil(2).min(CAPACITY / 2);
        let first = self.pop()?;
        for _ in 1..n {
            let Some(task) = self.pop() else { break };
            if let Err(task) = into.push(task) {
                overflow(task);
            }
        }
        Some(first)
    }
}

impl<T> Drop for RunQueue<T> {
    fn drop(&mut self) {
        // Drop whatever is left (for tasks: cancels them).
        while self.pop().is_some() {}
    }
}

fn backoff() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::hint::spin_loop();
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use async_task::Runnable;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize as Counter;

    /// A runnable whose run increments `ran` once it is run.
    fn task(ran: &Arc<Counter>) -> Runnable {
        let ran = ran.clone();
        let (r, t) = async_task::spawn(
            async move {
                ran.fetch_add(1, Ordering::SeqCst);
            },
            |_| {},
        );
        t.detach();
        r
    }

    #[test]
    fn fifo_and_bounded() {
        let q: RunQueue<Runnable> = RunQueue::new();
        let ran = Arc::new(Counter::new(0));
        for _ in 0..CAPACITY {
            assert!(q.push(task(&ran)).is_ok());
        }
        assert!(q.push(task(&ran)).is_err(), "257th push must fail");
        assert_eq!(q.len(), CAPACITY);
        while let Some(r) = q.pop() {
            r.run();
        }
        assert_eq!(ran.load(Ordering::SeqCst), CAPACITY);
        assert!(q.is_empty());
    }

    #[test]
    fn steal_takes_half() {
        let (a, b): (RunQueue<Runnable>, RunQueue<Runnable>) = (RunQueue::new(), RunQueue::new());
        let ran = Arc::new(Counter::new(0));
        for _ in 0..100 {
            a.push(task(&ran)).unwrap();
        }
        let first = a.steal_half_into(&b, |_| panic!("overflow")).unwrap();
        assert_eq!(b.len() + 1, 50);
        assert_eq!(a.len(), 50);
        first.run();
        assert!(
            RunQueue::<Runnable>::new()
                .steal_half_into(&b, drop)
                .is_none()
        );
    }

    #[test]
    fn stress_every_task_runs_exactly_once() {
        // Two pushers, two stealers/poppers: 40,000 tasks each run once.
        let q: Arc<RunQueue<Runnable>> = Arc::new(RunQueue::new());
        let ran = Arc::new(Counter::new(0));
        let popped = Arc::new(Counter::new(0));
        const N: usize = 20_000;
        let pushers: Vec<_> = (0..2)
            .map(|_| {
                let (q, ran) = (q.clone(), ran.clone());
                std::thread::spawn(move || {
                    for _ in 0..N {
                        let mut t = task(&ran);
                        while let Err(back) = q.push(t) {
                            t = back;
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        let poppers: Vec<_> = (0..2)
            .map(|i| {
                let (q, popped) = (q.clone(), popped.clone());
                std::thread::spawn(move || {
                    let mine: RunQueue<Runnable> = RunQueue::new();
                    while popped.load(Ordering::SeqCst) < 2 * N {
                        let got = if i == 0 {
                            q.pop()
                        } else {
                            q.steal_half_into(&mine, |_| unreachable!("thief queue is empty"))
                        };
                        if let Some(r) = got {
                            r.run();
                            popped.fetch_add(1, Ordering::SeqCst);
                        }
                        while let Some(r) = mine.pop() {
                            r.run();
                            popped.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        for t in pushers.into_iter().chain(poppers) {
            t.join().unwrap();
        }
        assert_eq!(ran.load(Ordering::SeqCst), 2 * N);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use async_task::Runnable;
    use loom::sync::Arc;

    fn task() -> Runnable {
        let (r, t) = async_task::spawn(async {}, |_| {});
        t.detach();
        r
    }

    /// Owner pushes and pops while a thief steals: every task comes out
    /// exactly once.
    #[test]
    fn loom_push_pop_steal() {
        loom::model(|| {
            let q: Arc<RunQueue<Runnable>> = Arc::new(RunQueue::new());
            let q2 = q.clone();
            let thief = loom::thread::spawn(move || {
                let mine: RunQueue<Runnable> = RunQueue::new();
                let mut n = 0;
                if q2.steal_half_into(&mine, |_| unreachable!()).is_some() {
                    n += 1;
                }
                while mine.pop().is_some() {
                    n += 1;
                }
                n
            });
            q.push(task()).unwrap();
            q.push(task()).unwrap();
            let mut n = 0;
            if q.pop().is_some() {
                n += 1;
            }
            n += thief.join().unwrap();
            while q.pop().is_some() {
                n += 1;
            }
            assert_eq!(n, 2);
        });
    }

    /// A foreign pusher (the old owner after a hand-off) and the new owner
    /// push concurrently: nothing is lost or duplicated.
    #[test]
    fn loom_two_pushers() {
        loom::model(|| {
            let q: Arc<RunQueue<Runnable>> = Arc::new(RunQueue::new());
            let q2 = q.clone();
            let t = loom::thread::spawn(move || {
                q2.push(task()).unwrap();
            });
            q.push(task()).unwrap();
            let mut n = usize::from(q.pop().is_some());
            t.join().unwrap();
            while q.pop().is_some() {
                n += 1;
            }
            assert_eq!(n, 2);
        });
    }

    /// A thief steals into its own queue while a foreign pusher fills that
    /// queue up (CAPACITY is 4 under loom): whichever push finds the queue
    /// full hands its task back (to `overflow` or to the pusher), and every
    /// task is accounted for exactly once.
    #[test]
    fn loom_steal_into_a_queue_filling_up() {
        loom::model(|| {
            let victim: Arc<RunQueue<Runnable>> = Arc::new(RunQueue::new());
            let mine: Arc<RunQueue<Runnable>> = Arc::new(RunQueue::new());
            for _ in 0..CAPACITY {
                victim.push(task()).unwrap();
            }
            for _ in 0..CAPACITY - 1 {
                mine.push(task()).unwrap();
            }
            let pusher = {
                let mine = mine.clone();
                loom::thread::spawn(move || usize::from(mine.push(task()).is_err()))
            };
            let mut overflowed = 0;
            let first = victim.steal_half_into(&mine, |_| overflowed += 1);
            assert!(first.is_some());
            let rejected = pusher.join().unwrap();
            let mut left = 0;
            while victim.pop().is_some() || mine.pop().is_some() {
                left += 1;
            }
            assert_eq!(overflowed + rejected, 1, "exactly one push finds it full");
            assert_eq!(1 + overflowed + rejected + left, 2 * CAPACITY);
        });
    }
}
