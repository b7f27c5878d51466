//! Retrying a timing scenario whose setup must beat a deadline.
//!
//! Tests such as "move a read deadline later while the read waits" first
//! need the move to happen before the old deadline: on an overloaded
//! machine the test task can be descheduled for longer than any fixed
//! margin, the old deadline then fires legitimately, and the test would
//! fail without the runtime having done anything wrong. [`with_margins`]
//! runs such a scenario with a scale factor for its durations and, when
//! the scenario reports that its setup came too late ([`Setup::Missed`]),
//! runs it again from scratch with doubled margins. It fails only if no
//! attempt could set the scenario up. Invariant: a scenario checks nothing
//! it cannot trust after a missed setup, and everything once its setup was
//! met, so retrying never weakens what the test asserts.

use std::future::Future;
use std::time::Instant;

/// Whether a scenario managed to set up its precondition in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// The precondition held: the scenario ran its checks.
    Met,
    /// The test task was too slow to set the precondition up; nothing was
    /// checked.
    Missed,
}

/// Attempts with scale 1, 2, 4, 8, 16.
pub const ATTEMPTS: u32 = 5;

/// [`Setup::Met`] if the step just taken finished before `deadline`.
pub fn before(deadline: Instant) -> Setup {
    if Instant::now() < deadline {
        Setup::Met
    } else {
        Setup::Missed
    }
}

/// Runs `scenario(scale)` for scale 1, 2, 4, 8, 16 until one attempt reports
/// [`Setup::Met`]; the scenario multiplies its margins by `scale`. Panics
/// (naming `what`) if every attempt missed its setup.
pub async fn with_margins<F, Fut>(what: &str, mut scenario: F)
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Setup>,
{
    for i in 0..ATTEMPTS {
        let scale = 1 << i;
        if scenario(scale).await == Setup::Met {
            return;
        }
        eprintln!(
            "{what}: setup missed its deadline at scale {scale}; retrying with larger margins"
        );
    }
    panic!("{what}: the machine was too slow to set the scenario up in {ATTEMPTS} attempts");
}
