//! One trait over the runtimes being compared, so every scenario is written
//! once and monomorphised per runtime (no boxing on the measured paths).
//!
//! Each implementation also names its TCP types and their accept, read,
//! write and HTTP paths; the three servers the network scenarios need
//! (echo, hyper hello-world, idle) are written once on top of those, so
//! every runtime runs the same server code on its own sockets.

use super::hyper_goro::FuturesIo;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use std::convert::Infallible;
use std::fmt::Debug;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

/// A runtime under test.
pub trait Rt: Sized + 'static {
    /// Column name in the results table.
    const NAME: &'static str;

    /// What awaiting a spawned task yields: the task's output (a panic or
    /// cancellation in a benchmark task is a bug, so it panics).
    type Join<T: Send + 'static>: Future<Output = T> + Send + 'static;

    /// A multi-threaded runtime with `workers` worker threads.
    fn new(workers: usize) -> Self;

    /// Runs `f` to completion on the calling thread.
    fn block_on<F: Future>(&self, f: F) -> F::Output;

    /// Spawns from outside the runtime (a non-worker thread).
    fn spawn_remote<F>(&self, f: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// Spawns from inside the runtime (a task).
    fn spawn<F>(f: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// Spawns a task nobody joins.
    fn spawn_detached<F>(f: F)
    where
        F: Future<Output = ()> + Send + 'static;

    /// Gives other tasks a turn.
    fn yield_now() -> impl Future<Output = ()> + Send;

    /// Waits `d`.
    fn sleep(d: Duration) -> impl Future<Output = ()> + Send;

    /// `f` with a time limit: `None` when it elapsed.
    fn timeout<F>(d: Duration, f: F) -> impl Future<Output = Option<F::Output>> + Send
    where
        F: Future + Send,
        F::Output: Send;

    /// The runtime's TCP listener.
    type Listener: Send + 'static;

    /// The runtime's TCP stream.
    type Stream: Send + 'static;

    /// Binds a listener to 127.0.0.1 on a port the kernel picks.
    fn bind_loopback() -> impl Future<Output = (Self::Listener, SocketAddr)> + Send;

    /// Accepts one connection.
    fn accept(listener: &Self::Listener) -> impl Future<Output = io::Result<Self::Stream>> + Send;

    /// Sets `TCP_NODELAY` (best effort).
    fn set_nodelay(stream: &Self::Stream);

    /// One read, through the runtime's own read path.
    fn read<'a>(
        stream: &'a mut Self::Stream,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a;

    /// Writes all of `buf`, through the runtime's own write path.
    fn write_all<'a>(
        stream: &'a mut Self::Stream,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a;

    /// Serves hyper's HTTP/1.1 hello world on one connection, with the I/O
    /// adapter idiomatic for the runtime.
    fn serve_http(stream: Self::Stream) -> impl Future<Output = ()> + Send + 'static;

    /// Binds 127.0.0.1 and runs `on_conn` in a task of its own for every
    /// accepted connection (with `TCP_NODELAY` if `nodelay`); a failed
    /// accept is retried after 1 ms. Returns the listener's address.
    fn serve<H, Fut>(&self, nodelay: bool, on_conn: H) -> SocketAddr
    where
        H: Fn(Self::Stream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.block_on(async move {
            let (listener, addr) = Self::bind_loopback().await;
            Self::spawn_detached(async move {
                loop {
                    let stream = match Self::accept(&listener).await {
                        Ok(s) => s,
                        Err(_) => {
                            Self::sleep(Duration::from_millis(1)).await;
                            continue;
                        }
                    };
                    if nodelay {
                        Self::set_nodelay(&stream);
                    }
                    Self::spawn_detached(on_conn(stream));
                }
            });
            addr
        })
    }

    /// Starts a TCP echo server on 127.0.0.1 and returns its address.
    fn echo_server(&self) -> SocketAddr {
        self.serve(true, |mut stream| async move {
            let mut buf = vec![0u8; ECHO_BUF];
            loop {
                match Self::read(&mut stream, &mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if Self::write_all(&mut stream, &buf[..n]).await.is_err() {
                            break;
                        }
                    }
                }
            }
        })
    }

    /// Starts a hyper 1.x HTTP/1.1 hello-world server on 127.0.0.1.
    fn http_server(&self) -> SocketAddr {
        self.serve(true, Self::serve_http)
    }

    /// Starts a server whose connections just wait for data that never
    /// comes (one task per connection, blocked in a 64-byte read); counts
    /// accepted connections in `accepted`.
    fn idle_server(&self, accepted: Arc<AtomicUsize>) -> SocketAddr {
        self.serve(false, move |mut stream| {
            accepted.fetch_add(1, Ordering::Relaxed);
            async move {
                let mut buf = [0u8; IDLE_BUF];
                while let Ok(n) = Self::read(&mut stream, &mut buf).await {
                    if n == 0 {
                        break;
                    }
                }
            }
        })
    }
}

/// Turns a `JoinHandle` resolving to `Result<T, E>` into one resolving to
/// `T`.
pub struct Unwrap<J>(J);

impl<J, T, E> Future for Unwrap<J>
where
    J: Future<Output = Result<T, E>> + Unpin,
    E: Debug,
{
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.expect("benchmark task failed"))
    }
}

/// The hello-world handler shared by every runtime's HTTP server.
async fn hello(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"Hello, World!",
    ))))
}

/// Read buffer of every echo connection (16 KiB, as in the issue-9 setup).
const ECHO_BUF: usize = 16 * 1024;
const IDLE_BUF: usize = 64;

// ---------------------------------------------------------------- goro --

/// goro with `worker_threads(n)`.
pub struct Goro(goro::runtime::Runtime);

impl Rt for Goro {
    const NAME: &'static str = "goro";
    type Join<T: Send + 'static> = Unwrap<goro::JoinHandle<T>>;

    fn new(workers: usize) -> Self {
        Goro(
            goro::runtime::Builder::new()
                .worker_threads(workers)
                .build()
                .expect("goro runtime"),
        )
    }

    fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.0.block_on(f)
    }

    fn spawn_remote<F>(&self, f: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Unwrap(self.0.spawn(f))
    }

    fn spawn<F>(f: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Unwrap(goro::spawn(f))
    }

    fn spawn_detached<F>(f: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(goro::spawn(f));
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        goro::task::yield_now()
    }

    fn sleep(d: Duration) -> impl Future<Output = ()> + Send {
        goro::time::sleep(d)
    }

    async fn timeout<F>(d: Duration, f: F) -> Option<F::Output>
    where
        F: Future + Send,
        F::Output: Send,
    {
        goro::time::timeout(d, f).await.ok()
    }

    type Listener = goro::net::TcpListener;
    type Stream = goro::net::TcpStream;

    async fn bind_loopback() -> (Self::Listener, SocketAddr) {
        let listener = goro::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local_addr");
        (listener, addr)
    }

    async fn accept(listener: &Self::Listener) -> io::Result<Self::Stream> {
        listener.accept().await.map(|(s, _)| s)
    }

    fn set_nodelay(stream: &Self::Stream) {
        let _ = stream.set_nodelay(true);
    }

    fn read<'a>(
        stream: &'a mut Self::Stream,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        stream.read(buf)
    }

    fn write_all<'a>(
        stream: &'a mut Self::Stream,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a {
        stream.write_all(buf)
    }

    async fn serve_http(stream: Self::Stream) {
        let _ = http1::Builder::new()
            .serve_connection(FuturesIo::new(stream), service_fn(hello))
            .await;
    }
}

// --------------------------------------------------------------- tokio --

/// tokio's multi-thread runtime with `worker_threads(n)`.
pub struct Tokio(tokio::runtime::Runtime);

impl Rt for Tokio {
    const NAME: &'static str = "tokio";
    type Join<T: Send + 'static> = Unwrap<tokio::task::JoinHandle<T>>;

    fn new(workers: usize) -> Self {
        Tokio(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .enable_all()
                .build()
                .expect("tokio runtime"),
        )
    }

    fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.0.block_on(f)
    }

    fn spawn_remote<F>(&self, f: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Unwrap(self.0.spawn(f))
    }

    fn spawn<F>(f: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Unwrap(tokio::spawn(f))
    }

    fn spawn_detached<F>(f: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(tokio::spawn(f));
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }

    fn sleep(d: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(d)
    }

    async fn timeout<F>(d: Duration, f: F) -> Option<F::Output>
    where
        F: Future + Send,
        F::Output: Send,
    {
        tokio::time::timeout(d, f).await.ok()
    }

    type Listener = tokio::net::TcpListener;
    type Stream = tokio::net::TcpStream;

    async fn bind_loopback() -> (Self::Listener, SocketAddr) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local_addr");
        (listener, addr)
    }

    async fn accept(listener: &Self::Listener) -> io::Result<Self::Stream> {
        listener.accept().await.map(|(s, _)| s)
    }

    fn set_nodelay(stream: &Self::Stream) {
        let _ = stream.set_nodelay(true);
    }

    fn read<'a>(
        stream: &'a mut Self::Stream,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        tokio::io::AsyncReadExt::read(stream, buf)
    }

    fn write_all<'a>(
        stream: &'a mut Self::Stream,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a {
        tokio::io::AsyncWriteExt::write_all(stream, buf)
    }

    async fn serve_http(stream: Self::Stream) {
        let _ = http1::Builder::new()
            .serve_connection(hyper_util::rt::TokioIo::new(stream), service_fn(hello))
            .await;
    }
}

// ---------------------------------------------------------------- smol --

/// The process-wide executor the smol "runtime" runs on: `smol` has no
/// runtime object, so this is one static `Executor` driven by worker
/// threads started on first use (timers and I/O use async-io's reactor).
fn smol_executor() -> &'static smol::Executor<'static> {
    static EX: smol::Executor<'static> = smol::Executor::new();
    static STARTED: OnceLock<usize> = OnceLock::new();
    STARTED.get_or_init(|| {
        let workers = SMOL_WORKERS.load(Ordering::Relaxed).max(1);
        for i in 0..workers {
            std::thread::Builder::new()
                .name(format!("smol-worker-{i}"))
                .spawn(|| smol::block_on(EX.run(std::future::pending::<()>())))
                .expect("smol worker thread");
        }
        workers
    });
    &EX
}

static SMOL_WORKERS: AtomicUsize = AtomicUsize::new(0);

/// smol (async-executor + async-io) on `n` threads each running the one
/// shared executor. The threads live for the whole process, so the first
/// `new` fixes their number; the harness always asks for the same count.
pub struct Smol(());

impl Rt for Smol {
    const NAME: &'static str = "smol";
    type Join<T: Send + 'static> = smol::Task<T>;

    fn new(workers: usize) -> Self {
        let _ = SMOL_WORKERS.compare_exchange(0, workers, Ordering::Relaxed, Ordering::Relaxed);
        smol_executor();
        Smol(())
    }

    fn block_on<F: Future>(&self, f: F) -> F::Output {
        smol::block_on(f)
    }

    fn spawn_remote<F>(&self, f: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        smol_executor().spawn(f)
    }

    fn spawn<F>(f: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        smol_executor().spawn(f)
    }

    fn spawn_detached<F>(f: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        smol_executor().spawn(f).detach();
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        smol::future::yield_now()
    }

    async fn sleep(d: Duration) {
        smol::Timer::after(d).await;
    }

    fn timeout<F>(d: Duration, f: F) -> impl Future<Output = Option<F::Output>> + Send
    where
        F: Future + Send,
        F::Output: Send,
    {
        smol::future::or(async move { Some(f.await) }, async move {
            smol::Timer::after(d).await;
            None
        })
    }

    type Listener = smol::net::TcpListener;
    type Stream = smol::net::TcpStream;

    async fn bind_loopback() -> (Self::Listener, SocketAddr) {
        let listener = smol::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local_addr");
        (listener, addr)
    }

    async fn accept(listener: &Self::Listener) -> io::Result<Self::Stream> {
        listener.accept().await.map(|(s, _)| s)
    }

    fn set_nodelay(stream: &Self::Stream) {
        let _ = stream.set_nodelay(true);
    }

    fn read<'a>(
        stream: &'a mut Self::Stream,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        smol::io::AsyncReadExt::read(stream, buf)
    }

    fn write_all<'a>(
        stream: &'a mut Self::Stream,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a {
        smol::io::AsyncWriteExt::write_all(stream, buf)
    }

    async fn serve_http(stream: Self::Stream) {
        let _ = http1::Builder::new()
            .serve_connection(FuturesIo::new(stream), service_fn(hello))
            .await;
    }
}
