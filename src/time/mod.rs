//! Timers: [`sleep`], [`sleep_until`], [`timeout`], [`interval`].
//!
//! Timers live on the Ps (processors) of the runtime, in a 4-ary heap per
//! P as in Go (`heap.rs`, `timers.rs`), and are fired by the scheduler's
//! find-runnable loop; the M blocked in the poller sleeps exactly until the
//! earliest timer of any P, and arming an earlier timer interrupts it.
//! Instants are `std::time::Instant`.
//!
//! The lower half (`clock.rs`, `heap.rs`, `timers.rs`) imports nothing from
//! the poller or the scheduler: a heap entry carries a target implementing
//! `timers::Fire`, and the scheduler decides what firing means
//! (`scheduler/timer_target.rs`: complete a sleep, or expire a socket's
//! deadline; `scheduler/sleep_timer.rs`: the timer a sleep arms, which a
//! sleep inside a task borrows from the task's header). The public futures (`sleep.rs`, `timeout.rs`, `interval.rs`)
//! sit above the scheduler and arm their timers through it.

pub(crate) mod clock;
pub(crate) mod heap;
mod interval;
mod sleep;
mod timeout;
pub(crate) mod timers;

pub use interval::{Interval, MissedTickBehavior, interval, interval_at};
pub use sleep::{Sleep, sleep, sleep_until};
pub use timeout::{Elapsed, Timeout, timeout, timeout_at};
