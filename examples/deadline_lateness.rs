//! How late do read deadlines fire?
//!
//! ```text
//! cargo run --release --example deadline_lateness
//! cargo run --release --example deadline_lateness -- --conns 1000 --load 64 --rounds 3 --workers 2
//! ```
//!
//! Opens `--conns` loopback connections. Each round, every connection's
//! client side sets a read deadline 50–100 ms ahead (spread evenly) and
//! reads; no data ever comes, so every read fails with `TimedOut`. The
//! lateness of one read is the instant its task sees the error minus its
//! deadline: timer resolution plus the time to wake and run the task. The
//! rounds run twice: on an otherwise idle runtime, and while `--load`
//! other connection pairs echo 1 KiB messages back and forth as fast as
//! they can.

use goro::net::{TcpListener, TcpStream};
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

struct Args {
    conns: usize,
    load: usize,
    rounds: usize,
    workers: Option<usize>,
}

fn parse_args() -> io::Result<Args> {
    let mut a = Args {
        conns: 1000,
        load: 64,
        rounds: 3,
        workers: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut num = |name: &str| -> io::Result<usize> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| usage(&format!("{name} takes a number")))
        };
        match arg.as_str() {
            "--conns" => a.conns = num("--conns")?,
            "--load" => a.load = num("--load")?,
            "--rounds" => a.rounds = num("--rounds")?.max(1),
            "--workers" => a.workers = Some(num("--workers")?),
            "-h" | "--help" => {
                println!(
                    "usage: deadline_lateness [--conns N] [--load N] [--rounds N] [--workers N]"
                );
                std::process::exit(0);
            }
            other => return Err(usage(&format!("unknown argument {other:?}"))),
        }
    }
    Ok(a)
}

fn usage(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.to_string())
}

/// 2 fds per connection: raise the soft fd limit to the hard one.
fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the valid rlimit struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 && lim.rlim_cur < lim.rlim_max
    {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: setrlimit reads the valid rlimit struct we pass.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    }
}

/// `n` connected (client, server) pairs.
async fn pairs(l: &TcpListener, n: usize) -> io::Result<Vec<(TcpStream, TcpStream)>> {
    let addr = l.local_addr()?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let c = TcpStream::connect(addr).await?;
        let (s, _) = l.accept().await?;
        out.push((c, s));
    }
    Ok(out)
}

/// Lateness of each read, in microseconds (negative: fired early).
async fn round(clients: &[Arc<TcpStream>]) -> Vec<i64> {
    let start = Instant::now();
    let n = clients.len();
    let tasks: Vec<_> = clients
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let c = c.clone();
            // Spread the deadlines evenly over 50..100 ms.
            let deadline = start + Duration::from_micros(50_000 + (50_000 * i / n.max(1)) as u64);
            goro::spawn(async move {
                c.set_read_deadline(Some(deadline))?;
                let mut b = [0u8; 1];
                let r = c.read(&mut b).await;
                let at = Instant::now();
                match r {
                    Err(e) if e.kind() == io::ErrorKind::TimedOut => {}
                    Err(e) => return Err(e),
                    Ok(_) => return Err(io::Error::other("data arrived on a silent connection")),
                }
                Ok(if at >= deadline {
                    at.duration_since(deadline).as_micros() as i64
                } else {
                    -(deadline.duration_since(at).as_micros() as i64)
                })
            })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.push(t.await.expect("task").expect("read"));
    }
    out
}

fn report(label: &str, mut us: Vec<i64>) {
    us.sort_unstable();
    let pct = |p: f64| us[((us.len() - 1) as f64 * p).round() as usize];
    let early = us.iter().filter(|&&x| x < 0).count();
    println!(
        "{label:<28} n={:<5} median {:>7.2} ms   p99 {:>7.2} ms   max {:>7.2} ms   fired early: {early}",
        us.len(),
        pct(0.5) as f64 / 1000.0,
        pct(0.99) as f64 / 1000.0,
        *us.last().unwrap() as f64 / 1000.0,
    );
}

fn main() -> io::Result<()> {
    let args = parse_args()?;
    raise_fd_limit();
    let mut builder = goro::runtime::Runtime::builder();
    if let Some(n) = args.workers {
        builder.worker_threads(n);
    }
    let rt = builder.build()?;
    let workers = rt.metrics().workers.len();
    let cmd: Vec<String> = std::env::args().skip(1).collect();
    println!(
        "command: cargo run --release --example deadline_lateness{}{}",
        if cmd.is_empty() { "" } else { " -- " },
        cmd.join(" ")
    );
    println!(
        "{} connections, deadlines 50-100 ms ahead, {} rounds per phase, {} workers, {} load pairs",
        args.conns, args.rounds, workers, args.load
    );
    rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await?;
        let silent = pairs(&l, args.conns).await?;
        let (clients, _servers): (Vec<_>, Vec<_>) =
            silent.into_iter().map(|(c, s)| (Arc::new(c), s)).unzip();

        // Idle runtime.
        let mut idle = Vec::new();
        for _ in 0..args.rounds {
            idle.extend(round(&clients).await);
        }
        report("idle runtime", idle);

        // Under load: pairs echoing 1 KiB messages as fast as they can.
        let stop = Arc::new(AtomicBool::new(false));
        let echoed = Arc::new(AtomicU64::new(0));
        let mut load_tasks = Vec::new();
        for (c, s) in pairs(&l, args.load).await? {
            load_tasks.push(goro::spawn(async move {
                let mut buf = [0u8; 1024];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }));
            let (stop, echoed) = (stop.clone(), echoed.clone());
            load_tasks.push(goro::spawn(async move {
                let msg = [7u8; 1024];
                let mut back = [0u8; 1024];
                while !stop.load(Ordering::Relaxed) {
                    if c.write_all(&msg).await.is_err() || c.read_exact(&mut back).await.is_err() {
                        break;
                    }
                    echoed.fetch_add(1, Ordering::Relaxed);
                }
                // Dropping `c` ends the echo task.
            }));
        }
        goro::time::sleep(Duration::from_millis(100)).await;
        let t = Instant::now();
        let before = echoed.load(Ordering::Relaxed);
        let mut loaded = Vec::new();
        for _ in 0..args.rounds {
            loaded.extend(round(&clients).await);
        }
        let rate = (echoed.load(Ordering::Relaxed) - before) as f64 / t.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        report(&format!("under load ({:.0} echoes/s)", rate), loaded);
        for t in load_tasks {
            let _ = t.await;
        }
        io::Result::Ok(())
    })
}
