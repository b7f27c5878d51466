//! Graceful shutdown: what `drop(Runtime)`, `Runtime::shutdown_timeout` and
//! `Runtime::shutdown_background` wait for, and the `graceful_shutdown`
//! example server driven by SIGTERM / SIGINT.

use goro::runtime::{Builder, Runtime};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

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

/// The example binary, next to the test executables
/// (`target/<profile>/examples/`). `cargo test` builds examples, but
/// `cargo test --test graceful_shutdown` does not (and would leave a stale
/// one), so ask the same cargo to build it for this profile — a no-op when
/// it is up to date.
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/graceful_shutdown-<hash>
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let bin = profile_dir.join("examples").join("graceful_shutdown");
    static BUILD: std::sync::Once = std::sync::Once::new();
    BUILD.call_once(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--example", "graceful_shutdown"])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if profile_dir.file_name().is_some_and(|p| p == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("running cargo to build the example");
        assert!(
            status.success(),
            "building the graceful_shutdown example failed"
        );
    });
    assert!(bin.exists(), "{} not found", bin.display());
    bin
}

/// The example server, started on a free port; kills it when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start() -> Server {
        let mut child = Command::new(example_binary())
            .args(["--addr", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        // It prints "listening on ADDR" once it accepts connections.
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .unwrap();
        Server { child, addr }
    }

    fn signal(&self, signo: i32) {
        // SAFETY: kill(2) of our own child process.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, signo) }, 0);
    }

    /// Waits for the process to exit (at most `limit`).
    fn wait(&mut self, limit: Duration) -> std::process::ExitStatus {
        let end = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < end, "server did not exit within {limit:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
    let mut server = Server::start();
    let mut idle = connect(server.addr);
    assert_eq!(request(&mut idle, "echo hi"), "hi");
    let mut busy = connect(server.addr);
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
    let e = TcpStream::connect(server.addr).unwrap_err();
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
    let mut server = Server::start();
    let mut stuck = connect(server.addr);
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
