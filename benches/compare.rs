//! goro vs tokio (and smol), in the same process invocation.
//!
//! ```text
//! cargo bench --bench compare                     # everything (a few minutes)
//! cargo bench --bench compare -- tcp_echo timers  # scenarios whose name contains a filter
//! cargo bench --bench compare -- --quick          # smaller workloads: a smoke run
//! options: --quick  --no-smol  --reps N  --list
//!          --only goro|tokio|smol   (one runtime alone, e.g. under a profiler)
//! ```
//!
//! Every scenario runs on each runtime with 2 worker threads (tokio's
//! multi-thread runtime, goro's `worker_threads(2)`, smol's executor on 2
//! threads), alternating runtimes within each repetition; the table shows
//! the median over repetitions and the goro/tokio ratio, oriented so that
//! **a ratio above 1 means goro did better** (throughput ratio, or the
//! inverse ratio of times and latencies).
//!
//! The network scenarios drive each runtime's server with the same client:
//! OS threads with blocking std sockets (`support/client.rs`), or `wrk` for
//! HTTP when it is installed. `idle_conns` runs each server in a child
//! process (this binary re-executed with `GORO_COMPARE_CHILD` set) so the
//! resident-memory figures do not pollute each other.

mod support;

use std::env;
use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpStream;
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};
use support::client::{self, LoadStats, Window};
use support::rt::{Goro, Rt, Smol, Tokio};
use support::sys;

/// Worker threads of every runtime under test.
const WORKERS: usize = 2;
/// Client threads driving the echo and fallback HTTP loads.
const CLIENT_THREADS: usize = 4;
/// Environment variable that turns this binary into an idle-connection
/// server child (`idle:goro`, `idle:tokio`, `idle:smol`).
const CHILD_ENV: &str = "GORO_COMPARE_CHILD";
/// A single measurement running longer than this is reported as a hang.
const HANG_AFTER: Duration = Duration::from_secs(120);

// ------------------------------------------------------------ options --

struct Cfg {
    quick: bool,
    smol: bool,
    reps: Option<usize>,
    only: Option<String>,
    filters: Vec<String>,
}

impl Cfg {
    fn parse() -> Result<Cfg, String> {
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
    fn reps(&self, full: usize, quick: usize) -> usize {
        self.reps.unwrap_or(if self.quick { quick } else { full })
    }

    /// `full`, or `quick` with `--quick`.
    fn size<T>(&self, full: T, quick: T) -> T {
        if self.quick { quick } else { full }
    }

    /// Whether runtime `name` takes part (`--only`, `--no-smol`).
    fn runs(&self, name: &str) -> bool {
        match &self.only {
            Some(only) => only == name,
            None => name != "smol" || self.smol,
        }
    }

    fn wants(&self, name: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| name.contains(f.as_str()))
    }
}

// ------------------------------------------------------------ results --

#[derive(Clone, Copy, PartialEq)]
enum Better {
    Higher,
    Lower,
}

#[derive(Clone, Copy)]
enum Unit {
    Ms,
    Us,
    NsPerOp,
    PerSec,
    Bytes,
    MiB,
    Count,
}

fn fmt_num(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn fmt_val(v: Option<f64>, unit: Unit) -> String {
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
struct Row {
    name: String,
    unit: Unit,
    better: Better,
    goro: Option<f64>,
    tokio: Option<f64>,
    smol: Option<f64>,
}

impl Row {
    /// goro/tokio, oriented so that > 1 means goro did better.
    fn ratio(&self) -> Option<f64> {
        let (g, t) = (self.goro?, self.tokio?);
        let r = match self.better {
            Better::Higher => g / t,
            Better::Lower => t / g,
        };
        r.is_finite().then_some(r)
    }

    fn cells(&self) -> [String; 5] {
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

fn median(v: &mut [f64]) -> Option<f64> {
    let mut v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Every repetition's result, per runtime.
struct Samples<T> {
    goro: Vec<T>,
    tokio: Vec<T>,
    smol: Vec<T>,
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
    fn row(
        &self,
        name: impl Into<String>,
        unit: Unit,
        better: Better,
        metric: impl Fn(&T) -> Option<f64>,
    ) -> Row {
        let med = |v: &[T]| median(&mut v.iter().filter_map(&metric).collect::<Vec<_>>());
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

// ----------------------------------------------------------- watchdog --

static WATCH: Mutex<Option<(String, Instant)>> = Mutex::new(None);

/// Records what is being measured, so a hang is reported by name.
fn watch(what: String) {
    *WATCH.lock().unwrap_or_else(|e| e.into_inner()) = Some((what, Instant::now()));
}

fn start_watchdog() {
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
        let mut s = Samples::default();
        for rep in 0..$reps {
            for which in 0..3 {
                let which = if rep % 2 == 1 && which < 2 {
                    1 - which
                } else {
                    which
                };
                match which {
                    0 if $cfg.runs("goro") => {
                        type $R = Goro;
                        watch(format!("{} on goro (rep {rep})", $label));
                        s.goro.push($body);
                    }
                    1 if $cfg.runs("tokio") => {
                        type $R = Tokio;
                        watch(format!("{} on tokio (rep {rep})", $label));
                        s.tokio.push($body);
                    }
                    2 if $smol && $cfg.runs("smol") => {
                        type $R = Smol;
                        watch(format!("{} on smol (rep {rep})", $label));
                        s.smol.push($body);
                    }
                    _ => {}
                }
            }
        }
        *WATCH.lock().unwrap_or_else(|e| e.into_inner()) = None;
        s
    }};
}

// ---------------------------------------------------- task scenarios --

/// Starts every worker thread before the clock starts.
fn warm<R: Rt>(rt: &R) {
    let hs: Vec<_> = (0..4 * WORKERS)
        .map(|_| rt.spawn_remote(async {}))
        .collect();
    rt.block_on(async {
        for h in hs {
            h.await;
        }
    });
}

/// Runs `f` as a task on a fresh runtime (so it is inside the runtime)
/// and returns what it returns.
fn in_task<R, F, Fut, T>(f: F) -> T
where
    R: Rt,
    F: FnOnce() -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let rt = R::new(WORKERS);
    warm(&rt);
    let fut = f();
    rt.block_on(rt.spawn_remote(fut))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn spawn_many<R: Rt>(n: usize) -> Duration {
    in_task::<R, _, _, _>(|| async move {
        let t = Instant::now();
        let hs: Vec<_> = (0..n).map(|i| R::spawn(async move { i })).collect();
        for h in hs {
            std::hint::black_box(h.await);
        }
        t.elapsed()
    })
}

fn spawn_many_remote<R: Rt>(n: usize) -> Duration {
    let rt = R::new(WORKERS);
    warm(&rt);
    let t = Instant::now();
    let hs: Vec<_> = (0..n).map(|i| rt.spawn_remote(async move { i })).collect();
    rt.block_on(async {
        for h in hs {
            std::hint::black_box(h.await);
        }
    });
    t.elapsed()
}

fn yield_many<R: Rt>(tasks: usize, yields: usize) -> Duration {
    in_task::<R, _, _, _>(|| async move {
        let t = Instant::now();
        let hs: Vec<_> = (0..tasks)
            .map(|_| {
                R::spawn(async move {
                    for _ in 0..yields {
                        R::yield_now().await;
                    }
                })
            })
            .collect();
        for h in hs {
            h.await;
        }
        t.elapsed()
    })
}

fn ping_pong<R: Rt>(pairs: usize, rounds: usize) -> Duration {
    in_task::<R, _, _, _>(|| async move {
        let t = Instant::now();
        let mut hs = Vec::with_capacity(pairs);
        for _ in 0..pairs {
            let (ping_tx, ping_rx) = async_channel::bounded::<u64>(1);
            let (pong_tx, pong_rx) = async_channel::bounded::<u64>(1);
            R::spawn_detached(async move {
                while let Ok(v) = ping_rx.recv().await {
                    if pong_tx.send(v + 1).await.is_err() {
                        break;
                    }
                }
            });
            hs.push(R::spawn(async move {
                let mut v = 0;
                for _ in 0..rounds {
                    ping_tx.send(v).await.expect("ponger gone");
                    v = pong_rx.recv().await.expect("ponger gone");
                }
                v
            }));
        }
        for h in hs {
            assert_eq!(h.await, rounds as u64);
        }
        t.elapsed()
    })
}

/// Spawns a task that spawns the next one, `depth` times; the last one
/// signals `done`.
fn chain<R: Rt>(depth: usize, done: async_channel::Sender<()>) {
    R::spawn_detached(async move {
        if depth == 0 {
            let _ = done.send(()).await;
        } else {
            chain::<R>(depth - 1, done);
        }
    });
}

fn chained_spawn<R: Rt>(depth: usize, chains: usize) -> Duration {
    in_task::<R, _, _, _>(|| async move {
        let t = Instant::now();
        for _ in 0..chains {
            let (tx, rx) = async_channel::bounded(1);
            chain::<R>(depth, tx);
            rx.recv().await.expect("chain broken");
        }
        t.elapsed()
    })
}

/// Sleep length of timer `i`: 1..=100 ms, spread by a multiplicative hash.
fn sleep_ms(i: usize) -> u64 {
    1 + (i as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .rotate_left(17)
        % 100
}

fn timers<R: Rt>(n: usize) -> Duration {
    in_task::<R, _, _, _>(|| async move {
        let t = Instant::now();
        let hs: Vec<_> = (0..n)
            .map(|i| R::spawn(async move { R::sleep(Duration::from_millis(sleep_ms(i))).await }))
            .collect();
        for h in hs {
            h.await;
        }
        t.elapsed()
    })
}

/// A future that is pending on its first poll (waking itself at once) and
/// ready on the second: wrapped in a timeout, it makes the timer get armed
/// and then cancelled.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Per-iteration times of: `timeout(1s, ready)`, `timeout(1s, YieldOnce)`
/// and a bare `YieldOnce` (the baseline for the armed case), each `n`
/// times inside one task.
fn timeout_ready<R: Rt>(n: usize) -> [Duration; 3] {
    in_task::<R, _, _, _>(|| async move {
        let t = Instant::now();
        for i in 0..n {
            let r = R::timeout(Duration::from_secs(1), std::future::ready(i)).await;
            std::hint::black_box(r);
        }
        let ready = t.elapsed();
        let t = Instant::now();
        for _ in 0..n {
            let r = R::timeout(Duration::from_secs(1), YieldOnce(false)).await;
            std::hint::black_box(r);
        }
        let armed = t.elapsed();
        let t = Instant::now();
        for _ in 0..n {
            YieldOnce(false).await;
        }
        [ready, armed, t.elapsed()]
    })
}

/// One task blocks its worker thread in `std::thread::sleep(800 ms)` (it
/// is spawned by the timer task, so both start on the same worker) while
/// the timer task waits 20 ms. Returns how late the timer task resumed.
fn blocking_stall<R: Rt>(workers: usize) -> Duration {
    let rt = R::new(workers);
    warm(&rt);
    rt.block_on(rt.spawn_remote(async {
        let blocker = R::spawn(async { thread::sleep(Duration::from_millis(800)) });
        let start = Instant::now();
        R::sleep(Duration::from_millis(20)).await;
        let late = start.elapsed().saturating_sub(Duration::from_millis(20));
        blocker.await;
        late
    }))
}

fn time_rows(s: &Samples<Duration>, name: &str, unit: Unit, per: f64) -> Row {
    s.row(name, unit, Better::Lower, |d| {
        Some(match unit {
            Unit::Ms => ms(*d),
            Unit::NsPerOp => d.as_secs_f64() * 1e9 / per,
            Unit::Us => d.as_secs_f64() * 1e6 / per,
            _ => unreachable!(),
        })
    })
}

fn sc_spawn_many(cfg: &Cfg) -> Vec<Row> {
    let n = cfg.size(100_000, 10_000);
    let s = alternate!(
        cfg,
        cfg.reps(7, 3),
        true,
        "spawn_many",
        |R| spawn_many::<R>(n)
    );
    vec![time_rows(
        &s,
        &format!("spawn_many: {n} tasks from a task"),
        Unit::Ms,
        1.0,
    )]
}

fn sc_spawn_many_remote(cfg: &Cfg) -> Vec<Row> {
    let n = cfg.size(100_000, 10_000);
    let s = alternate!(cfg, cfg.reps(7, 3), true, "spawn_many_remote", |R| {
        spawn_many_remote::<R>(n)
    });
    vec![time_rows(
        &s,
        &format!("spawn_many_remote: {n} tasks from main"),
        Unit::Ms,
        1.0,
    )]
}

fn sc_yield_many(cfg: &Cfg) -> Vec<Row> {
    let (tasks, yields) = cfg.size((1000, 1000), (200, 200));
    let s = alternate!(
        cfg,
        cfg.reps(5, 3),
        true,
        "yield_many",
        |R| yield_many::<R>(tasks, yields)
    );
    vec![time_rows(
        &s,
        &format!("yield_many: {tasks} tasks x {yields} yields"),
        Unit::Ms,
        1.0,
    )]
}

fn sc_ping_pong(cfg: &Cfg) -> Vec<Row> {
    let (pairs, rounds) = cfg.size((1000, 100), (100, 100));
    let s = alternate!(cfg, cfg.reps(5, 3), true, "ping_pong", |R| ping_pong::<R>(
        pairs, rounds
    ));
    vec![time_rows(
        &s,
        &format!("ping_pong: {pairs} pairs x {rounds} rounds (async-channel)"),
        Unit::Ms,
        1.0,
    )]
}

fn sc_chained_spawn(cfg: &Cfg) -> Vec<Row> {
    let (depth, chains) = cfg.size((1000, 20), (1000, 5));
    let s = alternate!(cfg, cfg.reps(5, 3), true, "chained_spawn", |R| {
        chained_spawn::<R>(depth, chains)
    });
    vec![time_rows(
        &s,
        &format!("chained_spawn: depth {depth} x {chains} chains"),
        Unit::Ms,
        1.0,
    )]
}

fn sc_timers(cfg: &Cfg) -> Vec<Row> {
    let n = cfg.size(100_000, 10_000);
    let s = alternate!(cfg, cfg.reps(5, 3), true, "timers", |R| timers::<R>(n));
    let floor = Duration::from_millis(100);
    vec![
        time_rows(
            &s,
            &format!("timers: {n} sleeps of 1-100 ms, all done"),
            Unit::Ms,
            1.0,
        ),
        s.row(
            "timers: overhead beyond the 100 ms floor",
            Unit::NsPerOp,
            Better::Lower,
            |d| Some(d.saturating_sub(floor).as_secs_f64() * 1e9 / n as f64),
        ),
    ]
}

fn sc_timeout_ready(cfg: &Cfg) -> Vec<Row> {
    let n = cfg.size(1_000_000, 100_000);
    let s = alternate!(cfg, cfg.reps(5, 3), true, "timeout_ready", |R| {
        timeout_ready::<R>(n)
    });
    let per_op = |d: Duration| d.as_secs_f64() * 1e9 / n as f64;
    vec![
        s.row(
            "timeout_ready: timeout(1s, ready future)",
            Unit::NsPerOp,
            Better::Lower,
            |d| Some(per_op(d[0])),
        ),
        s.row(
            "timeout_ready: timeout(1s, pending-once future)",
            Unit::NsPerOp,
            Better::Lower,
            |d| Some(per_op(d[1])),
        ),
        s.row(
            "timeout_ready: timer insert+cancel (row above minus bare pending-once)",
            Unit::NsPerOp,
            Better::Lower,
            |d| Some(per_op(d[1]) - per_op(d[2])),
        ),
    ]
}

fn sc_blocking_stall(cfg: &Cfg) -> Vec<Row> {
    let reps = cfg.reps(3, 1);
    let two = alternate!(cfg, reps, true, "blocking_stall 2 workers", |R| {
        blocking_stall::<R>(2)
    });
    // smol's executor threads are started once for the whole process (2),
    // so it sits out the 1-worker variant.
    let one = alternate!(cfg, reps, false, "blocking_stall 1 worker", |R| {
        blocking_stall::<R>(1)
    });
    vec![
        time_rows(
            &two,
            "blocking_stall: 20 ms timer lateness, 2 workers, 800 ms block",
            Unit::Ms,
            1.0,
        ),
        time_rows(
            &one,
            "blocking_stall: 20 ms timer lateness, 1 worker, 800 ms block",
            Unit::Ms,
            1.0,
        ),
    ]
}

// ------------------------------------------------- network scenarios --

fn report_err<T>(what: &str, r: io::Result<T>) -> Option<T> {
    r.map_err(|e| eprintln!("    ERROR {what}: {e}")).ok()
}

fn echo_run<R: Rt>(conns: usize, size: usize, window: Window) -> Option<LoadStats> {
    let rt = R::new(WORKERS);
    let addr = rt.echo_server();
    let r = client::echo_load(addr, conns, size, CLIENT_THREADS, window);
    drop(rt);
    report_err(&format!("tcp_echo on {}", R::NAME), r)
}

fn load_rows(s: &Samples<Option<LoadStats>>, label: &str, per: &str) -> Vec<Row> {
    vec![
        s.row(
            format!("{label} {per}"),
            Unit::PerSec,
            Better::Higher,
            |r| r.as_ref().map(|r| r.per_sec),
        ),
        s.row(format!("{label} p50"), Unit::Us, Better::Lower, |r| {
            r.as_ref().map(|r| r.p50_us)
        }),
        s.row(format!("{label} p99"), Unit::Us, Better::Lower, |r| {
            r.as_ref().map(|r| r.p99_us)
        }),
        s.row(
            format!("{label} server CPU/op"),
            Unit::Us,
            Better::Lower,
            |r| r.as_ref().map(|r| r.cpu_us_per_op),
        ),
        s.row(
            format!("{label} server switches/op"),
            Unit::Count,
            Better::Lower,
            |r| r.as_ref().map(|r| r.switches_per_op),
        ),
    ]
}

fn sc_tcp_echo(cfg: &Cfg) -> Vec<Row> {
    let window = Window {
        warmup: cfg.size(Duration::from_millis(300), Duration::from_millis(100)),
        measure: cfg.size(Duration::from_millis(1000), Duration::from_millis(300)),
    };
    let mut rows = Vec::new();
    for conns in [50, 500] {
        for size in [64, 4096] {
            let label = format!(
                "tcp_echo c={conns} {}",
                if size >= 1024 {
                    format!("{}KiB", size / 1024)
                } else {
                    format!("{size}B")
                }
            );
            eprintln!("  {label}");
            let s = alternate!(cfg, cfg.reps(5, 1), true, label, |R| echo_run::<R>(
                conns, size, window
            ));
            rows.extend(load_rows(&s, &label, "round trips"));
        }
    }
    rows
}

fn http_run<R: Rt>(use_wrk: bool, secs: u64, window: Window) -> Option<LoadStats> {
    let rt = R::new(WORKERS);
    let addr = rt.http_server();
    let r = if use_wrk {
        client::wrk(addr, 2, 50, secs)
    } else {
        client::http_load(addr, 50, CLIENT_THREADS, window)
    };
    drop(rt);
    report_err(&format!("http on {}", R::NAME), r)
}

fn sc_http(cfg: &Cfg) -> Vec<Row> {
    let use_wrk = client::have_wrk();
    let secs = cfg.size(5, 1);
    let window = Window {
        warmup: Duration::from_millis(300),
        measure: Duration::from_secs(secs),
    };
    let label = if use_wrk {
        format!("http: hyper hello, wrk -t2 -c50 -d{secs}s")
    } else {
        eprintln!("  (wrk not found: using the built-in keep-alive client, 50 connections)");
        format!("http: hyper hello, std client c=50 {secs}s")
    };
    let s = alternate!(cfg, cfg.reps(3, 1), true, "http", |R| http_run::<R>(
        use_wrk, secs, window
    ));
    load_rows(&s, &label, "req")
}

struct IdleStats {
    base_kib: u64,
    full_kib: u64,
    conns: usize,
}

/// Server half of `idle_conns`, in a child process: prints `addr <addr>`,
/// then answers each `stat` line on stdin with `<accepted> <VmRSS KiB>`.
fn idle_child<R: Rt>() {
    sys::raise_nofile(u64::MAX);
    let rt = R::new(WORKERS);
    let accepted = Arc::new(AtomicUsize::new(0));
    let addr = rt.idle_server(accepted.clone());
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "addr {addr}");
    let _ = out.flush();
    for line in io::stdin().lock().lines() {
        match line.as_deref().map(str::trim) {
            Ok("stat") => {
                let _ = writeln!(
                    out,
                    "{} {}",
                    accepted.load(Ordering::Relaxed),
                    sys::vmrss_kib()
                );
                let _ = out.flush();
            }
            _ => break,
        }
    }
    // Leave without running destructors: the parent measured what it
    // wanted and kills us anyway.
    std::process::exit(0);
}

fn idle_run(runtime: &str, n: usize) -> io::Result<IdleStats> {
    let mut child = Command::new(env::current_exe()?)
        .env(CHILD_ENV, format!("idle:{runtime}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let result = (|| {
        let mut to_child = child.stdin.take().expect("child stdin");
        let mut from_child = BufReader::new(child.stdout.take().expect("child stdout"));
        let mut line = String::new();
        from_child.read_line(&mut line)?;
        let addr: std::net::SocketAddr = line
            .trim()
            .strip_prefix("addr ")
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| io::Error::other(format!("child said {line:?}")))?;
        let mut stat = || -> io::Result<(usize, u64)> {
            writeln!(to_child, "stat")?;
            to_child.flush()?;
            let mut l = String::new();
            from_child.read_line(&mut l)?;
            let mut it = l.split_whitespace().map(|v| v.parse::<u64>().ok());
            match (it.next().flatten(), it.next().flatten()) {
                (Some(a), Some(r)) => Ok((a as usize, r)),
                _ => Err(io::Error::other(format!("child said {l:?}"))),
            }
        };
        thread::sleep(Duration::from_millis(100));
        let (_, base_kib) = stat()?;
        let mut clients = Vec::with_capacity(n);
        while clients.len() < n {
            let batch = (n - clients.len()).min(500);
            for _ in 0..batch {
                let s = TcpStream::connect(addr)?;
                sys::set_linger_zero(&s);
                clients.push(s);
            }
            // Let the accept loop catch up before the backlog fills.
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let (acc, _) = stat()?;
                if acc >= clients.len() {
                    break;
                }
                if Instant::now() > deadline {
                    return Err(io::Error::other(format!(
                        "server accepted only {acc} of {} connections in 20 s",
                        clients.len()
                    )));
                }
                thread::sleep(Duration::from_millis(2));
            }
        }
        thread::sleep(Duration::from_millis(300));
        let (_, full_kib) = stat()?;
        Ok((
            IdleStats {
                base_kib,
                full_kib,
                conns: n,
            },
            clients,
        ))
    })();
    // The server goes first, so the client sockets (closed with RST after
    // it) leave no TIME_WAIT behind.
    let _ = child.kill();
    let _ = child.wait();
    result.map(|(stats, clients)| {
        drop(clients);
        stats
    })
}

fn sc_idle_conns(cfg: &Cfg) -> Vec<Row> {
    let mut n = cfg.size(10_000, 1_000);
    let limit = sys::raise_nofile(n as u64 + 1024);
    if limit < n as u64 + 256 {
        let scaled = (limit.saturating_sub(256)) as usize;
        eprintln!(
            "  note: RLIMIT_NOFILE hard limit is {limit}; scaling idle_conns from {n} to {scaled} connections"
        );
        n = scaled;
    }
    let s = alternate!(cfg, cfg.reps(1, 1), true, "idle_conns", |R| report_err(
        &format!("idle_conns on {}", R::NAME),
        idle_run(R::NAME, n)
    ));
    vec![
        s.row(
            format!("idle_conns: RSS per idle connection ({n} conns)"),
            Unit::Bytes,
            Better::Lower,
            |r| {
                r.as_ref()
                    .map(|r| (r.full_kib as f64 - r.base_kib as f64) * 1024.0 / r.conns as f64)
            },
        ),
        s.row(
            format!("idle_conns: server RSS with {n} conns"),
            Unit::MiB,
            Better::Lower,
            |r| r.as_ref().map(|r| r.full_kib as f64 / 1024.0),
        ),
        s.row(
            "idle_conns: server RSS with 0 conns",
            Unit::MiB,
            Better::Lower,
            |r| r.as_ref().map(|r| r.base_kib as f64 / 1024.0),
        ),
    ]
}

// --------------------------------------------------------------- main --

type Scenario = fn(&Cfg) -> Vec<Row>;

const SCENARIOS: &[(&str, Scenario)] = &[
    ("spawn_many", sc_spawn_many),
    ("spawn_many_remote", sc_spawn_many_remote),
    ("yield_many", sc_yield_many),
    ("ping_pong", sc_ping_pong),
    ("chained_spawn", sc_chained_spawn),
    ("timers", sc_timers),
    ("timeout_ready", sc_timeout_ready),
    ("tcp_echo", sc_tcp_echo),
    ("http", sc_http),
    ("idle_conns", sc_idle_conns),
    ("blocking_stall", sc_blocking_stall),
];

fn print_table(rows: &[Row], smol: bool) {
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
                "compare: {e}\nusage: cargo bench --bench compare -- [--quick] [--no-smol] [--reps N] [--only RUNTIME] [--list] [SCENARIO-SUBSTRING...]"
            );
            std::process::exit(2);
        }
    };
    let args: Vec<String> = env::args().skip(1).filter(|a| a != "--bench").collect();
    let command = if args.is_empty() {
        "cargo bench --bench compare".to_string()
    } else {
        format!("cargo bench --bench compare -- {}", args.join(" "))
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
        "setup: {WORKERS} worker threads per runtime; median of the repetitions; \
         {CLIENT_THREADS} client threads for tcp_echo; {}",
        if cfg.quick {
            "--quick workloads"
        } else {
            "full workloads"
        }
    );
    println!("load average at start: {load_start}");
    println!();
    start_watchdog();
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
    print_table(&rows, cfg.runs("smol"));
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
