//! Results: medians over repetitions, table rows with the goro/tokio ratio
//! oriented so that above 1 means goro did better, and the table printer.

#[derive(Clone, Copy, PartialEq)]
pub enum Better {
    Higher,
    Lower,
}

#[derive(Clone, Copy)]
pub enum Unit {
    Ms,
    Us,
    NsPerOp,
    PerSec,
    Bytes,
    MiB,
    Count,
}

pub fn fmt_num(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

pub fn fmt_val(v: Option<f64>, unit: Unit) -> String {
    let Some(v) = v.filter(|v| v.is_finite()) else {
        return "—".to_string();
    };
    match unit {
        Unit::Ms => format!("{} ms", fmt_num(v)),
        Unit::Us => format!("{} µs", fmt_num(v)),
        Unit::NsPerOp => format!("{} ns/op", fmt_num(v)),
        Unit::PerSec if v >= 1e6 => format!("{}M/s", fmt_num(v / 1e6)),
        Unit::PerSec if v >= 1e3 => format!("{}k/s", fmt_num(v / 1e3)),
        Unit::PerSec => format!("{}/s", fmt_num(v)),
        Unit::Bytes => format!("{v:.0} B"),
        Unit::MiB => format!("{} MiB", fmt_num(v)),
        Unit::Count => fmt_num(v),
    }
}

/// One line of the results table.
pub struct Row {
    pub name: String,
    pub unit: Unit,
    pub better: Better,
    pub goro: Option<f64>,
    pub tokio: Option<f64>,
    pub smol: Option<f64>,
}

impl Row {
    /// goro/tokio, oriented so that > 1 means goro did better.
    pub fn ratio(&self) -> Option<f64> {
        let (g, t) = (self.goro?, self.tokio?);
        let r = match self.better {
            Better::Higher => g / t,
            Better::Lower => t / g,
        };
        r.is_finite().then_some(r)
    }

    pub fn cells(&self) -> [String; 5] {
        let arrow = match self.better {
            Better::Higher => "↑",
            Better::Lower => "↓",
        };
        [
            format!("{} {arrow}", self.name),
            fmt_val(self.goro, self.unit),
            fmt_val(self.tokio, self.unit),
            fmt_val(self.smol, self.unit),
            self.ratio()
                .map_or_else(|| "n/a".to_string(), |r| format!("{r:.2}x")),
        ]
    }
}

/// Every repetition's result, per runtime.
pub struct Samples<T> {
    pub goro: Vec<T>,
    pub tokio: Vec<T>,
    pub smol: Vec<T>,
}

impl<T> Default for Samples<T> {
    fn default() -> Self {
        Samples {
            goro: Vec::new(),
            tokio: Vec::new(),
            smol: Vec::new(),
        }
    }
}

impl<T> Samples<T> {
    /// A table row: the median of `metric` over each runtime's results
    /// (`None` results, i.e. failed runs, are left out).
    pub fn row(
        &self,
        name: impl Into<String>,
        unit: Unit,
        better: Better,
        metric: impl Fn(&T) -> Option<f64>,
    ) -> Row {
        let med = |v: &[T]| goro_bench::stats::median(v.iter().filter_map(&metric));
        let row = Row {
            name: name.into(),
            unit,
            better,
            goro: med(&self.goro),
            tokio: med(&self.tokio),
            smol: med(&self.smol),
        };
        let [name, g, t, s, r] = row.cells();
        eprintln!("    {name}: goro {g} | tokio {t} | smol {s} | goro/tokio {r}");
        row
    }
}

pub fn print_table(rows: &[Row], smol: bool) {
    let header = ["scenario", "goro", "tokio", "smol", "goro/tokio"];
    let cells: Vec<[String; 5]> = rows.iter().map(Row::cells).collect();
    let cols: Vec<usize> = (0..5).filter(|&i| smol || i != 3).collect();
    let width = |i: usize| {
        cells
            .iter()
            .map(|c| c[i].chars().count())
            .chain([header[i].len()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..5).map(width).collect();
    let line = |c: &[String]| {
        let parts: Vec<String> = cols
            .iter()
            .map(|&i| {
                let pad = widths[i] - c[i].chars().count();
                if i == 0 {
                    format!("{}{}", c[i], " ".repeat(pad))
                } else {
                    format!("{}{}", " ".repeat(pad), c[i])
                }
            })
            .collect();
        format!("| {} |", parts.join(" | "))
    };
    println!("{}", line(&header.map(String::from)));
    let rule: Vec<String> = cols
        .iter()
        .map(|&i| {
            if i == 0 {
                "-".repeat(widths[i] + 2)
            } else {
                format!("{}:", "-".repeat(widths[i] + 1))
            }
        })
        .collect();
    println!("|{}|", rule.join("|"));
    for c in &cells {
        println!("{}", line(c));
    }
}
