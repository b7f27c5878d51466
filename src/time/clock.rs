//! The runtime's clock: monotonic nanoseconds since a process-wide base.
//!
//! Timers and descriptor deadlines store instants as `u64` nanoseconds so the
//! timer heap compares plain integers and deadline state fits in atomics.
//! Valid times are `>= 1`; [`NEVER`] stands for "no deadline" and saturates
//! anything beyond what a `u64` can hold (about 584 years), which is how
//! `Duration::MAX` and far-future instants are accepted without overflow.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A time that never comes.
pub(crate) const NEVER: u64 = u64::MAX;

fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// Now, in clock nanoseconds.
pub(crate) fn now() -> u64 {
    to_nanos(Instant::now())
}

/// Converts an instant to clock nanoseconds (instants before the base map to
/// 1, which is always in the past; far-future instants saturate to [`NEVER`]).
pub(crate) fn to_nanos(t: Instant) -> u64 {
    let base = base();
    match t.checked_duration_since(base) {
        Some(d) => u64::try_from(d.as_nanos())
            .ok()
            .and_then(|n| n.checked_add(1))
            .unwrap_or(NEVER),
        None => 1,
    }
}

/// Converts clock nanoseconds back to an instant (saturating far in the future).
pub(crate) fn to_instant(nanos: u64) -> Instant {
    let base = base();
    base.checked_add(Duration::from_nanos(nanos.saturating_sub(1)))
        .unwrap_or_else(|| base + Duration::from_secs(u32::MAX as u64))
}

/// `now + d` in clock nanoseconds, saturating to [`NEVER`].
pub(crate) fn after(d: Duration) -> u64 {
    let d = u64::try_from(d.as_nanos()).unwrap_or(NEVER);
    now().saturating_add(d)
}

/// The instant `d` from now, or a far-future instant if that overflows.
pub(crate) fn instant_after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .unwrap_or_else(|| to_instant(NEVER - 1).max(now))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_saturates() {
        let t = Instant::now() + Duration::from_millis(5);
        let n = to_nanos(t);
        assert!((1..NEVER).contains(&n));
        let back = to_instant(n);
        assert!(back.max(t) - back.min(t) < Duration::from_micros(1));
        assert_eq!(after(Duration::MAX), NEVER);
        assert!(instant_after(Duration::MAX) > Instant::now() + Duration::from_secs(1 << 30));
        assert!(now() >= 1);
    }
}
