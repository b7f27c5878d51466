//! An axum app on goro that shuts down gracefully on SIGINT or SIGTERM:
//! what tokio programs write as
//! `axum::serve(listener, app).with_graceful_shutdown(shutdown_signal())`.
//!
//! ```text
//! cargo run --release -p goro-ecosystem --example axum_graceful -- --addr 127.0.0.1:3001
//! curl http://127.0.0.1:3001/
//! curl -N http://127.0.0.1:3001/slow/5000   # "working", then "done" 5 s later
//! # Ctrl-C the server while the slow request runs: it finishes, then the server exits 0
//! ```
//!
//! `axum::serve` needs tokio's runtime, but its graceful shutdown is
//! hyper-util's [`GracefulShutdown`] (feature `server-graceful`, which
//! needs only tokio's `sync` primitives, no runtime) plus a signal future:
//! goro's [`signal`] here. On the first SIGINT or SIGTERM the server
//! 1. stops accepting (the listener is dropped, new connections are
//!    refused);
//! 2. tells every connection to finish: hyper closes idle keep-alive
//!    connections at once and lets requests in flight complete (HTTP/2
//!    connections get a GOAWAY);
//! 3. waits for them up to `DRAIN_LIMIT`, then exits with status 0.
//!
//! Connections are served by hyper-util's `auto` builder: HTTP/1.1, and
//! HTTP/2 for clients that speak it without TLS (`curl --http2-prior-knowledge`).

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Path;
use axum::routing::get;
use futures::{FutureExt, StreamExt};
use goro::compat::hyper::{Executor, Timer};
use goro::net::TcpListener;
use goro::signal::{SignalKind, signal};
use goro_ecosystem::{Flags, runtime};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::io;
use std::time::{Duration, Instant};
use tower_service::Service;

/// How long connections get to finish after the signal.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// The app: a text root, and a slow route that answers at once with
/// "working" and finishes its body `ms` milliseconds later.
fn app() -> Router {
    Router::new()
        .route("/", get(|| async { "Hello from axum on goro!\n" }))
        .route("/slow/{ms}", get(slow))
}

async fn slow(Path(ms): Path<u64>) -> Body {
    let done = async move {
        goro::time::sleep(Duration::from_millis(ms)).await;
        Ok::<_, Infallible>(Bytes::from("done\n"))
    };
    let body =
        futures::stream::once(async { Ok(Bytes::from("working\n")) }).chain(done.into_stream());
    Body::from_stream(body)
}

/// Listens for SIGINT and SIGTERM now (so one sent while the server
/// starts is not lost) and returns a future that resolves on the first of
/// them, naming it.
fn shutdown_signal() -> io::Result<impl Future<Output = &'static str>> {
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    Ok(async move {
        futures::select! {
            _ = int.recv().fuse() => "SIGINT",
            _ = term.recv().fuse() => "SIGTERM",
        }
    })
}

fn main() -> io::Result<()> {
    let flags = Flags::from_env("axum_graceful [--addr HOST:PORT] [--workers N]")?;
    let addr = flags.get_or("addr", "127.0.0.1:3001");
    runtime(&flags)?.block_on(serve(&addr, app()))
}

async fn serve(addr: &str, app: Router) -> io::Result<()> {
    let shutdown = shutdown_signal()?;
    let mut shutdown = std::pin::pin!(shutdown.fuse());
    let listener = TcpListener::bind(addr).await?;
    println!(
        "axum_graceful: listening on http://{}/",
        listener.local_addr()?
    );

    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(Executor::new());
    let which = loop {
        let stream = futures::select! {
            accepted = listener.accept().fuse() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // EMFILE and the like: back off and keep serving.
                    eprintln!("axum_graceful: accept: {e}");
                    goro::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            which = shutdown => break which,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        // A Router is always ready, so `call` needs no `poll_ready` first.
        let service = hyper::service::service_fn(move |req| app.clone().call(req));
        let mut http1 = builder.clone();
        http1
            .http1()
            .timer(Timer::new())
            .header_read_timeout(Duration::from_secs(30));
        let conn = http1.serve_connection(stream, service).into_owned();
        // `watch` lets `graceful.shutdown()` reach this connection.
        let conn = graceful.watch(conn);
        goro::spawn(async move {
            let _ = conn.await;
        });
    };

    eprintln!("axum_graceful: {which} received: shutting down");
    drop(listener); // 1. refuse new connections
    let start = Instant::now();
    // 2. and 3.
    match goro::time::timeout(DRAIN_LIMIT, graceful.shutdown()).await {
        Ok(()) => eprintln!(
            "axum_graceful: all connections finished in {:?}",
            start.elapsed()
        ),
        Err(_) => {
            eprintln!("axum_graceful: connections still open after {DRAIN_LIMIT:?}: dropping them")
        }
    }
    Ok(())
}
