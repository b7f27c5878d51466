//! Regression test for a bug found in review, since fixed; the scenario
//! as it was found:
//!
//! `TcpStream::connect_one` (src/net/tcp/stream.rs) registers the
//! socket with epoll (`Fd::new` -> EPOLL_CTL_ADD) *before* calling
//! `connect()`. A fresh TCP socket is in TCP_CLOSE, and `tcp_poll` reports
//! `EPOLLOUT | EPOLLHUP` for it; the ADD queues that event and wakes the M
//! blocked in `epoll_wait`. If that M collects the event before `connect()`
//! moves the socket to SYN_SENT, `map_event` turns HUP into
//! `read_closed` + `write_closed`, and the slots get the sticky CLOSED bit
//! (src/poller/slot.rs), which nothing but recycling clears.
//!
//! From then on every read on that *healthy, connected* stream that finds
//! no data loops inside one poll: recv -> EAGAIN -> clear_ready (no-op,
//! CLOSED) -> poll_wait -> Ready -> recv ... (src/io/fd.rs `attempt`),
//! burning a worker until data arrives or a deadline fires; without a
//! deadline, forever. (`await_connect` spins the same way during the
//! handshake.)
//!
//! The test connects many times; after each connect it waits for a read
//! with a short deadline and measures the process CPU time that wait cost.
//! A parked read costs ~0; a spinning one costs the whole deadline.

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

const ROUNDS: usize = 60;
const READ_WAIT: Duration = Duration::from_millis(30);

#[test]
fn reads_on_fresh_connections_park() {
    let _serial = serial();
    scenario(false);
}

/// Control: the same streams connected by std (registered with goro only
/// after `connect()`, via `from_std`) never spin.
#[test]
fn control_reads_on_from_std_connections_park() {
    let _serial = serial();
    scenario(true);
}

fn scenario(std_connect: bool) {
    let rt = Builder::new().worker_threads(2).build().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Accept and hold connections in a plain thread (never writes).
    std::thread::spawn(move || {
        let mut keep = Vec::new();
        for s in listener.incoming() {
            match s {
                Ok(s) => keep.push(s),
                Err(_) => break,
            }
            if keep.len() > 64 {
                keep.remove(0);
            }
        }
    });
    let (tx, rx) = mpsc::channel::<(usize, usize, Duration)>();
    rt.spawn(async move {
        // A timer keeps an M blocked in epoll_wait, like any real server.
        let _bg = goro::spawn(async {
            loop {
                goro::time::sleep(Duration::from_secs(3600)).await;
            }
        });
        let mut spins = 0;
        let mut worst = Duration::ZERO;
        for i in 0..ROUNDS {
            let s = if std_connect {
                goro::net::TcpStream::from_std(std::net::TcpStream::connect(addr).unwrap()).unwrap()
            } else {
                goro::net::TcpStream::connect(addr).await.unwrap()
            };
            s.set_read_deadline(Some(Instant::now() + READ_WAIT))
                .unwrap();
            let c0 = cpu_time();
            let r = s.read(&mut [0u8; 16]).await;
            let cpu = cpu_time() - c0;
            assert_eq!(r.unwrap_err().kind(), io::ErrorKind::TimedOut, "round {i}");
            worst = worst.max(cpu);
            if cpu > READ_WAIT * 2 / 3 {
                spins += 1;
            }
        }
        let _ = tx.send((spins, ROUNDS, worst));
    });
    let (spins, rounds, worst) = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("test body did not finish");
    std::mem::forget(rt);
    assert_eq!(
        spins, 0,
        "{spins}/{rounds} idle reads on fresh connections busy-looped (worst CPU {worst:?} for a {READ_WAIT:?} wait)"
    );
}

/// The same race in `UnixStream::connect_raw` (src/net/unix/stream.rs): an
/// unconnected AF_UNIX stream socket polls as `EPOLLHUP` too
/// (`unix_poll`: SOCK_STREAM in TCP_CLOSE), and it is registered before
/// `connect()` (and stays unconnected across the back-off sleeps when the
/// listener's backlog is full).
#[test]
fn unix_reads_on_fresh_connections_park() {
    let _serial = serial();
    let dir = std::env::temp_dir().join(format!("goro-review-hup-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("l.sock");
    let _ = std::fs::remove_file(&path);
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    std::thread::spawn(move || {
        let mut keep = Vec::new();
        for s in listener.incoming() {
            match s {
                Ok(s) => keep.push(s),
                Err(_) => break,
            }
            if keep.len() > 64 {
                keep.remove(0);
            }
        }
    });
    let rt = Builder::new().worker_threads(2).build().unwrap();
    let (tx, rx) = mpsc::channel::<(usize, usize, Duration)>();
    let p2 = path.clone();
    rt.spawn(async move {
        let _bg = goro::spawn(async {
            loop {
                goro::time::sleep(Duration::from_secs(3600)).await;
            }
        });
        let mut spins = 0;
        let mut worst = Duration::ZERO;
        for i in 0..ROUNDS {
            let s = goro::net::UnixStream::connect(&p2).await.unwrap();
            s.set_read_deadline(Some(Instant::now() + READ_WAIT))
                .unwrap();
            let c0 = cpu_time();
            let r = s.read(&mut [0u8; 16]).await;
            let cpu = cpu_time() - c0;
            assert_eq!(r.unwrap_err().kind(), io::ErrorKind::TimedOut, "round {i}");
            worst = worst.max(cpu);
            if cpu > READ_WAIT * 2 / 3 {
                spins += 1;
            }
        }
        let _ = tx.send((spins, ROUNDS, worst));
    });
    let (spins, rounds, worst) = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("test body did not finish");
    std::mem::forget(rt);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        spins, 0,
        "{spins}/{rounds} idle reads on fresh Unix connections busy-looped (worst CPU {worst:?})"
    );
}
