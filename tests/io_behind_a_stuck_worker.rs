//! A task that parks on I/O from a worker which then gets stuck must not
//! wait for that worker.
//!
//! A task parking on a descriptor wakes an idle M to poll only when the
//! parking thread is not a worker holding a P of the runtime: a worker that
//! holds one polls itself before it goes idle (Go's rule; waking a second
//! thread for every park cost two futex calls and two context switches per
//! blocking poll). The risk of that rule is a worker whose next poll never
//! comes: here the reader parks, and the task behind it on the same P blocks
//! its thread for seconds while the runtime's other M sleeps. The reader
//! must still be woken (sysmon polls the network when nobody has for
//! 10 ms) long before the stuck task lets go.
//!
//! To keep the parking and the getting stuck on one thread, one task does
//! both: it polls a read future once by hand, with a waker of its own
//! that reports to the test, and then blocks inside the same poll.

mod support;

use futures::io::AsyncReadExt;
use goro::net::UnixStream;
use std::future::Future;
use std::io::Write;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::pin::pin;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};
use support::rt::workers;

/// How long the task blocks its worker thread after parking the read.
const STUCK: Duration = Duration::from_secs(2);
/// When the peer writes, after the read parked.
const WRITE_AFTER: Duration = Duration::from_millis(100);
/// The read must be woken this long after the write (sysmon's 10 ms poll
/// plus scheduling on a loaded machine), well before `STUCK` ends.
const LIMIT: Duration = Duration::from_millis(1500);

/// Reports the time of its first wake.
struct Report(Mutex<Option<mpsc::Sender<Instant>>>);

impl Wake for Report {
    fn wake(self: Arc<Self>) {
        if let Some(tx) = self.0.lock().unwrap().take() {
            let _ = tx.send(Instant::now());
        }
    }
}

#[test]
fn a_read_parked_by_a_worker_that_then_gets_stuck_is_still_woken() {
    for round in 0..3 {
        // Two workers, no timers and no I/O waiters yet: the idle M parks
        // on its futex rather than in the poller.
        let rt = workers(2);
        let (ours, mut theirs) = StdUnixStream::pair().expect("socketpair");
        let (parked_tx, parked) = mpsc::channel();
        let (woken_tx, woken) = mpsc::channel();
        let stuck = rt.spawn(async move {
            let mut stream = UnixStream::from_std(ours).expect("from_std");
            let mut buf = [0u8; 8];
            let waker = Waker::from(Arc::new(Report(Mutex::new(Some(woken_tx)))));
            let mut read = pin!(AsyncReadExt::read(&mut stream, &mut buf));
            let first = read.as_mut().poll(&mut Context::from_waker(&waker));
            let _ = parked_tx.send(first.is_pending());
            // Still inside this task's poll, on the same worker thread.
            std::thread::sleep(STUCK);
        });
        assert!(
            parked.recv_timeout(LIMIT).expect("the task never ran"),
            "round {round}: the read did not park"
        );
        std::thread::sleep(WRITE_AFTER);
        theirs.write_all(b"ping").expect("write");
        let wrote = Instant::now();
        let woken_at = woken.recv_timeout(STUCK).unwrap_or_else(|_| {
            panic!("round {round}: the read was not woken while its worker was stuck")
        });
        let waited = woken_at.saturating_duration_since(wrote);
        assert!(
            waited < LIMIT,
            "round {round}: woken {waited:?} after the write \
             (the worker is stuck for {STUCK:?})"
        );
        rt.block_on(stuck).expect("stuck task");
    }
}
