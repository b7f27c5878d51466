//! Facts about this test process that tests assert on (open fds, CPU time),
//! and a lock for the tests that measure them: such tests run one at a time
//! within their binary, or each would see the others' sockets and CPU.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// How many fds this process has open.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .count()
}

/// CPU time this process has used (user + system, all threads).
pub fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer for clock_gettime.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Holds the binary's one-at-a-time lock: tests that count fds or measure
/// process CPU time take it first. A test that failed while holding it does
/// not block the others (the poison is ignored).
pub fn one_at_a_time() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}
