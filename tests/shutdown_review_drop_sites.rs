//! Review of the shutdown contract (DESIGN.md §3, "Runtime shutdown"):
//! unusual places a `Runtime` ends up dropped in, each of which a user can
//! reach without doing anything wrong — a thread-local destructor at thread
//! exit (a per-thread runtime), the shutdown of another runtime (a runtime
//! owned by a task), the cancellation of one of its own tasks (a runtime
//! moved into the task that is then aborted), and its own stall callback
//! (a watchdog that shuts a stalled runtime down). None may deadlock,
//! panic or abort, and the dropped runtime's waiters are released.
//!
//! Every wait has a timeout, so a hang fails the test.

mod support;

use goro::runtime::{Builder, Runtime, StallReport};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;
use support::rt::workers;

const PROMPT: Duration = Duration::from_secs(10);

/// A runtime with a task parked on a socket and one on a sleep, and a
/// thread parked on the runtime's sleep through its handle; the receiver
/// hears from all three once the runtime is gone.
fn busy_runtime() -> (Runtime, mpsc::Receiver<&'static str>) {
    let rt = workers(2);
    let (tx, rx) = mpsc::channel();
    struct Tell(mpsc::Sender<&'static str>, &'static str);
    impl Drop for Tell {
        fn drop(&mut self) {
            let _ = self.0.send(self.1);
        }
    }
    let t = Tell(tx.clone(), "socket task");
    rt.spawn(async move {
        let _t = t;
        let s = goro::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let _ = s.recv(&mut [0u8; 8]).await;
    });
    let t = Tell(tx.clone(), "sleep task");
    rt.spawn(async move {
        let _t = t;
        goro::time::sleep(Duration::from_secs(3600)).await;
    });
    let h = rt.handle();
    std::thread::spawn(move || {
        h.block_on(goro::time::sleep(Duration::from_secs(3600)));
        let _ = tx.send("handle.block_on");
    });
    rt.block_on(goro::time::sleep(Duration::from_millis(30)));
    (rt, rx)
}

#[track_caller]
fn expect_released(rx: &mpsc::Receiver<&'static str>, what: &str) {
    let mut got: Vec<_> = (0..3)
        .map(|_| {
            rx.recv_timeout(PROMPT)
                .unwrap_or_else(|_| panic!("{what}: a waiter of the dropped runtime hung"))
        })
        .collect();
    got.sort_unstable();
    assert_eq!(
        got,
        ["handle.block_on", "sleep task", "socket task"],
        "{what}"
    );
}

#[test]
fn a_runtime_in_a_thread_local_is_dropped_at_thread_exit() {
    thread_local! {
        static RT: std::cell::RefCell<Option<Runtime>> = const { std::cell::RefCell::new(None) };
    }
    let (tx, rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        let (rt, released) = busy_runtime();
        RT.with(|slot| *slot.borrow_mut() = Some(rt));
        tx.send(released).unwrap();
        // The thread ends; its thread-locals, the runtime among them, are
        // destroyed after this.
    });
    let released = rx.recv().unwrap();
    let (done_tx, done) = mpsc::channel();
    std::thread::spawn(move || done_tx.send(t.join().is_ok()));
    assert_eq!(
        done.recv_timeout(PROMPT),
        Ok(true),
        "the thread hung or panicked at exit"
    );
    expect_released(&released, "thread-local");
}

#[test]
fn a_runtime_owned_by_a_task_is_dropped_by_the_other_runtimes_shutdown() {
    let outer = workers(2);
    let (inner, released) = busy_runtime();
    let inner_handle = inner.handle();
    outer.spawn(async move {
        let _inner = inner;
        std::future::pending::<()>().await
    });
    outer.block_on(goro::time::sleep(Duration::from_millis(20)));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        drop(outer);
        let _ = tx.send(());
    });
    rx.recv_timeout(PROMPT)
        .expect("dropping the outer runtime hung");
    expect_released(&released, "owned by a task of another runtime");
    // The inner runtime is shut down, not just unreachable.
    let r = inner_handle.block_on(inner_handle.spawn(async {}));
    assert!(r.unwrap_err().is_cancelled());
}

#[test]
fn a_runtime_moved_into_its_own_task_is_dropped_when_the_task_is_aborted() {
    let (rt, released) = busy_runtime();
    let handle = rt.handle();
    let task = handle.spawn(async move {
        let _rt = rt;
        std::future::pending::<()>().await
    });
    handle.block_on(goro::time::sleep(Duration::from_millis(20)));
    task.abort();
    expect_released(&released, "aborted task that owned its runtime");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(
            futures::executor::block_on(task)
                .unwrap_err()
                .is_cancelled(),
        );
    });
    assert_eq!(rx.recv_timeout(PROMPT), Ok(true));
}

#[test]
fn a_runtime_dropped_by_its_own_stall_callback() {
    let slot: Arc<Mutex<Option<Runtime>>> = Arc::new(Mutex::new(None));
    let (tx, rx) = mpsc::channel();
    let rt = {
        let slot = slot.clone();
        let tx = Mutex::new(tx);
        Builder::new()
            .worker_threads(2)
            .stall_threshold(Duration::from_millis(50))
            .on_stall(move |_: &StallReport| {
                // A watchdog: shut the stalled runtime down.
                let rt = slot.lock().unwrap().take();
                if let Some(rt) = rt {
                    rt.shutdown_timeout(Duration::from_secs(1));
                    let _ = tx.lock().unwrap().send(());
                }
            })
            .build()
            .unwrap()
    };
    let handle = rt.handle();
    let sleeper = rt.spawn(goro::time::sleep(Duration::from_secs(3600)));
    *slot.lock().unwrap() = Some(rt);
    // A task that blocks its worker well past the threshold.
    drop(handle.spawn(async {
        std::thread::sleep(Duration::from_millis(500));
    }));
    rx.recv_timeout(PROMPT)
        .expect("the stall callback's shutdown hung (or never ran)");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(
            futures::executor::block_on(sleeper)
                .unwrap_err()
                .is_cancelled(),
        );
    });
    assert_eq!(rx.recv_timeout(PROMPT), Ok(true));
}
