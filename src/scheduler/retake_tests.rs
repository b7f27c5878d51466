//! Deterministic tests of sysmon's retake racing the M that leaves its poll
//! (Go's `retake` vs. `exitsyscall`): sysmon judges a P stuck while its M is
//! inside a poll, the poll returns, the M goes on to look for work on the
//! P, and only then does sysmon try to take the P. Exactly one must win:
//! the P is not handed to a second M while the first runs its queue.
//! Also sysmon's last resort for tasks left on an idle P.

use super::Shared;
use super::machine::Machine;
use super::sysmon;
use crate::runtime::Builder;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};

/// Waits (bounded, so a broken runtime fails instead of hanging) for `flag`.
fn wait_for(flag: &AtomicBool, what: &str) {
    let t = Instant::now();
    while !flag.load(Ordering::SeqCst) {
        assert!(t.elapsed() < Duration::from_secs(10), "timed out: {what}");
        std::thread::yield_now();
    }
}

/// A foreign waker that holds the thread calling `wake` until released:
/// fired by M0 from its P's timers, it parks M0 inside `find_work` — after
/// the ownership check that follows a poll, before the next poll starts.
struct HoldingWaker {
    entered: AtomicBool,
    release: AtomicBool,
}

impl Wake for HoldingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.entered.store(true, Ordering::SeqCst);
        wait_for(&self.release, "the test to release the waker");
    }
}

/// What sysmon saw of P0 while its M was inside the poll: the owner word,
/// and that M with its poll count.
fn judge(shared: &Shared) -> (u64, Arc<Machine>, u64) {
    let word = shared.ps[0].owner.word();
    let (m, poll) = sysmon::in_task_poll(shared, word)
        .expect("M0 is inside the poll: sysmon may judge P0 stuck");
    (word, m, poll)
}

/// sysmon's retake from what it saw.
fn retake(shared: &Shared, (word, m, poll): (u64, Arc<Machine>, u64)) -> bool {
    sysmon::retake(shared, &shared.ps[0], word, &m, poll)
}

#[test]
fn retake_judged_during_a_poll_fails_once_the_poll_returned() {
    // sysmon itself never hands off here: the test plays its part.
    let rt = Builder::new()
        .worker_threads(1)
        .handoff_after(Duration::from_secs(3600))
        .build()
        .unwrap();
    let shared = rt.handle().scheduler_for_tests();
    let waker = Arc::new(HoldingWaker {
        entered: AtomicBool::new(false),
        release: AtomicBool::new(false),
    });
    let in_poll = Arc::new(AtomicBool::new(false));
    let poll_may_return = Arc::new(AtomicBool::new(false));
    let due = Arc::new(std::sync::Mutex::new(None::<Instant>));
    let task = {
        let (waker, in_poll, poll_may_return, due) = (
            waker.clone(),
            in_poll.clone(),
            poll_may_return.clone(),
            due.clone(),
        );
        rt.spawn(async move {
            // A timer on P0 with a foreign waker, due while this poll runs.
            // It must be pending when armed: on a slow machine (valgrind)
            // 1 ms may pass before the first poll, so lengthen it until so.
            let w = Waker::from(waker);
            let mut d = Duration::from_millis(1);
            let sleep = loop {
                let at = Instant::now() + d;
                let mut sleep = Box::pin(crate::time::sleep_until(at));
                if sleep
                    .as_mut()
                    .poll(&mut Context::from_waker(&w))
                    .is_pending()
                {
                    *due.lock().unwrap() = Some(at);
                    break sleep;
                }
                d *= 10;
            };
            in_poll.store(true, Ordering::SeqCst);
            wait_for(&poll_may_return, "the test to end the poll");
            Some(sleep) // kept alive until M0 fires it
        })
    };
    wait_for(&in_poll, "the task's poll");
    let seen = judge(&shared);
    // Let the timer become due.
    let at = due.lock().unwrap().expect("the task armed its timer");
    while Instant::now() <= at {
        std::thread::sleep(Duration::from_millis(1));
    }
    poll_may_return.store(true, Ordering::SeqCst);
    // M0's poll returned, it checked its ownership and is firing P0's timers.
    wait_for(&waker.entered, "M0 to fire the timer");
    let handed = retake(&shared, seen);
    waker.release.store(true, Ordering::SeqCst);
    drop(rt.block_on(task).unwrap());
    assert!(
        !handed,
        "P0 was handed off although its M had left the poll and was using it"
    );
    assert_eq!(rt.metrics().handoffs, 0);
}

#[test]
fn retake_during_the_poll_hands_off_and_the_stuck_m_lets_go() {
    let rt = Builder::new()
        .worker_threads(1)
        .handoff_after(Duration::from_secs(3600))
        .build()
        .unwrap();
    let shared = rt.handle().scheduler_for_tests();
    let in_poll = Arc::new(AtomicBool::new(false));
    let poll_may_return = Arc::new(AtomicBool::new(false));
    let b_ran = Arc::new(AtomicBool::new(false));
    let task = {
        let (in_poll, poll_may_return, b_ran) =
            (in_poll.clone(), poll_may_return.clone(), b_ran.clone());
        rt.spawn(async move {
            // B waits on P0 behind this stuck poll.
            let b = crate::spawn(async move { b_ran.store(true, Ordering::SeqCst) });
            in_poll.store(true, Ordering::SeqCst);
            wait_for(&poll_may_return, "the test to end the poll");
            b.await.unwrap();
        })
    };
    wait_for(&in_poll, "the task's poll");
    let seen = judge(&shared);
    assert!(retake(&shared, seen), "M0 is still inside the judged poll");
    // The new owner runs B while M0's poll is still stuck.
    wait_for(&b_ran, "B to run on the M P0 was handed to");
    poll_may_return.store(true, Ordering::SeqCst);
    rt.block_on(task).unwrap();
    assert_eq!(rt.metrics().handoffs, 1);
}

#[test]
fn sysmon_wakes_an_m_for_tasks_left_on_an_idle_p() {
    let rt = Builder::new().worker_threads(2).build().unwrap();
    let shared = rt.handle().scheduler_for_tests();
    let t = Instant::now();
    while shared.idle.npidle() < 2 {
        assert!(t.elapsed() < Duration::from_secs(10), "workers never idle");
        std::thread::sleep(Duration::from_millis(1));
    }
    // A task on idle P1's queue with nobody told: what a push racing the
    // P's release would leave behind.
    let ran = Arc::new(AtomicBool::new(false));
    let meta = super::TaskMeta::new(&shared, None, std::panic::Location::caller());
    let (runnable, task) = {
        let ran = ran.clone();
        async_task::Builder::new().metadata(meta).spawn(
            move |_| async move { ran.store(true, Ordering::SeqCst) },
            async_task::WithInfo(super::ready::schedule_task),
        )
    };
    task.detach();
    assert!(shared.ps[1].runq.push(runnable).is_ok());
    wait_for(&ran, "the task on the idle P to run");
}
