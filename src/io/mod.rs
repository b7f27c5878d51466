//! I/O traits and the generic fd adapter.
//!
//! goro's sockets implement the `futures-io` traits, re-exported here, so
//! they work with `futures::io` combinators (`copy`, `BufReader`,
//! `AsyncReadExt`…) and any library written against them. [`PollFd`] puts
//! any other file descriptor on the same poller.

pub(crate) mod fd;
mod poll_fd;

pub use futures_io::{AsyncBufRead, AsyncRead, AsyncSeek, AsyncWrite};
pub use poll_fd::PollFd;
