//! The body of the out-of-process servers (`server-goro`, `server-tokio`,
//! `server-smol`): start one runtime's echo or HTTP server on 127.0.0.1,
//! print `listening ADDR` on stdout, and serve until stdin closes (the
//! driver holds the other end, so a server never outlives its driver).
//!
//! ```text
//! server-goro [--workers N] [--mode echo|http]
//! ```

use crate::rt::Rt;
use std::io::{self, Read, Write};

/// Parses the command line, serves, and returns when stdin closes.
pub fn main<R: Rt>() {
    let mut workers = 1;
    let mut http = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--workers", Some(n)) if n.parse::<usize>().is_ok_and(|n| n > 0) => {
                workers = n.parse().unwrap_or(1);
            }
            ("--mode", Some(m)) if m == "echo" || m == "http" => http = m == "http",
            _ => {
                eprintln!("usage: server-{} [--workers N] [--mode echo|http]", R::NAME);
                std::process::exit(2);
            }
        }
    }
    let rt = R::new(workers);
    let addr = if http {
        rt.http_server()
    } else {
        rt.echo_server()
    };
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "listening {addr}");
    let _ = out.flush();
    drop(out);
    let mut sink = [0u8; 64];
    while io::stdin().read(&mut sink).is_ok_and(|n| n > 0) {}
    // The driver has what it measured; skip the runtime's teardown.
    std::process::exit(0);
}
