//! `Handle::dump()`: every live task with its state — running on a worker,
//! queued, or waiting, and on what (fd + direction and the fd's deadline,
//! timer, join, join set, blocking call, signal, other) — checked against
//! known task populations; and `dump_on_signal`, which prints a dump on a
//! signal and keeps the program running.

mod support;

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

/// Blocks the calling thread until `flag` is set, or for a minute at most
/// (so a failed test still ends: dropping its runtime waits for this).
fn block_until(flag: &AtomicBool) {
    let give_up = Instant::now() + Duration::from_secs(60);
    while !flag.load(Ordering::Acquire) && Instant::now() < give_up {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A task whose single poll blocks its worker until `flag` is set.
async fn spin_until(flag: Arc<AtomicBool>) {
    block_until(&flag);
}

#[test]
fn known_population_1000_on_sockets_10_on_timers_1_running() {
    // (The running task blocks a worker on purpose: no stall reports, and
    // no hand-off of its P, or a loaded machine may see it running on a
    // thread that gave its worker away.)
    let rt = Runtime::builder()
        .worker_threads(2)
        .handoff_after(Duration::from_secs(3600))
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
            TaskState::Waiting(WaitingOn::Read { fd, deadline }) => {
                assert_eq!(l.line(), sockets_line);
                assert_eq!(deadline, None, "no deadline was set");
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

/// A goro Unix socket (in `rt`'s context) and its silent std peer.
fn socket_pair(rt: &Runtime) -> (Arc<goro::net::UnixStream>, std::os::unix::net::UnixStream) {
    let _enter = rt.enter();
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    (Arc::new(goro::net::UnixStream::from_std(a).unwrap()), b)
}

async fn read_shared(s: Arc<goro::net::UnixStream>) {
    let mut buf = [0u8; 8];
    let _ = s.read(&mut buf).await;
}

fn state_of(dump: &TaskDump, id: goro::task::Id) -> Option<TaskState> {
    dump.tasks()
        .iter()
        .find(|t| t.id() == id)
        .map(|t| t.state())
}

/// `got` is within clock rounding of `want`.
fn near(got: Option<Instant>, want: Instant) -> bool {
    got.is_some_and(|g| g.max(want) - g.min(want) < Duration::from_millis(50))
}

#[test]
fn fd_deadlines_show_with_their_fds() {
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    let handle = rt.handle();
    let hour = Instant::now() + Duration::from_secs(3600);
    // 20 readers whose sockets have a read deadline in an hour, 10 without.
    let (mut peers, mut readers) = (Vec::new(), Vec::new());
    for i in 0..30 {
        let (s, peer) = socket_pair(&rt);
        if i < 20 {
            s.set_read_deadline(Some(hour)).unwrap();
        }
        // A write deadline is not a read deadline.
        s.set_write_deadline(Some(hour + Duration::from_secs(7)))
            .unwrap();
        let h = rt.spawn(read_shared(s.clone()));
        readers.push((h, s));
        peers.push(peer);
    }
    // A writer stuck on a full socket, with a write deadline 61 min away.
    let (w, w_peer) = socket_pair(&rt);
    let w_deadline = hour + Duration::from_secs(60);
    w.set_write_deadline(Some(w_deadline)).unwrap();
    let w2 = w.clone();
    let writer = rt.spawn(async move {
        let _ = w2.write_all(&vec![0u8; 64 << 20]).await;
    });
    let read_fd = |t: &goro::task::TaskInfo| match t.state() {
        TaskState::Waiting(WaitingOn::Read { fd, deadline }) => Some((fd, deadline)),
        _ => None,
    };
    let dump = dump_until(&handle, |d| {
        d.count(is_read) == 30
            && matches!(
                state_of(d, writer.id()),
                Some(TaskState::Waiting(WaitingOn::Write { .. }))
            )
    });
    for (i, (h, s)) in readers.iter().enumerate() {
        let t = dump.tasks().iter().find(|t| t.id() == h.id()).unwrap();
        let (fd, deadline) = read_fd(t).unwrap();
        assert_eq!(fd, s.as_raw_fd(), "{dump:#}");
        if i < 20 {
            assert!(near(deadline, hour), "reader {i}: {deadline:?}");
        } else {
            assert_eq!(deadline, None, "reader {i}");
        }
    }
    let TaskState::Waiting(WaitingOn::Write { fd, deadline }) =
        state_of(&dump, writer.id()).unwrap()
    else {
        unreachable!()
    };
    assert_eq!(fd, w.as_raw_fd());
    assert!(near(deadline, w_deadline), "{deadline:?}");
    let full = format!("{dump:#}");
    // An hour away: "3599.9s" (or "3600.0s" right after it was set).
    assert_eq!(full.matches("(read, deadline in 3").count(), 20, "{full}");
    assert_eq!(full.matches(" (read), age").count(), 10, "{full}");
    assert_eq!(full.matches("(write, deadline in 36").count(), 1, "{full}");

    // Deadlines are looked up when the dump is taken: moving one while
    // its reader stays parked shows in the next dump.
    readers[0].1.set_read_deadline(None).unwrap();
    readers[1]
        .1
        .set_read_deadline(Some(hour + Duration::from_secs(3600)))
        .unwrap();
    readers[29].1.set_read_deadline(Some(hour)).unwrap();
    let dump = dump_until(&handle, |d| d.count(is_read) == 30);
    let deadline_of = |i: usize| {
        let t = dump.tasks().iter().find(|t| t.id() == readers[i].0.id());
        read_fd(t.unwrap()).unwrap().1
    };
    assert_eq!(deadline_of(0), None);
    assert!(near(deadline_of(1), hour + Duration::from_secs(3600)));
    assert!(near(deadline_of(29), hour));
    let full = format!("{dump:#}");
    assert_eq!(full.matches("(read, deadline in 7").count(), 1, "{full}");
    assert_eq!(full.matches(" (read), age").count(), 10, "{full}");

    drop(peers); // EOF: every reader returns
    drop(w_peer); // EPIPE: the writer returns
    for (h, _) in readers {
        rt.block_on(h).unwrap();
    }
    rt.block_on(writer).unwrap();
}

#[test]
fn join_set_blocking_call_and_signal_waiters() {
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    let handle = rt.handle();
    // A task waiting on a JoinSet of 3 tasks that never finish by
    // themselves.
    let (tx, rx) = std::sync::mpsc::channel();
    let set_waiter = rt.spawn(async move {
        let mut set = goro::task::JoinSet::new();
        for _ in 0..3 {
            tx.send(set.spawn(std::future::pending::<()>())).unwrap();
        }
        let mut cancelled = 0;
        while let Some(r) = set.join_next().await {
            assert!(r.unwrap_err().is_cancelled());
            cancelled += 1;
        }
        cancelled
    });
    let aborts: Vec<goro::task::AbortHandle> = rx.iter().take(3).collect();
    let in_set = |n| Some(TaskState::Waiting(WaitingOn::JoinSet { tasks: n }));
    dump_until(&handle, |d| state_of(d, set_waiter.id()) == in_set(3));
    aborts[0].abort();
    let dump = dump_until(&handle, |d| state_of(d, set_waiter.id()) == in_set(2));
    assert!(
        dump.to_string()
            .contains("waiting on a join set of 2 tasks"),
        "{dump}"
    );
    // `try_join_next` does not park: a task that used it and then waits
    // on a channel waits on "another waker", not on its set.
    let (ch_tx, ch_rx) = async_channel::bounded::<()>(1);
    let tried = rt.spawn(async move {
        let mut set = goro::task::JoinSet::new();
        set.spawn(std::future::pending::<()>());
        assert!(set.try_join_next().is_none());
        let _ = ch_rx.recv().await;
    });

    // A task awaiting a `spawn_blocking` call.
    let release = Arc::new(AtomicBool::new(false));
    let (id_tx, id_rx) = std::sync::mpsc::channel();
    let r2 = release.clone();
    let on_blocking = rt.spawn(async move {
        let h = goro::task::spawn_blocking(move || block_until(&r2));
        id_tx.send(h.id()).unwrap();
        h.await.unwrap();
    });
    let blocking_id = id_rx.recv().unwrap();

    // A task waiting for a signal.
    let usr2 = goro::signal::SignalKind::user_defined2();
    let on_signal = rt.spawn(async move {
        let mut s = goro::signal::signal(usr2).unwrap();
        s.recv().await
    });

    let dump = dump_until(&handle, |d| {
        state_of(d, tried.id()) == Some(TaskState::Waiting(WaitingOn::Other))
            && state_of(d, on_blocking.id())
                == Some(TaskState::Waiting(WaitingOn::Blocking {
                    task: blocking_id,
                }))
            && state_of(d, on_signal.id())
                == Some(TaskState::Waiting(WaitingOn::Signal { kind: usr2 }))
            // The blocking closure itself is listed, running on the pool
            // once a pool thread has taken it.
            && state_of(d, blocking_id) == Some(TaskState::Blocking { running: true })
    });
    let text = format!("{dump:#}");
    assert!(
        text.contains(&format!("waiting on blocking-pool task {blocking_id}")),
        "{text}"
    );
    assert!(text.contains("waiting on signal SIGUSR2"), "{text}");

    for a in &aborts {
        a.abort();
    }
    assert_eq!(rt.block_on(set_waiter).unwrap(), 3);
    drop(ch_tx);
    rt.block_on(tried).unwrap();
    release.store(true, Ordering::Release);
    rt.block_on(on_blocking).unwrap();
    // SAFETY: raise(3) of a signal goro now handles.
    unsafe { libc::raise(libc::SIGUSR2) };
    assert_eq!(rt.block_on(on_signal).unwrap(), Some(()));
}

#[test]
fn blocking_closures_running_and_queued() {
    // One pool thread: the first closure runs, the second waits for it.
    let rt = Runtime::builder()
        .worker_threads(1)
        .max_blocking_threads(1)
        .build()
        .unwrap();
    let handle = rt.handle();
    let release = Arc::new(AtomicBool::new(false));
    let (r1, r2) = (release.clone(), release.clone());
    let first = rt.spawn_blocking(move || block_until(&r1));
    let first_line = line!() - 1;
    let second = rt.spawn_blocking(move || block_until(&r2));
    let (first_id, second_id) = (first.id(), second.id());
    let dump = dump_until(&handle, |d| {
        state_of(d, first_id) == Some(TaskState::Blocking { running: true })
            && state_of(d, second_id) == Some(TaskState::Blocking { running: false })
    });
    let entry = dump.tasks().iter().find(|t| t.id() == first_id).unwrap();
    assert_eq!(entry.location().file(), file!());
    assert_eq!(entry.location().line(), first_line);
    let text = format!("{dump:#}");
    assert!(
        text.contains("running a blocking call on the blocking pool"),
        "{text}"
    );
    assert!(
        text.contains("blocking call queued for a blocking-pool thread"),
        "{text}"
    );
    release.store(true, Ordering::Release);
    rt.block_on(first).unwrap();
    rt.block_on(second).unwrap();
    // Finished closures leave the dump.
    let dump = dump_until(&handle, |d| {
        state_of(d, first_id).is_none() && state_of(d, second_id).is_none()
    });
    assert_eq!(
        dump.count(|s| matches!(s, TaskState::Blocking { .. })),
        0,
        "{dump:#}"
    );
}

#[test]
fn shared_fds_timeouts_and_selects_show_what_goro_tracks() {
    use futures::future::{Either, select};
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    let handle = rt.handle();
    let hour = Duration::from_secs(3600);
    // Two tasks reading one socket: one parks on the fd, the other on its
    // read lock. Both wait to read that fd.
    let (shared, _peer) = socket_pair(&rt);
    let readers = [
        rt.spawn(read_shared(shared.clone())),
        rt.spawn(read_shared(shared.clone())),
    ];
    // A timeout around a read: the read (polled first).
    let (timed, _timed_peer) = socket_pair(&rt);
    let t2 = timed.clone();
    let timed_read = rt.spawn(async move {
        let mut buf = [0u8; 8];
        let _ = goro::time::timeout(hour, t2.read(&mut buf)).await;
    });
    // A timeout around a channel goro does not track: the timeout's timer.
    let (_tx, rx) = async_channel::bounded::<()>(1);
    let rx2 = rx.clone();
    let due = Instant::now() + hour - Duration::from_millis(50);
    let timed_channel = rt.spawn(async move {
        let _ = goro::time::timeout(hour, rx2.recv()).await;
    });
    // A select of a channel (untracked) and a read: the read.
    let (sel, _sel_peer) = socket_pair(&rt);
    let s2 = sel.clone();
    let selecting = rt.spawn(async move {
        let mut buf = [0u8; 8];
        let (recv, read) = (std::pin::pin!(rx.recv()), std::pin::pin!(s2.read(&mut buf)));
        let r = select(recv, read).await;
        matches!(r, Either::Left(_))
    });
    let reading = |fd: i32| move |s: Option<TaskState>| matches!(s, Some(TaskState::Waiting(WaitingOn::Read { fd: f, .. })) if f == fd);
    let dump = dump_until(&handle, |d| {
        readers
            .iter()
            .all(|r| reading(shared.as_raw_fd())(state_of(d, r.id())))
            && reading(timed.as_raw_fd())(state_of(d, timed_read.id()))
            && reading(sel.as_raw_fd())(state_of(d, selecting.id()))
            && matches!(
                state_of(d, timed_channel.id()),
                Some(TaskState::Waiting(WaitingOn::Timer { .. }))
            )
    });
    let Some(TaskState::Waiting(WaitingOn::Timer { deadline })) =
        state_of(&dump, timed_channel.id())
    else {
        unreachable!()
    };
    // Armed when the task first ran, a little after `due` was computed.
    let late = deadline.checked_duration_since(due);
    assert!(
        late.is_some_and(|l| l < Duration::from_secs(10)),
        "{late:?}"
    );
    drop(rt);
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

/// `examples/stuck_service.rs` prints what the README says it does: the
/// stall report, then a dump naming what each kind of task waits on.
#[test]
fn stuck_service_example_reports_its_stall_and_dumps_its_tasks() {
    let out = support::example_process::run_example("stuck_service", &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}\n{err}", out.status);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("still serving after SIGQUIT"),
        "{err}"
    );
    for want in [
        "\"nightly-report\" (spawned at examples/stuck_service.rs:",
        "in one poll; it has returned",
        "goro task dump: ",
        "[20 waiting on fd read]",
        // The connections' five-minute idle deadline.
        "\"conn\": waiting on fd ",
        "(read, deadline in 29",
        "\"accept-loop\": waiting on fd ",
        "\"metrics-flush\": waiting on a timer due in ",
        "\"supervisor\": waiting on a join set of 3 tasks",
        "[3 waiting on a timer]",
        "\"reload-config\": waiting on signal SIGHUP",
    ] {
        assert!(err.contains(want), "no {want:?} in:\n{err}");
    }
}
