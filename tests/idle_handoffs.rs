//! Regression test (issue 8, bug 4): sysmon must never hand off a P that
//! nothing blocks.
//!
//! sysmon judged a P stuck when its scheduling tick had not moved for
//! `handoff_after` while it was owned. The "unchanged since" time was not
//! refreshed while the P sat idle, so a P taken from the idle list after a
//! long idle gap looked stuck the moment sysmon saw it owned (before its new
//! M had polled anything) and was handed off, spawning spare threads for
//! nothing. Here a 2-worker runtime alternates idle gaps (long ones, past
//! sysmon's one-second deep sleep, and short ones around its 10 ms rounds)
//! with a trivial spawned task; nothing ever blocks, so `handoffs` must
//! stay 0.

use goro::runtime::{Builder, Runtime};
use std::time::Duration;

fn two_workers() -> Runtime {
    Builder::new().worker_threads(2).build().unwrap()
}

/// Runs one trivial task per gap, idling `gap` before each, and returns the
/// first round after which a hand-off was counted.
fn first_spurious_handoff(rt: &Runtime, gaps: impl IntoIterator<Item = Duration>) -> Option<usize> {
    for (round, gap) in gaps.into_iter().enumerate() {
        std::thread::sleep(gap);
        rt.block_on(rt.spawn(async {})).unwrap();
        if rt.metrics().handoffs != 0 {
            return Some(round);
        }
    }
    None
}

#[test]
fn no_handoff_after_long_idle_gaps() {
    let rt = two_workers();
    // Longer than sysmon's one-second deep-sleep threshold.
    let gaps = std::iter::repeat_n(Duration::from_millis(1200), 4);
    let round = first_spurious_handoff(&rt, gaps);
    assert_eq!(round, None, "spurious hand-off: {:?}", rt.metrics());
}

#[test]
fn no_handoff_after_short_idle_gaps() {
    let rt = two_workers();
    // 10..60 ms, spread deterministically (a small LCG), around sysmon's
    // 10 ms rounds and the 10 ms hand-off threshold.
    let mut x: u32 = 12345;
    let gaps = (0..100).map(move |_| {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        Duration::from_millis(10 + u64::from((x >> 16) % 51))
    });
    let round = first_spurious_handoff(&rt, gaps);
    assert_eq!(round, None, "spurious hand-off: {:?}", rt.metrics());
}
