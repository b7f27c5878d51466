//! The single-threaded epoll echo load generator of the out-of-process
//! network benchmark; see `goro_bench::loadgen`. Prints one `key=value`
//! line; with `--histogram` also the latency histogram, one bucket a line.
//!
//! ```text
//! loadgen --addr 127.0.0.1:PORT --conns 500 --size 64
//!         [--warmup-ms 500] [--measure-ms 2000] [--server-pid PID] [--histogram]
//! ```

use goro_bench::loadgen::{Load, run};
use std::time::Duration;

fn usage() -> ! {
    eprintln!(
        "usage: loadgen --addr ADDR --conns N --size BYTES [--warmup-ms MS] [--measure-ms MS] \
         [--server-pid PID] [--histogram]"
    );
    std::process::exit(2);
}

fn main() {
    let mut load = Load {
        addr: "127.0.0.1:0".parse().expect("literal address"),
        conns: 0,
        size: 0,
        warmup: Duration::from_millis(500),
        measure: Duration::from_millis(2000),
        server_pid: None,
    };
    let mut histogram = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--histogram" {
            histogram = true;
            continue;
        }
        let Some(v) = args.next() else { usage() };
        let num = || v.parse::<u64>().unwrap_or_else(|_| usage());
        match a.as_str() {
            "--addr" => load.addr = v.parse().unwrap_or_else(|_| usage()),
            "--conns" => load.conns = num() as usize,
            "--size" => load.size = num() as usize,
            "--warmup-ms" => load.warmup = Duration::from_millis(num()),
            "--measure-ms" => load.measure = Duration::from_millis(num()),
            "--server-pid" => load.server_pid = Some(num() as u32),
            _ => usage(),
        }
    }
    if load.conns == 0 || load.size == 0 || load.addr.port() == 0 {
        usage();
    }
    match run(&load) {
        Ok(report) => {
            println!("{}", report.line());
            if histogram {
                for (ns, count) in report.latency.buckets() {
                    println!("bucket_us={:.1} count={count}", ns as f64 / 1e3);
                }
            }
        }
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::exit(1);
        }
    }
}
