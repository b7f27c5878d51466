//! [`Metrics`]: a snapshot of what the scheduler has done (public as
//! `goro::runtime::Metrics`; it lives here, beside what it reads, so the
//! scheduler's own trace line can use it without importing `runtime`).

use super::Shared;
use std::sync::atomic::Ordering;

/// Counters and gauges of one worker context (P).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerMetrics {
    /// Task polls run on this P.
    pub tasks_polled: u64,
    /// Successful steals from other Ps' queues.
    pub steals: u64,
    /// Tasks in this P's local queue (plus `runnext`) right now.
    pub local_queue_depth: usize,
    /// Non-blocking netpolls by this P's workers.
    pub netpoll_nonblocking: u64,
    /// Times the local queue overflowed into the global queue.
    pub overflows: u64,
    /// Timers fired from this P's heap.
    pub timers_fired: u64,
    /// Timers armed on this P (cancelled ones included until cleaned up).
    pub timers_pending: usize,
}

/// A snapshot of the runtime's scheduler; see
/// [`Runtime::metrics`](crate::runtime::Runtime::metrics).
///
/// ```
/// let rt = goro::runtime::Builder::new().worker_threads(2).build().unwrap();
/// rt.block_on(async { goro::spawn(async {}).await.unwrap() });
/// let m = rt.metrics();
/// assert_eq!(m.workers.len(), 2);
/// assert!(m.tasks_polled() >= 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// One entry per worker context (P).
    pub workers: Vec<WorkerMetrics>,
    /// Tasks in the global queue right now.
    pub global_queue_depth: usize,
    /// Spawned tasks that have not finished.
    pub tasks_alive: usize,
    /// Blocking netpolls (an idle worker waiting in `epoll_wait`).
    pub netpoll_blocking: u64,
    /// Netpolls by sysmon because nobody had polled for 10 ms.
    pub netpoll_sysmon: u64,
    /// Readiness events delivered to descriptors.
    pub events_delivered: u64,
    /// Ps handed from a stuck worker thread to another thread.
    pub handoffs: u64,
    /// Worker threads (Ms) alive, spares included.
    pub worker_threads: usize,
    /// Worker threads beyond the number of Ps (started for hand-offs).
    pub spare_threads: usize,
    /// Idle Ps.
    pub idle_workers: usize,
    /// Threads in the blocking pool.
    pub blocking_threads: usize,
    /// Idle threads in the blocking pool.
    pub blocking_idle_threads: usize,
    /// Blocking closures waiting for a thread.
    pub blocking_queue_depth: usize,
    /// Descriptors (registered fds) in use.
    pub descriptors: usize,
}

impl Metrics {
    /// Task polls across all Ps.
    pub fn tasks_polled(&self) -> u64 {
        self.workers.iter().map(|w| w.tasks_polled).sum()
    }

    /// Steals across all Ps.
    pub fn steals(&self) -> u64 {
        self.workers.iter().map(|w| w.steals).sum()
    }

    /// Non-blocking netpolls across all Ps.
    pub fn netpoll_nonblocking(&self) -> u64 {
        self.workers.iter().map(|w| w.netpoll_nonblocking).sum()
    }

    /// Timers fired across all Ps.
    pub fn timers_fired(&self) -> u64 {
        self.workers.iter().map(|w| w.timers_fired).sum()
    }

    /// Tasks in local queues across all Ps.
    pub fn local_queue_depth(&self) -> usize {
        self.workers.iter().map(|w| w.local_queue_depth).sum()
    }

    /// Worker contexts (Ps): how many tasks can run at once — tokio's
    /// `num_workers`. Spare threads started for hand-offs are not counted
    /// (see [`worker_threads`](Self::worker_threads)).
    ///
    /// ```
    /// let rt = goro::runtime::Builder::new().worker_threads(3).build().unwrap();
    /// assert_eq!(rt.metrics().num_workers(), 3);
    /// ```
    pub fn num_workers(&self) -> usize {
        self.workers.len()
    }

    /// Tasks spawned and not yet finished (completed, cancelled, or
    /// dropped at shutdown) — tokio's `num_alive_tasks`, the same count as
    /// [`tasks_alive`](Self::tasks_alive) and as the entries of a
    /// [task dump](crate::runtime::Handle::dump). `spawn_blocking` closures
    /// and the future given to `block_on` are not tasks and are not counted.
    /// Exact once the runtime is quiescent; a snapshot otherwise.
    ///
    /// ```
    /// let rt = goro::runtime::Builder::new().worker_threads(1).build().unwrap();
    /// let h = rt.spawn(std::future::pending::<()>());
    /// assert_eq!(rt.metrics().num_alive_tasks(), 1);
    /// h.abort();
    /// assert!(rt.block_on(h).unwrap_err().is_cancelled());
    /// assert_eq!(rt.metrics().num_alive_tasks(), 0);
    /// ```
    pub fn num_alive_tasks(&self) -> usize {
        self.tasks_alive
    }

    /// Tasks in the global run queue when the snapshot was taken (the
    /// [`global_queue_depth`](Self::global_queue_depth) field, under
    /// tokio's method name).
    ///
    /// ```
    /// let rt = goro::runtime::Runtime::new().unwrap();
    /// // Nothing spawned yet: nothing queued.
    /// assert_eq!(rt.metrics().global_queue_depth(), 0);
    /// ```
    pub fn global_queue_depth(&self) -> usize {
        self.global_queue_depth
    }

    pub(crate) fn collect(shared: &Shared) -> Metrics {
        let workers = shared
            .ps
            .iter()
            .map(|p| WorkerMetrics {
                tasks_polled: p.schedtick.load(Ordering::Relaxed),
                steals: p.counters.steals.load(Ordering::Relaxed),
                local_queue_depth: p.runq.len() + usize::from(p.has_runnext()),
                netpoll_nonblocking: p.counters.netpoll_nonblocking.load(Ordering::Relaxed),
                overflows: p.counters.overflows.load(Ordering::Relaxed),
                timers_fired: p.timers.fired(),
                timers_pending: p.timers.len(),
            })
            .collect();
        let threads = shared.idle.lock().threads;
        Metrics {
            workers,
            global_queue_depth: shared.global.len(),
            tasks_alive: shared.registry.live(),
            netpoll_blocking: shared.counters.netpoll_blocking.load(Ordering::Relaxed),
            netpoll_sysmon: shared.counters.sysmon_netpolls.load(Ordering::Relaxed),
            events_delivered: shared.poller.delivered(),
            handoffs: shared.counters.handoffs.load(Ordering::Relaxed),
            worker_threads: threads,
            spare_threads: threads.saturating_sub(shared.nprocs()),
            idle_workers: shared.idle.npidle(),
            blocking_threads: shared.blocking.threads(),
            blocking_idle_threads: shared.blocking.idle_threads(),
            blocking_queue_depth: shared.blocking.queued(),
            descriptors: shared.poller.descriptors_in_use(),
        }
    }
}
