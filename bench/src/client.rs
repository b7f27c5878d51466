//! Load generators shared by every runtime's server: plain OS threads with
//! blocking std sockets (so the client is identical whichever runtime
//! serves), and a `wrk` runner.

use crate::sys::set_linger_zero;
use crate::sys::{ThreadUsage, runtime_threads_usage};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

/// What a load run measured.
#[derive(Clone, Debug, Default)]
pub struct LoadStats {
    /// Completed operations (round trips or requests) per second.
    pub per_sec: f64,
    /// Median latency in microseconds.
    pub p50_us: f64,
    /// 99th-percentile latency in microseconds.
    pub p99_us: f64,
    /// CPU time of the server's runtime threads per operation, in
    /// microseconds. On a small machine shared by client and server this is
    /// steadier than throughput, which depends on how the kernel shares the
    /// cores.
    pub cpu_us_per_op: f64,
    /// Context switches of the server's runtime threads per operation.
    pub switches_per_op: f64,
}

/// Server-side usage over a measured window, divided by `ops`.
fn per_op(before: ThreadUsage, after: ThreadUsage, ops: f64) -> (f64, f64) {
    (
        (after.cpu_ns - before.cpu_ns) as f64 / 1000.0 / ops,
        (after.switches - before.switches) as f64 / ops,
    )
}

/// How long a load run lasts.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    /// Run before measuring (connections and caches warm up).
    pub warmup: Duration,
    /// Measured time.
    pub measure: Duration,
}

/// Read timeout on client sockets: a server that stops answering for this
/// long is reported as a hang instead of stalling the harness forever.
const STALL: Duration = Duration::from_secs(10);

fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(STALL))?;
    set_linger_zero(&s);
    Ok(s)
}

/// Splits `total` connections over `threads` as evenly as possible.
fn shares(total: usize, threads: usize) -> Vec<usize> {
    let threads = threads.min(total).max(1);
    (0..threads)
        .map(|i| total / threads + usize::from(i < total % threads))
        .collect()
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[idx]) / 1000.0
}

/// Runs `per_conn_op` in lock-step over `conns` connections spread over
/// `threads` client threads: each round, every thread first sends one
/// request on each of its connections, then reads every reply in order.
/// So all connections have a request in flight at once (the server sees
/// `conns` ready sockets), and a sample's latency is from its send to the
/// end of its reply.
fn lockstep<S, R>(
    addr: SocketAddr,
    conns: usize,
    threads: usize,
    window: Window,
    what: &str,
    send: S,
    recv: R,
) -> io::Result<LoadStats>
where
    S: Fn(&mut TcpStream) -> io::Result<()> + Send + Sync + Clone + 'static,
    R: Fn(&mut TcpStream, &mut Vec<u8>) -> io::Result<()> + Send + Sync + Clone + 'static,
{
    let shares = shares(conns, threads);
    let barrier = Arc::new(Barrier::new(shares.len() + 1));
    let start_at = Arc::new(std::sync::OnceLock::<Instant>::new());
    let mut joins = Vec::new();
    for share in shares {
        let barrier = barrier.clone();
        let start_at = start_at.clone();
        let (send, recv) = (send.clone(), recv.clone());
        let what = what.to_string();
        joins.push(thread::spawn(move || -> io::Result<(u64, Vec<u32>)> {
            let mut streams = Vec::with_capacity(share);
            let mut err = None;
            for _ in 0..share {
                match connect(addr) {
                    Ok(s) => streams.push(s),
                    Err(e) => {
                        err = Some(e);
                        break;
                    }
                }
            }
            barrier.wait();
            if let Some(e) = err {
                return Err(e);
            }
            let t0 = *start_at.wait();
            let measure_from = t0 + window.warmup;
            let end = measure_from + window.measure;
            let mut sent = vec![t0; streams.len()];
            let mut buf = Vec::with_capacity(8192);
            let mut lat = Vec::with_capacity(1 << 16);
            let mut done = 0u64;
            loop {
                let now = Instant::now();
                if now >= end {
                    break;
                }
                for (s, at) in streams.iter_mut().zip(sent.iter_mut()) {
                    *at = Instant::now();
                    send(s)?;
                }
                for (s, at) in streams.iter_mut().zip(sent.iter()) {
                    recv(s, &mut buf).map_err(|e| {
                        io::Error::new(e.kind(), format!("{what}: reply not received: {e}"))
                    })?;
                    let fin = Instant::now();
                    if *at >= measure_from && fin <= end {
                        done += 1;
                        lat.push(fin.duration_since(*at).as_nanos().min(u32::MAX as u128) as u32);
                    }
                }
            }
            Ok((done, lat))
        }));
    }
    barrier.wait();
    let t0 = Instant::now();
    let _ = start_at.set(t0);
    thread::sleep(window.warmup);
    let before = runtime_threads_usage();
    thread::sleep((t0 + window.warmup + window.measure).saturating_duration_since(Instant::now()));
    let after = runtime_threads_usage();
    let mut total = 0;
    let mut lat = Vec::new();
    let mut first_err = None;
    for j in joins {
        match j.join().expect("client thread panicked") {
            Ok((n, l)) => {
                total += n;
                lat.extend(l);
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    lat.sort_unstable();
    let (cpu_us_per_op, switches_per_op) = per_op(before, after, total as f64);
    Ok(LoadStats {
        per_sec: total as f64 / window.measure.as_secs_f64(),
        p50_us: percentile(&lat, 0.50),
        p99_us: percentile(&lat, 0.99),
        cpu_us_per_op,
        switches_per_op,
    })
}

/// Echo ping-pong: `conns` connections, each repeatedly sending `size`
/// bytes and reading them back.
pub fn echo_load(
    addr: SocketAddr,
    conns: usize,
    size: usize,
    threads: usize,
    window: Window,
) -> io::Result<LoadStats> {
    let msg: Arc<Vec<u8>> = Arc::new((0..size).map(|i| (i % 251) as u8).collect());
    let m2 = msg.clone();
    lockstep(
        addr,
        conns,
        threads,
        window,
        "echo",
        move |s| s.write_all(&msg),
        move |s, buf| {
            buf.resize(m2.len(), 0);
            s.read_exact(buf)?;
            if buf[..] != m2[..] {
                return Err(io::Error::other("echo reply differs from request"));
            }
            Ok(())
        },
    )
}

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

/// Reads one HTTP/1.1 response with a Content-Length body.
fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.clear();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..pos]).map_err(io::Error::other)?;
            if !head.starts_with("HTTP/1.1 200") {
                return Err(io::Error::other(format!("bad response: {head}")));
            }
            let len = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .ok_or_else(|| io::Error::other("no content-length"))?;
            let need = pos + 4 + len;
            while buf.len() < need {
                let n = s.read(&mut chunk)?;
                if n == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            // Keep-alive without pipelining: nothing may follow the body.
            return Ok(());
        }
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The fallback HTTP load generator used when `wrk` is not installed:
/// keep-alive HTTP/1.1 GETs over `conns` connections (lock-step, as
/// [`echo_load`]).
pub fn http_load(
    addr: SocketAddr,
    conns: usize,
    threads: usize,
    window: Window,
) -> io::Result<LoadStats> {
    lockstep(
        addr,
        conns,
        threads,
        window,
        "http",
        |s| s.write_all(REQUEST),
        read_response,
    )
}

/// Whether `wrk` can be run.
pub fn have_wrk() -> bool {
    Command::new("wrk")
        .arg("--version")
        .output()
        .is_ok_and(|o| !o.stdout.is_empty() || !o.stderr.is_empty())
}

/// Parses a wrk duration such as `512.00us`, `1.20ms` or `2.01s` into
/// microseconds.
pub fn parse_wrk_time(s: &str) -> Option<f64> {
    let s = s.trim();
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (num, unit) = s.split_at(split);
    let v: f64 = num.parse().ok()?;
    Some(match unit {
        "us" => v,
        "ms" => v * 1e3,
        "s" => v * 1e6,
        "m" => v * 60e6,
        _ => return None,
    })
}

/// Runs `wrk -t<threads> -c<conns> -d<secs>s --latency` against `addr`.
pub fn wrk(addr: SocketAddr, threads: usize, conns: usize, secs: u64) -> io::Result<LoadStats> {
    let before = runtime_threads_usage();
    let out = Command::new("wrk")
        .arg(format!("-t{threads}"))
        .arg(format!("-c{conns}"))
        .arg(format!("-d{secs}s"))
        .arg("--latency")
        .arg(format!("http://{addr}/"))
        .output()?;
    let after = runtime_threads_usage();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut stats = LoadStats::default();
    let mut got_rps = false;
    for line in text.lines() {
        let t = line.trim();
        if let Some(v) = t.strip_prefix("Requests/sec:") {
            stats.per_sec = v.trim().parse().unwrap_or(f64::NAN);
            got_rps = true;
        } else if let Some(v) = t.strip_prefix("50%") {
            stats.p50_us = parse_wrk_time(v).unwrap_or(f64::NAN);
        } else if let Some(v) = t.strip_prefix("99%") {
            stats.p99_us = parse_wrk_time(v).unwrap_or(f64::NAN);
        } else if t.starts_with("Socket errors") || t.starts_with("Non-2xx") {
            eprintln!("    wrk: {t}");
        }
    }
    // wrk's connect and teardown fall outside its count; over a few
    // seconds they are noise.
    (stats.cpu_us_per_op, stats.switches_per_op) =
        per_op(before, after, stats.per_sec * secs as f64);
    if !out.status.success() || !got_rps {
        return Err(io::Error::other(format!(
            "wrk failed ({}): {}{}",
            out.status,
            text,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(stats)
}
