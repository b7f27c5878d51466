//! The process's descriptor table, grown once before the first runtime's
//! threads start.
//!
//! Linux keeps a process's open files in one table that it grows by
//! doubling (to 256, 512, 1024, … slots) when a new descriptor does not
//! fit. While more than one thread shares the table, every growth waits
//! for an RCU grace period — 5–35 ms measured on a 2-core VM — inside the `accept`,
//! `socket` or `open` that needed the room. In a runtime that thread is a
//! worker, so a server taking a burst of connections would stall its
//! worker at the 256th, 512th, 1024th… descriptor, and sysmon would hand
//! its queue to another thread each time (`examples/accept_burst.rs` in
//! the benchmark crate measures it).
//!
//! [`reserve`] grows the table up front to [`RESERVED_SLOTS`] slots (or
//! the soft `RLIMIT_NOFILE`, if lower): it duplicates a descriptor to the
//! last reserved number and closes the copy, which leaves the table at
//! that size (Linux never shrinks it). The first runtime does it before it
//! spawns a thread, so in a program that builds its runtime from `main`
//! the table is still private and the growth costs no grace period at all
//! (if other threads exist already, it costs one, once, at build).
//! It costs 8 bytes of kernel memory per slot (64 KiB for 8192).
//!
//! Invariants: it runs at most once per process; it never leaves a
//! descriptor open; it is best effort — a limit or error leaves the table
//! as it was and is not reported.

use std::os::fd::RawFd;
use std::sync::Once;

/// Slots reserved up front: past this many descriptors a server pays for
/// a few more doublings, each amortised over thousands of connections.
pub(crate) const RESERVED_SLOTS: usize = 8192;

/// Grows the descriptor table to [`RESERVED_SLOTS`] (capped by the soft
/// descriptor limit) the first time it is called in this process, using
/// `fd` (any open descriptor) as the one to duplicate. See the module docs.
pub(crate) fn reserve(fd: RawFd) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| grow_to(fd, RESERVED_SLOTS.min(soft_limit())));
}

/// The soft `RLIMIT_NOFILE` (0 if it cannot be read).
fn soft_limit() -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit for the call to fill.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 0;
    }
    usize::try_from(lim.rlim_cur).unwrap_or(usize::MAX)
}

/// Makes room for descriptor `slots - 1`: duplicates `fd` to the lowest
/// free number at or above it, then closes the copy.
fn grow_to(fd: RawFd, slots: usize) {
    let Ok(last) = libc::c_int::try_from(slots.saturating_sub(1)) else {
        return;
    };
    if last < 64 {
        // Every table starts with 64 slots.
        return;
    }
    // SAFETY: F_DUPFD_CLOEXEC on a descriptor the caller keeps open only
    // creates a new descriptor; it touches no memory of ours.
    let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, last) };
    if copy >= 0 {
        // SAFETY: `copy` was just created here and nothing else knows it.
        unsafe { libc::close(copy) };
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    /// The `FDSize` line of /proc/self/status: the table's current slots.
    fn table_slots() -> usize {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("FDSize:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap()
    }

    #[test]
    fn grow_to_leaves_the_table_at_least_that_big_and_no_descriptor_open() {
        let file = std::fs::File::open("/proc/self/status").unwrap();
        let slots = (table_slots() * 2).min(soft_limit());
        if slots <= table_slots() {
            return; // the soft limit leaves no room to grow
        }
        grow_to(file.as_raw_fd(), slots);
        assert!(table_slots() >= slots, "{} < {slots}", table_slots());
        let last = libc::c_int::try_from(slots - 1).unwrap();
        // SAFETY: F_GETFD only reads the descriptor's flags.
        let open = unsafe { libc::fcntl(last, libc::F_GETFD) };
        assert_eq!(open, -1, "descriptor {last} was left open");
    }
}
