//! Zero-length buffers return at once (the stream module's promise, and
//! std's and tokio's behaviour) — also while another task holds the
//! direction's lock. `read_exact` and `write_all` hold that lock for their
//! whole transfer, so a zero-length one that queued for it would wait as
//! long as the other task's read (for data that may never come) or write
//! (for a peer that does not read).

mod support;

use goro::net::{TcpStream, UnixStream};
use goro::time::{sleep, timeout};
use std::sync::Arc;
use std::time::Duration;
use support::hang::run;
use support::net::tcp_pair;

const PROMPT: Duration = Duration::from_secs(5);

/// Fills the send buffer of `s` (the peer does not read), from a task
/// that stays parked in `write_all` holding the write lock.
async fn park_a_writer<S: Send + Sync + 'static>(
    s: &Arc<S>,
    write_all: fn(Arc<S>) -> goro::JoinHandle<()>,
) -> goro::JoinHandle<()> {
    let h = write_all(s.clone());
    sleep(Duration::from_millis(100)).await;
    assert!(!h.is_finished(), "the writer did not block");
    h
}

#[test]
fn tcp_zero_length_read_exact_and_write_all_do_not_queue_behind_the_lock() {
    run(async {
        let (c, s) = tcp_pair().await;
        let c = Arc::new(c);
        // A reader parked in `read_exact` (holding the read lock).
        let reader = {
            let c = c.clone();
            goro::spawn(async move {
                let mut b = [0u8; 4];
                let _ = c.read_exact(&mut b).await;
            })
        };
        sleep(Duration::from_millis(50)).await;
        timeout(PROMPT, c.read_exact(&mut []))
            .await
            .expect("a zero-length read_exact waited for another reader")
            .unwrap();

        let writer = park_a_writer(&c, |c: Arc<TcpStream>| {
            goro::spawn(async move {
                let _ = c.write_all(&vec![0u8; 64 << 20]).await;
            })
        })
        .await;
        timeout(PROMPT, c.write_all(&[]))
            .await
            .expect("a zero-length write_all waited for another writer")
            .unwrap();
        c.close().unwrap();
        reader.await.unwrap();
        writer.await.unwrap();
        drop(s);
    });
}

#[test]
fn unix_zero_length_read_exact_and_write_all_do_not_queue_behind_the_lock() {
    run(async {
        let (a, _b) = UnixStream::pair().unwrap();
        let a = Arc::new(a);
        let reader = {
            let a = a.clone();
            goro::spawn(async move {
                let mut b = [0u8; 4];
                let _ = a.read_exact(&mut b).await;
            })
        };
        sleep(Duration::from_millis(50)).await;
        timeout(PROMPT, a.read_exact(&mut []))
            .await
            .expect("a zero-length read_exact waited for another reader")
            .unwrap();
        let writer = park_a_writer(&a, |a: Arc<UnixStream>| {
            goro::spawn(async move {
                let _ = a.write_all(&vec![0u8; 64 << 20]).await;
            })
        })
        .await;
        timeout(PROMPT, a.write_all(&[]))
            .await
            .expect("a zero-length write_all waited for another writer")
            .unwrap();
        a.close().unwrap();
        reader.await.unwrap();
        writer.await.unwrap();
    });
}
