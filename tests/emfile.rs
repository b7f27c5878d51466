//! Accepting under file-descriptor exhaustion (`EMFILE`).
//!
//! Lowering `RLIMIT_NOFILE` affects the whole process, so the scenario runs
//! in a child process: the parent test re-executes this test binary with
//! `--exact emfile_child_body` and an environment variable that makes that
//! test run its body (otherwise it returns at once). The child:
//!
//! 1. runs an echo server with a plain `accept()` loop, exhausts its fds
//!    while one connection is served and another is queued, and shows that
//!    `accept()` fails with `EMFILE`, the served connection keeps working,
//!    and the queued one is accepted once fds are freed;
//! 2. does the same with a server built on `TcpListener::incoming()`, which
//!    must not yield `EMFILE` at all: it backs off, keeps serving, and
//!    recovers on its own.
//!
//! The parent asserts on the child's exit status and output.

use goro::net::{TcpListener, TcpStream};
use goro::time::sleep;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "GORO_TEST_EMFILE_CHILD";
const CHILD_TEST: &str = "emfile_child_body";
const CHILD_LIMIT: Duration = Duration::from_secs(120);

const MARK_ACCEPT_EMFILE: &str = "CHILD: accept() returned EMFILE";
const MARK_ACCEPT_SERVED: &str = "CHILD: accept() loop kept serving during EMFILE";
const MARK_ACCEPT_RECOVERED: &str = "CHILD: accept() loop recovered";
const MARK_INCOMING_SERVED: &str = "CHILD: incoming() kept serving during EMFILE";
const MARK_INCOMING_RECOVERED: &str = "CHILD: incoming() recovered";
const MARK_DONE: &str = "CHILD: done";

#[test]
fn accept_under_fd_exhaustion() {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > CHILD_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = out.join().unwrap();
    let err = err.join().unwrap();
    let report = format!("--- child stdout ---\n{out}\n--- child stderr ---\n{err}");
    let status = status.unwrap_or_else(|| panic!("child hung for {CHILD_LIMIT:?}\n{report}"));
    assert!(status.success(), "child failed: {status}\n{report}");
    for mark in [
        MARK_ACCEPT_EMFILE,
        MARK_ACCEPT_SERVED,
        MARK_ACCEPT_RECOVERED,
        MARK_INCOMING_SERVED,
        MARK_INCOMING_RECOVERED,
        MARK_DONE,
    ] {
        assert!(out.contains(mark), "child output lacks {mark:?}\n{report}");
    }
    eprintln!("{out}");
}

/// The child's body; a no-op unless started by `accept_under_fd_exhaustion`.
#[test]
fn emfile_child_body() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let rt = goro::runtime::Runtime::builder()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        lower_fd_limit();
        accept_loop_variant().await;
        incoming_variant().await;
    });
    println!("{MARK_DONE}");
}

/// Lowers the soft `RLIMIT_NOFILE` to a little above the highest fd in use.
fn lower_fd_limit() {
    let highest = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .max()
        .unwrap();
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the valid rlimit struct we pass.
    let r = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    assert_eq!(r, 0, "getrlimit: {}", io::Error::last_os_error());
    let soft = (highest + 1 + 48).min(lim.rlim_max);
    lim.rlim_cur = soft;
    // SAFETY: setrlimit reads the valid rlimit struct we pass.
    let r = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    assert_eq!(r, 0, "setrlimit: {}", io::Error::last_os_error());
    println!("CHILD: RLIMIT_NOFILE soft limit lowered to {soft} (highest fd was {highest})");
}

/// Opens `/dev/null` until the process runs out of descriptors.
fn exhaust_fds(fillers: &mut Vec<File>) {
    loop {
        match File::open("/dev/null") {
            Ok(f) => fillers.push(f),
            Err(e) if e.raw_os_error() == Some(libc::EMFILE) => return,
            Err(e) => panic!("unexpected error while exhausting fds: {e}"),
        }
        assert!(fillers.len() < 100_000, "the fd limit did not take effect");
    }
}

/// A blocking std client with a read timeout.
fn client(addr: SocketAddr) -> std::net::TcpStream {
    let c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c
}

/// Sends `msg` and expects it echoed.
fn round_trip(c: &mut std::net::TcpStream, msg: &[u8]) {
    c.write_all(msg).unwrap();
    let mut back = vec![0u8; msg.len()];
    c.read_exact(&mut back).unwrap();
    assert_eq!(back, msg);
}

/// True if nothing is echoed back within `wait`.
fn no_echo_within(c: &mut std::net::TcpStream, wait: Duration) -> bool {
    c.set_read_timeout(Some(wait)).unwrap();
    let mut b = [0u8; 1];
    let r = c.read(&mut b);
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    match r {
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            true
        }
        other => panic!("expected no answer, got {other:?}"),
    }
}

async fn echo(s: TcpStream) {
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if s.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        sleep(Duration::from_millis(5)).await;
    }
}

/// Part 1: a server with a plain `accept()` loop.
async fn accept_loop_variant() {
    let l = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
    let addr = l.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let emfiles = Arc::new(AtomicUsize::new(0));
    let first_error = Arc::new(Mutex::new(None::<String>));
    let echoes = Arc::new(Mutex::new(Vec::new()));
    let server = {
        let (l, accepted, emfiles, first_error, echoes) = (
            l.clone(),
            accepted.clone(),
            emfiles.clone(),
            first_error.clone(),
            echoes.clone(),
        );
        goro::spawn(async move {
            loop {
                match l.accept().await {
                    Ok((s, _)) => {
                        accepted.fetch_add(1, Ordering::SeqCst);
                        echoes.lock().unwrap().push(goro::spawn(echo(s)));
                    }
                    Err(e) if e.raw_os_error() == Some(libc::EMFILE) => {
                        first_error.lock().unwrap().get_or_insert(e.to_string());
                        emfiles.fetch_add(1, Ordering::SeqCst);
                        // A careful accept loop backs off by itself.
                        sleep(Duration::from_millis(10)).await;
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => return,
                    Err(e) => panic!("accept: unexpected error {e}"),
                }
            }
        })
    };
    let (mut served, mut queued, mut fillers) = served_and_queued(addr, &accepted).await;
    println!(
        "CHILD: descriptors exhausted ({} fillers open)",
        fillers.len()
    );
    wait_for("EMFILE from accept()", || {
        emfiles.load(Ordering::SeqCst) > 0
    })
    .await;
    println!(
        "{MARK_ACCEPT_EMFILE}: {}",
        first_error.lock().unwrap().as_deref().unwrap_or("?")
    );
    for i in 0..5 {
        round_trip(&mut served, format!("during {i}").as_bytes());
        sleep(Duration::from_millis(20)).await;
    }
    queued.write_all(b"queued").unwrap();
    assert!(no_echo_within(&mut queued, Duration::from_millis(200)));
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    println!(
        "{MARK_ACCEPT_SERVED} ({} EMFILE errors so far)",
        emfiles.load(Ordering::SeqCst)
    );

    fillers.clear();
    let mut back = [0u8; 6];
    queued.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"queued");
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    round_trip(&mut queued, b"after");
    round_trip(&mut served, b"after");
    println!("{MARK_ACCEPT_RECOVERED}");
    l.close().unwrap();
    server.await.unwrap();
    finish(vec![served, queued], &echoes).await;
}

/// Connects a client to the server at `addr` and waits until it is
/// accepted (`accepted` counts the server's accepts) and served; then
/// exhausts the descriptors, leaving one slot for a second client, which
/// stays queued. Returns the served client, the queued one and the files
/// that fill the descriptor table.
async fn served_and_queued(
    addr: SocketAddr,
    accepted: &AtomicUsize,
) -> (std::net::TcpStream, std::net::TcpStream, Vec<File>) {
    let mut served = client(addr);
    round_trip(&mut served, b"before");
    wait_for("first accept", || accepted.load(Ordering::SeqCst) == 1).await;

    let mut fillers = Vec::new();
    exhaust_fds(&mut fillers);
    // One slot for the queued client's socket, then full again.
    fillers.pop();
    let queued = client(addr);
    exhaust_fds(&mut fillers);
    (served, queued, fillers)
}

/// Closes the clients and waits until the server side of every connection
/// is gone, so no descriptor is freed behind the next part's back.
async fn finish(clients: Vec<std::net::TcpStream>, echoes: &Mutex<Vec<goro::JoinHandle<()>>>) {
    drop(clients);
    let handles = std::mem::take(&mut *echoes.lock().unwrap());
    for h in handles {
        h.await.unwrap();
    }
}

/// Part 2: a server built on `incoming()`.
async fn incoming_variant() {
    let l = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
    let addr = l.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let echoes = Arc::new(Mutex::new(Vec::new()));
    let server = {
        let (l, accepted, errors, echoes) =
            (l.clone(), accepted.clone(), errors.clone(), echoes.clone());
        goro::spawn(async move {
            let mut incoming = l.incoming();
            loop {
                match incoming.next().await {
                    Some(Ok(s)) => {
                        accepted.fetch_add(1, Ordering::SeqCst);
                        echoes.lock().unwrap().push(goro::spawn(echo(s)));
                    }
                    None => return, // the listener was closed
                    Some(Err(e)) => errors.lock().unwrap().push(e.to_string()),
                }
            }
        })
    };
    let (mut served, mut queued, mut fillers) = served_and_queued(addr, &accepted).await;
    let timers_before = goro::runtime::Handle::current().metrics().timers_fired();
    // The queued connection stays queued; the served one keeps working.
    queued.write_all(b"queued").unwrap();
    for i in 0..10 {
        round_trip(&mut served, format!("during {i}").as_bytes());
        sleep(Duration::from_millis(50)).await;
    }
    assert!(no_echo_within(&mut queued, Duration::from_millis(200)));
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    let backoffs = goro::runtime::Handle::current().metrics().timers_fired() - timers_before;
    println!("{MARK_INCOMING_SERVED} (timers fired meanwhile: {backoffs})");

    let freed = Instant::now();
    fillers.clear();
    let mut back = [0u8; 6];
    queued.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"queued");
    println!("{MARK_INCOMING_RECOVERED} after {:?}", freed.elapsed());
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    round_trip(&mut queued, b"after");
    round_trip(&mut served, b"after");
    let errors = errors.lock().unwrap().clone();
    assert!(errors.is_empty(), "incoming() yielded errors: {errors:?}");
    l.close().unwrap();
    server.await.unwrap();
    finish(vec![served, queued], &echoes).await;
}
