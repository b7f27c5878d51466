//! Wakers that stand for an awaiter: one that counts its wakes, and one
//! that forwards them to a task's waker and reports which thread woke it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Wake, Waker};

/// A waker that counts its wakes: stands for a parked awaiter.
#[derive(Default)]
pub struct CountingWaker(pub AtomicUsize);

impl CountingWaker {
    /// A new counting waker (no wakes yet), and a `Waker` for it.
    pub fn new_waker() -> (Arc<Self>, Waker) {
        let counter = Arc::new(Self::default());
        let waker = Waker::from(counter.clone());
        (counter, waker)
    }
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Forwards wakes to the task's waker, reporting the first one's thread.
pub struct Recorder {
    /// Gets the name of the thread of the first wake (then is taken).
    pub report: Mutex<Option<mpsc::Sender<String>>>,
    /// The waker of the task the wakes are for.
    pub task: Waker,
}

impl Recorder {
    /// A waker that forwards to `task` and sends the name of the thread of
    /// its first wake on `report`.
    pub fn waker(report: mpsc::Sender<String>, task: &Waker) -> Waker {
        Waker::from(Arc::new(Recorder {
            report: Mutex::new(Some(report)),
            task: task.clone(),
        }))
    }
}

impl Wake for Recorder {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(tx) = self.report.lock().unwrap().take() {
            let name = std::thread::current()
                .name()
                .unwrap_or("<unnamed>")
                .to_owned();
            let _ = tx.send(name);
        }
        self.task.wake_by_ref();
    }
}
