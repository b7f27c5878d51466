//! [`TaskDump`]: every live task of a runtime, like the goroutine dump Go
//! prints on `SIGQUIT`.
//!
//! A dump is a snapshot taken by [`Handle::dump`](crate::runtime::Handle::dump):
//! one [`TaskInfo`] per task spawned on the runtime that has not finished
//! (tasks of the blocking pool, which run on their own threads, are not
//! listed). Each task's state is read without stopping anything, so a task
//! that changes state while the dump is taken may show either state.
//! `Display` groups the tasks by spawn location, largest group first.

use super::Id;
use crate::signal::SignalKind;
use std::collections::HashMap;
use std::fmt;
use std::os::fd::RawFd;
use std::panic::Location;
use std::time::{Duration, Instant};

/// A snapshot of a runtime's live tasks; see
/// [`Handle::dump`](crate::runtime::Handle::dump).
///
/// `{}` prints a summary and up to 10 tasks per spawn location; `{:#}`
/// prints every task.
///
/// ```
/// # goro::block_on(async {
/// let rt = goro::runtime::Runtime::new().unwrap();
/// let h = goro::task::Builder::new()
///     .name("idle")
///     .spawn_on(std::future::pending::<()>(), &rt.handle());
/// let dump = rt.handle().dump();
/// let t = dump.tasks().iter().find(|t| t.id() == h.id()).unwrap();
/// assert_eq!(t.name(), Some("idle"));
/// println!("{dump}");
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct TaskDump {
    tasks: Vec<TaskInfo>,
    taken: Instant,
}

/// One task in a [`TaskDump`].
#[derive(Debug, Clone)]
pub struct TaskInfo {
    pub(crate) id: Id,
    pub(crate) name: Option<String>,
    pub(crate) location: &'static Location<'static>,
    pub(crate) age: Duration,
    pub(crate) state: TaskState,
}

/// What a task was doing when the dump was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaskState {
    /// Being polled on a worker thread. `worker` is the index of the P it
    /// runs on (as in [`Metrics::workers`](crate::runtime::Metrics)), or
    /// `None` if that thread gave its P away while the poll ran (a stuck
    /// poll sysmon handed off, or `block_in_place`).
    Running {
        /// The worker (P) index, if the thread still holds one.
        worker: Option<usize>,
    },
    /// Woken (or just spawned) and waiting in a run queue for a worker.
    Queued,
    /// A [`spawn_blocking`](crate::task::spawn_blocking) closure: running
    /// on a blocking-pool thread, or (`running: false`) queued for one
    /// because all `max_blocking_threads` are busy.
    Blocking {
        /// Whether a pool thread is running it now.
        running: bool,
    },
    /// Parked until something wakes it.
    Waiting(WaitingOn),
}

/// What a waiting task waits on, as far as goro knows: the last goro
/// future it parked on, polled first in its last poll (so in a `select` or
/// a [`timeout`](crate::time::timeout) it is the future polled first that
/// goro tracks: the I/O inside a `timeout`, or the `timeout`'s timer around
/// a future goro does not track).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitingOn {
    /// A socket or other fd becoming readable (a read, accept, recv…), or
    /// the fd's read lock while another task reads it.
    Read {
        /// The fd number.
        fd: RawFd,
        /// The fd's read deadline
        /// ([`set_read_deadline`](crate::net::TcpStream::set_read_deadline)),
        /// if one is set and has not fired (one due whose timer is late
        /// prints as passed). Looked up when the dump is taken, only among
        /// the fds of the dumped runtime's poller.
        deadline: Option<Instant>,
    },
    /// An fd becoming writable (a write, connect…), or the fd's write lock.
    Write {
        /// The fd number.
        fd: RawFd,
        /// The fd's write deadline, if one is set and has not fired (see
        /// `Read`).
        deadline: Option<Instant>,
    },
    /// A timer (`sleep`, `interval`, the timer of a `timeout`).
    Timer {
        /// When it fires.
        deadline: Instant,
    },
    /// Another task's completion (awaiting its `JoinHandle`).
    Join {
        /// The awaited task.
        task: Id,
    },
    /// The next completion in a [`JoinSet`](crate::task::JoinSet)
    /// (`join_next`, `join_all`, `shutdown`).
    JoinSet {
        /// Tasks in the set not yet joined.
        tasks: usize,
    },
    /// A [`spawn_blocking`](crate::task::spawn_blocking) call (awaiting its
    /// `JoinHandle`), running or queued on the blocking pool, whose tasks a
    /// dump does not list.
    Blocking {
        /// The blocking-pool task's id.
        task: Id,
    },
    /// A signal's next delivery ([`Signal::recv`](crate::signal::Signal::recv)).
    Signal {
        /// The signal.
        kind: SignalKind,
    },
    /// Something goro does not track (a channel, a lock, a user future).
    Other,
}

impl TaskDump {
    pub(crate) fn new(mut tasks: Vec<TaskInfo>) -> TaskDump {
        tasks.sort_by_key(|t| t.id);
        TaskDump {
            tasks,
            taken: Instant::now(),
        }
    }

    /// Every live task, in id order.
    pub fn tasks(&self) -> &[TaskInfo] {
        &self.tasks
    }

    /// Number of live tasks.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// True if the runtime had no live task.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// How many tasks are in a state matching `f`.
    ///
    /// ```
    /// # use goro::task::TaskState;
    /// let rt = goro::runtime::Runtime::new().unwrap();
    /// let dump = rt.handle().dump();
    /// assert_eq!(dump.count(|s| matches!(s, TaskState::Running { .. })), 0);
    /// ```
    pub fn count(&self, f: impl Fn(&TaskState) -> bool) -> usize {
        self.tasks.iter().filter(|t| f(&t.state)).count()
    }
}

impl TaskInfo {
    /// The task's id.
    pub fn id(&self) -> Id {
        self.id
    }

    /// The name given with [`Builder::name`](crate::task::Builder::name), if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Where the task was spawned (the caller of `spawn`).
    pub fn location(&self) -> &'static Location<'static> {
        self.location
    }

    /// How long ago it was spawned (to within sysmon's period, at most
    /// 10 ms).
    pub fn age(&self) -> Duration {
        self.age
    }

    /// What it was doing.
    pub fn state(&self) -> TaskState {
        self.state
    }
}

/// The short label used in a group's summary.
fn label(s: &TaskState) -> &'static str {
    match s {
        TaskState::Running { .. } => "running",
        TaskState::Queued => "queued",
        TaskState::Blocking { running: true } => "running a blocking call",
        TaskState::Blocking { running: false } => "blocking call queued for a thread",
        TaskState::Waiting(WaitingOn::Read { .. }) => "waiting on fd read",
        TaskState::Waiting(WaitingOn::Write { .. }) => "waiting on fd write",
        TaskState::Waiting(WaitingOn::Timer { .. }) => "waiting on a timer",
        TaskState::Waiting(WaitingOn::Join { .. }) => "waiting on a task",
        TaskState::Waiting(WaitingOn::JoinSet { .. }) => "waiting on a join set",
        TaskState::Waiting(WaitingOn::Blocking { .. }) => "waiting on a blocking call",
        TaskState::Waiting(WaitingOn::Signal { .. }) => "waiting on a signal",
        TaskState::Waiting(WaitingOn::Other) => "waiting on another waker",
    }
}

struct StateAt<'a>(&'a TaskState, Instant);

impl fmt::Display for StateAt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            TaskState::Running { worker: Some(w) } => write!(f, "running on worker {w}"),
            TaskState::Running { worker: None } => {
                f.write_str("running on a thread that handed off its worker")
            }
            TaskState::Queued => f.write_str("queued"),
            TaskState::Blocking { running: true } => {
                f.write_str("running a blocking call on the blocking pool")
            }
            TaskState::Blocking { running: false } => {
                f.write_str("blocking call queued for a blocking-pool thread")
            }
            TaskState::Waiting(WaitingOn::Read { fd, deadline }) => {
                write!(
                    f,
                    "waiting on fd {fd} (read{})",
                    DeadlineAt(*deadline, self.1)
                )
            }
            TaskState::Waiting(WaitingOn::Write { fd, deadline }) => {
                write!(
                    f,
                    "waiting on fd {fd} (write{})",
                    DeadlineAt(*deadline, self.1)
                )
            }
            TaskState::Waiting(WaitingOn::Timer { deadline }) => {
                match deadline.checked_duration_since(self.1) {
                    Some(d) => write!(f, "waiting on a timer due in {d:.1?}"),
                    None => write!(f, "waiting on a timer (due)"),
                }
            }
            TaskState::Waiting(WaitingOn::Join { task }) => write!(f, "waiting on task {task}"),
            TaskState::Waiting(WaitingOn::JoinSet { tasks: 1 }) => {
                f.write_str("waiting on a join set of 1 task")
            }
            TaskState::Waiting(WaitingOn::JoinSet { tasks }) => {
                write!(f, "waiting on a join set of {tasks} tasks")
            }
            TaskState::Waiting(WaitingOn::Blocking { task }) => {
                write!(f, "waiting on blocking-pool task {task}")
            }
            TaskState::Waiting(WaitingOn::Signal { kind }) => {
                write!(f, "waiting on signal {kind:?}")
            }
            TaskState::Waiting(WaitingOn::Other) => f.write_str("waiting on another waker"),
        }
    }
}

/// An fd's deadline as a suffix of its direction: ", deadline in 1.2s".
struct DeadlineAt(Option<Instant>, Instant);

impl fmt::Display for DeadlineAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.map(|d| d.checked_duration_since(self.1)) {
            None => Ok(()),
            Some(Some(d)) => write!(f, ", deadline in {d:.1?}"),
            Some(None) => f.write_str(", deadline passed"),
        }
    }
}

/// Tasks listed per group by `{}` (`{:#}` lists all).
const SHOWN_PER_GROUP: usize = 10;

impl fmt::Display for TaskDump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = |l: &str| self.tasks.iter().filter(|t| label(&t.state) == l).count();
        let running = count("running");
        let queued = count("queued");
        writeln!(
            f,
            "goro task dump: {} tasks ({running} running, {queued} queued, {} waiting)",
            self.tasks.len(),
            self.tasks.len() - running - queued
        )?;
        let mut groups: HashMap<(&str, u32, u32), Vec<&TaskInfo>> = HashMap::new();
        for t in &self.tasks {
            let l = t.location;
            groups
                .entry((l.file(), l.line(), l.column()))
                .or_default()
                .push(t);
        }
        let mut groups: Vec<_> = groups.into_iter().collect();
        groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
        for ((file, line, col), tasks) in groups {
            let mut states: Vec<(&str, usize)> = Vec::new();
            for t in &tasks {
                let l = label(&t.state);
                match states.iter_mut().find(|(s, _)| *s == l) {
                    Some((_, n)) => *n += 1,
                    None => states.push((l, 1)),
                }
            }
            states.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
            let summary: Vec<String> = states.iter().map(|(l, n)| format!("{n} {l}")).collect();
            let plural = if tasks.len() == 1 { "" } else { "s" };
            writeln!(
                f,
                "\n{} task{plural} spawned at {file}:{line}:{col} [{}]",
                tasks.len(),
                summary.join(", ")
            )?;
            let shown = if f.alternate() {
                tasks.len()
            } else {
                SHOWN_PER_GROUP
            };
            for t in tasks.iter().take(shown) {
                write!(f, "    task {}", t.id)?;
                if let Some(name) = &t.name {
                    write!(f, " {name:?}")?;
                }
                writeln!(f, ": {}, age {:.1?}", StateAt(&t.state, self.taken), t.age)?;
            }
            if tasks.len() > shown {
                writeln!(f, "    ... and {} more", tasks.len() - shown)?;
            }
        }
        Ok(())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn display_groups_by_location_with_counts() {
        let a = Location::caller();
        let b = Location::caller();
        let mk = |loc, state| TaskInfo {
            id: Id::next(),
            name: None,
            location: loc,
            age: Duration::from_millis(1500),
            state,
        };
        let mut tasks: Vec<TaskInfo> = (0..12)
            .map(|i| {
                let deadline = None;
                mk(
                    a,
                    TaskState::Waiting(WaitingOn::Read {
                        fd: 100 + i,
                        deadline,
                    }),
                )
            })
            .collect();
        tasks.push(TaskInfo {
            name: Some("tick".into()),
            ..mk(b, TaskState::Running { worker: Some(1) })
        });
        let dump = TaskDump::new(tasks);
        let text = dump.to_string();
        assert!(text.starts_with("goro task dump: 13 tasks (1 running, 0 queued, 12 waiting)"));
        let first = text.find("12 tasks spawned at").expect(&text);
        let second = text.find("1 task spawned at").expect(&text);
        assert!(first < second, "largest group first:\n{text}");
        assert!(text.contains("[12 waiting on fd read]"), "{text}");
        assert!(text.contains("... and 2 more"), "{text}");
        assert!(
            text.contains("\"tick\": running on worker 1, age 1.5s"),
            "{text}"
        );
        let full = format!("{dump:#}");
        assert!(!full.contains("more"), "{full}");
        assert_eq!(full.matches("waiting on fd 1").count(), 12, "{full}");
    }

    #[test]
    fn display_names_what_a_task_waits_on() {
        let taken = Instant::now();
        let at = |secs| Some(taken + Duration::from_millis(secs));
        let past = taken.checked_sub(Duration::from_secs(1));
        let join = Id::next();
        let cases = [
            (
                WaitingOn::Read {
                    fd: 7,
                    deadline: None,
                },
                "waiting on fd 7 (read)",
            ),
            (
                WaitingOn::Read {
                    fd: 7,
                    deadline: at(1200),
                },
                "waiting on fd 7 (read, deadline in 1.2s)",
            ),
            (
                WaitingOn::Write {
                    fd: 9,
                    deadline: at(3_600_000),
                },
                "waiting on fd 9 (write, deadline in 3600.0s)",
            ),
            (
                WaitingOn::Write {
                    fd: 9,
                    deadline: past,
                },
                "waiting on fd 9 (write, deadline passed)",
            ),
            (
                WaitingOn::JoinSet { tasks: 1 },
                "waiting on a join set of 1 task",
            ),
            (
                WaitingOn::JoinSet { tasks: 20 },
                "waiting on a join set of 20 tasks",
            ),
            (
                WaitingOn::Blocking { task: join },
                &format!("waiting on blocking-pool task {join}"),
            ),
            (
                WaitingOn::Join { task: join },
                &format!("waiting on task {join}"),
            ),
            (
                WaitingOn::Signal {
                    kind: SignalKind::quit(),
                },
                "waiting on signal SIGQUIT",
            ),
        ];
        for (w, want) in cases {
            let got = StateAt(&TaskState::Waiting(w), taken).to_string();
            assert_eq!(got, want, "{w:?}");
        }
    }
}
