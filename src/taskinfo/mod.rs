//! What the runtime knows about each task — Go's `g` minus the stack: its
//! [`Id`], name, spawn location and spawn time, one atomic state word
//! (queued, running, or what it waits on), and the two views built from
//! them: [`StallReport`] (sysmon names a task that blocks its worker) and
//! [`TaskDump`] (every live task, like Go's `SIGQUIT` dump).
//!
//! This module sits at the bottom of the dependency graph: it imports
//! nothing of goro's but `time::clock`'s `NEVER` and the plain value type
//! `signal::SignalKind`, so the poller, the timers and the scheduler can all
//! record "this task now waits on fd 7 / a timer / a join" without
//! importing each other. The public types are re-exported from
//! [`task`](crate::task) and [`runtime`](crate::runtime).

mod dump;
mod id;
pub(crate) mod record;
pub(crate) mod stall;
pub(crate) mod stderr;

pub use dump::{TaskDump, TaskInfo, TaskState, WaitingOn};
pub use id::{Id, id, try_id};
pub use stall::StallReport;
