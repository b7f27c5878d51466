//! The per-runtime half of signal handling: a [`Hub`] per runtime that has
//! signal listeners, holding their wakers, and the *driver* task that
//! watches the runtime's `dup` of the self-pipe on its poller.
//!
//! Invariants:
//! - One hub (and one driver task, one registered pipe fd) per runtime,
//!   created by the first `signal()` on it and listed in `HUBS`.
//! - Every runtime reads the same pipe through its own `dup`. A write wakes
//!   every runtime's epoll, but `epoll_wait` re-checks readiness when it
//!   collects an event, so once one driver has drained the pipe the others
//!   may never see that write. Hence a driver that drains **dispatches for
//!   all hubs**, not just its own: under the `HUBS` lock it loads the
//!   delivery counters, compares them with the last counts dispatched
//!   (process-wide), and wakes the listeners — of every hub — of each signal
//!   that moved. Every drain is followed by such a dispatch in the same
//!   poll, and a driver's wake-up can only be lost to a drain that happened
//!   after the write (so after the counter moved): no delivery is missed.
//! - A listener registers its waker and *then* re-reads the counter. So a
//!   delivery is either seen by the listener's re-check or happens after
//!   the waker is stored, and then the dispatch that first loads the new
//!   count (after the delivery) finds the waker (the hub's mutex and SeqCst
//!   counters order both sides).
//! - When the driver task is dropped (its runtime shut down), the hub is
//!   closed and every listener woken; their streams then end (`None`).
//! - Listeners' wakers may belong to other executors: every wake here is
//!   contained (`poller/wake.rs`), so a waker that panics neither costs
//!   the other listeners their wake nor kills the driver.

use super::handler::{self, NSIG};
use crate::io::PollFd;
use crate::scheduler::{Shared, context};
use crate::sync::Mutex;
use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::task::Waker;

/// The runtimes with signal listeners, and the delivery counts last
/// dispatched to them.
static HUBS: Mutex<Hubs> = Mutex::new(Hubs {
    list: Vec::new(),
    dispatched: [0; NSIG],
});

struct Hubs {
    list: Vec<Arc<Hub>>,
    dispatched: [u64; NSIG],
}

/// One runtime's signal listeners. See the module docs.
#[derive(Debug)]
pub(crate) struct Hub {
    runtime: Weak<Shared>,
    /// The driver is gone: listeners end.
    closed: AtomicBool,
    listeners: Mutex<Listeners>,
}

#[derive(Debug, Default)]
struct Listeners {
    next_id: u64,
    /// Listener id → (signal index, waker of its last pending poll).
    by_id: HashMap<u64, (usize, Option<Waker>)>,
}

impl Hub {
    /// The hub of `shared`, created (with its driver) on first use.
    pub(crate) fn for_runtime(shared: &Arc<Shared>) -> io::Result<Arc<Hub>> {
        let mut hubs = HUBS.lock();
        // Forget hubs of runtimes that shut down or are gone, before
        // comparing addresses (a freed runtime's address can be reused).
        hubs.list
            .retain(|h| !h.is_closed() && h.runtime.strong_count() > 0);
        if let Some(hub) = hubs
            .list
            .iter()
            .find(|h| std::ptr::eq(h.runtime.as_ptr(), Arc::as_ptr(shared)))
        {
            return Ok(hub.clone());
        }
        if shared.is_shutdown() {
            return Err(shut_down());
        }
        let pipe = {
            // Register the pipe on `shared`'s poller, whatever runtime (if
            // any) this thread is in.
            let _enter = context::enter(shared.clone());
            PollFd::new(handler::dup_reader()?)?
        };
        let hub = Arc::new(Hub {
            runtime: Arc::downgrade(shared),
            closed: AtomicBool::new(false),
            listeners: Mutex::new(Listeners::default()),
        });
        // Created outside the task so that even a driver that never runs
        // (spawned into a runtime shutting down) closes the hub when dropped.
        let closer = CloseOnDrop(hub.clone());
        shared
            .spawn(
                async move {
                    let _closer = closer;
                    drive(pipe).await;
                },
                Some("goro-signal-driver".into()),
                std::panic::Location::caller(),
            )
            .detach();
        hubs.list.push(hub.clone());
        Ok(hub)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Adds a listener for signal index `signo`; returns its id.
    pub(crate) fn add(&self, signo: usize) -> u64 {
        let mut l = self.listeners.lock();
        let id = l.next_id;
        l.next_id += 1;
        l.by_id.insert(id, (signo, None));
        id
    }

    /// Stores the waker of listener `id`'s pending poll.
    pub(crate) fn set_waker(&self, id: u64, waker: &Waker) {
        if let Some((_, slot)) = self.listeners.lock().by_id.get_mut(&id) {
            match slot {
                Some(w) if w.will_wake(waker) => {}
                _ => *slot = Some(waker.clone()),
            }
        }
    }

    /// Removes listener `id`.
    pub(crate) fn remove(&self, id: u64) {
        self.listeners.lock().by_id.remove(&id);
    }

    /// Marks the hub closed and wakes every listener.
    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let wake: Vec<Waker> = self
            .listeners
            .lock()
            .by_id
            .values_mut()
            .filter_map(|(_, w)| w.take())
            .collect();
        // Contained (poller/wake.rs): a listener polled by another
        // executor whose waker panics must not cost the others their wake.
        wake.into_iter().for_each(crate::poller::wake::wake);
    }
}

/// Closes the hub when the driver task is dropped.
struct CloseOnDrop(Arc<Hub>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// The driver task's loop: see the module docs.
async fn drive(pipe: PollFd<OwnedFd>) {
    loop {
        // Fails once the runtime shuts down (or the fd is closed).
        if pipe.readable().await.is_err() {
            return;
        }
        handler::drain(pipe.get_ref().as_raw_fd());
        dispatch();
    }
}

/// Wakes the listeners, in every hub, of each signal whose delivery count
/// moved since the last dispatch (see the module docs).
fn dispatch() {
    let mut wake = Vec::new();
    {
        let mut hubs = HUBS.lock();
        let now = handler::all_deliveries();
        if now == hubs.dispatched {
            return;
        }
        let moved: [bool; NSIG] = std::array::from_fn(|i| now[i] != hubs.dispatched[i]);
        hubs.dispatched = now;
        for hub in &hubs.list {
            let mut listeners = hub.listeners.lock();
            for (signo, waker) in listeners.by_id.values_mut() {
                if moved[*signo] {
                    wake.extend(waker.take());
                }
            }
        }
    }
    // Contained, as in `Hub::close`: a panic here would also kill the
    // driver task, and with it every stream of this runtime.
    wake.into_iter().for_each(crate::poller::wake::wake);
}

/// The error of `signal()` and `ctrl_c()` on a runtime that has shut down:
/// the one its sockets give ("goro runtime is shut down").
pub(crate) fn shut_down() -> io::Error {
    crate::poller::descriptor::shut_down_error()
}
