//! Go's `net.Conn` deadline and close rules, written once against a
//! connection trait ([`Conn`]) and run for `TcpStream`, `UnixStream` and
//! `PollFd` (over one end of a Unix socket pair). The model is Go's
//! `golang.org/x/net/nettest.TestConn` (its past, present and future
//! timeout cases, close while blocked, concurrent methods):
//!
//! - a deadline in the past fails reads (even with data buffered) and
//!   writes at once, until it is cleared;
//! - a deadline set while an operation waits applies to that operation:
//!   now (present) fails it at once, a later one moves its timeout, `None`
//!   removes it;
//! - a future deadline fires, never before its instant: for a read with
//!   nothing to read and for a write into a full buffer;
//! - read and write deadlines are independent; `set_deadline` sets both;
//! - reads and writes run concurrently on one connection;
//! - (streams with `close`) closing wakes a blocked reader or writer with
//!   `NotConnected`, also when a deadline is pending, and every deadline or
//!   operation after it fails the same way.
//!
//! The peer is always a plain blocking std socket, so nothing of goro is on
//! the other side. Type-specific cases (listeners, combined timers, many
//! waiters, the `AsyncRead` path) stay in `deadlines.rs`, `close.rs` and
//! `unix.rs`.
//!
//! Timing: "at once" means within [`PROMPT`]; a firing deadline must not
//! fire before its instant and must fire within [`LATE`] after it. Both
//! bounds are generous because the test machine is small and busy.

mod support;

use goro::io::PollFd;
use goro::net::{TcpStream, UnixStream};
use goro::time::{sleep, sleep_until};
use std::future::Future;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::assert_kind;
use support::data::pattern;
use support::hang::run;
use support::instants::past;
use support::margins::{Setup, before, with_margins};

/// Upper bound for "fails at once".
const PROMPT: Duration = Duration::from_secs(3);
/// Upper bound for how late a deadline may fire.
const LATE: Duration = Duration::from_secs(5);
/// The deadline the timing cases wait for.
const WAIT: Duration = Duration::from_millis(300);
/// How long a spawned task is given to park in its operation.
const PARK: Duration = Duration::from_millis(100);

/// A connection under test: a goro socket (or `PollFd`) with Go's deadline
/// methods, connected to a blocking std socket.
trait Conn: AsRawFd + Send + Sync + Sized + 'static {
    /// The other end.
    type Peer: Read + Write + Send + 'static;

    /// A connected pair: (ours, peer).
    fn pair() -> (Self, Self::Peer);

    /// One read (Go's `Read`).
    fn read(&self, buf: &mut [u8]) -> impl Future<Output = io::Result<usize>> + Send;

    /// One write (Go's `Write`).
    fn write(&self, buf: &[u8]) -> impl Future<Output = io::Result<usize>> + Send;

    fn set_read_deadline(&self, at: Option<Instant>) -> io::Result<()>;
    fn set_write_deadline(&self, at: Option<Instant>) -> io::Result<()>;
    fn set_deadline(&self, at: Option<Instant>) -> io::Result<()>;
}

/// A connection with Go's `Close` (goro's streams; `PollFd` closes only by
/// being dropped).
trait CloseConn: Conn {
    fn close(&self) -> io::Result<()>;
}

/// Implements [`Conn`] (and [`CloseConn`]) for a goro stream by forwarding
/// to its inherent methods.
macro_rules! impl_stream_conn {
    ($t:ty, $peer:ty, $pair:expr) => {
        impl Conn for $t {
            type Peer = $peer;

            fn pair() -> (Self, $peer) {
                $pair
            }

            fn read(&self, buf: &mut [u8]) -> impl Future<Output = io::Result<usize>> + Send {
                <$t>::read(self, buf)
            }

            fn write(&self, buf: &[u8]) -> impl Future<Output = io::Result<usize>> + Send {
                <$t>::write(self, buf)
            }

            fn set_read_deadline(&self, at: Option<Instant>) -> io::Result<()> {
                <$t>::set_read_deadline(self, at)
            }

            fn set_write_deadline(&self, at: Option<Instant>) -> io::Result<()> {
                <$t>::set_write_deadline(self, at)
            }

            fn set_deadline(&self, at: Option<Instant>) -> io::Result<()> {
                <$t>::set_deadline(self, at)
            }
        }

        impl CloseConn for $t {
            fn close(&self) -> io::Result<()> {
                <$t>::close(self)
            }
        }
    };
}

impl_stream_conn!(TcpStream, std::net::TcpStream, {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (ours, _) = listener.accept().unwrap();
    (TcpStream::from_std(ours).unwrap(), peer)
});

impl_stream_conn!(UnixStream, StdUnixStream, {
    let (ours, peer) = StdUnixStream::pair().unwrap();
    (UnixStream::from_std(ours).unwrap(), peer)
});

impl Conn for PollFd<StdUnixStream> {
    type Peer = StdUnixStream;

    fn pair() -> (Self, StdUnixStream) {
        support::net::poll_fd_pair()
    }

    fn read(&self, buf: &mut [u8]) -> impl Future<Output = io::Result<usize>> + Send {
        self.read_with(|mut s| s.read(buf))
    }

    fn write(&self, buf: &[u8]) -> impl Future<Output = io::Result<usize>> + Send {
        self.write_with(|mut s| s.write(buf))
    }

    fn set_read_deadline(&self, at: Option<Instant>) -> io::Result<()> {
        PollFd::set_read_deadline(self, at)
    }

    fn set_write_deadline(&self, at: Option<Instant>) -> io::Result<()> {
        PollFd::set_write_deadline(self, at)
    }

    fn set_deadline(&self, at: Option<Instant>) -> io::Result<()> {
        PollFd::set_deadline(self, at)
    }
}

/// Fills the kernel's send buffer of `c` (and the peer's receive buffer)
/// with non-blocking writes on the fd, down to single bytes: a socket that
/// refuses 64 KiB may still take a few bytes.
fn fill<C: Conn>(c: &C) {
    let chunk = [0x55u8; 64 << 10];
    for size in [64 << 10, 4096, 256, 1] {
        loop {
            // SAFETY: `chunk` is live for the call and at least `size` long.
            let n = unsafe {
                libc::send(
                    c.as_raw_fd(),
                    chunk.as_ptr().cast(),
                    size,
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                assert_eq!(e.kind(), io::ErrorKind::WouldBlock, "filling: {e}");
                break;
            }
        }
    }
}

#[track_caller]
fn assert_timed_out<T: std::fmt::Debug>(r: io::Result<T>) {
    assert_kind(r, io::ErrorKind::TimedOut);
}

#[track_caller]
fn assert_closed<T: std::fmt::Debug>(r: io::Result<T>) {
    assert_kind(r, io::ErrorKind::NotConnected);
}

/// Asserts a deadline set for `at` fired no earlier than `at` and no later
/// than [`LATE`] after it.
#[track_caller]
fn assert_fired_at(at: Instant) {
    let now = Instant::now();
    assert!(now >= at, "fired {:?} early", at - now);
    assert!(now - at < LATE, "fired {:?} late", now - at);
}

/// A task blocked in a read of `c`; returns what the read returned.
fn spawn_reader<C: Conn>(c: &Arc<C>) -> goro::JoinHandle<io::Result<usize>> {
    let c = c.clone();
    goro::spawn(async move { c.read(&mut [0u8; 16]).await })
}

/// Gives a spawned task time to park, and checks it did.
async fn let_it_park<T>(task: &goro::JoinHandle<T>) {
    sleep(PARK).await;
    assert!(!task.is_finished(), "the operation did not block");
}

// ---------------------------------------------------------------------------
// Deadlines (every connection type)
// ---------------------------------------------------------------------------

/// Go's `testPastTimeout`, read side: a past deadline fails reads at once,
/// also with data buffered, until it is cleared.
async fn past_read_deadline_fails_at_once<C: Conn>() {
    let (c, mut peer) = C::pair();
    c.set_read_deadline(Some(past())).unwrap();
    let t = Instant::now();
    assert_timed_out(c.read(&mut [0u8; 8]).await);
    peer.write_all(b"x").unwrap();
    sleep(Duration::from_millis(50)).await;
    assert_timed_out(c.read(&mut [0u8; 8]).await);
    assert!(t.elapsed() < PROMPT, "took {:?}", t.elapsed());
    c.set_read_deadline(None).unwrap();
    let mut b = [0u8; 8];
    assert_eq!(c.read(&mut b).await.unwrap(), 1);
    assert_eq!(b[0], b'x');
}

/// Go's `testPastTimeout`, write side: a past deadline fails writes at
/// once although the buffer has room, until it is cleared.
async fn past_write_deadline_fails_at_once<C: Conn>() {
    let (c, mut peer) = C::pair();
    c.set_write_deadline(Some(past())).unwrap();
    let t = Instant::now();
    assert_timed_out(c.write(b"x").await);
    assert!(t.elapsed() < PROMPT, "took {:?}", t.elapsed());
    c.set_write_deadline(None).unwrap();
    assert_eq!(c.write(b"y").await.unwrap(), 1);
    let mut b = [0u8; 1];
    peer.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"y", "the timed-out write must not have sent anything");
}

/// Go's `testPresentTimeout`: setting the deadline to now while a read
/// waits fails that read at once.
async fn present_deadline_fails_a_blocked_read<C: Conn>() {
    let (c, _peer) = C::pair();
    let c = Arc::new(c);
    let reader = spawn_reader(&c);
    let_it_park(&reader).await;
    let t = Instant::now();
    c.set_read_deadline(Some(Instant::now())).unwrap();
    assert_timed_out(reader.await.unwrap());
    assert!(t.elapsed() < PROMPT, "took {:?}", t.elapsed());
}

/// Go's `testFutureTimeout`: a read with nothing to read fails at its
/// deadline, not before.
async fn future_read_deadline_fires_not_before<C: Conn>() {
    let (c, _peer) = C::pair();
    let at = Instant::now() + WAIT;
    c.set_read_deadline(Some(at)).unwrap();
    assert_timed_out(c.read(&mut [0u8; 8]).await);
    assert_fired_at(at);
}

/// Go's write timeout: a write into a full buffer fails at its deadline,
/// not before.
async fn future_write_deadline_fires_with_a_full_buffer<C: Conn>() {
    let (c, _peer) = C::pair();
    fill(&c);
    let at = Instant::now() + WAIT;
    c.set_write_deadline(Some(at)).unwrap();
    assert_timed_out(c.write(b"more").await);
    assert_fired_at(at);
}

/// A deadline moved later while the read waits moves its timeout too.
/// Retried with larger margins if the test task was too slow to move the
/// deadline before the first one passed.
async fn deadline_extended_while_blocked<C: Conn>() {
    with_margins("deadline extended while blocked", |k| async move {
        let (c, _peer) = C::pair();
        let c = Arc::new(c);
        let first = Instant::now() + WAIT * k;
        c.set_read_deadline(Some(first)).unwrap();
        let reader = spawn_reader(&c);
        sleep(PARK).await;
        let at = Instant::now() + 2 * WAIT * k;
        c.set_read_deadline(Some(at)).unwrap();
        if before(first) == Setup::Missed {
            return Setup::Missed;
        }
        assert_timed_out(reader.await.unwrap());
        assert_fired_at(at);
        Setup::Met
    })
    .await;
}

/// A deadline cleared while the read waits removes its timeout: the read
/// waits on and returns the data that comes later.
/// Retried like [`deadline_extended_while_blocked`].
async fn deadline_cleared_while_blocked<C: Conn>() {
    with_margins("deadline cleared while blocked", |k| async move {
        let (c, mut peer) = C::pair();
        let c = Arc::new(c);
        let first = Instant::now() + WAIT * k;
        c.set_read_deadline(Some(first)).unwrap();
        let reader = spawn_reader(&c);
        sleep(PARK).await;
        c.set_read_deadline(None).unwrap();
        if before(first) == Setup::Missed {
            return Setup::Missed;
        }
        sleep_until(first + WAIT).await;
        assert!(!reader.is_finished(), "the cleared deadline fired");
        peer.write_all(b"late").unwrap();
        assert_eq!(reader.await.unwrap().unwrap(), 4);
        Setup::Met
    })
    .await;
}

/// An expired read deadline does not touch writes, and an expired write
/// deadline does not touch reads.
async fn read_and_write_deadlines_are_independent<C: Conn>() {
    let (c, mut peer) = C::pair();
    c.set_read_deadline(Some(past())).unwrap();
    assert_timed_out(c.read(&mut [0u8; 8]).await);
    assert_eq!(c.write(b"w").await.unwrap(), 1);
    c.set_read_deadline(None).unwrap();
    c.set_write_deadline(Some(past())).unwrap();
    assert_timed_out(c.write(b"w").await);
    peer.write_all(b"r").unwrap();
    assert_eq!(c.read(&mut [0u8; 8]).await.unwrap(), 1);
    let mut b = [0u8; 1];
    peer.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"w");
}

/// `set_deadline` sets both directions, and `set_deadline(None)` clears
/// both.
async fn set_deadline_sets_both<C: Conn>() {
    let (c, mut peer) = C::pair();
    c.set_deadline(Some(past())).unwrap();
    assert_timed_out(c.read(&mut [0u8; 8]).await);
    assert_timed_out(c.write(b"x").await);
    c.set_deadline(None).unwrap();
    assert_eq!(c.write(b"x").await.unwrap(), 1);
    peer.write_all(b"y").unwrap();
    assert_eq!(c.read(&mut [0u8; 8]).await.unwrap(), 1);
}

/// Go's `testConcurrentMethods`/`testBasicIO`: one task writes 1 MiB while
/// another reads the echo back through the same connection, both blocking
/// in turn; every byte comes back in order.
async fn concurrent_read_and_write<C: Conn>() {
    const LEN: usize = 1 << 20;
    let (c, mut peer) = C::pair();
    let c = Arc::new(c);
    // The peer echoes on a plain thread until end of stream.
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = peer.read(&mut buf) {
            if n == 0 || peer.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    });
    let data = pattern(LEN, 7);
    let expected = data.clone();
    let writer = {
        let c = c.clone();
        goro::spawn(async move {
            let mut sent = 0;
            while sent < data.len() {
                sent += c.write(&data[sent..]).await?;
            }
            io::Result::Ok(())
        })
    };
    let reader = {
        let c = c.clone();
        goro::spawn(async move {
            let mut got = vec![0u8; LEN];
            let mut n = 0;
            while n < LEN {
                match c.read(&mut got[n..]).await? {
                    0 => break,
                    k => n += k,
                }
            }
            got.truncate(n);
            io::Result::Ok(got)
        })
    };
    writer.await.unwrap().unwrap();
    let got = reader.await.unwrap().unwrap();
    assert_eq!(got.len(), LEN, "short echo");
    assert!(got == expected, "echo differs from what was written");
}

// ---------------------------------------------------------------------------
// Close (connections with `close`)
// ---------------------------------------------------------------------------

/// Lets `blocked`, an operation on `c`, park; closes `c`; checks that
/// `blocked` then fails with `NotConnected` within [`PROMPT`].
async fn close_wakes<C: CloseConn>(c: &Arc<C>, blocked: goro::JoinHandle<io::Result<usize>>) {
    let_it_park(&blocked).await;
    let t = Instant::now();
    c.close().unwrap();
    assert_closed(blocked.await.unwrap());
    assert!(t.elapsed() < PROMPT, "took {:?}", t.elapsed());
}

/// Closing wakes a blocked reader with `NotConnected` at once.
async fn close_unblocks_a_blocked_reader<C: CloseConn>() {
    let (c, _peer) = C::pair();
    let c = Arc::new(c);
    let reader = spawn_reader(&c);
    close_wakes(&c, reader).await;
}

/// Closing wakes a writer blocked on a full buffer with `NotConnected`.
async fn close_unblocks_a_blocked_writer<C: CloseConn>() {
    let (c, _peer) = C::pair();
    fill(&c);
    let c = Arc::new(c);
    let writer = {
        let c = c.clone();
        goro::spawn(async move { c.write(b"more").await })
    };
    close_wakes(&c, writer).await;
}

/// Go's `testCloseTimeout`: a reader waiting for a far deadline is woken
/// by close with `NotConnected`, not left to time out.
async fn close_beats_a_pending_deadline<C: CloseConn>() {
    let (c, _peer) = C::pair();
    let c = Arc::new(c);
    c.set_read_deadline(Some(Instant::now() + Duration::from_secs(60)))
        .unwrap();
    let reader = spawn_reader(&c);
    close_wakes(&c, reader).await;
}

/// After close, setting a deadline and every operation fail with
/// `NotConnected`.
async fn deadlines_after_close_fail<C: CloseConn>() {
    let (c, _peer) = C::pair();
    c.close().unwrap();
    assert_closed(c.set_read_deadline(Some(Instant::now())));
    assert_closed(c.set_write_deadline(None));
    assert_closed(c.set_deadline(Some(past())));
    assert_closed(c.read(&mut [0u8; 8]).await);
    assert_closed(c.write(b"x").await);
}

/// One `#[test]` per case for connection type `$t`.
macro_rules! conformance {
    ($module:ident: $t:ty; $($case:ident),* $(,)?) => {
        mod $module {
            use super::*;
            $(
                #[test]
                fn $case() {
                    run(super::$case::<$t>());
                }
            )*
        }
    };
}

macro_rules! deadline_cases {
    ($module:ident: $t:ty) => {
        conformance!($module: $t;
            past_read_deadline_fails_at_once,
            past_write_deadline_fails_at_once,
            present_deadline_fails_a_blocked_read,
            future_read_deadline_fires_not_before,
            future_write_deadline_fires_with_a_full_buffer,
            deadline_extended_while_blocked,
            deadline_cleared_while_blocked,
            read_and_write_deadlines_are_independent,
            set_deadline_sets_both,
            concurrent_read_and_write,
        );
    };
}

deadline_cases!(tcp: TcpStream);
deadline_cases!(unix: UnixStream);
deadline_cases!(poll_fd: PollFd<StdUnixStream>);

conformance!(tcp_close: TcpStream;
    close_unblocks_a_blocked_reader,
    close_unblocks_a_blocked_writer,
    close_beats_a_pending_deadline,
    deadlines_after_close_fail,
);
conformance!(unix_close: UnixStream;
    close_unblocks_a_blocked_reader,
    close_unblocks_a_blocked_writer,
    close_beats_a_pending_deadline,
    deadlines_after_close_fail,
);
