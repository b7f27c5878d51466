//! [`JoinSet`]: a group of tasks awaited in completion order — Go's
//! `sync.WaitGroup`/`errgroup` and tokio's `JoinSet`.
//!
//! Each task's [`JoinHandle`] sits in an [`Entry`] that is also the waker
//! the set polls that handle with. When a task finishes (or is aborted
//! through the set), its entry pushes its id onto the set's ready queue and
//! wakes the task waiting in `join_next`, which then polls only the entries
//! on the queue: waiting costs nothing, and each completion costs O(1)
//! rather than a scan of the set.
//!
//! Invariants: every entry in `entries` has been queued at least once since
//! it last returned `Pending` with its waker registered (new entries are
//! queued on spawn, aborts queue explicitly), so no completion goes
//! unnoticed. The queue may hold ids of entries already joined, or the same
//! id twice; `join_next` skips those. The ready queue and the waiting waker
//! share one lock, so a wake cannot slip between "queue empty" and
//! "waker stored".

use super::abort::{AbortHandle, AbortTarget};
use super::join::{JoinError, JoinHandle};
use crate::runtime::Handle;
use crate::sync::{Mutex, MutexGuard};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::{Future, poll_fn};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

/// A set of spawned tasks whose results are collected as they finish.
///
/// [`spawn`](Self::spawn) adds a task; [`join_next`](Self::join_next)
/// waits for whichever finishes next and yields its result, or `None` once
/// the set is empty. Dropping the set **aborts** every task still in it
/// (unlike dropping a [`JoinHandle`], which detaches), so tasks never
/// outlive the scope that owns them. A panicking task becomes an `Err`
/// with [`JoinError::is_panic`]; the others carry on.
///
/// Go's `sync.WaitGroup` (wait for all) is `while set.join_next().await
/// .is_some() {}`; `errgroup` (stop at the first error) is returning early
/// from that loop: the dropped set aborts the rest.
///
/// ```
/// # goro::block_on(async {
/// use goro::task::JoinSet;
/// use std::time::Duration;
///
/// let mut set = JoinSet::new();
/// for ms in [30u64, 10, 20] {
///     set.spawn(async move {
///         goro::time::sleep(Duration::from_millis(ms)).await;
///         ms
///     });
/// }
/// assert_eq!(set.len(), 3);
/// let mut order = Vec::new();
/// while let Some(res) = set.join_next().await {
///     order.push(res.unwrap());
/// }
/// assert_eq!(order, [10, 20, 30]); // completion order
/// assert!(set.is_empty());
/// # });
/// ```
pub struct JoinSet<T> {
    entries: HashMap<u64, Arc<Entry<T>>>,
    shared: Arc<Shared>,
    next_id: u64,
}

/// What the set and its entries' wakers share.
#[derive(Default)]
struct Shared {
    state: Mutex<ReadyState>,
}

#[derive(Default)]
struct ReadyState {
    /// Ids of entries to poll.
    ready: VecDeque<u64>,
    /// The task waiting in `join_next`, if any.
    waiter: Option<Waker>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, ReadyState> {
        self.state.lock()
    }

    fn push_ready(&self, id: u64) {
        let waiter = {
            let mut st = self.lock();
            st.ready.push_back(id);
            st.waiter.take()
        };
        if let Some(w) = waiter {
            // Contained: this runs where async-task wakes the handle's
            // awaiter (it aborts on a panic), and `w` may be another
            // executor's waker.
            crate::poller::wake::wake(w);
        }
    }
}

/// One task of the set: its handle, and the waker that queues it.
struct Entry<T> {
    id: u64,
    handle: JoinHandle<T>,
    /// Queued and not yet polled (keeps repeated wakes from queueing it
    /// many times).
    queued: AtomicBool,
    shared: Arc<Shared>,
}

impl<T> Entry<T> {
    fn queue(&self) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.shared.push_ready(self.id);
        }
    }
}

impl<T: Send> Wake for Entry<T> {
    fn wake(self: Arc<Self>) {
        self.queue();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.queue();
    }
}

impl<T: Send + 'static> AbortTarget for Entry<T> {
    fn abort(&self) {
        self.handle.abort();
        // The aborted task will not wake us: queue it so `join_next`
        // reports the cancellation.
        self.queue();
    }

    fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }

    fn id(&self) -> super::Id {
        self.handle.id()
    }
}

impl<T: Send + 'static> JoinSet<T> {
    /// An empty set.
    ///
    /// ```
    /// let set: goro::task::JoinSet<()> = goro::task::JoinSet::new();
    /// assert!(set.is_empty());
    /// ```
    pub fn new() -> JoinSet<T> {
        JoinSet {
            entries: HashMap::new(),
            shared: Arc::default(),
            next_id: 0,
        }
    }

    /// Spawns `future` on the current runtime (or the default one, as
    /// [`spawn`](super::spawn) does) and adds it to the set. The returned
    /// [`AbortHandle`] can cancel it; dropping the handle does nothing.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let mut set = goro::task::JoinSet::new();
    /// set.spawn(async { "hello" });
    /// assert_eq!(set.join_next().await.unwrap().unwrap(), "hello");
    /// # });
    /// ```
    #[track_caller]
    pub fn spawn<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
    {
        self.insert(super::spawn(future))
    }

    /// Spawns `future` on the runtime of `handle` and adds it to the set.
    ///
    /// ```
    /// let rt = goro::runtime::Runtime::builder().worker_threads(1).build().unwrap();
    /// let mut set = goro::task::JoinSet::new();
    /// set.spawn_on(async { 7 }, &rt.handle());
    /// assert_eq!(rt.block_on(set.join_next()).unwrap().unwrap(), 7);
    /// ```
    #[track_caller]
    pub fn spawn_on<F>(&mut self, future: F, handle: &Handle) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
    {
        self.insert(handle.spawn(future))
    }

    /// Runs `f` on the blocking pool (as [`spawn_blocking`](super::spawn_blocking))
    /// and adds it to the set. Aborting it only discards its result: a
    /// running closure cannot be interrupted.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let mut set = goro::task::JoinSet::new();
    /// set.spawn_blocking(|| 2 + 2);
    /// assert_eq!(set.join_next().await.unwrap().unwrap(), 4);
    /// # });
    /// ```
    #[track_caller]
    pub fn spawn_blocking<F>(&mut self, f: F) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
    {
        self.insert(super::spawn_blocking(f))
    }

    fn insert(&mut self, handle: JoinHandle<T>) -> AbortHandle {
        let id = self.next_id;
        self.next_id += 1;
        let entry = Arc::new(Entry {
            id,
            handle,
            queued: AtomicBool::new(false),
            shared: self.shared.clone(),
        });
        // Poll it once in `join_next` so its waker gets registered.
        entry.queue();
        self.entries.insert(id, entry.clone());
        AbortHandle::new(entry)
    }

    /// Waits for the next task to finish and returns its result, in
    /// completion order; `None` once the set is empty. Cancel-safe:
    /// dropping the future loses no result.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let mut set = goro::task::JoinSet::new();
    /// set.spawn(async { panic!("one task fails") });
    /// let err = set.join_next().await.unwrap().unwrap_err();
    /// assert!(err.is_panic());
    /// assert!(set.join_next().await.is_none());
    /// # });
    /// ```
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        poll_fn(|cx| self.poll_join_next(cx)).await
    }

    /// The result of a task that has already finished, if any, without
    /// waiting.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let mut set = goro::task::JoinSet::new();
    /// set.spawn(std::future::pending::<()>());
    /// assert!(set.try_join_next().is_none()); // still running
    /// # });
    /// ```
    pub fn try_join_next(&mut self) -> Option<Result<T, JoinError>> {
        let mut cx = Context::from_waker(Waker::noop());
        match self.poll_next(&mut cx) {
            Poll::Ready(r) => r,
            Poll::Pending => None,
        }
    }

    /// Polls for the next finished task (the body of
    /// [`join_next`](Self::join_next)).
    ///
    /// ```
    /// # goro::block_on(async {
    /// let mut set = goro::task::JoinSet::new();
    /// set.spawn(async { 1 });
    /// let r = std::future::poll_fn(|cx| set.poll_join_next(cx)).await;
    /// assert_eq!(r.unwrap().unwrap(), 1);
    /// # });
    /// ```
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        let next = self.poll_next(cx);
        if next.is_pending() {
            // For task dumps (the entries were polled with their own wakers).
            let tasks = self.entries.len() as u64;
            crate::taskinfo::record::waiting_on(crate::taskinfo::record::Wait::JoinSet(tasks));
        }
        next
    }

    /// [`poll_join_next`](Self::poll_join_next) without noting the wait on
    /// the current task ([`try_join_next`](Self::try_join_next) does not
    /// park).
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        loop {
            if self.entries.is_empty() {
                return Poll::Ready(None);
            }
            let id = {
                let mut st = self.shared.lock();
                match st.ready.pop_front() {
                    Some(id) => id,
                    None => {
                        st.waiter = Some(cx.waker().clone());
                        return Poll::Pending;
                    }
                }
            };
            let Some(entry) = self.entries.get(&id) else {
                continue; // already joined
            };
            // Clear first: a wake from here on queues it again.
            entry.queued.store(false, Ordering::Release);
            let waker = Waker::from(entry.clone());
            if let Poll::Ready(r) = entry.handle.poll_output(&mut Context::from_waker(&waker)) {
                self.entries.remove(&id);
                return Poll::Ready(Some(r));
            }
        }
    }

    /// Aborts every task in the set. They stay in it until joined:
    /// [`join_next`](Self::join_next) yields a cancelled [`JoinError`] for
    /// each (or its output, if it had already finished).
    ///
    /// ```
    /// # goro::block_on(async {
    /// let mut set = goro::task::JoinSet::new();
    /// for _ in 0..3 {
    ///     set.spawn(std::future::pending::<()>());
    /// }
    /// set.abort_all();
    /// while let Some(r) = set.join_next().await {
    ///     assert!(r.unwrap_err().is_cancelled());
    /// }
    /// # });
    /// ```
    pub fn abort_all(&self) {
        for entry in self.entries.values() {
            entry.abort();
        }
    }

    /// Aborts every task and waits until all have been joined, discarding
    /// their results.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let mut set = goro::task::JoinSet::new();
    /// set.spawn(std::future::pending::<()>());
    /// set.shutdown().await;
    /// assert!(set.is_empty());
    /// # });
    /// ```
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
    }

    /// Waits for every task and returns their outputs in completion order.
    /// If one panicked, the panic is resumed here (after the set, dropped
    /// by the unwind, aborts the rest); a cancelled task is skipped.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let mut set = goro::task::JoinSet::new();
    /// for i in 0..3 {
    ///     set.spawn(async move { i * 10 });
    /// }
    /// let mut all = set.join_all().await;
    /// all.sort();
    /// assert_eq!(all, [0, 10, 20]);
    /// # });
    /// ```
    pub async fn join_all(mut self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.len());
        while let Some(r) = self.join_next().await {
            match r {
                Ok(v) => out.push(v),
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => {}
            }
        }
        out
    }
}

impl<T> JoinSet<T> {
    /// How many tasks are in the set: spawned and not yet returned by
    /// [`join_next`](Self::join_next) (finished or not).
    ///
    /// ```
    /// # goro::block_on(async {
    /// let mut set = goro::task::JoinSet::new();
    /// set.spawn(async {});
    /// assert_eq!(set.len(), 1);
    /// set.join_next().await;
    /// assert_eq!(set.len(), 0);
    /// # });
    /// ```
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if the set holds no tasks.
    ///
    /// ```
    /// let set = goro::task::JoinSet::<u8>::new();
    /// assert!(set.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<T: Send + 'static> Default for JoinSet<T> {
    fn default() -> JoinSet<T> {
        JoinSet::new()
    }
}

/// Aborts every task still in the set, and has each handle forget the
/// waker it was last polled with: that waker is the entry itself, which
/// would otherwise keep itself (and a finished task's output) alive.
impl<T> Drop for JoinSet<T> {
    fn drop(&mut self) {
        for entry in self.entries.values() {
            entry.handle.abort_unobserved();
        }
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet").field("len", &self.len()).finish()
    }
}

impl<T: Send + 'static, F> Extend<F> for JoinSet<T>
where
    F: Future<Output = T> + Send + 'static,
{
    fn extend<I: IntoIterator<Item = F>>(&mut self, futures: I) {
        for f in futures {
            self.spawn(f);
        }
    }
}

/// Spawns every future of the iterator into a new set.
///
/// ```
/// # goro::block_on(async {
/// let set: goro::task::JoinSet<u32> = (1..=3).map(|i| async move { i }).collect();
/// let mut sum = 0;
/// for v in set.join_all().await {
///     sum += v;
/// }
/// assert_eq!(sum, 6);
/// # });
/// ```
impl<T: Send + 'static, F> FromIterator<F> for JoinSet<T>
where
    F: Future<Output = T> + Send + 'static,
{
    fn from_iter<I: IntoIterator<Item = F>>(futures: I) -> JoinSet<T> {
        let mut set = JoinSet::new();
        set.extend(futures);
        set
    }
}
