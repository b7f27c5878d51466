//! One task blocks its worker thread; how late is everybody else?
//!
//! ```text
//! cargo run --release -p goro-bench --example blocking_stall
//! ```
//!
//! With one worker thread, a task calls `std::thread::sleep(800 ms)` — a
//! stand-in for a slow syscall, a CPU loop or a contended mutex. Meanwhile
//! another task waits for a 20 ms timer, and a third waits for socket data
//! that arrives after 20 ms. On tokio both wait for the blocked worker
//! (~780 ms late). On goro, sysmon sees the stuck poll after 10 ms and hands
//! the worker's P (queue and timers) to another thread, so both finish on
//! time. The same runs with two workers, where both runtimes have a second
//! thread but tokio's timer and the blocked task may still share a worker.

use std::io::Write;
use std::time::{Duration, Instant};

const BLOCK: Duration = Duration::from_millis(800);
const WAIT: Duration = Duration::from_millis(20);

fn main() {
    for workers in [1, 2] {
        let (timer, read) = goro_case(workers);
        let (ttimer, tread) = tokio_case(workers);
        println!(
            "workers={workers}: timer lateness goro {:>6.1} ms, tokio {:>6.1} ms | read lateness goro {:>6.1} ms, tokio {:>6.1} ms",
            ms(timer),
            ms(ttimer),
            ms(read),
            ms(tread)
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A std peer that sends one byte `WAIT` after it is told to start.
fn delayed_sender() -> (std::net::SocketAddr, std::sync::mpsc::Sender<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (go, start) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        start.recv().unwrap();
        std::thread::sleep(WAIT);
        s.write_all(b"x").unwrap();
        std::thread::sleep(Duration::from_secs(2));
    });
    (addr, go)
}

fn goro_case(workers: usize) -> (Duration, Duration) {
    let rt = goro::runtime::Builder::new()
        .worker_threads(workers)
        .build()
        .unwrap();
    let (addr, go) = delayed_sender();
    rt.block_on(async move {
        let stream = goro::net::TcpStream::connect(addr).await.unwrap();
        // Let every worker go idle first, so the blocker and the waiters
        // land on the same P.
        goro::time::sleep(Duration::from_millis(50)).await;
        let start = Instant::now();
        go.send(()).unwrap();
        let timer = goro::spawn(async move {
            goro::time::sleep(WAIT).await;
            start.elapsed() - WAIT
        });
        let read = goro::spawn(async move {
            let mut b = [0u8; 1];
            stream.read_exact(&mut b).await.unwrap();
            start.elapsed().saturating_sub(WAIT)
        });
        let blocker = goro::spawn(async { std::thread::sleep(BLOCK) });
        let r = (timer.await.unwrap(), read.await.unwrap());
        blocker.await.unwrap();
        r
    })
}

fn tokio_case(workers: usize) -> (Duration, Duration) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap();
    let (addr, go) = delayed_sender();
    rt.block_on(async move {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let start = Instant::now();
        go.send(()).unwrap();
        let timer = tokio::spawn(async move {
            tokio::time::sleep(WAIT).await;
            start.elapsed() - WAIT
        });
        let read = tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            let mut b = [0u8; 1];
            stream.read_exact(&mut b).await.unwrap();
            start.elapsed().saturating_sub(WAIT)
        });
        let blocker = tokio::spawn(async { std::thread::sleep(BLOCK) });
        let r = (timer.await.unwrap(), read.await.unwrap());
        blocker.await.unwrap();
        r
    })
}
