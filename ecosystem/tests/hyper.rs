//! hyper 1.x on goro (feature `hyper`), server and client in one process
//! over loopback: goro streams go into hyper's builders as they are, HTTP/2
//! runs on `goro::compat::hyper::Executor`, hyper's timeouts on `Timer`,
//! and `hyper_util`'s legacy `Client` dials with `Connector`.

use bytes::Bytes;
use goro::compat::hyper::{Connector, Executor, Timer};
use goro::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use std::convert::Infallible;
use std::io;
use std::time::{Duration, Instant};

/// Bounds every test: a hang fails instead of stalling the suite.
const LIMIT: Duration = Duration::from_secs(60);

fn run<T>(fut: impl Future<Output = T>) -> T {
    goro::block_on(goro::time::timeout(LIMIT, fut)).expect("test timed out")
}

/// Echoes method, path and body, and says which HTTP version it spoke.
async fn echo(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let head = format!(
        "{} {} {:?}\n",
        req.method(),
        req.uri().path(),
        req.version()
    );
    let body = req.into_body().collect().await.map(|b| b.to_bytes());
    let mut out = head.into_bytes();
    out.extend_from_slice(&body.unwrap_or_default());
    Ok(Response::new(Full::new(Bytes::from(out))))
}

/// Serves HTTP/1.1 (with goro's timer) on every accepted connection.
async fn serve_http1(listener: TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        goro::spawn(async move {
            let _ = http1::Builder::new()
                .timer(Timer::new())
                .serve_connection(stream, hyper::service::service_fn(echo))
                .await;
        });
    }
}

async fn body_string(resp: Response<Incoming>) -> String {
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn http1_round_trip_over_goro_tcp() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        goro::spawn(serve_http1(listener));

        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(stream).await.unwrap();
        goro::spawn(conn);
        // Two requests on one kept-alive connection.
        for i in 0..2 {
            let req = Request::post(format!("http://{addr}/echo/{i}"))
                .body(Full::new(Bytes::from("ping")))
                .unwrap();
            // hyper's contract: wait until the connection takes a request.
            sender.ready().await.unwrap();
            let resp = sender.send_request(req).await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            assert_eq!(
                body_string(resp).await,
                format!("POST /echo/{i} HTTP/1.1\nping")
            );
        }
    });
}

#[test]
fn http2_round_trip_with_goro_executor_and_timer() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        goro::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let _ = http2::Builder::new(Executor::new())
                .timer(Timer::new())
                .keep_alive_interval(Duration::from_secs(10))
                .serve_connection(stream, hyper::service::service_fn(echo))
                .await;
        });

        let stream = TcpStream::connect(addr).await.unwrap();
        let (sender, conn) = hyper::client::conn::http2::Builder::new(Executor::new())
            .timer(Timer::new())
            .handshake(stream)
            .await
            .unwrap();
        goro::spawn(conn);
        // Concurrent streams multiplexed on the one connection.
        let mut replies = Vec::new();
        for i in 0..8 {
            let mut sender = sender.clone();
            replies.push(goro::spawn(async move {
                let req = Request::post(format!("http://{addr}/s/{i}"))
                    .body(Full::new(Bytes::from(format!("body {i}"))))
                    .unwrap();
                sender.ready().await.unwrap();
                let resp = sender.send_request(req).await.unwrap();
                body_string(resp).await
            }));
        }
        for (i, reply) in replies.into_iter().enumerate() {
            assert_eq!(
                reply.await.unwrap(),
                format!("POST /s/{i} HTTP/2.0\nbody {i}")
            );
        }
    });
    assert_no_tokio_threads();
}

/// No thread of this process is a tokio runtime thread (they are named
/// `tokio-runtime-worker`); goro's workers and hyper's tasks ran it all.
fn assert_no_tokio_threads() {
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let comm = std::fs::read_to_string(task.unwrap().path().join("comm")).unwrap_or_default();
        assert!(!comm.starts_with("tokio"), "a tokio thread: {comm}");
    }
}

#[test]
fn http1_over_goro_unix_stream() {
    run(async {
        let path = std::env::temp_dir().join(format!("goro-hyper-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        goro::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let _ = http1::Builder::new()
                .serve_connection(stream, hyper::service::service_fn(echo))
                .await;
        });
        let stream = UnixStream::connect(&path).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(stream).await.unwrap();
        goro::spawn(conn);
        let req = Request::get("http://localhost/over/unix")
            .body(Empty::<Bytes>::new())
            .unwrap();
        sender.ready().await.unwrap();
        let resp = sender.send_request(req).await.unwrap();
        assert_eq!(body_string(resp).await, "GET /over/unix HTTP/1.1\n");
        let _ = std::fs::remove_file(&path);
    });
}

#[test]
fn legacy_client_dials_with_goro_connector() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        goro::spawn(serve_http1(listener));

        let client: Client<Connector, Full<Bytes>> = Client::builder(Executor::new())
            .timer(Timer::new())
            .pool_timer(Timer::new())
            .pool_idle_timeout(Duration::from_secs(5))
            .build(Connector::new());
        for i in 0..3 {
            let req = Request::put(format!("http://{addr}/c/{i}"))
                .body(Full::new(Bytes::from("x")))
                .unwrap();
            let resp = client.request(req).await.unwrap();
            assert_eq!(body_string(resp).await, format!("PUT /c/{i} HTTP/1.1\nx"));
        }
        // A refused connection is an error, not a hang.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let dead = closed.local_addr().unwrap();
        drop(closed);
        let err = client
            .request(
                Request::get(format!("http://{dead}/"))
                    .body(Full::default())
                    .unwrap(),
            )
            .await
            .unwrap_err();
        assert!(err.is_connect(), "{err:?}");
    });
}

/// A listener whose accept queue is full drops new SYNs, so a connect to it
/// hangs until the connector's timeout gives up. The listener's backlog is
/// 1, so a few connects fill its queue.
#[test]
fn connector_times_out_on_a_connect_that_hangs() {
    use tower_service::Service;
    run(async {
        let full =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        full.bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
        full.listen(1).unwrap();
        let addr = full.local_addr().unwrap().as_socket().unwrap();
        let uri: hyper::Uri = format!("http://{addr}/").parse().unwrap();
        let limit = Duration::from_millis(300);
        let mut connector = Connector::new().connect_timeout(Some(limit));
        let mut queued = Vec::new();
        for _ in 0..64 {
            let start = Instant::now();
            match connector.call(uri.clone()).await {
                Ok(stream) => queued.push(stream),
                Err(e) => {
                    assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
                    assert!(e.to_string().contains("timed out"), "{e}");
                    let took = start.elapsed();
                    assert!(took >= limit, "gave up early: {took:?}");
                    assert!(took < Duration::from_secs(20), "gave up late: {took:?}");
                    assert!(!queued.is_empty(), "the first connect cannot hang");
                    return;
                }
            }
        }
        panic!(
            "{} connects to a listener that never accepts all succeeded",
            queued.len()
        );
    });
}

/// hyper's `header_read_timeout` fires on goro's timer: a client that never
/// finishes its headers is cut off, and the connection ends with a timeout.
#[test]
fn header_read_timeout_cuts_off_a_slow_client() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let timeout = Duration::from_millis(300);
        let server = goro::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            http1::Builder::new()
                .timer(Timer::new())
                .header_read_timeout(timeout)
                .serve_connection(stream, hyper::service::service_fn(echo))
                .await
        });
        // The server's clock may start as soon as the connection exists.
        let start = Instant::now();
        let client = TcpStream::connect(addr).await.unwrap();
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        // The server closes without answering; nothing more is ever sent.
        let mut buf = [0u8; 1024];
        let n = client.read(&mut buf).await.unwrap();
        let took = start.elapsed();
        let result = server.await.unwrap();
        let err = result.expect_err("the connection must end in an error");
        assert!(err.is_timeout(), "not a timeout: {err:?}");
        assert!(took >= timeout, "cut off before the timeout: {took:?}");
        assert!(
            took < Duration::from_secs(20),
            "timeout far too late: {took:?}"
        );
        // hyper may answer 408 before closing; either way the stream then ends.
        let answer = String::from_utf8_lossy(&buf[..n]).to_string();
        assert!(n == 0 || answer.starts_with("HTTP/1.1 408"), "{answer}");
    });
}
