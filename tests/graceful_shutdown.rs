//! Graceful shutdown: what `drop(Runtime)`, `Runtime::shutdown_timeout` and
//! `Runtime::shutdown_background` wait for, and the `graceful_shutdown`
//! example server driven by SIGTERM / SIGINT.

mod support;

use goro::runtime::{Builder, Runtime};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use support::example_process::ExampleProcess;

// ----- Runtime shutdown ----------------------------------------------------------------------

/// A runtime running a `spawn_blocking` closure that sleeps 300 ms, then
/// sets the returned flag.
fn runtime_with_slow_blocking_closure() -> (Runtime, Arc<AtomicBool>) {
    let rt = Builder::new().worker_threads(1).build().unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let flag = done.clone();
    rt.spawn_blocking(move || {
        started_tx.send(()).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        flag.store(true, Ordering::SeqCst);
    });
    started_rx.recv().unwrap();
    (rt, done)
}

#[test]
fn drop_waits_for_a_running_blocking_closure() {
    let (rt, done) = runtime_with_slow_blocking_closure();
    drop(rt);
    assert!(
        done.load(Ordering::SeqCst),
        "drop returned before the closure"
    );
}

#[test]
fn shutdown_timeout_waits_for_a_closure_that_finishes_in_time() {
    let (rt, done) = runtime_with_slow_blocking_closure();
    let start = Instant::now();
    rt.shutdown_timeout(Duration::from_secs(1));
    assert!(done.load(Ordering::SeqCst), "returned before the closure");
    // It returned when the closure did, not at the limit.
    assert!(
        start.elapsed() < Duration::from_millis(900),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn shutdown_timeout_detaches_a_closure_that_runs_past_the_limit() {
    let (rt, done) = runtime_with_slow_blocking_closure();
    let start = Instant::now();
    rt.shutdown_timeout(Duration::from_millis(50));
    let took = start.elapsed();
    assert!(took < Duration::from_millis(250), "waited {took:?}");
    assert!(!done.load(Ordering::SeqCst));
    // The detached closure still runs to completion.
    let end = Instant::now() + Duration::from_secs(5);
    while !done.load(Ordering::SeqCst) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(done.load(Ordering::SeqCst));
}

#[test]
fn shutdown_background_returns_at_once() {
    let (rt, done) = runtime_with_slow_blocking_closure();
    let start = Instant::now();
    rt.shutdown_background();
    let took = start.elapsed();
    assert!(took < Duration::from_millis(200), "waited {took:?}");
    assert!(!done.load(Ordering::SeqCst));
}

#[test]
fn shutdown_timeout_bounds_a_worker_stuck_in_a_poll() {
    // A task that blocks its worker for 2 s: drop would detach it after its
    // 100 ms grace; shutdown_timeout waits up to its limit, then detaches.
    let rt = Builder::new().worker_threads(1).build().unwrap();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    rt.spawn(async move {
        started_tx.send(()).unwrap();
        std::thread::sleep(Duration::from_secs(2));
    });
    started_rx.recv().unwrap();
    let start = Instant::now();
    rt.shutdown_timeout(Duration::from_millis(300));
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_millis(1500),
        "{took:?}"
    );
}

#[test]
fn shutdown_cancels_tasks_and_refuses_new_ones() {
    let rt = Builder::new().worker_threads(1).build().unwrap();
    let handle = rt.handle();
    let pending = rt.spawn(std::future::pending::<()>());
    rt.shutdown_timeout(Duration::from_secs(1));
    let e = futures::executor::block_on(pending).unwrap_err();
    assert!(e.is_cancelled(), "{e}");
    let late = handle.spawn(async { 1 });
    assert!(
        futures::executor::block_on(late)
            .unwrap_err()
            .is_cancelled()
    );
    let late = handle.spawn_blocking(|| 1);
    assert!(
        futures::executor::block_on(late)
            .unwrap_err()
            .is_cancelled()
    );
}

#[test]
fn dropping_a_runtime_from_its_own_blocking_closure_does_not_deadlock() {
    let rt = Builder::new().worker_threads(1).build().unwrap();
    let handle = rt.handle();
    let (tx, rx) = std::sync::mpsc::channel();
    handle.spawn_blocking(move || {
        drop(rt); // waits for every pool thread but this one
        tx.send(()).unwrap();
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("drop inside the runtime's own blocking closure hung");
}

// ----- The graceful_shutdown example ------------------------------------------------------------

/// The example server, started on a free port (killed when dropped).
fn start_server() -> (ExampleProcess, SocketAddr) {
    let server = ExampleProcess::start("graceful_shutdown", &["--addr", "127.0.0.1:0"]);
    let addr = server.addr().parse().unwrap();
    (server, addr)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Sends one request line and reads one response line.
fn request(conn: &mut TcpStream, line: &str) -> String {
    conn.write_all(line.as_bytes()).unwrap();
    conn.write_all(b"\n").unwrap();
    read_line(conn)
}

fn read_line(conn: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut byte = [0u8; 1];
    while conn.read(&mut byte).unwrap() == 1 && byte[0] != b'\n' {
        out.push(byte[0]);
    }
    String::from_utf8(out).unwrap()
}

/// Sends `sleep MS` and waits for the server's `sleeping MS ms`: from then
/// on the slow request is in flight (a signal that arrived any earlier
/// could rightly stop the server before it read the request).
fn start_slow_request(conn: &mut TcpStream, ms: u64) {
    conn.write_all(format!("sleep {ms}\n").as_bytes()).unwrap();
    assert_eq!(read_line(conn), format!("sleeping {ms} ms"));
}

fn sigterm_lets_the_in_flight_request_finish(signo: i32) {
    let (mut server, addr) = start_server();
    let mut idle = connect(addr);
    assert_eq!(request(&mut idle, "echo hi"), "hi");
    let mut busy = connect(addr);
    start_slow_request(&mut busy, 700);
    server.signal(signo);
    // The in-flight request completes; then the server closes the
    // connection instead of reading another request.
    assert_eq!(read_line(&mut busy), "slept 700 ms");
    assert_eq!(
        busy.read(&mut [0u8; 16]).unwrap(),
        0,
        "no EOF after the last response"
    );
    // The idle connection is closed at once.
    assert_eq!(idle.read(&mut [0u8; 16]).unwrap_or(0), 0);
    // New connections are refused (the listener is closed).
    let e = TcpStream::connect(addr).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");
    let status = server.wait(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{status}");
}

#[test]
fn example_on_sigterm_finishes_in_flight_requests_and_exits_0() {
    sigterm_lets_the_in_flight_request_finish(libc::SIGTERM);
}

#[test]
fn example_on_sigint_does_the_same() {
    sigterm_lets_the_in_flight_request_finish(libc::SIGINT);
}

#[test]
fn example_gives_up_on_requests_after_5_s_and_still_exits_0() {
    let (mut server, addr) = start_server();
    let mut stuck = connect(addr);
    start_slow_request(&mut stuck, 60_000);
    let start = Instant::now();
    server.signal(libc::SIGTERM);
    let status = server.wait(Duration::from_secs(15));
    let took = start.elapsed();
    assert_eq!(status.code(), Some(0), "{status}");
    assert!(
        took >= Duration::from_millis(4500) && took < Duration::from_secs(12),
        "exited after {took:?}, expected about 5 s"
    );
}
