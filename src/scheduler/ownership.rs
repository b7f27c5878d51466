//! Who owns a P: one word per P, changed only by compare-and-swap — except
//! by its owner entering a task's poll, see below.
//!
//! The word packs a generation (high 32 bits), an **in-poll** bit (bit 31:
//! the owner is inside a task's `poll`, Go's `_Psyscall`) and the owning
//! M's id (low 31 bits; 0 while the P is idle). Every change of owner — an
//! M taking an idle P, releasing it, sysmon handing it from a stuck M to
//! another — goes through [`Ownership::transfer`] (CAS from the expected
//! owner) or [`Ownership::transfer_exact`] (CAS from an exact word seen
//! earlier), and bumps the generation. So:
//!
//! - **exactly one M owns a P at a time**: two Ms racing for the same P
//!   cannot both win the CAS;
//! - **no ABA**: sysmon, which judges a P stuck from a word it read some
//!   time ago, hands it off only if nothing changed since — an M that
//!   released and took the P back, or finished that poll and started
//!   another, has a new generation.
//!
//! # Entering and leaving a poll (Go's `entersyscall` / `exitsyscall`)
//!
//! Before each task poll the owner M stores the word with a new generation
//! and the in-poll bit set ([`Ownership::enter_poll`]): a plain store, as
//! nobody else may change an owned word without the bit. After the poll it
//! clears the bit with a CAS from exactly that word
//! ([`Ownership::leave_poll`]). sysmon takes a P only by a CAS from an
//! in-poll word it saw unchanged for `handoff_after` (Go's `retake`:
//! `_Psyscall` → `_Pidle`). Both CASes start from the same word, so exactly
//! one wins:
//!
//! - the M's wins: the poll was over before any hand-off; the M keeps the P
//!   and sysmon's CAS fails (the word changed), so no hand-off is made or
//!   counted;
//! - sysmon's wins: the M was still inside that very poll (a later poll
//!   has another generation); the M's CAS fails, and it touches nothing of
//!   the P afterwards.
//!
//! This is the one locked instruction per task poll; it costs little next
//! to a poll (README, "Scheduler"), and is what makes the guarantee exact
//! rather than a matter of timing.
//!
//! # The stuck M
//!
//! An M whose P was taken learns it when its `leave_poll` fails, or when it
//! checks the word at the top of its loop (the P may also have been given
//! away by `block_in_place`); it then lists itself idle and takes an idle P
//! or parks, as a spare. While its poll is still running, its task may wake
//! or spawn tasks; that goes through [`Ownership::publish_as`]: the task
//! goes on the P only if the M owns it, and the word is read again after
//! publishing. If the P was taken in between, the caller wakes an M
//! (`wakep`) — the new owner may already have looked and released the P —
//! so the task is never stranded on an idle P. This is the Dekker pattern
//! of the idle protocol (idle.rs): the pusher writes the queue then reads
//! the word; an M that takes or releases the P writes the word then reads
//! the queues (SeqCst on both sides). As a last resort sysmon also wakes an
//! M for any idle P whose queues hold tasks (sysmon.rs).

use crate::sync::{AtomicU64, Ordering, dekker_point};

/// Bits of the word holding the owner's M id.
const ID_MASK: u64 = 0x7fff_ffff;
/// The owner is inside a task's poll (sysmon may take the P).
const IN_POLL: u64 = 1 << 31;

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

    /// The owner's M id in `word` (0: idle).
    pub(crate) fn owner_of(word: u64) -> u64 {
        word & ID_MASK
    }

    /// True if `word` says its owner is inside a task's poll.
    pub(crate) fn in_poll(word: u64) -> bool {
        word & IN_POLL != 0
    }

    /// The owner M is about to poll a task: marks the word in-poll, with a
    /// new generation (each poll has its own word). Only the owner calls
    /// this, between polls, when nobody else may change the word (sysmon
    /// takes only in-poll words; an owned P is never taken as idle), so a
    /// store suffices. Returns the word for [`leave_poll`](Self::leave_poll).
    pub(crate) fn enter_poll(&self) -> u64 {
        // The owner's own last write: no other thread changed it since.
        let cur = self.word.load(Ordering::Relaxed);
        debug_assert!(!Self::in_poll(cur) && Self::owner_of(cur) != 0);
        let entered = Self::next(cur, cur) | IN_POLL;
        // Release: whoever takes the P from this word (sysmon's CAS) sees
        // everything the owner did to the P before the poll.
        self.word.store(entered, Ordering::Release);
        entered
    }

    /// The poll entered with `entered` returned: clears the in-poll bit if
    /// the word is still `entered`. False if sysmon took the P meanwhile
    /// (or the poll gave it away, `block_in_place`): the caller no longer
    /// owns it and must not touch it.
    pub(crate) fn leave_poll(&self, entered: u64) -> bool {
        self.word
            .compare_exchange(
                entered,
                entered & !IN_POLL,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }

    /// The owning M's id right now (0: idle).
    #[cfg(test)]
    pub(crate) fn owner(&self) -> u64 {
        Self::owner_of(self.word())
    }

    /// True if `word` says M `m` owns the P.
    pub(crate) fn owned_by(word: u64, m: u64) -> bool {
        Self::owner_of(word) == m & ID_MASK
    }

    /// True if M `m` owns the P right now.
    pub(crate) fn is_owned_by(&self, m: u64) -> bool {
        Self::owned_by(self.word(), m)
    }

    /// Moves the P from M `from` (0: idle) to M `to` (0: idle), if `from`
    /// owns it. Returns false if it does not.
    pub(crate) fn transfer(&self, from: u64, to: u64) -> bool {
        let mut cur = self.word();
        while Self::owner_of(cur) == from & ID_MASK {
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
    /// took or handed it off since).
    pub(crate) fn transfer_exact(&self, seen: u64, to: u64) -> bool {
        self.word
            .compare_exchange(
                seen,
                Self::next(seen, to),
                Ordering::SeqCst,
                Ordering::SeqCst,
            )
            .is_ok()
    }

    /// Runs `publish` (putting work on this P) only if M `m` owns the P,
    /// then checks it still does; see the module docs.
    pub(crate) fn publish_as(&self, m: u64, publish: impl FnOnce()) -> Published {
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

    /// `cur` with the next generation, owned by `to`, not in a poll.
    fn next(cur: u64, to: u64) -> u64 {
        ((cur >> 32).wrapping_add(1) << 32) | (to & ID_MASK)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn transfers_need_the_expected_owner_and_bump_the_generation() {
        let o = Ownership::new();
        assert_eq!(o.owner(), 0);
        assert!(!o.transfer(1, 2), "idle P: M1 cannot give it away");
        assert!(o.transfer(0, 1));
        assert!(o.is_owned_by(1));
        assert!(!o.transfer(0, 2), "owned P: not takeable as idle");
        let seen = o.word();
        assert!(o.transfer(1, 0));
        assert!(o.transfer(0, 1));
        assert!(o.is_owned_by(1));
        assert_ne!(o.word(), seen, "release + retake changes the word");
        assert!(!o.transfer_exact(seen, 2), "a stale word cannot hand off");
        assert!(o.transfer_exact(o.word(), 2));
        assert!(o.is_owned_by(2));
    }

    #[test]
    fn publish_as_only_publishes_for_the_owner() {
        let o = Ownership::new();
        assert!(o.transfer(0, 7));
        let mut n = 0;
        assert_eq!(o.publish_as(8, || n += 1), Published::NotOwner);
        assert_eq!(n, 0);
        assert_eq!(o.publish_as(7, || n += 1), Published::Owned);
        assert_eq!(
            o.publish_as(7, || assert!(o.transfer(7, 9))),
            Published::LostMeanwhile
        );
    }
}

/// Models of a hand-off racing the stuck M (run with
/// `RUSTFLAGS="--cfg loom" cargo test --lib --release loom`).
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::sync::{AtomicUsize, dekker_point};
    use loom::sync::Arc;

    const M0: u64 = 1;
    const M1: u64 = 2;

    /// The P and the queues the model needs.
    struct World {
        p: Ownership,
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
    /// hands P0 to M1, which runs what it finds and otherwise releases P0
    /// and re-checks (release_p). Whatever the interleaving, the woken task
    /// runs exactly once or an M was woken for it: never stranded on an
    /// idle P.
    #[test]
    fn loom_handoff_vs_stuck_m_waking_a_task() {
        loom::model(|| {
            let w = Arc::new(World {
                p: Ownership::new(),
                runnext: AtomicUsize::new(0),
                global: AtomicUsize::new(0),
                npidle: AtomicUsize::new(0),
                woken: AtomicUsize::new(0),
                ran: AtomicUsize::new(0),
            });
            assert!(w.p.transfer(0, M0));
            let entered = w.p.enter_poll();

            let stuck = {
                let w = w.clone();
                loom::thread::spawn(move || {
                    // schedule_local on the stuck M.
                    match w.p.publish_as(M0, || {
                        w.runnext.swap(1, Ordering::SeqCst);
                    }) {
                        Published::NotOwner => {
                            w.global.fetch_add(1, Ordering::SeqCst);
                            w.wakep();
                        }
                        Published::Owned => {}
                        Published::LostMeanwhile => w.wakep(),
                    }
                    // The poll returns: leave_poll, then the loop-top check.
                    if w.p.leave_poll(entered) && w.p.is_owned_by(M0) {
                        w.run_one();
                    }
                })
            };

            // sysmon hands P0 over; M1 runs it.
            let seen = w.p.word();
            if Ownership::in_poll(seen) && w.p.transfer_exact(seen, M1) && !w.run_one() {
                // release_p: release, publish the idle P, re-check.
                assert!(w.p.transfer(M1, 0));
                w.npidle.store(1, Ordering::SeqCst);
                dekker_point();
                let work =
                    w.runnext.load(Ordering::SeqCst) == 1 || w.global.load(Ordering::SeqCst) > 0;
                if work && w.p.transfer(0, M1) {
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
                assert_eq!(w.p.owner(), 0, "P0 idle while its work waits");
            }
        });
    }

    /// sysmon judged P0 stuck from a word it read earlier; meanwhile the
    /// owner released P0 and took it back (or another M took it). The
    /// hand-off succeeds only from the exact word, so at the end exactly
    /// one M owns P0 and every successful change bumped the generation.
    #[test]
    fn loom_handoff_vs_release_and_retake() {
        loom::model(|| {
            let p = Arc::new(Ownership::new());
            assert!(p.transfer(0, M0));
            let start = p.word();
            let owner = {
                let p = p.clone();
                loom::thread::spawn(move || {
                    let released = p.transfer(M0, 0);
                    let retaken = p.transfer(0, M0);
                    (released, retaken)
                })
            };
            // (block_in_place's hand-off: from any word owned by M0.)
            let seen = p.word();
            let handed = Ownership::owner_of(seen) == M0 && p.transfer_exact(seen, M1);
            let (released, retaken) = owner.join().unwrap();

            let changes = [released, retaken, handed].iter().filter(|&&b| b).count() as u64;
            assert_eq!((p.word() >> 32) - (start >> 32), changes);
            match p.owner() {
                M1 => assert!(handed),
                M0 => assert!(retaken && !handed || !released && !handed),
                0 => assert!(released && !retaken && !handed),
                other => panic!("unknown owner {other}"),
            }
            if handed {
                // Handed off from the retaken word, or before the release
                // (which then failed).
                assert!(retaken || !released);
            }
        });
    }

    /// sysmon's whole retake — judge the P stuck from two looks at its
    /// word (the same in-poll word a threshold apart), then CAS — against
    /// the M leaving that poll, running P0's next task and entering another
    /// poll (twice). Whatever the interleaving: no two Ms run P0's tasks at
    /// once, a hand-off happens only while the M is still inside the poll
    /// sysmon judged (its `leave_poll` of that poll fails), and exactly one
    /// M owns P0 at the end.
    #[test]
    fn loom_retake_judgement_vs_leaving_the_poll() {
        loom::model(|| {
            let p = Arc::new(Ownership::new());
            // Ms inside P0's critical section: between a successful
            // leave_poll (or a hand-off) and the next enter_poll.
            let inside = Arc::new(AtomicUsize::new(0));
            assert!(p.transfer(0, M0));
            let judged = p.enter_poll();

            let m0 = {
                let (p, inside) = (p.clone(), inside.clone());
                loom::thread::spawn(move || {
                    let mut entered = judged;
                    for poll in 0..2 {
                        if !p.leave_poll(entered) {
                            return Some(poll); // lost P0 after this poll
                        }
                        // The loop-top check, find_work, the next poll.
                        assert!(p.is_owned_by(M0));
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two Ms on P0");
                        inside.fetch_sub(1, Ordering::SeqCst);
                        entered = p.enter_poll();
                    }
                    None
                })
            };

            // sysmon: the word it saw a threshold ago was `judged`.
            let now = p.word();
            let handed = now == judged && Ownership::in_poll(now) && p.transfer_exact(now, M1);
            if handed {
                // M1 runs P0.
                assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two Ms on P0");
                inside.fetch_sub(1, Ordering::SeqCst);
            }
            let lost_after = m0.join().unwrap();

            // A hand-off takes P0 from the judged poll, never a later one,
            // and the M learns it from that poll's leave_poll.
            assert_eq!(lost_after, handed.then_some(0));
            assert_eq!(p.owner(), if handed { M1 } else { M0 });
        });
    }
}
