//! A hang-up or error event does not leave an fd "ready" forever: once the
//! condition it reported is gone, an operation that finds nothing to do
//! parks (costs no CPU) until its deadline.
//!
//! - UDP: `EPOLLERR` carries a one-shot ICMP error; once `recv` has
//!   reported it the socket is an ordinary empty socket again, for `recv`
//!   and for `readable()`.
//! - FIFO: the read end sees `EPOLLHUP` when its last writer closes, but a
//!   new writer can open the FIFO later.
//!
//! What this guards: readiness from such events used to be sticky with
//! nothing to clear it, so an operation whose syscall kept answering
//! `EAGAIN` retried inside one poll forever (a worker at 100% CPU, and no
//! `Pending`, so not even a `timeout()` around it could fire). Sticky
//! readiness now lasts until a syscall answers `EAGAIN`
//! (src/poller/slot.rs).
//!
//! The tests measure process CPU time while a receive waits for a read
//! deadline. A parked wait costs a few ms; the bug burns the whole wait.
//! The runtime is leaked so a spinning worker cannot hang the test at drop.

mod support;

use goro::runtime::Builder;
use std::io;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::process::{cpu_time, one_at_a_time};

const WAIT: Duration = Duration::from_millis(1500);
/// CPU a parked wait may cost, very generously.
const CPU_BOUND: Duration = Duration::from_millis(600);

/// An address where nothing listens any more (its socket is closed).
fn dead_udp_addr() -> SocketAddr {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.local_addr().unwrap()
}

/// A socket connected to `dead` that has sent a datagram there, and had
/// time to get the ICMP error back.
async fn refused_udp_socket(dead: SocketAddr) -> goro::net::UdpSocket {
    let s = goro::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    s.connect(dead).await.unwrap();
    s.send(b"anyone?").await.unwrap();
    goro::time::sleep(Duration::from_millis(100)).await;
    s
}

/// Waits for the next message on `rx` (the second operation's result);
/// returns it and the process CPU time and the wall time the wait took.
fn recv_measured<T>(
    rx: &mpsc::Receiver<T>,
) -> (Result<T, mpsc::RecvTimeoutError>, Duration, Duration) {
    let cpu0 = cpu_time();
    let t0 = Instant::now();
    let second = rx.recv_timeout(WAIT + Duration::from_secs(10));
    let cpu = cpu_time() - cpu0;
    let wall = t0.elapsed();
    (second, cpu, wall)
}

#[test]
fn udp_recv_after_icmp_error_parks_instead_of_spinning() {
    let _serial = one_at_a_time();
    let rt = Builder::new().worker_threads(2).build().unwrap();
    let dead = dead_udp_addr();
    let (tx, rx) = mpsc::channel::<(String, io::Result<usize>)>();
    rt.spawn(async move {
        let s = refused_udp_socket(dead).await;
        let mut buf = [0u8; 16];
        let first = s.recv(&mut buf).await;
        tx.send(("first".into(), first)).unwrap();
        s.set_read_deadline(Some(Instant::now() + WAIT)).unwrap();
        let second = s.recv(&mut buf).await;
        tx.send(("second".into(), second)).unwrap();
    });
    let (_, first) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(
        first.unwrap_err().kind(),
        io::ErrorKind::ConnectionRefused,
        "setup: the ICMP error should be reported first"
    );
    let (second, cpu, wall) = recv_measured(&rx);
    std::mem::forget(rt);
    let (_, second) = second.expect("second recv never returned (hang)");
    assert_eq!(second.unwrap_err().kind(), io::ErrorKind::TimedOut);
    assert!(
        cpu < CPU_BOUND,
        "the waiting recv burnt {cpu:?} of CPU in {wall:?} (busy loop)"
    );
}

/// The same through `readable()`, which checks with a zero-timeout `poll(2)`
/// before parking: it must park when that says "not ready".
#[test]
fn udp_readable_after_icmp_error_parks_instead_of_spinning() {
    let _serial = one_at_a_time();
    let rt = Builder::new().worker_threads(2).build().unwrap();
    let dead = dead_udp_addr();
    let (tx, rx) = mpsc::channel::<(String, io::Result<()>)>();
    rt.spawn(async move {
        let s = refused_udp_socket(dead).await;
        let mut buf = [0u8; 16];
        let first = s.recv(&mut buf).await.map(drop);
        tx.send(("first".into(), first)).unwrap();
        s.set_read_deadline(Some(Instant::now() + WAIT)).unwrap();
        let second = s.readable().await;
        tx.send(("second".into(), second)).unwrap();
    });
    let (_, first) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(first.unwrap_err().kind(), io::ErrorKind::ConnectionRefused);
    let (second, cpu, _) = recv_measured(&rx);
    std::mem::forget(rt);
    let (_, second) = second.expect("readable() never returned (hang)");
    assert_eq!(second.unwrap_err().kind(), io::ErrorKind::TimedOut);
    assert!(
        cpu < CPU_BOUND,
        "readable() burnt {cpu:?} of CPU (busy loop)"
    );
}

/// A FIFO read end sees EPOLLHUP when its last writer closes, but a new
/// writer can open the FIFO later: the read side is not closed for good.
/// A `PollFd` read that then finds the FIFO empty (`EAGAIN`) must park.
#[test]
fn fifo_reader_parks_after_writer_reopens() {
    let _serial = one_at_a_time();
    use std::ffi::CString;
    use std::io::Read;
    use std::os::fd::FromRawFd;
    let dir = std::env::temp_dir().join(format!("goro-review-fifo-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("fifo");
    let _ = std::fs::remove_file(&path);
    let c = CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    // SAFETY: valid C string; we own the returned fd.
    let rfd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_NONBLOCK) };
    assert!(rfd >= 0);
    // SAFETY: fresh fd.
    let reader = unsafe { std::fs::File::from_raw_fd(rfd) };

    let rt = Builder::new().worker_threads(2).build().unwrap();
    let (tx, rx) = mpsc::channel::<(String, io::Result<usize>)>();
    let p2 = path.clone();
    rt.spawn(async move {
        let r = goro::io::PollFd::new(reader).unwrap();
        // First writer: write and close -> data + HUP.
        {
            let mut w = std::fs::OpenOptions::new().write(true).open(&p2).unwrap();
            std::io::Write::write_all(&mut w, b"one").unwrap();
        }
        goro::time::sleep(Duration::from_millis(100)).await;
        let mut buf = [0u8; 16];
        let n = r.read_with(|mut f| f.read(&mut buf)).await;
        tx.send(("first".into(), n)).unwrap();
        // A second writer opens the FIFO and stays silent.
        let _w2 = std::fs::OpenOptions::new().write(true).open(&p2).unwrap();
        goro::time::sleep(Duration::from_millis(100)).await;
        r.set_read_deadline(Some(Instant::now() + WAIT)).unwrap();
        let n = r.read_with(|mut f| f.read(&mut buf)).await;
        tx.send(("second".into(), n)).unwrap();
    });
    let (_, first) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(first.unwrap(), 3);
    let (second, cpu, _) = recv_measured(&rx);
    std::mem::forget(rt);
    let _ = std::fs::remove_dir_all(&dir);
    let (_, second) = second.expect("second read never returned (hang)");
    assert_eq!(second.unwrap_err().kind(), io::ErrorKind::TimedOut);
    assert!(
        cpu < CPU_BOUND,
        "FIFO read burnt {cpu:?} of CPU (busy loop)"
    );
}
