//! Stall reports never block sysmon: with stderr a full pipe that nobody
//! reads, a worker stuck in a long poll still has its P handed off, so
//! timers and I/O keep working.
//!
//! What this guards: sysmon printed each report with `eprintln!`. On a
//! full stderr pipe the first report blocked sysmon for good, and with it
//! every hand-off: on one worker, everything queued behind a stuck poll
//! waited for that poll to return.
//!
//! The test runs itself in a child process whose stderr is a pipe the
//! parent holds open and never reads; the child fills it first, stalls
//! its only worker once (a report sysmon cannot write), then measures, on
//! its stdout, how long ten 5 ms sleeps and ten socket round trips take
//! while that worker is stuck for seconds in repeated stalls.
//!
//! A second test holds `shutdown_timeout` to its limit while stderr is
//! read slowly, so that writing the queued lines takes seconds.

use goro::runtime::{Builder, Runtime};
use goro::task::JoinHandle;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long one stuck poll of the child blocks its worker.
const STUCK: Duration = Duration::from_secs(2);
/// The child's ticks take ~50 ms with hand-offs and at least `STUCK`
/// without: generous for a loaded 2-core machine, well under `STUCK`.
const BOUND: Duration = Duration::from_millis(1200);

const CHILD_ENV: &str = "GORO_STDERR_FULL_CHILD";

/// Runs this binary's test `test` again in a child process, with
/// [`CHILD_ENV`] set to `role`, `GORO_STALL_MS` unset, `GORO_SCHEDTRACE=1`
/// if `schedtrace`, stdout a pipe and stderr `stderr`.
fn spawn_child(test: &str, role: &str, schedtrace: bool, stderr: Stdio) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, role);
    if schedtrace {
        cmd.env("GORO_SCHEDTRACE", "1");
    }
    cmd.env_remove("GORO_STALL_MS")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

/// Forwards the lines of `proc`'s stdout, from a thread, to the receiver
/// returned (until the pipe or the receiver goes away).
fn stdout_lines(proc: &mut Child) -> mpsc::Receiver<String> {
    let stdout = BufReader::new(proc.stdout.take().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Hands each line from `rx` to `take` until `take` says it has what it
/// waits for, the lines end, or `limit` has passed.
fn take_lines_until(
    rx: &mpsc::Receiver<String>,
    limit: Duration,
    mut take: impl FnMut(String) -> bool,
) {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if take(line) {
                    return;
                }
            }
            Err(_) => return,
        }
    }
}

/// A runtime with one worker that a task keeps busy for good, sleeping
/// 1 ms per poll (which keeps sysmon awake, tracing about every 10 ms).
fn busy_one_worker_runtime() -> (Runtime, JoinHandle<()>) {
    let rt = Builder::new().worker_threads(1).build().unwrap();
    let busy = rt.spawn(async {
        loop {
            std::thread::sleep(Duration::from_millis(1));
            goro::task::yield_now().await;
        }
    });
    (rt, busy)
}

/// Fills this process's stderr (a pipe) until a write would block.
fn fill_stderr() -> usize {
    // SAFETY: F_GETFL/F_SETFL on fd 2 with valid flags; the writes read
    // from a live buffer of the given length.
    unsafe {
        let flags = libc::fcntl(2, libc::F_GETFL);
        assert!(flags >= 0);
        assert_eq!(libc::fcntl(2, libc::F_SETFL, flags | libc::O_NONBLOCK), 0);
        let chunk = [b'x'; 4096];
        let mut filled = 0;
        // (A pipe holds 64 KiB by default; the cap stops a file.)
        while filled < 16 << 20 {
            let n = libc::write(2, chunk.as_ptr().cast(), chunk.len());
            if n <= 0 {
                break;
            }
            filled += n as usize;
        }
        // Blocking again, as a program's stderr is.
        assert_eq!(libc::fcntl(2, libc::F_SETFL, flags), 0);
        filled
    }
}

/// The child: fill stderr, then stall the only worker repeatedly while
/// other tasks sleep and read a socket.
fn child() {
    let filled = fill_stderr();
    // (On a line of its own: libtest's "test ... " has no newline yet.)
    println!("\nfilled {filled}");
    let rt = Builder::new()
        .worker_threads(1)
        .stall_threshold(Duration::from_millis(5))
        .build()
        .unwrap();
    let (ticks, handoffs) = rt.block_on(async {
        // A first stall, reported onto the full pipe: with `eprintln!`,
        // sysmon stayed inside that write from here on.
        goro::spawn(async { std::thread::sleep(Duration::from_millis(100)) })
            .await
            .unwrap();
        // Queued on the worker before the stalls start, so the worker is
        // busy with the staller while these wait on it.
        let (mut peer, sock) = std::os::unix::net::UnixStream::pair().unwrap();
        let sock = goro::net::UnixStream::from_std(sock).unwrap();
        let staller = goro::spawn(async {
            for _ in 0..3 {
                std::thread::sleep(STUCK);
                goro::task::yield_now().await;
            }
        });
        // Let the staller get stuck first.
        goro::time::sleep(Duration::from_millis(50)).await;
        let start = Instant::now();
        let sleeper = goro::spawn(async {
            for _ in 0..10 {
                goro::time::sleep(Duration::from_millis(5)).await;
            }
        });
        let reader = goro::spawn(async move {
            let mut buf = [0u8; 1];
            for _ in 0..10 {
                sock.read(&mut buf).await.unwrap();
                sock.write(&buf).await.unwrap();
            }
        });
        std::thread::spawn(move || {
            for i in 0..10u8 {
                peer.write_all(&[i]).unwrap();
                let mut back = [0u8; 1];
                peer.read_exact(&mut back).unwrap();
            }
        });
        sleeper.await.unwrap();
        reader.await.unwrap();
        let ticks = start.elapsed();
        drop(staller); // detached: it goes on stalling
        (ticks, goro::runtime::Handle::current().metrics().handoffs)
    });
    println!("ticks {} handoffs {handoffs}", ticks.as_millis());
    std::io::stdout().flush().unwrap();
    // Do not wait for the staller or shutdown: the parent kills us.
    std::mem::forget(rt);
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn stall_reports_on_a_full_stderr_do_not_stop_handoffs() {
    if std::env::var_os(CHILD_ENV).is_some() {
        child();
        return;
    }
    let mut proc = spawn_child(
        "stall_reports_on_a_full_stderr_do_not_stop_handoffs",
        "1",
        false,
        Stdio::piped(),
    );
    // Held open, never read.
    let _stderr = proc.stderr.take();
    let rx = stdout_lines(&mut proc);
    let mut filled = None;
    let mut result = None;
    take_lines_until(&rx, Duration::from_secs(60), |line| {
        if let Some(n) = line.strip_prefix("filled ") {
            filled = n.parse::<usize>().ok();
        } else if let Some(rest) = line.strip_prefix("ticks ") {
            result = Some(rest.to_owned());
        }
        result.is_some()
    });
    let _ = proc.kill();
    let _ = proc.wait();
    assert!(
        filled.is_some_and(|n| n > 0),
        "the child did not fill stderr"
    );
    let result = result.expect("the child never reported (hung?)");
    let mut words = result.split_whitespace();
    let ticks = Duration::from_millis(words.next().unwrap().parse().unwrap());
    let handoffs: u64 = words.nth(1).unwrap().parse().unwrap();
    // (The hand-off for the first stall may have come before its report.)
    assert!(
        ticks < BOUND,
        "timers and I/O waited {ticks:?} behind a stuck worker: sysmon blocked on stderr?"
    );
    assert!(handoffs >= 1, "no hand-off ({handoffs})");
}

/// The second test's child says so in this variable's value.
const SLOW_STDERR: &str = "slow";
/// The limit the slow-stderr child shuts down within.
const SHUTDOWN_LIMIT: Duration = Duration::from_millis(250);

/// The child of the second test: stderr a datagram socket that takes a
/// line only as the parent reads one, filled by trace lines
/// (`GORO_SCHEDTRACE=1`) while a task keeps the worker busy, with a full
/// queue of lines behind; then `shutdown_timeout`, timed on stdout.
fn slow_stderr_child() {
    // Keeps sysmon awake, tracing about every 10 ms.
    let (rt, _busy) = busy_one_worker_runtime();
    // The socket fills within a dozen lines, then the writer's queue.
    std::thread::sleep(Duration::from_millis(1000));
    println!("\nshutting down");
    std::io::stdout().flush().unwrap();
    let start = Instant::now();
    rt.shutdown_timeout(SHUTDOWN_LIMIT);
    println!("shutdown {}", start.elapsed().as_millis());
    std::io::stdout().flush().unwrap();
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn shutdown_timeout_keeps_its_limit_while_stderr_is_read_slowly() {
    if std::env::var_os(CHILD_ENV).is_some_and(|v| v == SLOW_STDERR) {
        slow_stderr_child();
        return;
    }
    // The child's stderr: a datagram socket connected to one bound here.
    // (Not a socket pair, whose sender never waits for the reader; not a
    // pipe, which takes a write only once a whole page has been read: this
    // one takes a datagram each time the reader takes one.)
    let path = std::env::temp_dir().join(format!("goro-slow-stderr-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let reader = UnixDatagram::bind(&path).unwrap();
    let writer = UnixDatagram::unbound().unwrap();
    writer.connect(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    reader
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut proc = spawn_child(
        "shutdown_timeout_keeps_its_limit_while_stderr_is_read_slowly",
        SLOW_STDERR,
        true,
        Stdio::from(OwnedFd::from(writer)),
    );
    let mut reader = Some(reader);
    let rx = stdout_lines(&mut proc);
    let mut took = None;
    take_lines_until(&rx, Duration::from_secs(60), |line| {
        if line == "shutting down" {
            // From now on a line (two datagrams) gets through every
            // ~60 ms: progress often enough that the writer never
            // looks stuck, slow enough that writing the queue takes
            // seconds. (Ends once the child is gone.)
            let reader = reader.take().unwrap();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while reader.recv(&mut buf).is_ok() {
                    std::thread::sleep(Duration::from_millis(30));
                }
            });
        } else if let Some(ms) = line.strip_prefix("shutdown ") {
            took = ms.parse::<u64>().ok().map(Duration::from_millis);
        }
        took.is_some()
    });
    let _ = proc.kill();
    let _ = proc.wait();
    let took = took.expect("the child never reported (hung?)");
    assert!(
        took < SHUTDOWN_LIMIT + Duration::from_millis(1000),
        "shutdown_timeout({SHUTDOWN_LIMIT:?}) took {took:?}: it waited for a slow stderr"
    );
}

/// The third test's child says so in this variable's value.
const STUCK_STDERR: &str = "stuck";

/// The child of the third test: stderr a full pipe nobody reads, lines
/// queued behind it (`GORO_SCHEDTRACE=1`); then `drop(rt)`, timed on
/// stdout.
fn stuck_stderr_child() {
    fill_stderr();
    let (rt, _busy) = busy_one_worker_runtime();
    std::thread::sleep(Duration::from_millis(300));
    let start = Instant::now();
    drop(rt);
    println!("\ndropped {}", start.elapsed().as_millis());
    std::io::stdout().flush().unwrap();
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn dropping_a_runtime_does_not_wait_for_a_stderr_nobody_reads() {
    if std::env::var_os(CHILD_ENV).is_some_and(|v| v == STUCK_STDERR) {
        stuck_stderr_child();
        return;
    }
    let mut proc = spawn_child(
        "dropping_a_runtime_does_not_wait_for_a_stderr_nobody_reads",
        STUCK_STDERR,
        true,
        Stdio::piped(),
    );
    // Held open, never read.
    let _stderr = proc.stderr.take();
    let stdout = BufReader::new(proc.stdout.take().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if let Some(ms) = line.strip_prefix("dropped ") {
                let _ = tx.send(ms.parse::<u64>().ok().map(Duration::from_millis));
                break;
            }
        }
    });
    let took = rx.recv_timeout(Duration::from_secs(30));
    let _ = proc.kill();
    let _ = proc.wait();
    let took = took
        .expect("the child's drop did not return (hung on stderr?)")
        .expect("a duration");
    // The drop's grace for a busy worker (100 ms), then 200 ms without a
    // line written.
    assert!(
        took < Duration::from_millis(2000),
        "dropping the runtime took {took:?}: it waited for a stderr nobody reads"
    );
}
