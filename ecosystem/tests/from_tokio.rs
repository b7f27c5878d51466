//! The README's "Coming from tokio" table, claim by claim: each test shows
//! the goro (or futures-ecosystem) way of doing what a tokio program does,
//! running on goro with no tokio runtime. Claims about hyper, axum, rustls,
//! tungstenite and tokio-util are in `hyper.rs`, `tokio_io.rs` and
//! `examples.rs`.

use futures::io::AsyncReadExt;
use goro::net::{TcpListener, TcpStream};
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(60);

fn run<T>(fut: impl Future<Output = T>) -> T {
    goro::block_on(goro::time::timeout(LIMIT, fut)).expect("test timed out")
}

async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

/// `tokio::spawn` → `goro::spawn`; `spawn_blocking` → `goro::spawn_blocking`;
/// `JoinHandle` awaits to `Result<T, JoinError>` in both.
#[test]
fn spawn_and_spawn_blocking() {
    run(async {
        let task = goro::spawn(async { 6 * 7 });
        let blocking = goro::spawn_blocking(|| {
            std::thread::sleep(Duration::from_millis(10));
            "done"
        });
        assert_eq!(task.await.unwrap(), 42);
        assert_eq!(blocking.await.unwrap(), "done");
        let never = goro::spawn(std::future::pending::<()>());
        never.abort();
        assert!(never.await.unwrap_err().is_cancelled());
    });
}

/// `tokio::select!` → `futures::select!` (or `futures::future::select`).
#[test]
fn select_with_futures() {
    use futures::FutureExt;
    run(async {
        let (client, server) = pair().await;
        let mut buf = [0u8; 16];
        // Nothing to read yet: the sleep wins.
        let winner = futures::select! {
            r = server.read(&mut buf).fuse() => format!("read {r:?}"),
            _ = goro::time::sleep(Duration::from_millis(50)).fuse() => "sleep".to_owned(),
        };
        assert_eq!(winner, "sleep");
        client.write_all(b"hi").await.unwrap();
        let winner = futures::select! {
            r = server.read(&mut buf).fuse() => format!("read {}", r.unwrap()),
            _ = goro::time::sleep(Duration::from_secs(30)).fuse() => "sleep".to_owned(),
        };
        assert_eq!(winner, "read 2");
    });
}

/// `tokio::time::{sleep, timeout}` → `goro::time::{sleep, timeout}`;
/// `Elapsed` converts to an `io::Error` of kind `TimedOut`.
#[test]
fn sleep_and_timeout() {
    run(async {
        let start = Instant::now();
        goro::time::sleep(Duration::from_millis(20)).await;
        assert!(start.elapsed() >= Duration::from_millis(20));
        let (_client, server) = pair().await;
        let mut buf = [0u8; 1];
        let res = goro::time::timeout(Duration::from_millis(20), server.read(&mut buf)).await;
        let err: io::Error = res.unwrap_err().into();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    });
}

/// `TcpStream::split` / `into_split` → `&TcpStream` (or an
/// `Arc<TcpStream>`): both references read and write, so one task reads
/// while another writes the same socket; `futures::io::copy` takes them.
#[test]
fn split_by_reference() {
    run(async {
        let (client, server) = pair().await;
        let server = Arc::new(server);
        // Echo with futures::io::copy from &TcpStream to &TcpStream.
        let echo = goro::spawn({
            let server = server.clone();
            async move {
                let copied = futures::io::copy(&mut &*server, &mut &*server).await;
                server.shutdown(std::net::Shutdown::Write).unwrap();
                copied
            }
        });
        let client = Arc::new(client);
        let writer = goro::spawn({
            let client = client.clone();
            async move {
                client.write_all(&[7u8; 100_000]).await.unwrap();
                client.shutdown(std::net::Shutdown::Write).unwrap();
            }
        });
        let mut back = Vec::new();
        (&*client).read_to_end(&mut back).await.unwrap();
        writer.await.unwrap();
        assert_eq!(back.len(), 100_000);
        assert_eq!(echo.await.unwrap().unwrap(), 100_000);
    });
}

/// `tokio::sync::{mpsc, Mutex}` → `async-channel`, `async-lock`: runtime
/// independent crates that work unchanged across goro tasks.
#[test]
fn async_channel_and_async_lock() {
    run(async {
        let (tx, rx) = async_channel::bounded::<u32>(4);
        let total = Arc::new(async_lock::Mutex::new(0u32));
        let consumers: Vec<_> = (0..3)
            .map(|_| {
                let (rx, total) = (rx.clone(), total.clone());
                goro::spawn(async move {
                    while let Ok(n) = rx.recv().await {
                        *total.lock().await += n;
                    }
                })
            })
            .collect();
        for n in 1..=100 {
            tx.send(n).await.unwrap();
        }
        drop(tx);
        for c in consumers {
            c.await.unwrap();
        }
        assert_eq!(*total.lock().await, 5050);
    });
}

/// `tokio::sync` itself (feature `sync`) needs no tokio runtime: its
/// channels, `Mutex`, `Notify` and `watch` run unchanged across goro tasks.
#[test]
fn tokio_sync_without_tokio_runtime() {
    run(async {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u32>(4);
        let total = Arc::new(tokio::sync::Mutex::new(0u32));
        let ready = Arc::new(tokio::sync::Notify::new());
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let (state_tx, mut state_rx) = tokio::sync::watch::channel("starting");
        let consumer = {
            let (total, ready) = (total.clone(), ready.clone());
            goro::spawn(async move {
                ready.notified().await;
                state_tx.send("consuming").unwrap();
                while let Some(n) = rx.recv().await {
                    *total.lock().await += n;
                }
                done_tx.send(*total.lock().await).unwrap();
            })
        };
        ready.notify_one();
        state_rx.changed().await.unwrap();
        assert_eq!(*state_rx.borrow(), "consuming");
        for n in 1..=100 {
            tx.send(n).await.unwrap();
        }
        drop(tx);
        assert_eq!(done_rx.await.unwrap(), 5050);
        consumer.await.unwrap();
    });
}

/// `tokio::fs` / `tokio::process` → `async-fs` / `async-process`, which
/// run their blocking work and child reaping on their own threads and so
/// work under any executor, goro's included.
#[test]
fn async_fs_and_async_process() {
    run(async {
        let path = std::env::temp_dir().join(format!("goro-from-tokio-{}", std::process::id()));
        async_fs::write(&path, b"file contents").await.unwrap();
        assert_eq!(async_fs::read(&path).await.unwrap(), b"file contents");
        async_fs::remove_file(&path).await.unwrap();

        let out = async_process::Command::new("echo")
            .arg("from a child")
            .output()
            .await
            .unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, b"from a child\n");
    });
}

/// hyper through a generic `futures-io` adapter: smol-hyper's `FuturesIo`
/// wraps a goro stream unchanged (goro's own `hyper::rt` impls make it
/// unnecessary, but code written that way keeps working).
#[test]
fn smol_hyper_adapter_over_goro_streams() {
    use bytes::Bytes;
    use http_body_util::{BodyExt, Empty, Full};
    use smol_hyper::rt::FuturesIo;
    run(async {
        let (client, server) = pair().await;
        goro::spawn(async move {
            let service = hyper::service::service_fn(|_req| async {
                Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                    Bytes::from_static(b"via smol-hyper"),
                )))
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(FuturesIo::new(server), service)
                .await;
        });
        let (mut sender, conn) = hyper::client::conn::http1::handshake(FuturesIo::new(client))
            .await
            .unwrap();
        goro::spawn(conn);
        let req = hyper::Request::get("http://localhost/")
            .body(Empty::<Bytes>::new())
            .unwrap();
        sender.ready().await.unwrap();
        let resp = sender.send_request(req).await.unwrap();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"via smol-hyper");
    });
}

/// `socket2::SockRef::from(&tokio_stream)` → `stream.with_fd(|fd|
/// SockRef::from(&fd))` (goro's sockets are not `AsFd`: `close(&self)`
/// could close a lent fd; `with_fd` keeps it open while the closure runs).
#[test]
fn socket2_options_through_with_fd() {
    use socket2::SockRef;
    run(async {
        let (client, _server) = pair().await;
        let timeout = Duration::from_millis(4_321);
        client
            .with_fd(|fd| SockRef::from(&fd).set_tcp_user_timeout(Some(timeout)))
            .unwrap()
            .unwrap();
        let read_back = client
            .with_fd(|fd| SockRef::from(&fd).tcp_user_timeout())
            .unwrap()
            .unwrap();
        assert_eq!(read_back, Some(timeout));
    });
}
