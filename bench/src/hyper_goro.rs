//! Serving hyper 1.x on goro (or on anything speaking `futures-io`).
//!
//! hyper 1.x has its own I/O traits (`hyper::rt::Read`/`Write`).
//! [`FuturesIo`] bridges a `futures_io::AsyncRead + AsyncWrite` stream
//! (such as `goro::net::TcpStream` or smol's) to them.
//! `http1::Builder::serve_connection` needs no `Timer` as long as no
//! timeouts are configured, and no executor.

use futures::io::{AsyncRead, AsyncWrite};
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

/// Size of the per-connection scratch buffer reads go through.
const SCRATCH: usize = 8192;

/// A `futures-io` stream seen through hyper's I/O traits.
///
/// hyper hands `poll_read` an uninitialised buffer, while `futures-io`
/// reads need an initialised `&mut [u8]`. Zeroing hyper's buffer on every
/// read would cost a memset of its whole free space (8 KiB or more) per
/// call, so reads go through a scratch buffer that is zeroed once per
/// connection and copied out (only the bytes actually read are copied).
pub struct FuturesIo<T> {
    inner: T,
    scratch: Box<[u8]>,
}

impl<T> FuturesIo<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Self {
        FuturesIo {
            inner,
            scratch: vec![0u8; SCRATCH].into_boxed_slice(),
        }
    }
}

impl<T: AsyncRead + Unpin> hyper::rt::Read for FuturesIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let want = buf.remaining().min(this.scratch.len());
        if want == 0 {
            return Poll::Ready(Ok(()));
        }
        let n =
            std::task::ready!(Pin::new(&mut this.inner).poll_read(cx, &mut this.scratch[..want]))?;
        buf.put_slice(&this.scratch[..n]);
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> hyper::rt::Write for FuturesIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        // goro's and async-io's sockets implement vectored writes with
        // `sendmsg`/`writev`, so hyper may hand them several buffers.
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}
