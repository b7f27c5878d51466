//! Instants for deadline tests: one already passed, one beyond any real
//! deadline.

use std::time::{Duration, Instant};

/// An instant that has already passed.
pub fn past() -> Instant {
    let now = Instant::now();
    now.checked_sub(Duration::from_secs(1)).unwrap_or(now)
}

/// The farthest instant std lets us build (at least 2^30 s ahead).
pub fn far_future() -> Instant {
    let now = Instant::now();
    [u64::MAX / 2, 1 << 62, 1 << 50, 1 << 40]
        .into_iter()
        .find_map(|s| now.checked_add(Duration::from_secs(s)))
        .unwrap_or_else(|| now + Duration::from_secs(1 << 30))
}
