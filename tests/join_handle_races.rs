//! Every operation on a task's handles at once, round after round: an
//! awaiter (or a dropped `JoinHandle`), aborts from other threads, a
//! thread asking `is_finished` over and over, and the task completing,
//! panicking or being cancelled on a worker. Checked each round:
//! nothing hangs; `is_finished` never goes back from true to false; a
//! cancelled result only if an abort was made, a panic only from a
//! panicking task; and in the end every future, output and panic payload
//! was dropped exactly once.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use support::drops::{Counted, wait_until};
use support::hang::watchdog;
use support::rt::workers;

const PATIENCE: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Counts {
    futures: AtomicUsize,
    outputs_made: AtomicUsize,
    outputs_dropped: Arc<AtomicUsize>,
    panics_made: AtomicUsize,
    payloads_dropped: Arc<AtomicUsize>,
    futures_dropped: Arc<AtomicUsize>,
}

#[test]
fn handles_racing_each_other_and_the_task() {
    const ROUNDS: usize = 400;
    let _dog = watchdog(Duration::from_secs(300));
    let rt = workers(2);
    let counts = Arc::new(Counts::default());
    for i in 0..ROUNDS {
        let panics = i % 5 == 4;
        let guard = Counted(counts.futures_dropped.clone());
        counts.futures.fetch_add(1, Ordering::SeqCst);
        let c = counts.clone();
        let handle = rt.spawn(async move {
            let _guard = guard;
            for _ in 0..(i % 3) {
                goro::task::yield_now().await;
            }
            if panics {
                c.panics_made.fetch_add(1, Ordering::SeqCst);
                std::panic::panic_any(Counted(c.payloads_dropped.clone()));
            }
            c.outputs_made.fetch_add(1, Ordering::SeqCst);
            Counted(c.outputs_dropped.clone())
        });
        let abort = handle.abort_handle();
        let aborts = i % 3 != 0;
        let aborted = Arc::new(AtomicBool::new(false));
        let start = Arc::new(Barrier::new(3));
        let aborter = {
            let (abort, aborted, start) = (abort.clone(), aborted.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                if aborts {
                    if i % 2 == 0 {
                        std::thread::yield_now();
                    }
                    aborted.store(true, Ordering::SeqCst);
                    abort.abort();
                    abort.abort();
                }
            })
        };
        let watcher = {
            let (abort, start) = (abort.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                let deadline = Instant::now() + PATIENCE;
                let mut seen = false;
                loop {
                    let now = abort.is_finished();
                    assert!(!seen || now, "is_finished went from true to false");
                    seen = now;
                    if seen || Instant::now() > deadline {
                        // A few more looks after it finished.
                        for _ in 0..20 {
                            assert!(abort.is_finished(), "is_finished went back to false");
                        }
                        return seen;
                    }
                    std::thread::yield_now();
                }
            })
        };
        start.wait();
        if i % 4 == 3 {
            drop(handle);
        } else {
            let result = rt.block_on(async move {
                goro::time::timeout(PATIENCE, handle)
                    .await
                    .expect("the awaiter was never woken")
            });
            match result {
                Ok(out) => drop(out),
                Err(e) if e.is_panic() => {
                    assert!(panics, "a panic from a task that does not panic");
                    drop(e);
                }
                Err(e) => {
                    assert!(e.is_cancelled());
                    assert!(
                        aborted.load(Ordering::SeqCst),
                        "cancelled, but nobody aborted"
                    );
                }
            }
        }
        aborter.join().unwrap();
        assert!(watcher.join().unwrap(), "the task never finished");
        drop(abort);
        wait_until("the round's future to be dropped", || {
            counts.futures_dropped.load(Ordering::SeqCst) == i + 1
        });
        wait_until("every output to be dropped", || {
            counts.outputs_dropped.load(Ordering::SeqCst)
                == counts.outputs_made.load(Ordering::SeqCst)
        });
        wait_until("every panic payload to be dropped", || {
            counts.payloads_dropped.load(Ordering::SeqCst)
                == counts.panics_made.load(Ordering::SeqCst)
        });
    }
    drop(rt);
    assert_eq!(counts.futures_dropped.load(Ordering::SeqCst), ROUNDS);
    assert_eq!(
        counts.outputs_dropped.load(Ordering::SeqCst),
        counts.outputs_made.load(Ordering::SeqCst)
    );
    assert_eq!(
        counts.payloads_dropped.load(Ordering::SeqCst),
        counts.panics_made.load(Ordering::SeqCst)
    );
}
