//! Several tasks using one `TcpStream` through `Arc<TcpStream>`:
//!
//! - concurrent `write_all`s never interleave their bytes (Go's `fd.Write`
//!   holds the write lock for the whole buffer);
//! - concurrent `read_exact`s each get whole frames;
//! - the stateless `AsyncRead`/`AsyncWrite for &TcpStream` path, used from
//!   several tasks at once (and mixed with the inherent methods), never
//!   hangs or loses a wake-up: all data arrives, within an overall timeout.

mod support;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use std::collections::BTreeSet;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::data::Rng;
use support::hang::run;
use support::net::tcp_pair;

#[test]
fn concurrent_write_all_never_interleaves() {
    const WRITERS: usize = 8;
    const MIB: usize = 1 << 20;
    run(async {
        for round in 0..3 {
            let (c, s) = tcp_pair().await;
            let c = Arc::new(c);
            // Buffers are built here, not in the tasks (see deadlines.rs).
            let writers: Vec<_> = (0..WRITERS)
                .map(|i| {
                    let c = c.clone();
                    let buf = vec![i as u8 + 1; MIB];
                    goro::spawn(async move { c.write_all(&buf).await })
                })
                .collect();
            let mut seen = BTreeSet::new();
            let mut block = vec![0u8; MIB];
            for _ in 0..WRITERS {
                s.read_exact(&mut block).await.unwrap();
                let tag = block[0];
                if let Some(at) = block.iter().position(|&b| b != tag) {
                    panic!(
                        "round {round}: block of {tag} interleaved with {} at offset {at}",
                        block[at]
                    );
                }
                assert!(seen.insert(tag), "round {round}: block {tag} twice");
            }
            assert_eq!(seen, (1..=WRITERS as u8).collect::<BTreeSet<_>>());
            for w in writers {
                w.await.unwrap().unwrap();
            }
        }
    });
}

#[test]
fn concurrent_write_all_of_uneven_frames_never_interleaves() {
    // Frames of different lengths (so boundaries never line up with socket
    // buffer sizes): [tag][len: u32 LE][len bytes of tag].
    const WRITERS: usize = 6;
    const FRAMES: usize = 8;
    run(async {
        let (c, s) = tcp_pair().await;
        let c = Arc::new(c);
        let writers: Vec<_> = (0..WRITERS)
            .map(|i| {
                let c = c.clone();
                let frames: Vec<Vec<u8>> = (0..FRAMES)
                    .map(|k| {
                        let tag = (i * FRAMES + k) as u8 + 1;
                        let len = 200_000 + 4099 * (i * FRAMES + k);
                        let mut f = Vec::with_capacity(len + 5);
                        f.push(tag);
                        f.extend_from_slice(&(len as u32).to_le_bytes());
                        f.resize(len + 5, tag);
                        f
                    })
                    .collect();
                goro::spawn(async move {
                    for f in &frames {
                        c.write_all(f).await?;
                        goro::task::yield_now().await;
                    }
                    io::Result::Ok(())
                })
            })
            .collect();
        let mut seen = BTreeSet::new();
        let mut payload = Vec::new();
        for _ in 0..WRITERS * FRAMES {
            let mut header = [0u8; 5];
            s.read_exact(&mut header).await.unwrap();
            let tag = header[0];
            let len = u32::from_le_bytes(header[1..].try_into().unwrap()) as usize;
            assert_eq!(
                len,
                200_000 + 4099 * (tag as usize - 1),
                "header of frame {tag} corrupted (interleaved)"
            );
            payload.resize(len, 0);
            s.read_exact(&mut payload).await.unwrap();
            if let Some(at) = payload.iter().position(|&b| b != tag) {
                panic!(
                    "frame {tag} interleaved with {} at offset {at}",
                    payload[at]
                );
            }
            assert!(seen.insert(tag), "frame {tag} twice");
        }
        assert_eq!(seen.len(), WRITERS * FRAMES);
        for w in writers {
            w.await.unwrap().unwrap();
        }
    });
}

#[test]
fn concurrent_read_exact_gets_whole_frames() {
    const FRAME: usize = 1024;
    const FRAMES: u32 = 4_000;
    const READERS: usize = 6;
    run(async {
        let (c, s) = tcp_pair().await;
        let c = Arc::new(c);
        let got = Arc::new(Mutex::new(Vec::new()));
        let readers: Vec<_> = (0..READERS)
            .map(|_| {
                let c = c.clone();
                let got = got.clone();
                goro::spawn(async move {
                    let mut f = [0u8; FRAME];
                    let mut mine = 0u32;
                    loop {
                        match c.read_exact(&mut f).await {
                            Ok(()) => {}
                            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return mine,
                            Err(e) => panic!("read_exact: {e}"),
                        }
                        let id = u32::from_le_bytes(f[..4].try_into().unwrap());
                        let fill = (id % 251) as u8;
                        if let Some(at) = f[4..].iter().position(|&b| b != fill) {
                            panic!("frame {id} torn at offset {}", at + 4);
                        }
                        got.lock().unwrap().push(id);
                        mine += 1;
                    }
                })
            })
            .collect();
        // The sender cuts the stream at random points, often mid-frame, and
        // pauses now and then so readers park with a partial frame.
        let mut stream = Vec::with_capacity(FRAME * FRAMES as usize);
        for id in 0..FRAMES {
            stream.extend_from_slice(&id.to_le_bytes());
            stream.resize(stream.len() + FRAME - 4, (id % 251) as u8);
        }
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut at = 0;
        while at < stream.len() {
            let n = (1 + rng.below(3 * FRAME as u64) as usize).min(stream.len() - at);
            s.write_all(&stream[at..at + n]).await.unwrap();
            at += n;
            match rng.below(8) {
                0 => goro::time::sleep(Duration::from_micros(200)).await,
                1 => goro::task::yield_now().await,
                _ => {}
            }
        }
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut per_reader = Vec::new();
        for r in readers {
            per_reader.push(r.await.unwrap());
        }
        let mut ids = got.lock().unwrap().clone();
        ids.sort_unstable();
        assert_eq!(
            ids,
            (0..FRAMES).collect::<Vec<_>>(),
            "frames lost or duplicated"
        );
        eprintln!("frames per reader: {per_reader:?}");
    });
}

/// What one reader saw: bytes and their sum.
#[derive(Default)]
struct Tally {
    bytes: AtomicU64,
    sum: AtomicU64,
}

impl Tally {
    fn add(&self, data: &[u8]) {
        self.bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
        let s: u64 = data.iter().map(|&b| u64::from(b)).sum();
        self.sum.fetch_add(s, Ordering::Relaxed);
    }
}

#[test]
fn stateless_reads_from_many_tasks_never_hang() {
    const ROUNDS: u64 = 200;
    const READERS: usize = 6;
    run(async {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        for round in 0..ROUNDS {
            let (c, s) = tcp_pair().await;
            let c = Arc::new(c);
            let tally = Arc::new(Tally::default());
            let readers: Vec<_> = (0..READERS)
                .map(|k| {
                    let c = c.clone();
                    let tally = tally.clone();
                    goro::spawn(async move {
                        let mut buf = vec![0u8; 1 + k * 700];
                        loop {
                            // Mixed forms: the stateless path from most
                            // tasks, the inherent (lock-holding) read from
                            // the others (none of them in odd rounds).
                            // `readable()` is left out: see
                            // `readable_returns_while_data_is_buffered`.
                            let n = if k % 3 == 2 && round % 2 == 0 {
                                c.read(&mut buf).await
                            } else {
                                (&mut &*c).read(&mut buf).await
                            }
                            .unwrap();
                            if n == 0 {
                                return;
                            }
                            tally.add(&buf[..n]);
                        }
                    })
                })
                .collect();
            let total = 64 * 1024 + rng.below(512 * 1024);
            let mut sent_sum = 0u64;
            let mut sent = 0u64;
            while sent < total {
                let n = (1 + rng.below(16 * 1024)).min(total - sent);
                let chunk: Vec<u8> = (0..n).map(|i| ((sent + i) % 253) as u8).collect();
                sent_sum += chunk.iter().map(|&b| u64::from(b)).sum::<u64>();
                s.write_all(&chunk).await.unwrap();
                sent += n;
                match rng.below(6) {
                    // Pauses make every reader park, so the next write has
                    // to wake them.
                    0 => goro::time::sleep(Duration::from_micros(300)).await,
                    1 => goro::task::yield_now().await,
                    _ => {}
                }
            }
            s.shutdown(std::net::Shutdown::Write).unwrap();
            for r in readers {
                goro::time::timeout(Duration::from_secs(30), r)
                    .await
                    .unwrap_or_else(|_| panic!("round {round}: a reader never saw EOF"))
                    .unwrap();
            }
            assert_eq!(tally.bytes.load(Ordering::Relaxed), total, "round {round}");
            assert_eq!(tally.sum.load(Ordering::Relaxed), sent_sum, "round {round}");
        }
    });
}

#[test]
fn stateless_writes_from_many_tasks_never_hang() {
    const WRITERS: usize = 6;
    const EACH: usize = 2 << 20;
    run(async {
        let (c, s) = tcp_pair().await;
        let c = Arc::new(c);
        let writers: Vec<_> = (0..WRITERS)
            .map(|k| {
                let c = c.clone();
                let data = vec![k as u8 + 1; EACH];
                goro::spawn(async move {
                    let mut off = 0;
                    let mut step = 1 + k * 3000;
                    while off < data.len() {
                        let end = (off + step).min(data.len());
                        (&mut &*c).write_all(&data[off..end]).await?;
                        off = end;
                        step = step * 7 % 50_000 + 1;
                    }
                    io::Result::Ok(())
                })
            })
            .collect();
        // Read slowly at first, so writers fill the buffer and park.
        goro::time::sleep(Duration::from_millis(100)).await;
        let mut counts = [0usize; WRITERS];
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0;
        while total < WRITERS * EACH {
            let n = s.read(&mut buf).await.unwrap();
            assert!(n > 0, "EOF after {total} bytes");
            for &b in &buf[..n] {
                counts[(b - 1) as usize] += 1;
            }
            total += n;
        }
        assert_eq!(counts, [EACH; WRITERS]);
        for w in writers {
            w.await.unwrap().unwrap();
        }
    });
}

#[test]
fn readers_and_writers_share_one_stream_full_duplex() {
    // Two tasks write frames and two read frames on the same stream while
    // the peer echoes; nothing may hang and every frame comes back whole.
    const FRAME: usize = 512;
    const PER_WRITER: u32 = 1_000;
    run(async {
        let (c, s) = tcp_pair().await;
        let echo = goro::spawn(async move {
            let mut buf = vec![0u8; 1 << 15];
            loop {
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    return;
                }
                s.write_all(&buf[..n]).await.unwrap();
            }
        });
        let c = Arc::new(c);
        let writers: Vec<_> = (0..2u32)
            .map(|w| {
                let c = c.clone();
                goro::spawn(async move {
                    for i in 0..PER_WRITER {
                        let id = w * PER_WRITER + i;
                        let mut f = vec![(id % 251) as u8; FRAME];
                        f[..4].copy_from_slice(&id.to_le_bytes());
                        c.write_all(&f).await.unwrap();
                    }
                })
            })
            .collect();
        let got = Arc::new(Mutex::new(Vec::new()));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let c = c.clone();
                let got = got.clone();
                goro::spawn(async move {
                    let mut f = [0u8; FRAME];
                    loop {
                        match c.read_exact(&mut f).await {
                            Ok(()) => {}
                            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return,
                            Err(e) => panic!("{e}"),
                        }
                        let id = u32::from_le_bytes(f[..4].try_into().unwrap());
                        assert!(
                            f[4..].iter().all(|&b| b == (id % 251) as u8),
                            "torn frame {id}"
                        );
                        let mut g = got.lock().unwrap();
                        g.push(id);
                        if g.len() == 2 * PER_WRITER as usize {
                            // Everything is back: end the echo.
                            c.shutdown(std::net::Shutdown::Write).unwrap();
                        }
                    }
                })
            })
            .collect();
        for w in writers {
            w.await.unwrap();
        }
        for r in readers {
            r.await.unwrap();
        }
        echo.await.unwrap();
        let mut ids = got.lock().unwrap().clone();
        ids.sort_unstable();
        assert_eq!(ids, (0..2 * PER_WRITER).collect::<Vec<_>>());
    });
}

/// `readable()` / `writable()` consume the slot's one-shot readiness token
/// (`Fd::poll_ready` -> `PollDesc::poll_wait`), and nothing puts it back
/// when the I/O that follows does not drain the socket. So a second
/// `readable()` parks until the *next* edge even though data (or EOF) is
/// still buffered — with no more data coming, forever. Go never waits
/// without having seen `EAGAIN`; tokio keeps readiness set until an
/// operation returns `WouldBlock`. Either rule (or checking the fd's
/// current readiness with a zero-timeout `poll(2)` before parking) would
/// fix it. The same holds for `writable()` and for `PollFd`.
#[test]
fn readable_returns_while_data_is_buffered() {
    run(async {
        let (c, s) = tcp_pair().await;
        s.write_all(&[7u8; 100]).await.unwrap();
        goro::time::sleep(Duration::from_millis(50)).await;
        c.readable().await.unwrap();
        let mut b = [0u8; 10];
        assert_eq!(c.read(&mut b).await.unwrap(), 10);
        // 90 bytes are still buffered.
        goro::time::timeout(Duration::from_secs(5), c.readable())
            .await
            .expect("readable() hung with 90 bytes buffered")
            .unwrap();
        // Writable twice in a row on an idle connection.
        c.writable().await.unwrap();
        goro::time::timeout(Duration::from_secs(5), c.writable())
            .await
            .expect("writable() hung on an empty send buffer")
            .unwrap();
        // PollFd: the same.
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        let a = goro::io::PollFd::new(a).unwrap();
        io::Write::write_all(&mut b, b"hello").unwrap();
        a.readable().await.unwrap();
        goro::time::timeout(Duration::from_secs(5), a.readable())
            .await
            .expect("PollFd::readable() hung with 5 bytes buffered")
            .unwrap();
    });
}

#[test]
fn cancelled_operations_release_their_locks() {
    // A read (or write) dropped while it waits holding the direction's
    // lock (here: by a timeout) must release it, or every later operation
    // on the socket hangs.
    run(async {
        let (c, s) = tcp_pair().await;
        let c = Arc::new(c);
        for i in 0..200u32 {
            let mut b = [0u8; 4];
            let wait = Duration::from_micros(u64::from(i % 4) * 500);
            assert!(
                goro::time::timeout(wait, c.read(&mut b)).await.is_err(),
                "read returned with no data"
            );
        }
        // Several tasks cancel reads concurrently while one keeps reading.
        let cancellers: Vec<_> = (0..4)
            .map(|_| {
                let c = c.clone();
                goro::spawn(async move {
                    let mut b = [0u8; 4];
                    for _ in 0..100 {
                        let _ =
                            goro::time::timeout(Duration::from_micros(300), c.read(&mut b)).await;
                    }
                })
            })
            .collect();
        for h in cancellers {
            h.await.unwrap();
        }
        s.write_all(b"ping").await.unwrap();
        let mut b = [0u8; 4];
        goro::time::timeout(Duration::from_secs(10), c.read_exact(&mut b))
            .await
            .expect("the read lock was never released")
            .unwrap();
        assert_eq!(&b, b"ping");

        // The same for writes: fill the buffers, cancel a blocked write_all,
        // drain, and write again.
        let big = vec![1u8; 16 << 20];
        assert!(
            goro::time::timeout(Duration::from_millis(300), c.write_all(&big))
                .await
                .is_err(),
            "16 MiB fit in the socket buffers"
        );
        let drain = goro::spawn(async move {
            let mut buf = vec![0u8; 1 << 16];
            let mut tail = Vec::new();
            loop {
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    return tail;
                }
                tail.extend_from_slice(&buf[..n]);
                let cut = tail.len().saturating_sub(4);
                tail.drain(..cut);
            }
        });
        goro::time::timeout(Duration::from_secs(10), c.write_all(b"done"))
            .await
            .expect("the write lock was never released")
            .unwrap();
        c.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(drain.await.unwrap(), b"done");
    });
}
