//! Review of the shutdown contract (DESIGN.md §3, "Runtime shutdown") for
//! signal streams with two runtimes in one process: dropping one of them —
//! the one whose driver task serves every runtime's listeners, or the
//! other — ends its streams wherever they are polled, and never costs the
//! surviving runtime a delivery, even when the signal arrives while the
//! drop is in progress. (`tests/signal.rs` covers one runtime at a time.)
//!
//! Every wait has a timeout, so a hang fails the test.

mod support;

use goro::signal::{Signal, SignalKind, signal};
use std::sync::mpsc;
use std::time::Duration;
use support::hang::on_thread;
use support::rt::workers;

const PROMPT: Duration = Duration::from_secs(5);

fn raise(signo: i32) {
    // SAFETY: kill(2) on our own pid with a signal goro has a handler for.
    assert_eq!(unsafe { libc::kill(libc::getpid(), signo) }, 0);
}

fn listen_on(rt: &goro::runtime::Runtime, signo: i32) -> Signal {
    let _g = rt.enter();
    signal(SignalKind::from_raw(signo)).unwrap()
}

/// Waits on `sig` on a new thread with futures' executor; the receiver
/// gets what `recv` returned.
fn recv_elsewhere(mut sig: Signal) -> mpsc::Receiver<(Option<()>, Signal)> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let r = futures::executor::block_on(sig.recv());
        let _ = tx.send((r, sig));
    });
    rx
}

#[test]
fn dropping_one_of_two_runtimes_ends_its_streams_and_costs_the_other_nothing() {
    let signo = libc::SIGRTMIN() + 5;
    for round in 0..20 {
        // Alternate which runtime listened first (and so created the first
        // hub) and which one is dropped.
        let (first, second) = (workers(1), workers(1));
        let a_sig = listen_on(&first, signo);
        let b_sig = listen_on(&second, signo);
        let (doomed, survivor, doomed_sig, mut survivor_sig) = if round % 2 == 0 {
            (first, second, a_sig, b_sig)
        } else {
            (second, first, b_sig, a_sig)
        };
        // The doomed runtime's stream, parked on another executor.
        let doomed_rx = recv_elsewhere(doomed_sig);
        std::thread::sleep(Duration::from_millis(5));
        // The signal arrives while the drop is in progress (or just before
        // or after it).
        let raiser = std::thread::spawn(move || raise(signo));
        drop(doomed);
        raiser.join().unwrap();
        // The doomed stream either saw the delivery or ended; then ends.
        let (r, mut doomed_sig) = doomed_rx
            .recv_timeout(PROMPT)
            .unwrap_or_else(|_| panic!("round {round}: the dropped runtime's stream hung"));
        if r.is_some() {
            let rx = on_thread(move || futures::executor::block_on(doomed_sig.recv()));
            assert_eq!(
                rx.recv_timeout(PROMPT)
                    .unwrap_or_else(|_| panic!("round {round}: the stream did not end")),
                None,
                "round {round}"
            );
        }
        // The survivor's listener sees the delivery, whichever runtime's
        // driver was gone.
        let got =
            survivor.block_on(async { goro::time::timeout(PROMPT, survivor_sig.recv()).await });
        assert_eq!(
            got,
            Ok(Some(())),
            "round {round}: the survivor lost the delivery"
        );
        // And later ones.
        raise(signo);
        let got =
            survivor.block_on(async { goro::time::timeout(PROMPT, survivor_sig.recv()).await });
        assert_eq!(
            got,
            Ok(Some(())),
            "round {round}: the survivor lost a later delivery"
        );
    }
}

/// A waker of another executor that panics when woken.
struct PanickingWaker;

impl std::task::Wake for PanickingWaker {
    fn wake(self: std::sync::Arc<Self>) {
        panic!("foreign waker panics on wake (expected by this test)");
    }
}

/// Signal listeners polled once by an executor whose waker panics must not
/// cost the runtime's other listeners their wake-ups — neither a delivery
/// nor, at shutdown, the end of their streams — nor kill the runtime's
/// signal driver (after which every stream of the runtime would end while
/// it still runs). goro contains such panics everywhere else it wakes
/// foreign wakers (poller/wake.rs).
#[test]
fn a_panicking_foreign_waker_costs_other_listeners_nothing() {
    let signo = libc::SIGRTMIN() + 6;
    let rt = workers(2);
    let handle = rt.handle();
    let panicking_waker = std::task::Waker::from(std::sync::Arc::new(PanickingWaker));
    let mut bad: Vec<Signal> = (0..5).map(|_| listen_on(&rt, signo)).collect();
    for s in &mut bad {
        let mut cx = std::task::Context::from_waker(&panicking_waker);
        assert!(s.poll_recv(&mut cx).is_pending());
    }
    // Good listeners: on another executor, in Handle::block_on, in tasks.
    let mut good = Vec::new();
    for i in 0..6 {
        let mut sig = listen_on(&rt, signo);
        let (tx, rx) = mpsc::channel();
        match i % 3 {
            0 => drop(std::thread::spawn(move || {
                let _ = tx.send((futures::executor::block_on(sig.recv()), sig));
            })),
            1 => {
                let h = handle.clone();
                drop(std::thread::spawn(move || {
                    let _ = tx.send((h.block_on(sig.recv()), sig));
                }))
            }
            _ => drop(rt.spawn(async move {
                let _ = tx.send((sig.recv().await, sig));
            })),
        }
        good.push(rx);
    }
    std::thread::sleep(Duration::from_millis(50));
    raise(signo);
    let mut good: Vec<Signal> = good
        .iter()
        .enumerate()
        .map(|(i, rx)| {
            let (r, sig) = rx
                .recv_timeout(PROMPT)
                .unwrap_or_else(|_| panic!("listener {i} lost the delivery"));
            assert_eq!(
                r,
                Some(()),
                "listener {i}: its stream ended while the runtime runs"
            );
            sig
        })
        .collect();
    // The driver is alive: a later delivery still comes.
    raise(signo);
    let r = rt.block_on(goro::time::timeout(PROMPT, good[0].recv()));
    assert_eq!(r, Ok(Some(())), "the signal driver died");
    // Park them all again (the bad ones with their panicking waker, after
    // taking the deliveries they have not reported), then drop the
    // runtime: every good stream ends.
    for s in &mut bad {
        let mut cx = std::task::Context::from_waker(&panicking_waker);
        let pending = (0..3).any(|_| s.poll_recv(&mut cx).is_pending());
        assert!(pending, "a bad listener keeps reporting deliveries");
    }
    for (i, s) in good.iter_mut().enumerate() {
        // The second delivery, which only listener 0 has taken so far.
        if i > 0 {
            assert_eq!(
                rt.block_on(goro::time::timeout(PROMPT, s.recv())),
                Ok(Some(()))
            );
        }
    }
    let ends: Vec<_> = good.drain(..).map(recv_elsewhere).collect();
    std::thread::sleep(Duration::from_millis(50));
    drop(rt);
    for (i, rx) in ends.iter().enumerate() {
        let (r, _) = rx
            .recv_timeout(PROMPT)
            .unwrap_or_else(|_| panic!("listener {i} was not woken at shutdown"));
        assert_eq!(r, None, "listener {i}");
    }
}
