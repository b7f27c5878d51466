//! Shutting a runtime down: stop sysmon and every M, release whatever
//! waits on the runtime's sockets and timers, cancel every task, then wait
//! for the threads as long as [`ShutdownWait`] allows.
//!
//! Invariant: after `drain` nothing stays queued. Wakes that race the
//! `drained` flag drop their task themselves (`drop_if_drained`, ready.rs).

use super::Shared;
use super::machine::Machine;
use super::sysmon;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How long dropping a runtime waits for a worker that is inside a task's
/// poll before detaching it.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(100);

/// How long shutdown waits for one stderr write of a stall report or
/// trace before it leaves the rest unwritten (a stderr nobody reads).
const STDERR_STUCK: Duration = Duration::from_millis(200);

/// How long shutdown waits for the runtime's threads (see the docs of
/// `runtime::Runtime`, which chooses one of these).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ShutdownWait {
    /// Stop waiting for threads at this time (`None`: no limit). Workers
    /// that are not inside a task's poll exit promptly and are always joined.
    pub(crate) deadline: Option<Instant>,
    /// Detach a worker stuck inside one task's poll after this long, even
    /// before the deadline (`None`: wait until the deadline).
    pub(crate) stuck_worker_grace: Option<Duration>,
}

impl ShutdownWait {
    /// Dropping a runtime: stuck workers get `SHUTDOWN_GRACE`; running
    /// blocking closures are waited for without limit.
    pub(crate) fn on_drop() -> ShutdownWait {
        ShutdownWait {
            deadline: None,
            stuck_worker_grace: Some(SHUTDOWN_GRACE),
        }
    }

    /// `shutdown_timeout(limit)`: every thread gets until `now + limit`.
    pub(crate) fn within(limit: Duration) -> ShutdownWait {
        ShutdownWait {
            deadline: Instant::now().checked_add(limit),
            stuck_worker_grace: None,
        }
    }

    /// `shutdown_background()`: detach anything that is not about to exit.
    pub(crate) fn detach() -> ShutdownWait {
        ShutdownWait {
            deadline: Some(Instant::now()),
            stuck_worker_grace: Some(Duration::ZERO),
        }
    }

    fn past_deadline(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

impl Shared {
    /// Shuts down as dropping a runtime does ([`ShutdownWait::on_drop`]).
    pub(crate) fn shutdown(&self) {
        self.shutdown_with(ShutdownWait::on_drop());
    }

    /// Stops every M and sysmon, waits for them, cancels every task, then
    /// waits for the blocking pool's threads, as long as `wait` allows.
    /// Idempotent: only the first call does anything.
    pub(crate) fn shutdown_with(&self, wait: ShutdownWait) {
        if self.shutdown.swap(true, Ordering::AcqRel) {
            return;
        }
        // First, before waiting for any thread: a worker may be blocked on
        // one of this runtime's sleeps or sockets (a sync library calling
        // `futures::executor::block_on` inside a task), and only this
        // releases it.
        self.release_waiters();
        self.sysmon.stop();
        let listed: Vec<Arc<Machine>> = self.idle.lock().ms.clone();
        for m in &listed {
            m.wake(&self.poller);
        }
        self.poller.wake();
        self.blocking.shutdown();
        sysmon::join(self);
        // Join every M. One that is stuck inside a task's poll (the case
        // sysmon hands off for) cannot be joined without waiting for that
        // task: it is detached instead, and exits when the poll returns and
        // it sees the shutdown flag.
        let me = std::thread::current().id();
        let threads = std::mem::take(&mut *self.threads.lock());
        for (handle, m) in threads {
            if handle.thread().id() == me {
                continue; // dropped from one of its own tasks: cannot join itself
            }
            let mut stuck_since = None;
            while !handle.is_finished() {
                if m.in_task_poll() {
                    let since = *stuck_since.get_or_insert_with(Instant::now);
                    let grace_over = wait
                        .stuck_worker_grace
                        .is_some_and(|grace| since.elapsed() >= grace);
                    if grace_over || wait.past_deadline() {
                        break;
                    }
                } else {
                    stuck_since = None;
                }
                // Keep waking: an M may have parked again before seeing the flag.
                for idle in self.idle.lock().ms.iter() {
                    idle.wake(&self.poller);
                }
                self.poller.wake();
                std::thread::sleep(Duration::from_micros(200));
            }
            if handle.is_finished() {
                let _ = handle.join();
            }
        }
        self.drain();
        self.blocking.wait_threads_exit(wait.deadline);
        self.poller.shutdown();
        // Stall reports and traces are out (unless stderr takes nothing,
        // or the deadline has passed): a program that exits next still
        // shows them.
        self.config.stall.stderr.close(STDERR_STUCK, wait.deadline);
    }

    /// Runtime shutdown: nothing may keep waiting on this runtime's sockets
    /// or timers, wherever it is polled (DESIGN.md §3). Fails every
    /// descriptor (I/O futures return "goro runtime is shut down") and
    /// completes every armed sleep, waking their waiters. Idempotent.
    pub(crate) fn release_waiters(&self) {
        self.poller.shut_down_waiters();
        for p in self.ps.iter() {
            p.timers.fire_all_at_shutdown();
        }
    }

    /// Cancels every task: wakes all registered tasks so they land in a
    /// queue, then drops everything queued until nothing is left.
    ///
    /// The cancelling — dropping each task's future, which runs the user's
    /// `Drop` code — happens here, on the thread dropping the runtime (with
    /// its runtime context and its locks). The tasks' *memory* is freed
    /// afterwards on a short-lived thread of its own (or here, if one cannot
    /// be started): the wake above keeps one reference to every task,
    /// handed to that thread, which runs no user code. Why a thread: glibc's
    /// malloc keeps the first chunks of each size a thread frees in that
    /// thread's cache, counted as in use, and a cached chunk high in an
    /// arena keeps everything below it from being given back to the system;
    /// a thread that exits hands its cache back, so the arenas the tasks
    /// lived in can shrink (after dropping a runtime of a million sleeping
    /// tasks: a few MiB kept, not up to 260). tokio's tasks are freed by its
    /// workers as they exit, to the same effect.
    fn drain(&self) {
        let last_refs = self.registry.wake_all();
        while self.drop_queued() {}
        self.drained.store(true, Ordering::SeqCst);
        // Anything pushed between the last pass and the flag (the pushers
        // re-check the flag after pushing; see `drop_if_drained`).
        self.drop_queued();
        // If the thread cannot be started, the closure — and with it the
        // references — is dropped here.
        let freer = std::thread::Builder::new()
            .name("goro-shutdown".into())
            .spawn(move || drop(last_refs));
        if let Ok(freer) = freer {
            let _ = freer.join();
        }
    }

    /// Drops every queued task; true if there was any. (The timer heaps
    /// were emptied and closed by `release_waiters`.)
    pub(super) fn drop_queued(&self) -> bool {
        let mut dropped = false;
        while let Some(t) = self.global.pop() {
            drop(t);
            dropped = true;
        }
        for p in self.ps.iter() {
            while let Some(t) = p.runq.pop() {
                drop(t);
                dropped = true;
            }
            if let Some(t) = p.take_runnext() {
                drop(t);
                dropped = true;
            }
        }
        dropped
    }
}
