//! Running a measurement on every runtime: the hang watchdog and the
//! `alternate!` macro that interleaves goro, tokio and smol per repetition.

use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

/// A single measurement running longer than this is reported as a hang.
const HANG_AFTER: Duration = Duration::from_secs(120);

static WATCH: Mutex<Option<(String, Instant)>> = Mutex::new(None);

/// Records what is being measured, so a hang is reported by name.
pub fn watch(what: String) {
    *WATCH.lock().unwrap_or_else(|e| e.into_inner()) = Some((what, Instant::now()));
}

pub fn start_watchdog() {
    thread::Builder::new()
        .name("watchdog".into())
        .spawn(|| {
            loop {
                thread::sleep(Duration::from_secs(1));
                let w = WATCH.lock().unwrap_or_else(|e| e.into_inner()).clone();
                if let Some((what, since)) = w
                    && since.elapsed() > HANG_AFTER
                {
                    eprintln!(
                        "\nHANG: `{what}` has not finished after {:?}; aborting the run",
                        since.elapsed()
                    );
                    std::process::exit(3);
                }
            }
        })
        .expect("watchdog thread");
}

/// Runs `$body` `$reps` times on each runtime, with `$R` bound to the
/// runtime type, alternating the order of goro and tokio between
/// repetitions. `$smol` says whether smol takes part.
macro_rules! alternate {
    ($cfg:expr, $reps:expr, $smol:expr, $label:expr, |$R:ident| $body:expr) => {{
        let mut s = $crate::stats::Samples::default();
        for rep in 0..$reps {
            for which in 0..3 {
                let which = if rep % 2 == 1 && which < 2 {
                    1 - which
                } else {
                    which
                };
                match which {
                    0 if $cfg.runs("goro") => {
                        type $R = goro_bench::rt::Goro;
                        $crate::harness::watch(format!("{} on goro (rep {rep})", $label));
                        s.goro.push($body);
                    }
                    1 if $cfg.runs("tokio") => {
                        type $R = goro_bench::rt::Tokio;
                        $crate::harness::watch(format!("{} on tokio (rep {rep})", $label));
                        s.tokio.push($body);
                    }
                    2 if $smol && $cfg.runs("smol") => {
                        type $R = goro_bench::rt::Smol;
                        $crate::harness::watch(format!("{} on smol (rep {rep})", $label));
                        s.smol.push($body);
                    }
                    _ => {}
                }
            }
        }
        $crate::harness::unwatch();
        s
    }};
}

/// Clears the watched measurement (between scenarios).
pub fn unwatch() {
    *WATCH.lock().unwrap_or_else(|e| e.into_inner()) = None;
}
