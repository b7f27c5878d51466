//! Lines for stderr (stall reports, `GORO_SCHEDTRACE`) written by a thread
//! of their own, so the thread that produces one — sysmon, or a worker
//! whose stalled poll returned — never blocks on stderr. A full pipe
//! nobody reads would otherwise stop sysmon, and with it hand-offs and the
//! netpoll backstop, for as long as nobody reads it.
//!
//! Invariants: [`line`] never blocks on I/O (it takes a short lock and may
//! start the writer thread); at most [`CAPACITY`] lines wait, and a line
//! that finds the queue full is dropped and counted, the count written
//! once the writer catches up; lines are written in the order they were
//! queued. One writer thread per process, started at the first line; it
//! never exits, and sleeps while there is nothing to write.

use crate::sync::{Condvar, Mutex};
use std::collections::VecDeque;
use std::io::Write;
use std::time::Duration;

/// Most lines waiting for the writer.
const CAPACITY: usize = 64;

/// What the writer has to do, under [`WRITER`]'s lock.
struct Queue {
    lines: VecDeque<String>,
    /// Lines dropped since the writer last said so.
    dropped: u64,
    /// The writer thread runs.
    started: bool,
    /// The writer is inside a write (the queue may be empty meanwhile).
    writing: bool,
    /// Writes finished, ever (for [`flush`] to see progress).
    written: u64,
}

impl Queue {
    const fn new() -> Queue {
        Queue {
            lines: VecDeque::new(),
            dropped: 0,
            started: false,
            writing: false,
            written: 0,
        }
    }

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
}

struct Writer {
    queue: Mutex<Queue>,
    /// Signalled when a line is queued.
    more: Condvar,
    /// Signalled when a write finishes.
    wrote: Condvar,
}

static WRITER: Writer = Writer {
    queue: Mutex::new(Queue::new()),
    more: Condvar::new(),
    wrote: Condvar::new(),
};

/// Queues `text` to be written to stderr as a line, or drops it (counted)
/// if [`CAPACITY`] lines are waiting already.
pub(crate) fn line(text: String) {
    let mut q = WRITER.queue.lock();
    if !q.push(text) {
        return;
    }
    let start = !q.started;
    q.started = true;
    drop(q);
    WRITER.more.notify_one();
    if start {
        let spawned = std::thread::Builder::new()
            .name("goro-stderr".into())
            .spawn(write_lines);
        if spawned.is_err() {
            // No thread: the lines wait (boundedly) for the next try.
            WRITER.queue.lock().started = false;
        }
    }
}

/// Waits until every queued line is written, as long as the writer makes
/// progress: it gives up once a write has taken longer than `stuck` (a
/// stderr nobody reads). Runtime shutdown calls this so the reports of a
/// program that exits right after dropping its runtime are not lost.
pub(crate) fn flush(stuck: Duration) {
    let mut q = WRITER.queue.lock();
    while q.started && (q.writing || !q.lines.is_empty()) {
        let before = q.written;
        let (guard, timed_out) = WRITER.wrote.wait_timeout(q, stuck);
        q = guard;
        if timed_out && q.written == before {
            return;
        }
    }
}

/// The writer thread: writes queued lines, blocking on stderr as long as
/// it takes, and says how many were dropped meanwhile.
fn write_lines() {
    let mut q = WRITER.queue.lock();
    loop {
        let text = match q.lines.pop_front() {
            Some(text) => text,
            None if q.dropped > 0 => format!(
                "goro: {} stderr lines (stall reports or traces) dropped: stderr did not take them",
                std::mem::take(&mut q.dropped)
            ),
            None => {
                q = WRITER.more.wait(q);
                continue;
            }
        };
        q.writing = true;
        drop(q);
        // An error (a closed stderr) loses the line: nobody would see it.
        let _ = writeln!(std::io::stderr().lock(), "{text}");
        q = WRITER.queue.lock();
        q.writing = false;
        q.written += 1;
        WRITER.wrote.notify_all();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_growing() {
        let mut q = Queue::new();
        for i in 0..CAPACITY {
            assert!(q.push(format!("line {i}")));
        }
        assert!(!q.push("one too many".into()));
        assert!(!q.push("and another".into()));
        assert_eq!(q.lines.len(), CAPACITY);
        assert_eq!(q.dropped, 2);
        assert_eq!(q.lines.front().map(String::as_str), Some("line 0"));
    }
}
