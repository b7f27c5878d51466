//! A TCP echo server.
//!
//! ```text
//! cargo run --release --example echo -- --addr 127.0.0.1:7000 --workers 2
//! nc 127.0.0.1 7000
//! ```
//!
//! Every connection is one task that reads and writes back what it read.
//! `incoming()` backs off when the process runs out of descriptors, so the
//! server keeps serving existing connections under fd exhaustion.

use goro::net::{TcpListener, TcpStream};
use std::io;

fn main() -> io::Result<()> {
    let mut addr = String::from("127.0.0.1:7000");
    let mut workers = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = args.next().ok_or_else(|| usage("--addr needs a value"))?,
            "--workers" => {
                let n = args
                    .next()
                    .ok_or_else(|| usage("--workers needs a value"))?;
                workers = Some(
                    n.parse()
                        .map_err(|_| usage("--workers takes a positive integer"))?,
                );
            }
            "-h" | "--help" => {
                println!("usage: echo [--addr HOST:PORT] [--workers N]");
                return Ok(());
            }
            other => return Err(usage(&format!("unknown argument {other:?}"))),
        }
    }
    let mut builder = goro::runtime::Builder::new();
    if let Some(n) = workers {
        builder.worker_threads(n);
    }
    let rt = builder.build()?;
    rt.block_on(async {
        let listener = TcpListener::bind(&addr).await?;
        println!("echo: listening on {}", listener.local_addr()?);
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
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if stream.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

fn usage(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("echo: {msg}"))
}
