//! `Handle::dump`: collects a [`TaskDump`] from the registry of live tasks
//! (`registry.rs`), the Ms' "running task" ids and the blocking pool's
//! running and queued closures (`blocking.rs`), without stopping anything
//! (`taskinfo/record.rs` explains the state word it decodes).
//!
//! A task waiting on an fd records only the fd number (the I/O path stays
//! as it was); its read or write deadline is looked up here, afterwards,
//! in the poller's descriptors (`Poller::deadlines_of`), outside the
//! registry's lock.

use super::Shared;
use crate::signal::SignalKind;
use crate::taskinfo::record::{TaskRecord, Wait, Word};
use crate::taskinfo::{TaskDump, TaskInfo, TaskState, WaitingOn};
use crate::time::clock;
use std::collections::HashSet;
use std::os::fd::RawFd;
use std::time::Duration;

impl Shared {
    /// See `Handle::dump`.
    pub(crate) fn dump(&self) -> TaskDump {
        // Tasks inside a poll right now, with their M's P.
        let running: Vec<(u64, Option<usize>)> = self
            .threads
            .lock()
            .iter()
            .filter(|(_, m)| m.in_task_poll())
            .map(|(_, m)| (m.running_task(), super::stall::p_of(self, m.id)))
            .collect();
        let now = clock::now();
        let mut tasks = Vec::new();
        self.registry.for_each(|meta| {
            let r = &meta.record;
            let state = match r.word() {
                Word::Queued => TaskState::Queued,
                // A task whose last poll parked on nothing goro tracks
                // still reads "running" once no M polls it.
                Word::Running => match running.iter().find(|(id, _)| *id == r.id.as_u64()) {
                    Some(&(_, worker)) => TaskState::Running { worker },
                    None => TaskState::Waiting(WaitingOn::Other),
                },
                Word::Waiting(w) => TaskState::Waiting(match w {
                    Wait::Read(fd) => WaitingOn::Read { fd, deadline: None },
                    Wait::Write(fd) => WaitingOn::Write { fd, deadline: None },
                    Wait::Timer(when) => WaitingOn::Timer {
                        deadline: clock::to_instant(when),
                    },
                    Wait::Join(task) => WaitingOn::Join { task },
                    Wait::JoinSet(n) => WaitingOn::JoinSet {
                        tasks: usize::try_from(n).unwrap_or(usize::MAX),
                    },
                    Wait::Blocking(task) => WaitingOn::Blocking { task },
                    Wait::Signal(signo) => WaitingOn::Signal {
                        kind: SignalKind::from_raw(signo),
                    },
                }),
            };
            tasks.push(info(r, now, state));
        });
        self.blocking.for_each(|meta, running| {
            tasks.push(info(&meta.record, now, TaskState::Blocking { running }));
        });
        self.add_fd_deadlines(&mut tasks);
        TaskDump::new(tasks)
    }

    /// Fills in the deadline of every fd wait whose fd is attached to this
    /// runtime's poller and has one set.
    fn add_fd_deadlines(&self, tasks: &mut [TaskInfo]) {
        let fds: HashSet<RawFd> = tasks
            .iter()
            .filter_map(|t| match t.state {
                TaskState::Waiting(WaitingOn::Read { fd, .. } | WaitingOn::Write { fd, .. }) => {
                    Some(fd)
                }
                _ => None,
            })
            .collect();
        if fds.is_empty() {
            return;
        }
        let deadlines = self.poller.deadlines_of(&fds);
        for t in tasks {
            let (fd, deadline, write) = match &mut t.state {
                TaskState::Waiting(WaitingOn::Read { fd, deadline }) => (*fd, deadline, false),
                TaskState::Waiting(WaitingOn::Write { fd, deadline }) => (*fd, deadline, true),
                _ => continue,
            };
            if let Some(&(rd, wd)) = deadlines.get(&fd) {
                *deadline = if write { wd } else { rd }.map(clock::to_instant);
            }
        }
    }
}

/// A dump entry for the task behind `r`, in `state`.
fn info(r: &TaskRecord, now: u64, state: TaskState) -> TaskInfo {
    TaskInfo {
        id: r.id,
        name: r.name().map(String::from),
        location: r.location,
        age: Duration::from_nanos(now.saturating_sub(r.spawned)),
        state,
    }
}
