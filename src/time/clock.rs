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

/// Instants this far past the base (about 292 years) count as never.
const HORIZON: u64 = NEVER / 2;

/// Converts an instant to clock nanoseconds (instants before the base map to
/// 1, which is always in the past; instants beyond a ~292-year horizon
/// saturate to [`NEVER`], so they arm no timer at all).
pub(crate) fn to_nanos(t: Instant) -> u64 {
    let base = base();
    match t.checked_duration_since(base) {
        Some(d) => match u64::try_from(d.as_nanos()) {
            Ok(n) if n < HORIZON => n + 1,
            _ => NEVER,
        },
        None => 1,
    }
}

/// Converts clock nanoseconds back to an instant (saturating far in the future).
pub(crate) fn to_instant(nanos: u64) -> Instant {
    let base = base();
    base.checked_add(Duration::from_nanos(nanos.saturating_sub(1)))
        .unwrap_or_else(|| base + Duration::from_secs(u32::MAX as u64))
}

/// The instant `d` from now, or an instant beyond the horizon if that
/// overflows.
pub(crate) fn instant_after(d: Duration) -> Instant {
    saturating_add(Instant::now(), d)
}

/// `t + d`, or an instant beyond the horizon (which counts as never) if that
/// overflows.
pub(crate) fn saturating_add(t: Instant, d: Duration) -> Instant {
    t.checked_add(d)
        .unwrap_or_else(|| to_instant(HORIZON + 1).max(t))
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
        assert_eq!(
            to_nanos(instant_after(Duration::from_secs(400 * 365 * 86_400))),
            NEVER
        );
        assert_eq!(to_nanos(instant_after(Duration::MAX)), NEVER);
        let t = Instant::now();
        assert!(saturating_add(t, Duration::MAX) > t);
        assert!(instant_after(Duration::MAX) > Instant::now() + Duration::from_secs(1 << 30));
        assert!(now() >= 1);
    }
}
