//! Medians over rounds and the markdown table of the network benchmark.

use crate::run::Fields;
use std::collections::HashMap;

/// Every round's fields, per runtime, with the round's number.
#[derive(Default)]
pub struct Samples {
    runs: HashMap<String, Vec<(usize, Fields)>>,
}

impl Samples {
    /// Adds the run of `runtime` in round `round`.
    pub fn push(&mut self, runtime: &str, round: usize, f: Fields) {
        self.runs
            .entry(runtime.to_string())
            .or_default()
            .push((round, f));
    }

    fn median(&self, runtime: &str, key: &str) -> Option<f64> {
        let runs = self.runs.get(runtime).map_or(&[][..], |v| v);
        goro_bench::stats::median(runs.iter().filter_map(|(_, f)| f.get(key).copied()))
    }

    /// goro/tokio of `key` within each round (the runs of one round run
    /// back to back, so these ratios share the machine's state of the
    /// moment, which the ratio of medians does not).
    fn round_ratios(&self, key: &str) -> Vec<f64> {
        let (Some(g), Some(t)) = (self.runs.get("goro"), self.runs.get("tokio")) else {
            return Vec::new();
        };
        g.iter()
            .filter_map(|(round, g)| {
                let (_, t) = t.iter().find(|(r, _)| r == round)?;
                Some((*g.get(key)?, *t.get(key)?))
            })
            .filter(|&(g, t)| t > 0.0 && g.is_finite() && t.is_finite())
            .map(|(g, t)| g / t)
            .collect()
    }
}

/// "m [lo–hi], min–max, k/n": the median of the per-round ratios with
/// its 95% confidence interval (distribution-free; "—" under 6 rounds),
/// their range, and in how many rounds goro did better (a lower value, or
/// a higher one for `higher`).
fn round_cell(ratios: &[f64], higher: bool) -> String {
    let Some(median) = goro_bench::stats::median(ratios.iter().copied()) else {
        return "—".into();
    };
    let ci = match goro_bench::stats::median_ci95(ratios.iter().copied()) {
        Some((lo, hi)) => format!("[{lo:.2}–{hi:.2}]"),
        None => "[—]".into(),
    };
    let min = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let max = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let better = ratios
        .iter()
        .filter(|&&r| if higher { r > 1.0 } else { r < 1.0 })
        .count();
    format!(
        "{median:.2} {ci}, {min:.2}–{max:.2}, {better}/{}",
        ratios.len()
    )
}

/// The rows of each case: field, label, unit.
const METRICS: &[(&str, &str, &str)] = &[
    ("msgs_per_sec", "msgs/s ↑", "k/s"),
    ("p50_us", "p50 ↓", "ms"),
    ("p99_us", "p99 ↓", "ms"),
    ("p999_us", "p99.9 ↓", "ms"),
    ("cpu_us_per_msg", "server CPU/msg ↓", "µs"),
];

fn cell(v: Option<f64>, unit: &str) -> String {
    match v {
        None => "—".into(),
        Some(v) if unit == "k/s" => format!("{:.1}k", v / 1e3),
        Some(v) if unit == "ms" => format!("{:.2} ms", v / 1e3),
        Some(v) => format!("{v:.2} µs"),
    }
}

/// One run in a line, for the progress log.
pub fn brief(f: &Fields) -> String {
    let g = |k: &str| f.get(k).copied().unwrap_or(f64::NAN);
    let mut s = format!(
        "{:.0} msg/s p50 {:.0} µs p99 {:.0} µs p99.9 {:.0} µs cpu {:.2} µs/msg",
        g("msgs_per_sec"),
        g("p50_us"),
        g("p99_us"),
        g("p999_us"),
        g("cpu_us_per_msg")
    );
    if f.contains_key("events_per_wait") {
        s += &format!(
            " | max {:.0} µs, {:.1} ev/wait, per-conn msgs min {:.0} p1 {:.0} median {:.0} max {:.0}",
            g("max_us"),
            g("events_per_wait"),
            g("conn_msgs_min"),
            g("conn_msgs_p1"),
            g("conn_msgs_median"),
            g("conn_msgs_max")
        );
    }
    s
}

/// Prints the markdown table: one row per case and metric, a column per
/// runtime in `runtimes` (goro and tokio first), the ratio of the medians,
/// and the per-round ratios' median, confidence interval and spread.
pub fn print(labels: &[String], samples: &[Samples], runtimes: &[&str]) {
    let mut head = vec!["case", "metric"];
    head.extend(runtimes);
    head.push("goro/tokio");
    head.push("per round: median [95% CI], range, goro better");
    println!("| {} |", head.join(" | "));
    let rule: Vec<&str> = head
        .iter()
        .enumerate()
        .map(|(i, _)| if i < 2 { "---" } else { "---:" })
        .collect();
    println!("|{}|", rule.join("|"));
    for (label, s) in labels.iter().zip(samples) {
        for (key, name, unit) in METRICS {
            let values: Vec<Option<f64>> = runtimes.iter().map(|r| s.median(r, key)).collect();
            if values.iter().all(Option::is_none) {
                continue;
            }
            let mut row = vec![label.clone(), name.to_string()];
            row.extend(values.iter().map(|v| cell(*v, unit)));
            row.push(match (s.median("goro", key), s.median("tokio", key)) {
                (Some(g), Some(t)) if t > 0.0 => format!("{:.2}", g / t),
                _ => "—".into(),
            });
            row.push(round_cell(&s.round_ratios(key), name.ends_with('↑')));
            println!("| {} |", row.join(" | "));
        }
    }
}
