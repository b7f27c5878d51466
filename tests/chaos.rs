//! Chaos soak: 1,000 TCP connections on 2 workers doing random things for a
//! while (`GORO_CHAOS_SECS`, default 15), seeded (`GORO_CHAOS_SEED`, else the
//! clock; the seed is printed and is in every failure message).
//!
//! Each connection carries two id-tagged byte streams, one per direction:
//! the byte at position `p` of stream `(id, side)` is a hash of both, so a
//! lost, duplicated or foreign byte fails the reader's check at once. On
//! each side one writer task sends its stream with `write` (an operation
//! that either transfers bytes or, when cancelled, none) and one reader
//! task checks the peer's stream as it arrives. The progress counters live
//! outside the tasks, so a task can be aborted at any await and a new one
//! picks up where it stopped.
//!
//! A chaos task per connection meanwhile, at random: sets read or write
//! deadlines in the past, in the near future or clears them; aborts a
//! reader or writer (`JoinHandle::abort`) and starts a new one; runs
//! `block_in_place` and `spawn_blocking` work; and on every tenth
//! connection, at a random moment, closes one side from outside. Checks:
//!
//! - every byte arrives, in order, exactly once (streams of connections
//!   never closed are compared in full at the end: read == written);
//! - every operation ends with `Ok`, `TimedOut` (only on a side that had a
//!   deadline), `NotConnected` (only on a side that was closed), or — only
//!   when the peer was closed — end of stream, `BrokenPipe` or
//!   `ConnectionReset`; no task panics;
//! - once told to stop, every task finishes (nothing stays blocked);
//! - descriptors and open fds return to their baseline, and dropping the
//!   runtime (with tasks still parked on sockets and timers) takes < 1 s.
//!
//! `JoinHandle::abort` followed by awaiting the handle does not wait for the
//! task's future to be dropped, so the chaos task also waits for a drop
//! flag before starting a replacement (the count is printed).
//!
//! Run it longer with `GORO_CHAOS_SECS=120 cargo test --release --test chaos`.

mod support;

use futures::{AsyncReadExt, AsyncWriteExt};
use goro::net::{TcpListener, TcpStream};
use goro::runtime::Runtime;
use goro::task::JoinHandle;
use std::io;
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::data::{Rng, mix};
use support::process::open_fds;

const CONNECTIONS: usize = 1000;
/// How long the tasks get to finish after the stop signal.
const WIND_DOWN: Duration = Duration::from_secs(20);

/// Fills `buf` with stream `key` from byte position `pos`.
fn fill(key: u64, pos: u64, buf: &mut [u8]) {
    for (i, b) in buf.iter_mut().enumerate() {
        let p = pos + i as u64;
        *b = (mix(key ^ (p / 8).wrapping_mul(0x2545_f491_4f6c_dd1d)) >> ((p % 8) * 8)) as u8;
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|s| {
        s.parse()
            .unwrap_or_else(|_| panic!("{name} must be an integer"))
    })
}

/// One end of a connection.
struct End {
    stream: TcpStream,
    /// Set before this end is closed from outside.
    closed: AtomicBool,
    /// Set once any deadline has been set on this end.
    had_deadline: AtomicBool,
}

/// Shared state of one connection; `ends[i]` writes stream `(id, i)` and
/// reads stream `(id, 1 - i)`.
struct Conn {
    id: usize,
    ends: [End; 2],
    /// Bytes of stream `(id, i)` written by end `i`.
    written: [AtomicU64; 2],
    /// Bytes of stream `(id, 1 - i)` read and checked by end `i`.
    read: [AtomicU64; 2],
    readers: [Task; 2],
    writers: [Task; 2],
}

/// A reader or writer task slot: its handle, and whether its future still
/// exists (cleared when the future is dropped, whatever ends it).
#[derive(Default)]
struct Task {
    handle: Mutex<Option<JoinHandle<()>>>,
    alive: Arc<AtomicBool>,
}

/// Clears a task's `alive` flag when its future is dropped.
struct Alive(Arc<AtomicBool>);

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

impl Task {
    fn start(&self, fut: impl std::future::Future<Output = ()> + Send + 'static) {
        self.alive.store(true, Ordering::SeqCst);
        let alive = Alive(self.alive.clone());
        let h = goro::spawn(async move {
            let _alive = alive;
            fut.await
        });
        *self.handle.lock().unwrap() = Some(h);
    }
}

struct Shared {
    seed: u64,
    stop: AtomicBool,
    failures: Mutex<Vec<String>>,
    stats: [AtomicU64; STATS],
}

const OPS: usize = 0;
const TIMEOUTS: usize = 1;
const ABORTS: usize = 2;
const CLOSES: usize = 3;
const DEADLINES: usize = 4;
const BLOCKING: usize = 5;
const BYTES: usize = 6;
const EARLY_CANCEL: usize = 7;
const ACTIONS: usize = 8;
const LATE_MS: usize = 9;
const MAX_LATE_MS: usize = 10;
const STATS: usize = 11;

impl Shared {
    fn fail(&self, msg: String) {
        let mut f = self.failures.lock().unwrap();
        if f.len() < 20 {
            f.push(format!("{msg} (seed {})", self.seed));
        }
    }

    fn count(&self, stat: usize, n: u64) {
        self.stats[stat].fetch_add(n, Ordering::Relaxed);
    }
}

impl Conn {
    fn key(&self, side: usize) -> u64 {
        mix((self.id as u64) << 1 | side as u64)
    }

    /// Judges an error from an operation on end `i`: true if it ends the
    /// task's work on this end (closed here or at the peer).
    fn judge(&self, shared: &Shared, i: usize, what: &str, e: &io::Error) -> bool {
        let me = &self.ends[i];
        let peer_closed = self.ends[1 - i].closed.load(Ordering::SeqCst);
        match e.kind() {
            io::ErrorKind::TimedOut if me.had_deadline.load(Ordering::SeqCst) => {
                shared.count(TIMEOUTS, 1);
                false
            }
            io::ErrorKind::NotConnected if me.closed.load(Ordering::SeqCst) => true,
            // After a reset from the closed peer the kernel reports the
            // socket as not connected too (`shutdown` says ENOTCONN).
            io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::NotConnected
                if peer_closed =>
            {
                true
            }
            _ => {
                shared.fail(format!(
                    "conn {} end {i}: {what} failed with {e} ({:?}); closed here: {}, at peer: {peer_closed}",
                    self.id,
                    e.kind(),
                    me.closed.load(Ordering::SeqCst)
                ));
                true
            }
        }
    }
}

async fn writer(conn: Arc<Conn>, shared: Arc<Shared>, i: usize, seed: u64) {
    let mut rng = Rng(seed);
    let mut buf = vec![0u8; 16 * 1024];
    let end = &conn.ends[i];
    let key = conn.key(i);
    while !shared.stop.load(Ordering::SeqCst) {
        // Mostly a trickle, sometimes a burst that fills the socket buffers
        // so writers block too.
        let mut burst = if rng.below(64) == 0 {
            64 * 1024
        } else {
            1 + rng.below(1024) as usize
        };
        while burst > 0 && !shared.stop.load(Ordering::SeqCst) {
            let len = (1 + rng.below(buf.len() as u64) as usize).min(burst);
            let pos = conn.written[i].load(Ordering::SeqCst);
            fill(key, pos, &mut buf[..len]);
            shared.count(OPS, 1);
            // Between the syscall's result and the counter update there is
            // no await, so an abort never loses track of what was sent.
            let r = if rng.below(2) == 0 {
                end.stream.write(&buf[..len]).await
            } else {
                AsyncWriteExt::write(&mut &end.stream, &buf[..len]).await
            };
            match r {
                Ok(0) => {
                    shared.fail(format!("conn {} end {i}: write returned 0", conn.id));
                    return;
                }
                Ok(n) => {
                    conn.written[i].fetch_add(n as u64, Ordering::SeqCst);
                    burst -= n;
                }
                Err(e) => {
                    if conn.judge(&shared, i, "write", &e) {
                        return;
                    }
                    goro::time::sleep(Duration::from_millis(1 + rng.below(20))).await;
                }
            }
        }
        goro::time::sleep(Duration::from_millis(20 + rng.below(160))).await;
    }
    if let Err(e) = end.stream.shutdown(Shutdown::Write) {
        conn.judge(&shared, i, "shutdown", &e);
    }
}

async fn reader(conn: Arc<Conn>, shared: Arc<Shared>, i: usize, seed: u64) {
    let mut rng = Rng(seed);
    let mut buf = vec![0u8; 16 * 1024];
    let mut want = vec![0u8; 16 * 1024];
    let end = &conn.ends[i];
    let key = conn.key(1 - i);
    loop {
        let len = 1 + rng.below(buf.len() as u64) as usize;
        shared.count(OPS, 1);
        let r = if rng.below(2) == 0 {
            end.stream.read(&mut buf[..len]).await
        } else {
            AsyncReadExt::read(&mut &end.stream, &mut buf[..len]).await
        };
        match r {
            Ok(0) => {
                // End of stream: the peer shut down (stop) or was closed.
                let peer = 1 - i;
                if !conn.ends[peer].closed.load(Ordering::SeqCst)
                    && !end.closed.load(Ordering::SeqCst)
                {
                    let (got, sent) = (
                        conn.read[i].load(Ordering::SeqCst),
                        conn.written[peer].load(Ordering::SeqCst),
                    );
                    if got != sent {
                        shared.fail(format!(
                            "conn {} end {i}: end of stream after {got} of {sent} bytes",
                            conn.id
                        ));
                    }
                }
                return;
            }
            Ok(n) => {
                let pos = conn.read[i].load(Ordering::SeqCst);
                fill(key, pos, &mut want[..n]);
                if buf[..n] != want[..n] {
                    let at = buf[..n].iter().zip(&want[..n]).position(|(a, b)| a != b);
                    shared.fail(format!(
                        "conn {} end {i}: wrong byte at stream position {} (lost, duplicated or foreign data)",
                        conn.id,
                        pos + at.unwrap_or(0) as u64
                    ));
                    return;
                }
                conn.read[i].fetch_add(n as u64, Ordering::SeqCst);
                shared.count(BYTES, n as u64);
                // A slow reader now and then, so writers block.
                if rng.below(64) == 0 {
                    goro::time::sleep(Duration::from_millis(50 + rng.below(250))).await;
                }
            }
            Err(e) => {
                if conn.judge(&shared, i, "read", &e) {
                    return;
                }
                goro::time::sleep(Duration::from_millis(1 + rng.below(20))).await;
            }
        }
    }
}

fn start_reader(conn: &Arc<Conn>, shared: &Arc<Shared>, i: usize, seed: u64) {
    conn.readers[i].start(reader(conn.clone(), shared.clone(), i, seed));
}

fn start_writer(conn: &Arc<Conn>, shared: &Arc<Shared>, i: usize, seed: u64) {
    conn.writers[i].start(writer(conn.clone(), shared.clone(), i, seed));
}

/// Aborts the task in `slot` and waits for its future to be gone; true if
/// it was cancelled while running (so it should be replaced).
async fn abort(slot: &Task, shared: &Shared, what: &str) -> bool {
    let Some(h) = slot.handle.lock().unwrap().take() else {
        return false;
    };
    h.abort();
    let replace = match h.await {
        Ok(()) => false,
        Err(e) if e.is_cancelled() => {
            shared.count(ABORTS, 1);
            true
        }
        Err(e) => {
            shared.fail(format!("{what} task failed: {e}"));
            false
        }
    };
    // Awaiting an aborted handle returns as soon as the task is marked
    // cancelled; its future is dropped later, on a worker (and may be in
    // the middle of a poll there). A replacement must not run beside it.
    if slot.alive.load(Ordering::SeqCst) {
        shared.count(EARLY_CANCEL, 1);
        while slot.alive.load(Ordering::SeqCst) {
            goro::time::sleep(Duration::from_millis(1)).await;
        }
    }
    replace
}

async fn chaos(conn: Arc<Conn>, shared: Arc<Shared>, seed: u64, run_for: Duration) {
    let mut rng = Rng(seed);
    let close_at = conn
        .id
        .is_multiple_of(10)
        .then(|| Instant::now() + run_for.mul_f64(0.1 + 0.8 * (rng.below(1000) as f64 / 1000.0)));
    let close_end = rng.below(2) as usize;
    while !shared.stop.load(Ordering::SeqCst) {
        let nap = Duration::from_millis(20 + rng.below(180));
        let slept = Instant::now();
        goro::time::sleep(nap).await;
        let late = slept.elapsed().saturating_sub(nap).as_millis() as u64;
        shared.count(ACTIONS, 1);
        shared.count(LATE_MS, late);
        shared.stats[MAX_LATE_MS].fetch_max(late, Ordering::Relaxed);
        let i = rng.below(2) as usize;
        let end = &conn.ends[i];
        match rng.below(100) {
            0..=29 => {
                // A read or write deadline: past, soon, or later.
                let at = match rng.below(3) {
                    0 => Instant::now() - Duration::from_millis(1),
                    1 => Instant::now() + Duration::from_millis(rng.below(30)),
                    _ => Instant::now() + Duration::from_secs(60),
                };
                end.had_deadline.store(true, Ordering::SeqCst);
                let r = match rng.below(3) {
                    0 => end.stream.set_read_deadline(Some(at)),
                    1 => end.stream.set_write_deadline(Some(at)),
                    _ => end.stream.set_deadline(Some(at)),
                };
                shared.count(DEADLINES, 1);
                if let Err(e) = r {
                    conn.judge(&shared, i, "set_deadline", &e);
                }
            }
            30..=54 => {
                if let Err(e) = end.stream.set_deadline(None) {
                    conn.judge(&shared, i, "clear deadline", &e);
                }
            }
            55..=74 => {
                if abort(&conn.readers[i], &shared, "reader").await {
                    start_reader(&conn, &shared, i, rng.next());
                }
            }
            75..=94 => {
                if abort(&conn.writers[i], &shared, "writer").await {
                    start_writer(&conn, &shared, i, rng.next());
                }
            }
            95..=96 => {
                let ms = rng.below(3);
                goro::task::block_in_place(|| std::thread::sleep(Duration::from_millis(ms)));
                shared.count(BLOCKING, 1);
            }
            97..=98 => {
                let x = rng.next();
                let h = goro::spawn_blocking(move || {
                    std::thread::sleep(Duration::from_millis(1));
                    mix(x)
                });
                match h.await {
                    Ok(v) if v == mix(x) => shared.count(BLOCKING, 1),
                    other => shared.fail(format!("spawn_blocking returned {other:?}")),
                }
            }
            _ => goro::task::yield_now().await,
        }
        // Every tenth connection has one end closed from outside at a
        // random moment, while its tasks may be blocked on it: they must
        // end with NotConnected, the peer's with end of stream or a reset.
        if close_at.is_some_and(|at| Instant::now() >= at) {
            let end = &conn.ends[close_end];
            end.closed.store(true, Ordering::SeqCst);
            shared.count(CLOSES, 1);
            if let Err(e) = end.stream.close() {
                shared.fail(format!(
                    "conn {} end {close_end}: close failed: {e}",
                    conn.id
                ));
            }
            break;
        }
    }
    // Leave no deadline behind, so the wind-down is not stuck on timeouts.
    for (i, end) in conn.ends.iter().enumerate() {
        if !end.closed.load(Ordering::SeqCst)
            && let Err(e) = end.stream.set_deadline(None)
        {
            conn.judge(&shared, i, "clear deadline", &e);
        }
    }
}

/// A connected pair through `listener`.
async fn pair(listener: &TcpListener) -> (TcpStream, TcpStream) {
    let addr = listener.local_addr().unwrap();
    let (c, a) = futures::join!(TcpStream::connect(addr), listener.accept());
    (c.unwrap(), a.unwrap().0)
}

#[test]
fn chaos_soak_1000_connections() {
    let seed = env_u64("GORO_CHAOS_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    });
    let secs = env_u64("GORO_CHAOS_SECS").unwrap_or(15);
    eprintln!("chaos seed: {seed}, {secs} s (set GORO_CHAOS_SEED / GORO_CHAOS_SECS to replay)");

    let fds_before = open_fds();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(|| run(seed, secs)));
    });
    let limit = Duration::from_secs(secs) + WIND_DOWN + Duration::from_secs(60);
    match rx.recv_timeout(limit) {
        Ok(Ok(())) => {}
        Ok(Err(p)) => std::panic::resume_unwind(p),
        Err(_) => panic!("chaos run hung for {limit:?} (seed {seed})"),
    }
    let start = Instant::now();
    while open_fds() != fds_before && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(open_fds(), fds_before, "fds leaked (seed {seed})");
}

fn run(seed: u64, secs: u64) {
    let rt = Runtime::builder().worker_threads(2).build().unwrap();
    let shared = Arc::new(Shared {
        seed,
        stop: AtomicBool::new(false),
        failures: Mutex::new(Vec::new()),
        stats: Default::default(),
    });
    let sh = shared.clone();
    let leftover = rt.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let descriptors_before = goro::runtime::Handle::current().metrics().descriptors;
        let mut rng = Rng(seed);
        let mut conns = Vec::new();
        let mut chaos_tasks = Vec::new();
        for id in 0..CONNECTIONS {
            let (a, b) = pair(&listener).await;
            let end = |stream| End {
                stream,
                closed: AtomicBool::new(false),
                had_deadline: AtomicBool::new(false),
            };
            let conn = Arc::new(Conn {
                id,
                ends: [end(a), end(b)],
                written: Default::default(),
                read: Default::default(),
                readers: Default::default(),
                writers: Default::default(),
            });
            for i in 0..2 {
                start_reader(&conn, &sh, i, rng.next());
                start_writer(&conn, &sh, i, rng.next());
            }
            chaos_tasks.push(goro::spawn(chaos(
                conn.clone(),
                sh.clone(),
                rng.next(),
                Duration::from_secs(secs),
            )));
            conns.push(conn);
        }
        goro::time::sleep(Duration::from_secs(secs)).await;
        sh.stop.store(true, Ordering::SeqCst);

        // Wind-down: every task must finish on its own.
        let wind_down = Instant::now();
        let deadline = wind_down + WIND_DOWN;
        for h in chaos_tasks {
            join(h, deadline, &sh, "chaos").await;
        }
        for conn in &conns {
            for i in 0..2 {
                for (slot, what) in [(&conn.writers[i], "writer"), (&conn.readers[i], "reader")] {
                    let h = slot.handle.lock().unwrap().take();
                    if let Some(h) = h {
                        join(h, deadline, &sh, &format!("conn {} {what} {i}", conn.id)).await;
                    }
                }
            }
        }
        eprintln!("wind-down took {:?}", wind_down.elapsed());
        drop(conns);
        let descriptors_after = goro::runtime::Handle::current().metrics().descriptors;
        if descriptors_after != descriptors_before {
            sh.fail(format!(
                "descriptors: {descriptors_before} before, {descriptors_after} after"
            ));
        }
        // Leave work parked on sockets and timers for the runtime drop.
        let mut parked = Vec::new();
        for _ in 0..50 {
            let (a, b) = pair(&listener).await;
            parked.push(goro::spawn(async move {
                let mut buf = [0u8; 8];
                let _ = a.read(&mut buf).await;
                drop(b);
            }));
            parked.push(goro::spawn(goro::time::sleep(Duration::from_secs(3600))));
        }
        (listener, parked)
    });
    let start = Instant::now();
    drop(rt);
    let took = start.elapsed();
    drop(leftover);
    let stats: Vec<u64> = shared
        .stats
        .iter()
        .map(|s| s.load(Ordering::Relaxed))
        .collect();
    eprintln!(
        "chaos: {} ops, {} timeouts, {} aborts ({} awaited before the task stopped), {} closes, {} deadlines set, {} blocking jobs, {} MB checked; runtime drop {took:?}",
        stats[OPS],
        stats[TIMEOUTS],
        stats[ABORTS],
        stats[EARLY_CANCEL],
        stats[CLOSES],
        stats[DEADLINES],
        stats[BLOCKING],
        stats[BYTES] >> 20
    );
    eprintln!(
        "chaos: {} actions, sleeps late by {} ms on average, {} ms at most",
        stats[ACTIONS],
        stats[LATE_MS] / stats[ACTIONS].max(1),
        stats[MAX_LATE_MS]
    );
    let failures = shared.failures.lock().unwrap().clone();
    assert!(failures.is_empty(), "chaos failures: {failures:#?}");
    assert!(
        took < Duration::from_secs(1),
        "runtime drop took {took:?} (seed {seed})"
    );
    // The run did what it says: bytes flowed and each kind of chaos happened.
    for (stat, name) in [
        (TIMEOUTS, "timeouts"),
        (ABORTS, "aborts"),
        (CLOSES, "closes"),
        (BLOCKING, "blocking jobs"),
    ] {
        assert!(stats[stat] > 0, "no {name} happened (seed {seed})");
    }
    assert!(stats[BYTES] > 1 << 20, "under 1 MB flowed (seed {seed})");
}

async fn join(h: JoinHandle<()>, deadline: Instant, shared: &Shared, what: &str) {
    let left = deadline.saturating_duration_since(Instant::now());
    match goro::time::timeout(left, h).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) if e.is_cancelled() => {}
        Ok(Err(e)) => shared.fail(format!("{what} failed: {e}")),
        Err(_) => shared.fail(format!("{what} still running {WIND_DOWN:?} after stop")),
    }
}
