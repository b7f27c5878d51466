//! Options of the out-of-process network benchmark.

use crate::run::Prio;
use std::time::Duration;

/// What the command line asked for.
pub struct Cfg {
    /// Rounds; every case runs once per runtime per round.
    pub rounds: usize,
    /// Warm-up before each measured window.
    pub warmup: Duration,
    /// Measured window of each run.
    pub measure: Duration,
    /// Whether smol takes part (2-worker cases only: its thread count is
    /// the process's, and it is not what the targets are about).
    pub smol: bool,
    /// Whether the HTTP case (wrk) runs.
    pub http: bool,
    /// Run only the cases whose label contains one of these.
    pub filters: Vec<String>,
    /// Runtimes to run (default goro and tokio).
    pub only: Option<String>,
    /// Priority of the server, the load generator and wrk (`--fifo`), so
    /// other work on a shared machine disturbs them less.
    pub prio: Prio,
    /// Another goro server binary (an older build) to run as runtime
    /// `base`, alternating with the others: before/after in one run.
    pub baseline: Option<String>,
}

pub const USAGE: &str = "usage: cargo bench -p goro-bench --bench net -- [--rounds N] [--warmup-ms MS] \
[--measure-ms MS] [--smol] [--no-http] [--fifo] [--baseline SERVER-GORO-EXE] [--only goro|tokio|smol] [CASE-SUBSTRING...]";

impl Cfg {
    /// Parses `std::env::args()`.
    pub fn parse() -> Result<Cfg, String> {
        let mut cfg = Cfg {
            rounds: 3,
            warmup: Duration::from_millis(500),
            measure: Duration::from_millis(2000),
            smol: false,
            http: true,
            filters: Vec::new(),
            only: None,
            prio: Prio::Normal,
            baseline: None,
        };
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            let mut num = |what: &str| {
                args.next()
                    .and_then(|v| v.parse::<u64>().ok())
                    .filter(|&n| n > 0)
                    .ok_or(format!("{what} needs a positive number"))
            };
            match a.as_str() {
                "--rounds" => cfg.rounds = num("--rounds")? as usize,
                "--warmup-ms" => cfg.warmup = Duration::from_millis(num("--warmup-ms")?),
                "--measure-ms" => cfg.measure = Duration::from_millis(num("--measure-ms")?),
                "--smol" => cfg.smol = true,
                "--no-http" => cfg.http = false,
                "--fifo" => cfg.prio = Prio::Fifo,
                "--baseline" => {
                    let exe = args.next().filter(|p| std::path::Path::new(p).is_file());
                    cfg.baseline = Some(exe.ok_or("--baseline needs a server-goro binary")?);
                }
                "--only" => {
                    let rt = args
                        .next()
                        .filter(|r| ["goro", "tokio", "smol"].contains(&r.as_str()));
                    cfg.only = Some(rt.ok_or("--only needs goro, tokio or smol")?);
                }
                "--bench" | "--nocapture" | "--exact" => {}
                s if s.starts_with("--") => return Err(format!("unknown option {s}")),
                s => cfg.filters.push(s.to_string()),
            }
        }
        Ok(cfg)
    }

    /// Every runtime column of the table, in order.
    pub fn columns(&self) -> Vec<&'static str> {
        let mut v = vec!["goro", "tokio"];
        if self.smol {
            v.push("smol");
        }
        if self.baseline.is_some() {
            v.push("base");
        }
        v.retain(|r| self.only.as_deref().is_none_or(|o| o == *r));
        v
    }

    /// Whether the case labelled `label` runs.
    pub fn wants(&self, label: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| label.contains(f.as_str()))
    }

    /// The runtimes of a case with `workers` workers, alternated by round:
    /// goro first in even rounds, tokio first in odd ones.
    pub fn runtimes(&self, workers: usize, round: usize) -> Vec<&'static str> {
        let mut v = if round.is_multiple_of(2) {
            vec!["goro", "tokio"]
        } else {
            vec!["tokio", "goro"]
        };
        if self.smol && workers > 1 {
            v.push("smol");
        }
        if self.baseline.is_some() {
            v.insert(if round.is_multiple_of(2) { 0 } else { v.len() }, "base");
        }
        v.retain(|r| self.only.as_deref().is_none_or(|o| o == *r));
        v
    }
}
