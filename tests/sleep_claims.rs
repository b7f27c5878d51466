//! The paths through which a `Sleep` can claim a task's header timer
//! (scheduler/sleep_timer.rs) beyond `sleep_reuse.rs`: inside
//! `block_in_place` + a nested `block_on` in a task (the task's poll frame
//! stays installed), a sleep first polled by a different task than the one
//! that created it, a claimed sleep dropped on a plain thread while its
//! task arms more sleeps, and `select`-style pairs with resets. Every sleep
//! must complete at or after its deadline and nothing may hang.

mod support;

use goro::time::sleep;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::sleeps::{assert_not_early, poll_once};

#[test]
fn claims_through_nested_block_on_foreign_tasks_and_threads() {
    let rt = goro::runtime::Runtime::new().unwrap();
    let (done_tx, done_rx) = mpsc::channel();
    rt.spawn(async move {
        let mut handles = Vec::new();
        for i in 0..64u64 {
            handles.push(goro::spawn(async move {
                for round in 0..4u64 {
                    let ms = 1 + (i * 7 + round * 3) % 9;
                    // Nested block_on inside block_in_place inside the task:
                    // the sleep borrows this task's timer from a nested
                    // executor, while an outer sleep may hold it already.
                    let mut outer = sleep(Duration::from_millis(ms * 2));
                    let outer_at = Instant::now() + Duration::from_millis(ms * 2);
                    let armed_outer = i % 2 == 0 && !poll_once(&mut outer).await;
                    let at = Instant::now() + Duration::from_millis(ms);
                    goro::task::block_in_place(|| {
                        goro::block_on(async {
                            sleep(Duration::from_millis(ms)).await;
                        })
                    });
                    assert_not_early(at, "nested block_on sleep");
                    if armed_outer {
                        outer.await;
                        assert_not_early(outer_at, "outer sleep");
                    }
                    // A sleep created here, first polled (claimed) by
                    // another task, which hands it back armed.
                    let s = sleep(Duration::from_millis(ms));
                    let s_at = Instant::now() + Duration::from_millis(ms);
                    let mut s = goro::spawn(async move {
                        let mut s = s;
                        let _ = poll_once(&mut s).await;
                        // In a tuple only to hand it back (clippy flags a
                        // future returned from an async block).
                        (s,)
                    })
                    .await
                    .unwrap()
                    .0;
                    // Our own timer is free: this one claims it.
                    let mut mine = sleep(Duration::from_millis(ms));
                    let mine_at = Instant::now() + Duration::from_millis(ms);
                    if !poll_once(&mut mine).await {
                        // Reset while claimed, then race both.
                        let reset_at = Instant::now() + Duration::from_millis(ms + 1);
                        mine.reset(reset_at);
                        (&mut s).await;
                        assert_not_early(s_at, "sleep claimed by another task");
                        mine.await;
                        assert_not_early(reset_at, "reset sleep");
                    } else {
                        assert_not_early(mine_at, "own sleep");
                        s.await;
                    }
                    // A claimed sleep dropped on a plain thread while this
                    // task goes on sleeping on its timer.
                    let mut away = sleep(Duration::from_secs(3600));
                    let _ = poll_once(&mut away).await;
                    let t = std::thread::spawn(move || drop(away));
                    let later = Instant::now() + Duration::from_millis(ms);
                    sleep(Duration::from_millis(ms)).await;
                    assert_not_early(later, "sleep after a claimed sleep left");
                    t.join().unwrap();
                }
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        let _ = done_tx.send(());
    });
    done_rx
        .recv_timeout(Duration::from_secs(120))
        .expect("claims stress hung");
}
