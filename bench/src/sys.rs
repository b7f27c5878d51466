//! Machine facts and small OS helpers: CPU model, load, resident memory,
//! the open-file limit, `SO_LINGER`.

use std::fs;
use std::io;
use std::net::TcpStream;
use std::os::fd::AsRawFd;

/// Number of CPUs this process may use.
pub fn nproc() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The first `model name` in /proc/cpuinfo.
pub fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

/// The kernel release.
pub fn kernel() -> String {
    fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string())
}

/// The 1/5/15-minute load averages, as printed by /proc/loadavg.
pub fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".to_string())
}

/// Total memory in MiB.
pub fn mem_total_mib() -> u64 {
    fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

/// This process's resident set size in KiB (VmRSS).
pub fn vmrss_kib() -> u64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap_or(0)
}

/// Raises the soft RLIMIT_NOFILE towards `want` (capped by the hard
/// limit) and returns the resulting soft limit.
pub fn raise_nofile(want: u64) -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable `rlimit` for getrlimit to fill.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 1024;
    }
    let target = want.min(lim.rlim_max);
    if target > lim.rlim_cur {
        let new = libc::rlimit {
            rlim_cur: target,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: `new` is a valid `rlimit`; setrlimit only reads it.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &new) } == 0 {
            return target;
        }
    }
    lim.rlim_cur
}

/// Makes `close` send a RST instead of a FIN (`SO_LINGER` with a zero
/// timeout), so client sockets leave no TIME_WAIT entries behind and the
/// ephemeral port range survives a whole benchmark run.
pub fn set_linger_zero(stream: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: the fd is owned by `stream` and open for the duration of the
    // call; the option value points to a live `linger` of the size passed.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

/// CPU time and context switches spent so far by this process's runtime
/// threads (those named `goro-*`, `tokio-*` or `smol-*`), read from
/// `/proc/self/task/*/schedstat` (nanoseconds on CPU) and `status`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ThreadUsage {
    /// Nanoseconds on CPU.
    pub cpu_ns: u64,
    /// Voluntary plus involuntary context switches.
    pub switches: u64,
}

/// Sums [`ThreadUsage`] over the runtime threads alive now.
pub fn runtime_threads_usage() -> ThreadUsage {
    let mut total = ThreadUsage::default();
    let Ok(dir) = fs::read_dir("/proc/self/task") else {
        return total;
    };
    for task in dir.flatten() {
        let p = task.path();
        let comm = fs::read_to_string(p.join("comm")).unwrap_or_default();
        if !["goro-", "tokio-", "smol-"]
            .iter()
            .any(|pre| comm.starts_with(pre))
        {
            continue;
        }
        if let Some(ns) = fs::read_to_string(p.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        {
            total.cpu_ns += ns;
        }
        if let Ok(status) = fs::read_to_string(p.join("status")) {
            total.switches += status
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
                .sum::<u64>();
        }
    }
    total
}

/// CPU time (nanoseconds) spent so far by every thread of process `pid`,
/// summed from `/proc/PID/task/*/schedstat`. Threads that already exited
/// are not counted (the servers measured keep theirs).
pub fn process_cpu_ns(pid: u32) -> io::Result<u64> {
    let mut total = 0;
    for task in fs::read_dir(format!("/proc/{pid}/task"))?.flatten() {
        if let Some(ns) = fs::read_to_string(task.path().join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        {
            total += ns;
        }
    }
    Ok(total)
}
