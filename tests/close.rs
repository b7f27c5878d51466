//! `close()` semantics of `TcpStream` and `TcpListener` (Go's
//! `ErrNetClosing`):
//!
//! - closing wakes every task blocked on the socket (in read, write or
//!   accept, holding the direction's lock or queued on it, or parked through
//!   the stateless `AsyncRead`/`AsyncWrite` path) with `NotConnected`;
//! - every later operation fails the same way;
//! - closing twice is an error, not a panic; dropping closes;
//! - the fd number itself stays open while an operation still holds it and
//!   is released once the last one lets go;
//! - close racing with many in-flight operations never panics, hangs or
//!   yields any error but `NotConnected`.

mod support;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use goro::net::{TcpListener, TcpStream};
use goro::time::sleep;
use std::future::poll_fn;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::hang::{HANG, run, watchdog};
use support::net::{tcp_pair, tcp_pair_on};

/// Upper bound for "wakes at once".
const PROMPT: Duration = Duration::from_secs(3);
/// Big enough to fill any loopback socket buffer.
const BIG: usize = 64 << 20;

#[track_caller]
fn assert_closed<T: std::fmt::Debug>(r: io::Result<T>) {
    match r {
        Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
        other => panic!("expected NotConnected, got {other:?}"),
    }
}

/// What `/proc/self/fd/N` points to ("socket:[inode]"), or `None` if the fd
/// number is not open.
fn fd_target(fd: i32) -> Option<String> {
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// Every operation on a closed stream fails with `NotConnected`.
async fn assert_stream_unusable(c: &TcpStream) {
    let mut b = [0u8; 8];
    assert_closed(c.read(&mut b).await);
    assert_closed(c.read_exact(&mut b).await);
    assert_closed(c.peek(&mut b).await);
    assert_closed(c.write(b"x").await);
    assert_closed(c.write_all(b"x").await);
    assert_closed(c.readable().await);
    assert_closed(c.writable().await);
    assert_closed((&mut &*c).read(&mut b).await);
    assert_closed((&mut &*c).write(b"x").await);
    assert_closed(c.set_read_deadline(None));
    assert_closed(c.set_write_deadline(Some(Instant::now())));
    assert_closed(c.set_deadline(None));
    assert_closed(c.shutdown(std::net::Shutdown::Both));
    assert_closed(c.local_addr());
    assert_closed(c.peer_addr());
    assert_closed(c.set_nodelay(true));
}

#[test]
fn close_wakes_blocked_readers() {
    run(async {
        let (c, s) = tcp_pair().await;
        let c = Arc::new(c);
        let mut waiters = Vec::new();
        // Two inherent reads (one parks holding the read lock, one queues
        // on the lock), a read_exact, a stateless read and readable().
        for _ in 0..2 {
            let c = c.clone();
            waiters.push(goro::spawn(async move {
                let mut b = [0u8; 8];
                c.read(&mut b).await.map(drop)
            }));
        }
        let c2 = c.clone();
        waiters.push(goro::spawn(async move {
            let mut b = [0u8; 8];
            c2.read_exact(&mut b).await
        }));
        let c2 = c.clone();
        waiters.push(goro::spawn(async move {
            let mut b = [0u8; 8];
            (&mut &*c2).read(&mut b).await.map(drop)
        }));
        let c2 = c.clone();
        // (looping: a stale edge may report readiness spuriously)
        waiters.push(goro::spawn(async move {
            loop {
                c2.readable().await?;
                goro::task::yield_now().await;
            }
        }));
        sleep(Duration::from_millis(150)).await;
        assert!(waiters.iter().all(|w| !w.is_finished()));
        let t = Instant::now();
        c.close().unwrap();
        for w in waiters {
            assert_closed(w.await.unwrap());
        }
        assert!(t.elapsed() < PROMPT, "woke after {:?}", t.elapsed());
        assert_stream_unusable(&c).await;
        // The peer sees end of stream.
        let mut b = [0u8; 8];
        assert_eq!(s.read(&mut b).await.unwrap(), 0);
    });
}

#[test]
fn close_wakes_blocked_writers() {
    run(async {
        let (c, s) = tcp_pair().await;
        let c = Arc::new(c);
        let c2 = c.clone();
        // Allocated here, not in the task: see `remote_wakes_survive_sysmon_handoffs`.
        let data = vec![1u8; BIG];
        let first = goro::spawn(async move { c2.write_all(&data).await });
        sleep(Duration::from_millis(300)).await;
        assert!(!first.is_finished(), "64 MiB fit in the socket buffers");
        let mut waiters = vec![first];
        let c2 = c.clone();
        waiters.push(goro::spawn(
            async move { c2.write(b"queued").await.map(drop) },
        ));
        let c2 = c.clone();
        waiters.push(goro::spawn(async move {
            // The stateless path: writes until the buffer is full, then parks.
            let chunk = vec![2u8; 1 << 16];
            loop {
                let n = (&mut &*c2).write(&chunk).await?;
                assert!(n > 0);
            }
        }));
        let c2 = c.clone();
        waiters.push(goro::spawn(async move {
            loop {
                c2.writable().await?;
                sleep(Duration::from_millis(10)).await;
            }
        }));
        sleep(Duration::from_millis(150)).await;
        assert!(waiters.iter().all(|w| !w.is_finished()));
        let t = Instant::now();
        c.close().unwrap();
        for (i, w) in waiters.into_iter().enumerate() {
            assert_closed(w.await.unwrap());
            assert!(
                t.elapsed() < PROMPT,
                "waiter {i} woke after {:?}",
                t.elapsed()
            );
        }
        assert_stream_unusable(&c).await;
        // The peer drains what was sent and then sees end of stream.
        let mut buf = vec![0u8; 1 << 16];
        while s.read(&mut buf).await.unwrap() > 0 {}
    });
}

#[test]
fn close_wakes_blocked_accepts() {
    run(async {
        let l = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
        let addr = l.local_addr().unwrap();
        let mut waiters = Vec::new();
        for _ in 0..2 {
            let l = l.clone();
            waiters.push(goro::spawn(async move { l.accept().await.map(drop) }));
        }
        // `incoming()` ends instead of failing.
        let l2 = l.clone();
        let incoming = goro::spawn(async move { l2.incoming().next().await.is_none() });
        let l2 = l.clone();
        waiters.push(goro::spawn(async move {
            poll_fn(|cx| l2.poll_accept(cx)).await.map(drop)
        }));
        sleep(Duration::from_millis(150)).await;
        assert!(waiters.iter().all(|w| !w.is_finished()));
        assert!(!incoming.is_finished());
        let t = Instant::now();
        l.close().unwrap();
        for w in waiters {
            assert_closed(w.await.unwrap());
        }
        assert!(
            incoming.await.unwrap(),
            "incoming() yielded an item after close"
        );
        assert!(t.elapsed() < PROMPT, "woke after {:?}", t.elapsed());
        assert_closed(l.accept().await.map(drop));
        assert!(l.incoming().next().await.is_none());
        assert_closed(l.local_addr());
        assert_closed(l.set_deadline(None));
        // The port is no longer listening.
        let e = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e}");
    });
}

#[test]
fn double_close_is_an_error_not_a_panic() {
    run(async {
        let (c, _s) = tcp_pair().await;
        c.close().unwrap();
        assert_closed(c.close());
        assert_closed(c.close());
        drop(c);
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.close().unwrap();
        assert_closed(l.close());
        drop(l);
    });
}

#[test]
fn drop_closes() {
    run(async {
        // goro peer.
        let (c, s) = tcp_pair().await;
        let fd = c.as_raw_fd();
        let before = fd_target(fd);
        assert!(before.as_deref().is_some_and(|t| t.starts_with("socket:")));
        drop(c);
        let mut b = [0u8; 8];
        assert_eq!(s.read(&mut b).await.unwrap(), 0);
        assert_ne!(fd_target(fd), before, "the fd is still open after drop");

        // std peer.
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let mut std_peer = std::net::TcpStream::connect(addr).unwrap();
        let (s, _) = l.accept().await.unwrap();
        drop(s);
        std_peer
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let n = goro::spawn_blocking(move || io::Read::read(&mut std_peer, &mut [0u8; 8]))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, 0);

        // A dropped listener stops listening.
        drop(l);
        let e = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e}");
    });
}

/// The fd number stays open (and keeps naming the same socket) while a
/// task still holds it in an operation, and is closed once that task lets
/// go. One worker and no hand-offs, so the woken task cannot run before the
/// closing task yields.
#[test]
fn fd_outlives_close_while_an_operation_holds_it() {
    let _dog = watchdog(HANG);
    let rt = goro::runtime::Runtime::builder()
        .worker_threads(1)
        .handoff_after(Duration::from_secs(3600))
        .build()
        .unwrap();
    let h = rt.spawn(async {
        for write in [false, true] {
            let (c, s) = tcp_pair().await;
            let c = Arc::new(c);
            let fd = c.as_raw_fd();
            let target = fd_target(fd).expect("open fd");
            let c2 = c.clone();
            let data = vec![0u8; if write { BIG } else { 0 }];
            let op = goro::spawn(async move {
                if write {
                    c2.write_all(&data).await
                } else {
                    let mut b = [0u8; 8];
                    c2.read(&mut b).await.map(drop)
                }
            });
            // Let the operation start and park (holding its lock).
            sleep(Duration::from_millis(200)).await;
            assert!(!op.is_finished());
            c.close().unwrap();
            // Still on the only worker: the operation has not run yet.
            assert_eq!(
                fd_target(fd).as_deref(),
                Some(target.as_str()),
                "fd closed while an operation was in flight (write={write})"
            );
            assert_closed(op.await.unwrap());
            assert_ne!(
                fd_target(fd).as_deref(),
                Some(target.as_str()),
                "fd still open after the last operation ended (write={write})"
            );
            drop(s);
        }
    });
    rt.block_on(h).unwrap();
}

/// Close racing with reads in flight from several tasks, thousands of times.
#[test]
fn close_races_with_in_flight_reads() {
    const ITERS: usize = 2_000;
    run(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let got_data = Arc::new(AtomicUsize::new(0));
        for i in 0..ITERS {
            let (c, s) = tcp_pair_on(&l).await;
            let c = Arc::new(c);
            let s = Arc::new(s);
            let mut readers = Vec::new();
            for k in 0..4 {
                let c = c.clone();
                let got = got_data.clone();
                readers.push(goro::spawn(async move {
                    let mut b = [0u8; 64];
                    loop {
                        let r = match k {
                            0 | 1 => c.read(&mut b).await,
                            2 => (&mut &*c).read(&mut b).await,
                            _ => c.readable().await.map(|()| 1),
                        };
                        match r {
                            Ok(0) => return Err(io::Error::other("EOF before close")),
                            Ok(_) => {
                                got.fetch_add(1, Ordering::Relaxed);
                                if k == 3 {
                                    goro::task::yield_now().await;
                                }
                            }
                            Err(e) => return Err(e),
                        }
                    }
                }));
            }
            let s2 = s.clone();
            let writer = goro::spawn(async move {
                for n in 0..(i % 5) {
                    if s2.write_all(&[n as u8; 16]).await.is_err() {
                        break;
                    }
                    goro::task::yield_now().await;
                }
            });
            for _ in 0..(i % 7) {
                goro::task::yield_now().await;
            }
            c.close().unwrap();
            for r in readers {
                let r: io::Result<()> = goro::time::timeout(Duration::from_secs(20), r)
                    .await
                    .unwrap_or_else(|_| panic!("iteration {i}: a reader hung after close"))
                    .unwrap();
                assert_closed(r);
            }
            writer.await.unwrap();
            assert_closed(c.close());
        }
        eprintln!(
            "{ITERS} iterations, {} reads returned data before the close",
            got_data.load(Ordering::Relaxed)
        );
    });
}

/// Close racing with writers in flight (the peer drains).
#[test]
fn close_races_with_in_flight_writes() {
    const ITERS: usize = 300;
    run(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        for i in 0..ITERS {
            let (c, s) = tcp_pair_on(&l).await;
            let c = Arc::new(c);
            let drain = goro::spawn(async move {
                let mut buf = vec![0u8; 1 << 16];
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) => return Ok(()),
                        Ok(_) => {}
                        Err(e) => return Err(e),
                    }
                }
            });
            let mut writers = Vec::new();
            for k in 0..3 {
                let c = c.clone();
                writers.push(goro::spawn(async move {
                    let chunk = vec![k as u8; 256 << 10];
                    loop {
                        let r = if k == 2 {
                            (&mut &*c).write(&chunk).await.map(drop)
                        } else {
                            c.write_all(&chunk).await
                        };
                        r?;
                    }
                }));
            }
            sleep(Duration::from_micros(200 * (i % 10) as u64)).await;
            c.close().unwrap();
            for w in writers {
                let r: io::Result<()> = goro::time::timeout(Duration::from_secs(20), w)
                    .await
                    .unwrap_or_else(|_| panic!("iteration {i}: a writer hung after close"))
                    .unwrap();
                assert_closed(r);
            }
            // The peer gets an orderly end of stream.
            goro::time::timeout(Duration::from_secs(20), drain)
                .await
                .expect("peer never saw the close")
                .unwrap()
                .unwrap();
        }
    });
}

/// Found through `close_wakes_blocked_writers` (its waiters sometimes ran
/// ~20 s after the close): a wake-up from outside the workers (here a spawn
/// from `block_on`, in that test `close()`) is left in the global queue
/// while every P is idle, until some timer happens to wake a worker.
///
/// Cause: `nmspinning` leaks. Sysmon's `handoff(shared, p, from)` CASes
/// `p.owner` from the owner it read *before* taking the idle lock. If in
/// between that M finished its long poll, released the P and re-acquired it
/// through `reacquire(ctx, true)` (so it is now *spinning*, counted in
/// `nmspinning`), the CAS still succeeds (ABA on the owner id) and the P is
/// handed away. The M then sees `p.owner != m.id` at the top of
/// `schedule_loop` and calls `lost_p`, which clears `m.spinning` without
/// decrementing `nmspinning`. With `nmspinning` stuck at 1, every later
/// `wakep()` returns early, so `schedule_remote` never starts an M.
/// (Decrementing in `lost_p` when `spinning` was set makes this test pass;
/// the ABA hand-off itself, taking a P from an M that is no longer stuck,
/// deserves a fix too — e.g. compare `schedtick` as well.)
#[test]
fn remote_wakes_survive_sysmon_handoffs() {
    let _dog = watchdog(HANG);
    let rt = goro::runtime::Runtime::builder()
        .worker_threads(2)
        .handoff_after(Duration::from_millis(1))
        .build()
        .unwrap();
    let mut stalls = Vec::new();
    rt.block_on(async {
        for i in 0..2_000u64 {
            // A task whose poll blocks its worker long enough for sysmon to
            // hand its P to another thread, ending at varying moments.
            let busy = goro::spawn(async move {
                std::thread::sleep(Duration::from_micros(500 + (i % 7) * 300));
            });
            sleep(Duration::from_micros((i % 5) * 400)).await;
            busy.await.unwrap();
            // Let the workers go idle, then wake a task from this thread.
            std::thread::sleep(Duration::from_millis(2));
            let t = Instant::now();
            let r = goro::time::timeout(Duration::from_secs(3), goro::spawn(async {})).await;
            if r.is_err() || t.elapsed() > Duration::from_secs(1) {
                stalls.push((i, t.elapsed()));
                if stalls.len() == 3 {
                    break;
                }
            }
        }
    });
    assert!(
        stalls.is_empty(),
        "spawned tasks sat in the global queue with every worker idle \
         (iteration, delay): {stalls:?}"
    );
}
