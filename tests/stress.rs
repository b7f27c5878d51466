//! The stress test: a two-worker runtime serving 1,000 concurrent client
//! connections × 1,000 small round trips each against an echo server in the
//! same runtime. Every round trip must complete (a lost wakeup shows up as a
//! hang, which the overall time limit turns into a failure), and once the
//! runtime is dropped every fd it opened is closed.
//!
//! The wall time is printed (`--nocapture` to see it); it is not asserted.

mod support;

use goro::net::{TcpListener, TcpStream};
use goro::runtime::Builder;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::process::open_fds;

const CLIENTS: u64 = 1_000;
const ROUND_TRIPS: u64 = 1_000;
const MSG: usize = 8;
/// Generous: a hang must fail the test, slowness must not.
const LIMIT: Duration = Duration::from_secs(900);

/// Makes sure ~2,000 sockets plus the runtime fit under RLIMIT_NOFILE.
fn raise_fd_limit(want: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to an rlimit struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        if lim.rlim_cur < want {
            lim.rlim_cur = want.min(lim.rlim_max);
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
        }
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
    }
    assert!(
        lim.rlim_cur >= want,
        "RLIMIT_NOFILE is {} and cannot be raised to {want}",
        lim.rlim_cur
    );
}

async fn echo(stream: TcpStream) {
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => {
                if let Err(e) = stream.write_all(&buf[..n]).await {
                    panic!("server write failed: {e}");
                }
            }
            Err(e) => panic!("server read failed: {e}"),
        }
    }
}

async fn client(addr: std::net::SocketAddr, id: u64, done: Arc<AtomicU64>) {
    let stream = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("client {id}: connect failed: {e}"));
    stream.set_nodelay(true).unwrap();
    let mut reply = [0u8; MSG];
    for i in 0..ROUND_TRIPS {
        let msg = (id << 32 | i).to_le_bytes();
        stream
            .write_all(&msg)
            .await
            .unwrap_or_else(|e| panic!("client {id}: write {i} failed: {e}"));
        stream
            .read_exact(&mut reply)
            .await
            .unwrap_or_else(|e| panic!("client {id}: read {i} failed: {e}"));
        assert_eq!(reply, msg, "client {id}: round trip {i} echoed wrong bytes");
        done.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn thousand_clients_thousand_round_trips_two_workers() {
    raise_fd_limit(2 * CLIENTS + 256);
    let fds_before = open_fds();
    let done = Arc::new(AtomicU64::new(0));
    let (tx, rx) = mpsc::channel();
    let progress = done.clone();
    let body = std::thread::spawn(move || {
        let rt = Builder::new().worker_threads(2).build().unwrap();
        let start = Instant::now();
        let connected = rt.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = goro::spawn(async move {
                let mut conns = Vec::new();
                for _ in 0..CLIENTS {
                    let (s, _) = listener.accept().await.expect("accept");
                    conns.push(goro::spawn(echo(s)));
                }
                for c in conns {
                    c.await.expect("echo task");
                }
                CLIENTS
            });
            let clients: Vec<_> = (0..CLIENTS)
                .map(|id| goro::spawn(client(addr, id, progress.clone())))
                .collect();
            for c in clients {
                c.await.expect("client task");
            }
            server.await.expect("server task")
        });
        let elapsed = start.elapsed();
        let metrics = rt.metrics();
        drop(rt);
        let _ = tx.send((connected, elapsed, metrics));
    });
    let (connected, elapsed, metrics) = match rx.recv_timeout(LIMIT) {
        Ok(r) => r,
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(body.join().expect_err("the body panicked"))
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!(
            "stress test hung: {} of {} round trips done after {LIMIT:?}",
            done.load(Ordering::Relaxed),
            CLIENTS * ROUND_TRIPS
        ),
    };
    body.join().unwrap();
    let total = CLIENTS * ROUND_TRIPS;
    eprintln!(
        "stress: {CLIENTS} clients x {ROUND_TRIPS} round trips ({MSG} B) on 2 workers: {elapsed:.2?} ({:.0} round trips/s); polls {} steals {} handoffs {} netpolls block/nonblock/sysmon {}/{}/{}",
        total as f64 / elapsed.as_secs_f64(),
        metrics.tasks_polled(),
        metrics.steals(),
        metrics.handoffs,
        metrics.netpoll_blocking,
        metrics.netpoll_nonblocking(),
        metrics.netpoll_sysmon,
    );
    assert_eq!(connected, CLIENTS);
    assert_eq!(done.load(Ordering::Relaxed), total);
    assert_eq!(
        open_fds(),
        fds_before,
        "every fd the runtime and its sockets opened is closed after drop"
    );
}
