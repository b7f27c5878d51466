//! Task destructors at runtime shutdown run on the thread dropping the
//! runtime, with its runtime context and whatever locks it holds (a
//! reentrant lock such as stdout's); only the tasks' memory is freed on the
//! short-lived `goro-shutdown` thread (scheduler/shutdown.rs). Both tests
//! failed while the whole drain ran on that thread.

use goro::runtime::{Handle, Runtime};
use std::io::Write;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Locks stdout (a reentrant lock) when dropped, as `println!` does.
struct LocksStdoutOnDrop;

impl Drop for LocksStdoutOnDrop {
    fn drop(&mut self) {
        let _out = std::io::stdout().lock();
    }
}

/// A program that holds stdout's lock (a common way to write fast output)
/// and drops its runtime while a task whose destructor prints is pending.
/// Before the merge the destructor ran on this thread and re-entered the
/// lock; now it runs on `goro-shutdown`, which blocks on the lock while
/// this thread waits for it: `drop(rt)` never returns.
#[test]
fn dropping_a_runtime_while_holding_a_reentrant_lock_does_not_hang() {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let rt = Runtime::new().unwrap();
        let guard = LocksStdoutOnDrop;
        drop(rt.spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await
        }));
        let out = std::io::stdout().lock();
        drop(rt);
        drop(out);
        let _ = tx.send(());
    });
    if rx.recv_timeout(Duration::from_secs(30)).is_err() {
        // The hung thread holds stdout's lock, so the harness could not
        // print this failure (it would hang too): report on stderr and exit.
        let _ = std::io::stderr().write_all(
            b"FAILED dropping_a_runtime_while_holding_a_reentrant_lock_does_not_hang: \
              drop(rt) hung: the goro-shutdown thread waits for the stdout lock \
              that the dropping thread holds\n",
        );
        std::process::exit(101);
    }
}

/// What a task's destructor sees as the current runtime.
struct SeesRuntimeOnDrop(Arc<Mutex<Option<bool>>>);

impl Drop for SeesRuntimeOnDrop {
    fn drop(&mut self) {
        *self.0.lock().unwrap() = Some(Handle::try_current().is_some());
    }
}

/// A runtime dropped from inside one of its own tasks (supported:
/// shutdown skips joining the calling worker). Before the merge the other
/// tasks' destructors ran on that worker, inside the runtime's context
/// (so `goro::spawn` in a destructor went to the runtime being shut down,
/// which cancels it); now they run on a thread with no runtime, where
/// `Handle::try_current()` is `None` and `goro::spawn` starts the
/// process-wide default runtime instead.
#[test]
fn task_destructors_at_shutdown_keep_the_runtime_context() {
    let rt = Arc::new(Mutex::new(Some(Runtime::new().unwrap())));
    let seen = Arc::new(Mutex::new(None));
    let handle = rt.lock().unwrap().as_ref().unwrap().handle().clone();
    let probe = SeesRuntimeOnDrop(seen.clone());
    drop(handle.spawn(async move {
        let _probe = probe;
        std::future::pending::<()>().await
    }));
    let (tx, rx) = mpsc::channel();
    let owner = rt.clone();
    drop(handle.spawn(async move {
        // The last `Runtime`: dropped here, on one of its workers.
        let rt = owner.lock().unwrap().take();
        drop(rt);
        let _ = tx.send(());
    }));
    rx.recv_timeout(Duration::from_secs(30))
        .expect("runtime dropped from its own task");
    assert_eq!(
        *seen.lock().unwrap(),
        Some(true),
        "a task destructor run by shutdown saw no current runtime"
    );
}
