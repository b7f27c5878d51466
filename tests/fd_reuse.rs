//! fd-number reuse churn: sockets are closed while other tasks wait on them,
//! and their fd numbers are reused at once by new sockets in other tasks.
//! Every message carries its connection's id; no task may ever see another
//! connection's bytes, a task woken on a closed socket must fail with
//! `NotConnected` (not read from whatever now has that fd number), and
//! nothing may hang.

mod support;

use futures::io::AsyncReadExt;
use goro::io::PollFd;
use goro::net::{TcpListener, TcpStream};
use std::collections::{HashMap, HashSet};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::hang::run_within;

/// A test that takes longer than this has hung.
const HANG: Duration = Duration::from_secs(240);
/// Frame: connection id, then a sequence number.
const FRAME: usize = 16;

fn frame(id: u64, seq: u64) -> [u8; FRAME] {
    let mut f = [0u8; FRAME];
    f[..8].copy_from_slice(&id.to_le_bytes());
    f[8..].copy_from_slice(&seq.to_le_bytes());
    f
}

fn tag(f: &[u8; FRAME]) -> u64 {
    u64::from_le_bytes(f[..8].try_into().unwrap())
}

/// Per connection: read the 8-byte id, then answer every request byte with
/// four frames tagged with that id.
async fn serve(s: TcpStream) {
    let mut id = [0u8; 8];
    if s.read_exact(&mut id).await.is_err() {
        return;
    }
    let id = u64::from_le_bytes(id);
    let mut seq = 0;
    let mut req = [0u8; 64];
    loop {
        let n = match s.read(&mut req).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let mut out = Vec::with_capacity(n * 4 * FRAME);
        for _ in 0..n * 4 {
            out.extend_from_slice(&frame(id, seq));
            seq += 1;
        }
        if s.write_all(&out).await.is_err() {
            return;
        }
    }
}

/// Which fd numbers were used, and how often a number was handed to a new
/// socket while a task was still waiting on the closed one.
#[derive(Default)]
struct FdLog {
    uses: Mutex<HashMap<i32, usize>>,
    /// Closed fds whose waiting task has not finished yet.
    pending: Mutex<HashSet<i32>>,
    reused_while_waiting: AtomicUsize,
}

impl FdLog {
    fn opened(&self, fd: i32) {
        *self.uses.lock().unwrap().entry(fd).or_default() += 1;
        if self.pending.lock().unwrap().contains(&fd) {
            self.reused_while_waiting.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[test]
fn closed_and_reused_fds_never_cross_talk() {
    const WORKERS: u64 = 6;
    const ITERS: u64 = 1_000;
    run_within(HANG, async {
        let l = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
        let addr = l.local_addr().unwrap();
        let l2 = l.clone();
        let server = goro::spawn(async move {
            let mut incoming = l2.incoming();
            while let Some(Ok(s)) = incoming.next().await {
                goro::spawn(serve(s));
            }
        });
        let next_id = Arc::new(AtomicU64::new(1));
        let log = Arc::new(FdLog::default());
        let frames_seen = Arc::new(AtomicU64::new(0));
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let (next_id, log, frames_seen) =
                    (next_id.clone(), log.clone(), frames_seen.clone());
                goro::spawn(async move {
                    for i in 0..ITERS {
                        let id = next_id.fetch_add(1, Ordering::Relaxed);
                        let c = Arc::new(TcpStream::connect(addr).await.unwrap());
                        let fd = c.as_raw_fd();
                        log.opened(fd);
                        c.write_all(&id.to_le_bytes()).await.unwrap();
                        // The waiting task: the inherent read_exact (holds
                        // the read lock, so the fd stays open until it
                        // returns) or the stateless futures read_exact
                        // (holds nothing: the fd is closed at once and its
                        // number may be reused while the task still waits).
                        let stateless = (w + i) % 2 == 1;
                        let c2 = c.clone();
                        let seen = frames_seen.clone();
                        let reader = goro::spawn(async move {
                            let mut f = [0u8; FRAME];
                            let mut n = 0u64;
                            loop {
                                let r = if stateless {
                                    (&mut &*c2).read_exact(&mut f).await
                                } else {
                                    c2.read_exact(&mut f).await
                                };
                                match r {
                                    Ok(()) => {
                                        assert_eq!(
                                            tag(&f),
                                            id,
                                            "connection {id} (fd {fd}) read a frame of \
                                             connection {}",
                                            tag(&f)
                                        );
                                        assert_eq!(
                                            u64::from_le_bytes(f[8..].try_into().unwrap()),
                                            n
                                        );
                                        n += 1;
                                        seen.fetch_add(1, Ordering::Relaxed);
                                    }
                                    Err(e) => return e,
                                }
                            }
                        });
                        for _ in 0..(i % 3 + i % 2) {
                            c.write_all(&[1]).await.unwrap();
                        }
                        // Close at varying moments: before the answers,
                        // while they arrive, after the reader parks again.
                        match i % 4 {
                            0 => {}
                            1 => goro::task::yield_now().await,
                            2 => goro::time::sleep(Duration::from_micros(300)).await,
                            _ => goro::time::sleep(Duration::from_millis(2)).await,
                        }
                        log.pending.lock().unwrap().insert(fd);
                        c.close().unwrap();
                        let e = goro::time::timeout(Duration::from_secs(30), reader)
                            .await
                            .unwrap_or_else(|_| {
                                panic!("reader of connection {id} hung after close")
                            })
                            .unwrap();
                        log.pending.lock().unwrap().remove(&fd);
                        assert_eq!(
                            e.kind(),
                            io::ErrorKind::NotConnected,
                            "connection {id}: reader ended with {e}"
                        );
                    }
                })
            })
            .collect();
        for w in workers {
            w.await.unwrap();
        }
        l.close().unwrap();
        server.await.unwrap();

        let uses = log.uses.lock().unwrap();
        let total: usize = uses.values().sum();
        let most = uses.values().copied().max().unwrap_or(0);
        eprintln!(
            "{total} connections on {} distinct fd numbers (most reused: {most} times); \
             {} reuses while a task still waited on the closed socket; {} frames checked",
            uses.len(),
            log.reused_while_waiting.load(Ordering::Relaxed),
            frames_seen.load(Ordering::Relaxed),
        );
        assert_eq!(total as u64, WORKERS * ITERS);
        assert!(most >= 2, "fd numbers were never reused");
        assert!(uses.len() < total / 4, "fd numbers were rarely reused");
    });
}

#[test]
fn reused_fds_under_pollfd_never_cross_talk() {
    // PollFd over std Unix socket pairs: pairs are created and dropped by
    // several tasks at once, so fd numbers and descriptors are recycled
    // constantly; each pair carries frames tagged with its own id.
    const WORKERS: u64 = 6;
    const ITERS: u64 = 500;
    run_within(HANG, async {
        let next_id = Arc::new(AtomicU64::new(1));
        let uses = Arc::new(Mutex::new(HashMap::<i32, usize>::new()));
        let workers: Vec<_> = (0..WORKERS)
            .map(|_| {
                let (next_id, uses) = (next_id.clone(), uses.clone());
                goro::spawn(async move {
                    for i in 0..ITERS {
                        let id = next_id.fetch_add(1, Ordering::Relaxed);
                        let (a, b) = StdUnixStream::pair().unwrap();
                        let a = Arc::new(PollFd::new(a).unwrap());
                        let b = PollFd::new(b).unwrap();
                        *uses.lock().unwrap().entry(a.as_raw_fd()).or_default() += 1;
                        let a2 = a.clone();
                        let frames = i % 5;
                        let reader = goro::spawn(async move {
                            let mut got = 0;
                            let mut f = [0u8; FRAME];
                            while got < frames {
                                let mut filled = 0;
                                while filled < FRAME {
                                    let n = a2
                                        .read_with(|mut s| s.read(&mut f[filled..]))
                                        .await
                                        .unwrap();
                                    assert!(n > 0, "EOF inside a frame");
                                    filled += n;
                                }
                                assert_eq!(
                                    tag(&f),
                                    id,
                                    "pair {id} read a frame of pair {}",
                                    tag(&f)
                                );
                                got += 1;
                            }
                        });
                        for seq in 0..frames {
                            let f = frame(id, seq);
                            // Split the frame so the reader parks mid-frame.
                            b.write_with(|mut s| s.write_all(&f[..5])).await.unwrap();
                            goro::task::yield_now().await;
                            b.write_with(|mut s| s.write_all(&f[5..])).await.unwrap();
                        }
                        goro::time::timeout(Duration::from_secs(30), reader)
                            .await
                            .unwrap_or_else(|_| panic!("pair {id}: reader hung"))
                            .unwrap();
                        drop(b);
                        drop(a);
                    }
                })
            })
            .collect();
        for w in workers {
            w.await.unwrap();
        }
        let uses = uses.lock().unwrap();
        let most = uses.values().copied().max().unwrap_or(0);
        eprintln!(
            "{} pairs on {} distinct fd numbers (most reused: {most} times)",
            WORKERS * ITERS,
            uses.len()
        );
        assert!(most >= 2, "fd numbers were never reused");
    });
}
