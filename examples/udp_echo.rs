//! A UDP echo server: every datagram goes back to its sender.
//!
//! ```text
//! cargo run --release --example udp_echo -- --addr 127.0.0.1:7003
//! nc -u 127.0.0.1 7003
//! ```
//!
//! One task owns the socket and loops `recv_from` / `send_to`, the way a Go
//! server loops on `ReadFrom`/`WriteTo` of a `net.PacketConn`. A datagram
//! larger than the buffer is truncated by the kernel, as in Go.

use goro::net::UdpSocket;
use std::io;

fn main() -> io::Result<()> {
    let mut addr = String::from("127.0.0.1:7003");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => {
                addr = args.next().ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "udp_echo: --addr needs a value",
                    )
                })?
            }
            _ => {
                println!("usage: udp_echo [--addr HOST:PORT]");
                return Ok(());
            }
        }
    }
    goro::block_on(async {
        let socket = UdpSocket::bind(&addr).await?;
        println!("udp_echo: listening on {}", socket.local_addr()?);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let (n, from) = socket.recv_from(&mut buf).await?;
            // A peer that went away (ICMP unreachable) is its own problem.
            if let Err(e) = socket.send_to(&buf[..n], from).await {
                eprintln!("udp_echo: reply to {from}: {e}");
            }
        }
    })
}
