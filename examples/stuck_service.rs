//! A small service with a bug — one task makes a synchronous call that
//! blocks its worker thread — and what goro tells you about it:
//!
//! - sysmon's **stall report** names the blocking task (id, name, spawn
//!   file:line, worker, how long, whether its queue was handed off), once
//!   when it crosses the threshold (100 ms) and once when its poll returns;
//! - `Builder::dump_on_signal(SIGQUIT)` prints a **task dump** of every
//!   task, grouped by spawn location, and the program keeps running.
//!
//! ```text
//! cargo run --example stuck_service
//! ```
//!
//! The example sends itself the SIGQUIT; on a real service, run
//! `kill -QUIT <pid>`.

use goro::net::{TcpListener, TcpStream};
use goro::signal::SignalKind;
use goro::task::{Builder, JoinSet};
use std::io;
use std::time::{Duration, Instant};

/// Echoes until the peer hangs up or stays idle for five minutes (the
/// read deadline, which a task dump shows).
async fn echo(conn: TcpStream) {
    let mut buf = [0u8; 1024];
    loop {
        let idle_limit = Instant::now() + Duration::from_secs(300);
        if conn.set_read_deadline(Some(idle_limit)).is_err() {
            return;
        }
        match conn.read(&mut buf).await {
            Ok(n) if n > 0 && conn.write_all(&buf[..n]).await.is_ok() => {}
            _ => return,
        }
    }
}

fn main() -> io::Result<()> {
    let rt = goro::runtime::Builder::new()
        .worker_threads(2)
        .dump_on_signal(SignalKind::quit())
        .build()?;
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        Builder::new().name("accept-loop").spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                Builder::new().name("conn").spawn(echo(conn));
            }
        });
        // Twenty idle clients: twenty `conn` tasks parked on reads.
        let mut clients = Vec::new();
        for _ in 0..20 {
            clients.push(TcpStream::connect(addr).await?);
        }
        Builder::new().name("metrics-flush").spawn(async {
            let mut tick = goro::time::interval(Duration::from_secs(10));
            loop {
                tick.tick().await;
            }
        });
        // A supervisor waiting for its jobs.
        Builder::new().name("supervisor").spawn(async {
            let mut jobs = JoinSet::new();
            for _ in 0..3 {
                jobs.spawn(goro::time::sleep(Duration::from_secs(30)));
            }
            while jobs.join_next().await.is_some() {}
        });
        // Configuration reloads on SIGHUP.
        let mut hangups = goro::signal::signal(SignalKind::hangup())?;
        Builder::new()
            .name("reload-config")
            .spawn(async move { while hangups.recv().await.is_some() {} });
        // The bug: a blocking call inside async code.
        let report = Builder::new().name("nightly-report").spawn(async {
            std::thread::sleep(Duration::from_millis(350));
        });
        report.await?;
        goro::time::sleep(Duration::from_millis(100)).await;

        // What `kill -QUIT <pid>` prints:
        // SAFETY: sends a signal to this process; goro's handler is installed.
        unsafe { libc::kill(libc::getpid(), libc::SIGQUIT) };
        goro::time::sleep(Duration::from_millis(300)).await;
        println!("still serving after SIGQUIT");
        drop(clients);
        Ok(())
    })
}
