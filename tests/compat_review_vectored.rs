//! Vectored reads and writes with more slices than one syscall takes.
//!
//! `readv`/`sendmsg` are given at most 1024 slices (the kernel's
//! `IOV_MAX`), so a vectored transfer over more slices is short even when
//! the socket has more data (or more room). A short TCP transfer is how
//! goro learns that the kernel buffer is drained (or full), so such a
//! transfer must not be mistaken for one: the next read (write) would
//! park for an edge that never comes, with data still queued (room still
//! free). Reached through the `futures-io` impls (and tokio's and hyper's,
//! which forward to them) by any caller with many small buffers. (The
//! calls name the traits: goro's inherent methods of the same names would
//! be chosen otherwise.)

use futures::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use goro::net::{TcpListener, TcpStream};
use std::io::{IoSlice, IoSliceMut};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

/// Bounds the operation that used to hang.
const LIMIT: Duration = Duration::from_secs(10);

/// More slices than one syscall takes.
const SLICES: usize = 2000;

/// Lets the poller deliver the edges the kernel has already raised, so the
/// many-slice transfer below is the last thing that touches readiness (an
/// edge delivered after it would mask the bug). Not a timing assertion:
/// the tests pass however long this takes.
async fn settle() {
    goro::time::sleep(Duration::from_millis(100)).await;
}

async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (b, _) = listener.accept().await.unwrap();
    (a, b)
}

#[test]
fn a_read_vectored_over_many_slices_leaves_the_rest_readable() {
    goro::block_on(async {
        let (a, b) = pair().await;
        let sent = 2 * SLICES;
        a.write_all(&vec![1u8; sent]).await.unwrap();
        // Wait until all of it is queued at `b` (peek consumes nothing).
        let mut probe = vec![0u8; 2 * sent];
        while b.peek(&mut probe).await.unwrap() < sent {
            goro::time::sleep(Duration::from_millis(1)).await;
        }
        settle().await;

        let mut storage = vec![0u8; SLICES];
        let mut slices: Vec<IoSliceMut<'_>> = storage.chunks_mut(1).map(IoSliceMut::new).collect();
        let first = AsyncReadExt::read_vectored(&mut &b, &mut slices)
            .await
            .unwrap();
        assert!(first > 0 && first < SLICES, "read {first}");

        // The rest is queued: the next read returns it at once.
        let mut rest = vec![0u8; sent];
        let more = goro::time::timeout(LIMIT, AsyncReadExt::read(&mut &b, &mut rest))
            .await
            .expect("a read hung with data queued after a many-slice read_vectored")
            .unwrap();
        assert_eq!(more, sent - first);
    });
}

#[test]
fn a_write_vectored_over_many_slices_leaves_the_socket_writable() {
    goro::block_on(async {
        let (a, b) = pair().await;
        // Fill the send path until a write would block, then drain it at
        // `b`: the next writable edge clears the socket's sticky initial
        // readiness, so readiness now follows the kernel's events.
        let chunk = vec![0u8; 64 * 1024];
        let mut sent = 0;
        while let Poll::Ready(r) = futures::poll!(std::future::poll_fn(|cx| {
            Poll::Ready(Pin::new(&mut &a).poll_write(cx, &chunk))
        })) {
            match r {
                Poll::Ready(n) => sent += n.unwrap(),
                Poll::Pending => break,
            }
        }
        let mut buf = vec![0u8; 64 * 1024];
        let mut got = 0;
        while got < sent {
            got += b.read(&mut buf).await.unwrap();
        }
        settle().await;

        let data = vec![7u8; SLICES];
        let slices: Vec<IoSlice<'_>> = data.chunks(1).map(IoSlice::new).collect();
        let first = AsyncWriteExt::write_vectored(&mut &a, &slices)
            .await
            .unwrap();
        assert!(first > 0 && first < SLICES, "wrote {first}");
        settle().await;

        // The socket has room: the next write completes at once.
        goro::time::timeout(LIMIT, AsyncWriteExt::write_all(&mut &a, b"more"))
            .await
            .expect("a write hung with room free after a many-slice write_vectored")
            .unwrap();
        let mut tail = vec![0u8; first + 4];
        b.read_exact(&mut tail).await.unwrap();
        assert_eq!(&tail[first..], b"more");
    });
}
