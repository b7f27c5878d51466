//! `tokio::io::AsyncRead` and `AsyncWrite` for goro's stream sockets
//! (feature `tokio-io`).
//!
//! tokio is compiled with its default features off: its I/O traits and
//! `ReadBuf`, never its runtime, so nothing here starts a reactor or a
//! thread. Reads `recv` straight into the unfilled part of tokio's
//! `ReadBuf` (which may be uninitialised) and then mark the received bytes
//! initialised and filled. Writes, flush and shutdown are the `futures-io`
//! ones: shutdown closes the write half, so the peer sees end of stream.
//!
//! Implemented for `TcpStream`, `UnixStream` and shared references to both,
//! like the `futures-io` traits.
//!
//! ```
//! # #[cfg(feature = "tokio-io")]
//! # fn main() -> std::io::Result<()> {
//! use goro::net::UnixStream;
//! use tokio::io::{AsyncRead, ReadBuf};
//! use std::pin::Pin;
//!
//! goro::block_on(async {
//!     let (a, mut b) = UnixStream::pair()?;
//!     a.write_all(b"ping").await?;
//!     let mut storage = [0u8; 16];
//!     let mut buf = ReadBuf::new(&mut storage);
//!     std::future::poll_fn(|cx| Pin::new(&mut b).poll_read(cx, &mut buf)).await?;
//!     assert_eq!(buf.filled(), b"ping");
//!     Ok(())
//! })
//! # }
//! # #[cfg(not(feature = "tokio-io"))]
//! # fn main() {}
//! ```

use crate::net::stream::StreamFd;
use crate::net::{TcpStream, UnixStream};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// tokio's read: `recv` into the unfilled part of `buf`, then fill it.
fn poll_read_buf(
    stream: &impl StreamFd,
    cx: &mut Context<'_>,
    buf: &mut ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    // SAFETY: the slice is only written to (by `recv`), never read, and no
    // byte is de-initialised.
    let unfilled = unsafe { buf.unfilled_mut() };
    let n = ready!(stream.stream_fd().poll_stream_read_uninit(cx, unfilled))?;
    // SAFETY: `recv` initialised the first `n` bytes of the unfilled part.
    unsafe { buf.assume_init(n) };
    buf.advance(n);
    Poll::Ready(Ok(()))
}

/// `AsyncRead` for each stream type and for shared references to it (so one
/// task can read while another writes); both see the stream through `&`.
macro_rules! impl_tokio_read {
    ($($t:ty),+) => {$(
        impl_tokio_read!(@impl $t, $t);
        impl_tokio_read!(@impl $t, &$t);
    )+};
    (@impl $stream:ty, $self_ty:ty) => {
        impl AsyncRead for $self_ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                let stream: &$stream = &self;
                poll_read_buf(stream, cx, buf)
            }
        }
    };
}

impl_tokio_read!(TcpStream, UnixStream);
forward_write_to_futures_io!(AsyncWrite => TcpStream, &TcpStream, UnixStream, &UnixStream);
