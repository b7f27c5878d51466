//! [`Lines`]: a runtime's lines for stderr (stall reports,
//! `GORO_SCHEDTRACE`), written by a thread of their own so the thread that
//! produces one — sysmon, or a worker whose stalled poll returned — never
//! blocks on stderr. A full pipe nobody reads would otherwise stop sysmon,
//! and with it hand-offs and the netpoll backstop, for as long as nobody
//! reads it.
//!
//! Invariants: [`Lines::line`] never blocks on I/O (it takes a short lock
//! and may start the writer thread); at most [`CAPACITY`] lines wait, and
//! a line that finds the queue full is dropped and counted, the count
//! written once the writer catches up; lines are written in the order they
//! were queued. The writer thread starts at a runtime's first line and
//! exits once the runtime is shut down ([`Lines::close`]) and nothing is
//! left to write. It prints with `eprintln!`, so a test harness that
//! captures the output of the runtime's threads captures these lines too.

use crate::sync::{Condvar, Mutex};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most lines waiting for the writer.
const CAPACITY: usize = 64;

/// What the writer has to do.
#[derive(Debug, Default)]
struct Queue {
    lines: VecDeque<String>,
    /// Lines dropped since the writer last said so.
    dropped: u64,
    /// The writer thread runs.
    started: bool,
    /// The writer is inside a write (the queue may be empty meanwhile).
    writing: bool,
    /// Writes finished, ever (for [`Lines::close`] to see progress).
    written: u64,
    /// The runtime shut down: the writer exits once idle.
    closed: bool,
}

impl Queue {
    /// Queues `text`, or counts it dropped if the queue is full. True if
    /// queued.
    fn push(&mut self, text: String) -> bool {
        if self.lines.len() >= CAPACITY {
            self.dropped += 1;
            return false;
        }
        self.lines.push_back(text);
        true
    }

    /// The next line to write: a queued one, else the count of dropped ones.
    fn next(&mut self) -> Option<String> {
        self.lines.pop_front().or_else(|| {
            (self.dropped > 0).then(|| {
                format!(
                    "goro: {} stall reports or trace lines dropped: stderr did not take them",
                    std::mem::take(&mut self.dropped)
                )
            })
        })
    }
}

/// See the module docs. One per runtime.
#[derive(Debug, Default)]
pub(crate) struct Lines {
    queue: Mutex<Queue>,
    /// Signalled when a line is queued or the runtime shuts down.
    more: Condvar,
    /// Signalled when a write finishes or the writer exits.
    wrote: Condvar,
}

impl Lines {
    /// Queues `text` to be written to stderr as a line, or drops it
    /// (counted) if [`CAPACITY`] lines are waiting already.
    pub(crate) fn line(self: &Arc<Self>, text: String) {
        let mut q = self.queue.lock();
        if !q.push(text) {
            return;
        }
        let start = !q.started;
        q.started = true;
        drop(q);
        self.more.notify_one();
        if start {
            let lines = self.clone();
            let spawned = std::thread::Builder::new()
                .name("goro-stderr".into())
                .spawn(move || lines.write());
            if spawned.is_err() {
                // No thread: the lines wait (boundedly) for the next try.
                self.queue.lock().started = false;
            }
        }
    }

    /// The runtime shuts down: waits until every queued line is written,
    /// as long as the writer makes progress (it gives up once one write
    /// has taken longer than `stuck`: a stderr nobody reads) and never
    /// past `deadline` (a stderr read slowly makes progress for long), so
    /// a program that exits right after dropping its runtime still shows
    /// its reports. The writer exits when it has nothing left.
    pub(crate) fn close(&self, stuck: Duration, deadline: Option<Instant>) {
        let mut q = self.queue.lock();
        q.closed = true;
        self.more.notify_one();
        while q.started {
            let wait = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left.min(stuck),
                    _ => return,
                },
                None => stuck,
            };
            let before = q.written;
            let (guard, timed_out) = self.wrote.wait_timeout(q, wait);
            q = guard;
            if timed_out && q.written == before {
                return;
            }
        }
    }

    /// The writer thread: writes queued lines, blocking on stderr as long
    /// as it takes; exits once closed with nothing left.
    fn write(&self) {
        let mut q = self.queue.lock();
        loop {
            let Some(text) = q.next() else {
                if q.closed {
                    q.started = false;
                    self.wrote.notify_all();
                    return;
                }
                q = self.more.wait(q);
                continue;
            };
            q.writing = true;
            drop(q);
            // `eprintln!` panics if stderr fails (a closed pipe): the line
            // is lost then, as nobody would see it, but not the writer.
            let _ = std::panic::catch_unwind(|| eprintln!("{text}"));
            q = self.queue.lock();
            q.writing = false;
            q.written += 1;
            self.wrote.notify_all();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_growing() {
        let mut q = Queue::default();
        for i in 0..CAPACITY {
            assert!(q.push(format!("line {i}")));
        }
        assert!(!q.push("one too many".into()));
        assert!(!q.push("and another".into()));
        assert_eq!(q.lines.len(), CAPACITY);
        for i in 0..CAPACITY {
            assert_eq!(q.next(), Some(format!("line {i}")), "in order");
        }
        let said = q.next().expect("the drop count comes last");
        assert!(said.contains(" 2 "), "{said}");
        assert_eq!(q.next(), None);
    }

    #[test]
    fn close_waits_for_the_lines_and_the_writer_exits() {
        let lines = Arc::new(Lines::default());
        lines.line("goro test: a line from stderr.rs's tests".into());
        lines.close(Duration::from_secs(10), None);
        let q = lines.queue.lock();
        assert!(q.lines.is_empty() && !q.started, "{q:?}");
        assert_eq!(q.written, 1);
    }
}
