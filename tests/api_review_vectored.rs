//! Vectored reads and writes with more slices than the kernel takes in one
//! call (`IOV_MAX`, 1024 on Linux).
//!
//! Only the first 1024 slices reach `readv`/`sendmsg`, so a transfer that
//! fills (or empties) all of *those* is complete, not short: it proves
//! nothing about the kernel buffer. If the stream took it as "drained"
//! (readiness cleared), the next operation would park waiting for an edge
//! that never comes: a silent peer's unread bytes would never be read, and
//! a write to an idle peer would never start.

mod support;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use goro::net::UnixStream;
use goro::time::timeout;
use std::io::{IoSlice, IoSliceMut};
use std::time::Duration;
use support::hang::run;
use support::net::tcp_pair;

/// Far more than enough for a syscall on loopback; only a hang exceeds it.
const PROMPT: Duration = Duration::from_secs(10);

/// Lets the poller take in the events already queued for the sockets, so
/// that the transfer under test is not followed by a late edge that would
/// hide the bug.
async fn settle() {
    goro::time::sleep(Duration::from_millis(50)).await;
}

#[test]
fn tcp_read_vectored_past_iov_max_keeps_the_rest_readable() {
    run(async {
        let (c, s) = tcp_pair().await;
        c.write_all(&[7u8; 3000]).await.unwrap();
        // Wait until everything has arrived, so one readv could take it all.
        let mut probe = [0u8; 3000];
        loop {
            let n = timeout(PROMPT, s.peek(&mut probe)).await.unwrap().unwrap();
            if n == 3000 {
                break;
            }
            goro::time::sleep(Duration::from_millis(1)).await;
        }
        settle().await;
        let mut bytes = vec![0u8; 2000];
        let mut s_ref = &s;
        let n = {
            let mut slices: Vec<IoSliceMut<'_>> =
                bytes.chunks_mut(1).map(IoSliceMut::new).collect();
            timeout(PROMPT, s_ref.read_vectored(&mut slices))
                .await
                .expect("read_vectored hung")
                .unwrap()
        };
        assert!(n > 0 && n <= 2000, "{n}");
        // The rest is still queued, and the peer sends nothing more.
        // (`read` waits for readiness first, unlike `read_exact`.)
        let mut rest = vec![0u8; 3000];
        let m = timeout(PROMPT, s.read(&mut rest))
            .await
            .expect("the bytes left after a 2000-slice read_vectored were never read")
            .unwrap();
        assert!(m > 0 && rest[..m].iter().all(|&b| b == 7), "{m}");
    });
}

#[test]
fn tcp_write_vectored_past_iov_max_leaves_the_stream_writable() {
    run(async {
        let (c, s) = tcp_pair().await;
        settle().await;
        let data = vec![1u8; 2000];
        let slices: Vec<IoSlice<'_>> = data.chunks(1).map(IoSlice::new).collect();
        let mut c_ref = &c;
        let n = timeout(PROMPT, c_ref.write_vectored(&slices))
            .await
            .expect("write_vectored hung")
            .unwrap();
        assert!(n > 0 && n <= 2000, "{n}");
        // The send buffer is nearly empty: the next write must not wait.
        // (`write` waits for readiness first, unlike `write_all`.)
        let w = timeout(PROMPT, c.write(b"after"))
            .await
            .expect("a write after a 2000-slice write_vectored hung")
            .unwrap();
        assert_eq!(w, 5);
        let mut got = vec![0u8; n + 5];
        timeout(PROMPT, s.read_exact(&mut got))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&got[n..], b"after");
    });
}

#[test]
fn unix_write_vectored_past_iov_max_leaves_the_stream_writable() {
    run(async {
        let (a, b) = UnixStream::pair().unwrap();
        settle().await;
        let data = vec![1u8; 2000];
        let slices: Vec<IoSlice<'_>> = data.chunks(1).map(IoSlice::new).collect();
        let mut a_ref = &a;
        let n = timeout(PROMPT, a_ref.write_vectored(&slices))
            .await
            .expect("write_vectored hung")
            .unwrap();
        assert!(n > 0 && n <= 2000, "{n}");
        let w = timeout(PROMPT, a.write(b"after"))
            .await
            .expect("a write after a 2000-slice write_vectored hung")
            .unwrap();
        assert_eq!(w, 5);
        let mut got = vec![0u8; n + 5];
        timeout(PROMPT, b.read_exact(&mut got))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&got[n..], b"after");
    });
}

#[test]
fn vectored_transfers_with_only_empty_slices_return_zero_at_once() {
    run(async {
        let (c, s) = tcp_pair().await;
        let mut c_ref = &c;
        let empty: Vec<IoSlice<'_>> = (0..3000).map(|_| IoSlice::new(&[])).collect();
        assert_eq!(c_ref.write_vectored(&empty).await.unwrap(), 0);
        assert_eq!(c_ref.write_vectored(&[]).await.unwrap(), 0);
        let mut s_ref = &s;
        let mut none: [IoSliceMut<'_>; 0] = [];
        assert_eq!(s_ref.read_vectored(&mut none).await.unwrap(), 0);
        // The stream still works both ways.
        c.write_all(b"ok").await.unwrap();
        let mut b = [0u8; 2];
        s.read_exact(&mut b).await.unwrap();
        assert_eq!(&b, b"ok");
    });
}
