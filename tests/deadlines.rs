//! Go's `net.Conn` deadline rules on `TcpStream`, `TcpListener` and `PollFd`:
//! the cases beyond those `conn_conformance.rs` runs for every connection
//! type (listeners, queued waiters, combined timers, the `AsyncRead` path).
//!
//! - a deadline in the past fails pending and later operations at once;
//! - a future deadline fires, never before it;
//! - moving a deadline while an operation waits moves the timeout with it;
//! - clearing (`None`) removes the timeout;
//! - an expired read deadline fails the next read even when data is
//!   buffered, until a new deadline is set;
//! - read and write deadlines are independent, also when they are equal
//!   (one combined timer) and only one of them is changed afterwards;
//! - absurdly far deadlines neither panic nor fire;
//! - resetting a deadline per request does not pile up timers.
//!
//! Big buffers are allocated outside spawned tasks: filling 64 MiB takes
//! long enough in a debug build to make sysmon hand the worker's P away,
//! which is not what these tests are about.
//!
//! Timing assertions: "at once" means within [`PROMPT`]; a firing deadline
//! must not fire before its instant and must fire within [`LATE`] after it.
//! Both bounds are generous because the test machine is small and busy.

mod support;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use goro::io::PollFd;
use goro::net::{TcpListener, TcpStream};
use goro::time::sleep;
use std::future::Future;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::sync::Arc;
use std::sync::mpsc::{self};
use std::time::{Duration, Instant};
use support::hang::{HANG, run, watchdog};
use support::instants::{far_future, past};
use support::margins::{Setup, before, with_margins};
use support::net::{poll_fd_pair, tcp_pair};
use support::rt::workers;

/// Upper bound for "fails at once".
const PROMPT: Duration = Duration::from_secs(3);
/// Upper bound for how late a deadline may fire.
const LATE: Duration = Duration::from_secs(5);
/// Big enough to fill any loopback socket buffer.
const BIG: usize = 64 << 20;

async fn pfd_read(p: &PollFd<StdUnixStream>, buf: &mut [u8]) -> io::Result<usize> {
    p.read_with(|mut s| s.read(buf)).await
}

async fn pfd_write(p: &PollFd<StdUnixStream>, buf: &[u8]) -> io::Result<usize> {
    p.write_with(|mut s| s.write(buf)).await
}

/// Writes into the (non-blocking) fd of `p` until the kernel buffer is full,
/// down to single bytes: a Unix socket that refuses 64 KiB may still take a
/// few bytes.
fn fill_pfd(p: &PollFd<StdUnixStream>) {
    let chunk = [0x55u8; 64 << 10];
    for size in [64 << 10, 4096, 256, 1] {
        loop {
            match p.get_ref().write(&chunk[..size]) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("filling the socket buffer: {e}"),
            }
        }
    }
}

#[track_caller]
fn assert_timed_out<T: std::fmt::Debug>(r: io::Result<T>) {
    match r {
        Err(e) if e.kind() == io::ErrorKind::TimedOut => {}
        other => panic!("expected TimedOut, got {other:?}"),
    }
}

/// Checks that an operation that failed at `at` failed with `TimedOut`,
/// not before `deadline` and not much after it.
#[track_caller]
fn assert_fired<T: std::fmt::Debug>(r: io::Result<T>, at: Instant, deadline: Instant) {
    assert_timed_out(r);
    assert!(
        at >= deadline,
        "deadline fired {:?} early",
        deadline.duration_since(at)
    );
    let late = at.duration_since(deadline);
    assert!(late < LATE, "deadline fired {late:?} late");
}

/// `n` milliseconds.
fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Runs `fut` and returns its output with the instant it completed.
async fn timed<F: Future>(fut: F) -> (F::Output, Instant) {
    let v = fut.await;
    (v, Instant::now())
}

// ---------------------------------------------------------------------------
// Deadlines in the past
// ---------------------------------------------------------------------------

#[test]
fn past_read_deadline_fails_pending_and_later_reads() {
    run(async {
        let (c, s) = tcp_pair().await;
        let c = Arc::new(c);
        // One reader parks in the slot holding the read lock; the others
        // queue on the lock. All must fail.
        let readers: Vec<_> = (0..3)
            .map(|_| {
                let c = c.clone();
                goro::spawn(async move {
                    let mut b = [0u8; 16];
                    c.read(&mut b).await
                })
            })
            .collect();
        let c2 = c.clone();
        let stateless = goro::spawn(async move {
            let mut b = [0u8; 16];
            (&mut &*c2).read(&mut b).await
        });
        sleep(Duration::from_millis(100)).await;
        assert!(
            readers.iter().all(|r| !r.is_finished()),
            "read without data"
        );
        let t = Instant::now();
        c.set_read_deadline(Some(past())).unwrap();
        for r in readers {
            assert_timed_out(r.await.unwrap());
        }
        assert_timed_out(stateless.await.unwrap());
        assert!(t.elapsed() < PROMPT, "took {:?}", t.elapsed());

        // Later reads fail at once, whatever their form.
        s.write_all(b"hello").await.unwrap();
        sleep(Duration::from_millis(20)).await;
        let mut b = [0u8; 16];
        assert_timed_out(c.read(&mut b).await);
        assert_timed_out(c.read_exact(&mut b[..5]).await);
        assert_timed_out(c.peek(&mut b).await);
        assert_timed_out(c.readable().await);
        assert_timed_out((&mut &*c).read(&mut b).await);
        // The write side is unaffected.
        c.write_all(b"ping").await.unwrap();
        let mut p = [0u8; 4];
        s.read_exact(&mut p).await.unwrap();
        assert_eq!(&p, b"ping");
        // A new deadline (here: none) makes reads work again; no data was lost.
        c.set_read_deadline(None).unwrap();
        c.read_exact(&mut b[..5]).await.unwrap();
        assert_eq!(&b[..5], b"hello");
    });
}

#[test]
fn past_write_deadline_fails_pending_and_later_writes() {
    run(async {
        let (c, s) = tcp_pair().await;
        let c = Arc::new(c);
        let c2 = c.clone();
        let data = vec![7u8; BIG];
        let writer = goro::spawn(async move { c2.write_all(&data).await });
        sleep(Duration::from_millis(300)).await;
        assert!(
            !writer.is_finished(),
            "64 MiB written to a peer that does not read"
        );
        // A second writer queues behind the first (which holds the write lock).
        let c3 = c.clone();
        let queued = goro::spawn(async move { c3.write(b"queued").await });
        sleep(Duration::from_millis(50)).await;
        assert!(!queued.is_finished());
        let t = Instant::now();
        c.set_write_deadline(Some(past())).unwrap();
        assert_timed_out(writer.await.unwrap());
        assert_timed_out(queued.await.unwrap());
        assert!(t.elapsed() < PROMPT, "took {:?}", t.elapsed());

        assert_timed_out(c.write(b"x").await);
        assert_timed_out(c.write_all(b"x").await);
        assert_timed_out(c.writable().await);
        assert_timed_out((&mut &*c).write(b"x").await);
        // The read side is unaffected.
        s.write_all(b"pong").await.unwrap();
        let mut p = [0u8; 4];
        c.read_exact(&mut p).await.unwrap();
        assert_eq!(&p, b"pong");
        // Clearing the deadline makes writes work again once the peer drains.
        c.set_write_deadline(None).unwrap();
        let drain = goro::spawn(async move {
            let mut buf = vec![0u8; 1 << 16];
            let mut tail = Vec::new();
            loop {
                match s.read(&mut buf).await.unwrap() {
                    0 => return tail,
                    n => {
                        tail.extend_from_slice(&buf[..n]);
                        let cut = tail.len().saturating_sub(3);
                        tail.drain(..cut);
                    }
                }
            }
        });
        c.write_all(b"end").await.unwrap();
        c.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(drain.await.unwrap(), b"end");
    });
}

#[test]
fn past_accept_deadline_fails_pending_and_later_accepts() {
    run(async {
        let l = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
        let addr = l.local_addr().unwrap();
        let l2 = l.clone();
        let acceptor = goro::spawn(async move { l2.accept().await.map(|_| ()) });
        sleep(Duration::from_millis(100)).await;
        assert!(!acceptor.is_finished());
        let t = Instant::now();
        l.set_deadline(Some(past())).unwrap();
        assert_timed_out(acceptor.await.unwrap());
        assert!(t.elapsed() < PROMPT);
        // A queued connection does not help: the deadline has passed.
        let _client = TcpStream::connect(addr).await.unwrap();
        sleep(Duration::from_millis(20)).await;
        assert_timed_out(l.accept().await.map(|_| ()));
        assert_timed_out(l.accept().await.map(|_| ()));
        l.set_deadline(None).unwrap();
        let (_s, peer) = l.accept().await.unwrap();
        assert!(peer.ip().is_loopback());
    });
}

#[test]
fn past_deadlines_on_pollfd() {
    run(async {
        let (a, mut b) = poll_fd_pair();
        let a = Arc::new(a);
        let a2 = a.clone();
        let reader = goro::spawn(async move {
            let mut buf = [0u8; 8];
            pfd_read(&a2, &mut buf).await
        });
        let a3 = a.clone();
        // Readiness may be reported spuriously (a stale edge), so the waiter
        // loops until `readable()` fails.
        let waiter = goro::spawn(async move {
            loop {
                a3.readable().await?;
                goro::task::yield_now().await;
            }
        });
        sleep(Duration::from_millis(100)).await;
        assert!(!reader.is_finished() && !waiter.is_finished());
        let t = Instant::now();
        a.set_read_deadline(Some(past())).unwrap();
        assert_timed_out(reader.await.unwrap());
        assert_timed_out::<()>(waiter.await.unwrap());
        assert!(t.elapsed() < PROMPT);
        b.write_all(b"hi").unwrap();
        let mut buf = [0u8; 8];
        assert_timed_out(pfd_read(&a, &mut buf).await);
        assert_timed_out(a.readable().await);
        // Writes are unaffected by the read deadline.
        assert_eq!(pfd_write(&a, b"w").await.unwrap(), 1);
        a.set_read_deadline(None).unwrap();
        assert_eq!(pfd_read(&a, &mut buf).await.unwrap(), 2);
        assert_eq!(&buf[..2], b"hi");

        // Write side: fill the buffer so a write parks.
        fill_pfd(&a);
        let a4 = a.clone();
        let writer = goro::spawn(async move { pfd_write(&a4, b"more").await });
        let a5 = a.clone();
        let wwait = goro::spawn(async move {
            loop {
                a5.writable().await?;
                goro::task::yield_now().await;
            }
        });
        sleep(Duration::from_millis(100)).await;
        assert!(!writer.is_finished() && !wwait.is_finished());
        let t = Instant::now();
        a.set_write_deadline(Some(past())).unwrap();
        assert_timed_out(writer.await.unwrap());
        assert_timed_out::<()>(wwait.await.unwrap());
        assert!(t.elapsed() < PROMPT);
        assert_timed_out(pfd_write(&a, b"x").await);
        // Reads are unaffected by the write deadline.
        b.write_all(b"r").unwrap();
        assert_eq!(pfd_read(&a, &mut buf).await.unwrap(), 1);
    });
}

// ---------------------------------------------------------------------------
// Deadlines that fire
// ---------------------------------------------------------------------------

#[test]
fn read_deadline_fires_not_before() {
    run(async {
        let (c, _s) = tcp_pair().await;
        let mut b = [0u8; 8];
        let dl = Instant::now() + Duration::from_millis(200);
        c.set_read_deadline(Some(dl)).unwrap();
        let (r, at) = timed(c.read(&mut b)).await;
        assert_fired(r, at, dl);
        // The stateless `AsyncRead` path and `readable()` obey it too.
        let dl = Instant::now() + Duration::from_millis(150);
        c.set_read_deadline(Some(dl)).unwrap();
        let (r, at) = timed((&mut &c).read(&mut b)).await;
        assert_fired(r, at, dl);
        let dl = Instant::now() + Duration::from_millis(150);
        c.set_read_deadline(Some(dl)).unwrap();
        // (looping: a stale edge may report readiness spuriously)
        let (r, at) = timed(async {
            loop {
                c.readable().await?;
                goro::task::yield_now().await;
            }
        })
        .await;
        assert_fired::<()>(r, at, dl);
        let dl = Instant::now() + Duration::from_millis(150);
        c.set_read_deadline(Some(dl)).unwrap();
        let (r, at) = timed(c.read_exact(&mut b)).await;
        assert_fired(r, at, dl);
    });
}

#[test]
fn read_deadline_fires_for_partial_read_exact() {
    run(async {
        let (c, s) = tcp_pair().await;
        s.write_all(b"half").await.unwrap();
        let mut b = [0u8; 8];
        let dl = Instant::now() + Duration::from_millis(200);
        c.set_read_deadline(Some(dl)).unwrap();
        let (r, at) = timed(c.read_exact(&mut b)).await;
        assert_fired(r, at, dl);
    });
}

#[test]
fn write_deadline_fires_not_before() {
    run(async {
        let (c, _s) = tcp_pair().await;
        let big = vec![1u8; BIG];
        let dl = Instant::now() + Duration::from_millis(300);
        c.set_write_deadline(Some(dl)).unwrap();
        let (r, at) = timed(c.write_all(&big)).await;
        assert_fired(r, at, dl);
        // The kernel may still free some room (buffers grow as the peer's
        // receive window opens), so each form writes until it fails; the
        // failure must be the deadline, at or after it.
        let dl = Instant::now() + Duration::from_millis(150);
        c.set_write_deadline(Some(dl)).unwrap();
        let (r, at) = timed(async {
            loop {
                c.write(&big).await?;
            }
        })
        .await;
        assert_fired::<()>(r, at, dl);
        let dl = Instant::now() + Duration::from_millis(150);
        c.set_write_deadline(Some(dl)).unwrap();
        let (r, at) = timed(async {
            loop {
                c.writable().await?;
                // Readiness may be spurious; a write tells.
                c.write(&big[..1]).await?;
            }
        })
        .await;
        assert_fired::<()>(r, at, dl);
        let dl = Instant::now() + Duration::from_millis(150);
        c.set_write_deadline(Some(dl)).unwrap();
        let mut sent = 0usize;
        let (r, at) = timed(async {
            loop {
                sent += (&mut &c).write(&big).await?;
            }
        })
        .await;
        eprintln!("{sent} more bytes fit before the deadline");
        assert_fired::<()>(r, at, dl);
    });
}

#[test]
fn accept_deadline_fires_not_before() {
    run(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dl = Instant::now() + Duration::from_millis(200);
        l.set_deadline(Some(dl)).unwrap();
        let (r, at) = timed(l.accept()).await;
        assert_fired(r.map(|_| ()), at, dl);
        // `incoming()` reports the timeout too (it is not a resource error).
        let dl = Instant::now() + Duration::from_millis(150);
        l.set_deadline(Some(dl)).unwrap();
        let mut inc = l.incoming();
        let (r, at) = timed(async { inc.next().await.expect("listener is open") }).await;
        assert_fired(r.map(|_| ()), at, dl);
    });
}

#[test]
fn pollfd_deadlines_fire_not_before() {
    run(async {
        let (a, _b) = poll_fd_pair();
        let mut buf = [0u8; 8];
        let dl = Instant::now() + Duration::from_millis(200);
        a.set_read_deadline(Some(dl)).unwrap();
        let (r, at) = timed(pfd_read(&a, &mut buf)).await;
        assert_fired(r, at, dl);
        let dl = Instant::now() + Duration::from_millis(150);
        a.set_read_deadline(Some(dl)).unwrap();
        let (r, at) = timed(async {
            loop {
                a.readable().await?;
                goro::task::yield_now().await;
            }
        })
        .await;
        assert_fired::<()>(r, at, dl);

        fill_pfd(&a);
        let dl = Instant::now() + Duration::from_millis(200);
        a.set_write_deadline(Some(dl)).unwrap();
        let (r, at) = timed(pfd_write(&a, b"x")).await;
        assert_fired(r, at, dl);
        let dl = Instant::now() + Duration::from_millis(150);
        a.set_write_deadline(Some(dl)).unwrap();
        let (r, at) = timed(async {
            loop {
                a.writable().await?;
                goro::task::yield_now().await;
            }
        })
        .await;
        assert_fired::<()>(r, at, dl);
    });
}

#[test]
fn pollfd_on_a_pipe_obeys_deadlines() {
    run(async {
        let (r, mut w) = std::io::pipe().unwrap();
        let r = PollFd::new(r).unwrap();
        let mut buf = [0u8; 8];
        let dl = Instant::now() + Duration::from_millis(150);
        r.set_read_deadline(Some(dl)).unwrap();
        let (res, at) = timed(r.read_with(|mut p| p.read(&mut buf))).await;
        assert_fired(res, at, dl);
        w.write_all(b"pipe").unwrap();
        assert_timed_out(r.read_with(|mut p| p.read(&mut buf)).await);
        r.set_read_deadline(None).unwrap();
        let n = r.read_with(|mut p| p.read(&mut buf)).await.unwrap();
        assert_eq!(&buf[..n], b"pipe");
    });
}

// ---------------------------------------------------------------------------
// Moving deadlines while an operation waits
// ---------------------------------------------------------------------------

#[test]
fn moving_read_deadline_later_keeps_the_read_waiting() {
    run(async {
        with_margins("read deadline moved later", |k| async move {
            let (c, s) = tcp_pair().await;
            let c = Arc::new(c);
            let t0 = Instant::now();
            let old = t0 + ms(150) * k;
            c.set_read_deadline(Some(old)).unwrap();
            let c2 = c.clone();
            let reader = goro::spawn(async move {
                let mut b = [0u8; 8];
                c2.read(&mut b).await.map(|n| b[..n].to_vec())
            });
            sleep(ms(50) * k).await;
            c.set_read_deadline(Some(t0 + Duration::from_secs(30)))
                .unwrap();
            if before(old) == Setup::Missed {
                return Setup::Missed;
            }
            goro::time::sleep_until(t0 + ms(400) * k).await;
            assert!(!reader.is_finished(), "the old deadline fired");
            s.write_all(b"late").await.unwrap();
            assert_eq!(reader.await.unwrap().unwrap(), b"late");
            Setup::Met
        })
        .await;

        // Moved later, then left to fire: it fires at the new time.
        with_margins("read deadline moved later, then fired", |k| async move {
            let (c, _s) = tcp_pair().await;
            let c = Arc::new(c);
            let first = Instant::now() + ms(100) * k;
            c.set_read_deadline(Some(first)).unwrap();
            let c2 = c.clone();
            let reader = goro::spawn(async move {
                let mut b = [0u8; 8];
                timed(c2.read(&mut b)).await
            });
            sleep(ms(30) * k).await;
            let moved = Instant::now() + ms(500) * k;
            c.set_read_deadline(Some(moved)).unwrap();
            if before(first) == Setup::Missed {
                return Setup::Missed;
            }
            let (r, at) = reader.await.unwrap();
            assert_fired(r, at, moved);
            Setup::Met
        })
        .await;
    });
}

#[test]
fn moving_read_deadline_earlier_fires_earlier() {
    run(async {
        let (c, _s) = tcp_pair().await;
        let c = Arc::new(c);
        c.set_read_deadline(Some(Instant::now() + Duration::from_secs(30)))
            .unwrap();
        let c2 = c.clone();
        let reader = goro::spawn(async move {
            let mut b = [0u8; 8];
            timed(c2.read(&mut b)).await
        });
        sleep(Duration::from_millis(50)).await;
        let dl = Instant::now() + Duration::from_millis(150);
        c.set_read_deadline(Some(dl)).unwrap();
        let (r, at) = reader.await.unwrap();
        assert_fired(r, at, dl);
    });
}

#[test]
fn moving_write_deadline_later_keeps_the_write_waiting() {
    run(async {
        with_margins("write deadline moved later", |k| async move {
            let (c, s) = tcp_pair().await;
            let c = Arc::new(c);
            let t0 = Instant::now();
            let old = t0 + ms(200) * k;
            c.set_write_deadline(Some(old)).unwrap();
            let c2 = c.clone();
            let data = vec![3u8; 8 << 20];
            let writer = goro::spawn(async move { c2.write_all(&data).await });
            sleep(ms(50) * k).await;
            c.set_write_deadline(Some(t0 + Duration::from_secs(30)))
                .unwrap();
            if before(old) == Setup::Missed {
                return Setup::Missed;
            }
            goro::time::sleep_until(t0 + ms(500) * k).await;
            assert!(
                !writer.is_finished(),
                "the old deadline fired (or 8 MiB fit)"
            );
            // Drain: the write completes.
            let mut got = 0;
            let mut buf = vec![0u8; 1 << 16];
            while got < 8 << 20 {
                let n = s.read(&mut buf).await.unwrap();
                assert!(n > 0);
                assert!(buf[..n].iter().all(|&x| x == 3));
                got += n;
            }
            writer.await.unwrap().unwrap();
            Setup::Met
        })
        .await;
    });
}

#[test]
fn moving_accept_deadline_later_keeps_accept_waiting() {
    run(async {
        with_margins("accept deadline moved later", |k| async move {
            let l = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
            let addr = l.local_addr().unwrap();
            let t0 = Instant::now();
            let old = t0 + ms(150) * k;
            l.set_deadline(Some(old)).unwrap();
            let l2 = l.clone();
            let acceptor = goro::spawn(async move { l2.accept().await.map(|(_, a)| a) });
            sleep(ms(50) * k).await;
            l.set_deadline(Some(t0 + Duration::from_secs(30))).unwrap();
            if before(old) == Setup::Missed {
                return Setup::Missed;
            }
            goro::time::sleep_until(t0 + ms(400) * k).await;
            assert!(!acceptor.is_finished(), "the old deadline fired");
            let c = TcpStream::connect(addr).await.unwrap();
            assert_eq!(acceptor.await.unwrap().unwrap(), c.local_addr().unwrap());
            Setup::Met
        })
        .await;
    });
}

// ---------------------------------------------------------------------------
// Clearing
// ---------------------------------------------------------------------------

#[test]
fn clearing_deadlines_removes_the_timeout() {
    run(async {
        with_margins("read and write deadlines cleared", |k| async move {
            let (c, s) = tcp_pair().await;
            let c = Arc::new(c);
            let t0 = Instant::now();
            let old = t0 + ms(150) * k;
            c.set_read_deadline(Some(old)).unwrap();
            c.set_write_deadline(Some(old)).unwrap();
            let c2 = c.clone();
            let reader = goro::spawn(async move {
                let mut b = [0u8; 8];
                c2.read(&mut b).await.map(|n| b[..n].to_vec())
            });
            let c3 = c.clone();
            let data = vec![9u8; 8 << 20];
            let writer = goro::spawn(async move { c3.write_all(&data).await });
            sleep(ms(50) * k).await;
            c.set_read_deadline(None).unwrap();
            c.set_write_deadline(None).unwrap();
            if before(old) == Setup::Missed {
                return Setup::Missed;
            }
            goro::time::sleep_until(t0 + ms(500) * k).await;
            assert!(!reader.is_finished(), "cleared read deadline fired");
            assert!(!writer.is_finished(), "cleared write deadline fired");
            // Both complete normally.
            let mut got = 0;
            let mut buf = vec![0u8; 1 << 16];
            while got < 8 << 20 {
                got += s.read(&mut buf).await.unwrap();
            }
            writer.await.unwrap().unwrap();
            s.write_all(b"done").await.unwrap();
            assert_eq!(reader.await.unwrap().unwrap(), b"done");
            Setup::Met
        })
        .await;
    });
}

#[test]
fn clearing_accept_and_pollfd_deadlines() {
    run(async {
        with_margins("accept and PollFd deadlines cleared", |k| async move {
            let l = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
            let addr = l.local_addr().unwrap();
            let (a, mut b) = poll_fd_pair();
            let a = Arc::new(a);
            let t0 = Instant::now();
            let old = t0 + ms(150) * k;
            l.set_deadline(Some(old)).unwrap();
            a.set_deadline(Some(old)).unwrap();
            let l2 = l.clone();
            let acceptor = goro::spawn(async move { l2.accept().await.map(|_| ()) });
            let a2 = a.clone();
            let reader = goro::spawn(async move {
                let mut buf = [0u8; 4];
                pfd_read(&a2, &mut buf).await
            });
            sleep(ms(50) * k).await;
            l.set_deadline(None).unwrap();
            a.set_deadline(None).unwrap();
            if before(old) == Setup::Missed {
                return Setup::Missed;
            }
            goro::time::sleep_until(t0 + ms(500) * k).await;
            assert!(!acceptor.is_finished(), "cleared accept deadline fired");
            assert!(!reader.is_finished(), "cleared PollFd deadline fired");
            let _c = TcpStream::connect(addr).await.unwrap();
            acceptor.await.unwrap().unwrap();
            b.write_all(b"z").unwrap();
            assert_eq!(reader.await.unwrap().unwrap(), 1);
            Setup::Met
        })
        .await;
    });
}

// ---------------------------------------------------------------------------
// An expired deadline fails reads even with data buffered
// ---------------------------------------------------------------------------

#[test]
fn expired_read_deadline_fails_reads_with_buffered_data() {
    run(async {
        let (c, s) = tcp_pair().await;
        // Expiry by timer, with nobody reading.
        c.set_read_deadline(Some(Instant::now() + Duration::from_millis(50)))
            .unwrap();
        sleep(Duration::from_millis(200)).await;
        s.write_all(b"buffered").await.unwrap();
        sleep(Duration::from_millis(50)).await;
        let mut b = [0u8; 8];
        for _ in 0..3 {
            assert_timed_out(c.read(&mut b).await);
        }
        assert_timed_out(c.peek(&mut b).await);
        assert_timed_out(c.read_exact(&mut b).await);
        assert_timed_out((&mut &c).read(&mut b).await);
        // A new (future) deadline: the data is there.
        c.set_read_deadline(Some(Instant::now() + Duration::from_secs(30)))
            .unwrap();
        c.read_exact(&mut b).await.unwrap();
        assert_eq!(&b, b"buffered");

        // Expiry by setting a past deadline, data buffered.
        s.write_all(b"again").await.unwrap();
        sleep(Duration::from_millis(50)).await;
        c.set_read_deadline(Some(past())).unwrap();
        assert_timed_out(c.read(&mut b).await);
        c.set_read_deadline(None).unwrap();
        assert_eq!(c.read(&mut b).await.unwrap(), 5);
        assert_eq!(&b[..5], b"again");
    });
}

#[test]
fn expired_pollfd_read_deadline_fails_with_buffered_data() {
    run(async {
        let (a, mut b) = poll_fd_pair();
        a.set_read_deadline(Some(Instant::now() + Duration::from_millis(50)))
            .unwrap();
        sleep(Duration::from_millis(200)).await;
        b.write_all(b"data").unwrap();
        let mut buf = [0u8; 8];
        assert_timed_out(pfd_read(&a, &mut buf).await);
        assert_timed_out(a.readable().await);
        a.set_read_deadline(Some(Instant::now() + Duration::from_secs(30)))
            .unwrap();
        assert_eq!(pfd_read(&a, &mut buf).await.unwrap(), 4);
    });
}

#[test]
fn expired_write_deadline_fails_writes_on_a_writable_socket() {
    run(async {
        let (c, s) = tcp_pair().await;
        c.set_write_deadline(Some(Instant::now() + Duration::from_millis(50)))
            .unwrap();
        sleep(Duration::from_millis(200)).await;
        assert_timed_out(c.write(b"x").await);
        assert_timed_out(c.write_all(b"x").await);
        c.set_write_deadline(Some(Instant::now() + Duration::from_secs(30)))
            .unwrap();
        c.write_all(b"ok").await.unwrap();
        let mut b = [0u8; 2];
        s.read_exact(&mut b).await.unwrap();
        assert_eq!(&b, b"ok");
    });
}

// ---------------------------------------------------------------------------
// set_deadline (both) and the combined timer
// ---------------------------------------------------------------------------

#[test]
fn set_deadline_covers_reads_and_writes() {
    run(async {
        let (c, s) = tcp_pair().await;
        let c = Arc::new(c);
        let dl = Instant::now() + Duration::from_millis(250);
        c.set_deadline(Some(dl)).unwrap();
        let c2 = c.clone();
        let data = vec![5u8; BIG];
        let writer = goro::spawn(async move { timed(c2.write_all(&data)).await });
        let mut b = [0u8; 8];
        let (r, at) = timed(c.read(&mut b)).await;
        assert_fired(r, at, dl);
        let (w, at) = writer.await.unwrap();
        assert_fired(w, at, dl);
        // Both stay expired.
        assert_timed_out(c.read(&mut b).await);
        assert_timed_out(c.write(b"x").await);
        // Past: both fail at once.
        c.set_deadline(Some(past())).unwrap();
        assert_timed_out(c.read(&mut b).await);
        assert_timed_out(c.write(b"x").await);
        // Cleared: both work.
        c.set_deadline(None).unwrap();
        let drain = goro::spawn(async move {
            let mut buf = vec![0u8; 1 << 16];
            while s.read(&mut buf).await.unwrap() > 0 {}
            s
        });
        c.write_all(b"tail").await.unwrap();
        c.shutdown(std::net::Shutdown::Write).unwrap();
        let s = drain.await.unwrap();
        s.write_all(b"back").await.unwrap();
        c.read_exact(&mut b[..4]).await.unwrap();
        assert_eq!(&b[..4], b"back");
    });
}

#[test]
fn combined_deadline_then_clearing_only_the_write_one() {
    run(async {
        with_margins("combined deadline, write one cleared", |k| async move {
            let (c, _s) = tcp_pair().await;
            let c = Arc::new(c);
            let dl = Instant::now() + ms(200) * k;
            c.set_deadline(Some(dl)).unwrap();
            c.set_write_deadline(None).unwrap();
            if before(dl) == Setup::Missed {
                return Setup::Missed;
            }
            let c2 = c.clone();
            let data = vec![5u8; BIG];
            let writer = goro::spawn(async move { c2.write_all(&data).await });
            let mut b = [0u8; 8];
            let (r, at) = timed(c.read(&mut b)).await;
            assert_fired(r, at, dl);
            sleep(ms(300)).await;
            assert!(!writer.is_finished(), "the cleared write deadline fired");
            // The write slot is still tracked: a past write deadline wakes it.
            c.set_write_deadline(Some(past())).unwrap();
            assert_timed_out(writer.await.unwrap());
            Setup::Met
        })
        .await;
    });
}

#[test]
fn combined_deadline_then_moving_only_the_read_one() {
    run(async {
        with_margins("combined deadline, read one moved", |k| async move {
            let (c, _s) = tcp_pair().await;
            let c = Arc::new(c);
            let dl = Instant::now() + ms(200) * k;
            c.set_deadline(Some(dl)).unwrap();
            let rdl = Instant::now() + ms(900) * k;
            c.set_read_deadline(Some(rdl)).unwrap();
            if before(dl) == Setup::Missed {
                return Setup::Missed;
            }
            let c2 = c.clone();
            let reader = goro::spawn(async move {
                let mut b = [0u8; 8];
                timed(c2.read(&mut b)).await
            });
            let (w, at) = timed(c.write_all(&vec![5u8; BIG])).await;
            assert_fired(w, at, dl);
            let (r, at) = reader.await.unwrap();
            assert_fired(r, at, rdl);
            Setup::Met
        })
        .await;
    });
}

#[test]
fn equal_deadlines_set_separately_then_changing_one() {
    run(async {
        with_margins("equal deadlines, read one cleared", |k| async move {
            let (c, s) = tcp_pair().await;
            let c = Arc::new(c);
            // Equal deadlines set one at a time share one timer...
            let dl = Instant::now() + ms(250) * k;
            c.set_read_deadline(Some(dl)).unwrap();
            c.set_write_deadline(Some(dl)).unwrap();
            // ...until the read one is cleared: only the write one fires.
            c.set_read_deadline(None).unwrap();
            if before(dl) == Setup::Missed {
                return Setup::Missed;
            }
            let c2 = c.clone();
            let reader = goro::spawn(async move {
                let mut b = [0u8; 8];
                c2.read(&mut b).await.map(|n| b[..n].to_vec())
            });
            let (w, at) = timed(c.write_all(&vec![5u8; BIG])).await;
            assert_fired(w, at, dl);
            sleep(ms(200)).await;
            assert!(!reader.is_finished(), "the cleared read deadline fired");
            s.write_all(b"fine").await.unwrap();
            assert_eq!(reader.await.unwrap().unwrap(), b"fine");
            Setup::Met
        })
        .await;

        // Equal again, then the write one moved into the past: the write
        // fails at once, the read still waits for its own deadline.
        let (c, _s) = tcp_pair().await;
        let c = Arc::new(c);
        let dl = Instant::now() + Duration::from_millis(400);
        c.set_read_deadline(Some(dl)).unwrap();
        c.set_write_deadline(Some(dl)).unwrap();
        let c2 = c.clone();
        let reader = goro::spawn(async move {
            let mut b = [0u8; 8];
            timed(c2.read(&mut b)).await
        });
        c.set_write_deadline(Some(past())).unwrap();
        let t = Instant::now();
        assert_timed_out(c.write(b"x").await);
        assert!(t.elapsed() < PROMPT);
        let (r, at) = reader.await.unwrap();
        assert_fired(r, at, dl);
    });
}

#[test]
fn write_deadline_does_not_touch_reads_and_vice_versa() {
    run(async {
        let (c, s) = tcp_pair().await;
        let c = Arc::new(c);
        let wdl = Instant::now() + Duration::from_millis(150);
        c.set_write_deadline(Some(wdl)).unwrap();
        let c2 = c.clone();
        let reader = goro::spawn(async move {
            let mut b = [0u8; 8];
            c2.read(&mut b).await.map(|n| b[..n].to_vec())
        });
        let (w, at) = timed(c.write_all(&vec![5u8; BIG])).await;
        assert_fired(w, at, wdl);
        sleep(Duration::from_millis(150)).await;
        assert!(!reader.is_finished(), "the write deadline failed a read");
        s.write_all(b"r").await.unwrap();
        assert_eq!(reader.await.unwrap().unwrap(), b"r");
    });
}

// ---------------------------------------------------------------------------
// Far-future deadlines
// ---------------------------------------------------------------------------

#[test]
fn far_future_deadlines_neither_panic_nor_fire() {
    run(async {
        let (c, s) = tcp_pair().await;
        let c = Arc::new(c);
        let far = far_future();
        let fixed = Instant::now() + Duration::from_secs(1 << 40);
        for dl in [far, fixed] {
            c.set_read_deadline(Some(dl)).unwrap();
            c.set_write_deadline(Some(dl)).unwrap();
            c.set_deadline(Some(dl)).unwrap();
        }
        c.set_read_deadline(Some(far)).unwrap();
        c.set_write_deadline(Some(fixed)).unwrap();
        let c2 = c.clone();
        let reader = goro::spawn(async move {
            let mut b = [0u8; 8];
            c2.read(&mut b).await.map(|n| b[..n].to_vec())
        });
        sleep(Duration::from_millis(300)).await;
        assert!(!reader.is_finished());
        s.write_all(b"far").await.unwrap();
        assert_eq!(reader.await.unwrap().unwrap(), b"far");
        c.write_all(b"w").await.unwrap();

        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.set_deadline(Some(far)).unwrap();
        l.set_deadline(Some(fixed)).unwrap();
        let _client = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        l.accept().await.unwrap();

        let (a, mut b) = poll_fd_pair();
        a.set_deadline(Some(far)).unwrap();
        a.set_read_deadline(Some(fixed)).unwrap();
        b.write_all(b"p").unwrap();
        let mut buf = [0u8; 2];
        assert_eq!(pfd_read(&a, &mut buf).await.unwrap(), 1);
        assert_eq!(pfd_write(&a, b"q").await.unwrap(), 1);

        // A far deadline still yields to a nearer one set later.
        let dl = Instant::now() + Duration::from_millis(100);
        c.set_read_deadline(Some(dl)).unwrap();
        let mut b = [0u8; 8];
        let (r, at) = timed(c.read(&mut b)).await;
        assert_fired(r, at, dl);
    });
}

// ---------------------------------------------------------------------------
// Per-request resets
// ---------------------------------------------------------------------------

fn timers_pending(h: &goro::runtime::Handle) -> usize {
    h.metrics().workers.iter().map(|w| w.timers_pending).sum()
}

/// Regression test: re-arming one socket's deadline more than 64 times
/// used to deadlock in `set_deadline` (the timer heap's stale-entry
/// cleanup, run under the heap lock, took the descriptor lock that
/// `set_deadline` holds while arming). Runs on its own thread so a deadlock
/// fails the test instead of hanging it.
#[test]
fn rearming_a_deadline_100_times_does_not_deadlock() {
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        goro::block_on(async {
            let (c, _s) = tcp_pair().await;
            for _ in 0..100 {
                c.set_read_deadline(Some(Instant::now() + Duration::from_secs(30)))
                    .unwrap();
            }
        });
        let _ = done_tx.send(());
    });
    // The deadlocked thread cannot be stopped; fail instead of hanging.
    done_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("set_read_deadline deadlocked (thread still stuck)");
}

#[test]
fn resetting_deadlines_per_request_does_not_leak_timers() {
    let _dog = watchdog(HANG + Duration::from_secs(30));
    let rt = workers(2);
    let h = rt.handle();
    let before = timers_pending(&h);
    let max_seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let rt2 = h.clone();
    let max2 = max_seen.clone();
    rt.block_on(async move {
        let (c, s) = tcp_pair().await;
        // From the block_on thread: 10,000 request/response rounds, each
        // re-arming a deadline that never fires.
        let mut b = [0u8; 1];
        for i in 0..10_000u32 {
            let dl = Some(Instant::now() + Duration::from_secs(30));
            match i % 3 {
                0 => s.set_read_deadline(dl).unwrap(),
                1 => s.set_deadline(dl).unwrap(),
                _ => {
                    s.set_read_deadline(dl).unwrap();
                    s.set_write_deadline(dl).unwrap();
                }
            }
            c.write_all(&[i as u8]).await.unwrap();
            s.read_exact(&mut b).await.unwrap();
            assert_eq!(b[0], i as u8);
            s.write_all(&b).await.unwrap();
            c.read_exact(&mut b).await.unwrap();
            if i % 500 == 0 {
                max2.fetch_max(timers_pending(&rt2), std::sync::atomic::Ordering::Relaxed);
            }
        }
        // From tasks that migrate between workers.
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let rt3 = rt2.clone();
                let max3 = max2.clone();
                goro::spawn(async move {
                    let (c, s) = tcp_pair().await;
                    let mut b = [0u8; 1];
                    for i in 0..2_500u32 {
                        s.set_read_deadline(Some(Instant::now() + Duration::from_secs(30)))
                            .unwrap();
                        c.write_all(&[i as u8]).await.unwrap();
                        s.read_exact(&mut b).await.unwrap();
                        if i % 250 == 0 {
                            max3.fetch_max(
                                timers_pending(&rt3),
                                std::sync::atomic::Ordering::Relaxed,
                            );
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    let after = timers_pending(&h);
    let max = max_seen.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!("timers pending: before {before}, max seen {max}, after {after}");
    // 20,000 deadlines were armed; stale ones must be cleaned up as we go.
    assert!(max <= 1_000, "timer heap grew to {max} entries");
    assert!(
        after <= 1_000,
        "timer heap holds {after} entries afterwards"
    );
}
