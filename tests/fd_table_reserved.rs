//! The first runtime grows the process's descriptor table before its
//! threads start, so a server accepting its 256th, 512th, 1024th…
//! connection does not wait inside `accept` for the kernel to grow the
//! table (an RCU grace period per doubling once threads share it).

/// The `FDSize` line of /proc/self/status: the table's current slots.
fn table_slots() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("FDSize:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

fn soft_fd_limit() -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit for the call to fill.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    usize::try_from(lim.rlim_cur).unwrap_or(usize::MAX)
}

#[test]
fn first_runtime_grows_the_descriptor_table_and_leaves_no_descriptor_open() {
    let want = 8192.min(soft_fd_limit());
    let before = table_slots();
    if before >= want {
        eprintln!("the table already has {before} slots (limit {want}): nothing to check");
        return;
    }
    let open_before = std::fs::read_dir("/proc/self/fd").unwrap().count();
    let rt = goro::runtime::Builder::new()
        .worker_threads(1)
        .build()
        .unwrap();
    let after = table_slots();
    assert!(after >= want, "table has {after} slots, want {want}");
    drop(rt);
    // The runtime's own descriptors are gone with it; the reservation
    // left none behind.
    let open_after = std::fs::read_dir("/proc/self/fd").unwrap().count();
    assert_eq!(open_after, open_before);
    // It happens once: a second runtime leaves the table as it is.
    let rt = goro::runtime::Runtime::new().unwrap();
    assert_eq!(table_slots(), after);
    drop(rt);
}
