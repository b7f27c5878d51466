//! Zero-length transfers make no syscall and take no lock, but they still
//! report what Go's do: on a stream that has been closed (`close(&self)`)
//! every one fails with "use of closed network connection" (Go's
//! `readLock`/`writeLock`), and a zero-length write fails once the write
//! deadline has passed (Go's `prepareWrite`), while a zero-length read
//! does not look at the read deadline (Go returns before `prepareRead`).
//! Before, they all returned `Ok` on a closed stream — `read_exact` and
//! `write_all` had reported the close until their fast path skipped it.

mod support;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use goro::net::UnixStream;
use std::io::{self, IoSlice, IoSliceMut};
use support::hang::run;
use support::instants::past;
use support::net::tcp_pair;

fn assert_closed<T: std::fmt::Debug>(what: &str, r: io::Result<T>) {
    match r {
        Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
        other => panic!("zero-length {what} on a closed stream: {other:?}"),
    }
}

fn assert_timed_out<T: std::fmt::Debug>(what: &str, r: io::Result<T>) {
    match r {
        Err(e) if e.kind() == io::ErrorKind::TimedOut => {}
        other => panic!("zero-length {what} past the write deadline: {other:?}"),
    }
}

#[test]
fn zero_length_transfers_on_a_closed_tcp_stream_fail() {
    run(async {
        let (c, _s) = tcp_pair().await;
        c.close().unwrap();
        assert_closed("read_exact", c.read_exact(&mut []).await);
        assert_closed("write_all", c.write_all(&[]).await);
        assert_closed("read", c.read(&mut []).await);
        assert_closed("peek", c.peek(&mut []).await);
        assert_closed("write", c.write(&[]).await);
        let mut r = &c;
        assert_closed("AsyncRead", r.read(&mut []).await);
        assert_closed("AsyncWrite", r.write(&[]).await);
        let mut none: [IoSliceMut<'_>; 0] = [];
        assert_closed("read_vectored", r.read_vectored(&mut none).await);
        let empty = [IoSlice::new(&[])];
        assert_closed("write_vectored", r.write_vectored(&empty).await);
    });
}

#[test]
fn zero_length_transfers_on_a_closed_unix_stream_fail() {
    run(async {
        let (a, _b) = UnixStream::pair().unwrap();
        a.close().unwrap();
        assert_closed("read_exact", a.read_exact(&mut []).await);
        assert_closed("write_all", a.write_all(&[]).await);
        assert_closed("read", a.read(&mut []).await);
        assert_closed("peek", a.peek(&mut []).await);
        assert_closed("write", a.write(&[]).await);
    });
}

/// As in Go: an expired write deadline fails a zero-length write; an
/// expired read deadline does not fail a zero-length read.
#[test]
fn zero_length_writes_see_the_write_deadline_and_reads_do_not() {
    run(async {
        let (c, _s) = tcp_pair().await;
        c.set_write_deadline(Some(past())).unwrap();
        c.set_read_deadline(Some(past())).unwrap();
        assert_timed_out("write", c.write(&[]).await);
        assert_timed_out("write_all", c.write_all(&[]).await);
        assert_timed_out("AsyncWrite", (&mut &c).write(&[]).await);
        assert_eq!(c.read(&mut []).await.unwrap(), 0);
        c.read_exact(&mut []).await.unwrap();
        assert_eq!(c.peek(&mut []).await.unwrap(), 0);
        // A cleared deadline lets them through again.
        c.set_write_deadline(None).unwrap();
        assert_eq!(c.write(&[]).await.unwrap(), 0);
        c.write_all(&[]).await.unwrap();
    });
}
