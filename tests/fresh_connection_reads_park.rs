//! A read on a freshly connected stream that finds no data parks its task
//! (costs no CPU) until data or its deadline arrives: TCP and Unix streams
//! made by goro's own `connect`, and, as a control, TCP streams connected by
//! std and adopted with `from_std`.
//!
//! What this guards: goro registers a new socket with epoll before it calls
//! `connect()`. A socket that is not connected yet polls as `EPOLLHUP`
//! (Linux `tcp_poll`/`unix_poll` for a closed socket), and if the poller
//! collected that event before `connect()` moved the socket on, the
//! hang-up used to mark the read side ready for good. Every later read
//! that found no data then retried inside one poll instead of parking,
//! burning a worker until data came. Hang-up readiness is now "sticky" only
//! until a syscall answers `EAGAIN` (src/poller/slot.rs).
//!
//! Each test connects many times; after each connect it waits for a read
//! with a short deadline and measures the process CPU time that wait cost.
//! A parked read costs about nothing; a spinning one the whole deadline.

mod support;

use goro::runtime::Builder;
use std::io;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::process::{cpu_time, one_at_a_time};

const ROUNDS: usize = 60;
const READ_WAIT: Duration = Duration::from_millis(30);

#[test]
fn reads_on_fresh_connections_park() {
    let _serial = one_at_a_time();
    scenario(false);
}

/// Control: the same streams connected by std (registered with goro only
/// after `connect()`, via `from_std`) never spin.
#[test]
fn control_reads_on_from_std_connections_park() {
    let _serial = one_at_a_time();
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

/// The same race in `UnixStream::connect`: an unconnected AF_UNIX stream
/// socket polls as `EPOLLHUP` too (`unix_poll`: SOCK_STREAM in TCP_CLOSE),
/// and it is registered before `connect()` (and stays unconnected across
/// the back-off sleeps when the listener's backlog is full).
#[test]
fn unix_reads_on_fresh_connections_park() {
    let _serial = one_at_a_time();
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
