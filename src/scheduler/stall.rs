//! sysmon's stall watch: finds a task whose single poll has blocked its M
//! (OS thread) for the stall threshold and reports it; the M itself reports
//! when that poll returns (`task/stall.rs` has the report type and where
//! reports go).
//!
//! It watches Ms, not Ps: once sysmon hands a stuck M's P to another thread
//! the P is busy again, but the M is still stuck, and that is the stall.
//! Each M counts its polls (`poll_seq`, odd while inside one); a count that
//! stays odd and unchanged across sysmon rounds is one poll still running,
//! since the round that first saw it. The poll path gains only a store of
//! the running task's id before each poll and a load of [`StallSlot`]'s
//! flag after it.
//!
//! # Who reports the end
//!
//! sysmon publishes the stall in the M's [`StallSlot`] (record, then flag),
//! runs the heavy barrier and re-reads the M's poll count; the M, after each
//! poll, stores its count, runs the light barrier and loads the flag — the
//! same Dekker pattern as a P retake (barrier.rs). So either the M sees the
//! flag and reports the end, or sysmon sees the poll over and reports both
//! at once; the slot's mutex makes the record's taker unique, and sysmon
//! delivers the "stalled" report holding it, so the "returned" report never
//! comes first. Invariant: at most one of each per poll.

use super::Shared;
use super::barrier;
use super::ids::MId;
use super::machine::Machine;
use super::ownership::Ownership;
use crate::sync::Mutex;
use crate::taskinfo::stall::StallConfig;
use crate::taskinfo::{Id, StallReport};
use crate::time::clock;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A reported stall whose poll has not returned (see the module docs).
struct Pending {
    /// The stalled poll's count (odd).
    seq: u64,
    /// Clock time sysmon first saw the poll.
    since: u64,
    report: StallReport,
    config: StallConfig,
    /// sysmon has delivered the "stalled" report (outside the lock).
    delivered: bool,
    /// The poll returned before that: `(kept_p, clock)`, for sysmon to
    /// deliver the "returned" report after its own.
    returned: Option<(bool, u64)>,
}

/// Per-M: the stall reported for its running poll, if any.
#[derive(Default)]
pub(crate) struct StallSlot {
    /// A stall is pending (the M's fast check).
    flag: AtomicBool,
    pending: Mutex<Option<Pending>>,
}

impl std::fmt::Debug for StallSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StallSlot")
            .field("flag", &self.flag)
            .finish_non_exhaustive()
    }
}

impl StallSlot {
    /// The M's poll number `seq` just returned (after the light barrier);
    /// `kept_p`: the M still holds its P.
    #[inline]
    pub(crate) fn poll_returned(&self, seq: u64, kept_p: bool) {
        if self.flag.load(Ordering::Relaxed) {
            self.finish(seq, kept_p);
        }
    }

    #[cold]
    fn finish(&self, seq: u64, kept_p: bool) {
        let mut pending = self.pending.lock();
        self.flag.store(false, Ordering::Relaxed);
        let Some(p) = pending.as_mut().filter(|p| p.seq == seq) else {
            return;
        };
        if !p.delivered {
            // sysmon is still delivering the "stalled" report: it delivers
            // this one after it.
            p.returned = Some((kept_p, clock::now()));
            return;
        }
        let Some(Pending {
            since,
            mut report,
            config,
            ..
        }) = pending.take()
        else {
            return;
        };
        drop(pending);
        report.handed_off |= !kept_p;
        config.deliver(&ended(report, since, clock::now()));
    }
}

/// sysmon's view of one M.
struct Watched {
    m: MId,
    /// Poll count last seen.
    seq: u64,
    /// Clock time sysmon first saw `seq`.
    since: u64,
    /// The P the M held when the poll was first seen.
    p_at_start: Option<usize>,
    /// This poll was reported.
    reported: bool,
}

/// A stall found in a round, reported after the threads lock is released.
struct Found {
    m: Arc<Machine>,
    seq: u64,
    since: u64,
    report: StallReport,
}

/// See the module docs. Owned by the sysmon thread.
#[derive(Default)]
pub(crate) struct StallWatch {
    watched: Vec<Watched>,
}

impl StallWatch {
    /// One sysmon round at clock time `now`: reports polls that have run
    /// for the threshold.
    pub(crate) fn round(&mut self, shared: &Shared, now: u64) {
        let Some(threshold) = shared.config.stall.threshold else {
            return;
        };
        let threshold = u64::try_from(threshold.as_nanos()).unwrap_or(u64::MAX);
        let mut found = Vec::new();
        {
            let threads = shared.threads.lock();
            self.watched
                .retain(|w| threads.iter().any(|(_, m)| m.id == w.m));
            for (_, m) in threads.iter() {
                let seq = m.poll_seq();
                // A new M, or a new poll (or none) since the last round:
                // start watching it from now.
                let fresh = || Watched {
                    m: m.id,
                    seq,
                    since: now,
                    p_at_start: p_of(shared, m.id),
                    reported: false,
                };
                let Some(w) = self.watched.iter_mut().find(|w| w.m == m.id) else {
                    self.watched.push(fresh());
                    continue;
                };
                if seq != w.seq {
                    *w = fresh();
                    continue;
                }
                // Not inside a poll, or inside one that gave its P away to
                // block on purpose (`block_in_place`), or reported already.
                if seq & 1 == 0
                    || m.gave_p_in(seq)
                    || w.reported
                    || now.saturating_sub(w.since) < threshold
                {
                    continue;
                }
                let id = m.running_task();
                if m.poll_seq() != seq {
                    // The poll returned and the next may have begun: `id`
                    // could name the next task. The next round sees the
                    // count move on.
                    continue;
                }
                // (None: the task finished meanwhile; the next round sees
                // the count move on.)
                let Some((name, location)) = shared.registry.find(|meta| {
                    let r = &meta.record;
                    (r.id.as_u64() == id).then(|| (r.name().map(String::from), r.location))
                }) else {
                    continue;
                };
                w.reported = true;
                found.push(Found {
                    m: m.clone(),
                    seq,
                    since: w.since,
                    report: StallReport {
                        id: Id::from_u64(id).unwrap_or_else(Id::next),
                        name,
                        location,
                        worker: w.p_at_start,
                        thread: m.thread_name(),
                        blocked_for: Duration::from_nanos(now - w.since),
                        handed_off: w.p_at_start.is_some() && p_of(shared, m.id) != w.p_at_start,
                        finished: false,
                    },
                });
            }
        }
        for f in found {
            report(shared, f);
        }
    }

    /// True if an M is inside a poll that may become a stall, so sysmon
    /// must keep watching even though every P is idle.
    pub(crate) fn keeps_sysmon_awake(&self, shared: &Shared) -> bool {
        shared.config.stall.threshold.is_some()
            && shared.threads.lock().iter().any(|(_, m)| {
                let seq = m.poll_seq();
                seq & 1 == 1 && !m.gave_p_in(seq)
            })
    }
}

/// Publishes stall `f` to its M and delivers the "stalled" report (and the
/// "returned" one, if the poll returned meanwhile): see the module docs.
fn report(shared: &Shared, f: Found) {
    let config = &shared.config.stall;
    let slot = &f.m.stall;
    let mut pending = slot.pending.lock();
    *pending = Some(Pending {
        seq: f.seq,
        since: f.since,
        report: f.report.clone(),
        config: config.clone(),
        delivered: false,
        returned: None,
    });
    slot.flag.store(true, Ordering::Relaxed);
    let fenced = barrier::heavy();
    if !fenced {
        // Without the barrier sysmon cannot tell whether the M will see the
        // flag: withdraw it (this stall gets no "returned" report).
        slot.flag.store(false, Ordering::Relaxed);
        *pending = None;
        drop(pending);
        config.deliver(&f.report);
        return;
    }
    // Past the barrier: if the poll is still running, the M will see the
    // flag when it returns.
    let poll_over = f.m.poll_seq() != f.seq;
    drop(pending);
    // The user's callback runs without the lock: the M must not wait for it.
    config.deliver(&f.report);
    let mut pending = slot.pending.lock();
    let Some(p) = pending.as_mut().filter(|p| p.seq == f.seq) else {
        return;
    };
    let end = if let Some((kept_p, at)) = p.returned {
        let mut r = p.report.clone();
        r.handed_off |= !kept_p;
        Some(ended(r, p.since, at))
    } else if poll_over {
        // The M may have missed the flag: end it here.
        slot.flag.store(false, Ordering::Relaxed);
        Some(ended(p.report.clone(), p.since, clock::now()))
    } else {
        p.delivered = true;
        None
    };
    if let Some(end) = end {
        *pending = None;
        drop(pending);
        config.deliver(&end);
    }
}

/// The "poll returned" report for `r`, whose poll sysmon first saw at `since`.
fn ended(mut r: StallReport, since: u64, now: u64) -> StallReport {
    r.finished = true;
    r.blocked_for = Duration::from_nanos(now.saturating_sub(since));
    r
}

/// The index of the P that M `m` owns (or that sysmon holds reserved
/// from it).
pub(crate) fn p_of(shared: &Shared, m: MId) -> Option<usize> {
    shared
        .ps
        .iter()
        .find(|p| Ownership::names(p.owner.word(), m))
        .map(|p| p.id.index())
}
