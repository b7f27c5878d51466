//! Bad input gets a clear `io::Error`, never a panic or a hang:
//! unparsable and unresolvable addresses, refused connections, addresses in
//! use, operations after close, zero-length buffers, absurd durations, a
//! peer that resets the connection mid-read, and fds that cannot be polled.

mod support;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use goro::io::PollFd;
use goro::net::{TcpListener, TcpStream};
use goro::time::{sleep, sleep_until, timeout};
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::hang::run;
use support::instants::far_future;
use support::net::tcp_pair;

/// Upper bound for "at once".
const PROMPT: Duration = Duration::from_secs(3);
/// Upper bound for a name lookup that must fail.
const LOOKUP: Duration = Duration::from_secs(30);

/// Awaits `f`, failing the test if it takes longer than `limit`.
async fn within<F: Future>(limit: Duration, what: &str, f: F) -> F::Output {
    match timeout(limit, f).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: no answer within {limit:?}"),
    }
}

// ---------------------------------------------------------------------------
// Addresses
// ---------------------------------------------------------------------------

#[test]
fn unparsable_addresses_are_errors() {
    run(async {
        // std rejects most of these outright (InvalidInput); "[::1" splits
        // at its last ':' into host "[:" and port 1, whose lookup fails.
        for (addr, invalid) in [
            ("not an address", true),
            ("127.0.0.1", true),
            ("", true),
            ("127.0.0.1:99999", true),
            ("[::1", false),
            ("[::1]", true),
            ("::1:80:", false),
        ] {
            let e = within(LOOKUP, addr, TcpStream::connect(addr))
                .await
                .expect_err(addr);
            if invalid {
                assert_eq!(
                    e.kind(),
                    io::ErrorKind::InvalidInput,
                    "connect {addr:?}: {e}"
                );
            }
            let e = within(LOOKUP, addr, TcpListener::bind(addr))
                .await
                .expect_err(addr);
            if invalid {
                assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "bind {addr:?}: {e}");
            }
            // Through String and &String as well.
            let owned = addr.to_string();
            assert!(
                within(LOOKUP, addr, TcpStream::connect(&owned))
                    .await
                    .is_err()
            );
            assert!(
                within(LOOKUP, addr, TcpListener::bind(owned))
                    .await
                    .is_err()
            );
        }
        // An empty list of addresses.
        let none: &[std::net::SocketAddr] = &[];
        let e = TcpStream::connect(none).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
        let e = TcpListener::bind(none).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
    });
}

#[test]
fn unresolvable_hosts_are_errors_not_hangs() {
    run(async {
        let t = Instant::now();
        let e = within(
            LOOKUP,
            "connect",
            TcpStream::connect("no-such-host.invalid:80"),
        )
        .await
        .unwrap_err();
        eprintln!(
            "connect(no-such-host.invalid:80): {e} after {:?}",
            t.elapsed()
        );
        let e = within(
            LOOKUP,
            "connect (host, port)",
            TcpStream::connect(("no-such-host.invalid", 80)),
        )
        .await
        .unwrap_err();
        eprintln!("connect((no-such-host.invalid, 80)): {e}");
        within(LOOKUP, "bind", TcpListener::bind("no-such-host.invalid:0"))
            .await
            .unwrap_err();
        // Lookups run off the workers: the runtime keeps serving meanwhile.
        let ticker = goro::spawn(async {
            for _ in 0..5 {
                sleep(Duration::from_millis(10)).await;
            }
        });
        let lookup = goro::spawn(TcpStream::connect("no-such-host.invalid:443"));
        within(PROMPT, "ticker during a lookup", ticker)
            .await
            .unwrap();
        within(LOOKUP, "lookup", lookup).await.unwrap().unwrap_err();
    });
}

#[test]
fn connection_refused_is_reported() {
    run(async {
        let addr = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let e = within(PROMPT, "connect", TcpStream::connect(addr))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e}");
        // Every address of a list is tried; the last error is returned.
        let addrs = [addr, addr];
        let e = TcpStream::connect(&addrs[..]).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e}");
    });
}

#[test]
fn address_in_use_is_reported() {
    run(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let e = TcpListener::bind(addr).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse, "{e}");
        // Held by std rather than goro.
        let std_l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let e = TcpListener::bind(std_l.local_addr().unwrap())
            .await
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse, "{e}");
        // The first listener is unharmed.
        let _c = TcpStream::connect(addr).await.unwrap();
        within(PROMPT, "accept", l.accept()).await.unwrap();
    });
}

// ---------------------------------------------------------------------------
// After close
// ---------------------------------------------------------------------------

#[test]
fn operations_after_close_fail_cleanly() {
    run(async {
        let (c, _s) = tcp_pair().await;
        c.close().unwrap();
        let mut b = [0u8; 4];
        for r in [
            c.read(&mut b).await.map(drop),
            c.write(b"x").await.map(drop),
            c.peek(&mut b).await.map(drop),
            c.read_exact(&mut b).await,
            c.write_all(b"x").await,
            c.set_read_deadline(None),
            c.shutdown(std::net::Shutdown::Both),
            (&mut &c).read(&mut b).await.map(drop),
            (&mut &c).write(b"x").await.map(drop),
            (&mut &c).flush().await,
        ] {
            // `flush` has nothing to flush and may succeed.
            if let Err(e) = r {
                assert_eq!(e.kind(), io::ErrorKind::NotConnected, "{e}");
            }
        }
        assert!(c.close().is_err());
        assert!(format!("{c:?}").contains("TcpStream"));

        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.close().unwrap();
        let e = l.accept().await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotConnected, "{e}");
        assert!(l.ttl().is_err());
        assert!(format!("{l:?}").contains("TcpListener"));
        // A closed stream cannot be unwrapped into std either.
        let (c, _s) = tcp_pair().await;
        c.close().unwrap();
        assert!(c.into_std().is_err());
    });
}

// ---------------------------------------------------------------------------
// Zero-length buffers
// ---------------------------------------------------------------------------

#[test]
fn zero_length_buffers_return_at_once() {
    run(async {
        let (c, s) = tcp_pair().await;
        let empty: &mut [u8] = &mut [];
        // No data is buffered: none of these may wait.
        assert_eq!(within(PROMPT, "read", c.read(empty)).await.unwrap(), 0);
        assert_eq!(within(PROMPT, "peek", c.peek(empty)).await.unwrap(), 0);
        within(PROMPT, "read_exact", c.read_exact(empty))
            .await
            .unwrap();
        assert_eq!(within(PROMPT, "write", c.write(&[])).await.unwrap(), 0);
        within(PROMPT, "write_all", c.write_all(&[])).await.unwrap();
        assert_eq!(
            within(PROMPT, "AsyncRead", (&mut &c).read(empty))
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            within(PROMPT, "AsyncWrite", (&mut &c).write(&[]))
                .await
                .unwrap(),
            0
        );
        let mut no_bufs: [io::IoSliceMut<'_>; 0] = [];
        assert_eq!(
            within(
                PROMPT,
                "read_vectored",
                (&mut &c).read_vectored(&mut no_bufs)
            )
            .await
            .unwrap(),
            0
        );
        assert_eq!(
            within(PROMPT, "write_vectored", (&mut &c).write_vectored(&[]))
                .await
                .unwrap(),
            0
        );
        // Nothing reached the peer, and buffered data is not consumed by a
        // zero-length read.
        s.write_all(b"data").await.unwrap();
        sleep(Duration::from_millis(20)).await;
        assert_eq!(c.read(&mut []).await.unwrap(), 0);
        let mut b = [0u8; 8];
        assert_eq!(c.read(&mut b).await.unwrap(), 4);
        assert_eq!(&b[..4], b"data");
        c.write_all(b"!").await.unwrap();
        assert_eq!(s.read(&mut b).await.unwrap(), 1);

        // PollFd's AsyncRead/AsyncWrite.
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut a = PollFd::new(a).unwrap();
        assert_eq!(
            within(PROMPT, "PollFd read", a.read(&mut []))
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            within(PROMPT, "PollFd write", a.write(&[])).await.unwrap(),
            0
        );
    });
}

// ---------------------------------------------------------------------------
// Absurd durations
// ---------------------------------------------------------------------------

#[test]
fn duration_max_sleeps_and_timeouts() {
    run(async {
        // Sleeping "forever" neither panics nor completes.
        assert!(
            timeout(Duration::from_millis(200), sleep(Duration::MAX))
                .await
                .is_err()
        );
        assert!(
            timeout(Duration::from_millis(100), sleep_until(far_future()))
                .await
                .is_err()
        );
        // A timeout of Duration::MAX never fires.
        assert_eq!(timeout(Duration::MAX, async { 7 }).await.unwrap(), 7);
        timeout(Duration::MAX, sleep(Duration::from_millis(20)))
            .await
            .unwrap();
        let (c, s) = tcp_pair().await;
        s.write_all(b"x").await.unwrap();
        let mut b = [0u8; 1];
        assert_eq!(
            timeout(Duration::MAX, c.read(&mut b))
                .await
                .unwrap()
                .unwrap(),
            1
        );
        // Nested, and as a task.
        let h = goro::spawn(timeout(Duration::MAX, timeout(Duration::MAX, async { 1 })));
        assert_eq!(h.await.unwrap().unwrap().unwrap(), 1);
        // A far sleep can be reset to a near one and completes then.
        let mut s = sleep(Duration::MAX);
        assert!(
            timeout(Duration::from_millis(50), &mut s).await.is_err(),
            "sleep(MAX) completed"
        );
        let at = Instant::now() + Duration::from_millis(30);
        s.reset(at);
        within(PROMPT, "reset sleep", &mut s).await;
        assert!(Instant::now() >= at);
        // And back to forever.
        s.reset(far_future());
        assert!(timeout(Duration::from_millis(50), &mut s).await.is_err());
        // Elapsed converts to TimedOut.
        let e: io::Error = timeout(Duration::ZERO, sleep(Duration::MAX))
            .await
            .unwrap_err()
            .into();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        // Zero durations complete at once.
        within(PROMPT, "sleep(0)", sleep(Duration::ZERO)).await;
    });
}

#[test]
fn duration_max_as_a_deadline() {
    run(async {
        let (c, s) = tcp_pair().await;
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        // `Instant + Duration::MAX` overflows in std itself, so the farthest
        // instant std can build stands in for it.
        assert!(Instant::now().checked_add(Duration::MAX).is_none());
        let far = far_future();
        c.set_read_deadline(Some(far)).unwrap();
        c.set_write_deadline(Some(far)).unwrap();
        c.set_deadline(Some(far)).unwrap();
        l.set_deadline(Some(far)).unwrap();
        let c = Arc::new(c);
        let c2 = c.clone();
        let reader = goro::spawn(async move {
            let mut b = [0u8; 4];
            c2.read(&mut b).await
        });
        sleep(Duration::from_millis(200)).await;
        assert!(!reader.is_finished(), "a far-future deadline fired");
        s.write_all(b"ok").await.unwrap();
        assert_eq!(reader.await.unwrap().unwrap(), 2);
        // An instant from before the runtime started counts as passed.
        let long_ago = Instant::now()
            .checked_sub(Duration::from_secs(3600))
            .unwrap_or_else(Instant::now);
        c.set_read_deadline(Some(long_ago)).unwrap();
        let mut b = [0u8; 4];
        let e = c.read(&mut b).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    });
}

/// An `Interval` with an absurd period ticks once (at once) and then never
/// (it used to tick back to back when `start + period` overflowed).
#[test]
fn interval_with_duration_max_ticks_once() {
    run(async {
        let mut iv = goro::time::interval(Duration::MAX);
        within(PROMPT, "first tick", iv.tick()).await;
        assert!(
            timeout(Duration::from_millis(200), iv.tick())
                .await
                .is_err(),
            "second tick of interval(Duration::MAX) came at once"
        );
        iv.reset();
        assert!(
            timeout(Duration::from_millis(200), iv.tick())
                .await
                .is_err(),
            "tick after reset() of interval(Duration::MAX) came at once"
        );
    });
}

// ---------------------------------------------------------------------------
// Peer reset
// ---------------------------------------------------------------------------

#[track_caller]
fn assert_reset_or_eof(r: io::Result<usize>) {
    match r {
        Ok(0) => {}
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
        other => panic!("expected ConnectionReset or EOF, got {other:?}"),
    }
}

#[test]
fn peer_reset_mid_read_is_reported() {
    run(async {
        // SO_LINGER 0: close sends RST.
        let (c, s) = tcp_pair().await;
        let c = Arc::new(c);
        let c2 = c.clone();
        let reader = goro::spawn(async move {
            let mut b = [0u8; 16];
            c2.read(&mut b).await
        });
        sleep(Duration::from_millis(100)).await;
        assert!(!reader.is_finished());
        s.set_linger(Some(Duration::ZERO)).unwrap();
        drop(s);
        let r = within(PROMPT, "reader after RST", reader).await.unwrap();
        assert_reset_or_eof(r);
        // Writing to a reset connection is an error, not SIGPIPE.
        let mut write_err = None;
        for _ in 0..10 {
            match c.write(b"after reset").await {
                Ok(_) => sleep(Duration::from_millis(10)).await,
                Err(e) => {
                    write_err = Some(e);
                    break;
                }
            }
        }
        let e = write_err.expect("writes to a reset connection kept succeeding");
        assert!(
            matches!(
                e.kind(),
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
            ),
            "{e}"
        );

        // Unread data at the peer also makes its close a reset; the reader
        // is in the stateless path this time.
        let (c, s) = tcp_pair().await;
        c.write_all(b"never read").await.unwrap();
        sleep(Duration::from_millis(20)).await;
        let c = Arc::new(c);
        let c2 = c.clone();
        let reader = goro::spawn(async move {
            let mut b = [0u8; 16];
            (&mut &*c2).read(&mut b).await
        });
        sleep(Duration::from_millis(50)).await;
        drop(s);
        let r = within(PROMPT, "stateless reader after RST", reader)
            .await
            .unwrap();
        assert_reset_or_eof(r);

        // Reset while blocked in a write with full buffers.
        let (c, s) = tcp_pair().await;
        let c = Arc::new(c);
        let c2 = c.clone();
        let data = vec![1u8; 64 << 20];
        let writer = goro::spawn(async move { c2.write_all(&data).await });
        sleep(Duration::from_millis(200)).await;
        assert!(!writer.is_finished());
        s.set_linger(Some(Duration::ZERO)).unwrap();
        drop(s);
        let e = within(PROMPT, "writer after RST", writer)
            .await
            .unwrap()
            .unwrap_err();
        assert!(
            matches!(
                e.kind(),
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
            ),
            "{e}"
        );
    });
}

// ---------------------------------------------------------------------------
// File descriptors that cannot be polled
// ---------------------------------------------------------------------------

/// A value that claims to own an fd number that is not open.
#[derive(Debug)]
struct BogusFd(RawFd);

impl AsRawFd for BogusFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

#[test]
fn pollfd_rejects_fds_it_cannot_poll() {
    run(async {
        for fd in [-1, 1_000_000] {
            let e = PollFd::new(BogusFd(fd)).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EBADF), "fd {fd}: {e}");
        }
        // epoll refuses regular files (EPERM).
        let dir = std::env::temp_dir().join(format!("goro-bad-input-{}", std::process::id()));
        std::fs::write(&dir, b"x").unwrap();
        let f = std::fs::File::open(&dir).unwrap();
        let r = PollFd::new(f).map(drop);
        std::fs::remove_file(&dir).unwrap();
        let e = r.unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{e}");
        // The runtime is unharmed.
        let (c, s) = tcp_pair().await;
        c.write_all(b"fine").await.unwrap();
        let mut b = [0u8; 4];
        s.read_exact(&mut b).await.unwrap();
    });
}
