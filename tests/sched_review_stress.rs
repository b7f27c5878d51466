//! Liveness stress for the scheduler and the netpoller together: wakes from
//! foreign threads into idle workers, I/O ping-pong while sysmon hands Ps
//! away from stuck polls, `block_in_place`, timers armed from every kind
//! of thread, and runtime drops in the middle of all that.
//!
//! Every scenario is bounded (a few seconds) and judges a hang from outside
//! the runtime (std channels and threads, never goro's own timers, which a
//! lost wake-up would stop too): a wake that is never run fails the test
//! with a message instead of hanging it.

mod support;

use goro::net::UnixStream;
use goro::runtime::{Builder, Runtime};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use support::data::Rng;

/// How long one awaited step may take before it counts as lost: generous
/// (a loaded 2-core machine), but far below the test harness's limit.
const LOST: Duration = Duration::from_secs(30);

/// A one-shot flag a foreign thread sets and a task awaits.
#[derive(Default)]
struct Flag {
    state: Mutex<(bool, Option<Waker>)>,
}

impl Flag {
    fn set(&self) {
        let waker = {
            let mut s = self.state.lock().unwrap();
            s.0 = true;
            s.1.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn wait(self: &Arc<Self>) -> FlagWait {
        FlagWait(self.clone())
    }
}

struct FlagWait(Arc<Flag>);

impl Future for FlagWait {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut s = self.0.state.lock().unwrap();
        if s.0 {
            Poll::Ready(())
        } else {
            s.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

fn runtime(workers: usize) -> Runtime {
    Builder::new()
        .worker_threads(workers)
        .handoff_after(Duration::from_millis(1))
        .max_spare_threads(2)
        .build()
        .unwrap()
}

/// Foreign threads wake tasks parked on a flag, at random moments, while
/// the workers go idle between wakes: every wake reaches a worker.
#[test]
fn foreign_wakes_always_run() {
    support::hang::within(Duration::from_secs(120), || {
        for workers in [1, 2, 3] {
            let rt = runtime(workers);
            let stop_at = Instant::now() + Duration::from_millis(700);
            let threads: Vec<_> = (0..3u64)
                .map(|t| {
                    let h = rt.handle();
                    std::thread::spawn(move || {
                        let mut rng = Rng(t + 1);
                        let mut rounds = 0u64;
                        // At least one round, however late this thread starts.
                        while rounds == 0 || Instant::now() < stop_at {
                            let flag = Arc::new(Flag::default());
                            let (tx, rx) = mpsc::channel();
                            let wait = flag.wait();
                            h.spawn(async move {
                                wait.await;
                                let _ = tx.send(());
                            });
                            if rng.below(2) == 0 {
                                std::thread::sleep(Duration::from_micros(rng.below(200)));
                            }
                            flag.set();
                            rx.recv_timeout(LOST).unwrap_or_else(|_| {
                                panic!("{workers} workers: a woken task never ran (round {rounds})")
                            });
                            rounds += 1;
                        }
                        rounds
                    })
                })
                .collect();
            for t in threads {
                assert!(t.join().unwrap() > 0);
            }
        }
    });
}

/// Chains of tasks waking each other across Ps, through socket pairs,
/// runnext, the global queue and timers, while other tasks block their
/// workers (sysmon hands their Ps away) or call `block_in_place`. Every
/// chain must finish its rounds.
#[test]
fn wakes_survive_handoffs_and_block_in_place() {
    support::hang::within(Duration::from_secs(150), || {
        for workers in [1, 2] {
            let rt = runtime(workers);
            let stop = Arc::new(AtomicBool::new(false));
            let progress = Arc::new(AtomicUsize::new(0));
            let mut done = Vec::new();

            // I/O ping-pong pairs.
            for i in 0..6u64 {
                let (tx, rx) = mpsc::channel();
                let progress = progress.clone();
                rt.spawn(async move {
                    let (a, b) = UnixStream::pair().unwrap();
                    let echo = goro::spawn(async move {
                        let mut buf = [0u8; 1];
                        while b.read_exact(&mut buf).await.is_ok() {
                            if b.write_all(&buf).await.is_err() {
                                break;
                            }
                        }
                    });
                    let mut buf = [0u8; 1];
                    for r in 0..400u64 {
                        a.write_all(&[(i + r) as u8]).await.unwrap();
                        a.read_exact(&mut buf).await.unwrap();
                        progress.fetch_add(1, Ordering::Relaxed);
                    }
                    drop(a);
                    let _ = echo.await;
                    let _ = tx.send(());
                });
                done.push(("ping-pong", rx));
            }

            // Timer chains: sleep, wake a sibling through a flag, repeat.
            for i in 0..4u64 {
                let (tx, rx) = mpsc::channel();
                let progress = progress.clone();
                rt.spawn(async move {
                    let mut rng = Rng(100 + i);
                    for _ in 0..150 {
                        goro::time::sleep(Duration::from_micros(rng.below(1500))).await;
                        let flag = Arc::new(Flag::default());
                        let wait = flag.wait();
                        let child = goro::spawn(wait);
                        flag.set();
                        child.await.unwrap();
                        progress.fetch_add(1, Ordering::Relaxed);
                    }
                    let _ = tx.send(());
                });
                done.push(("timer chain", rx));
            }

            // Tasks that give their P away mid-poll and wake others from there.
            for _ in 0..2 {
                let (tx, rx) = mpsc::channel();
                let progress = progress.clone();
                rt.spawn(async move {
                    for _ in 0..60 {
                        let flag = Arc::new(Flag::default());
                        let wait = flag.wait();
                        let child = goro::spawn(wait);
                        goro::task::block_in_place(|| {
                            std::thread::sleep(Duration::from_micros(300));
                            flag.set();
                        });
                        child.await.unwrap();
                        progress.fetch_add(1, Ordering::Relaxed);
                    }
                    let _ = tx.send(());
                });
                done.push(("block_in_place", rx));
            }

            // Tasks that block their worker (sysmon's hand-offs), until told to stop.
            for i in 0..2u64 {
                let stop = stop.clone();
                rt.spawn(async move {
                    let mut rng = Rng(200 + i);
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(2 + rng.below(6)));
                        goro::task::yield_now().await;
                    }
                });
            }

            let deadline = Instant::now() + LOST;
            for (what, rx) in done {
                let left = deadline.saturating_duration_since(Instant::now());
                if rx.recv_timeout(left).is_err() {
                    stop.store(true, Ordering::Relaxed);
                    panic!(
                        "{workers} workers: a {what} task did not finish (progress {}, {:?})",
                        progress.load(Ordering::Relaxed),
                        rt.metrics()
                    );
                }
            }
            stop.store(true, Ordering::Relaxed);
        }
    });
}

/// Counts live futures: every spawned future holds one.
struct Alive(Arc<AtomicUsize>);

impl Alive {
    fn new(n: &Arc<AtomicUsize>) -> Alive {
        n.fetch_add(1, Ordering::SeqCst);
        Alive(n.clone())
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A busy task for the shutdown test: spawns, wakes, sleeps and yields in
/// a loop, forever.
fn churn(alive: Arc<AtomicUsize>, seed: u64) -> impl Future<Output = ()> + Send + 'static {
    let guard = Alive::new(&alive);
    async move {
        let _guard = guard;
        let mut rng = Rng(seed);
        loop {
            match rng.below(4) {
                0 => {
                    let flag = Arc::new(Flag::default());
                    let wait = flag.wait();
                    let child_guard = Alive::new(&alive);
                    goro::spawn(async move {
                        let _g = child_guard;
                        wait.await;
                    });
                    flag.set();
                }
                1 => goro::time::sleep(Duration::from_micros(rng.below(500))).await,
                2 => goro::task::yield_now().await,
                _ => {
                    let child_guard = Alive::new(&alive);
                    let _ = goro::spawn(async move {
                        let _g = child_guard;
                        goro::task::yield_now().await;
                    })
                    .await;
                }
            }
        }
    }
}

/// Dropping a runtime in the middle of spawns and wakes (from its tasks
/// and from a foreign thread) drops every task it had: none is left
/// queued where nobody will run or drop it.
#[test]
fn drop_mid_churn_drops_every_task() {
    support::hang::within(Duration::from_secs(150), || {
        let mut rng = Rng(7);
        for round in 0..40u64 {
            let alive = Arc::new(AtomicUsize::new(0));
            let rt = runtime(1 + (round % 3) as usize);
            for i in 0..8 {
                rt.spawn(churn(alive.clone(), round * 100 + i));
            }
            let stop = Arc::new(AtomicBool::new(false));
            let foreign = {
                let (h, alive, stop) = (rt.handle(), alive.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut n = 0u64;
                    while !stop.load(Ordering::SeqCst) {
                        let flag = Arc::new(Flag::default());
                        let wait = flag.wait();
                        let g = Alive::new(&alive);
                        h.spawn(async move {
                            let _g = g;
                            wait.await;
                        });
                        flag.set();
                        n += 1;
                        if n.is_multiple_of(64) {
                            std::thread::yield_now();
                        }
                    }
                })
            };
            std::thread::sleep(Duration::from_micros(rng.below(20_000)));
            drop(rt);
            stop.store(true, Ordering::SeqCst);
            foreign.join().unwrap();
            // A worker detached inside a poll (a heavily loaded machine can
            // hold one past the drop's grace period) drops its task when
            // the poll returns: allow for it, boundedly.
            let waited = Instant::now();
            while alive.load(Ordering::SeqCst) != 0 && waited.elapsed() < LOST {
                std::thread::sleep(Duration::from_millis(1));
            }
            assert_eq!(
                alive.load(Ordering::SeqCst),
                0,
                "round {round}: futures neither completed nor dropped after the runtime's drop"
            );
        }
    });
}

/// Foreign threads drive goro sockets with another executor
/// (`futures::executor::block_on`) in ping-pong with echo tasks, while the
/// workers go idle between round trips: every read parked off the
/// runtime's threads is served by an M that takes the poller role.
#[test]
fn foreign_executor_ping_pong_is_served() {
    support::hang::within(Duration::from_secs(120), || {
        for workers in [1, 2] {
            let rt = runtime(workers);
            let threads: Vec<_> = (0..3u64)
                .map(|t| {
                    let (a, b) = {
                        let _enter = rt.enter();
                        UnixStream::pair().unwrap()
                    };
                    rt.spawn(async move {
                        let mut buf = [0u8; 1];
                        while b.read_exact(&mut buf).await.is_ok() {
                            if b.write_all(&buf).await.is_err() {
                                break;
                            }
                        }
                    });
                    std::thread::spawn(move || {
                        let mut rng = Rng(300 + t);
                        futures::executor::block_on(async {
                            let mut buf = [0u8; 1];
                            for r in 0..300u64 {
                                if rng.below(8) == 0 {
                                    std::thread::sleep(Duration::from_micros(rng.below(300)));
                                }
                                a.write_all(&[r as u8]).await.unwrap();
                                a.read_exact(&mut buf).await.unwrap();
                                assert_eq!(buf[0], r as u8);
                            }
                        });
                    })
                })
                .collect();
            let deadline = Instant::now() + LOST;
            for t in threads {
                while !t.is_finished() {
                    assert!(
                        Instant::now() < deadline,
                        "{workers} workers: a foreign read was never served ({:?})",
                        rt.metrics()
                    );
                    std::thread::sleep(Duration::from_millis(1));
                }
                t.join().unwrap();
            }
        }
    });
}
