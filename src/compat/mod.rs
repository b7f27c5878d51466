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

#[cfg(feature = "hyper")]
pub mod hyper;
#[cfg(feature = "tokio-io")]
pub mod tokio_io;
