//! A TCP proxy: every connection to `--listen` is forwarded to `--upstream`.
//!
//! ```text
//! cargo run --release --example echo -- --addr 127.0.0.1:7000 &
//! cargo run --release --example proxy -- --listen 127.0.0.1:7002 --upstream 127.0.0.1:7000
//! nc 127.0.0.1 7002
//! ```
//!
//! Each direction is a `futures::io::copy` over `&TcpStream` halves of the
//! same sockets (goro's streams implement `AsyncRead`/`AsyncWrite` for
//! shared references). When one side finishes, the other side's write half
//! is shut down so the end of stream propagates.

use goro::net::{TcpListener, TcpStream};
use std::io;
use std::net::Shutdown;
use std::time::Duration;

fn main() -> io::Result<()> {
    let mut listen = String::from("127.0.0.1:7002");
    let mut upstream = String::from("127.0.0.1:7000");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = || io::Error::new(io::ErrorKind::InvalidInput, format!("{arg} needs a value"));
        match arg.as_str() {
            "--listen" => listen = args.next().ok_or_else(value)?,
            "--upstream" => upstream = args.next().ok_or_else(value)?,
            _ => {
                println!("usage: proxy [--listen HOST:PORT] [--upstream HOST:PORT]");
                return Ok(());
            }
        }
    }
    goro::block_on(async move {
        let listener = TcpListener::bind(&listen).await?;
        println!(
            "proxy: listening on {} forwarding to {upstream}",
            listener.local_addr()?
        );
        let mut incoming = listener.incoming();
        // The loop ends once the listener is closed.
        while let Some(client) = incoming.next().await {
            let client = client?;
            let upstream = upstream.clone();
            goro::spawn(async move {
                if let Err(e) = forward(client, &upstream).await {
                    eprintln!("proxy: {e}");
                }
            });
        }
        Ok(())
    })
}

async fn forward(client: TcpStream, upstream: &str) -> io::Result<()> {
    let server =
        goro::time::timeout(Duration::from_secs(5), TcpStream::connect(upstream)).await??;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let up = async {
        let n = futures::io::copy(&client, &mut &server).await;
        let _ = server.shutdown(Shutdown::Write);
        n
    };
    let down = async {
        let n = futures::io::copy(&server, &mut &client).await;
        let _ = client.shutdown(Shutdown::Write);
        n
    };
    let (a, b) = futures::future::join(up, down).await;
    a?;
    b?;
    Ok(())
}
