//! Regression test for a bug found in review, since fixed; the scenario
//! as it was found:
//!
//! the slot's sticky CLOSED bit (src/poller/slot.rs) is set by any
//! event carrying RDHUP/HUP/ERR (src/poller/epoll.rs `map_event`), and
//! `clear_ready` never clears it. `Fd::attempt` (src/io/fd.rs) relies on
//! `clear_ready` + `poll_wait` to stop retrying after EAGAIN; with CLOSED set,
//! `poll_wait` keeps answering `Ready`, so an operation whose syscall keeps
//! returning EAGAIN loops *inside one poll* forever (100% CPU on a worker,
//! no `Pending`, so `timeout()` around it cannot fire either).
//!
//! EPOLLERR is not "end of stream": on a UDP socket it is a one-shot ICMP
//! error; once `recv` has reported it, the socket is a normal empty socket
//! again and `recv` returns EAGAIN.
//!
//! These tests measure process CPU time while a receive waits for a read
//! deadline. A correct runtime parks the task (a few ms of CPU); the bug
//! burns the whole wait. The runtime is leaked so a spinning worker cannot
//! hang the test at drop.

use goro::runtime::Builder;
use std::io;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// These tests measure process-wide CPU time: run them one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

const WAIT: Duration = Duration::from_millis(1500);
/// CPU a parked wait may cost, very generously.
const CPU_BOUND: Duration = Duration::from_millis(600);

#[test]
fn udp_recv_after_icmp_error_parks_instead_of_spinning() {
    let _serial = serial();
    let rt = Builder::new().worker_threads(2).build().unwrap();
    let dead = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap()
    };
    let (tx, rx) = mpsc::channel::<(String, io::Result<usize>)>();
    rt.spawn(async move {
        let s = goro::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        s.connect(dead).await.unwrap();
        s.send(b"anyone?").await.unwrap();
        goro::time::sleep(Duration::from_millis(100)).await;
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
    let cpu0 = cpu_time();
    let t0 = Instant::now();
    let second = rx.recv_timeout(WAIT + Duration::from_secs(10));
    let cpu = cpu_time() - cpu0;
    let wall = t0.elapsed();
    std::mem::forget(rt);
    let (_, second) = second.expect("second recv never returned (hang)");
    assert_eq!(second.unwrap_err().kind(), io::ErrorKind::TimedOut);
    assert!(
        cpu < CPU_BOUND,
        "the waiting recv burnt {cpu:?} of CPU in {wall:?} (busy loop)"
    );
}

/// Same root cause, through `readable()` (`Fd::wait_ready`): `poll(2)` says
/// "not ready", `clear_ready` is a no-op, `ready_tick` is still Some: loop.
#[test]
fn udp_readable_after_icmp_error_parks_instead_of_spinning() {
    let _serial = serial();
    let rt = Builder::new().worker_threads(2).build().unwrap();
    let dead = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap()
    };
    let (tx, rx) = mpsc::channel::<(String, io::Result<()>)>();
    rt.spawn(async move {
        let s = goro::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        s.connect(dead).await.unwrap();
        s.send(b"anyone?").await.unwrap();
        goro::time::sleep(Duration::from_millis(100)).await;
        let mut buf = [0u8; 16];
        let first = s.recv(&mut buf).await.map(drop);
        tx.send(("first".into(), first)).unwrap();
        s.set_read_deadline(Some(Instant::now() + WAIT)).unwrap();
        let second = s.readable().await;
        tx.send(("second".into(), second)).unwrap();
    });
    let (_, first) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(first.unwrap_err().kind(), io::ErrorKind::ConnectionRefused);
    let cpu0 = cpu_time();
    let second = rx.recv_timeout(WAIT + Duration::from_secs(10));
    let cpu = cpu_time() - cpu0;
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
/// With the sticky bit, a `PollFd` read that then finds the FIFO empty
/// (EAGAIN) spins instead of parking.
#[test]
fn fifo_reader_parks_after_writer_reopens() {
    let _serial = serial();
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
    let cpu0 = cpu_time();
    let second = rx.recv_timeout(WAIT + Duration::from_secs(10));
    let cpu = cpu_time() - cpu0;
    std::mem::forget(rt);
    let _ = std::fs::remove_dir_all(&dir);
    let (_, second) = second.expect("second read never returned (hang)");
    assert_eq!(second.unwrap_err().kind(), io::ErrorKind::TimedOut);
    assert!(
        cpu < CPU_BOUND,
        "FIFO read burnt {cpu:?} of CPU (busy loop)"
    );
}
