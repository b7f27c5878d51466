//! `goro::signal`: signals raised at the process (or at one thread) reach
//! every listener, through the self-pipe on the runtime's poller.
//!
//! Signals are process-wide and the tests of this file run in parallel, so
//! each test uses signals no other test raises.

mod support;

use goro::runtime::{Builder, Runtime};
use goro::signal::{SignalKind, ctrl_c, signal};
use std::future::Future;
use std::sync::mpsc;
use std::task::{Context, Waker};
use std::time::Duration;
use support::rt::workers;

const LONG: Duration = Duration::from_secs(10);

/// Sends `signo` to the whole process (the kernel picks the thread).
fn kill_process(signo: i32) {
    // SAFETY: kill(2) on our own pid with a signal we installed a handler for.
    assert_eq!(unsafe { libc::kill(libc::getpid(), signo) }, 0);
}

/// Awaits `fut` on `rt`, failing the test unless it completes within
/// `LONG`. The deadline is checked before `fut` is polled again, so a
/// future whose wake-up was lost fails instead of completing when the
/// timer happens to re-poll it.
fn within<T>(rt: &Runtime, fut: impl Future<Output = T>) -> T {
    let mut deadline = std::pin::pin!(goro::time::sleep(LONG));
    let mut fut = std::pin::pin!(fut);
    rt.block_on(std::future::poll_fn(|cx| {
        if deadline.as_mut().poll(cx).is_ready() {
            panic!("not woken within {LONG:?}");
        }
        fut.as_mut().poll(cx)
    }))
}

/// True if `fut` is pending when polled once.
fn is_pending<F: Future + Unpin>(fut: &mut F) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    std::pin::Pin::new(fut).poll(&mut cx).is_pending()
}

#[test]
fn kill_at_the_process_is_delivered() {
    let rt = workers(2);
    let _g = rt.enter();
    let mut usr1 = signal(SignalKind::user_defined1()).unwrap();
    for _ in 0..3 {
        kill_process(libc::SIGUSR1);
        assert_eq!(within(&rt, usr1.recv()), Some(()));
    }
}

#[test]
fn delivery_on_a_thread_goro_did_not_create() {
    let rt = workers(2);
    let mut usr2 = rt
        .block_on(async { signal(SignalKind::user_defined2()) })
        .unwrap();
    // A plain std thread that only sleeps; pthread_kill runs the handler on
    // it (and only on it).
    let (tid_tx, tid_rx) = mpsc::channel();
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let plain = std::thread::spawn(move || {
        // SAFETY: pthread_self has no preconditions.
        tid_tx.send(unsafe { libc::pthread_self() }).unwrap();
        let _ = stop_rx.recv_timeout(LONG);
    });
    let tid = tid_rx.recv().unwrap();
    for _ in 0..3 {
        // SAFETY: `tid` is a live thread (it waits for `stop_tx`).
        assert_eq!(unsafe { libc::pthread_kill(tid, libc::SIGUSR2) }, 0);
        assert_eq!(within(&rt, usr2.recv()), Some(()));
    }
    drop(stop_tx);
    plain.join().unwrap();
}

#[test]
fn every_listener_sees_each_delivery_across_runtimes() {
    // Two runtimes, each with its own dup of the pipe on its own epoll,
    // two listeners on the first: all four see each delivery, round after
    // round (whichever runtime drains the pipe, the others still wake).
    let a = workers(2);
    let b = workers(2);
    let mut listeners = Vec::new();
    for rt in [&a, &a, &b, &b] {
        let _g = rt.enter();
        listeners.push(signal(SignalKind::hangup()).unwrap());
    }
    for _round in 0..5 {
        kill_process(libc::SIGHUP);
        for (i, l) in listeners.iter_mut().enumerate() {
            let rt = if i < 2 { &a } else { &b };
            assert_eq!(within(rt, l.recv()), Some(()), "listener {i}");
        }
    }
}

#[test]
fn listeners_are_woken_not_just_polled() {
    // A task parked in recv() is woken by the driver (no polling loop).
    let rt = workers(2);
    let _g = rt.enter();
    let mut quit = signal(SignalKind::quit()).unwrap();
    let (parked_tx, parked_rx) = mpsc::channel();
    let waiter = goro::spawn(async move {
        parked_tx.send(()).unwrap();
        quit.recv().await
    });
    parked_rx.recv().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    kill_process(libc::SIGQUIT);
    assert_eq!(within(&rt, waiter).unwrap(), Some(()));
}

#[test]
fn deliveries_between_polls_coalesce() {
    let rt = workers(2);
    let _g = rt.enter();
    let mut alarm = signal(SignalKind::alarm()).unwrap();
    // raise() runs the handler on this thread before it returns.
    for _ in 0..3 {
        // SAFETY: raising a signal we handle at this thread.
        assert_eq!(unsafe { libc::raise(libc::SIGALRM) }, 0);
    }
    assert_eq!(within(&rt, alarm.recv()), Some(()));
    let mut next = Box::pin(alarm.recv());
    assert!(is_pending(&mut next), "three deliveries gave two items");
}

#[test]
fn a_listener_sees_only_deliveries_after_it_was_created() {
    let rt = workers(2);
    let _g = rt.enter();
    let rt_min = libc::SIGRTMIN();
    let first = signal(SignalKind::from_raw(rt_min)).unwrap();
    // SAFETY: raising a signal we handle at this thread.
    assert_eq!(unsafe { libc::raise(rt_min) }, 0);
    let mut late = signal(SignalKind::from_raw(rt_min)).unwrap();
    let mut next = Box::pin(late.recv());
    assert!(is_pending(&mut next));
    drop(next);
    drop(first);
    // SAFETY: as above.
    assert_eq!(unsafe { libc::raise(rt_min) }, 0);
    assert_eq!(within(&rt, late.recv()), Some(()));
}

#[test]
fn ctrl_c_resolves_on_sigint() {
    let rt = workers(2);
    let _g = rt.enter();
    // The listener exists from this call on (before the first poll), so
    // SIGINT no longer terminates the test process.
    let interrupted = ctrl_c();
    kill_process(libc::SIGINT);
    within(&rt, interrupted).unwrap();
}

#[test]
fn stream_impl_yields_deliveries() {
    use futures::StreamExt;
    let rt = workers(2);
    let _g = rt.enter();
    let mut winch = signal(SignalKind::window_change()).unwrap();
    kill_process(libc::SIGWINCH);
    assert_eq!(within(&rt, winch.next()), Some(()));
}

#[test]
fn forbidden_signals_are_refused_with_a_clear_error() {
    for signo in [
        libc::SIGKILL,
        libc::SIGSTOP,
        libc::SIGSEGV,
        libc::SIGFPE,
        0,
        4096,
    ] {
        let e = signal(SignalKind::from_raw(signo)).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{signo}: {e}");
        assert!(e.to_string().contains("cannot listen for signal"), "{e}");
    }
}

#[test]
fn a_listener_of_a_dropped_runtime_ends_instead_of_hanging() {
    let rt = workers(2);
    let handle = rt.handle();
    let rt_sig = libc::SIGRTMIN() + 1;
    let mut sig = {
        let _g = rt.enter();
        signal(SignalKind::from_raw(rt_sig)).unwrap()
    };
    // One listener parked in recv() on another executor when the drop comes.
    let (tx, rx) = mpsc::channel();
    let parked = std::thread::spawn(move || {
        let _ = tx.send(futures::executor::block_on(sig.recv()));
    });
    std::thread::sleep(Duration::from_millis(50));
    drop(rt);
    assert_eq!(rx.recv_timeout(LONG).expect("recv() hung"), None);
    parked.join().unwrap();

    // New listeners and ctrl_c on the shut-down runtime fail at once.
    let _g = handle.enter();
    let e = signal(SignalKind::from_raw(rt_sig)).unwrap_err();
    assert!(e.to_string().contains("shut down"), "{e}");
    let e = futures::executor::block_on(ctrl_c()).unwrap_err();
    assert!(e.to_string().contains("shut down"), "{e}");
}

#[test]
fn signals_racing_listener_setup_and_runtime_drops_lose_nothing() {
    // Adversarial: a thread fires the signal continuously while runtimes
    // are created, listened on and dropped. Nothing crashes or hangs, and
    // a listener created at any point still sees a later delivery.
    let rt_sig = libc::SIGRTMIN() + 2;
    // Install the handler before the storm (the default action terminates).
    drop(signal(SignalKind::from_raw(rt_sig)).unwrap());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let storm = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                kill_process(rt_sig);
                std::thread::sleep(Duration::from_micros(200));
            }
        })
    };
    for _ in 0..20 {
        let rt = Builder::new().worker_threads(1).build().unwrap();
        let mut s = {
            let _g = rt.enter();
            signal(SignalKind::from_raw(rt_sig)).unwrap()
        };
        assert_eq!(within(&rt, s.recv()), Some(()));
        drop(rt);
        // Whatever was delivered before the drop may still come out; then
        // the stream ends.
        let rest = futures::executor::block_on(async {
            let mut n = 0;
            while s.recv().await.is_some() {
                n += 1;
                if n > 1 {
                    break;
                }
            }
            n
        });
        assert!(rest <= 1, "a stream of a dropped runtime kept yielding");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    storm.join().unwrap();
}
