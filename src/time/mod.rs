//! Timers: [`sleep`], [`sleep_until`], [`timeout`], [`interval`].
//!
//! Timers live on the Ps (processors) of the runtime, in a 4-ary heap per
//! P as in Go (`heap.rs`, `timers.rs`), and are fired by the scheduler's
//! find-runnable loop; the M blocked in the poller sleeps exactly until the
//! earliest timer of any P, and arming an earlier timer interrupts it.
//! Instants are `std::time::Instant`.

pub(crate) mod clock;
pub(crate) mod heap;
mod interval;
mod sleep;
mod timeout;
pub(crate) mod timers;

pub use interval::{Interval, MissedTickBehavior, interval, interval_at};
pub use sleep::{Sleep, sleep, sleep_until};
pub use timeout::{Elapsed, Timeout, timeout, timeout_at};
