//! Byte-stream operations shared by [`TcpStream`](super::TcpStream) and
//! [`UnixStream`](super::UnixStream), and their `futures-io` trait impls.
//!
//! Both types are an [`Fd`] over a connected stream socket, so every
//! operation is written once here:
//! - `write` tells the poller when it filled the send buffer (a short write
//!   sets the kernel's `SOCK_NOSPACE`, which guarantees a later writable
//!   event), and on TCP `read` tells it when it drained the receive buffer,
//!   so the next operation parks without an `EAGAIN` round trip. A short
//!   read does *not* prove that on a Unix stream socket, which stops a read
//!   at a message carrying file descriptors or credentials and raises no
//!   new event for the rest, so there only `EAGAIN` clears read readiness;
//! - `read_exact`/`write_all` hold the direction's lock for the whole
//!   transfer, so concurrent callers never interleave (Go's `fd.Read` /
//!   `fd.Write` loops);
//! - `peek` never clears readiness: the bytes it saw are still queued.
//!
//! Zero-length buffers return `Ok(0)` (`Ok(())` for `read_exact` and
//! `write_all`) at once, without a syscall and without waiting for the
//! direction's lock — unless, as in Go, the stream is closed (then they
//! fail with the closed error) or, for a write, the write deadline has
//! passed ([`Fd::check_empty_transfer`]).

use super::socket;
use crate::io::fd::Fd;
use crate::poller::Direction;
use std::io::{self, IoSlice, IoSliceMut};
use std::task::{Context, Poll};

/// A short transfer on a stream socket emptied (or filled) the kernel
/// buffer; a zero-byte read is end of stream, which is not "drained".
fn short(len: usize) -> impl Fn(&usize) -> bool {
    move |n| *n > 0 && *n < len
}

impl Fd {
    /// The drained test for a read of `len` bytes on this socket.
    fn read_drains(&self, len: usize) -> impl Fn(&usize) -> bool {
        let trusted = self.short_reads_drain();
        move |n| trusted && *n > 0 && *n < len
    }
}

/// The bytes one vectored syscall can move: the vectored calls pass only
/// the first [`socket::MAX_IOV`] slices, so a transfer that fills (or
/// empties) all of those is complete, not short, and must not count as
/// having drained the kernel buffer.
fn total<T: std::ops::Deref<Target = [u8]>>(bufs: &[T]) -> usize {
    bufs.iter()
        .take(socket::MAX_IOV)
        .map(|b| b.len())
        .fold(0, usize::saturating_add)
}

impl Fd {
    /// Reads into `buf`.
    pub(crate) async fn stream_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len();
        if len == 0 {
            return self.check_empty_transfer(Direction::Read).map(|()| 0);
        }
        self.op_drains(
            Direction::Read,
            |fd| socket::recv(fd, buf, 0),
            self.read_drains(len),
        )
        .await
    }

    /// Fills `buf` or fails with `UnexpectedEof`, holding the read lock.
    pub(crate) async fn stream_read_exact(&self, buf: &mut [u8]) -> io::Result<()> {
        // Not even the lock: another reader may hold it for as long as it
        // waits for data.
        if buf.is_empty() {
            return self.check_empty_transfer(Direction::Read);
        }
        let mut filled = 0;
        self.op(Direction::Read, |fd| {
            while filled < buf.len() {
                match socket::recv(fd, &mut buf[filled..], 0)? {
                    0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                    n => filled += n,
                }
            }
            Ok(())
        })
        .await
    }

    /// Reads into `buf` without consuming.
    pub(crate) async fn stream_peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return self.check_empty_transfer(Direction::Read).map(|()| 0);
        }
        self.op(Direction::Read, |fd| socket::recv(fd, buf, libc::MSG_PEEK))
            .await
    }

    /// Writes some of `buf`.
    pub(crate) async fn stream_write(&self, buf: &[u8]) -> io::Result<usize> {
        let len = buf.len();
        if len == 0 {
            return self.check_empty_transfer(Direction::Write).map(|()| 0);
        }
        self.op_drains(Direction::Write, |fd| socket::send(fd, buf), short(len))
            .await
    }

    /// Writes all of `buf`, holding the write lock.
    pub(crate) async fn stream_write_all(&self, buf: &[u8]) -> io::Result<()> {
        if buf.is_empty() {
            return self.check_empty_transfer(Direction::Write);
        }
        let mut done = 0;
        self.op(Direction::Write, |fd| {
            while done < buf.len() {
                match socket::send(fd, &buf[done..])? {
                    0 => return Err(io::ErrorKind::WriteZero.into()),
                    n => done += n,
                }
            }
            Ok(())
        })
        .await
    }

    /// `AsyncRead::poll_read`.
    pub(crate) fn poll_stream_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let len = buf.len();
        if len == 0 {
            return Poll::Ready(self.check_empty_transfer(Direction::Read).map(|()| 0));
        }
        self.poll_io_drains(
            cx,
            Direction::Read,
            |fd| socket::recv(fd, buf, 0),
            self.read_drains(len),
        )
    }

    /// `poll_read` into a buffer that may be uninitialised (hyper's
    /// `ReadBufCursor`, tokio's `ReadBuf`); on `Ok(n)` the first `n` bytes of
    /// `buf` are initialised.
    #[cfg(any(feature = "hyper", feature = "tokio-io"))]
    pub(crate) fn poll_stream_read_uninit(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [std::mem::MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        let len = buf.len();
        if len == 0 {
            return Poll::Ready(self.check_empty_transfer(Direction::Read).map(|()| 0));
        }
        self.poll_io_drains(
            cx,
            Direction::Read,
            |fd| socket::recv_uninit(fd, buf),
            self.read_drains(len),
        )
    }

    /// `AsyncRead::poll_read_vectored`.
    pub(crate) fn poll_stream_read_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        let len = total(bufs);
        if len == 0 {
            return Poll::Ready(self.check_empty_transfer(Direction::Read).map(|()| 0));
        }
        self.poll_io_drains(
            cx,
            Direction::Read,
            |fd| socket::recv_vectored(fd, bufs),
            self.read_drains(len),
        )
    }

    /// `AsyncWrite::poll_write`.
    pub(crate) fn poll_stream_write(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let len = buf.len();
        if len == 0 {
            return Poll::Ready(self.check_empty_transfer(Direction::Write).map(|()| 0));
        }
        self.poll_io_drains(cx, Direction::Write, |fd| socket::send(fd, buf), short(len))
    }

    /// `AsyncWrite::poll_write_vectored`.
    pub(crate) fn poll_stream_write_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let len = total(bufs);
        if len == 0 {
            return Poll::Ready(self.check_empty_transfer(Direction::Write).map(|()| 0));
        }
        self.poll_io_drains(
            cx,
            Direction::Write,
            |fd| socket::send_vectored(fd, bufs),
            short(len),
        )
    }
}

/// A stream socket type's descriptor, for the trait impls of other crates'
/// I/O traits in [`crate::compat`].
#[cfg(any(feature = "hyper", feature = "tokio-io"))]
pub(crate) trait StreamFd {
    /// The connected stream socket.
    fn stream_fd(&self) -> &Fd;
}

/// Implements `futures_io::AsyncRead` and `AsyncWrite` for a stream type and
/// for shared references to it (so an `Arc` of it splits into a reader and a
/// writer). The type must have an `fd: Fd` field and a
/// `shutdown(Shutdown)` method; `poll_close` shuts down the write half.
macro_rules! impl_stream_traits {
    ($t:ty) => {
        #[cfg(any(feature = "hyper", feature = "tokio-io"))]
        impl crate::net::stream::StreamFd for $t {
            fn stream_fd(&self) -> &crate::io::fd::Fd {
                &self.fd
            }
        }

        impl futures_io::AsyncRead for &$t {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.fd.poll_stream_read(cx, buf)
            }

            fn poll_read_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.fd.poll_stream_read_vectored(cx, bufs)
            }
        }

        impl futures_io::AsyncWrite for &$t {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.fd.poll_stream_write(cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.fd.poll_stream_write_vectored(cx, bufs)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            /// Shuts down the write half (the peer sees end of stream).
            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(self.shutdown(std::net::Shutdown::Write))
            }
        }

        // The owned stream reads and writes through a shared reference.
        impl futures_io::AsyncRead for $t {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut &*self).poll_read(cx, buf)
            }

            fn poll_read_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut &*self).poll_read_vectored(cx, bufs)
            }
        }

        impl futures_io::AsyncWrite for $t {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut &*self).poll_write(cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut &*self).poll_write_vectored(cx, bufs)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut &*self).poll_flush(cx)
            }

            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut &*self).poll_close(cx)
            }
        }
    };
}

pub(crate) use impl_stream_traits;
