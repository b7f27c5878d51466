//! Echo traffic under injected OS faults (feature `fault-injection`).
//!
//! `goro::fault` makes `epoll_wait`, `epoll_ctl`, `accept4`, `connect`,
//! `recv` and `send` fail on a seeded schedule: `EINTR`, spurious `EAGAIN`,
//! short transfers, `ENOMEM`/`ENOBUFS` on registration, `EMFILE`/`ENFILE`/
//! `ECONNABORTED` on accept. Under that, 200 connections echo id-tagged
//! payloads through an `incoming()` server, using the three I/O paths
//! (`read_exact`/`write_all`, plain `read`/`write`, and the futures-io
//! traits). The test asserts:
//!
//! - every session that completes got back exactly the bytes it sent (content
//!   compared, then end of stream: nothing duplicated), and every client
//!   completes one within a bounded number of attempts;
//! - the only errors users see are the ones the injected faults must cause
//!   (registration `ENOMEM`/`ENOBUFS`, and the peer closing because of one):
//!   `EINTR`, `EAGAIN`, `EMFILE`, `ENFILE` and `ECONNABORTED` are absorbed;
//! - no task panics, nothing hangs (a watchdog thread), and the process's
//!   open fds are back to their count before the runtime existed.
//!
//! The seed comes from `GORO_FAULT_SEED` (else the clock) and is printed on
//! failure. Each test holds the process-wide schedule guard for its whole
//! run, so the tests in this file run one after another.
#![cfg(feature = "fault-injection")]

mod support;

use futures::{AsyncReadExt, AsyncWriteExt};
use goro::fault::{self, Fault, Schedule, Syscall};
use goro::net::{TcpListener, TcpStream};
use goro::runtime::Runtime;
use std::io;
use std::net::Shutdown;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::data::Rng;
use support::process::{one_at_a_time, open_fds};

const CONNECTIONS: usize = 200;
const MAX_ATTEMPTS: usize = 40;
const WATCHDOG: Duration = Duration::from_secs(120);

fn seed() -> u64 {
    match std::env::var("GORO_FAULT_SEED") {
        Ok(s) => s.parse().expect("GORO_FAULT_SEED must be a u64"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    }
}

/// The fd count once it has been stable for 50 ms (a runtime dropped by the
/// previous test may still be closing descriptors).
fn settled_fds() -> usize {
    let mut last = open_fds();
    let start = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let now = open_fds();
        if now == last || start.elapsed() > Duration::from_secs(5) {
            eprintln!("fd baseline: {now} {:?}", fd_list());
            return now;
        }
        last = now;
    }
}

/// What each open fd is (for failure messages).
fn fd_list() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let target = std::fs::read_link(e.path()).ok()?;
            Some(format!(
                "{}->{}",
                e.file_name().to_string_lossy(),
                target.display()
            ))
        })
        .collect();
    v.sort();
    v
}

/// Waits (briefly) for the fd count to come back to `baseline`: sockets of
/// the other side can close a moment after the runtime that owned them.
fn assert_fds_back(baseline: usize, seed: u64) {
    let start = Instant::now();
    while open_fds() != baseline && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        open_fds(),
        baseline,
        "fds not back to baseline (seed {seed}): {:?}",
        fd_list()
    );
}

/// Runs `body` on its own thread and fails the test if it takes longer than
/// the watchdog allows.
fn with_watchdog<T: Send + 'static>(seed: u64, body: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let _ = tx.send(body());
    });
    match rx.recv_timeout(WATCHDOG) {
        Ok(v) => {
            worker.join().unwrap();
            v
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("hang: no result after {WATCHDOG:?} (seed {seed})")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Err(p) => std::panic::resume_unwind(p),
            Ok(()) => unreachable!("the body sends before returning"),
        },
    }
}

/// The payload of client `id`, attempt `attempt`: every 8-byte word holds
/// the id, the attempt and the word's index, so a misplaced, lost or
/// foreign byte shows in the comparison.
fn payload(id: usize, attempt: usize, len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len + 8);
    let mut i = 0u32;
    while v.len() < len {
        v.extend_from_slice(&(id as u16).to_le_bytes());
        v.extend_from_slice(&(attempt as u16).to_le_bytes());
        v.extend_from_slice(&i.to_le_bytes());
        i += 1;
    }
    v.truncate(len);
    v
}

/// Errors a client or server may see because of what was injected: the
/// registration of its own socket failed (`ENOMEM`/`ENOBUFS`), or that of
/// its peer did and the peer was closed.
fn expected_error(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOMEM | libc::ENOBUFS))
        || matches!(
            e.kind(),
            io::ErrorKind::ConnectionReset
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::UnexpectedEof
        )
}

fn echo_schedule(seed: u64) -> Schedule {
    Schedule::new(seed)
        .fail(Syscall::EpollWait, Fault::Interrupted, 0.05)
        .fail(Syscall::EpollCtl, Fault::OutOfMemory, 0.03)
        .fail(Syscall::EpollCtl, Fault::NoBufferSpace, 0.03)
        .fail(Syscall::Accept, Fault::Interrupted, 0.05)
        .fail(Syscall::Accept, Fault::WouldBlock, 0.05)
        .fail(Syscall::Accept, Fault::ProcessFdLimit, 0.05)
        .fail(Syscall::Accept, Fault::SystemFdLimit, 0.05)
        .fail(Syscall::Accept, Fault::ConnectionAborted, 0.05)
        .fail(Syscall::Connect, Fault::Interrupted, 0.2)
        .fail(Syscall::Recv, Fault::Interrupted, 0.05)
        .fail(Syscall::Recv, Fault::WouldBlock, 0.05)
        .fail(Syscall::Recv, Fault::Short, 0.2)
        .fail(Syscall::Send, Fault::Interrupted, 0.05)
        .fail(Syscall::Send, Fault::WouldBlock, 0.05)
        .fail(Syscall::Send, Fault::Short, 0.2)
}

/// Echoes everything, in one of three styles, then shuts down its write half
/// at end of stream.
async fn serve(conn: TcpStream, style: usize) -> io::Result<u64> {
    let mut buf = vec![0u8; 5 + style * 3000];
    let mut echoed = 0u64;
    loop {
        let n = match style {
            0 => conn.read(&mut buf).await?,
            _ => AsyncReadExt::read(&mut &conn, &mut buf).await?,
        };
        if n == 0 {
            conn.shutdown(Shutdown::Write)?;
            return Ok(echoed);
        }
        match style {
            1 => AsyncWriteExt::write_all(&mut &conn, &buf[..n]).await?,
            _ => conn.write_all(&buf[..n]).await?,
        }
        echoed += n as u64;
    }
}

/// One session: sends `data` in random pieces from a writer task while this
/// task reads the echo back; then checks the echo and end of stream.
async fn session(stream: TcpStream, data: Arc<Vec<u8>>, style: usize, seed: u64) -> io::Result<()> {
    let stream = Arc::new(stream);
    let writer = {
        let stream = stream.clone();
        let data = data.clone();
        goro::spawn(async move {
            let mut rng = Rng(seed);
            let mut sent = 0;
            while sent < data.len() {
                let end = (sent + 1 + rng.below(16 * 1024) as usize).min(data.len());
                match style {
                    0 => stream.write_all(&data[sent..end]).await?,
                    1 => AsyncWriteExt::write_all(&mut &*stream, &data[sent..end]).await?,
                    _ => {
                        let n = stream.write(&data[sent..end]).await?;
                        assert!(n > 0, "write returned 0");
                        sent += n;
                        continue;
                    }
                }
                sent = end;
            }
            stream.shutdown(Shutdown::Write)
        })
    };
    let mut got = vec![0u8; data.len()];
    let read = match style {
        0 => stream.read_exact(&mut got).await,
        1 => AsyncReadExt::read_exact(&mut &*stream, &mut got).await,
        _ => {
            let mut filled = 0;
            let mut r = Ok(());
            while filled < got.len() {
                match stream.read(&mut got[filled..]).await {
                    Ok(0) => {
                        r = Err(io::ErrorKind::UnexpectedEof.into());
                        break;
                    }
                    Ok(n) => filled += n,
                    Err(e) => {
                        r = Err(e);
                        break;
                    }
                }
            }
            r
        }
    };
    let wrote = writer.await.expect("writer task panicked");
    read?;
    wrote?;
    if got != *data {
        let at = got.iter().zip(data.iter()).position(|(a, b)| a != b);
        return Err(io::Error::other(format!(
            "echo differs from what was sent (first difference at byte {at:?})"
        )));
    }
    // Exactly once: nothing after the echo but end of stream.
    let mut extra = [0u8; 16];
    match stream.read(&mut extra).await? {
        0 => Ok(()),
        n => Err(io::Error::other(format!("{n} extra bytes after the echo"))),
    }
}

#[derive(Debug, Default)]
struct Outcome {
    /// Errors of the kinds the faults must cause.
    expected: usize,
    /// Anything else (each is a bug).
    unexpected: Vec<String>,
    attempts: usize,
}

#[test]
fn echo_over_200_connections_under_injected_faults() {
    let _serial = one_at_a_time();
    let seed = seed();
    eprintln!("fault injection seed: {seed} (set GORO_FAULT_SEED to replay)");
    let guard = fault::install(echo_schedule(seed));
    let baseline = settled_fds();
    let (outcome, server_errors) = with_watchdog(seed, move || run_echo(seed));
    let injected = fault::injected();
    drop(guard);
    eprintln!("injected: {injected:?}");
    eprintln!("outcome: {outcome:?}; server errors: {server_errors:?}");
    assert!(
        outcome.unexpected.is_empty(),
        "unexpected client errors (seed {seed}): {:?}",
        outcome.unexpected
    );
    assert!(
        server_errors.is_empty(),
        "unexpected server errors (seed {seed}): {server_errors:?}"
    );
    for (call, fault) in [
        (Syscall::EpollCtl, Fault::OutOfMemory),
        (Syscall::EpollCtl, Fault::NoBufferSpace),
        (Syscall::Accept, Fault::Interrupted),
        (Syscall::Accept, Fault::WouldBlock),
        (Syscall::Accept, Fault::ProcessFdLimit),
        (Syscall::Accept, Fault::SystemFdLimit),
        (Syscall::Accept, Fault::ConnectionAborted),
        (Syscall::Connect, Fault::Interrupted),
        (Syscall::Recv, Fault::Interrupted),
        (Syscall::Recv, Fault::WouldBlock),
        (Syscall::Recv, Fault::Short),
        (Syscall::Send, Fault::Interrupted),
        (Syscall::Send, Fault::WouldBlock),
        (Syscall::Send, Fault::Short),
    ] {
        assert!(
            injected.count(call, fault) > 0,
            "{call:?}/{fault:?} was never injected (seed {seed}): the test did not test it"
        );
    }
    assert_fds_back(baseline, seed);
}

fn run_echo(seed: u64) -> (Outcome, Vec<String>) {
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    let result = rt.block_on(async move {
        // Binding registers the listener: an injected ENOMEM there is an
        // error for the caller, who retries.
        let listener = loop {
            match TcpListener::bind("127.0.0.1:0").await {
                Ok(l) => break Arc::new(l),
                Err(e) if expected_error(&e) => continue,
                Err(e) => panic!("bind failed: {e} (seed {seed})"),
            }
        };
        let addr = listener.local_addr().unwrap();
        let server_errors = Arc::new(std::sync::Mutex::new(Vec::new()));
        let server = {
            let listener = listener.clone();
            let server_errors = server_errors.clone();
            goro::spawn(async move {
                let mut incoming = listener.incoming();
                let mut handlers = Vec::new();
                let mut n = 0usize;
                loop {
                    match incoming.next().await {
                        // Closing the listener ends the stream.
                        None => break,
                        Some(Ok(conn)) => {
                            let errors = server_errors.clone();
                            handlers.push(goro::spawn(async move {
                                if let Err(e) = serve(conn, n % 3).await
                                    && !expected_error(&e)
                                {
                                    errors.lock().unwrap().push(format!("serve: {e}"));
                                }
                            }));
                            n += 1;
                        }
                        // Registration of the accepted socket failed: that
                        // connection is gone (its client retries).
                        Some(Err(e)) if expected_error(&e) => continue,
                        // A bug; recorded, and the server keeps serving.
                        Some(Err(e)) => {
                            server_errors.lock().unwrap().push(format!("incoming: {e}"))
                        }
                    }
                }
                for h in handlers {
                    assert!(h.await.is_ok(), "a server handler panicked");
                }
            })
        };
        let mut clients = Vec::new();
        for id in 0..CONNECTIONS {
            clients.push(goro::spawn(async move {
                let mut rng = Rng(seed ^ (id as u64).wrapping_mul(0x1234_5678_9abc));
                let mut outcome = Outcome::default();
                for attempt in 0..MAX_ATTEMPTS {
                    outcome.attempts += 1;
                    let len = 1 + rng.below(48 * 1024) as usize;
                    let data = Arc::new(payload(id, attempt, len));
                    let r = match TcpStream::connect(addr).await {
                        Ok(s) => session(s, data, id % 3, rng.next()).await,
                        Err(e) => Err(e),
                    };
                    match r {
                        Ok(()) => return outcome,
                        Err(e) if expected_error(&e) => outcome.expected += 1,
                        Err(e) => {
                            outcome.unexpected.push(format!("client {id}: {e}"));
                            return outcome;
                        }
                    }
                }
                outcome
                    .unexpected
                    .push(format!("client {id}: no session succeeded"));
                outcome
            }));
        }
        let mut total = Outcome::default();
        for c in clients {
            let o = c.await.expect("client task panicked");
            total.expected += o.expected;
            total.attempts += o.attempts;
            total.unexpected.extend(o.unexpected);
        }
        listener.close().unwrap();
        server.await.expect("server task panicked");
        let errors = std::mem::take(&mut *server_errors.lock().unwrap());
        (total, errors)
    });
    let start = Instant::now();
    drop(rt);
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "runtime drop took {:?} (seed {seed})",
        start.elapsed()
    );
    result
}

/// `ENOMEM`/`ENOBUFS` from `epoll_ctl` come back from the socket
/// constructors as `io::Error`s, and the half-made socket is closed.
#[test]
fn registration_failures_are_errors_from_constructors() {
    let _serial = one_at_a_time();
    let guard = fault::install(Schedule::new(1).fail(Syscall::EpollCtl, Fault::OutOfMemory, 1.0));
    let baseline = settled_fds();
    with_watchdog(1, || {
        let rt = Runtime::builder().worker_threads(1).build().unwrap();
        rt.block_on(async {
            let e = TcpListener::bind("127.0.0.1:0").await.unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::ENOMEM), "{e}");
            let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = std_listener.local_addr().unwrap();
            let e = TcpStream::connect(addr).await.unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::ENOMEM), "{e}");
            let e = goro::net::UdpSocket::bind("127.0.0.1:0").await.unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::ENOMEM), "{e}");
            let e = goro::net::UnixStream::pair().unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::ENOMEM), "{e}");
        });
    });
    assert!(fault::injected().count(Syscall::EpollCtl, Fault::OutOfMemory) >= 4);
    drop(guard);
    assert_fds_back(baseline, 1);
}

/// `accept()` reports `EMFILE` to its caller; `incoming()` backs off, keeps
/// trying, and yields the queued connection once descriptors "free up"
/// (the schedule is cleared).
#[test]
fn accept_reports_and_incoming_rides_out_fd_exhaustion() {
    let _serial = one_at_a_time();
    let guard = fault::install(Schedule::new(2).fail(Syscall::Accept, Fault::ProcessFdLimit, 1.0));
    let baseline = settled_fds();
    with_watchdog(2, || {
        let rt = Runtime::builder().worker_threads(2).build().unwrap();
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let client = TcpStream::connect(addr).await.unwrap();
            let e = listener.accept().await.unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
            let clearer = goro::spawn(async {
                goro::time::sleep(Duration::from_millis(100)).await;
                let tried = fault::injected().count(Syscall::Accept, Fault::ProcessFdLimit);
                fault::clear();
                tried
            });
            let start = Instant::now();
            let conn = listener.incoming().next().await.unwrap().unwrap();
            assert!(start.elapsed() >= Duration::from_millis(90));
            assert_eq!(conn.peer_addr().unwrap(), client.local_addr().unwrap());
            // It retried during the exhaustion, with back-off (5, 10, 20,
            // 40 ms...: a handful of attempts, not a spin; the bound leaves
            // room for a late timer on a loaded machine).
            let tried = clearer.await.unwrap();
            assert!(
                (2..=30).contains(&tried),
                "{tried} accept attempts in ~100 ms"
            );
        });
    });
    drop(guard);
    assert_fds_back(baseline, 2);
}

/// Datagram sockets and Unix streams under `EINTR` and spurious `EAGAIN`
/// (and short transfers, which the injector applies to stream sockets
/// only: a short datagram read would truncate a message). UDP runs
/// ping-pong, so the loopback never drops a datagram; every datagram and
/// every byte must arrive exactly once, in order.
#[test]
fn datagrams_and_unix_streams_under_faults() {
    let _serial = one_at_a_time();
    let seed = seed();
    eprintln!("fault injection seed: {seed} (set GORO_FAULT_SEED to replay)");
    let guard = fault::install(
        Schedule::new(seed)
            .fail(Syscall::Connect, Fault::Interrupted, 0.3)
            .fail(Syscall::Accept, Fault::Interrupted, 0.2)
            .fail(Syscall::Accept, Fault::WouldBlock, 0.2)
            .fail(Syscall::Recv, Fault::Interrupted, 0.1)
            .fail(Syscall::Recv, Fault::WouldBlock, 0.1)
            .fail(Syscall::Recv, Fault::Short, 0.3)
            .fail(Syscall::Send, Fault::Interrupted, 0.1)
            .fail(Syscall::Send, Fault::WouldBlock, 0.1)
            .fail(Syscall::Send, Fault::Short, 0.3),
    );
    let baseline = settled_fds();
    with_watchdog(seed, move || {
        let rt = Runtime::builder().worker_threads(2).build().unwrap();
        rt.block_on(async move {
            // UDP ping-pong, connected and unconnected forms.
            let a = goro::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let b = Arc::new(goro::net::UdpSocket::bind("127.0.0.1:0").await.unwrap());
            let a_addr = a.local_addr().unwrap();
            a.connect(b.local_addr().unwrap()).await.unwrap();
            let echo = {
                let b = b.clone();
                goro::spawn(async move {
                    let mut buf = [0u8; 2048];
                    for _ in 0..300 {
                        let (n, from) = b.recv_from(&mut buf).await.unwrap();
                        assert_eq!(from, a_addr);
                        assert_eq!(b.send_to(&buf[..n], from).await.unwrap(), n);
                    }
                })
            };
            let mut buf = [0u8; 2048];
            for i in 0..300u32 {
                let msg = payload(i as usize, 0, 1 + (i as usize * 7) % 1500);
                assert_eq!(a.send(&msg).await.unwrap(), msg.len());
                let n = a.recv(&mut buf).await.unwrap();
                assert_eq!(&buf[..n], &msg[..], "datagram {i} (seed {seed})");
            }
            echo.await.unwrap();

            // A Unix stream pair: 256 KiB each way (x writes while a
            // second task reads the echo back), content checked.
            let (x, y) = goro::net::UnixStream::pair().unwrap();
            let x = Arc::new(x);
            let data = payload(7, 1, 256 * 1024);
            let writer = {
                let (x, data) = (x.clone(), data.clone());
                goro::spawn(async move {
                    x.write_all(&data).await.unwrap();
                    x.shutdown(Shutdown::Write).unwrap();
                })
            };
            let reader = goro::spawn(async move {
                let mut back = Vec::new();
                let mut buf = vec![0u8; 4096];
                loop {
                    match x.read(&mut buf).await.unwrap() {
                        0 => break back,
                        n => back.extend_from_slice(&buf[..n]),
                    }
                }
            });
            let mut buf = vec![0u8; 3000];
            loop {
                let n = y.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                y.write_all(&buf[..n]).await.unwrap();
            }
            y.shutdown(Shutdown::Write).unwrap();
            writer.await.unwrap();
            assert!(
                reader.await.unwrap() == data,
                "unix echo differs (seed {seed})"
            );

            // A Unix listener: accept and connect under EINTR / EAGAIN.
            let dir = std::env::temp_dir().join(format!("goro-fault-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("sock");
            let listener = goro::net::UnixListener::bind(&path).unwrap();
            for _ in 0..50 {
                let (c, s) =
                    futures::join!(goro::net::UnixStream::connect(&path), listener.accept());
                let (c, (s, _)) = (c.unwrap(), s.unwrap());
                c.write_all(b"ping").await.unwrap();
                let mut got = [0u8; 4];
                s.read_exact(&mut got).await.unwrap();
                assert_eq!(&got, b"ping");
            }
            drop(listener);
            std::fs::remove_dir_all(&dir).unwrap();
        });
    });
    let injected = fault::injected();
    drop(guard);
    eprintln!("injected: {injected:?}");
    for (call, fault) in [
        (Syscall::Recv, Fault::Interrupted),
        (Syscall::Recv, Fault::WouldBlock),
        (Syscall::Recv, Fault::Short),
        (Syscall::Send, Fault::WouldBlock),
        (Syscall::Send, Fault::Short),
        (Syscall::Accept, Fault::WouldBlock),
    ] {
        assert!(
            injected.count(call, fault) > 0,
            "{call:?}/{fault:?} was never injected (seed {seed})"
        );
    }
    assert_fds_back(baseline, seed);
}
