//! [`JoinHandle`] and [`JoinError`]: awaiting a spawned task's result.
//!
//! A handle keeps its task's state (the async-task handle, or a pending
//! cancellation) in its own mutex: no allocation beyond the task's. The
//! first [`JoinHandle::abort_handle`] moves that state into an
//! [`Arc`]-shared [`Shared`], which the handle then forwards to and every
//! [`AbortHandle`] holds, so aborting works even after the `JoinHandle` is
//! dropped. Invariant: once a handle's state is `State::Shared` it stays so,
//! and the shared state is never `State::Shared` itself.
//!
//! Who calls into async-task, and with which lock. Nobody calls into
//! async-task under the state's lock. The task's async-task handle (or its
//! pending cancellation) has one caller at a time: the awaiter (whoever
//! polls the `JoinHandle`: `poll_awaited`), `abort` and `is_finished` (from
//! any thread, through an `AbortHandle`, or from a waker or a destructor:
//! `abort_task`, `task_is_finished`), or a dropped `JoinHandle`
//! (`register_reaper`) takes it out of the state — which reads
//! [`State::Aside`] meanwhile — calls async-task without the lock, and puts
//! the outcome back. Those calls may run user code on the calling thread
//! (wake the registered waker, or the one being registered; drop the
//! task's future, on a runtime that shut down), and user code may look at
//! the same task again, which under the lock deadlocked. An abort that
//! finds a running task aside leaves itself to whoever puts it back
//! ([`Aside::abort`]). What still runs under the lock: cloning the
//! awaiter's waker (a waker the state stops keeping is dropped after the
//! lock is released).
//!
//! Wake-ups. The awaiter stores its waker in the state and registers it in
//! the task; the task's worker wakes that registration when the task
//! completes or its cancelled future is dropped. `is_finished` polls a
//! pending cancellation (or a task async-task marks completed or closed)
//! with a clone of the stored waker, keeping the registration; if that
//! poll finds the task over, or the awaiter polled while the state was
//! aside, the awaiter is woken once the state is back and unlocked (an
//! `abort` always wakes it). A waker goro did not make is registered
//! wrapped so that its panics are contained (awaiter.rs): async-task
//! aborts the process when an awaiter's wake panics.

use super::abort::{AbortHandle, AbortTarget};
use super::awaiter::Awaiter;
use crate::scheduler::TaskMeta;
use crate::sync::{Mutex, MutexGuard};
use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};

/// An owned permission to await a spawned task's output.
///
/// Awaiting it yields `Ok(output)`, or a [`JoinError`] if the task panicked
/// or was cancelled ([`abort`](Self::abort), or runtime shutdown).
/// Dropping the handle *detaches* the task: it keeps running, and its output
/// is discarded.
///
/// ```
/// # goro::block_on(async {
/// let handle = goro::spawn(async { 6 * 7 });
/// assert_eq!(handle.await.unwrap(), 42);
/// # });
/// ```
pub struct JoinHandle<T> {
    id: super::Id,
    /// The task runs on the blocking pool (`spawn_blocking`): a task dump
    /// shows its awaiter as waiting on a blocking call.
    blocking: bool,
    inner: Mutex<Inner<T>>,
}

/// The output still to be collected, and the waker of the last poll.
/// Dropping it detaches a task still running.
struct Inner<T> {
    state: State<T>,
    /// Who awaits the handle (kept so `abort` can hand the cancellation's
    /// completion to the same waker); its waker is the one registered in
    /// the task (see awaiter.rs).
    waker: Option<Awaiter>,
}

/// ```text
/// Running ──abort──► Cancelling ──future dropped──► Done
///    │                                                ▲
///    └────────────── output / panic taken ────────────┘
/// ```
///
/// (Cancelled and Panicked hold a result nobody has taken yet; `Aside`
/// stands in for Running or Cancelling during a call into async-task.)
enum State<T> {
    /// The task may still run; its output (or panic) is collected here.
    Running(async_task::FallibleTask<T, TaskMeta>),
    /// `abort` was called: resolves once the task's future has been dropped
    /// (or with the output, if the task finished just before).
    Cancelling(Pin<Box<dyn Future<Output = Option<T>> + Send>>),
    /// The cancellation completed before anyone awaited the handle.
    Cancelled(Option<T>),
    /// `abort` found the task had just panicked (its error is kept).
    Panicked(Option<JoinError>),
    /// The result was taken (or the handle is being dropped).
    Done,
    /// The awaiter, `abort`, `is_finished` or a dropped `JoinHandle` took
    /// the task (or its pending cancellation) out to call into async-task
    /// without the lock, and will put the outcome back (see the module
    /// docs).
    Aside(Aside<T>),
    /// [`JoinHandle::abort_handle`] moved the state into a [`Shared`]
    /// (a handle's own state only; see the module docs).
    Shared(Arc<Shared<T>>),
}

/// What the state says while a call into async-task runs without the lock
/// (`is_finished` answers false meanwhile: only a state that is not yet
/// known to be over is set aside — see [`task_is_finished`]).
struct Aside<T> {
    /// The awaiter polled meanwhile: it got `Pending` and is woken when
    /// the outcome is put back.
    awaited: bool,
    /// A running task is aside (the awaiter polls it, or a dropped
    /// `JoinHandle` registers its reaper): an abort meanwhile only leaves
    /// `abort`, and whoever puts the task back aborts it with that instead.
    running: bool,
    /// [`cancel`] for this `T`, left by an abort that found the running
    /// task aside (the awaiter's poll cannot require `T: Send + 'static`;
    /// an abort can).
    abort: Option<CancelFn<T>>,
}

/// [`cancel`]'s type.
type CancelFn<T> = fn(async_task::FallibleTask<T, TaskMeta>) -> State<T>;

impl<T> Aside<T> {
    fn new() -> Aside<T> {
        Aside {
            awaited: false,
            running: false,
            abort: None,
        }
    }

    fn running() -> Aside<T> {
        Aside {
            running: true,
            ..Aside::new()
        }
    }
}

/// A handle's state once it has [`AbortHandle`]s: what they and the
/// `JoinHandle` share.
struct Shared<T> {
    id: super::Id,
    inner: Mutex<Inner<T>>,
    /// The `JoinHandle` was dropped: nobody will take the output, so a
    /// finished task's output is dropped as soon as it is seen — by the
    /// task's reaper when it completes (`register_reaper`), or by an
    /// [`AbortHandle`] looking at it.
    detached: AtomicBool,
    /// [`register_reaper`] for this `T` (`JoinHandle`'s `Drop` cannot
    /// require `T: Send + 'static`; [`JoinHandle::abort_handle`] can).
    reap: fn(&Arc<Shared<T>>, async_task::FallibleTask<T, TaskMeta>),
}

impl<T> Drop for Inner<T> {
    fn drop(&mut self) {
        if let State::Running(task) = std::mem::replace(&mut self.state, State::Done) {
            task.detach();
        }
        // A pending cancellation is simply dropped: the task is already
        // marked cancelled and its future will be dropped without us.
    }
}

impl<T> Inner<T> {
    fn new(state: State<T>) -> Inner<T> {
        Inner { state, waker: None }
    }
}

/// A pending cancellation: resolves once the task's future has been
/// dropped, with the output if the task finished just before.
type Cancel<T> = Pin<Box<dyn Future<Output = Option<T>> + Send>>;

/// Where a task's state is locked: a handle's own lock (which forwards to
/// the shared state once there is one) or the [`Shared`] one.
trait StateLock<T> {
    fn with_state<R>(&self, f: impl FnOnce(&mut Inner<T>) -> R) -> R;
}

/// See [`JoinHandle::abort`]: the task is taken out of the state, cancelled
/// without the lock, and the outcome put back.
///
/// Cancelling an idle task calls its schedule function on this thread,
/// which drops the task — and with it the future, whose `Drop` is user
/// code — once runtime shutdown has drained the queues (`schedule_remote`
/// in scheduler/ready.rs; an abort on another thread racing the end of a
/// shutdown gets there). Cancelling also wakes whoever is registered in
/// the task at once, on this thread. Either may look at this task again
/// (`is_finished`, `abort`, `Debug` of a handle): under the lock, that
/// deadlocked. Meanwhile the state is [`State::Aside`]: a second abort does
/// nothing, `is_finished` answers false, and the awaiter gets `Pending`
/// and is woken when the outcome is back.
fn abort_task<T: Send + 'static>(lock: &impl StateLock<T>) {
    if let Some(task) = lock.with_state(Inner::set_aside_for_abort) {
        finish_abort(lock, task);
    }
}

/// The rest of [`abort_task`], for a task set aside.
fn finish_abort<T: Send + 'static>(
    lock: &impl StateLock<T>,
    task: async_task::FallibleTask<T, TaskMeta>,
) {
    let outcome = cancel(task);
    // The awaiter is woken in every case: it learns of the outcome, or
    // polls the pending cancellation, which registers it in the task
    // again (`cancel` left a no-op waker there).
    lock.with_state(|inner| inner.put_back(outcome, true))
        .wake();
}

/// The part of an abort that calls into async-task (without the lock).
fn cancel<T: Send + 'static>(mut task: async_task::FallibleTask<T, TaskMeta>) -> State<T> {
    let mut cx = Context::from_waker(Waker::noop());
    // A task that has finished — before the abort, or just now — keeps its
    // output or its panic. This poll also puts a no-op waker in the
    // awaiter's place in the task, so that cancelling does not wake the
    // awaiter while its state is aside (it would poll, find it aside, and
    // have to be woken again).
    match poll_task(&mut task, &mut cx) {
        Poll::Pending => {}
        Poll::Ready(Ok(out)) => return State::Cancelled(out),
        Poll::Ready(Err(panic)) => return State::Panicked(Some(panic)),
    }
    let mut cancel: Cancel<T> = Box::pin(task.cancel());
    // The first poll marks the task cancelled and schedules it so that its
    // future is dropped. If the task finished in between, async-task hands
    // out its output here, or re-raises its panic (caught, as in
    // `poll_task`).
    let first = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        cancel.as_mut().poll(&mut cx)
    }));
    match first {
        Ok(Poll::Pending) => State::Cancelling(cancel),
        Ok(Poll::Ready(out)) => State::Cancelled(out),
        Err(payload) => State::Panicked(Some(JoinError::panic(payload))),
    }
}

/// See [`JoinHandle::is_finished`]. A pending cancellation is polled to
/// learn whether it is over, and so is a task that async-task says is
/// finished: that only means completed *or closed*, and a task closed by
/// a runtime shutdown (which then drops its future) is not over until its
/// future has been dropped — answering from that mark said "finished"
/// while the future's `Drop` still ran, and "not finished" again after an
/// abort in that window. Its result, if it has one, is kept in the state
/// (`Cancelled`, `Panicked`) for the awaiter. Like an abort's calls into async-task, that
/// poll runs without the lock, the cancellation set aside meanwhile (it
/// may wake the awaiter's waker on this thread: async-task's `register`
/// does, when the task's worker is notifying at that moment).
///
/// The poll uses the awaiter's waker, so that async-task keeps it
/// registered. Once the poll finds the cancellation complete, the awaiter
/// must be woken here: async-task takes a poller whose waker `will_wake`
/// the registered one for the awaiter itself, and so drops the registered
/// waker unwoken — and with it the wake-up that the task's completion, or
/// the dropping of its future, was about to deliver (a worker sets
/// "completed" first and takes the awaiter's waker after).
fn task_is_finished<T>(lock: &impl StateLock<T>) -> bool {
    let (finished, pending) = lock.with_state(Inner::finished_or_set_aside);
    let Some((pending, waker)) = pending else {
        return finished;
    };
    let mut cx = Context::from_waker(&waker);
    let (finished, outcome) = match pending {
        Found::Cancel(mut cancel) => match cancel.as_mut().poll(&mut cx) {
            Poll::Ready(out) => (true, State::Cancelled(out)),
            Poll::Pending => (false, State::Cancelling(cancel)),
        },
        Found::Task(mut task) => match poll_task(&mut task, &mut cx) {
            Poll::Pending => (false, State::Running(task)),
            Poll::Ready(Ok(out)) => (true, State::Cancelled(out)),
            Poll::Ready(Err(panic)) => (true, State::Panicked(Some(panic))),
        },
        Found::Over(_) | Found::Pending => unreachable!("only a task or a cancellation"),
    };
    lock.with_state(|inner| inner.put_back(outcome, false))
        .wake();
    finished
}

/// What the awaiter's poll finds: the result, nothing yet (someone else
/// has the task aside), or the task or its pending cancellation, set aside
/// for the awaiter to poll without the lock.
enum Found<T> {
    Over(Result<T, JoinError>),
    Pending,
    Task(async_task::FallibleTask<T, TaskMeta>),
    Cancel(Cancel<T>),
}

/// What the awaiter's poll does once it has put back what it polled.
enum AwaiterPutBack<T> {
    /// The result, and the awaiter's waker, to drop once unlocked.
    Over(Result<T, JoinError>, Option<Awaiter>),
    /// Still pending; wake whoever polled meanwhile (a re-entrant poll).
    Pending(WakeAfterUnlock),
    Abort(DeferredAbort<T>),
}

/// See [`JoinHandle::poll_output`]. The awaiter polls the task (or its
/// pending cancellation) without the lock, set aside meanwhile, like every
/// call into async-task (see the module docs): async-task may wake the
/// awaiter's waker inside the poll (`register`, when the task's worker is
/// notifying at that moment), or the waker it replaces, and a waker may
/// look at the task again.
///
/// The task registers the awaiter's waker as the state keeps it: a waker
/// goro did not make is wrapped to contain its panics (see awaiter.rs);
/// `goros_own`: goro made `cx`'s waker.
fn poll_awaited<T>(
    lock: &impl StateLock<T>,
    cx: &mut Context<'_>,
    goros_own: bool,
) -> Poll<Result<T, JoinError>> {
    // A new awaiter is made without the lock (making one clones the
    // waker, and a waker's `clone` may run anything): the first attempt
    // finds out whether the state needs one.
    let mut fresh = None;
    let (found, unneeded, wrapped) = loop {
        let step = lock.with_state(|inner| {
            let (found, unneeded) = inner.set_aside_for_awaiter(cx, &mut fresh)?;
            let wrapped = inner.waker.as_ref().and_then(|a| a.wrapped().cloned());
            Some((found, unneeded, wrapped))
        });
        match step {
            Some(step) => break step,
            None => fresh = Some(Awaiter::new(cx.waker(), goros_own)),
        }
    };
    // A waker the state no longer keeps (the previous poll's, or any once
    // the result is taken), and a fresh awaiter the state did not take,
    // are dropped when this function returns: without the lock, since
    // dropping a waker may run anything (the last reference to a task's
    // waker drops the task), which may look at this task again; and after
    // the task is put back, so that a waker whose drop panics cannot leave
    // it aside.
    let _dropped_last = (fresh, unneeded);
    let polled = match found {
        Found::Over(result) => return Poll::Ready(result),
        Found::Pending => return Poll::Pending,
        aside => match &wrapped {
            Some(waker) => poll_aside(aside, &mut Context::from_waker(waker)),
            None => poll_aside(aside, cx),
        },
    };
    match lock.with_state(|inner| inner.put_back_awaited(polled)) {
        AwaiterPutBack::Over(result, waker) => {
            drop(waker);
            Poll::Ready(result)
        }
        AwaiterPutBack::Pending(awaiter) => {
            awaiter.wake();
            Poll::Pending
        }
        // The abort wakes this awaiter: its next poll sees the outcome.
        AwaiterPutBack::Abort(deferred) => {
            run_deferred_abort(lock, deferred);
            Poll::Pending
        }
    }
}

/// Polls what [`poll_awaited`] set aside (the task, or its pending
/// cancellation) with the waker the task registers for the awaiter.
fn poll_aside<T>(aside: Found<T>, cx: &mut Context<'_>) -> Found<T> {
    match aside {
        Found::Task(mut task) => match poll_task(&mut task, cx) {
            Poll::Pending => Found::Task(task),
            Poll::Ready(Ok(Some(v))) => Found::Over(Ok(v)),
            Poll::Ready(Ok(None)) => Found::Over(Err(JoinError::cancelled())),
            Poll::Ready(Err(panic)) => Found::Over(Err(panic)),
        },
        Found::Cancel(mut cancel) => match cancel.as_mut().poll(cx) {
            Poll::Pending => Found::Cancel(cancel),
            Poll::Ready(out) => Found::Over(out.ok_or_else(JoinError::cancelled)),
        },
        over_or_pending => over_or_pending,
    }
}

/// Makes a task whose `JoinHandle` was dropped, but whose state lives on
/// with its [`AbortHandle`]s, drop its output as soon as it completes, as
/// a detached task does (async-task drops it then, once nobody holds the
/// task's handle; here the shared state still does, to abort it). The
/// task is polled with a [`Reaper`] as its waker, so that async-task
/// registers it in the awaiter's place: the task's worker wakes it on
/// completion, and it drops the output there and then. The poll runs
/// without the lock, the task set aside meanwhile (see the module docs);
/// an abort that finds it aside is carried out here.
fn register_reaper<T: Send + 'static>(
    shared: &Arc<Shared<T>>,
    mut task: async_task::FallibleTask<T, TaskMeta>,
) {
    let reaper = Waker::from(Arc::new(Reaper(Arc::downgrade(shared))));
    let outcome = match poll_task(&mut task, &mut Context::from_waker(&reaper)) {
        Poll::Pending => State::Running(task),
        // It finished meanwhile: put back, and dropped by `with` (the
        // state is detached).
        Poll::Ready(Ok(out)) => State::Cancelled(out),
        Poll::Ready(Err(panic)) => State::Panicked(Some(panic)),
    };
    match shared.with(|inner| inner.put_back_reaped(outcome)) {
        Ok(awaiter) => awaiter.wake(),
        Err(deferred) => run_deferred_abort(&**shared, deferred),
    }
}

/// Carries out an abort that found a running task aside (see
/// [`Aside::abort`]), like the second half of [`abort_task`].
fn run_deferred_abort<T>(lock: &impl StateLock<T>, (cancel, task): DeferredAbort<T>) {
    let outcome = cancel(task);
    lock.with_state(|inner| inner.put_back(outcome, true))
        .wake();
}

/// The waker a detached task's state registers in the task (see
/// [`register_reaper`]). It holds the state weakly: once every
/// `AbortHandle` is gone, async-task itself drops the output.
struct Reaper<T>(std::sync::Weak<Shared<T>>);

impl<T: Send + 'static> std::task::Wake for Reaper<T> {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    /// On the worker that completed the task, after it released the
    /// task: `with` drops the finished output (the state is detached).
    /// No lock of this state is held here: async-task wakes a registered
    /// waker from the worker, or inline from a call into the task, and
    /// nothing calls into the task under the lock (see the module docs).
    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(shared) = self.0.upgrade() {
            shared.with(|_| ());
        }
    }
}

/// Polls the task for its output (`None`: cancelled). async-task re-raises
/// a task's panic here (`propagate_panic`); it is caught and returned as a
/// [`JoinError`] instead of unwinding the poller.
fn poll_task<T>(
    task: &mut async_task::FallibleTask<T, TaskMeta>,
    cx: &mut Context<'_>,
) -> Poll<Result<Option<T>, JoinError>> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Pin::new(task).poll(cx))) {
        Ok(Poll::Pending) => Poll::Pending,
        Ok(Poll::Ready(out)) => Poll::Ready(Ok(out)),
        Err(payload) => Poll::Ready(Err(JoinError::panic(payload))),
    }
}

/// An awaiter that must be woken once the state's lock is released (a
/// waker may drop or poll the very handle whose state it is).
#[must_use = "wake it after releasing the lock"]
struct WakeAfterUnlock(Option<Waker>);

impl WakeAfterUnlock {
    fn wake(self) {
        if let Some(waker) = self.0 {
            waker.wake();
        }
    }
}

impl<T: Send + 'static> Inner<T> {
    /// The first half of [`abort_task`]: a running task (finished or not)
    /// is taken out. Anything else stays as it is: a second abort must not
    /// drop a pending cancellation (the handle would resolve before the
    /// future is gone) nor a cancelled task's output, and one already
    /// aside is being aborted or is cancelling already — or is running,
    /// and then is aborted when put back (`take_deferred_abort`).
    fn set_aside_for_abort(&mut self) -> Option<async_task::FallibleTask<T, TaskMeta>> {
        match &mut self.state {
            State::Running(_) => {}
            State::Aside(aside) if aside.running => {
                aside.abort = Some(cancel::<T>);
                return None;
            }
            _ => return None,
        }
        let aside = Aside::new();
        match std::mem::replace(&mut self.state, State::Aside(aside)) {
            State::Running(task) => Some(task),
            _ => unreachable!("checked above"),
        }
    }
}

/// An abort left for whoever puts a running task back: [`cancel`] and the
/// task.
type DeferredAbort<T> = (CancelFn<T>, async_task::FallibleTask<T, TaskMeta>);

impl<T> Inner<T> {
    /// Before putting a running task back: if an abort came meanwhile, the
    /// task stays aside and is returned with the abort's [`cancel`], for
    /// the caller to run without the lock and put the outcome back
    /// ([`Inner::put_back`], waking the awaiter as an abort does).
    fn take_deferred_abort(&mut self, outcome: State<T>) -> Result<DeferredAbort<T>, State<T>> {
        let State::Aside(aside) = &mut self.state else {
            unreachable!("only whoever set the state aside replaces it");
        };
        match (aside.abort.take(), outcome) {
            (Some(cancel), State::Running(task)) => {
                aside.running = false;
                Ok((cancel, task))
            }
            (_, outcome) => Err(outcome),
        }
    }

    /// The first half of [`task_is_finished`]: the answer, or a pending
    /// cancellation or a task that async-task says is finished, taken out
    /// to be polled with the awaiter's waker.
    fn finished_or_set_aside(&mut self) -> (bool, Option<(Found<T>, Waker)>) {
        match &self.state {
            State::Running(task) if !task.is_finished() => return (false, None),
            State::Running(_) | State::Cancelling(_) => {}
            State::Cancelled(_) | State::Panicked(_) | State::Done => return (true, None),
            State::Aside(_) => return (false, None),
            State::Shared(_) => unreachable!("a shared state is never shared again"),
        }
        let pending = match std::mem::replace(&mut self.state, State::Aside(Aside::new())) {
            State::Running(task) => Found::Task(task),
            State::Cancelling(cancel) => Found::Cancel(cancel),
            _ => unreachable!("checked above"),
        };
        let waker = self.awaiter().unwrap_or_else(|| Waker::noop().clone());
        (false, Some((pending, waker)))
    }

    /// The second half of [`abort_task`] and [`task_is_finished`]: puts
    /// the outcome in the aside state's place, and returns the awaiter to
    /// wake once unlocked — always if `wake`, else if the task is over
    /// (see `task_is_finished`) or the awaiter polled meanwhile.
    fn put_back(&mut self, outcome: State<T>, wake: bool) -> WakeAfterUnlock {
        let State::Aside(aside) = std::mem::replace(&mut self.state, outcome) else {
            unreachable!("only whoever set the state aside replaces it");
        };
        let over = matches!(self.state, State::Cancelled(_) | State::Panicked(_));
        let awaiter = (wake || over || aside.awaited).then(|| self.awaiter());
        WakeAfterUnlock(awaiter.flatten())
    }

    /// The first half of [`register_reaper`]: a running, unfinished task
    /// is taken out (a finished one's output is dropped by the caller
    /// through `take_finished`).
    fn set_aside_for_reaper(&mut self) -> Option<async_task::FallibleTask<T, TaskMeta>> {
        match &self.state {
            State::Running(task) if !task.is_finished() => {}
            _ => return None,
        }
        match std::mem::replace(&mut self.state, State::Aside(Aside::running())) {
            State::Running(task) => Some(task),
            _ => unreachable!("checked above"),
        }
    }

    /// The second half of [`register_reaper`]: puts the outcome back, or
    /// returns an abort that came meanwhile ([`take_deferred_abort`]).
    ///
    /// [`take_deferred_abort`]: Self::take_deferred_abort
    fn put_back_reaped(&mut self, outcome: State<T>) -> Result<WakeAfterUnlock, DeferredAbort<T>> {
        match self.take_deferred_abort(outcome) {
            Ok(deferred) => Err(deferred),
            Err(outcome) => Ok(self.put_back(outcome, false)),
        }
    }

    /// See [`JoinHandle::abort_unobserved`]: the running task's async-task
    /// handle, for the caller to drop (which cancels the task) once
    /// unlocked — dropping it makes the same calls as an abort
    /// ([`abort_task`]) — and the awaiter's waker, which nobody will wake
    /// now (a `JoinSet` entry is that waker: kept, it holds the entry, and
    /// with it this handle, for ever).
    #[must_use = "drop it after releasing the lock"]
    fn abort_unobserved(&mut self) -> (Option<State<T>>, Option<Awaiter>) {
        let task = match &self.state {
            State::Running(task) if !task.is_finished() => {
                Some(std::mem::replace(&mut self.state, State::Done))
            }
            _ => None,
        };
        (task, self.waker.take())
    }

    /// Takes a finished task's output (in its state) out, for the caller
    /// to drop after unlocking: nobody will take it. Dropping a finished
    /// task's handle drops its output.
    #[must_use = "drop it after releasing the lock"]
    fn take_finished(&mut self) -> Option<State<T>> {
        let finished = match &self.state {
            State::Running(t) => t.is_finished(),
            State::Cancelled(_) | State::Panicked(_) => true,
            State::Cancelling(_) | State::Done | State::Aside(_) | State::Shared(_) => false,
        };
        finished.then(|| std::mem::replace(&mut self.state, State::Done))
    }

    /// The first half of [`poll_awaited`]: stores the awaiter's waker,
    /// and returns the result if there is one, else the task or its
    /// pending cancellation, set aside.
    /// Also returns the waker it replaces (or, with the result, the one
    /// kept), for the caller to drop once unlocked.
    /// Returns `None`, changing nothing, if it needs a new awaiter for
    /// `cx` and `fresh` has none: the caller makes one without the lock
    /// and calls again.
    fn set_aside_for_awaiter(
        &mut self,
        cx: &Context<'_>,
        fresh: &mut Option<Awaiter>,
    ) -> Option<(Found<T>, Option<Awaiter>)> {
        let current = self.waker.as_ref().is_some_and(|a| a.is_for(cx.waker()));
        let over = matches!(
            self.state,
            State::Done | State::Cancelled(_) | State::Panicked(_)
        );
        if !current && !over && fresh.is_none() {
            return None;
        }
        let found = self.found_for_awaiter();
        let unneeded = match found {
            Found::Over(_) => self.waker.take(),
            _ if current => None,
            _ => std::mem::replace(&mut self.waker, fresh.take()),
        };
        Some((found, unneeded))
    }

    /// The waker registered for the awaiter, if any.
    fn awaiter(&self) -> Option<Waker> {
        self.waker.as_ref().map(|a| a.waker().clone())
    }

    /// The rest of [`set_aside_for_awaiter`](Self::set_aside_for_awaiter).
    fn found_for_awaiter(&mut self) -> Found<T> {
        let result = match &mut self.state {
            State::Done => Err(JoinError::cancelled()),
            State::Cancelled(out) => out.take().ok_or_else(JoinError::cancelled),
            State::Panicked(err) => Err(err.take().unwrap_or_else(JoinError::cancelled)),
            State::Running(_) => {
                let State::Running(task) =
                    std::mem::replace(&mut self.state, State::Aside(Aside::running()))
                else {
                    unreachable!("matched above");
                };
                return Found::Task(task);
            }
            State::Cancelling(_) => {
                let State::Cancelling(cancel) =
                    std::mem::replace(&mut self.state, State::Aside(Aside::new()))
                else {
                    unreachable!("matched above");
                };
                return Found::Cancel(cancel);
            }
            State::Aside(aside) => {
                // Woken when the outcome is put back (`put_back`).
                aside.awaited = true;
                return Found::Pending;
            }
            State::Shared(_) => unreachable!("a shared state is never shared again"),
        };
        self.state = State::Done;
        Found::Over(result)
    }

    /// The second half of [`poll_awaited`]: puts back what is still
    /// pending (or returns an abort that came meanwhile: see
    /// [`take_deferred_abort`](Self::take_deferred_abort)), or marks the
    /// result taken.
    fn put_back_awaited(&mut self, polled: Found<T>) -> AwaiterPutBack<T> {
        let outcome = match polled {
            Found::Over(result) => {
                self.state = State::Done;
                return AwaiterPutBack::Over(result, self.waker.take());
            }
            Found::Task(task) => State::Running(task),
            Found::Cancel(cancel) => State::Cancelling(cancel),
            Found::Pending => unreachable!("nothing was set aside"),
        };
        match self.take_deferred_abort(outcome) {
            Ok(deferred) => AwaiterPutBack::Abort(deferred),
            Err(outcome) => AwaiterPutBack::Pending(self.put_back(outcome, false)),
        }
    }
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        self.inner.lock()
    }

    /// Runs `f` on the state, then drops a finished task's output if the
    /// `JoinHandle` is gone.
    fn with<R>(&self, f: impl FnOnce(&mut Inner<T>) -> R) -> R {
        let mut inner = self.lock();
        let r = f(&mut inner);
        if self.detached.load(Ordering::Acquire) {
            let finished = inner.take_finished();
            drop(inner);
            // The output may be anything: dropped without the lock.
            drop(finished);
        }
        r
    }
}

impl<T> StateLock<T> for Shared<T> {
    fn with_state<R>(&self, f: impl FnOnce(&mut Inner<T>) -> R) -> R {
        self.with(f)
    }
}

impl<T: Send + 'static> AbortTarget for Shared<T> {
    fn abort(&self) {
        abort_task(self);
    }

    fn is_finished(&self) -> bool {
        task_is_finished(self)
    }

    fn id(&self) -> super::Id {
        self.id
    }
}

impl<T> JoinHandle<T> {
    pub(crate) fn new(task: async_task::Task<T, TaskMeta>) -> JoinHandle<T> {
        JoinHandle {
            id: task.metadata().record.id,
            blocking: false,
            inner: Mutex::new(Inner::new(State::Running(task.fallible()))),
        }
    }

    /// The handle of a `spawn_blocking` task.
    pub(crate) fn new_blocking(task: async_task::Task<T, TaskMeta>) -> JoinHandle<T> {
        let mut handle = JoinHandle::new(task);
        handle.blocking = true;
        handle
    }

    /// Runs `f` on the task's state: the handle's own, or the [`Shared`]
    /// one once [`abort_handle`](Self::abort_handle) was called (its own
    /// lock released first: the two are never held together).
    fn with_inner<R>(&self, f: impl FnOnce(&mut Inner<T>) -> R) -> R {
        let mut own = self.inner.lock();
        if let State::Shared(shared) = &own.state {
            let shared = shared.clone();
            drop(own);
            return f(&mut shared.lock());
        }
        f(&mut own)
    }
}

impl<T> StateLock<T> for JoinHandle<T> {
    fn with_state<R>(&self, f: impl FnOnce(&mut Inner<T>) -> R) -> R {
        self.with_inner(f)
    }
}

impl<T> JoinHandle<T> {
    /// The task's [`Id`](super::Id) (what [`task::id()`](super::id)
    /// returns inside it), available even after it finished.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let h = goro::spawn(async { goro::task::id() });
    /// let id = h.id();
    /// assert_eq!(h.await.unwrap(), id);
    /// # });
    /// ```
    pub fn id(&self) -> super::Id {
        self.id
    }
}

impl<T: Send + 'static> JoinHandle<T> {
    /// Cancels the task. If it has not finished, its future is dropped at
    /// its next scheduling point (at once if it is idle), and awaiting this
    /// handle yields a cancelled [`JoinError`] — only once the future has
    /// been dropped, so whatever it owned (sockets, guards) is released by
    /// then. A task that already finished keeps its output.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let handle = goro::spawn(std::future::pending::<()>());
    /// handle.abort();
    /// assert!(handle.await.unwrap_err().is_cancelled());
    /// # });
    /// ```
    pub fn abort(&self) {
        abort_task(self);
    }

    /// An [`AbortHandle`] for this task: it can [`abort`](AbortHandle::abort)
    /// it from anywhere (it is `Send + Sync + Clone` and not generic over
    /// the output), with the same effect as [`abort`](Self::abort) — this
    /// handle then yields a cancelled [`JoinError`]. It keeps working after
    /// this `JoinHandle` is dropped: a detached task can still be
    /// cancelled. Dropping it does nothing to the task.
    ///
    /// The first call moves the handle's state into a small shared
    /// allocation; handles that never call it pay nothing. As with any
    /// detached task, once this `JoinHandle` is dropped the task's output
    /// is dropped when the task completes (on the worker that ran it), or
    /// at once if it already had.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let handle = goro::spawn(std::future::pending::<()>());
    /// let abort = handle.abort_handle();
    /// std::thread::spawn(move || abort.abort()).join().unwrap();
    /// assert!(handle.await.unwrap_err().is_cancelled());
    /// # });
    /// ```
    pub fn abort_handle(&self) -> AbortHandle {
        let mut own = self.inner.lock();
        let shared = match &own.state {
            State::Shared(shared) => shared.clone(),
            _ => {
                let state = std::mem::replace(&mut own.state, State::Done);
                let moved = Inner {
                    state,
                    waker: own.waker.take(),
                };
                let shared = Arc::new(Shared {
                    id: self.id,
                    inner: Mutex::new(moved),
                    detached: AtomicBool::new(false),
                    reap: register_reaper::<T>,
                });
                own.state = State::Shared(shared.clone());
                shared
            }
        };
        AbortHandle::new(shared)
    }
}

impl<T> JoinHandle<T> {
    /// Cancels the task without waiting to learn when its future is gone
    /// (for owners that will never await the handle, such as a dropped
    /// `JoinSet`), and forgets the awaiter's waker.
    pub(crate) fn abort_unobserved(&self) {
        // Dropped without the lock: see `abort_task`.
        drop(self.with_inner(Inner::abort_unobserved));
    }

    /// True once the task has finished (completed, panicked, or been
    /// cancelled and its future dropped).
    ///
    /// ```
    /// # goro::block_on(async {
    /// let h = goro::spawn(async {});
    /// while !h.is_finished() {
    ///     goro::task::yield_now().await;
    /// }
    /// # });
    /// ```
    pub fn is_finished(&self) -> bool {
        task_is_finished(self)
    }
}

// A handle never pins its output in place (it is only moved out), so the
// handle is `Unpin` whatever `T` is, as before the `Cancelled` state held a `T`.
impl<T> Unpin for JoinHandle<T> {}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        // The handle's own state detaches its task when dropped (`Inner`'s
        // `Drop`). A shared one lives on with the `AbortHandle`s: it only
        // learns that nobody will take the output or await it any more.
        let shared = match &self.inner.lock().state {
            State::Shared(shared) => shared.clone(),
            _ => return,
        };
        shared.detached.store(true, Ordering::Release);
        // This drop never runs inside a critical section of this state on
        // this thread, so it may wait for the lock: no call into
        // async-task runs under it (see the module docs), only clones of
        // the awaiter's registered waker (goro's own, or the wrapper of a
        // foreign one: no user code), in the awaiter's poll of this very
        // handle, which borrows it. (When an abort woke the awaiter under
        // the lock, that waker could drop this handle mid-abort.)
        let mut inner = shared.lock();
        let (waker, finished) = (inner.waker.take(), inner.take_finished());
        let running = inner.set_aside_for_reaper();
        drop(inner);
        // Dropped without the lock: the output may be anything.
        drop((waker, finished));
        if let Some(task) = running {
            (shared.reap)(&shared, task);
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id)
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.into_ref().get_ref().poll_join(cx)
    }
}

impl<T> JoinHandle<T> {
    /// The body of `Future::poll`: [`poll_output`](Self::poll_output),
    /// noting on the current task (for dumps) that it waits for this one.
    fn poll_join(&self, cx: &mut Context<'_>) -> Poll<Result<T, JoinError>> {
        let out = poll_awaited(self, cx, false);
        if out.is_pending() {
            use crate::taskinfo::record::{Wait, waiting_on};
            waiting_on(if self.blocking {
                Wait::Blocking(self.id)
            } else {
                Wait::Join(self.id)
            });
        }
        out
    }

    /// Polls for the task's result, through `&self` so a [`JoinSet`] can
    /// poll handles it shares with their [`AbortHandle`]s (with its own
    /// waker: it records what its caller waits on itself).
    ///
    /// [`JoinSet`]: super::JoinSet
    pub(crate) fn poll_output(&self, cx: &mut Context<'_>) -> Poll<Result<T, JoinError>> {
        // The set's waker is goro's own, and contains its waiter's panics.
        poll_awaited(self, cx, true)
    }
}

/// A task did not complete: it panicked or was cancelled.
///
/// `JoinError` is `Send + Sync + 'static` and implements
/// [`std::error::Error`], so `handle.await??` works in functions returning
/// `Box<dyn Error + Send + Sync>`, `anyhow::Result` or — through
/// `From<JoinError> for io::Error` — `io::Result`. The panic payload (a
/// `Box<dyn Any + Send>`, which is not `Sync`) is kept behind a mutex so the
/// error can still be shared; [`into_panic`](Self::into_panic) hands it
/// back.
///
/// ```
/// # goro::block_on(async {
/// let err = goro::spawn(async { panic!("boom") }).await.unwrap_err();
/// assert!(err.is_panic());
/// assert_eq!(err.to_string(), "task panicked: boom");
/// # });
/// ```
///
/// ```
/// async fn run() -> Result<u32, Box<dyn std::error::Error + Send + Sync>> {
///     let parsed: u32 = goro::spawn(async { "42".parse::<u32>() }).await??;
///     Ok(parsed)
/// }
/// assert_eq!(goro::block_on(run()).unwrap(), 42);
/// ```
pub struct JoinError {
    repr: Repr,
}

enum Repr {
    Cancelled,
    Panic {
        // `dyn Any + Send` is not `Sync`; the mutex makes `JoinError` `Sync`
        // without unsafe code. Only `into_panic` takes the payload out.
        payload: Mutex<Box<dyn Any + Send + 'static>>,
        // Read once at construction so `Display` needs no lock.
        message: Option<String>,
    },
}

impl JoinError {
    pub(crate) fn cancelled() -> JoinError {
        JoinError {
            repr: Repr::Cancelled,
        }
    }

    pub(crate) fn panic(payload: Box<dyn Any + Send + 'static>) -> JoinError {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned());
        JoinError {
            repr: Repr::Panic {
                payload: Mutex::new(payload),
                message,
            },
        }
    }

    /// True if the task was cancelled (aborted, or dropped at shutdown).
    ///
    /// ```
    /// # goro::block_on(async {
    /// let h = goro::spawn(std::future::pending::<()>());
    /// h.abort();
    /// assert!(h.await.unwrap_err().is_cancelled());
    /// # });
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// True if the task panicked.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let err = goro::spawn(async { panic!("oops") }).await.unwrap_err();
    /// assert!(err.is_panic());
    /// # });
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic { .. })
    }

    /// The panic payload, for `std::panic::resume_unwind`.
    ///
    /// # Panics
    ///
    /// If the task was cancelled rather than panicking; use
    /// [`try_into_panic`](Self::try_into_panic) to avoid that.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let err = goro::spawn(async { panic!("oops") }).await.unwrap_err();
    /// let payload = err.into_panic();
    /// assert_eq!(payload.downcast_ref::<&str>(), Some(&"oops"));
    /// // std::panic::resume_unwind(payload) would re-raise it here.
    /// # });
    /// ```
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        self.try_into_panic()
            .expect("`JoinError::into_panic` called on a cancelled task's error")
    }

    /// The panic payload, or the error back if the task was cancelled.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let h = goro::spawn(std::future::pending::<()>());
    /// h.abort();
    /// let err = h.await.unwrap_err();
    /// assert!(err.try_into_panic().is_err()); // cancelled, not a panic
    /// # });
    /// ```
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.repr {
            Repr::Panic { payload, .. } => Ok(payload.into_inner()),
            Repr::Cancelled => Err(self),
        }
    }

    fn panic_message(&self) -> Option<&str> {
        match &self.repr {
            Repr::Panic { message, .. } => message.as_deref(),
            Repr::Cancelled => None,
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.repr, self.panic_message()) {
            (Repr::Cancelled, _) => f.write_str("task was cancelled"),
            (Repr::Panic { .. }, Some(msg)) => write!(f, "task panicked: {msg}"),
            (Repr::Panic { .. }, None) => f.write_str("task panicked"),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.repr, self.panic_message()) {
            (Repr::Cancelled, _) => f.write_str("JoinError::Cancelled"),
            (Repr::Panic { .. }, Some(msg)) => write!(f, "JoinError::Panic({msg:?})"),
            (Repr::Panic { .. }, None) => f.write_str("JoinError::Panic(..)"),
        }
    }
}

impl std::error::Error for JoinError {}

/// Converts to an `io::Error` of kind `Other` whose source is the
/// `JoinError` (recover it with `io::Error::into_inner` and `downcast`), so
/// `handle.await??` works in a function returning `io::Result`.
///
/// ```
/// async fn echo_len() -> std::io::Result<usize> {
///     let n = goro::spawn(async { Ok::<_, std::io::Error>(3) }).await??;
///     Ok(n)
/// }
/// assert_eq!(goro::block_on(echo_len()).unwrap(), 3);
/// ```
impl From<JoinError> for std::io::Error {
    fn from(e: JoinError) -> std::io::Error {
        std::io::Error::other(e)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn assert_send_sync_static<T: Send + Sync + 'static>() {}

    #[test]
    fn join_error_is_send_sync_static() {
        assert_send_sync_static::<JoinError>();
    }

    #[test]
    fn io_error_keeps_the_join_error_as_source() {
        let io: std::io::Error = JoinError::panic(Box::new("bad")).into();
        assert_eq!(io.kind(), std::io::ErrorKind::Other);
        assert_eq!(io.to_string(), "task panicked: bad");
        let inner = io.into_inner().unwrap().downcast::<JoinError>().unwrap();
        assert_eq!(inner.into_panic().downcast_ref::<&str>(), Some(&"bad"));
    }

    #[test]
    fn string_payload_message() {
        let e = JoinError::panic(Box::new(String::from("owned")));
        assert_eq!(e.to_string(), "task panicked: owned");
        assert_eq!(format!("{e:?}"), "JoinError::Panic(\"owned\")");
        let e = JoinError::panic(Box::new(7u8));
        assert_eq!(e.to_string(), "task panicked");
    }
}
