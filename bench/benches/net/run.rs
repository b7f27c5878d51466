//! One measurement: start a runtime's server in its own process (pinned to
//! CPU 0 with one worker, or unpinned with two), drive it from a load
//! generator pinned to CPU 1, parse what it reports, stop the server.
//! Every wait is bounded; a run that goes wrong is an error, not a hang.

use goro_bench::client::parse_wrk_time;
use goro_bench::sys::process_cpu_ns;
use std::collections::HashMap;
use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How the server runs.
#[derive(Clone, Copy)]
pub struct Placement {
    /// Worker threads.
    pub workers: usize,
    /// Pinned to CPU 0 (`taskset -c 0`), else free to use both CPUs.
    pub pinned: bool,
    /// Scheduling priority of every process of the run.
    pub prio: Prio,
    /// The server binary of runtime `base` (`--baseline`).
    pub baseline: Option<&'static str>,
}

/// How the processes of a run are prioritised against other work on the
/// machine.
#[derive(Clone, Copy, PartialEq)]
pub enum Prio {
    /// As started.
    Normal,
    /// `chrt -f 50` (SCHED_FIFO): never preempted by normal work, but the
    /// kernel's real-time throttling (by default 50 ms a second) shows in
    /// the p99.9 of long runs.
    Fifo,
}

/// `taskset -c CPU` (or nothing) and the priority's wrapper before `exe`.
fn command(cpu: Option<&str>, prio: Prio, exe: &str) -> Command {
    let mut argv: Vec<&str> = Vec::new();
    match prio {
        Prio::Normal => {}
        Prio::Fifo => argv.extend(["chrt", "-f", "50"]),
    }
    if let Some(cpu) = cpu {
        argv.extend(["taskset", "-c", cpu]);
    }
    argv.push(exe);
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..]);
    cmd
}

/// What one run measured (the load generator's `key=value` fields).
pub type Fields = HashMap<String, f64>;

/// The server binary of `runtime`; `base` is the `--baseline` binary.
fn server_exe<'a>(runtime: &str, baseline: Option<&'a str>) -> &'a str {
    match runtime {
        "goro" => env!("CARGO_BIN_EXE_server-goro"),
        "tokio" => env!("CARGO_BIN_EXE_server-tokio"),
        "base" => baseline.unwrap_or(env!("CARGO_BIN_EXE_server-goro")),
        _ => env!("CARGO_BIN_EXE_server-smol"),
    }
}

/// A server process, killed when dropped.
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Server {
    /// Starts `runtime`'s server in `mode` (`echo` or `http`).
    pub fn start(runtime: &str, mode: &str, place: Placement) -> io::Result<Server> {
        let exe = server_exe(runtime, place.baseline);
        let cpu = place.pinned.then_some("0");
        let mut child = command(cpu, place.prio, exe)
            .args(["--workers", &place.workers.to_string(), "--mode", mode])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let addr = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|a| a.parse().ok());
        match addr {
            Some(addr) => Ok(Server { child, addr }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                Err(io::Error::other(format!("{runtime} server said {line:?}")))
            }
        }
    }

    /// Its process id (chrt and taskset exec, so the pid is the server's).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `cmd` (stdout piped) to completion, killing it after `limit`.
fn output_within(mut cmd: Command, limit: Duration) -> io::Result<String> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdout = child.stdout.take().expect("piped stdout");
    let reader = thread::spawn(move || io::read_to_string(stdout));
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait()? {
            let out = reader.join().unwrap_or_else(|_| Ok(String::new()))?;
            if !status.success() {
                return Err(io::Error::other(format!("{status}: {out}")));
            }
            return Ok(out);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other(format!("killed after {limit:?}")));
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Parses `key=value` pairs with numeric values from the first line.
fn fields(line: &str) -> Fields {
    line.split_whitespace()
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

/// One echo run: `conns` connections of `size`-byte ping-pong.
pub fn echo(
    runtime: &str,
    place: Placement,
    conns: usize,
    size: usize,
    warmup: Duration,
    measure: Duration,
) -> io::Result<Fields> {
    let server = Server::start(runtime, "echo", place)?;
    let mut cmd = command(Some("1"), place.prio, env!("CARGO_BIN_EXE_loadgen"));
    cmd.args([
        "--addr".to_string(),
        server.addr.to_string(),
        "--conns".into(),
        conns.to_string(),
        "--size".into(),
        size.to_string(),
        "--warmup-ms".into(),
        warmup.as_millis().to_string(),
        "--measure-ms".into(),
        measure.as_millis().to_string(),
        "--server-pid".into(),
        server.pid().to_string(),
    ]);
    let out = output_within(cmd, warmup + measure + Duration::from_secs(30))?;
    let f = fields(out.lines().next().unwrap_or(""));
    if !f.contains_key("msgs_per_sec") {
        return Err(io::Error::other(format!("loadgen said {out:?}")));
    }
    Ok(f)
}

/// Whether `wrk` is installed.
pub fn have_wrk() -> bool {
    Command::new("wrk").arg("--version").output().is_ok()
}

/// One HTTP run: a hyper hello server, `wrk -t1 -c<conns>` pinned to CPU 1,
/// a one-second unmeasured wrk run first as warm-up.
pub fn http(runtime: &str, place: Placement, conns: usize, secs: u64) -> io::Result<Fields> {
    let server = Server::start(runtime, "http", place)?;
    let url = format!("http://{}/", server.addr);
    let wrk = |secs: u64| {
        let mut cmd = command(Some("1"), place.prio, "wrk");
        cmd.args(["-t1", &format!("-c{conns}")]).args([
            format!("-d{secs}s"),
            "--latency".into(),
            url.clone(),
        ]);
        output_within(cmd, Duration::from_secs(secs + 30))
    };
    wrk(1)?;
    let before = process_cpu_ns(server.pid())?;
    let out = wrk(secs)?;
    let cpu_ns = process_cpu_ns(server.pid())?.saturating_sub(before);
    let mut f = Fields::new();
    for line in out.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("Requests/sec:") {
            f.insert("msgs_per_sec".into(), v.trim().parse().unwrap_or(f64::NAN));
        } else if let Some(v) = line.strip_prefix("50%") {
            f.insert("p50_us".into(), parse_wrk_time(v).unwrap_or(f64::NAN));
        } else if let Some(v) = line.strip_prefix("99%") {
            f.insert("p99_us".into(), parse_wrk_time(v).unwrap_or(f64::NAN));
        } else if line.starts_with("Socket errors") || line.starts_with("Non-2xx") {
            eprintln!("    wrk: {line}");
        }
    }
    let rps = *f
        .get("msgs_per_sec")
        .ok_or_else(|| io::Error::other(format!("wrk said {out:?}")))?;
    f.insert(
        "cpu_us_per_msg".into(),
        cpu_ns as f64 / 1e3 / (rps * secs as f64),
    );
    Ok(f)
}
