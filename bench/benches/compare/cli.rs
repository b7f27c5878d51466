//! Command-line options of the in-process comparison: which scenarios run,
//! on which runtimes, how many repetitions and how large the workloads.

use crate::scenarios::SCENARIOS;
use std::env;

/// What the command line asked for.
pub struct Cfg {
    pub quick: bool,
    pub smol: bool,
    pub reps: Option<usize>,
    pub only: Option<String>,
    pub filters: Vec<String>,
}
impl Cfg {
    pub fn parse() -> Result<Cfg, String> {
        let mut cfg = Cfg {
            quick: false,
            smol: true,
            reps: None,
            only: None,
            filters: Vec::new(),
        };
        let mut args = env::args().skip(1);
        while let Some(a) = args.next() {
            match a.as_str() {
                "--quick" => cfg.quick = true,
                "--no-smol" => cfg.smol = false,
                "--reps" => {
                    let n = args.next().and_then(|v| v.parse().ok()).filter(|&n| n > 0);
                    cfg.reps = Some(n.ok_or("--reps needs a positive number")?);
                }
                "--only" => {
                    let rt = args
                        .next()
                        .filter(|r| ["goro", "tokio", "smol"].contains(&r.as_str()));
                    cfg.only = Some(rt.ok_or("--only needs goro, tokio or smol")?);
                }
                "--list" => {
                    for (name, _) in SCENARIOS {
                        println!("{name}");
                    }
                    std::process::exit(0);
                }
                // Passed by `cargo bench`; libtest flags we do not use.
                "--bench" | "--nocapture" | "--exact" => {}
                s if s.starts_with("--") => return Err(format!("unknown option {s}")),
                s => cfg.filters.push(s.to_string()),
            }
        }
        Ok(cfg)
    }

    /// Repetitions: `--reps`, else `full` (or `quick` with `--quick`).
    pub fn reps(&self, full: usize, quick: usize) -> usize {
        self.reps.unwrap_or(if self.quick { quick } else { full })
    }

    /// `full`, or `quick` with `--quick`.
    pub fn size<T>(&self, full: T, quick: T) -> T {
        if self.quick { quick } else { full }
    }

    /// Whether runtime `name` takes part (`--only`, `--no-smol`).
    pub fn runs(&self, name: &str) -> bool {
        match &self.only {
            Some(only) => only == name,
            None => name != "smol" || self.smol,
        }
    }

    pub fn wants(&self, name: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| name.contains(f.as_str()))
    }
}
