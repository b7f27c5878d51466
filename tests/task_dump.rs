//! `Handle::dump()`: every live task with its state — running on a worker,
//! queued, or waiting, and on what (fd + direction, timer, join, other) —
//! checked against known task populations; and `dump_on_signal`, which
//! prints a dump on a signal and keeps the program running.

use goro::runtime::{Handle, Runtime};
use goro::task::{TaskDump, TaskState, WaitingOn};
use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Takes dumps until `ok` holds (tasks settle into their states as they
/// are polled), failing after 20 s with the last dump.
fn dump_until(handle: &Handle, ok: impl Fn(&TaskDump) -> bool) -> TaskDump {
    let start = Instant::now();
    loop {
        let dump = handle.dump();
        if ok(&dump) {
            return dump;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "dump never matched:\n{dump:#}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn is_read(s: &TaskState) -> bool {
    matches!(s, TaskState::Waiting(WaitingOn::Read { .. }))
}
fn is_timer(s: &TaskState) -> bool {
    matches!(s, TaskState::Waiting(WaitingOn::Timer { .. }))
}
fn is_running(s: &TaskState) -> bool {
    matches!(s, TaskState::Running { .. })
}

async fn read_once(s: goro::net::UnixStream) {
    let mut buf = [0u8; 8];
    let _ = s.read(&mut buf).await;
}

/// A task whose single poll blocks its worker until `flag` is set.
async fn spin_until(flag: Arc<AtomicBool>) {
    while !flag.load(Ordering::Acquire) {
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn known_population_1000_on_sockets_10_on_timers_1_running() {
    // (The running task blocks a worker on purpose: no stall reports.)
    let rt = Runtime::builder()
        .worker_threads(2)
        .stall_threshold(Duration::ZERO)
        .build()
        .unwrap();
    let handle = rt.handle();
    // 1,000 tasks parked reading Unix sockets (the peers stay silent).
    let mut peers = Vec::new();
    let mut fd_of = HashMap::new();
    let mut readers = Vec::new();
    let mut sockets_line = 0;
    {
        let _enter = rt.enter();
        for _ in 0..1000 {
            let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
            a.set_nonblocking(true).unwrap();
            let a = goro::net::UnixStream::from_std(a).unwrap();
            let fd = a.as_raw_fd();
            let (h, line) = (goro::spawn(read_once(a)), line!());
            sockets_line = line;
            fd_of.insert(h.id(), fd);
            readers.push(h);
            peers.push(b);
        }
    }
    // 10 on timers.
    let mut timers_line = 0;
    let mut sleepers = Vec::new();
    for _ in 0..10 {
        let sleep = goro::time::sleep(Duration::from_secs(600));
        let (h, line) = (rt.spawn(sleep), line!());
        timers_line = line;
        sleepers.push(h);
    }
    // 1 running: its poll spins until released.
    let release = Arc::new(AtomicBool::new(false));
    let (busy, busy_line) = (rt.spawn(spin_until(release.clone())), line!());

    let dump = dump_until(&handle, |d| {
        d.count(is_read) == 1000 && d.count(is_timer) == 10 && d.count(is_running) == 1
    });
    assert_eq!(dump.len(), 1011, "{dump}");
    for t in dump.tasks() {
        let l = t.location();
        assert!(l.file().ends_with("task_dump.rs"), "{l}");
        match t.state() {
            TaskState::Waiting(WaitingOn::Read { fd }) => {
                assert_eq!(l.line(), sockets_line);
                assert_eq!(
                    Some(&fd),
                    fd_of.get(&t.id()),
                    "task {} waits on its own fd",
                    t.id()
                );
            }
            TaskState::Waiting(WaitingOn::Timer { deadline }) => {
                assert_eq!(l.line(), timers_line);
                assert!(deadline > Instant::now() + Duration::from_secs(500));
            }
            TaskState::Running { worker } => {
                assert_eq!(t.id(), busy.id());
                assert_eq!(l.line(), busy_line);
                assert!(worker.is_some_and(|w| w < 2), "{worker:?}");
            }
            other => panic!("unexpected state {other:?} of task {}", t.id()),
        }
    }
    let text = dump.to_string();
    assert!(
        text.starts_with("goro task dump: 1011 tasks (1 running, 0 queued, 1010 waiting)"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "1000 tasks spawned at tests/task_dump.rs:{sockets_line}"
        )),
        "{text}"
    );
    assert!(text.contains("[1000 waiting on fd read]"), "{text}");
    assert!(text.contains("[10 waiting on a timer]"), "{text}");
    assert!(text.contains("... and 990 more"), "{text}");
    assert_eq!(format!("{dump:#}").matches(" (read), age ").count(), 1000);

    // Finished tasks leave the dump.
    release.store(true, Ordering::Release);
    rt.block_on(busy).unwrap();
    drop(peers); // EOF: every reader returns
    for r in readers {
        rt.block_on(r).unwrap();
    }
    let dump = dump_until(&handle, |d| d.len() == 10);
    assert_eq!(dump.count(is_timer), 10, "{dump}");
    drop(sleepers);
}

#[test]
fn join_other_and_queued_states() {
    let rt = Runtime::builder()
        .worker_threads(1)
        .handoff_after(Duration::from_secs(3600))
        .stall_threshold(Duration::ZERO)
        .build()
        .unwrap();
    let handle = rt.handle();
    let target = rt.spawn(std::future::pending::<()>());
    let target_id = target.id();
    let joiner = rt.spawn(async move {
        let _ = target.await;
    });
    let (tx, rx) = async_channel::bounded::<()>(1);
    let on_channel = rt.spawn(async move {
        let _ = rx.recv().await;
    });
    let dump = dump_until(&handle, |d| {
        d.tasks().iter().any(|t| {
            t.id() == joiner.id()
                && t.state() == TaskState::Waiting(WaitingOn::Join { task: target_id })
        }) && d
            .tasks()
            .iter()
            .any(|t| t.id() == on_channel.id() && t.state() == TaskState::Waiting(WaitingOn::Other))
    });
    assert!(
        dump.to_string()
            .contains(&format!("waiting on task {target_id}"))
    );

    // Block the only worker (no hand-off), then spawn: the new tasks queue.
    let release = Arc::new(AtomicBool::new(false));
    let busy = rt.spawn(spin_until(release.clone()));
    dump_until(&handle, |d| d.count(is_running) == 1);
    let queued: Vec<_> = (0..5).map(|_| rt.spawn(async {})).collect();
    let dump = handle.dump();
    for q in &queued {
        let t = dump.tasks().iter().find(|t| t.id() == q.id()).unwrap();
        assert_eq!(t.state(), TaskState::Queued, "{dump}");
    }
    release.store(true, Ordering::Release);
    rt.block_on(busy).unwrap();
    for q in queued {
        rt.block_on(q).unwrap();
    }
    drop(tx);
    rt.block_on(on_channel).unwrap();
}

#[test]
fn dump_on_signal_prints_and_keeps_running() {
    use std::io::{BufRead, BufReader, Read, Write};
    if std::env::var_os("GORO_DUMP_CHILD").is_some() {
        let rt = Runtime::builder()
            .dump_on_signal(goro::signal::SignalKind::quit())
            .build()
            .unwrap();
        let _parked = goro::task::Builder::new()
            .name("parked-forever")
            .spawn_on(std::future::pending::<()>(), &rt.handle());
        println!("ready");
        // Runs until the parent says so on stdin.
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).unwrap();
        println!("still running");
        return;
    }
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "dump_on_signal_prints_and_keeps_running",
            "--nocapture",
        ])
        .env("GORO_DUMP_CHILD", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("ready") {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "child exited early"
        );
    }
    // Read stderr on a thread; count dumps as they come.
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let mut stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0
                || tx
                    .send(String::from_utf8_lossy(&buf[..n]).into_owned())
                    .is_err()
            {
                return;
            }
        }
    });
    let mut err = String::new();
    for round in 1..=2 {
        // SAFETY: sends a signal to our own child process.
        let rc = unsafe { libc::kill(child.id() as i32, libc::SIGQUIT) };
        assert_eq!(rc, 0);
        let start = Instant::now();
        while err.matches("\"parked-forever\"").count() < round {
            match rx.recv_timeout(Duration::from_secs(1)) {
                Ok(s) => err.push_str(&s),
                Err(_) => assert!(
                    start.elapsed() < Duration::from_secs(30),
                    "no dump {round} after SIGQUIT; stderr so far:\n{err}"
                ),
            }
        }
    }
    assert!(err.contains("goro task dump: "), "{err}");
    assert!(err.contains("goro-dump-on-signal"), "{err}");
    // Still alive after two SIGQUITs: let it finish normally.
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}\n{err}");
    assert!(rest.contains("still running"), "{rest}");
}
