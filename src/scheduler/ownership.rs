//! Who owns a P: one word per P, changed only by compare-and-swap.
//!
//! The word packs a generation (high 32 bits), a **reserved** bit (bit 31:
//! sysmon is deciding whether to retake the P) and the owning M's id (low
//! 31 bits; 0 while the P is idle). Every change — an M taking an idle P,
//! releasing it, giving it away in `block_in_place`, sysmon reserving and
//! then retaking or giving back a P — is a CAS that bumps the generation:
//! [`Ownership::transfer`] (from the expected owner),
//! [`Ownership::transfer_exact`] (from an exact word seen earlier),
//! [`Ownership::reserve`] and [`Ownership::resolve`]. So:
//!
//! - **exactly one M owns a P at a time**: two Ms racing for the same P
//!   cannot both win the CAS;
//! - **no ABA**: sysmon, which judges a P stuck from a word it read some
//!   time ago, acts only if nothing changed since — an M that released and
//!   took the P back has a new generation.
//!
//! # Retake vs. the M leaving its poll (Go's `retake` / `exitsyscall`)
//!
//! sysmon takes a P from an M that is inside a task's poll (it cannot be
//! preempted). The guarantee: **a P is taken only from an M that is still
//! inside the very poll sysmon judged stuck, and that M learns it before
//! touching the P again.** An M that has left the poll keeps its P, and no
//! hand-off is made or counted.
//!
//! Go gets this from one CAS on each side (`_Psyscall` → `_Prunning` by the
//! M, → `_Pidle` by sysmon). Here the M side costs no locked instruction:
//! each M counts its polls (`poll_seq`, odd while inside one, machine.rs)
//! with plain stores, and:
//!
//! 1. the M, after a poll: stores the even count, then — past
//!    [`barrier::light`](super::barrier::light), a compiler fence — reads
//!    the owner word with [`Ownership::holds`], which waits while the word
//!    is reserved;
//! 2. sysmon, having seen the same word and the same odd count for
//!    `handoff_after`: CASes the word to *reserved* ([`reserve`]), runs
//!    [`barrier::heavy`](super::barrier::heavy) (`membarrier`: every running
//!    thread of the process executes a full fence), reads the count again,
//!    and [`resolve`]s: to the new M if the count is unchanged, else back to
//!    the old M (no hand-off).
//!
//! The membarrier splits the M's instructions at one point. If its
//! end-of-poll store came before that point, sysmon sees the new count and
//! gives the P back; if after, the M's next load of the word (after the
//! store) sees the reservation or its outcome. Either way exactly one side
//! proceeds with the P. The M's own CASes on the word ([`transfer`], in
//! `release_p` and `block_in_place`) wait while it is reserved too: a
//! reservation made just as the M left its poll is always given back, and
//! sysmon holds no lock between reserving and resolving. See barrier.rs
//! for the fallback (`SeqCst` fences on both sides) when membarrier is
//! unavailable.
//!
//! [`reserve`]: Ownership::reserve
//! [`resolve`]: Ownership::resolve
//! [`transfer`]: Ownership::transfer
//!
//! # Tasks woken by the stuck M
//!
//! While its poll is still running, the M's task may wake or spawn tasks;
//! that goes through [`Ownership::publish_as`]: the task goes on the P only
//! if the M owns it (a reserved word counts as not owned: the task goes to
//! the global queue), and the word is read again after publishing. If the
//! P was taken in between, the caller wakes an M (`wakep`) — the new owner
//! may already have looked and released the P — so the task is never
//! stranded on an idle P. This is the Dekker pattern of the idle protocol
//! (idle.rs): the pusher writes the queue then reads the word; an M that
//! takes or releases the P writes the word then reads the queues (SeqCst
//! on both sides). As a last resort sysmon also wakes an M for any idle P
//! whose queues hold tasks (sysmon.rs).

use super::ids::MId;
use crate::sync::{AtomicU64, Ordering, dekker_point};

/// Bits of the word holding the owner's M id.
const ID_MASK: u64 = MId::MAX as u64;
/// sysmon has reserved the P and is deciding whether to retake it.
const RESERVED: u64 = 1 << 31;

/// Where [`Ownership::publish_as`] left the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Published {
    /// The caller does not own the P: nothing was published; queue the
    /// work globally.
    NotOwner,
    /// Published on the P, which the caller still owned afterwards: the P's
    /// owner (the caller, or whoever it is handed to later) will see it.
    Owned,
    /// Published, but the P was taken meanwhile: the caller must wake an M.
    LostMeanwhile,
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Ownership {
    word: AtomicU64,
}

impl Ownership {
    /// An idle P's word.
    pub(crate) fn new() -> Ownership {
        Ownership {
            word: AtomicU64::new(0),
        }
    }

    /// The current word (for [`transfer_exact`](Self::transfer_exact)).
    pub(crate) fn word(&self) -> u64 {
        self.word.load(Ordering::SeqCst)
    }

    /// The current word once no reservation is pending (waits for sysmon
    /// to resolve one). Only a P's owner needs this.
    pub(crate) fn settled(&self) -> u64 {
        let mut spins = 0u32;
        loop {
            let w = self.word();
            if !Self::is_reserved(w) {
                return w;
            }
            backoff(&mut spins);
        }
    }

    /// The M named in `word` (`None`: idle), reserved or not.
    pub(crate) fn owner_of(word: u64) -> Option<MId> {
        MId::from_raw((word & ID_MASK) as u32)
    }

    /// True if sysmon holds `word` reserved.
    pub(crate) fn is_reserved(word: u64) -> bool {
        word & RESERVED != 0
    }

    /// The owning M right now (`None`: idle).
    #[cfg(test)]
    pub(crate) fn owner(&self) -> Option<MId> {
        Self::owner_of(self.word())
    }

    /// True if `word` names M `m` (reserved or not).
    pub(crate) fn names(word: u64, m: MId) -> bool {
        Self::owner_of(word) == Some(m)
    }

    /// True if `word` says M `m` owns the P (a reserved word is owned by
    /// nobody until sysmon resolves it).
    pub(crate) fn owned_by(word: u64, m: MId) -> bool {
        Self::names(word, m) && !Self::is_reserved(word)
    }

    /// True if M `m` owns the P right now (false while reserved).
    pub(crate) fn is_owned_by(&self, m: MId) -> bool {
        Self::owned_by(self.word(), m)
    }

    /// The owner M's check that it still owns the P: waits out a pending
    /// reservation, which sysmon resolves without taking any lock.
    pub(crate) fn holds(&self, m: MId) -> bool {
        Self::owned_by(self.settled(), m)
    }

    /// Moves the P from M `from` (`None`: idle) to M `to` (`None`: idle),
    /// if `from` owns it (waiting out a reservation). Returns false if it
    /// does not.
    pub(crate) fn transfer(&self, from: Option<MId>, to: Option<MId>) -> bool {
        // Go throws on a P changing from a status to itself.
        debug_assert!(from != to, "a P transferred to its own owner");
        let mut cur = self.word();
        let mut spins = 0u32;
        while Self::owner_of(cur) == from {
            if Self::is_reserved(cur) {
                backoff(&mut spins);
                cur = self.word();
                continue;
            }
            match self.word.compare_exchange(
                cur,
                Self::next(cur, to),
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return true,
                Err(now) => cur = now,
            }
        }
        false
    }

    /// Moves the P to M `to` if its word is still `seen` (nobody released,
    /// took, reserved or handed it off since).
    pub(crate) fn transfer_exact(&self, seen: u64, to: MId) -> bool {
        !Self::is_reserved(seen)
            && self
                .word
                .compare_exchange(
                    seen,
                    Self::next(seen, Some(to)),
                    Ordering::SeqCst,
                    Ordering::SeqCst,
                )
                .is_ok()
    }

    /// sysmon: reserves an owned P whose word is still `seen`. Returns the
    /// reserved word for [`resolve`](Self::resolve), which must follow
    /// without waiting for any lock (the owner may wait for it holding one).
    pub(crate) fn reserve(&self, seen: u64) -> Option<u64> {
        if Self::is_reserved(seen) {
            return None;
        }
        let owner = Self::owner_of(seen)?;
        let reserved = Self::next(seen, Some(owner)) | RESERVED;
        self.word
            .compare_exchange(seen, reserved, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
            .then_some(reserved)
    }

    /// sysmon: ends the reservation `reserved`, giving the P to M `to` —
    /// the new M, or the old owner when the hand-off is called off.
    pub(crate) fn resolve(&self, reserved: u64, to: MId) {
        debug_assert!(Self::is_reserved(reserved), "resolving an unreserved word");
        // Nobody else changes a reserved word.
        let ok = self
            .word
            .compare_exchange(
                reserved,
                Self::next(reserved, Some(to)),
                Ordering::SeqCst,
                Ordering::SeqCst,
            )
            .is_ok();
        debug_assert!(ok, "a reserved owner word changed under sysmon");
    }

    /// Runs `publish` (putting work on this P) only if M `m` owns the P,
    /// then checks it still does; see the module docs.
    pub(crate) fn publish_as(&self, m: MId, publish: impl FnOnce()) -> Published {
        if !self.is_owned_by(m) {
            return Published::NotOwner;
        }
        publish();
        dekker_point();
        if self.is_owned_by(m) {
            Published::Owned
        } else {
            Published::LostMeanwhile
        }
    }

    /// `cur` with the next generation, owned by `to`, not reserved.
    fn next(cur: u64, to: Option<MId>) -> u64 {
        ((cur >> 32).wrapping_add(1) << 32) | u64::from(to.map_or(0, MId::raw))
    }
}

/// One round of waiting for sysmon to resolve a reservation (it takes one
/// membarrier call): spin briefly, then yield the CPU (sysmon may need it).
fn backoff(spins: &mut u32) {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    if *spins < 64 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
    *spins = spins.saturating_add(1);
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn m(n: u32) -> MId {
        MId::from_raw(n).unwrap()
    }

    #[test]
    fn transfers_need_the_expected_owner_and_bump_the_generation() {
        let o = Ownership::new();
        assert_eq!(o.owner(), None);
        assert!(
            !o.transfer(Some(m(1)), Some(m(2))),
            "idle P: M1 cannot give it away"
        );
        assert!(o.transfer(None, Some(m(1))));
        assert!(o.is_owned_by(m(1)));
        assert!(
            !o.transfer(None, Some(m(2))),
            "owned P: not takeable as idle"
        );
        let seen = o.word();
        assert!(o.transfer(Some(m(1)), None));
        assert!(o.transfer(None, Some(m(1))));
        assert!(o.is_owned_by(m(1)));
        assert_ne!(o.word(), seen, "release + retake changes the word");
        assert!(
            !o.transfer_exact(seen, m(2)),
            "a stale word cannot hand off"
        );
        assert!(o.transfer_exact(o.word(), m(2)));
        assert!(o.is_owned_by(m(2)));
    }

    #[test]
    fn publish_as_only_publishes_for_the_owner() {
        let o = Ownership::new();
        assert!(o.transfer(None, Some(m(7))));
        let mut n = 0;
        assert_eq!(o.publish_as(m(8), || n += 1), Published::NotOwner);
        assert_eq!(n, 0);
        assert_eq!(o.publish_as(m(7), || n += 1), Published::Owned);
        assert_eq!(
            o.publish_as(m(7), || assert!(o.transfer(Some(m(7)), Some(m(9))))),
            Published::LostMeanwhile
        );
    }
}

/// Models of a retake racing the stuck M (run with
/// `RUSTFLAGS="--cfg loom" cargo test --lib --release loom`). The M's poll
/// count, the barriers and sysmon's retake are written as in machine.rs,
/// barrier.rs and sysmon.rs; under loom both barriers are `SeqCst` fences,
/// the guarantee `membarrier` gives.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::scheduler::barrier;
    use crate::sync::{AtomicUsize, dekker_point};
    use loom::sync::Arc;

    fn m0() -> MId {
        MId::nth(1)
    }
    fn m1() -> MId {
        MId::nth(2)
    }

    /// The stuck M's side: its poll count (odd inside a poll).
    struct StuckM {
        seq: AtomicU64,
    }

    impl StuckM {
        /// Inside poll number 1 (sysmon judged this one stuck).
        fn in_first_poll() -> StuckM {
            StuckM {
                seq: AtomicU64::new(1),
            }
        }

        /// machine.rs `run_task`, start of a poll.
        fn enter(&self) {
            let seq = self.seq.load(Ordering::Relaxed) + 1;
            self.seq.store(seq, Ordering::Release);
        }

        /// machine.rs `run_task`, end of a poll: true if it still owns `p`.
        fn leave(&self, p: &Ownership) -> bool {
            let seq = self.seq.load(Ordering::Relaxed) + 1;
            self.seq.store(seq, Ordering::Release);
            barrier::light();
            p.holds(m0())
        }
    }

    /// sysmon.rs `retake` (the `claim`), judged from word `seen` and poll 1.
    fn retake(p: &Ownership, m: &StuckM, seen: u64, to: MId) -> bool {
        let Some(reserved) = p.reserve(seen) else {
            return false;
        };
        let still_inside = barrier::heavy() && m.seq.load(Ordering::Acquire) == 1;
        p.resolve(reserved, if still_inside { to } else { m0() });
        still_inside
    }

    /// The P and the queues the model needs.
    struct World {
        p: Ownership,
        m: StuckM,
        /// P0's `runnext`: 1 while it holds the task.
        runnext: AtomicUsize,
        /// Tasks in the global queue.
        global: AtomicUsize,
        /// P0 is on the idle list.
        npidle: AtomicUsize,
        /// Some M was woken to take an idle P (`wakep` found one).
        woken: AtomicUsize,
        /// Times the task was run.
        ran: AtomicUsize,
    }

    impl World {
        fn wakep(&self) {
            // The waker's half of the idle protocol: work published, then
            // `npidle` read (SeqCst in the real code; see `dekker_point`).
            dekker_point();
            if self.npidle.load(Ordering::SeqCst) > 0 {
                self.woken.store(1, Ordering::SeqCst);
            }
        }

        /// An owner M's look for work: runnext, then the global queue.
        fn run_one(&self) -> bool {
            if self.runnext.swap(0, Ordering::SeqCst) == 1 {
                self.ran.fetch_add(1, Ordering::SeqCst);
                return true;
            }
            let g = self.global.load(Ordering::SeqCst);
            if g > 0
                && self
                    .global
                    .compare_exchange(g, g - 1, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
            {
                self.ran.fetch_add(1, Ordering::SeqCst);
                return true;
            }
            false
        }
    }

    /// M0 is stuck in a poll owning P0; its task wakes another task (the
    /// stuck code then waits for it), and its poll returns later. sysmon
    /// retakes P0 for M1, which runs what it finds and otherwise releases
    /// P0 and re-checks (release_p). Whatever the interleaving, the woken
    /// task runs exactly once or an M was woken for it: never stranded on
    /// an idle P.
    #[test]
    fn loom_handoff_vs_stuck_m_waking_a_task() {
        loom::model(|| {
            let w = Arc::new(World {
                p: Ownership::new(),
                m: StuckM::in_first_poll(),
                runnext: AtomicUsize::new(0),
                global: AtomicUsize::new(0),
                npidle: AtomicUsize::new(0),
                woken: AtomicUsize::new(0),
                ran: AtomicUsize::new(0),
            });
            assert!(w.p.transfer(None, Some(m0())));
            let seen = w.p.word();

            let stuck = {
                let w = w.clone();
                loom::thread::spawn(move || {
                    // schedule_local on the stuck M.
                    match w.p.publish_as(m0(), || {
                        w.runnext.swap(1, Ordering::SeqCst);
                    }) {
                        Published::NotOwner => {
                            w.global.fetch_add(1, Ordering::SeqCst);
                            w.wakep();
                        }
                        Published::Owned => {}
                        Published::LostMeanwhile => w.wakep(),
                    }
                    // The poll returns.
                    if w.m.leave(&w.p) {
                        w.run_one();
                    }
                })
            };

            // sysmon retakes P0 for M1, which runs it.
            if retake(&w.p, &w.m, seen, m1()) && !w.run_one() {
                // release_p: release, publish the idle P, re-check.
                assert!(w.p.transfer(Some(m1()), None));
                w.npidle.store(1, Ordering::SeqCst);
                dekker_point();
                let work =
                    w.runnext.load(Ordering::SeqCst) == 1 || w.global.load(Ordering::SeqCst) > 0;
                if work && w.p.transfer(None, Some(m1())) {
                    w.npidle.store(0, Ordering::SeqCst);
                    assert!(w.run_one(), "the re-check saw work");
                }
            }
            stuck.join().unwrap();

            let ran = w.ran.load(Ordering::SeqCst);
            let queued = w.runnext.load(Ordering::SeqCst) + w.global.load(Ordering::SeqCst);
            assert_eq!(ran + queued, 1, "the task is run or queued, once");
            if ran == 0 {
                assert_eq!(
                    w.woken.load(Ordering::SeqCst),
                    1,
                    "a queued task with P0 idle needs a woken M"
                );
                assert_eq!(w.p.owner(), None, "P0 idle while its work waits");
            }
        });
    }

    /// sysmon's whole retake — reserve, barrier, re-read the poll count,
    /// resolve — against the M leaving the judged poll, checking its
    /// ownership, running P0's next task and entering another poll (twice).
    /// Whatever the interleaving: no two Ms run P0's tasks at once, a
    /// hand-off happens only while the M is still inside the judged poll
    /// (and it learns so when that poll returns), and exactly one M owns P0
    /// at the end.
    #[test]
    fn loom_retake_vs_leaving_the_poll() {
        loom::model(|| {
            let p = Arc::new(Ownership::new());
            let m = Arc::new(StuckM::in_first_poll());
            // Ms using P0 (between an ownership check and the next poll).
            let inside = Arc::new(AtomicUsize::new(0));
            assert!(p.transfer(None, Some(m0())));
            let seen = p.word();

            let stuck_thread = {
                let (p, m, inside) = (p.clone(), m.clone(), inside.clone());
                loom::thread::spawn(move || {
                    for poll in 1..=2 {
                        if !m.leave(&p) {
                            return Some(poll); // lost P0 in this poll
                        }
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two Ms on P0");
                        inside.fetch_sub(1, Ordering::SeqCst);
                        m.enter();
                    }
                    None
                })
            };

            let handed = retake(&p, &m, seen, m1());
            if handed {
                assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two Ms on P0");
                inside.fetch_sub(1, Ordering::SeqCst);
            }
            let lost_in = stuck_thread.join().unwrap();

            assert_eq!(
                lost_in,
                handed.then_some(1),
                "taken only in the judged poll"
            );
            assert_eq!(p.owner(), Some(if handed { m1() } else { m0() }));
            assert!(!Ownership::is_reserved(p.word()));
        });
    }

    /// sysmon judged P0 stuck from a word it read earlier; meanwhile the
    /// owner left the poll, released P0 and took it back (its transfers
    /// wait out a reservation). The stale judgement never hands P0 off, the
    /// owner's transfers all succeed, and every change bumped the
    /// generation.
    #[test]
    fn loom_stale_retake_vs_release_and_retake() {
        loom::model(|| {
            let p = Arc::new(Ownership::new());
            let m = Arc::new(StuckM::in_first_poll());
            assert!(p.transfer(None, Some(m0())));
            let seen = p.word();
            let owner = {
                let (p, m) = (p.clone(), m.clone());
                loom::thread::spawn(move || {
                    let kept = m.leave(&p);
                    let released = p.transfer(Some(m0()), None);
                    let retaken = p.transfer(None, Some(m0()));
                    (kept, released, retaken)
                })
            };
            let handed = retake(&p, &m, seen, m1());
            let (kept, released, retaken) = owner.join().unwrap();
            if handed {
                // Taken inside the poll: the owner knew before releasing.
                assert!(!kept && !released && p.owner() == Some(m1()));
            } else {
                assert!(kept && released && retaken && p.owner() == Some(m0()));
            }
            assert!(!Ownership::is_reserved(p.word()));
        });
    }
}
