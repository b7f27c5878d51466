//! How much memory a runtime gives back: spawn 1,000,000 tasks that each
//! sleep an hour (from inside a task, so they are allocated on worker
//! threads), drop the runtime, and print resident memory and malloc's view
//! (`mallinfo2`: bytes in use vs free in its arenas) at each step, then
//! after `malloc_trim(0)`.
//!
//! ```text
//! cargo run --release -p goro-bench --bin rss_after_drop -- goro|tokio [WORKERS] [TASKS]
//! ```
//!
//! With `MALLOC_STATS` set it ends with glibc's per-arena statistics.
//!
//! "In fastbins" is freed memory glibc keeps in its fastbins (chunks of
//! up to 128 bytes): those are not merged with their neighbours, so an arena
//! whose top is covered by them cannot shrink until something consolidates
//! it (a free of 64 KiB or more in that arena, or `malloc_trim`).

use goro_bench::rt::{Goro, Rt, Tokio};
use goro_bench::sys::vmrss_kib;
use std::time::Duration;

fn report(step: &str) {
    // SAFETY: mallinfo2 only reads the allocator's statistics.
    let mi = unsafe { libc::mallinfo2() };
    println!(
        "{step:<28} RSS {:>8.1} MiB | malloc in use {:>8.1} MiB, free in arenas {:>8.1} MiB \
         (in fastbins {:>6.1} MiB), mmapped {:>6.1} MiB",
        vmrss_kib() as f64 / 1024.0,
        mi.uordblks as f64 / 1048576.0,
        mi.fordblks as f64 / 1048576.0,
        mi.fsmblks as f64 / 1048576.0,
        mi.hblkhd as f64 / 1048576.0,
    );
}

fn run<R: Rt>(workers: usize, tasks: usize) {
    report("start");
    {
        let rt = R::new(workers);
        rt.block_on(rt.spawn_remote(async move {
            for _ in 0..tasks {
                R::spawn_detached(R::sleep(Duration::from_secs(3600)));
            }
        }));
        // Let every task run once and register its timer.
        std::thread::sleep(Duration::from_millis(1500));
        report(&format!("{tasks} sleeping tasks"));
    }
    report("runtime dropped");
    std::thread::sleep(Duration::from_millis(200));
    report("200 ms later");
    // SAFETY: malloc_trim has no preconditions.
    unsafe { libc::malloc_trim(0) };
    report("after malloc_trim(0)");
    if std::env::var_os("MALLOC_STATS").is_some() {
        // SAFETY: malloc_stats only prints the allocator's per-arena
        // statistics to stderr.
        unsafe { libc::malloc_stats() };
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_default();
    let workers = args.next().and_then(|v| v.parse().ok()).unwrap_or(2);
    let tasks = args
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    match which.as_str() {
        "goro" => run::<Goro>(workers, tasks),
        "tokio" => run::<Tokio>(workers, tasks),
        _ => {
            eprintln!("usage: rss_after_drop goro|tokio [WORKERS] [TASKS]");
            std::process::exit(2);
        }
    }
}
