//! Go's partial deadlines in `Dialer::connect` share the time left among the
//! addresses still to try. Addresses of the other IP family than the
//! dialer's `local_addr` are never tried, so they must not take a share:
//! counted, they cut the one attempt that can be made to a fraction of the
//! timeout and the dial gave up long before its timeout. The network is
//! loopback only: a connect hangs on a listener whose accept queue is full.

mod support;

use goro::net::{Dialer, ListenConfig, TcpListener};
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn rt() -> goro::runtime::Runtime {
    goro::runtime::Runtime::builder()
        .worker_threads(2)
        .build()
        .unwrap()
}

/// A listener whose accept queue is full (further SYNs are dropped, so a
/// connect to it hangs), with the clients that filled it.
fn full_listener(rt: &goro::runtime::Runtime) -> (TcpListener, Vec<std::net::TcpStream>) {
    let listener = rt
        .block_on(ListenConfig::new().backlog(0).bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..64 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(s) => fillers.push(s),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => return (listener, fillers),
            Err(e) => panic!("filling the accept queue: {e}"),
        }
    }
    panic!("the accept queue never filled");
}

/// The only IPv4 address among several IPv6 ones, dialled from an IPv4
/// local address, gets the whole timeout: the IPv6 ones are skipped, not
/// tried, so they leave nothing to share it with. (Timing is the point
/// here: with them counted, the attempt got 2 s of 5.)
#[test]
fn skipped_addresses_take_no_share_of_the_timeout() {
    let rt = rt();
    let (hung, _fillers) = full_listener(&rt);
    let v6: SocketAddr = "[::1]:9".parse().unwrap();
    let addrs = [hung.local_addr().unwrap(), v6, v6, v6, v6];
    let timeout = Duration::from_secs(5);
    let start = Instant::now();
    let err = rt
        .block_on(
            Dialer::new()
                .local_addr("127.0.0.1:0".parse().unwrap())
                .timeout(timeout)
                .connect(&addrs[..]),
        )
        .unwrap_err();
    let took = start.elapsed();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
    assert!(
        took >= timeout - Duration::from_millis(500),
        "gave up after {took:?} of a {timeout:?} timeout"
    );
}
