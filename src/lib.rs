//! # goro — an async runtime built the way Go's runtime does network I/O
//!
//! goro runs Rust futures on a **G/M/P scheduler** integrated with a
//! **netpoller**, following the design of Go's runtime:
//!
//! - one edge-triggered epoll instance per runtime; every fd is registered
//!   once, when it is opened, for reads and writes;
//! - a per-fd descriptor whose read and write *slots* hold the `Waker` of
//!   the task waiting on them (where Go's `pollDesc` holds a goroutine),
//!   with Go's race-free state machine and per-fd read/write **deadlines**;
//! - Ps (worker contexts) with a local run queue, a LIFO `runnext` slot and
//!   timers; Ms (threads) that run them, steal from each other, poll the
//!   network without blocking when they run dry, and — one at a time — block
//!   in `epoll_wait` until the next timer when idle;
//! - a **sysmon** thread that polls the network when nobody has for 10 ms
//!   and hands the P of a thread stuck in a long poll to another thread, so
//!   one blocking task does not stall the others.
//!
//! It plugs into the futures ecosystem: sockets implement `futures-io`'s
//! `AsyncRead`/`AsyncWrite`, streams implement `futures-core`'s `Stream`,
//! and any `Future` can be spawned.
//!
//! ```no_run
//! use goro::net::TcpListener;
//!
//! fn main() -> std::io::Result<()> {
//!     goro::block_on(async {
//!         let listener = TcpListener::bind("127.0.0.1:7000").await?;
//!         loop {
//!             let (conn, _) = listener.accept().await?;
//!             goro::spawn(async move {
//!                 let mut buf = vec![0; 4096];
//!                 loop {
//!                     match conn.read(&mut buf).await {
//!                         Ok(0) | Err(_) => break,
//!                         Ok(n) => {
//!                             if conn.write_all(&buf[..n]).await.is_err() {
//!                                 break;
//!                             }
//!                         }
//!                     }
//!                 }
//!             });
//!         }
//!     })
//! }
//! ```
//!
//! ## Layout
//!
//! | module | Go counterpart |
//! |---|---|
//! | `poller` (internal) | `runtime/netpoll.go`, `netpoll_epoll.go` |
//! | `scheduler` (internal) | `runtime/proc.go` (`schedule`, `findRunnable`, `sysmon`) |
//! | [`time`] | `runtime/time.go` |
//! | [`net`] | `net`, `internal/poll` |
//! | [`io`] | `internal/poll.FD` for arbitrary fds |
//! | [`task`], [`runtime`] | `go` statement, `GOMAXPROCS` |
//! | [`signal`] | `os/signal` (`signal.Notify`) |
//! | `compat` (features `hyper`, `tokio-io`) | — (other libraries' I/O traits) |
//!
//! ## Feature flags
//!
//! - `hyper`: goro's streams implement `hyper::rt::Read`/`Write`, and
//!   `goro::compat::hyper` has hyper's `Executor`, `Timer` and a connector
//!   for hyper-util's legacy `Client`.
//! - `tokio-io`: goro's streams implement `tokio::io::AsyncRead`/`AsyncWrite`
//!   (tokio without its runtime).

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

#[cfg(any(feature = "hyper", feature = "tokio-io"))]
pub mod compat;
#[cfg(feature = "fault-injection")]
#[doc(hidden)]
pub mod fault;
pub mod io;
pub mod net;
pub(crate) mod pages;
pub(crate) mod poller;
pub mod runtime;
pub(crate) mod scheduler;
pub mod signal;
pub(crate) mod sync;
pub(crate) mod sys;
pub mod task;
pub(crate) mod taskinfo;
#[cfg(all(test, not(loom)))]
mod test_wakers;
pub mod time;

pub use task::{JoinHandle, spawn, spawn_blocking};

/// Runs `async fn main` on a goro runtime (feature `macros`, on by
/// default).
///
/// The function becomes a plain `fn main` that builds a
/// [`Runtime`](runtime::Runtime) — `Runtime::new()` (worker count from
/// `GORO_WORKER_THREADS`, else the number of CPUs), or
/// `Runtime::builder().worker_threads(N)` with `#[goro::main(worker_threads
/// = N)]` — and `block_on`s the body; the runtime shuts down when `main`
/// returns. Any return type works (`()`, `io::Result<()>`, …).
///
/// ```
/// #[goro::main]
/// async fn main() -> std::io::Result<()> {
///     let listener = goro::net::TcpListener::bind("127.0.0.1:0").await?;
///     let addr = listener.local_addr()?;
///     let client = goro::spawn(async move { goro::net::TcpStream::connect(addr).await });
///     let (_conn, peer) = listener.accept().await?;
///     assert_eq!(peer, client.await??.local_addr()?);
///     Ok(())
/// }
/// ```
///
/// ```
/// #[goro::main(worker_threads = 2)]
/// async fn main() {
///     assert_eq!(goro::spawn(async { 40 + 2 }).await.unwrap(), 42);
/// }
/// ```
///
/// Misuse is a compile error: a function that is not `async`, a `main`
/// with parameters, generics, an unknown argument, or a `worker_threads`
/// that is not a positive integer literal.
///
/// ```compile_fail
/// #[goro::main(threads = 2)] // error: unknown argument `threads`
/// async fn main() {}
/// ```
#[cfg(feature = "macros")]
pub use goro_macros::main;

/// Runs an `async fn` test on its own goro runtime (feature `macros`, on
/// by default).
///
/// The function becomes a `#[test] fn` that builds a fresh
/// [`Runtime`](runtime::Runtime) — `Runtime::new()`, or with
/// `worker_threads = N` workers — and `block_on`s the body, so each test is
/// isolated; the runtime is shut down when the test returns. The test may
/// return `()` or a `Result` (an `Err` fails it); other test attributes
/// (`#[should_panic]`, `#[ignore]`) combine with it, but not a second
/// `#[test]`.
///
/// ```
/// #[goro::test]
/// async fn sleeps() {
///     goro::time::sleep(std::time::Duration::from_millis(1)).await;
/// }
///
/// #[goro::test(worker_threads = 2)]
/// async fn echoes() -> std::io::Result<()> {
///     let listener = goro::net::TcpListener::bind("127.0.0.1:0").await?;
///     let client = goro::net::TcpStream::connect(listener.local_addr()?).await?;
///     let (server, _) = listener.accept().await?;
///     client.write_all(b"ping").await?;
///     let mut buf = [0; 4];
///     server.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"ping");
///     Ok(())
/// }
/// # fn main() {}
/// ```
///
/// ```compile_fail
/// #[goro::test]
/// fn not_async() {} // error: the `async` keyword is missing
/// # fn main() {}
/// ```
#[cfg(feature = "macros")]
pub use goro_macros::test;

use std::future::Future;

/// Runs `future` to completion on the current thread, with the current
/// runtime (or the default one, started on first use) running every task it
/// spawns.
///
/// ```
/// let v = goro::block_on(async {
///     goro::spawn(async { 1 + 2 }).await.unwrap()
/// });
/// assert_eq!(v, 3);
/// ```
pub fn block_on<F: Future>(future: F) -> F::Output {
    runtime::Handle::current_or_default().block_on(future)
}

/// The README's Rust code blocks, compiled (and run, unless marked
/// `no_run` or `ignore`) as doc tests, so the tour cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
