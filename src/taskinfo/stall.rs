//! [`StallReport`]: a task that blocked its worker thread, as sysmon saw it,
//! and where reports go (`StallConfig`).
//!
//! sysmon (`scheduler/stall.rs` does the watching) reports each stall twice:
//! once when a single poll has run for the threshold
//! ([`finished`](StallReport::finished) false), and once when that poll
//! returns, with the total time it blocked. Times are measured by sysmon,
//! so they are accurate to its period (at most 10 ms).

use super::Id;
use std::fmt;
use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

/// Default stall threshold.
pub(crate) const DEFAULT_THRESHOLD: Duration = Duration::from_millis(100);

/// A task whose poll ran so long it blocked its worker thread: what a stall
/// report names. Passed to the callback of
/// [`Builder::on_stall`](crate::runtime::Builder::on_stall), or printed to
/// stderr (its `Display`) when there is none.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let sink = seen.clone();
/// let rt = goro::runtime::Builder::new()
///     .stall_threshold(Duration::from_millis(50))
///     .on_stall(move |r: &goro::runtime::StallReport| sink.lock().unwrap().push(r.clone()))
///     .build()
///     .unwrap();
/// rt.block_on(rt.spawn(async { std::thread::sleep(Duration::from_millis(300)) })).unwrap();
/// drop(rt); // joins sysmon: every report has been delivered
/// let seen = seen.lock().unwrap();
/// assert!(seen.iter().any(|r| !r.finished() && r.location().file().ends_with(".rs")));
/// ```
#[derive(Debug, Clone)]
pub struct StallReport {
    pub(crate) id: Id,
    pub(crate) name: Option<String>,
    pub(crate) location: &'static Location<'static>,
    pub(crate) worker: Option<usize>,
    pub(crate) thread: Option<String>,
    pub(crate) blocked_for: Duration,
    pub(crate) handed_off: bool,
    pub(crate) finished: bool,
}

impl StallReport {
    /// The blocking task's id.
    pub fn id(&self) -> Id {
        self.id
    }

    /// Its name, if it was given one
    /// ([`task::Builder::name`](crate::task::Builder::name)).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Where it was spawned.
    pub fn location(&self) -> &'static Location<'static> {
        self.location
    }

    /// The worker (P index) the poll started on, if the thread held one.
    pub fn worker(&self) -> Option<usize> {
        self.worker
    }

    /// The name of the blocked thread.
    pub fn thread_name(&self) -> Option<&str> {
        self.thread.as_deref()
    }

    /// How long the poll has blocked the thread so far, or — once
    /// [`finished`](Self::finished) — in total.
    pub fn blocked_for(&self) -> Duration {
        self.blocked_for
    }

    /// True if sysmon handed the worker's P (its queue and timers) to
    /// another thread during the stall, so other tasks kept running.
    pub fn handed_off(&self) -> bool {
        self.handed_off
    }

    /// False for the report made when the stall crossed the threshold;
    /// true for the one made when the poll finally returned.
    pub fn finished(&self) -> bool {
        self.finished
    }
}

impl fmt::Display for StallReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "goro: task {}", self.id)?;
        if let Some(name) = &self.name {
            write!(f, " {name:?}")?;
        }
        write!(f, " (spawned at {})", self.location)?;
        let worker = match self.worker {
            Some(w) => format!("worker {w}"),
            None => "a thread without a worker".to_owned(),
        };
        let thread = self
            .thread
            .as_deref()
            .map(|t| format!(" (thread {t})"))
            .unwrap_or_default();
        let d = self.blocked_for;
        if self.finished {
            write!(
                f,
                " blocked {worker}{thread} for {d:.1?} in one poll; it has returned"
            )?;
        } else {
            write!(
                f,
                " has been blocking {worker}{thread} for {d:.1?} in one poll"
            )?;
        }
        if self.handed_off {
            f.write_str(" (its queue was handed to another thread)")
        } else if self.finished {
            Ok(())
        } else {
            f.write_str(" (not handed off: nothing else was waiting for it)")
        }
    }
}

/// A stall callback (`Builder::on_stall`).
pub(crate) type OnStall = Arc<dyn Fn(&StallReport) + Send + Sync>;

/// Where stall reports go, and the threshold (part of the runtime config).
#[derive(Clone)]
pub(crate) struct StallConfig {
    /// `None`: stall detection is off.
    pub(crate) threshold: Option<Duration>,
    pub(crate) on_stall: Option<OnStall>,
    /// The runtime's stderr writer (reports without `on_stall`, traces).
    pub(crate) stderr: Arc<super::stderr::Lines>,
}

impl Default for StallConfig {
    fn default() -> Self {
        StallConfig {
            threshold: Some(DEFAULT_THRESHOLD),
            on_stall: None,
            stderr: Arc::default(),
        }
    }
}

impl fmt::Debug for StallConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StallConfig")
            .field("threshold", &self.threshold)
            .field("on_stall", &self.on_stall.is_some())
            .finish()
    }
}

impl StallConfig {
    /// Delivers a report: to the callback (a panic in it is caught, so
    /// sysmon survives), or to stderr's writer thread (without blocking).
    pub(crate) fn deliver(&self, report: &StallReport) {
        match &self.on_stall {
            Some(cb) => {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cb(report)));
            }
            // Never `eprintln!` here: on a stderr nobody reads it would
            // block sysmon (stderr.rs).
            None => self.stderr.line(report.to_string()),
        }
    }
}

/// `GORO_STALL_MS`: the threshold in milliseconds, 0 to turn reports off;
/// `Ok(None)` if unset or empty, an error if it is not a number.
pub(crate) fn threshold_from_env() -> std::io::Result<Option<Option<Duration>>> {
    let v = match std::env::var("GORO_STALL_MS") {
        Ok(v) if !v.trim().is_empty() => v,
        _ => return Ok(None),
    };
    match v.trim().parse::<u64>() {
        Ok(ms) => Ok(Some((ms > 0).then(|| Duration::from_millis(ms)))),
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("goro: GORO_STALL_MS must be a number of milliseconds (0: off), got {v:?}"),
        )),
    }
}
