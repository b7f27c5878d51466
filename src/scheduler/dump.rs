//! `Handle::dump`: collects a [`TaskDump`] from the registry of live tasks
//! (`registry.rs`) and the Ms' "running task" ids, without stopping
//! anything (`task/record.rs` explains the state word it decodes).

use super::Shared;
use crate::taskinfo::record::{Wait, Word};
use crate::taskinfo::{TaskDump, TaskInfo, TaskState, WaitingOn};
use crate::time::clock;
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
                    Wait::Read(fd) => WaitingOn::Read { fd },
                    Wait::Write(fd) => WaitingOn::Write { fd },
                    Wait::Timer(when) => WaitingOn::Timer {
                        deadline: clock::to_instant(when),
                    },
                    Wait::Join(task) => WaitingOn::Join { task },
                }),
            };
            tasks.push(TaskInfo {
                id: r.id,
                name: r.name.as_deref().map(String::from),
                location: r.location,
                age: Duration::from_nanos(now.saturating_sub(r.spawned)),
                state,
            });
        });
        TaskDump::new(tasks)
    }
}
