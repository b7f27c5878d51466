//! `GORO_SCHEDTRACE=<ms>`: a periodic one-line scheduler summary on stderr,
//! in the spirit of Go's `GODEBUG=schedtrace=<ms>`, printed by sysmon:
//!
//! ```text
//! goro SCHED 1000ms: procs=2 idleprocs=1 threads=3 spare=1 spinning=0 globalq=0 tasks=12 handoffs=1 polls(block/nonblock/sysmon)=40/7/1 events=55 timers=9 blocking=0 runq=[0 3]
//! ```

use super::Shared;
use super::metrics::Metrics;
use std::time::{Duration, Instant};

/// Prints a trace line every period.
pub(crate) struct Tracer {
    period: Duration,
    start: Instant,
    next: Instant,
}

impl Tracer {
    /// A tracer if `GORO_SCHEDTRACE` configured one for this runtime.
    pub(crate) fn new(shared: &Shared) -> Option<Tracer> {
        let period = shared.config.schedtrace?;
        let now = Instant::now();
        Some(Tracer {
            period,
            start: now,
            next: now + period,
        })
    }

    /// Prints a line if a period has passed.
    pub(crate) fn tick(&mut self, shared: &Shared) {
        let now = Instant::now();
        if now < self.next {
            return;
        }
        self.next = now + self.period;
        // sysmon must not block on stderr (taskinfo/stderr.rs).
        let text = line(shared, now.duration_since(self.start));
        shared.config.stall.stderr.line(text);
    }
}

/// One trace line.
pub(crate) fn line(shared: &Shared, elapsed: Duration) -> String {
    let m = Metrics::collect(shared);
    let runq: Vec<String> = m
        .workers
        .iter()
        .map(|w| w.local_queue_depth.to_string())
        .collect();
    format!(
        "goro SCHED {}ms: procs={} idleprocs={} threads={} spare={} spinning={} globalq={} tasks={} handoffs={} polls(block/nonblock/sysmon)={}/{}/{} events={} timers={} blocking={} runq=[{}]",
        elapsed.as_millis(),
        m.workers.len(),
        m.idle_workers,
        m.worker_threads,
        m.spare_threads,
        shared.idle.nmspinning(),
        m.global_queue_depth,
        m.tasks_alive,
        m.handoffs,
        m.netpoll_blocking,
        m.netpoll_nonblocking(),
        m.netpoll_sysmon,
        m.events_delivered,
        m.timers_fired(),
        m.blocking_threads,
        runq.join(" ")
    )
}
