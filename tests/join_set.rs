//! `JoinSet`: completion order, abort_all, abort on drop, len bookkeeping,
//! panics, and waiting without polling in a loop.

mod support;

use goro::task::JoinSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use support::rt::workers;

/// Runs a test body on a fresh two-worker runtime.
fn run<F: std::future::Future<Output = ()> + Send + 'static>(f: F) {
    workers(2).block_on(f);
}

const PROMPT: Duration = Duration::from_secs(5);

/// Counts its drops: observes that an aborted task's future was dropped.
struct DropGuard(Arc<AtomicUsize>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(start.elapsed() < PROMPT, "timed out waiting for {what}");
        goro::time::sleep(Duration::from_millis(2)).await;
    }
}

#[test]
fn results_come_in_completion_order() {
    run(async {
        // Each task waits for its own release; they are released in an
        // order unrelated to spawn order.
        let mut set = JoinSet::new();
        let mut releases = Vec::new();
        for i in 0..5u32 {
            let (tx, rx) = async_channel::bounded::<()>(1);
            releases.push(tx);
            set.spawn(async move {
                rx.recv().await.unwrap();
                i
            });
        }
        for &i in &[3usize, 0, 4, 1, 2] {
            releases[i].send(()).await.unwrap();
            let got = goro::time::timeout(PROMPT, set.join_next())
                .await
                .expect("join_next hung")
                .unwrap()
                .unwrap();
            assert_eq!(got, i as u32);
        }
        assert!(set.join_next().await.is_none());
    });
}

#[test]
fn abort_all_yields_cancelled_errors_and_drops_the_futures() {
    run(async {
        let dropped = Arc::new(AtomicUsize::new(0));
        let mut set = JoinSet::new();
        for _ in 0..10 {
            let guard = DropGuard(dropped.clone());
            set.spawn(async move {
                let _guard = guard;
                std::future::pending::<u32>().await
            });
        }
        set.spawn(async { 99 });
        // Let the quick one finish first: it keeps its output.
        goro::time::sleep(Duration::from_millis(50)).await;
        set.abort_all();
        assert_eq!(set.len(), 11);
        let (mut cancelled, mut ok) = (0, Vec::new());
        while let Some(r) = goro::time::timeout(PROMPT, set.join_next()).await.unwrap() {
            match r {
                Ok(v) => ok.push(v),
                Err(e) => {
                    assert!(e.is_cancelled(), "{e}");
                    cancelled += 1;
                }
            }
        }
        assert_eq!((cancelled, ok), (10, vec![99]));
        wait_until("aborted futures to drop", || {
            dropped.load(Ordering::SeqCst) == 10
        })
        .await;
    });
}

#[test]
fn dropping_the_set_aborts_its_tasks() {
    run(async {
        let dropped = Arc::new(AtomicUsize::new(0));
        let finished = Arc::new(AtomicUsize::new(0));
        let mut set = JoinSet::new();
        for _ in 0..8 {
            let guard = DropGuard(dropped.clone());
            let finished = finished.clone();
            set.spawn(async move {
                let _guard = guard;
                goro::time::sleep(Duration::from_secs(3600)).await;
                finished.fetch_add(1, Ordering::SeqCst);
            });
        }
        goro::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(dropped.load(Ordering::SeqCst), 0);
        drop(set);
        wait_until("the set's tasks to be dropped", || {
            dropped.load(Ordering::SeqCst) == 8
        })
        .await;
        assert_eq!(finished.load(Ordering::SeqCst), 0);
    });
}

#[test]
fn len_counts_tasks_until_joined() {
    run(async {
        let mut set = JoinSet::new();
        assert!(set.is_empty());
        for i in 0..4 {
            set.spawn(async move { i });
        }
        assert_eq!(set.len(), 4);
        // Finished but not joined: still counted.
        goro::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(set.len(), 4);
        set.join_next().await.unwrap().unwrap();
        assert_eq!(set.len(), 3);
        while set.join_next().await.is_some() {}
        assert_eq!(set.len(), 0);
        assert!(set.is_empty());
        assert!(set.join_next().await.is_none());
        // Reusable after emptying.
        set.spawn(async { 5 });
        assert_eq!(set.len(), 1);
        assert_eq!(set.join_next().await.unwrap().unwrap(), 5);
    });
}

#[test]
fn a_panic_is_one_error_and_the_others_complete() {
    run(async {
        let mut set = JoinSet::new();
        set.spawn(async { panic!("task 0 fails") });
        for i in 1..4 {
            set.spawn(async move { i });
        }
        let (mut panics, mut sum) = (0, 0);
        while let Some(r) = set.join_next().await {
            match r {
                Ok(v) => sum += v,
                Err(e) => {
                    assert!(e.is_panic());
                    assert_eq!(e.to_string(), "task panicked: task 0 fails");
                    panics += 1;
                }
            }
        }
        assert_eq!((panics, sum), (1, 6));
    });
}

#[test]
fn abort_handle_cancels_one_task() {
    run(async {
        let mut set = JoinSet::new();
        let slow = set.spawn(async {
            goro::time::sleep(Duration::from_secs(3600)).await;
            "slow"
        });
        let (tx, rx) = async_channel::bounded::<()>(1);
        set.spawn(async move {
            rx.recv().await.unwrap();
            "fast"
        });
        let slow2 = slow.clone();
        slow2.abort();
        let first = goro::time::timeout(PROMPT, set.join_next()).await.unwrap();
        assert!(first.unwrap().unwrap_err().is_cancelled());
        assert!(slow.is_finished());
        tx.send(()).await.unwrap();
        assert_eq!(set.join_next().await.unwrap().unwrap(), "fast");
    });
}

/// Wraps a future and counts how often it is polled.
struct CountPolls<F> {
    inner: Pin<Box<F>>,
    polls: Arc<AtomicUsize>,
}

impl<F: Future> Future for CountPolls<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.polls.fetch_add(1, Ordering::SeqCst);
        self.inner.as_mut().poll(cx)
    }
}

#[test]
fn join_next_waits_without_polling_in_a_loop() {
    run(async {
        let mut set = JoinSet::new();
        for ms in [150u64, 300] {
            set.spawn(async move {
                goro::time::sleep(Duration::from_millis(ms)).await;
                ms
            });
        }
        let polls = Arc::new(AtomicUsize::new(0));
        for expected in [150, 300] {
            let next = CountPolls {
                inner: Box::pin(set.join_next()),
                polls: polls.clone(),
            };
            assert_eq!(next.await.unwrap().unwrap(), expected);
        }
        // Each join_next: one poll to register, one when woken (a spurious
        // wake or two is tolerated; a busy loop would be thousands).
        let n = polls.load(Ordering::SeqCst);
        assert!(n <= 8, "join_next was polled {n} times while waiting");
    });
}

#[test]
fn many_tasks_all_joined_once() {
    run(async {
        let mut set = JoinSet::new();
        for i in 0..2000u64 {
            set.spawn(async move {
                goro::task::yield_now().await;
                i
            });
        }
        let mut seen = vec![false; 2000];
        while let Some(r) = goro::time::timeout(PROMPT, set.join_next()).await.unwrap() {
            let i = r.unwrap() as usize;
            assert!(!seen[i], "task {i} joined twice");
            seen[i] = true;
        }
        assert!(seen.iter().all(|&s| s));
    });
}

#[test]
fn spawn_on_a_given_runtime_and_try_join_next() {
    let rt = goro::runtime::Runtime::builder()
        .worker_threads(1)
        .build()
        .unwrap();
    let mut set = JoinSet::new();
    set.spawn_on(async { 11 }, &rt.handle());
    let got = rt.block_on(async {
        let start = std::time::Instant::now();
        loop {
            if let Some(r) = set.try_join_next() {
                break r;
            }
            assert!(start.elapsed() < PROMPT);
            goro::time::sleep(Duration::from_millis(1)).await;
        }
    });
    assert_eq!(got.unwrap(), 11);
    assert!(set.try_join_next().is_none());
}
