//! A burst of new connections: how long does each one wait for its first
//! echo while the server's descriptor table grows?
//!
//! ```text
//! cargo run --release -p goro-bench --example accept_burst [CONNS]
//! ```
//!
//! Linux grows a process's descriptor table by doubling it (at 256, 512,
//! 1024, … descriptors), and in a process with more than one thread each
//! growth waits for an RCU grace period (5–20 ms on a small VM) inside
//! whichever `accept` or `socket` call needed the room. That thread is a
//! runtime worker, so every task queued behind it waits too.
//!
//! The driver (this process, one thread, plain blocking sockets, so its own
//! table grows without waiting) starts each runtime's echo server in a
//! process of its own (1 worker), opens `CONNS` connections one after the
//! other, sends one byte on each and times the echo, keeping every
//! connection open. It prints the slowest first echoes and how many took
//! over 2 ms.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DEFAULT_CONNS: usize = 4000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    raise_fd_limit();
    match args.first().map(String::as_str) {
        Some("serve") => serve(args.get(1).map(String::as_str).unwrap_or("goro")),
        Some(n) => drive(n.parse().expect("CONNS must be a number")),
        None => drive(DEFAULT_CONNS),
    }
}

/// Starts each runtime's server, drives it, prints one line per runtime.
fn drive(conns: usize) {
    println!("{conns} connections opened one after another, 1-byte echo on each, server: 1 worker");
    for rt in ["goro", "tokio"] {
        let (mut child, addr) = start_server(rt);
        let mut times = Vec::with_capacity(conns);
        let mut open = Vec::with_capacity(conns);
        let start = Instant::now();
        for _ in 0..conns {
            let t = Instant::now();
            let mut s = TcpStream::connect(addr).expect("connect");
            s.write_all(b"x").expect("write");
            let mut b = [0u8; 1];
            s.read_exact(&mut b).expect("echo");
            times.push(t.elapsed());
            open.push(s);
        }
        let total = start.elapsed();
        let slow = times
            .iter()
            .filter(|d| **d > Duration::from_millis(2))
            .count();
        let mut worst: Vec<(usize, Duration)> = times.iter().copied().enumerate().collect();
        worst.sort_by_key(|(_, d)| std::cmp::Reverse(*d));
        let worst: Vec<String> = worst
            .iter()
            .take(5)
            .map(|(i, d)| format!("#{i} {:.1} ms", d.as_secs_f64() * 1e3))
            .collect();
        println!(
            "{rt:>5}: all echoed in {:.0} ms, {slow} over 2 ms; slowest: {}",
            total.as_secs_f64() * 1e3,
            worst.join(", ")
        );
        drop(open);
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn start_server(rt: &str) -> (Child, SocketAddr) {
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .args(["serve", rt])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("server address");
    let addr = line.trim().parse().expect("server printed its address");
    (child, addr)
}

/// The server process: a 1-worker echo server on a listener bound here
/// (before the runtime exists, so both runtimes start from the same table).
fn serve(rt: &str) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    println!("{}", listener.local_addr().expect("addr"));
    std::io::stdout().flush().expect("flush");
    match rt {
        "goro" => {
            let rt = goro::runtime::Builder::new()
                .worker_threads(1)
                .build()
                .expect("goro runtime");
            rt.block_on(async move {
                let listener = goro::net::TcpListener::from_std(listener).expect("listener");
                loop {
                    let Ok((s, _)) = listener.accept().await else {
                        continue;
                    };
                    goro::spawn(async move {
                        let mut b = [0u8; 64];
                        while let Ok(n) = s.read(&mut b).await {
                            if n == 0 || s.write_all(&b[..n]).await.is_err() {
                                break;
                            }
                        }
                    });
                }
            })
        }
        _ => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("tokio runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                loop {
                    let Ok((mut s, _)) = listener.accept().await else {
                        continue;
                    };
                    tokio::spawn(async move {
                        use tokio::io::{AsyncReadExt, AsyncWriteExt};
                        let mut b = [0u8; 64];
                        while let Ok(n) = s.read(&mut b).await {
                            if n == 0 || s.write_all(&b[..n]).await.is_err() {
                                break;
                            }
                        }
                    });
                }
            })
        }
    }
}

/// Soft descriptor limit up to the hard one (both processes hold `CONNS`
/// sockets).
fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit for the call to fill.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: `lim` is a valid rlimit; raising the soft limit to the
        // hard one needs no privilege.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    }
}
