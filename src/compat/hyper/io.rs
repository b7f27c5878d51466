//! `hyper::rt::Read` and `hyper::rt::Write` for goro's stream sockets.
//!
//! Reads go straight from the socket into hyper's uninitialised buffer (no
//! scratch copy, no zeroing): `recv` writes the bytes and says how many, and
//! only then is the cursor advanced by that count. Writes, flushes and
//! shutdowns are the `futures-io` ones: vectored writes are `sendmsg`,
//! flush is a no-op (nothing is buffered in user space), shutdown closes the
//! write half so the peer sees end of stream.
//!
//! The impls are also on `&TcpStream`/`&UnixStream`, mirroring the
//! `futures-io` ones, so one task can read while another writes.

use crate::net::stream::StreamFd;
use crate::net::{TcpStream, UnixStream};
use hyper::rt::{Read, ReadBufCursor, Write};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

/// hyper's read: `recv` into the cursor's unfilled part, then advance it.
fn poll_read_cursor(
    stream: &impl StreamFd,
    cx: &mut Context<'_>,
    mut buf: ReadBufCursor<'_>,
) -> Poll<io::Result<()>> {
    // SAFETY: the slice is only written to (by `recv`), never read, and no
    // byte is de-initialised.
    let unfilled = unsafe { buf.as_mut() };
    let n = ready!(stream.stream_fd().poll_stream_read_uninit(cx, unfilled))?;
    // SAFETY: `recv` initialised the first `n` bytes of the unfilled part.
    unsafe { buf.advance(n) };
    Poll::Ready(Ok(()))
}

/// `Read` for each stream type and for shared references to it (so one
/// task can read while another writes); both see the stream through `&`.
macro_rules! impl_hyper_read {
    ($($t:ty),+) => {$(
        impl_hyper_read!(@impl $t, $t);
        impl_hyper_read!(@impl $t, &$t);
    )+};
    (@impl $stream:ty, $self_ty:ty) => {
        impl Read for $self_ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: ReadBufCursor<'_>,
            ) -> Poll<io::Result<()>> {
                let stream: &$stream = &self;
                poll_read_cursor(stream, cx, buf)
            }
        }
    };
}

impl_hyper_read!(TcpStream, UnixStream);
forward_write_to_futures_io!(Write => TcpStream, &TcpStream, UnixStream, &UnixStream);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::UnixStream;

    /// A read into hyper's uninitialised buffer fills exactly what arrived,
    /// and end of stream is an empty read.
    #[test]
    fn reads_into_uninit_cursor() {
        crate::block_on(async {
            let (a, b) = UnixStream::pair().unwrap();
            a.write_all(b"hello").await.unwrap();
            a.shutdown(std::net::Shutdown::Write).unwrap();
            let mut storage = [std::mem::MaybeUninit::<u8>::uninit(); 64];
            let mut buf = hyper::rt::ReadBuf::uninit(&mut storage);
            let mut b = b;
            std::future::poll_fn(|cx| Pin::new(&mut b).poll_read(cx, buf.unfilled()))
                .await
                .unwrap();
            assert_eq!(buf.filled(), b"hello");
            let before = buf.filled().len();
            std::future::poll_fn(|cx| Pin::new(&mut b).poll_read(cx, buf.unfilled()))
                .await
                .unwrap();
            assert_eq!(buf.filled().len(), before, "end of stream reads nothing");
        });
    }
}
