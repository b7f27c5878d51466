//! Running libraries written for other runtimes' traits on goro.
//!
//! Each submodule is behind the Cargo feature of the same name and owns the
//! trait impls for one foreign I/O interface; none of them starts or needs
//! another runtime:
//!
//! - [`hyper`] (feature `hyper`): goro's [`TcpStream`](crate::net::TcpStream)
//!   and [`UnixStream`](crate::net::UnixStream) implement `hyper::rt::Read`
//!   and `Write`, so hyper's connection builders take them as they are;
//!   [`Executor`](hyper::Executor) and [`Timer`](hyper::Timer) run hyper's
//!   background tasks and timeouts on goro; [`Connector`](hyper::Connector)
//!   dials for `hyper_util`'s legacy `Client`.
//! - [`tokio_io`] (feature `tokio-io`): the same streams implement
//!   `tokio::io::AsyncRead` and `AsyncWrite` (tokio is built with its
//!   default features off: the traits, never its runtime), so codecs and
//!   protocol crates written against tokio's traits run over goro sockets.

/// Implements a foreign write trait shaped like tokio's and hyper's
/// (`poll_write`, `poll_write_vectored`, `is_write_vectored`, `poll_flush`,
/// `poll_shutdown`) for each given type by forwarding to its `futures-io`
/// `AsyncWrite`: vectored writes are `sendmsg`, flush is a no-op (nothing is
/// buffered in user space), shutdown closes the write half.
#[cfg(any(feature = "hyper", feature = "tokio-io"))]
macro_rules! forward_write_to_futures_io {
    ($trait:path => $($t:ty),+ $(,)?) => {$(
        impl $trait for $t {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                futures_io::AsyncWrite::poll_write(self, cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                futures_io::AsyncWrite::poll_write_vectored(self, cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                futures_io::AsyncWrite::poll_flush(self, cx)
            }

            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                futures_io::AsyncWrite::poll_close(self, cx)
            }
        }
    )+};
}

#[cfg(feature = "hyper")]
pub mod hyper;
#[cfg(feature = "tokio-io")]
pub mod tokio_io;
