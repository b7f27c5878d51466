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
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::net::TempDir;
use support::process::{cpu_time, one_at_a_time};

const ROUNDS: usize = 60;
const READ_WAIT: Duration = Duration::from_millis(30);

/// Sets a [`READ_WAIT`] read deadline on the stream `$s`, reads from it
/// (nothing ever comes) and gives the read's result and the process CPU
/// time the read cost.
macro_rules! idle_read {
    ($s:expr) => {{
        let s = $s;
        s.set_read_deadline(Some(Instant::now() + READ_WAIT))
            .unwrap();
        let c0 = cpu_time();
        let r = s.read(&mut [0u8; 16]).await;
        (r, cpu_time() - c0)
    }};
}

#[test]
fn reads_on_fresh_connections_park() {
    let _serial = one_at_a_time();
    let (listener, addr) = tcp_listener();
    std::thread::spawn(move || hold_accepted(listener.incoming()));
    assert_reads_park("fresh TCP connections", move || async move {
        idle_read!(goro::net::TcpStream::connect(addr).await.unwrap())
    });
}

/// Control: the same streams connected by std (registered with goro only
/// after `connect()`, via `from_std`) never spin.
#[test]
fn control_reads_on_from_std_connections_park() {
    let _serial = one_at_a_time();
    let (listener, addr) = tcp_listener();
    std::thread::spawn(move || hold_accepted(listener.incoming()));
    assert_reads_park("TCP connections from std", move || async move {
        let std = std::net::TcpStream::connect(addr).unwrap();
        idle_read!(goro::net::TcpStream::from_std(std).unwrap())
    });
}

/// The same race in `UnixStream::connect`: an unconnected AF_UNIX stream
/// socket polls as `EPOLLHUP` too (`unix_poll`: SOCK_STREAM in TCP_CLOSE),
/// and it is registered before `connect()` (and stays unconnected across
/// the back-off sleeps when the listener's backlog is full).
#[test]
fn unix_reads_on_fresh_connections_park() {
    let _serial = one_at_a_time();
    let dir = TempDir::new("fresh-connect");
    let path = dir.path("l.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    std::thread::spawn(move || hold_accepted(listener.incoming()));
    assert_reads_park("fresh Unix connections", move || {
        let path = path.clone();
        async move { idle_read!(goro::net::UnixStream::connect(&path).await.unwrap()) }
    });
}

fn tcp_listener() -> (std::net::TcpListener, SocketAddr) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// Accepts connections and holds the latest 64 open (never writing), until
/// accept fails.
fn hold_accepted<T>(incoming: impl Iterator<Item = io::Result<T>>) {
    let mut keep = Vec::new();
    for s in incoming {
        match s {
            Ok(s) => keep.push(s),
            Err(_) => break,
        }
        if keep.len() > 64 {
            keep.remove(0);
        }
    }
}

/// Runs [`ROUNDS`] rounds of `one_read` (connect, then an [`idle_read!`])
/// on a two-worker runtime. Every read must end with `TimedOut`, and none
/// may cost more than two thirds of its wait in CPU (that one spun).
/// The runtime is leaked so a spinning worker cannot hang the test at drop.
fn assert_reads_park<F, Fut>(what: &'static str, one_read: F)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = (io::Result<usize>, Duration)> + Send,
{
    let rt = Builder::new().worker_threads(2).build().unwrap();
    let (tx, rx) = mpsc::channel::<(usize, Duration)>();
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
            let (r, cpu) = one_read().await;
            assert_eq!(r.unwrap_err().kind(), io::ErrorKind::TimedOut, "round {i}");
            worst = worst.max(cpu);
            if cpu > READ_WAIT * 2 / 3 {
                spins += 1;
            }
        }
        let _ = tx.send((spins, worst));
    });
    let (spins, worst) = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("test body did not finish");
    std::mem::forget(rt);
    assert_eq!(
        spins, 0,
        "{spins}/{ROUNDS} idle reads on {what} busy-looped (worst CPU {worst:?} for a {READ_WAIT:?} wait)"
    );
}
