//! Unix-domain sockets: `UnixListener`, `UnixStream` and `UnixDatagram`.
//!
//! Binding, connecting (including to a listener whose backlog is full) and
//! accepting over paths and abstract names; addresses; socket-file cleanup;
//! stream I/O, `futures-io`, shutdown; datagrams with paths, unnamed
//! senders and replies; Go's deadline rules; `close` waking blocked tasks;
//! bad paths; std conversions; `incoming()` backing off on `EMFILE` (in a
//! child process, since it lowers the fd limit).
//!
//! Every test works in its own directory under `std::env::temp_dir()`,
//! removed when the test ends. Timing assertions: "at once" means within
//! [`PROMPT`]; a firing deadline must not fire before its instant and must
//! fire within [`LATE`] after it.

mod support;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use goro::net::{UnixDatagram, UnixListener, UnixStream};
use goro::time::{sleep, sleep_until, timeout};
use std::future::poll_fn;
use std::io;
use std::os::fd::AsRawFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::assert_kind;
use support::data::pattern;
use support::hang::run;
use support::instants::past;
use support::margins::{Setup, before, with_margins};
use support::net::{TempDir, unix_pair_in};

/// Upper bound for "fails at once".
const PROMPT: Duration = Duration::from_secs(3);
/// Upper bound for how late a deadline may fire.
const LATE: Duration = Duration::from_secs(5);
/// More than any Unix socket buffer holds.
const BIG: usize = 16 << 20;

/// A unique abstract-namespace address.
fn abstract_addr(tag: &str) -> SocketAddr {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    SocketAddr::from_abstract_name(format!("goro-test-{}-{tag}-{n}", std::process::id())).unwrap()
}

// ---------------------------------------------------------------------------
// Listener and stream: binding, connecting, addresses, files.

#[test]
fn bind_connect_accept_and_addresses() {
    run(async {
        let dir = TempDir::new("basic");
        let path = dir.path("server.sock");
        let listener = UnixListener::bind(&path).unwrap();
        assert_eq!(
            listener.local_addr().unwrap().as_pathname(),
            Some(path.as_path())
        );
        let client = UnixStream::connect(&path).await.unwrap();
        let (server, addr) = listener.accept().await.unwrap();
        assert!(addr.is_unnamed(), "{addr:?}");
        assert_eq!(
            client.peer_addr().unwrap().as_pathname(),
            Some(path.as_path())
        );
        assert_eq!(
            server.local_addr().unwrap().as_pathname(),
            Some(path.as_path())
        );
        assert!(client.local_addr().unwrap().is_unnamed());
        assert!(server.peer_addr().unwrap().is_unnamed());

        client.write_all(b"hello").await.unwrap();
        let mut buf = [0; 5];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello");
        server.write_all(b"back").await.unwrap();
        let n = client.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"back");
    });
}

#[test]
fn a_bound_client_is_reported_by_accept() {
    run(async {
        // A client bound to its own path before connecting (via std, then
        // from_std) shows that path to the server.
        let dir = TempDir::new("bound-client");
        let (spath, cpath) = (dir.path("s.sock"), dir.path("c.sock"));
        let listener = UnixListener::bind(&spath).unwrap();
        // std has no "bind then connect" for streams; use libc directly.
        // SAFETY: plain socket syscalls on a fresh fd we own; the sockaddr
        // is built by std and passed with its length.
        let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) };
        assert!(fd >= 0);
        let sa = sockaddr_un(&cpath);
        let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
        // SAFETY: `sa` is a valid sockaddr_un of `len` bytes.
        assert_eq!(
            unsafe { libc::bind(fd, (&sa as *const libc::sockaddr_un).cast(), len) },
            0
        );
        let sa = sockaddr_un(&spath);
        // SAFETY: as above; the listener is ready, so this blocking connect
        // completes at once.
        assert_eq!(
            unsafe { libc::connect(fd, (&sa as *const libc::sockaddr_un).cast(), len) },
            0
        );
        // SAFETY: `fd` is a connected socket nobody else owns.
        let std_stream =
            unsafe { <std::os::unix::net::UnixStream as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        let client = UnixStream::from_std(std_stream).unwrap();
        let (_server, addr) = listener.accept().await.unwrap();
        assert_eq!(addr.as_pathname(), Some(cpath.as_path()));
        assert_eq!(
            client.local_addr().unwrap().as_pathname(),
            Some(cpath.as_path())
        );
    });
}

fn sockaddr_un(path: &Path) -> libc::sockaddr_un {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: all-zero is a valid sockaddr_un.
    let mut sa: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    sa.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (d, s) in sa.sun_path.iter_mut().zip(path.as_os_str().as_bytes()) {
        *d = *s as libc::c_char;
    }
    sa
}

#[test]
fn the_listener_removes_its_file_on_close_and_drop() {
    run(async {
        let dir = TempDir::new("unlink");
        let path = dir.path("l.sock");

        let l = UnixListener::bind(&path).unwrap();
        assert!(path.exists());
        drop(l);
        assert!(!path.exists(), "drop must remove the socket file");

        // So the path can be bound again at once.
        let l = UnixListener::bind(&path).unwrap();
        l.close().unwrap();
        assert!(!path.exists(), "close must remove the socket file");
        assert_kind(l.close(), io::ErrorKind::NotConnected);
        drop(l);

        // Opting out keeps it.
        let l = UnixListener::bind(&path).unwrap();
        l.set_unlink_on_close(false);
        drop(l);
        assert!(path.exists());
        std::fs::remove_file(&path).unwrap();

        // into_std keeps it (the std listener owns the socket now).
        let std_l = UnixListener::bind(&path).unwrap().into_std().unwrap();
        assert!(path.exists());
        // from_std does not remove it unless asked to.
        let l = UnixListener::from_std(std_l).unwrap();
        drop(l);
        assert!(path.exists());
        // ...and removes it when asked to.
        std::fs::remove_file(&path).unwrap();
        let std_l = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let l = UnixListener::from_std(std_l).unwrap();
        l.set_unlink_on_close(true);
        drop(l);
        assert!(!path.exists());
    });
}

#[test]
fn binding_an_existing_path_fails() {
    run(async {
        let dir = TempDir::new("inuse");
        let path = dir.path("l.sock");
        let _l = UnixListener::bind(&path).unwrap();
        assert_kind(UnixListener::bind(&path), io::ErrorKind::AddrInUse);
        assert_kind(UnixDatagram::bind(&path), io::ErrorKind::AddrInUse);
        // The failed bind did not take the first listener's file with it.
        assert!(path.exists());
        UnixStream::connect(&path).await.unwrap();
    });
}

#[test]
fn bad_paths_are_errors_not_panics() {
    run(async {
        let dir = TempDir::new("bad");
        let long = dir.path(&"x".repeat(120));
        let nul = Path::new("/tmp/a\0b");
        use io::ErrorKind::*;
        assert_kind(UnixStream::connect(&long).await, InvalidInput);
        assert_kind(UnixStream::connect(nul).await, InvalidInput);
        assert_kind(UnixListener::bind(&long), InvalidInput);
        assert_kind(UnixListener::bind(nul), InvalidInput);
        assert_kind(UnixDatagram::bind(&long), InvalidInput);
        let d = UnixDatagram::unbound().unwrap();
        assert_kind(d.send_to(b"x", &long).await, InvalidInput);
        assert_kind(d.send_to(b"x", nul).await, InvalidInput);
        assert_kind(d.connect(&long), InvalidInput);
        assert_kind(
            poll_fn(|cx| d.poll_send_to(cx, b"x", &long)).await,
            InvalidInput,
        );

        // Nobody there.
        assert_kind(UnixStream::connect(dir.path("missing")).await, NotFound);
        assert_kind(d.send_to(b"x", dir.path("missing")).await, NotFound);
        // A file that is not a socket, and a socket nobody listens on.
        std::fs::write(dir.path("file"), b"").unwrap();
        assert_kind(
            UnixStream::connect(dir.path("file")).await,
            ConnectionRefused,
        );
        drop(std::os::unix::net::UnixListener::bind(dir.path("stale")).unwrap());
        assert_kind(
            UnixStream::connect(dir.path("stale")).await,
            ConnectionRefused,
        );
    });
}

#[test]
fn connect_waits_while_the_backlog_is_full() {
    run(async {
        const CLIENTS: usize = 6;
        let dir = TempDir::new("backlog");
        let path = dir.path("l.sock");
        let listener = UnixListener::bind(&path).unwrap();
        // Shrink the backlog so the kernel refuses extra connects (EAGAIN).
        // SAFETY: listen on a listening socket only changes its backlog.
        assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
        let done = Arc::new(AtomicUsize::new(0));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let (path, done) = (path.clone(), done.clone());
                goro::spawn(async move {
                    let s = UnixStream::connect(&path).await?;
                    done.fetch_add(1, Ordering::SeqCst);
                    s.write_all(&[i as u8]).await?;
                    Ok::<_, io::Error>(s)
                })
            })
            .collect();
        sleep(Duration::from_millis(100)).await;
        let early = done.load(Ordering::SeqCst);
        assert!(
            early < CLIENTS,
            "the backlog did not fill ({early} connected)"
        );
        let mut seen = Vec::new();
        for _ in 0..CLIENTS {
            let (s, _) = listener.accept().await.unwrap();
            let mut b = [0];
            s.read_exact(&mut b).await.unwrap();
            seen.push(b[0]);
        }
        for c in clients {
            c.await.unwrap().unwrap();
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..CLIENTS as u8).collect::<Vec<_>>());
    });
}

#[test]
fn abstract_addresses() {
    run(async {
        let addr = abstract_addr("stream");
        let listener = UnixListener::bind_addr(&addr).unwrap();
        assert_eq!(
            listener.local_addr().unwrap().as_abstract_name(),
            addr.as_abstract_name()
        );
        let client = UnixStream::connect_addr(&addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        client.write_all(b"abs").await.unwrap();
        let mut buf = [0; 3];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"abs");
        listener.close().unwrap();
        assert_kind(
            UnixStream::connect_addr(&addr).await,
            io::ErrorKind::ConnectionRefused,
        );

        let daddr = abstract_addr("dgram");
        let server = UnixDatagram::bind_addr(&daddr).unwrap();
        let caddr = abstract_addr("dgram-client");
        let client = UnixDatagram::bind_addr(&caddr).unwrap();
        client.send_to_addr(b"one", &daddr).await.unwrap();
        let mut buf = [0; 8];
        let (n, from) = server.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"one");
        assert_eq!(from.as_abstract_name(), caddr.as_abstract_name());
        server.send_to_addr(b"two", &from).await.unwrap();
        assert_eq!(client.recv(&mut buf).await.unwrap(), 3);
        client.connect_addr(&daddr).unwrap();
        client.send(b"three").await.unwrap();
        assert_eq!(server.recv(&mut buf).await.unwrap(), 5);
    });
}

// ---------------------------------------------------------------------------
// Stream I/O.

#[test]
fn pair_read_write_read_exact_write_all_peek() {
    run(async {
        let (a, b) = UnixStream::pair().unwrap();
        assert!(a.peer_addr().unwrap().is_unnamed());
        let data = pattern(300_000, 7);
        let writer = goro::spawn({
            let data = data.clone();
            async move {
                a.write_all(&data).await.unwrap();
                a
            }
        });
        let mut head = [0; 16];
        assert_eq!(b.peek(&mut head).await.unwrap(), 16);
        assert_eq!(&head, &data[..16]);
        let mut got = vec![0; data.len()];
        b.read_exact(&mut got).await.unwrap();
        assert_eq!(got, data);
        let a = writer.await.unwrap();
        assert_eq!(a.write(b"xy").await.unwrap(), 2);
        let mut buf = [0; 8];
        assert_eq!(b.read(&mut buf).await.unwrap(), 2);
        // Empty buffers return at once.
        assert_eq!(b.read(&mut []).await.unwrap(), 0);
        assert_eq!(b.peek(&mut []).await.unwrap(), 0);
        assert_eq!(a.write(&[]).await.unwrap(), 0);
        a.write_all(&[]).await.unwrap();
        b.read_exact(&mut []).await.unwrap();
    });
}

#[test]
fn read_exact_at_eof_is_unexpected_eof() {
    run(async {
        let (a, b) = UnixStream::pair().unwrap();
        a.write_all(b"abc").await.unwrap();
        drop(a);
        let mut buf = [0; 8];
        assert_kind(b.read_exact(&mut buf).await, io::ErrorKind::UnexpectedEof);
        assert_eq!(b.read(&mut buf).await.unwrap(), 0);
    });
}

#[test]
fn shutdown_gives_eof() {
    run(async {
        let dir = TempDir::new("shutdown");
        let (c, s) = unix_pair_in(&dir).await;
        c.write_all(b"last").await.unwrap();
        c.shutdown(std::net::Shutdown::Write).unwrap();
        let mut buf = Vec::new();
        (&s).read_to_end(&mut buf).await.unwrap();
        assert_eq!(buf, b"last");
        // The other direction still works.
        s.write_all(b"reply").await.unwrap();
        let mut r = [0; 5];
        c.read_exact(&mut r).await.unwrap();
        c.shutdown(std::net::Shutdown::Read).unwrap();
        assert_eq!(c.read(&mut r).await.unwrap(), 0);
        c.shutdown(std::net::Shutdown::Both).unwrap();
        assert_kind(c.write(b"x").await, io::ErrorKind::BrokenPipe);
    });
}

#[test]
fn writing_to_a_closed_peer_is_broken_pipe_not_sigpipe() {
    run(async {
        let (a, b) = UnixStream::pair().unwrap();
        drop(b);
        // Without MSG_NOSIGNAL this would kill the test process.
        let r = a.write_all(&pattern(1 << 20, 1)).await;
        assert_kind(r, io::ErrorKind::BrokenPipe);
        let r = AsyncWriteExt::write(&mut &a, b"x").await;
        assert_kind(r, io::ErrorKind::BrokenPipe);
    });
}

#[test]
fn futures_io_on_owned_and_shared_streams() {
    run(async {
        let (mut a, b) = UnixStream::pair().unwrap();
        AsyncWriteExt::write_all(&mut a, b"owned").await.unwrap();
        let bufs = [io::IoSlice::new(b"vec"), io::IoSlice::new(b"tored")];
        let n = AsyncWriteExt::write_vectored(&mut a, &bufs).await.unwrap();
        assert_eq!(n, 8);
        AsyncWriteExt::flush(&mut a).await.unwrap();
        AsyncWriteExt::close(&mut a).await.unwrap(); // shuts down the write half
        let b = Arc::new(b);
        let mut r = &*b;
        let mut out = Vec::new();
        r.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, b"ownedvectored");

        // Arc split: a reader task and a writer task on one stream.
        let (x, y) = UnixStream::pair().unwrap();
        let x = Arc::new(x);
        let data = pattern(1 << 20, 3);
        let writer = goro::spawn({
            let (x, data) = (x.clone(), data.clone());
            async move {
                let mut w = &*x;
                // Explicit trait calls: `w.write_all(..)` and `w.close()`
                // would pick the inherent methods.
                AsyncWriteExt::write_all(&mut w, &data).await.unwrap();
                AsyncWriteExt::close(&mut w).await.unwrap();
            }
        });
        let echo = goro::spawn(async move {
            let mut r = &y;
            let mut buf = vec![0; 8192];
            let mut got = Vec::new();
            loop {
                let n = AsyncReadExt::read(&mut r, &mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            got
        });
        writer.await.unwrap();
        assert_eq!(echo.await.unwrap(), data);

        // Vectored reads.
        let (p, q) = UnixStream::pair().unwrap();
        p.write_all(b"abcdef").await.unwrap();
        let (mut h, mut t) = ([0; 2], [0; 4]);
        let mut bufs = [io::IoSliceMut::new(&mut h), io::IoSliceMut::new(&mut t)];
        let n = (&q).read_vectored(&mut bufs).await.unwrap();
        assert_eq!(n, 6);
        assert_eq!((&h, &t), (b"ab", b"cdef"));

        // futures::io::copy between two streams.
        let (s1, s2) = UnixStream::pair().unwrap();
        let (d1, d2) = UnixStream::pair().unwrap();
        let data = pattern(200_000, 9);
        let feed = goro::spawn({
            let data = data.clone();
            async move {
                s1.write_all(&data).await.unwrap();
            }
        });
        let copier = goro::spawn(async move {
            let n = futures::io::copy(&s2, &mut &d1).await.unwrap();
            d1.shutdown(std::net::Shutdown::Write).unwrap();
            n
        });
        let mut out = Vec::new();
        (&d2).read_to_end(&mut out).await.unwrap();
        feed.await.unwrap();
        assert_eq!(copier.await.unwrap(), data.len() as u64);
        assert_eq!(out, data);
    });
}

#[test]
fn concurrent_write_alls_never_interleave() {
    run(async {
        const LEN: usize = 1 << 20;
        let (a, b) = UnixStream::pair().unwrap();
        let a = Arc::new(a);
        let writers: Vec<_> = [b'a', b'b', b'c']
            .into_iter()
            .map(|c| {
                let a = a.clone();
                goro::spawn(async move { a.write_all(&vec![c; LEN]).await.unwrap() })
            })
            .collect();
        let mut got = vec![0; 3 * LEN];
        b.read_exact(&mut got).await.unwrap();
        for w in writers {
            w.await.unwrap();
        }
        let mut runs: Vec<u8> = got.chunks(LEN).map(|c| c[0]).collect();
        for (i, chunk) in got.chunks(LEN).enumerate() {
            assert!(
                chunk.iter().all(|&x| x == chunk[0]),
                "write #{i} was interleaved with another"
            );
        }
        runs.sort_unstable();
        assert_eq!(runs, b"abc");
    });
}

#[test]
fn many_clients_echo() {
    run(async {
        const CLIENTS: usize = 40;
        let dir = TempDir::new("echo");
        let path = dir.path("echo.sock");
        let listener = Arc::new(UnixListener::bind(&path).unwrap());
        let server = goro::spawn({
            let listener = listener.clone();
            async move {
                let mut incoming = listener.incoming();
                for _ in 0..CLIENTS {
                    let s = incoming.next().await.unwrap().unwrap();
                    goro::spawn(async move {
                        let mut buf = [0; 4096];
                        loop {
                            match s.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => s.write_all(&buf[..n]).await.unwrap(),
                            }
                        }
                    });
                }
            }
        });
        let clients: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let path = path.clone();
                goro::spawn(async move {
                    let s = UnixStream::connect(&path).await.unwrap();
                    let data = pattern(50_000, i as u8);
                    let w = s.write_all(&data);
                    let mut got = vec![0; data.len()];
                    let r = s.read_exact(&mut got);
                    let (w, r) = futures::join!(w, r);
                    w.unwrap();
                    r.unwrap();
                    assert_eq!(got, data);
                })
            })
            .collect();
        for c in clients {
            c.await.unwrap();
        }
        server.await.unwrap();
    });
}

#[test]
fn incoming_is_a_stream() {
    run(async {
        use futures::StreamExt;
        let dir = TempDir::new("incoming");
        let path = dir.path("l.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let _c1 = UnixStream::connect(&path).await.unwrap();
        let _c2 = UnixStream::connect(&path).await.unwrap();
        let got: Vec<_> = listener.incoming().take(2).collect().await;
        assert_eq!(got.len(), 2);
        for s in got {
            assert!(s.unwrap().peer_addr().unwrap().is_unnamed());
        }
        let _c3 = UnixStream::connect(&path).await.unwrap();
        let (s, _) = poll_fn(|cx| listener.poll_accept(cx)).await.unwrap();
        assert_eq!(s.local_addr().unwrap().as_pathname(), Some(path.as_path()));
    });
}

#[test]
fn readable_and_writable() {
    run(async {
        let (a, b) = UnixStream::pair().unwrap();
        let b = Arc::new(b);
        a.writable().await.unwrap();
        let waiter = goro::spawn({
            let b = b.clone();
            async move { b.readable().await }
        });
        sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished());
        a.write_all(b"r").await.unwrap();
        waiter.await.unwrap().unwrap();
        assert_eq!(b.read(&mut [0; 4]).await.unwrap(), 1);
    });
}

#[test]
fn stream_from_std_and_into_std() {
    run(async {
        let (std_a, mut std_b) = std::os::unix::net::UnixStream::pair().unwrap();
        let a = UnixStream::from_std(std_a).unwrap();
        // SAFETY: fcntl on a live fd we own, only reading its flags.
        let flags = unsafe { libc::fcntl(a.as_raw_fd(), libc::F_GETFL) };
        assert!(
            flags & libc::O_NONBLOCK != 0,
            "from_std must set O_NONBLOCK"
        );
        std::io::Write::write_all(&mut std_b, b"in").unwrap();
        let mut buf = [0; 8];
        assert_eq!(a.read(&mut buf).await.unwrap(), 2);
        let mut std_a = a.into_std().unwrap();
        std_a.set_nonblocking(false).unwrap();
        std::io::Write::write_all(&mut std_b, b"out").unwrap();
        std::io::Read::read_exact(&mut std_a, &mut buf[..3]).unwrap();
        assert_eq!(&buf[..3], b"out");
        // Registered again after being deregistered.
        let a = UnixStream::from_std(std_a).unwrap();
        std::io::Write::write_all(&mut std_b, b"again").unwrap();
        a.read_exact(&mut buf[..5]).await.unwrap();

        let dir = TempDir::new("listener-std");
        let path = dir.path("l.sock");
        let l =
            UnixListener::from_std(std::os::unix::net::UnixListener::bind(&path).unwrap()).unwrap();
        let _c = UnixStream::connect(&path).await.unwrap();
        let (_s, _) = l.accept().await.unwrap();
        let std_l = l.into_std().unwrap();
        let _c2 = UnixStream::connect(&path).await.unwrap();
        std_l.set_nonblocking(false).unwrap();
        let (_s2, _) = std_l.accept().unwrap();
    });
}

// ---------------------------------------------------------------------------
// Deadlines (the cases every connection type shares are in
// conn_conformance.rs).

#[test]
fn past_read_deadline_fails_a_pending_read() {
    run(async {
        let (a, b) = UnixStream::pair().unwrap();
        let a = Arc::new(a);
        let waiter = goro::spawn({
            let a = a.clone();
            async move { a.read(&mut [0; 8]).await }
        });
        sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished());
        let set = Instant::now();
        a.set_read_deadline(Some(past())).unwrap();
        assert_kind(waiter.await.unwrap(), io::ErrorKind::TimedOut);
        assert!(set.elapsed() < PROMPT);
        // Later reads too, even with data buffered; writes are unaffected.
        b.write_all(b"buffered").await.unwrap();
        a.readable().await.ok();
        assert_kind(a.read(&mut [0; 8]).await, io::ErrorKind::TimedOut);
        assert_kind(a.peek(&mut [0; 8]).await, io::ErrorKind::TimedOut);
        a.write_all(b"w").await.unwrap();
        a.set_read_deadline(None).unwrap();
        assert_eq!(a.read(&mut [0; 8]).await.unwrap(), 8);
    });
}

#[test]
fn clearing_the_deadline_removes_the_timeout() {
    run(async {
        with_margins("stream deadline cleared", |k| async move {
            let (a, b) = UnixStream::pair().unwrap();
            let b = Arc::new(b);
            let first = Instant::now() + Duration::from_millis(100) * k;
            b.set_deadline(Some(first)).unwrap();
            let waiter = goro::spawn({
                let b = b.clone();
                async move { b.read(&mut [0; 8]).await }
            });
            sleep(Duration::from_millis(10) * k).await;
            b.set_deadline(None).unwrap();
            if before(first) == Setup::Missed {
                return Setup::Missed;
            }
            sleep_until(first + Duration::from_millis(200) * k).await;
            assert!(!waiter.is_finished(), "the cleared deadline fired");
            a.write_all(b"ok").await.unwrap();
            assert_eq!(waiter.await.unwrap().unwrap(), 2);
            Setup::Met
        })
        .await;
    });
}

#[test]
fn write_deadline_stops_a_blocked_write_all() {
    run(async {
        let (a, b) = UnixStream::pair().unwrap();
        let deadline = Instant::now() + Duration::from_millis(150);
        a.set_write_deadline(Some(deadline)).unwrap();
        // Nobody reads `b`, so the buffer fills and the write waits.
        assert_kind(a.write_all(&vec![0; BIG]).await, io::ErrorKind::TimedOut);
        let now = Instant::now();
        assert!(now >= deadline, "fired {:?} early", deadline - now);
        assert!(now - deadline < LATE);
        // Reads are unaffected by the write deadline.
        b.write_all(b"r").await.unwrap();
        assert_eq!(a.read(&mut [0; 4]).await.unwrap(), 1);
        assert_kind(
            AsyncWriteExt::write(&mut &a, b"x").await,
            io::ErrorKind::TimedOut,
        );
        a.set_write_deadline(None).unwrap();
        drop(b);
        assert_kind(a.write(b"x").await, io::ErrorKind::BrokenPipe);
    });
}

#[test]
fn listener_deadline_fails_accept() {
    run(async {
        let dir = TempDir::new("accept-deadline");
        let path = dir.path("l.sock");
        let l = Arc::new(UnixListener::bind(&path).unwrap());
        let waiter = goro::spawn({
            let l = l.clone();
            async move { l.accept().await.map(|_| ()) }
        });
        sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished());
        l.set_deadline(Some(past())).unwrap();
        assert_kind(waiter.await.unwrap(), io::ErrorKind::TimedOut);
        // Even with a connection queued, until the deadline is cleared.
        let _c = UnixStream::connect(&path).await.unwrap();
        assert_kind(l.accept().await, io::ErrorKind::TimedOut);
        l.set_deadline(None).unwrap();
        l.accept().await.unwrap();
        let deadline = Instant::now() + Duration::from_millis(100);
        l.set_deadline(Some(deadline)).unwrap();
        assert_kind(l.incoming().next().await.unwrap(), io::ErrorKind::TimedOut);
        assert!(Instant::now() >= deadline);
    });
}

// ---------------------------------------------------------------------------
// Close.

#[test]
fn close_wakes_blocked_reads_writes_and_accepts() {
    run(async {
        let (a, _b) = UnixStream::pair().unwrap();
        let a = Arc::new(a);
        let reader = goro::spawn({
            let a = a.clone();
            async move { a.read(&mut [0; 8]).await.map(drop) }
        });
        let writer = goro::spawn({
            let a = a.clone();
            async move { a.write_all(&vec![0; BIG]).await }
        });
        let dir = TempDir::new("close");
        let path = dir.path("l.sock");
        let l = Arc::new(UnixListener::bind(&path).unwrap());
        let acceptor = goro::spawn({
            let l = l.clone();
            async move { l.accept().await.map(drop) }
        });
        let incoming = goro::spawn({
            let l = l.clone();
            async move { l.incoming().next().await.is_none() }
        });
        sleep(Duration::from_millis(50)).await;
        assert!(!reader.is_finished() && !writer.is_finished());
        assert!(!acceptor.is_finished() && !incoming.is_finished());
        let closed = Instant::now();
        a.close().unwrap();
        l.close().unwrap();
        assert!(!path.exists());
        assert_kind(reader.await.unwrap(), io::ErrorKind::NotConnected);
        assert_kind(writer.await.unwrap(), io::ErrorKind::NotConnected);
        assert_kind(acceptor.await.unwrap(), io::ErrorKind::NotConnected);
        assert!(incoming.await.unwrap(), "incoming() must end on close");
        assert!(closed.elapsed() < PROMPT);
    });
}

#[test]
fn operations_after_close_fail_with_not_connected() {
    run(async {
        use io::ErrorKind::NotConnected;
        let (a, _b) = UnixStream::pair().unwrap();
        a.close().unwrap();
        assert_kind(a.close(), NotConnected);
        assert_kind(a.read(&mut [0; 8]).await, NotConnected);
        assert_kind(a.read_exact(&mut [0; 8]).await, NotConnected);
        assert_kind(a.peek(&mut [0; 8]).await, NotConnected);
        assert_kind(a.write(b"x").await, NotConnected);
        assert_kind(a.write_all(b"x").await, NotConnected);
        assert_kind(AsyncReadExt::read(&mut &a, &mut [0; 8]).await, NotConnected);
        assert_kind(AsyncWriteExt::write(&mut &a, b"x").await, NotConnected);
        assert_kind(a.readable().await, NotConnected);
        assert_kind(a.writable().await, NotConnected);
        assert_kind(a.shutdown(std::net::Shutdown::Both), NotConnected);
        assert_kind(a.peer_addr(), NotConnected);
        assert_kind(a.set_read_deadline(None), NotConnected);
        assert_kind(a.take_error(), NotConnected);
        assert_kind(a.into_std(), NotConnected);

        let dir = TempDir::new("after-close");
        let l = UnixListener::bind(dir.path("l.sock")).unwrap();
        l.close().unwrap();
        assert_kind(l.accept().await, NotConnected);
        assert_kind(l.local_addr(), NotConnected);
        assert_kind(l.set_deadline(None), NotConnected);
        assert_kind(l.into_std(), NotConnected);

        let (d, _e) = UnixDatagram::pair().unwrap();
        d.close().unwrap();
        assert_kind(d.close(), NotConnected);
        assert_kind(d.recv(&mut [0; 8]).await, NotConnected);
        assert_kind(d.recv_from(&mut [0; 8]).await, NotConnected);
        assert_kind(d.send(b"x").await, NotConnected);
        assert_kind(d.send_to(b"x", dir.path("nobody")).await, NotConnected);
        assert_kind(d.connect(dir.path("nobody")), NotConnected);
        assert_kind(d.local_addr(), NotConnected);
        assert_kind(d.into_std(), NotConnected);
    });
}

// ---------------------------------------------------------------------------
// Datagrams.

#[test]
fn datagrams_with_paths() {
    run(async {
        let dir = TempDir::new("dgram");
        let (spath, cpath) = (dir.path("server.sock"), dir.path("client.sock"));
        let server = UnixDatagram::bind(&spath).unwrap();
        let client = UnixDatagram::bind(&cpath).unwrap();
        assert_eq!(
            server.local_addr().unwrap().as_pathname(),
            Some(spath.as_path())
        );
        assert_kind(server.peer_addr(), io::ErrorKind::NotConnected);
        assert_eq!(client.send_to(b"ping", &spath).await.unwrap(), 4);
        let mut buf = [0; 16];
        let (n, from) = server.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"ping");
        assert_eq!(from.as_pathname(), Some(cpath.as_path()));
        // Reply to the reported address.
        server.send_to_addr(b"pong", &from).await.unwrap();
        let (n, from) = client.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"pong");
        assert_eq!(from.as_pathname(), Some(spath.as_path()));

        // An unbound sender is unnamed.
        let anon = UnixDatagram::unbound().unwrap();
        assert!(anon.local_addr().unwrap().is_unnamed());
        anon.send_to(b"anon", &spath).await.unwrap();
        let (n, from) = server.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"anon");
        assert!(from.is_unnamed(), "{from:?}");

        // Connected: send/recv, and only the peer's datagrams arrive.
        client.connect(&spath).unwrap();
        assert_eq!(
            client.peer_addr().unwrap().as_pathname(),
            Some(spath.as_path())
        );
        client.send(b"via connect").await.unwrap();
        let n = server.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"via connect");
        server.connect(&cpath).unwrap();
        // A stranger's datagram to the connected client is refused.
        assert!(anon.send_to(b"stranger", &cpath).await.is_err());
        server.send(b"peer").await.unwrap();
        let n = client.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"peer");

        // A bound datagram socket leaves its file behind (unlike listeners).
        drop(server);
        assert!(spath.exists());
    });
}

#[test]
fn datagram_pair_peek_truncation_and_zero_length() {
    run(async {
        let (a, b) = UnixDatagram::pair().unwrap();
        a.send(b"0123456789").await.unwrap();
        a.send(&[]).await.unwrap();
        a.send(b"tail").await.unwrap();
        let mut buf = [0; 16];
        assert_eq!(b.peek(&mut buf).await.unwrap(), 10);
        let (n, from) = b.peek_from(&mut buf).await.unwrap();
        assert_eq!(n, 10);
        assert!(from.is_unnamed());
        let mut small = [0; 4];
        assert_eq!(b.recv(&mut small).await.unwrap(), 4);
        assert_eq!(&small, b"0123");
        // The truncated rest is gone; the empty datagram is delivered.
        assert_eq!(b.recv(&mut buf).await.unwrap(), 0);
        let (n, _) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"tail");
        // An empty buffer still waits for a datagram.
        b.set_read_deadline(Some(Instant::now() + Duration::from_millis(100)))
            .unwrap();
        assert_kind(b.recv(&mut []).await, io::ErrorKind::TimedOut);
    });
}

#[test]
fn datagram_poll_methods_and_readiness() {
    run(async {
        let dir = TempDir::new("dgram-poll");
        let path = dir.path("s.sock");
        let server = Arc::new(UnixDatagram::bind(&path).unwrap());
        let client = UnixDatagram::unbound().unwrap();
        client.writable().await.unwrap();
        let waiter = goro::spawn({
            let server = server.clone();
            async move { server.readable().await }
        });
        sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished());
        let n = poll_fn(|cx| client.poll_send_to(cx, b"p1", &path))
            .await
            .unwrap();
        assert_eq!(n, 2);
        waiter.await.unwrap().unwrap();
        let mut buf = [0; 8];
        let (n, from) = poll_fn(|cx| server.poll_recv_from(cx, &mut buf))
            .await
            .unwrap();
        assert_eq!((n, from.is_unnamed()), (2, true));

        let (a, b) = UnixDatagram::pair().unwrap();
        assert_eq!(poll_fn(|cx| a.poll_send(cx, b"p2")).await.unwrap(), 2);
        assert_eq!(poll_fn(|cx| b.poll_recv(cx, &mut buf)).await.unwrap(), 2);
    });
}

#[test]
fn datagram_deadlines() {
    run(async {
        let (a, b) = UnixDatagram::pair().unwrap();
        let a = Arc::new(a);
        // Past deadline fails a pending recv.
        let waiter = goro::spawn({
            let a = a.clone();
            async move { a.recv_from(&mut [0; 8]).await.map(|(n, _)| n) }
        });
        sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished());
        a.set_read_deadline(Some(past())).unwrap();
        assert_kind(waiter.await.unwrap(), io::ErrorKind::TimedOut);
        // Even with a datagram queued.
        b.send(b"queued").await.unwrap();
        assert_kind(a.recv(&mut [0; 8]).await, io::ErrorKind::TimedOut);
        // Moving it later lets a recv wait for data.
        a.set_read_deadline(Some(Instant::now() + Duration::from_millis(100)))
            .unwrap();
        assert_eq!(a.recv(&mut [0; 8]).await.unwrap(), 6);
        // Clearing it while a recv waits removes the timeout (on a fresh
        // pair per attempt, retried if the clear came too late).
        with_margins("datagram deadline cleared", |k| async move {
            let (a, b) = UnixDatagram::pair().unwrap();
            let a = Arc::new(a);
            let first = Instant::now() + Duration::from_millis(100) * k;
            a.set_read_deadline(Some(first)).unwrap();
            let waiter = goro::spawn({
                let a = a.clone();
                async move { a.recv(&mut [0; 8]).await }
            });
            sleep(Duration::from_millis(10) * k).await;
            a.set_read_deadline(None).unwrap();
            if before(first) == Setup::Missed {
                return Setup::Missed;
            }
            sleep_until(first + Duration::from_millis(200) * k).await;
            assert!(!waiter.is_finished(), "the cleared deadline fired");
            b.send(b"late").await.unwrap();
            assert_eq!(waiter.await.unwrap().unwrap(), 4);
            Setup::Met
        })
        .await;

        // A future deadline fires, not before.
        let deadline = Instant::now() + Duration::from_millis(100);
        a.set_deadline(Some(deadline)).unwrap();
        assert_kind(a.recv(&mut [0; 8]).await, io::ErrorKind::TimedOut);
        assert!(Instant::now() >= deadline);
        assert_kind(a.send(b"x").await, io::ErrorKind::TimedOut);
        a.set_deadline(None).unwrap();

        // Write deadline on a full peer queue.
        a.set_write_deadline(Some(Instant::now() + Duration::from_millis(100)))
            .unwrap();
        let r = async {
            loop {
                a.send(&[0; 1024]).await?;
            }
        };
        let r: io::Result<()> = r.await;
        assert_kind(r, io::ErrorKind::TimedOut);
    });
}

#[test]
fn close_wakes_a_blocked_datagram_recv() {
    run(async {
        let dir = TempDir::new("dgram-close");
        let d = Arc::new(UnixDatagram::bind(dir.path("d.sock")).unwrap());
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let d = d.clone();
                goro::spawn(async move { d.recv_from(&mut [0; 8]).await.map(drop) })
            })
            .collect();
        sleep(Duration::from_millis(50)).await;
        let closed = Instant::now();
        d.close().unwrap();
        for w in waiters {
            assert_kind(w.await.unwrap(), io::ErrorKind::NotConnected);
        }
        assert!(closed.elapsed() < PROMPT);
    });
}

#[test]
fn datagram_shutdown_take_error_and_std_conversions() {
    run(async {
        let (a, _b) = UnixDatagram::pair().unwrap();
        assert!(a.take_error().unwrap().is_none());
        a.shutdown(std::net::Shutdown::Write).unwrap();
        assert_kind(a.send(b"x").await, io::ErrorKind::BrokenPipe);

        let (std_c, std_d) = std::os::unix::net::UnixDatagram::pair().unwrap();
        let c = UnixDatagram::from_std(std_c).unwrap();
        // SAFETY: fcntl on a live fd we own, only reading its flags.
        let flags = unsafe { libc::fcntl(c.as_raw_fd(), libc::F_GETFL) };
        assert!(flags & libc::O_NONBLOCK != 0);
        std_d.send(b"std").unwrap();
        assert_eq!(c.recv(&mut [0; 8]).await.unwrap(), 3);
        let std_c = c.into_std().unwrap();
        std_c.set_nonblocking(false).unwrap();
        std_d.send(b"back").unwrap();
        let mut buf = [0; 8];
        assert_eq!(std_c.recv(&mut buf).unwrap(), 4);
        let c = UnixDatagram::from_std(std_c).unwrap();
        std_d.send(b"again").unwrap();
        assert_eq!(c.recv(&mut buf).await.unwrap(), 5);
    });
}

#[test]
fn debug_output() {
    run(async {
        let dir = TempDir::new("debug");
        let path = dir.path("l.sock");
        let l = UnixListener::bind(&path).unwrap();
        let s = format!("{l:?}");
        assert!(s.contains("UnixListener") && s.contains("l.sock"), "{s}");
        let (a, _b) = UnixStream::pair().unwrap();
        assert!(format!("{a:?}").contains("UnixStream"));
        let d = UnixDatagram::unbound().unwrap();
        assert!(format!("{d:?}").contains("UnixDatagram"));
    });
}

// ---------------------------------------------------------------------------
// EMFILE: incoming() backs off and recovers. Runs in a child process
// because it lowers RLIMIT_NOFILE for the whole process.

const EMFILE_CHILD: &str = "GORO_UNIX_EMFILE_CHILD";

#[test]
fn incoming_backs_off_on_emfile_and_recovers() {
    if std::env::var_os(EMFILE_CHILD).is_some() {
        emfile_child();
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "incoming_backs_off_on_emfile_and_recovers",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(EMFILE_CHILD, "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed: {out:?}\n{err}");
    assert!(
        err.contains("emfile child: ok"),
        "child did not run:\n{err}"
    );
}

fn emfile_child() {
    run(async {
        const WAITING: usize = 3;
        let dir = TempDir::new("emfile");
        let path = dir.path("l.sock");
        let listener = Arc::new(UnixListener::bind(&path).unwrap());
        // A connection that is already being served.
        let c0 = UnixStream::connect(&path).await.unwrap();
        let (s0, _) = listener.accept().await.unwrap();
        // Clients queued in the backlog before the fds run out.
        let mut clients = Vec::new();
        for _ in 0..WAITING {
            clients.push(UnixStream::connect(&path).await.unwrap());
        }

        // Run out of descriptors: a low soft limit, filled with /dev/null.
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit with a valid pointer to an rlimit.
        unsafe {
            assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
            lim.rlim_cur = 256.min(lim.rlim_max);
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
        }
        let mut filler = Vec::new();
        loop {
            match std::fs::File::open("/dev/null") {
                Ok(f) => filler.push(f),
                Err(e) if e.raw_os_error() == Some(libc::EMFILE) => break,
                Err(e) => panic!("unexpected error filling the fd table: {e}"),
            }
        }
        assert_eq!(
            listener.accept().await.unwrap_err().raw_os_error(),
            Some(libc::EMFILE),
            "accept should see EMFILE"
        );

        let accepted = Arc::new(AtomicUsize::new(0));
        let server = goro::spawn({
            let (listener, accepted) = (listener.clone(), accepted.clone());
            async move {
                let mut incoming = listener.incoming();
                let mut streams = Vec::new();
                for _ in 0..WAITING {
                    // An error here would fail the test: EMFILE must not
                    // come out of incoming().
                    streams.push(incoming.next().await.unwrap().unwrap());
                    accepted.fetch_add(1, Ordering::SeqCst);
                }
                streams
            }
        });
        sleep(Duration::from_millis(150)).await;
        assert_eq!(accepted.load(Ordering::SeqCst), 0);
        assert!(
            !server.is_finished(),
            "incoming gave up instead of backing off"
        );
        // The existing connection keeps working meanwhile.
        c0.write_all(b"still here").await.unwrap();
        let mut buf = [0; 10];
        s0.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"still here");

        // Free the descriptors: incoming() recovers on its own.
        let freed = Instant::now();
        drop(filler);
        let streams = timeout(Duration::from_secs(10), server)
            .await
            .expect("incoming did not recover after fds were freed")
            .unwrap();
        assert_eq!(streams.len(), WAITING);
        assert!(freed.elapsed() < Duration::from_secs(10));
        for (c, s) in clients.iter().zip(&streams) {
            c.write_all(b"x").await.unwrap();
            s.read_exact(&mut [0]).await.unwrap();
        }
        eprintln!("emfile child: ok");
    });
}
