//! hyper connections on goro sockets outlive the goro runtime they were
//! made in: polled on another executor after that runtime is dropped, they
//! end or fail promptly (goro's contract for its sockets and timers), never
//! hang or panic. Covers what the `hyper` feature adds on top of the
//! sockets: `Timer` sleeps (hyper's header-read timeout) and `Executor`
//! tasks (HTTP/2's connection driver).

use bytes::Bytes;
use goro::compat::hyper::{Executor, Timer};
use goro::net::{TcpListener, TcpStream};
use goro::runtime::Runtime;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use std::convert::Infallible;
use std::sync::mpsc;
use std::time::Duration;

/// Runs `f` on its own thread; panics if it has not returned by `limit`.
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .expect("hung after the runtime was dropped")
}

async fn echo(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = req.into_body().collect().await.map(|b| b.to_bytes());
    Ok(Response::new(Full::new(body.unwrap_or_default())))
}

/// A server connection with goro's timer, waiting for the rest of a
/// request body when its runtime goes.
#[test]
fn a_server_connection_mid_request_ends_once_its_runtime_is_dropped() {
    let rt = Runtime::new().unwrap();
    let (conn, client) = rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        std::io::Write::write_all(
            &mut client,
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nhalf",
        )
        .unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(Timer::new())
            .header_read_timeout(Duration::from_secs(3600))
            .serve_connection(stream, hyper::service::service_fn(echo));
        (conn, client)
    });
    within(Duration::from_secs(30), move || {
        let mut conn = Box::pin(conn);
        futures::executor::block_on(async {
            // Poll until it waits for the body's other 96 bytes.
            for _ in 0..10 {
                assert!(futures::poll!(conn.as_mut()).is_pending());
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        drop(rt);
        // Ends, with an error or without (hyper decides which).
        let _ = futures::executor::block_on(conn);
    });
    drop(client);
}

/// An HTTP/2 client whose connection driver hyper spawned with
/// `Executor::with_handle` on the runtime that is then dropped: the
/// request in flight fails.
#[test]
fn an_http2_request_fails_once_its_drivers_runtime_is_dropped() {
    // The server, on the default runtime, never answers.
    let listener = goro::block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    goro::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let never = hyper::service::service_fn(|_req| async {
            std::future::pending::<()>().await;
            Ok::<_, Infallible>(Response::new(Empty::<Bytes>::new()))
        });
        let _ = hyper::server::conn::http2::Builder::new(Executor::new())
            .serve_connection(stream, never)
            .await;
    });

    let rt = Runtime::new().unwrap();
    let handle = rt.handle();
    let (mut sender, conn) = rt.block_on(async move {
        let stream = TcpStream::connect(addr).await.unwrap();
        hyper::client::conn::http2::Builder::new(Executor::with_handle(handle))
            .timer(Timer::new())
            .handshake::<_, Empty<Bytes>>(stream)
            .await
            .unwrap()
    });
    rt.spawn(conn);
    let result = within(Duration::from_secs(30), move || {
        futures::executor::block_on(async move {
            let req = Request::get("http://x/").body(Empty::new()).unwrap();
            let mut response = Box::pin(sender.send_request(req));
            assert!(futures::poll!(response.as_mut()).is_pending());
            drop(rt);
            response.await.map(|r| r.status())
        })
    });
    assert!(result.is_err(), "{result:?}");
}
