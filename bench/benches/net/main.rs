//! goro vs tokio as users deploy them: each server alone in its own
//! process, driven over loopback by a separate single-threaded epoll load
//! generator (the `loadgen` binary) — the headline network table in README.
//!
//! ```text
//! cargo bench -p goro-bench --bench net                       # all cases, 3 rounds (~4 min)
//! cargo bench -p goro-bench --bench net -- "1w c=500" --rounds 5
//! options: --rounds N  --warmup-ms MS  --measure-ms MS  --smol  --no-http  --only RUNTIME
//!          --fifo   (server, load generator and wrk under `chrt -f 50`: on a
//!                    machine shared with other work, keeps it from preempting
//!                    them; the kernel's real-time throttling, 50 ms a second
//!                    by default, then shows in every runtime's p99.9)
//!          --baseline PATH   (another server-goro build, run as column `base`:
//!                             before/after a change in one alternating run)
//! ```
//!
//! Placement: one worker with the server pinned to CPU 0 (`taskset -c 0`),
//! or two workers unpinned; the load generator is always pinned to CPU 1.
//! Echo cases: 50 and 500 connections × 64 B and 4 KiB ping-pong (each
//! connection sends a message and waits for the whole echo). HTTP: hyper
//! hello, `wrk -t1 -c100`, one worker pinned. Server CPU per message is
//! the server's threads' `/proc/PID/task/*/schedstat` time over the window
//! divided by the messages completed in it.
//!
//! Runtimes alternate within each round (goro first in even rounds, tokio
//! in odd ones); the table shows the median over rounds and the raw
//! goro/tokio ratio (below 1: goro lower — better for latency and CPU).
//!
//! Files: `cli.rs` (options), `run.rs` (processes and parsing), `table.rs`.

mod cli;
mod run;
mod table;

use cli::{Cfg, USAGE};
use goro_bench::sys;
use run::{Fields, Placement, Prio};
use std::time::{Duration, Instant};
use table::Samples;

const ONE_PINNED: Placement = Placement {
    workers: 1,
    pinned: true,
    prio: Prio::Normal,
    baseline: None,
};
const TWO_FREE: Placement = Placement {
    workers: 2,
    pinned: false,
    prio: Prio::Normal,
    baseline: None,
};
/// Connections of the HTTP case.
const HTTP_CONNS: usize = 100;

fn place_label(p: Placement) -> String {
    format!(
        "{}w {}",
        p.workers,
        if p.pinned { "pinned" } else { "unpinned" }
    )
}

fn size_label(size: usize) -> String {
    if size >= 1024 {
        format!("{}KiB", size / 1024)
    } else {
        format!("{size}B")
    }
}

/// One case of the table.
enum Case {
    Echo {
        place: Placement,
        conns: usize,
        size: usize,
    },
    Http {
        place: Placement,
        secs: u64,
    },
}

impl Case {
    fn label(&self) -> String {
        match self {
            Case::Echo { place, conns, size } => {
                format!(
                    "echo {} c={conns} {}",
                    place_label(*place),
                    size_label(*size)
                )
            }
            Case::Http { place, .. } => {
                format!("http {} wrk -t1 -c{HTTP_CONNS}", place_label(*place))
            }
        }
    }

    fn workers(&self) -> usize {
        match self {
            Case::Echo { place, .. } | Case::Http { place, .. } => place.workers,
        }
    }

    fn run(&self, runtime: &str, cfg: &Cfg) -> std::io::Result<Fields> {
        match *self {
            Case::Echo { place, conns, size } => {
                run::echo(runtime, place, conns, size, cfg.warmup, cfg.measure)
            }
            Case::Http { place, secs } => run::http(runtime, place, HTTP_CONNS, secs),
        }
    }
}

/// The `--baseline` binary, leaked: it lives as long as the run.
fn baseline(cfg: &Cfg) -> Option<&'static str> {
    cfg.baseline
        .clone()
        .map(|b| &*Box::leak(b.into_boxed_str()))
}

fn cases(cfg: &Cfg) -> Vec<Case> {
    let mut v = Vec::new();
    for place in [ONE_PINNED, TWO_FREE] {
        let place = Placement {
            prio: cfg.prio,
            baseline: baseline(cfg),
            ..place
        };
        for conns in [50, 500] {
            for size in [64, 4096] {
                v.push(Case::Echo { place, conns, size });
            }
        }
    }
    if cfg.http && run::have_wrk() {
        v.push(Case::Http {
            place: Placement {
                prio: cfg.prio,
                baseline: baseline(cfg),
                ..ONE_PINNED
            },
            secs: cfg.measure.as_secs().max(2),
        });
    } else if cfg.http {
        eprintln!("(wrk not found: no HTTP case; apt-get install wrk)");
    }
    v.retain(|c| cfg.wants(&c.label()));
    v
}

fn main() {
    let cfg = match Cfg::parse() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("net: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let cases = cases(&cfg);
    if cases.is_empty() {
        eprintln!("no case matches {:?}", cfg.filters);
        std::process::exit(2);
    }
    if sys::nproc() < 2 {
        eprintln!("net: needs 2 CPUs (server on CPU 0, load generator on CPU 1)");
        std::process::exit(2);
    }
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    println!("# goro vs tokio, servers in their own processes");
    println!();
    println!(
        "command: `cargo bench -p goro-bench --bench net{}{}`",
        if args.is_empty() { "" } else { " -- " },
        args.join(" ")
    );
    println!(
        "machine: {} CPUs, {}, Linux {}; load average at start: {}",
        sys::nproc(),
        sys::cpu_model(),
        sys::kernel(),
        sys::loadavg()
    );
    println!(
        "setup: {} rounds, {} ms warm-up + {} ms measured per run; medians over rounds{}",
        cfg.rounds,
        cfg.warmup.as_millis(),
        cfg.measure.as_millis(),
        match cfg.prio {
            Prio::Normal => "",
            Prio::Fifo => "; every process under SCHED_FIFO (chrt -f 50)",
        }
    );
    println!();
    let t0 = Instant::now();
    let mut samples: Vec<Samples> = cases.iter().map(|_| Samples::default()).collect();
    for round in 0..cfg.rounds {
        eprintln!("round {}/{}", round + 1, cfg.rounds);
        for (case, s) in cases.iter().zip(&mut samples) {
            for rt in cfg.runtimes(case.workers(), round) {
                match case.run(rt, &cfg) {
                    Ok(f) => {
                        eprintln!("  {} {rt}: {}", case.label(), table::brief(&f));
                        s.push(rt, round, f);
                    }
                    Err(e) => eprintln!("  {} {rt}: ERROR {e}", case.label()),
                }
                // Let TIME_WAIT and the server's exit settle.
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
    let labels: Vec<String> = cases.iter().map(Case::label).collect();
    table::print(&labels, &samples, &cfg.columns());
    println!();
    println!(
        "goro/tokio = ratio of the medians (below 1 = goro lower); per round: the goro/tokio \
         ratios of runs made back to back in one round — their median with its 95% confidence \
         interval (distribution-free, 6 rounds or more), their range, and in how many rounds \
         goro did better. load average at end: {}; total {:.0} s",
        sys::loadavg(),
        t0.elapsed().as_secs_f64()
    );
}
