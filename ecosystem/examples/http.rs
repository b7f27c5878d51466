//! An HTTP/1.1 hello-world server: hyper 1.x on goro, no adapter.
//!
//! ```text
//! cargo run --release -p goro-ecosystem --example http -- --addr 127.0.0.1:8080 --workers 2
//! curl http://127.0.0.1:8080/
//! wrk -t1 -c100 -d5s http://127.0.0.1:8080/
//! ```
//!
//! With goro's `hyper` feature a goro `TcpStream` is a `hyper::rt::Read` +
//! `Write`, so `serve_connection` takes it as it is; `goro::compat::hyper::Timer`
//! gives hyper the timer its header-read timeout needs (without one hyper
//! silently runs no such timeout).

use bytes::Bytes;
use goro::compat::hyper::Timer;
use goro::net::{TcpListener, TcpStream};
use goro_ecosystem::{Flags, runtime};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use std::convert::Infallible;
use std::io;
use std::time::Duration;

async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = format!("Hello from goro! You asked for {}\n", req.uri().path());
    Ok(Response::new(Full::new(Bytes::from(body))))
}

fn main() -> io::Result<()> {
    let flags = Flags::from_env("http [--addr HOST:PORT] [--workers N]")?;
    let addr = flags.get_or("addr", "127.0.0.1:8080");
    runtime(&flags)?.block_on(async {
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
        .timer(Timer::new())
        .header_read_timeout(Duration::from_secs(30))
        .serve_connection(stream, hyper::service::service_fn(hello));
    // An error here is a client that went away or timed out mid-request.
    let _ = conn.await;
}
