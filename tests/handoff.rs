//! sysmon hand-off and `block_in_place`: a task that blocks its worker
//! thread must not stall the tasks queued behind it.
//!
//! Timing is the semantics here (how late a timer fires while a worker is
//! blocked), so these tests assert upper bounds — generous ones, since the
//! machine may be loaded. The failure mode they guard against is ~800 ms of
//! lateness (the blocked task's whole duration), far above the bounds.

mod support;

use goro::runtime::{Builder, Runtime};
use std::future::Future;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::rt::one_worker;

const BLOCK: Duration = Duration::from_millis(800);
const WAIT: Duration = Duration::from_millis(20);
const BOUND: Duration = Duration::from_millis(300);

/// On `rt`, spawns a task whose timer waits [`WAIT`], then `blocker`;
/// returns how long after its start the timer task finished, and what
/// `blocker` returned.
fn timer_behind<B>(rt: &Runtime, blocker: B) -> (Duration, B::Output)
where
    B: Future + Send + 'static,
    B::Output: Send + 'static,
{
    rt.block_on(async {
        // Let the worker go idle so everything below lands on its P.
        goro::time::sleep(Duration::from_millis(20)).await;
        let start = Instant::now();
        let timer = goro::spawn(async move {
            goro::time::sleep(WAIT).await;
            start.elapsed()
        });
        let blocker = goro::spawn(blocker);
        let t = timer.await.unwrap();
        (t, blocker.await.unwrap())
    })
}

#[test]
fn timer_fires_while_the_only_worker_is_blocked() {
    let rt = one_worker();
    let (late, ()) = timer_behind(&rt, async { std::thread::sleep(BLOCK) });
    assert!(late >= WAIT, "fired early: {late:?}");
    assert!(
        late < BOUND,
        "timer waited for the blocked worker: {late:?}"
    );
    assert!(rt.metrics().handoffs >= 1, "expected a hand-off");
}

#[test]
fn socket_read_completes_while_the_only_worker_is_blocked() {
    let rt = one_worker();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (go, started) = std::sync::mpsc::channel::<()>();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        started.recv().unwrap();
        std::thread::sleep(WAIT);
        s.write_all(b"x").unwrap();
        std::thread::sleep(Duration::from_secs(1));
    });
    let took = rt.block_on(async move {
        let stream = goro::net::TcpStream::connect(addr).await.unwrap();
        goro::time::sleep(Duration::from_millis(20)).await;
        let start = Instant::now();
        go.send(()).unwrap();
        let reader = goro::spawn(async move {
            let mut b = [0u8; 1];
            stream.read_exact(&mut b).await.unwrap();
            start.elapsed()
        });
        let blocker = goro::spawn(async { std::thread::sleep(BLOCK) });
        let t = reader.await.unwrap();
        blocker.await.unwrap();
        t
    });
    peer.join().unwrap();
    assert!(took < BOUND, "read waited for the blocked worker: {took:?}");
}

#[test]
fn block_in_place_hands_off_at_once() {
    // With hand-off detection effectively disabled, only block_in_place's
    // immediate hand-off can keep the timer on time.
    let rt = Builder::new()
        .worker_threads(1)
        .handoff_after(Duration::from_secs(60))
        .build()
        .unwrap();
    let (late, blocker) = timer_behind(&rt, async {
        goro::task::block_in_place(|| std::thread::sleep(BLOCK));
        // After the blocking part the task continues normally.
        goro::time::sleep(Duration::from_millis(1)).await;
        7
    });
    assert_eq!(blocker, 7);
    assert!(late < BOUND, "block_in_place did not hand off: {late:?}");
}

#[test]
fn without_handoff_the_timer_waits() {
    // The control experiment: no hand-off (detection off, no spare threads)
    // means the timer really is stuck behind the blocked worker, which shows
    // the tests above measure the hand-off and not something else.
    let rt = Builder::new()
        .worker_threads(1)
        .handoff_after(Duration::from_secs(60))
        .max_spare_threads(0)
        .build()
        .unwrap();
    let (late, ()) = timer_behind(&rt, async {
        std::thread::sleep(Duration::from_millis(400))
    });
    assert!(late >= Duration::from_millis(350), "{late:?}");
}

#[test]
fn every_task_runs_exactly_once_across_handoffs() {
    // Tasks that block for longer than the hand-off threshold, mixed with
    // short ones: Ps move between threads many times. Each task records its
    // runs; every one must complete exactly once.
    let rt = Builder::new()
        .worker_threads(2)
        .handoff_after(Duration::from_millis(2))
        .build()
        .unwrap();
    const TASKS: usize = 400;
    let runs: Arc<Vec<AtomicUsize>> = Arc::new((0..TASKS).map(|_| AtomicUsize::new(0)).collect());
    let r = runs.clone();
    let done = rt.block_on(async move {
        let handles: Vec<_> = (0..TASKS)
            .map(|i| {
                let r = r.clone();
                goro::spawn(async move {
                    if i % 25 == 0 {
                        std::thread::sleep(Duration::from_millis(15));
                    }
                    goro::task::yield_now().await;
                    r[i].fetch_add(1, Ordering::SeqCst);
                    i
                })
            })
            .collect();
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        sum
    });
    assert_eq!(done, (0..TASKS).sum::<usize>());
    for (i, n) in runs.iter().enumerate() {
        assert_eq!(n.load(Ordering::SeqCst), 1, "task {i}");
    }
    assert!(rt.metrics().handoffs >= 1);
}

#[test]
fn shutdown_completes_while_a_task_is_blocked() {
    let rt = one_worker();
    rt.block_on(async {
        goro::spawn(async { std::thread::sleep(Duration::from_secs(3)) });
        // Give sysmon time to hand the P off.
        goro::time::sleep(Duration::from_millis(100)).await;
    });
    let start = Instant::now();
    drop(rt);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "drop waited for the blocked task: {:?}",
        start.elapsed()
    );
}

#[test]
fn panicking_tasks_do_not_take_down_workers() {
    let rt = one_worker();
    rt.block_on(async {
        for _ in 0..20 {
            let e = goro::spawn(async { panic!("boom") }).await.unwrap_err();
            assert!(e.is_panic());
        }
        // The only worker is still alive, and sysmon still hands off.
        assert_eq!(goro::spawn(async { 5 }).await.unwrap(), 5);
    });
    // No panic killed the worker thread. On a loaded machine, printing 20
    // panic messages can take long enough for sysmon to hand the P to a
    // spare thread; only then may there be more than one thread.
    let m = rt.metrics();
    if m.handoffs == 0 {
        assert_eq!(m.worker_threads, 1, "{m:?}");
    } else {
        assert!(m.worker_threads >= 1, "{m:?}");
    }
}

#[test]
fn stuck_thread_becomes_a_spare_and_the_pool_shrinks_back() {
    let rt = Builder::new()
        .worker_threads(1)
        .thread_keep_alive(Duration::from_millis(200))
        .build()
        .unwrap();
    rt.block_on(async {
        let blocker = goro::spawn(async { std::thread::sleep(Duration::from_millis(200)) });
        goro::time::sleep(Duration::from_millis(100)).await;
        blocker.await.unwrap();
    });
    assert!(rt.metrics().handoffs >= 1);
    // The extra thread started for the hand-off exits after keep_alive.
    let deadline = Instant::now() + Duration::from_secs(5);
    while rt.metrics().worker_threads > 1 {
        assert!(
            Instant::now() < deadline,
            "spare thread never exited: {:?}",
            rt.metrics()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // And the runtime still works.
    assert_eq!(
        rt.block_on(async { goro::spawn(async { 1 }).await.unwrap() }),
        1
    );
}
