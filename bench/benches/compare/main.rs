//! goro vs tokio (and smol), in the same process invocation.
//!
//! ```text
//! cargo bench -p goro-bench --bench compare                   # everything (a few minutes)
//! cargo bench -p goro-bench --bench compare -- tcp_echo timers  # scenarios whose name contains a filter
//! cargo bench -p goro-bench --bench compare -- --quick          # smaller workloads: a smoke run
//! options: --quick  --no-smol  --reps N  --list
//!          --only goro|tokio|smol   (one runtime alone, e.g. under a profiler)
//! ```
//!
//! Every scenario runs on each runtime with 2 worker threads (tokio's
//! multi-thread runtime, goro's `worker_threads(2)`, smol's executor on 2
//! threads; `GORO_COMPARE_WORKERS=N` sets another count), alternating runtimes within each repetition; the table shows
//! the median over repetitions and the goro/tokio ratio, oriented so that
//! **a ratio above 1 means goro did better** (throughput ratio, or the
//! inverse ratio of times and latencies).
//!
//! The network scenarios drive each runtime's server with the same client:
//! OS threads with blocking std sockets (`bench/src/client.rs`), or `wrk` for
//! HTTP when it is installed. `idle_conns` runs each server in a child
//! process (this binary re-executed with `GORO_COMPARE_CHILD` set) so the
//! resident-memory figures do not pollute each other.
//!
//! Files: `cli.rs` (options), `harness.rs` (watchdog, alternating runs),
//! `stats.rs` (medians, rows, the table), `scenarios/` (what is measured).

#[macro_use]
mod harness;
mod cli;
mod scenarios;
mod stats;

use cli::Cfg;
use goro_bench::rt::{Goro, Smol, Tokio};
use goro_bench::sys;
use scenarios::{SCENARIOS, idle_child};
use std::env;
use std::time::Instant;

/// Worker threads of every runtime under test: 2, or the positive number
/// in `GORO_COMPARE_WORKERS`.
fn workers() -> usize {
    static N: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *N.get_or_init(|| {
        env::var("GORO_COMPARE_WORKERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|&n| n > 0)
            .unwrap_or(2)
    })
}
/// Client threads driving the echo and fallback HTTP loads.
const CLIENT_THREADS: usize = 4;
/// Environment variable that turns this binary into an idle-connection
/// server child (`idle:goro`, `idle:tokio`, `idle:smol`).
const CHILD_ENV: &str = "GORO_COMPARE_CHILD";

fn main() {
    if let Ok(spec) = env::var(CHILD_ENV) {
        match spec.as_str() {
            "idle:goro" => idle_child::<Goro>(),
            "idle:tokio" => idle_child::<Tokio>(),
            "idle:smol" => idle_child::<Smol>(),
            other => {
                eprintln!("unknown {CHILD_ENV}={other}");
                std::process::exit(2);
            }
        }
        return;
    }
    let cfg = match Cfg::parse() {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "compare: {e}\nusage: cargo bench -p goro-bench --bench compare -- [--quick] [--no-smol] [--reps N] [--only RUNTIME] [--list] [SCENARIO-SUBSTRING...]"
            );
            std::process::exit(2);
        }
    };
    let args: Vec<String> = env::args().skip(1).filter(|a| a != "--bench").collect();
    let command = if args.is_empty() {
        "cargo bench -p goro-bench --bench compare".to_string()
    } else {
        format!(
            "cargo bench -p goro-bench --bench compare -- {}",
            args.join(" ")
        )
    };
    let load_start = sys::loadavg();
    println!(
        "# goro vs tokio{}",
        if cfg.runs("smol") { " (and smol)" } else { "" }
    );
    println!();
    println!("command: `{command}`");
    println!(
        "machine: {} CPUs (nproc), {}, {} MiB RAM, Linux {}",
        sys::nproc(),
        sys::cpu_model(),
        sys::mem_total_mib(),
        sys::kernel()
    );
    println!(
        "setup: {} worker threads per runtime; median of the repetitions; \
         {CLIENT_THREADS} client threads for tcp_echo; {}",
        workers(),
        if cfg.quick {
            "--quick workloads"
        } else {
            "full workloads"
        }
    );
    println!("load average at start: {load_start}");
    println!();
    harness::start_watchdog();
    let t0 = Instant::now();
    let mut rows = Vec::new();
    for (name, run) in SCENARIOS {
        if !cfg.wants(name) {
            continue;
        }
        eprintln!("running {name} ...");
        let t = Instant::now();
        rows.extend(run(&cfg));
        eprintln!("  ({name}: {:.1} s)", t.elapsed().as_secs_f64());
    }
    if rows.is_empty() {
        eprintln!("no scenario matches {:?}; try --list", cfg.filters);
        std::process::exit(2);
    }
    stats::print_table(&rows, cfg.runs("smol"));
    println!();
    println!(
        "ratio = goro/tokio for ↑ rows (higher is better), tokio/goro for ↓ rows: > 1 means goro did better."
    );
    println!(
        "load average at end: {}; total {:.0} s",
        sys::loadavg(),
        t0.elapsed().as_secs_f64()
    );
    let losses: Vec<String> = rows
        .iter()
        .filter_map(|r| {
            let x = r.ratio()?;
            (x < 0.9).then(|| format!("{} ({x:.2}x)", r.name))
        })
        .collect();
    if !losses.is_empty() {
        println!("goro behind tokio by more than 10%: {}", losses.join("; "));
    }
}
