//! Stall reports: sysmon names the task whose single poll blocks its worker
//! thread — id, name, spawn file:line, worker, how long, whether its queue
//! was handed off — once at the threshold and once when the poll returns;
//! to stderr by default, or to `Builder::on_stall`. Well-behaved tasks,
//! however busy, are never reported.

use goro::runtime::{Runtime, StallReport};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Reports = Arc<Mutex<Vec<StallReport>>>;

fn collecting(workers: usize, threshold: Duration) -> (Runtime, Reports) {
    let reports: Reports = Arc::default();
    let sink = reports.clone();
    let rt = Runtime::builder()
        .worker_threads(workers)
        .stall_threshold(threshold)
        .on_stall(move |r: &StallReport| sink.lock().unwrap().push(r.clone()))
        .build()
        .unwrap();
    (rt, reports)
}

/// Runs this test binary's test `name` in a child process with `env`, and
/// returns its stderr.
fn child(name: &str, env: &[(&str, &str)]) -> String {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env("GORO_STALL_CHILD", "1")
        .env_remove("GORO_STALL_MS");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn in_child() -> bool {
    std::env::var_os("GORO_STALL_CHILD").is_some()
}

/// The child's body: one task that blocks its thread for 400 ms.
fn block_a_worker(builder: &mut goro::runtime::Builder) {
    let rt = builder.worker_threads(2).build().unwrap();
    let h = rt.spawn(async { std::thread::sleep(Duration::from_millis(400)) });
    rt.block_on(h).unwrap();
    drop(rt); // joins sysmon: the "returned" report is out
}

#[test]
fn default_report_goes_to_stderr_with_spawn_file_and_line() {
    if in_child() {
        block_a_worker(Runtime::builder().stall_threshold(Duration::from_millis(50)));
        return;
    }
    let err = child(
        "default_report_goes_to_stderr_with_spawn_file_and_line",
        &[],
    );
    let at = format!("tests/stall_report.rs:{}", line_of_spawn());
    let stalled = err
        .lines()
        .find(|l| l.contains("has been blocking"))
        .unwrap_or_else(|| panic!("no stall report in:\n{err}"));
    assert!(stalled.starts_with("goro: task "), "{stalled}");
    assert!(stalled.contains(&at), "expected {at} in: {stalled}");
    let returned = err
        .lines()
        .find(|l| l.contains("it has returned"))
        .unwrap_or_else(|| panic!("no end-of-stall report in:\n{err}"));
    assert!(returned.contains(&at), "{returned}");
    assert_eq!(
        err.matches("has been blocking").count(),
        1,
        "reported once per stall:\n{err}"
    );
}

/// The line of the `rt.spawn` in `block_a_worker`.
fn line_of_spawn() -> u32 {
    let src = include_str!("stall_report.rs");
    let idx = src
        .lines()
        .position(|l| l.contains("let h = rt.spawn(async { std::thread::sleep"))
        .expect("the spawn line");
    idx as u32 + 1
}

#[test]
fn env_sets_the_threshold_and_zero_turns_reports_off() {
    if in_child() {
        if std::env::var("GORO_STALL_MS").as_deref() == Ok("soon") {
            let e = Runtime::builder().build().unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
            assert!(e.to_string().contains("GORO_STALL_MS"), "{e}");
            eprintln!("rejected: {e}");
            return;
        }
        block_a_worker(&mut Runtime::builder());
        return;
    }
    let name = "env_sets_the_threshold_and_zero_turns_reports_off";
    let on = child(name, &[("GORO_STALL_MS", "50")]);
    assert!(on.contains("has been blocking"), "GORO_STALL_MS=50:\n{on}");
    let off = child(name, &[("GORO_STALL_MS", "0")]);
    assert!(!off.contains("goro: task"), "GORO_STALL_MS=0:\n{off}");
    // The default threshold (100 ms) catches a 400 ms block.
    let default = child(name, &[]);
    assert!(default.contains("has been blocking"), "default:\n{default}");
    // Not a number: `build` fails with a clear error.
    let bad = child(name, &[("GORO_STALL_MS", "soon")]);
    assert!(bad.contains("rejected: goro: GORO_STALL_MS"), "{bad}");
}

async fn sleep_600ms() {
    std::thread::sleep(Duration::from_millis(600));
}

#[test]
fn callback_receives_the_fields() {
    let (rt, reports) = collecting(1, Duration::from_millis(100));
    // Something else wants the only worker, so sysmon hands its P off.
    let ticker = rt.spawn(async {
        for _ in 0..200 {
            goro::time::sleep(Duration::from_millis(2)).await;
        }
    });
    let named = goro::task::Builder::new().name("sleepy");
    let (blocker, line) = (named.spawn_on(sleep_600ms(), &rt.handle()), line!());
    let id = blocker.id();
    rt.block_on(blocker).unwrap();
    rt.block_on(ticker).unwrap();
    drop(rt);
    let reports = reports.lock().unwrap();
    let mine: Vec<_> = reports.iter().filter(|r| r.id() == id).collect();
    assert_eq!(
        mine.len(),
        2,
        "one at the threshold, one at the end: {reports:#?}"
    );
    let (stalled, returned) = (mine[0], mine[1]);
    assert!(!stalled.finished() && returned.finished(), "{mine:#?}");
    for r in [stalled, returned] {
        assert_eq!(r.name(), Some("sleepy"));
        assert!(r.location().file().ends_with("stall_report.rs"), "{r}");
        assert_eq!(r.location().line(), line, "{r}");
        assert_eq!(r.worker(), Some(0), "{r}");
        assert!(
            r.thread_name()
                .is_some_and(|t| t.starts_with("goro-worker")),
            "{r}"
        );
        assert!(r.to_string().contains("\"sleepy\""), "{r}");
    }
    assert!(
        stalled.blocked_for() >= Duration::from_millis(100),
        "{stalled}"
    );
    assert!(
        returned.blocked_for() >= stalled.blocked_for(),
        "{returned}"
    );
    assert!(
        returned.handed_off(),
        "the ticker was waiting, so the P was handed off: {returned}"
    );
    assert!(
        returned.to_string().contains("handed to another thread"),
        "{returned}"
    );
}

#[test]
fn zero_threshold_turns_reports_off() {
    let (rt, reports) = collecting(2, Duration::ZERO);
    rt.block_on(rt.spawn(async { std::thread::sleep(Duration::from_millis(300)) }))
        .unwrap();
    drop(rt);
    assert!(reports.lock().unwrap().is_empty());
}

#[test]
fn busy_well_behaved_server_is_never_reported() {
    // Generous threshold: a loaded CI machine may deschedule a worker for a
    // while, but many short polls must never add up to a stall.
    let (rt, reports) = collecting(2, Duration::from_millis(300));
    rt.block_on(async {
        let listener = goro::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        goro::spawn(async move {
            loop {
                let Ok((s, _)) = listener.accept().await else {
                    return;
                };
                goro::spawn(async move {
                    let mut buf = [0u8; 64];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        let deadline = std::time::Instant::now() + Duration::from_millis(1500);
        let clients: Vec<_> = (0..8)
            .map(|_| {
                goro::spawn(async move {
                    let s = goro::net::TcpStream::connect(addr).await.unwrap();
                    let mut buf = [0u8; 16];
                    let mut n = 0u64;
                    while std::time::Instant::now() < deadline {
                        s.write_all(b"ping").await.unwrap();
                        s.read_exact(&mut buf[..4]).await.unwrap();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        let mut total = 0;
        for c in clients {
            total += c.await.unwrap();
        }
        assert!(total > 100, "the server was busy: {total} round trips");
    });
    drop(rt);
    let reports = reports.lock().unwrap();
    assert!(reports.is_empty(), "false stall reports: {reports:#?}");
}

#[test]
fn block_in_place_is_blocking_on_purpose_not_a_stall() {
    let (rt, reports) = collecting(2, Duration::from_millis(50));
    rt.block_on(rt.spawn(async {
        goro::task::block_in_place(|| std::thread::sleep(Duration::from_millis(300)));
    }))
    .unwrap();
    // The same thread blocking without it, afterwards, is reported.
    let h = rt.spawn(async { std::thread::sleep(Duration::from_millis(300)) });
    let id = h.id();
    rt.block_on(h).unwrap();
    drop(rt);
    let reports = reports.lock().unwrap();
    assert!(
        reports.iter().all(|r| r.id() == id),
        "block_in_place reported: {reports:#?}"
    );
    assert_eq!(reports.len(), 2, "{reports:#?}");
}
