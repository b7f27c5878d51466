//! In-process network scenarios: echo and HTTP servers driven by client
//! threads in the same process, and idle connections held by a child
//! process (this binary re-executed) so resident memory is measured alone.

use crate::cli::Cfg;
use crate::stats::{Better, Row, Samples, Unit};
use crate::{CHILD_ENV, CLIENT_THREADS, workers};
use goro_bench::client::{self, LoadStats, Window};
use goro_bench::rt::Rt;
use goro_bench::sys;
use std::env;
use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

fn report_err<T>(what: &str, r: io::Result<T>) -> Option<T> {
    r.map_err(|e| eprintln!("    ERROR {what}: {e}")).ok()
}

fn echo_run<R: Rt>(conns: usize, size: usize, window: Window) -> Option<LoadStats> {
    let rt = R::new(workers());
    let addr = rt.echo_server();
    let r = client::echo_load(addr, conns, size, CLIENT_THREADS, window);
    drop(rt);
    report_err(&format!("tcp_echo on {}", R::NAME), r)
}

fn load_rows(s: &Samples<Option<LoadStats>>, label: &str, per: &str) -> Vec<Row> {
    vec![
        s.row(
            format!("{label} {per}"),
            Unit::PerSec,
            Better::Higher,
            |r| r.as_ref().map(|r| r.per_sec),
        ),
        s.row(format!("{label} p50"), Unit::Us, Better::Lower, |r| {
            r.as_ref().map(|r| r.p50_us)
        }),
        s.row(format!("{label} p99"), Unit::Us, Better::Lower, |r| {
            r.as_ref().map(|r| r.p99_us)
        }),
        s.row(
            format!("{label} server CPU/op"),
            Unit::Us,
            Better::Lower,
            |r| r.as_ref().map(|r| r.cpu_us_per_op),
        ),
        s.row(
            format!("{label} server switches/op"),
            Unit::Count,
            Better::Lower,
            |r| r.as_ref().map(|r| r.switches_per_op),
        ),
    ]
}

pub fn sc_tcp_echo(cfg: &Cfg) -> Vec<Row> {
    let window = Window {
        warmup: cfg.size(Duration::from_millis(300), Duration::from_millis(100)),
        measure: cfg.size(Duration::from_millis(1000), Duration::from_millis(300)),
    };
    let mut rows = Vec::new();
    for conns in [50, 500] {
        for size in [64, 4096] {
            let label = format!(
                "tcp_echo c={conns} {}",
                if size >= 1024 {
                    format!("{}KiB", size / 1024)
                } else {
                    format!("{size}B")
                }
            );
            eprintln!("  {label}");
            let s = alternate!(cfg, cfg.reps(5, 1), true, label, |R| echo_run::<R>(
                conns, size, window
            ));
            rows.extend(load_rows(&s, &label, "round trips"));
        }
    }
    rows
}

fn http_run<R: Rt>(use_wrk: bool, secs: u64, window: Window) -> Option<LoadStats> {
    let rt = R::new(workers());
    let addr = rt.http_server();
    let r = if use_wrk {
        client::wrk(addr, 2, 50, secs)
    } else {
        client::http_load(addr, 50, CLIENT_THREADS, window)
    };
    drop(rt);
    report_err(&format!("http on {}", R::NAME), r)
}

pub fn sc_http(cfg: &Cfg) -> Vec<Row> {
    let use_wrk = client::have_wrk();
    let secs = cfg.size(5, 1);
    let window = Window {
        warmup: Duration::from_millis(300),
        measure: Duration::from_secs(secs),
    };
    let label = if use_wrk {
        format!("http: hyper hello, wrk -t2 -c50 -d{secs}s")
    } else {
        eprintln!("  (wrk not found: using the built-in keep-alive client, 50 connections)");
        format!("http: hyper hello, std client c=50 {secs}s")
    };
    let s = alternate!(cfg, cfg.reps(3, 1), true, "http", |R| http_run::<R>(
        use_wrk, secs, window
    ));
    load_rows(&s, &label, "req")
}

struct IdleStats {
    base_kib: u64,
    full_kib: u64,
    conns: usize,
}

/// Server half of `idle_conns`, in a child process: prints `addr <addr>`,
/// then answers each `stat` line on stdin with `<accepted> <VmRSS KiB>`.
pub fn idle_child<R: Rt>() {
    sys::raise_nofile(u64::MAX);
    let rt = R::new(workers());
    let accepted = Arc::new(AtomicUsize::new(0));
    let addr = rt.idle_server(accepted.clone());
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "addr {addr}");
    let _ = out.flush();
    for line in io::stdin().lock().lines() {
        match line.as_deref().map(str::trim) {
            Ok("stat") => {
                let _ = writeln!(
                    out,
                    "{} {}",
                    accepted.load(Ordering::Relaxed),
                    sys::vmrss_kib()
                );
                let _ = out.flush();
            }
            _ => break,
        }
    }
    // Leave without running destructors: the parent measured what it
    // wanted and kills us anyway.
    std::process::exit(0);
}

fn idle_run(runtime: &str, n: usize) -> io::Result<IdleStats> {
    let mut child = Command::new(env::current_exe()?)
        .env(CHILD_ENV, format!("idle:{runtime}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let result = (|| {
        let mut to_child = child.stdin.take().expect("child stdin");
        let mut from_child = BufReader::new(child.stdout.take().expect("child stdout"));
        let mut line = String::new();
        from_child.read_line(&mut line)?;
        let addr: std::net::SocketAddr = line
            .trim()
            .strip_prefix("addr ")
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| io::Error::other(format!("child said {line:?}")))?;
        let mut stat = || -> io::Result<(usize, u64)> {
            writeln!(to_child, "stat")?;
            to_child.flush()?;
            let mut l = String::new();
            from_child.read_line(&mut l)?;
            let mut it = l.split_whitespace().map(|v| v.parse::<u64>().ok());
            match (it.next().flatten(), it.next().flatten()) {
                (Some(a), Some(r)) => Ok((a as usize, r)),
                _ => Err(io::Error::other(format!("child said {l:?}"))),
            }
        };
        thread::sleep(Duration::from_millis(100));
        let (_, base_kib) = stat()?;
        let mut clients = Vec::with_capacity(n);
        while clients.len() < n {
            let batch = (n - clients.len()).min(500);
            for _ in 0..batch {
                let s = TcpStream::connect(addr)?;
                sys::set_linger_zero(&s);
                clients.push(s);
            }
            // Let the accept loop catch up before the backlog fills.
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let (acc, _) = stat()?;
                if acc >= clients.len() {
                    break;
                }
                if Instant::now() > deadline {
                    return Err(io::Error::other(format!(
                        "server accepted only {acc} of {} connections in 20 s",
                        clients.len()
                    )));
                }
                thread::sleep(Duration::from_millis(2));
            }
        }
        thread::sleep(Duration::from_millis(300));
        let (_, full_kib) = stat()?;
        Ok((
            IdleStats {
                base_kib,
                full_kib,
                conns: n,
            },
            clients,
        ))
    })();
    // The server goes first, so the client sockets (closed with RST after
    // it) leave no TIME_WAIT behind.
    let _ = child.kill();
    let _ = child.wait();
    result.map(|(stats, clients)| {
        drop(clients);
        stats
    })
}

pub fn sc_idle_conns(cfg: &Cfg) -> Vec<Row> {
    let mut n = cfg.size(10_000, 1_000);
    let limit = sys::raise_nofile(n as u64 + 1024);
    if limit < n as u64 + 256 {
        let scaled = (limit.saturating_sub(256)) as usize;
        eprintln!(
            "  note: RLIMIT_NOFILE hard limit is {limit}; scaling idle_conns from {n} to {scaled} connections"
        );
        n = scaled;
    }
    let s = alternate!(cfg, cfg.reps(1, 1), true, "idle_conns", |R| report_err(
        &format!("idle_conns on {}", R::NAME),
        idle_run(R::NAME, n)
    ));
    vec![
        s.row(
            format!("idle_conns: RSS per idle connection ({n} conns)"),
            Unit::Bytes,
            Better::Lower,
            |r| {
                r.as_ref()
                    .map(|r| (r.full_kib as f64 - r.base_kib as f64) * 1024.0 / r.conns as f64)
            },
        ),
        s.row(
            format!("idle_conns: server RSS with {n} conns"),
            Unit::MiB,
            Better::Lower,
            |r| r.as_ref().map(|r| r.full_kib as f64 / 1024.0),
        ),
        s.row(
            "idle_conns: server RSS with 0 conns",
            Unit::MiB,
            Better::Lower,
            |r| r.as_ref().map(|r| r.base_kib as f64 / 1024.0),
        ),
    ]
}
