//! An HTTP/1.1 hello-world server: hyper 1.x on goro.
//!
//! ```text
//! cargo run --release --example http -- --addr 127.0.0.1:8080 --workers 2
//! curl http://127.0.0.1:8080/
//! wrk -t2 -c50 -d10s http://127.0.0.1:8080/
//! ```
//!
//! hyper talks to sockets through its own `hyper::rt::Read`/`Write` traits;
//! the small adapter in `benches/support/hyper_goro.rs` (shared with the
//! benchmarks) bridges goro's `futures-io` streams to them.

// The adapter also carries an executor for hyper's HTTP/2, unused here.
#[allow(dead_code)]
#[path = "../benches/support/hyper_goro.rs"]
mod hyper_goro;

use bytes::Bytes;
use goro::net::{TcpListener, TcpStream};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_goro::FuturesIo;
use std::convert::Infallible;
use std::io;

async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = format!("Hello from goro! You asked for {}\n", req.uri().path());
    Ok(Response::new(Full::new(Bytes::from(body))))
}

fn main() -> io::Result<()> {
    let mut addr = String::from("127.0.0.1:8080");
    let mut workers = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidInput, format!("http: {m}"));
        match arg.as_str() {
            "--addr" => addr = args.next().ok_or_else(|| bad("--addr needs a value"))?,
            "--workers" => {
                let n = args.next().ok_or_else(|| bad("--workers needs a value"))?;
                workers = Some(
                    n.parse()
                        .map_err(|_| bad("--workers takes a positive integer"))?,
                );
            }
            _ => {
                println!("usage: http [--addr HOST:PORT] [--workers N]");
                return Ok(());
            }
        }
    }
    let mut builder = goro::runtime::Builder::new();
    if let Some(n) = workers {
        builder.worker_threads(n);
    }
    let rt = builder.build()?;
    rt.block_on(async {
        let listener = TcpListener::bind(&addr).await?;
        println!("http: listening on http://{}/", listener.local_addr()?);
        let mut incoming = listener.incoming();
        // The loop ends once the listener is closed.
        while let Some(stream) = incoming.next().await {
            let stream = stream?;
            goro::spawn(serve(stream));
        }
        Ok(())
    })
}

async fn serve(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let conn = hyper::server::conn::http1::Builder::new()
        .serve_connection(FuturesIo::new(stream), hyper::service::service_fn(hello));
    // An error here is a client that went away mid-request.
    let _ = conn.await;
}
