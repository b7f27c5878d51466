//! Scheduler and timer scenarios: spawning, yielding, channels, timers,
//! timeouts and one blocking task, each measured inside a runtime.

use crate::cli::Cfg;
use crate::stats::{Better, Row, Samples, Unit};
use crate::workers;
use goro_bench::rt::Rt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

/// Starts every worker thread before the clock starts.
fn warm<R: Rt>(rt: &R) {
    let hs: Vec<_> = (0..4 * workers())
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
    let rt = R::new(workers());
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
    let rt = R::new(workers());
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

pub fn sc_spawn_many(cfg: &Cfg) -> Vec<Row> {
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

pub fn sc_spawn_many_remote(cfg: &Cfg) -> Vec<Row> {
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

pub fn sc_yield_many(cfg: &Cfg) -> Vec<Row> {
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

pub fn sc_ping_pong(cfg: &Cfg) -> Vec<Row> {
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

pub fn sc_chained_spawn(cfg: &Cfg) -> Vec<Row> {
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

pub fn sc_timers(cfg: &Cfg) -> Vec<Row> {
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

pub fn sc_timeout_ready(cfg: &Cfg) -> Vec<Row> {
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

pub fn sc_blocking_stall(cfg: &Cfg) -> Vec<Row> {
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
