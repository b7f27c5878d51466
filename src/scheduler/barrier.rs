//! The asymmetric fence between an M leaving a task's poll and sysmon
//! retaking its P.
//!
//! Both sides form a store-then-load pattern (Dekker): the M stores "my
//! poll is over", then loads the P's owner word; sysmon stores "P reserved"
//! (a CAS on the owner word), then loads the M's poll counter. At least one
//! must see the other's store, which needs a full fence on *both* sides.
//! The M runs this after every task poll, sysmon only when it is about to
//! retake a P, so the cost goes to sysmon's side, as Go's and liburcu's
//! asymmetric fences do:
//!
//! - [`light`], on the M: a compiler fence only (keeps the store before the
//!   load in the emitted code; no instruction);
//! - [`heavy`], on sysmon: `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`,
//!   which makes every running thread of the process execute a full memory
//!   barrier before it returns. For each M this splits its instructions at
//!   one point: everything before is visible to sysmon afterwards, and every
//!   load after it sees sysmon's earlier stores.
//!
//! The process registers for the expedited command once ([`init`], before
//! any M starts). If the kernel refuses (older than 4.14, or a seccomp
//! filter), both sides use a `SeqCst` fence instead — a locked instruction
//! per poll, but still correct. The choice is made once per process and
//! never changes, so the two sides always agree. Should a registered
//! `membarrier` call ever fail, [`heavy`] says so and sysmon gives the P
//! back instead of retaking it.
//!
//! Under `--cfg loom` both are `SeqCst` fences: that is the guarantee
//! `membarrier` gives, and what the models in ownership.rs check.

#[cfg(not(loom))]
use std::sync::atomic::{AtomicBool, Ordering, compiler_fence, fence};

/// The process registered for expedited private membarriers. Set once by
/// [`init`] before any M exists (thread creation orders it before their
/// loads), never changed.
#[cfg(not(loom))]
static ASYMMETRIC: AtomicBool = AtomicBool::new(false);

#[cfg(all(not(loom), target_os = "linux"))]
const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
#[cfg(all(not(loom), target_os = "linux"))]
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

#[cfg(all(not(loom), target_os = "linux"))]
fn membarrier(cmd: libc::c_long) -> bool {
    // SAFETY: membarrier takes two integers (command, flags) and touches no
    // memory of ours; an unknown command fails with EINVAL.
    unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0 as libc::c_long) == 0 }
}

/// Chooses the fences for this process (registers for membarrier), once.
/// Call before starting any M.
pub(crate) fn init() {
    #[cfg(all(not(loom), target_os = "linux"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            let ok = membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED);
            ASYMMETRIC.store(ok, Ordering::SeqCst);
        });
    }
}

/// True if the Ms use [`light`]'s compiler fence (membarrier registered).
#[cfg(not(loom))]
pub(crate) fn is_asymmetric() -> bool {
    ASYMMETRIC.load(Ordering::Relaxed)
}

/// The M's side, after its poll-counter store and before its owner load.
#[inline(always)]
pub(crate) fn light() {
    #[cfg(not(loom))]
    if is_asymmetric() {
        compiler_fence(Ordering::SeqCst);
    } else {
        fence(Ordering::SeqCst);
    }
    #[cfg(loom)]
    crate::sync::fence(crate::sync::Ordering::SeqCst);
}

/// sysmon's side, after its reserving CAS and before it reads the M's poll
/// counter. False if the barrier could not be made (membarrier failed
/// although registered): the caller must then assume the M saw nothing and
/// back off.
#[must_use]
pub(crate) fn heavy() -> bool {
    #[cfg(not(loom))]
    {
        if !is_asymmetric() {
            fence(Ordering::SeqCst);
            return true;
        }
        #[cfg(target_os = "linux")]
        return membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED);
        #[cfg(not(target_os = "linux"))]
        return false;
    }
    #[cfg(loom)]
    {
        crate::sync::fence(crate::sync::Ordering::SeqCst);
        true
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn sysmon_side_barrier_succeeds_in_the_chosen_mode() {
        init();
        eprintln!("membarrier registered: {}", is_asymmetric());
        for _ in 0..3 {
            assert!(heavy());
        }
        light();
    }
}
