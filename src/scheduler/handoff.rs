//! Hand-offs: giving a P to another M (Go's `handoffp`) so the work queued
//! behind a blocked M runs elsewhere.
//!
//! Two callers: the current worker before it blocks (`block_in_place`, and
//! `block_on` called on a worker: Go's `entersyscallblock`), and sysmon
//! retaking a P from an M stuck in one task's poll (sysmon.rs, Go's
//! `retake`). Both first ask [`has_work`]: is anything waiting that the P's
//! next owner would find? Both then move the P with [`give_p`], which finds
//! the taker M (an idle one, or a spare thread) and lets the caller claim
//! the owner word for it (ownership.rs).

use super::Shared;
use super::context;
use super::ids::MId;
use super::machine::Machine;
use super::ownership;
use super::processor::Processor;
use crate::time::clock::NEVER;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Which I/O waiters [`has_work`] counts as work for a P.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum IoWaiters {
    /// Any task waiting on I/O: the M giving up its P before it blocks
    /// (`block_in_place`) wants some M to go on polling for them.
    Count,
    /// Only while no P is idle: an idle P's M polls for them (idle.rs), so
    /// sysmon does not retake a stuck P just for I/O.
    CountUnlessAPIsIdle,
}

/// Is anything waiting that an M holding P `p` would run? Tasks on `p` or
/// on the global queue, `p`'s timers, or tasks waiting on I/O (as `io`
/// says).
///
/// These conditions must agree with the sources `find_work` looks at
/// (machine.rs: P's timers, runnext and local queue, the global queue,
/// netpoll): an M handed a P for this work must find it there. A new
/// source of work in `find_work` belongs here too, or a P holding only
/// that work stays behind a blocked M.
pub(super) fn has_work(shared: &Shared, p: &Processor, io: IoWaiters) -> bool {
    p.has_tasks()
        || !shared.global.is_empty()
        || p.timers.next_when() != NEVER
        || match io {
            IoWaiters::Count => shared.poller.has_waiters(),
            IoWaiters::CountUnlessAPIsIdle => {
                shared.poller.has_waiters() && shared.idle.npidle() == 0
            }
        }
}

/// Gives away the P of the current worker thread, if it holds one, before
/// it runs blocking code (Go's `entersyscallblock` + `handoffp`): to another
/// M if work is waiting for the P, else back to the idle list. Either way
/// (and also when sysmon already took the P) the thread stops treating the
/// P as its own: wakes during the rest of this poll go through the global
/// queue, and the M looks for a P again when the poll returns.
pub(crate) fn hand_off_current_p() {
    context::with_worker(|w| {
        let Some(w) = w else { return };
        w.machine.note_gave_p();
        let Some(pid) = w.p.get() else { return };
        let shared = &*w.shared;
        let p = &shared.ps[pid];
        let me = w.machine.id;
        let has_work = || has_work(shared, p, IoWaiters::Count);
        // (A reservation by sysmon is resolved first: this M is inside a
        // poll, so sysmon takes the P.)
        let word = p.owner.settled();
        let released = if !ownership::Ownership::owned_by(word, me) {
            true // sysmon took it already
        } else if has_work() {
            // False if no thread could be started (this M keeps its P,
            // like a stuck one) or sysmon took the P meanwhile.
            handoff(shared, p, word) || !p.owner.holds(me)
        } else {
            let ok = {
                let mut lists = shared.idle.lock();
                let ok = p.owner.transfer(Some(me), None);
                if ok {
                    lists.put_p(&shared.idle, pid);
                }
                ok
            };
            // Work that arrived after the check above found no idle P to
            // wake; this re-check (after publishing the idle P) closes that
            // window, as in the idle protocol.
            if ok && (shared.any_tasks() || has_work()) {
                shared.wakep();
            }
            // Not ok: sysmon handed it off between the checks.
            true
        };
        if released {
            // (A task is running, so this M is not spinning.)
            w.p.set(None);
            w.handed_off.set(true);
        }
    });
}

/// Hands the current M's own P `p` to another M (`block_in_place`), if its
/// owner word is still `seen`. Returns false if the word changed or no
/// thread could be started for it.
fn handoff(shared: &Shared, p: &Processor, seen: u64) -> bool {
    give_p(shared, p, SpareCap::Ignore, |to| {
        p.owner.transfer_exact(seen, to)
    })
}

/// Whether a hand-off may start a spare M past `max_spare_threads`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SpareCap {
    /// sysmon retaking a stuck poll's P: within the cap (the stuck M keeps
    /// its P when the cap is reached).
    Respect,
    /// The M blocks on purpose (`block_in_place`, `block_on` on a worker),
    /// maybe on the very work queued behind it: the P always goes, as Go's
    /// blocking syscall always releases its P. A spare started past the
    /// cap exits as soon as it is idle (`park` in machine.rs).
    Ignore,
}

/// The M that a P given away goes to.
enum Taker {
    /// An idle M, taken off the idle list.
    Idle(Arc<Machine>),
    /// A spare to start (within `max_spare_threads`, unless [`SpareCap`]
    /// says otherwise).
    Spare(Arc<Machine>),
}

/// Finds an M for P `p` — an idle one, or a spare to start (as `cap`
/// allows) — and lets `claim` move the P's owner word to it; if that
/// succeeds, starts the M on the P and counts a hand-off. `claim` runs
/// with no lock held (a reservation in it must not wait for one: the P's
/// owner may wait for the reservation holding the idle lock, in
/// `release_p`).
pub(super) fn give_p(
    shared: &Shared,
    p: &Processor,
    cap: SpareCap,
    claim: impl FnOnce(MId) -> bool,
) -> bool {
    let taker = {
        let mut lists = shared.idle.lock();
        match lists.get_m() {
            Some(m) => Taker::Idle(m),
            None if (cap == SpareCap::Ignore
                || lists.threads < shared.nprocs() + shared.config.max_spare_threads)
                && !shared.is_shutdown() =>
            {
                Taker::Spare(shared.alloc_m())
            }
            None => return false,
        }
    };
    let (Taker::Idle(m) | Taker::Spare(m)) = &taker;
    if !claim(m.id) {
        if let Taker::Idle(m) = taker {
            shared.idle.lock().ms.push(m);
        }
        return false;
    }
    match taker {
        Taker::Idle(m) => {
            m.hand_p(p.id, false);
            m.wake(&shared.poller);
        }
        Taker::Spare(m) => {
            let id = m.id;
            if shared.spawn_m(m, p.id, false).is_err() {
                // No thread. The old owner may already have seen that it
                // lost the P, so it cannot be given back: it goes on the
                // idle list, where that M (or any other) takes it.
                let mut lists = shared.idle.lock();
                if p.owner.transfer(Some(id), None) {
                    lists.put_p(&shared.idle, p.id);
                }
                drop(lists);
                shared.wakep();
                return false;
            }
        }
    }
    shared.counters.handoffs.fetch_add(1, Ordering::Relaxed);
    true
}
