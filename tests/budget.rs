//! The cooperative budget: a task that never has to wait (a socket that
//! always has data, or a loop of `yield_now`) must not starve a timer in
//! another task on the same worker.
//!
//! Hand-off is switched off in these runtimes (`handoff_after` of a minute,
//! no spare threads), so the budget alone must save the timer.

use goro::runtime::{Builder, Runtime};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How late a 20 ms timer may fire before it counts as starved. Starving
/// means waiting as long as the busy task runs (forever here), so the bound
/// can be generous: a loaded 2-core machine can deschedule the worker for
/// most of a second.
const STARVED: Duration = Duration::from_secs(2);

fn no_handoff() -> Runtime {
    Builder::new()
        .worker_threads(1)
        .handoff_after(Duration::from_secs(60))
        .max_spare_threads(0)
        .build()
        .unwrap()
}

#[test]
fn busy_reader_does_not_starve_a_timer() {
    let rt = no_handoff();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    // A peer that keeps the socket full, so reads never wait.
    let peer = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let chunk = vec![7u8; 64 * 1024];
        while !stop2.load(Ordering::Relaxed) {
            if s.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    let read_bytes = Arc::new(AtomicU64::new(0));
    let rb = read_bytes.clone();
    let late = rt.block_on(async move {
        let stream = goro::net::TcpStream::connect(addr).await.unwrap();
        // Wait until data is flowing.
        stream.readable().await.unwrap();
        let reader = goro::spawn(async move {
            let mut buf = [0u8; 64];
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        rb.fetch_add(n as u64, Ordering::Relaxed);
                    }
                }
            }
        });
        let start = Instant::now();
        let timer = goro::spawn(async move {
            goro::time::sleep(Duration::from_millis(20)).await;
            start.elapsed()
        });
        let late = timer.await.unwrap();
        reader.abort();
        late
    });
    stop.store(true, Ordering::Relaxed);
    drop(rt);
    peer.join().unwrap();
    assert!(
        read_bytes.load(Ordering::Relaxed) > 0,
        "the reader never ran"
    );
    assert!(late < STARVED, "timer starved: {late:?}");
}

#[test]
fn yield_loop_does_not_starve_a_timer() {
    let rt = no_handoff();
    let late = rt.block_on(async {
        let spin = Arc::new(AtomicBool::new(true));
        let s = spin.clone();
        let yielder = goro::spawn(async move {
            let mut n = 0u64;
            while s.load(Ordering::Relaxed) {
                goro::task::yield_now().await;
                n += 1;
            }
            n
        });
        let start = Instant::now();
        let late = goro::spawn(async move {
            goro::time::sleep(Duration::from_millis(20)).await;
            start.elapsed()
        })
        .await
        .unwrap();
        spin.store(false, Ordering::Relaxed);
        assert!(yielder.await.unwrap() > 0);
        late
    });
    assert!(late < STARVED, "timer starved: {late:?}");
}

#[test]
fn expired_timers_in_a_loop_yield_too() {
    // A task awaiting already-expired sleeps in a loop is always ready; the
    // budget makes it yield so a second task still runs.
    let rt = no_handoff();
    rt.block_on(async {
        let looper = goro::spawn(async move {
            // Spawned from this task, so it waits on this worker's queue
            // until this task yields.
            let flag = Arc::new(AtomicBool::new(false));
            let f = flag.clone();
            let other = goro::spawn(async move { f.store(true, Ordering::SeqCst) });
            let past = Instant::now();
            let mut saw = false;
            for _ in 0..100_000 {
                goro::time::sleep_until(past).await;
                if flag.load(Ordering::SeqCst) {
                    saw = true;
                    break;
                }
            }
            other.await.unwrap();
            saw
        });
        assert!(
            looper.await.unwrap(),
            "the other task never ran during the loop"
        );
    });
}
