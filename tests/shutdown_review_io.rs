//! Review of the shutdown contract (DESIGN.md §3, "Runtime shutdown") for
//! sockets and `PollFd`s, from a user's side: I/O futures of a runtime that
//! is dropped while they wait — or polled after the drop — on another
//! executor, on another goro runtime, or in `Handle::block_on` on another
//! thread, fail promptly with "goro runtime is shut down" instead of
//! hanging. `tests/shutdown_waiters.rs` covers UDP `recv` and `readable`;
//! this file covers the other operations (accept, connect, a write blocked
//! on a full buffer, `recv_from` on Unix datagrams, `PollFd`), listener
//! streams, the drop racing threads that are just parking, and name
//! lookups.
//!
//! Every wait goes through a channel with a timeout, so a hang fails the
//! test instead of stalling the suite.

mod support;

use goro::io::PollFd;
use goro::net::{TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixListener};
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::pin::pin;
use std::sync::{Arc, mpsc};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};
use support::hang::on_thread;
use support::net::TempDir;
use support::rt::workers;

/// "Promptly" on a loaded 2-core machine; every wait here is an hour or
/// forever, so this cannot pass by accident.
const PROMPT: Duration = Duration::from_secs(5);

/// A minimal executor of the kind users write: poll, park the thread,
/// unpark from the waker. Nothing goro-specific.
fn park_block_on<F: Future>(fut: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

#[track_caller]
fn expect_prompt<T>(rx: &mpsc::Receiver<T>, what: &str) -> T {
    rx.recv_timeout(PROMPT).unwrap_or_else(|_| {
        panic!("{what}: still waiting {PROMPT:?} after the runtime was dropped")
    })
}

#[track_caller]
fn assert_shut_down<T: std::fmt::Debug>(r: io::Result<T>, what: &str) {
    let e = r.expect_err(what);
    assert_eq!(e.kind(), io::ErrorKind::Other, "{what}: {e}");
    assert_eq!(e.to_string(), "goro runtime is shut down", "{what}");
}

/// A loopback listener whose accept queue is full (backlog 0, one
/// connection queued and never accepted), so a further `connect` stays in
/// SYN-SENT: the kernel drops its SYNs and retries for minutes.
fn full_listener() -> (OwnedFd, std::net::SocketAddr, Vec<std::net::TcpStream>) {
    // SAFETY: plain socket calls on a new fd we own; `addr` is a valid
    // sockaddr_in of the size given.
    let fd = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", io::Error::last_os_error());
        let fd = OwnedFd::from_raw_fd(fd);
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let r = libc::bind(fd.as_raw_fd(), (&raw const addr).cast(), len);
        assert_eq!(r, 0, "bind: {}", io::Error::last_os_error());
        assert_eq!(libc::listen(fd.as_raw_fd(), 0), 0);
        fd
    };
    let std_listener = std::net::TcpListener::from(fd.try_clone().unwrap());
    let addr = std_listener.local_addr().unwrap();
    drop(std_listener);
    // Fill the queue: connects that complete (the first) or stay pending.
    let mut fillers = Vec::new();
    for _ in 0..3 {
        if let Ok(s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            fillers.push(s);
        }
    }
    (fd, addr, fillers)
}

/// Accept, connect, a write blocked on a full buffer, a Unix `recv_from`
/// and a `PollFd` read, each parked on a different kind of executor when
/// the runtime is dropped, all fail with the shut-down error.
#[test]
fn every_kind_of_wait_parked_elsewhere_fails_when_the_runtime_is_dropped() {
    let rt = workers(2);
    let handle = rt.handle();
    let dir = TempDir::new("review-io");
    let (tcp_listener, unix_listener, (dgram, _dgram_peer), (writer, _reader), (pipe_rd, _pipe_wr)) =
        rt.block_on(async {
            let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let unix = UnixListener::bind(dir.path("l.sock")).unwrap();
            let pair = UnixDatagram::pair().unwrap();
            // A connected TCP pair whose writer fills the buffers.
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let w = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
            let (r, _) = l.accept().await.unwrap();
            let chunk = vec![0u8; 1 << 16];
            while goro::time::timeout(Duration::from_millis(20), w.write(&chunk))
                .await
                .is_ok()
            {}
            let (rd, wr) = std::io::pipe().unwrap();
            let rd = OwnedFd::from(rd);
            // SAFETY: `rd` is a valid open fd we own.
            assert_eq!(
                unsafe { libc::fcntl(rd.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) },
                0
            );
            let rd = PollFd::new(rd).unwrap();
            (tcp, unix, pair, (w, r), (rd, wr))
        });
    let (_full, full_addr, _fillers) = full_listener();

    // A connect stuck in SYN-SENT, in futures' executor.
    let connect = {
        let h = handle.clone();
        on_thread(move || {
            // Entered, so the socket `connect` creates at its first poll
            // is the runtime's; futures' executor polls it.
            let _g = h.enter();
            futures::executor::block_on(TcpStream::connect(full_addr)).map(|_| ())
        })
    };
    let accept = on_thread(move || futures::executor::block_on(tcp_listener.accept()).map(|_| ()));
    let unix_accept = {
        let h = handle.clone();
        on_thread(move || h.block_on(unix_listener.accept()).map(|_| ()))
    };
    let recv_from = on_thread(move || {
        let mut buf = [0u8; 8];
        park_block_on(dgram.recv_from(&mut buf)).map(|_| ())
    });
    let write =
        on_thread(move || futures::executor::block_on(writer.write(&[1u8; 1 << 16])).map(|_| ()));
    // A PollFd read parked in a task of another goro runtime.
    let other = workers(1);
    let pipe_read = {
        let (tx, rx) = mpsc::channel();
        other.spawn(async move {
            let _ = tx.send(pipe_rd.readable().await);
        });
        rx
    };
    std::thread::sleep(Duration::from_millis(100));
    let dropped = Instant::now();
    drop(rt);
    assert_shut_down(expect_prompt(&accept, "TCP accept"), "TCP accept");
    assert_shut_down(expect_prompt(&unix_accept, "Unix accept"), "Unix accept");
    assert_shut_down(
        expect_prompt(&recv_from, "Unix recv_from"),
        "Unix recv_from",
    );
    assert_shut_down(
        expect_prompt(&write, "blocked TCP write"),
        "blocked TCP write",
    );
    assert_shut_down(
        expect_prompt(&pipe_read, "PollFd::readable"),
        "PollFd::readable",
    );
    let c = expect_prompt(&connect, "TCP connect in SYN-SENT");
    assert_shut_down(c, "TCP connect in SYN-SENT");
    eprintln!("all waits ended {:?} after the drop", dropped.elapsed());
}

/// The drop races threads that are *just* parking: each round, two threads
/// start waiting on the runtime's socket and sleep while the runtime is
/// dropped at a slightly different moment. A parking that misses the
/// shutdown sweep would wait forever.
#[test]
fn a_drop_racing_threads_that_are_parking_never_strands_them() {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut rounds = 0;
    while rounds < 300 && Instant::now() < deadline {
        let rt = workers(1);
        let handle = rt.handle();
        let sock = Arc::new(rt.block_on(UdpSocket::bind("127.0.0.1:0")).unwrap());
        let (go_tx, go_rx) = std::sync::mpsc::sync_channel::<()>(0);
        let (go2_tx, go2_rx) = std::sync::mpsc::sync_channel::<()>(0);
        let s = sock.clone();
        let recv = on_thread(move || {
            go_rx.recv().unwrap();
            let mut buf = [0u8; 4];
            park_block_on(s.recv(&mut buf))
        });
        let h = handle.clone();
        let sleep = on_thread(move || {
            go2_rx.recv().unwrap();
            h.block_on(goro::time::sleep(Duration::from_secs(3600)))
        });
        go_tx.send(()).unwrap();
        go2_tx.send(()).unwrap();
        // 0 to ~50 µs of head start for the waiters.
        for _ in 0..(rounds % 8) * 200 {
            std::hint::spin_loop();
        }
        drop(rt);
        let r = recv
            .recv_timeout(PROMPT)
            .unwrap_or_else(|_| panic!("round {rounds}: recv stranded by the drop"));
        assert_shut_down(r, "recv racing the drop");
        sleep
            .recv_timeout(PROMPT)
            .unwrap_or_else(|_| panic!("round {rounds}: sleep stranded by the drop"));
        rounds += 1;
    }
    assert!(rounds >= 20, "only {rounds} rounds ran");
}

/// An accept loop that skips errors — the usual shape, since accept errors
/// such as `ECONNABORTED` are transient — over the `incoming()` stream of
/// a listener whose runtime was dropped must end, as it ends once the
/// listener is closed, instead of spinning on "goro runtime is shut down"
/// for ever. The error is yielded once, so a loop that logs errors says why.
#[test]
fn an_incoming_loop_that_skips_errors_ends_when_the_runtime_is_dropped() {
    /// The errors an accept loop saw before its stream ended (`Err` if it
    /// had not ended after 1000).
    async fn skip_errors<S, T>(mut incoming: S) -> Result<Vec<String>, usize>
    where
        S: futures::Stream<Item = io::Result<T>> + Unpin,
    {
        use futures::StreamExt;
        let mut errors = Vec::new();
        while let Some(conn) = incoming.next().await {
            if let Err(e) = conn {
                errors.push(e.to_string());
                if errors.len() > 1000 {
                    return Err(errors.len());
                }
            }
        }
        Ok(errors)
    }
    let rt = workers(2);
    let handle = rt.handle();
    let dir = TempDir::new("review-incoming");
    let tcp = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let unix = {
        let _g = rt.enter();
        UnixListener::bind(dir.path("l.sock")).unwrap()
    };
    // Parked in the loop when the drop comes.
    let tcp_loop = on_thread(move || futures::executor::block_on(skip_errors(tcp.incoming())));
    std::thread::sleep(Duration::from_millis(50));
    drop(rt);
    let r = expect_prompt(&tcp_loop, "TCP incoming loop");
    assert_eq!(
        r,
        Ok(vec!["goro runtime is shut down".to_string()]),
        "TCP incoming()"
    );
    // Started after the drop, on the dead runtime's handle.
    let unix_loop = on_thread(move || handle.block_on(skip_errors(unix.incoming())));
    let r = expect_prompt(&unix_loop, "Unix incoming loop");
    assert_eq!(
        r,
        Ok(vec!["goro runtime is shut down".to_string()]),
        "Unix incoming()"
    );
}

/// A name lookup runs on the blocking pool; on a runtime that has shut
/// down it cannot start, and `connect` fails with the shut-down error like
/// every other operation (not a bare "task was cancelled").
#[test]
fn connect_by_name_on_a_dropped_runtime_fails_with_the_shut_down_error() {
    let rt = workers(1);
    let handle = rt.handle();
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(rt);
    let rx = on_thread(move || {
        handle
            .block_on(TcpStream::connect(format!("localhost:{port}")))
            .map(|_| ())
    });
    assert_shut_down(expect_prompt(&rx, "connect by name"), "connect by name");
    let _ = l;
}

/// A loop over a dropped runtime's futures on another executor — 300
/// failing reads of its socket and 300 sleeps armed on its handle's
/// context — runs to its end: more operations than one task poll's budget
/// (128), which nothing refills outside goro's polls (the executor used to
/// spin once it ran dry; `tests/sched_review_foreign_budget.rs` covers
/// live runtimes).
#[test]
fn a_dropped_runtimes_futures_never_run_out_of_budget_elsewhere() {
    let rt = workers(1);
    let handle = rt.handle();
    let sock = rt.block_on(UdpSocket::bind("127.0.0.1:0")).unwrap();
    drop(rt);
    let rx = on_thread(move || {
        let _g = handle.enter();
        futures::executor::block_on(async {
            for _ in 0..300 {
                assert!(sock.recv(&mut [0u8; 1]).await.is_err());
                goro::time::sleep(Duration::from_secs(3600)).await;
            }
        })
    });
    rx.recv_timeout(PROMPT)
        .expect("300 failing reads and sleeps of a dropped runtime on another executor");
}

/// After the drop, a socket of the runtime can still be handed back to std
/// (and works there), and a `PollFd` gives its fd back.
#[test]
fn sockets_of_a_dropped_runtime_can_be_handed_back_to_std() {
    let rt = workers(1);
    let a = rt.block_on(UdpSocket::bind("127.0.0.1:0")).unwrap();
    let b = rt.block_on(UdpSocket::bind("127.0.0.1:0")).unwrap();
    let (r, w) = std::io::pipe().unwrap();
    let pipe = {
        let _g = rt.enter();
        PollFd::new(OwnedFd::from(r)).unwrap()
    };
    drop(rt);
    let a = a.into_std().expect("into_std after the drop");
    let b = b.into_std().expect("into_std after the drop");
    a.set_read_timeout(Some(PROMPT)).unwrap();
    b.send_to(b"hi", a.local_addr().unwrap()).unwrap();
    let mut buf = [0u8; 2];
    assert_eq!(a.recv(&mut buf).unwrap(), 2, "the std socket works");
    let fd = pipe.into_inner().expect("into_inner after the drop");
    drop(w);
    let mut f = std::fs::File::from(fd);
    assert_eq!(
        std::io::Read::read(&mut f, &mut buf).unwrap(),
        0,
        "EOF from the pipe"
    );
}
