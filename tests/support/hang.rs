//! Turning hangs into failures. A lost wake-up shows up as a test that
//! never finishes; these helpers bound every test body so it fails with a
//! message instead, and a watchdog thread aborts the whole binary if even
//! that does not happen (a hang inside the runtime stops its timers too).

use std::future::Future;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

/// How long [`run`] lets a test body take before calling it hung:
/// generous, since the suite runs on a small, busy machine.
pub const HANG: Duration = Duration::from_secs(120);

/// Aborts the process if the returned guard is still alive after `limit`.
pub fn watchdog(limit: Duration) -> mpsc::Sender<()> {
    let (tx, rx) = mpsc::channel::<()>();
    let name = std::thread::current().name().unwrap_or("test").to_owned();
    std::thread::spawn(move || {
        if let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
            eprintln!("{name}: still running after {limit:?}; aborting");
            std::process::abort();
        }
    });
    tx
}

/// Runs a test body on the default runtime, failing if it takes longer
/// than [`HANG`].
pub fn run<F: Future>(f: F) -> F::Output {
    run_within(HANG, f)
}

/// Runs a test body on the default runtime, failing if it takes longer
/// than `hang` (and aborting if even the failure does not come).
pub fn run_within<F: Future>(hang: Duration, f: F) -> F::Output {
    let _dog = watchdog(hang + Duration::from_secs(30));
    goro::block_on(async move {
        match goro::time::timeout(hang, f).await {
            Ok(v) => v,
            Err(_) => panic!("test did not finish within {hang:?} (lost wake-up?)"),
        }
    })
}

/// Runs `f` on a new thread; the receiver gets its result (nothing, if it
/// hangs or panics), so the test waits on it with a timeout of its own.
pub fn on_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> mpsc::Receiver<T> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx
}

/// Runs `f` on its own thread and fails the test if it takes longer than
/// `limit`, so a hang fails instead of stalling the suite. A panic in `f`
/// is re-raised here.
pub fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => {
            let _ = thread.join();
            v
        }
        Err(RecvTimeoutError::Disconnected) => match thread.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the thread sends before finishing"),
        },
        Err(RecvTimeoutError::Timeout) => panic!("test body did not finish within {limit:?}"),
    }
}
