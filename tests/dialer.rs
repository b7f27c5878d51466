//! `Dialer` and `ListenConfig` (Go's `net.Dialer` / `net.ListenConfig`)
//! and the keep-alive and buffer options on `TcpStream`. The network is
//! loopback only, so a connect that hangs is made by filling a listener's
//! accept queue (the kernel then drops new SYNs) and never accepting.

mod support;

use goro::net::{Dialer, ListenConfig, TcpListener, TcpStream};
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

const GENEROUS: Duration = Duration::from_secs(3);
const ROUNDING: Duration = Duration::from_millis(1);

fn rt() -> goro::runtime::Runtime {
    goro::runtime::Runtime::builder()
        .worker_threads(2)
        .build()
        .unwrap()
}

fn getsockopt(fd: &impl AsRawFd, level: i32, name: i32) -> i32 {
    support::net::getsockopt_int(fd, level, name).expect("getsockopt")
}

/// `(SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL)` as the kernel reports them.
fn keepalive_opts(s: &TcpStream) -> (i32, i32, i32) {
    (
        getsockopt(s, libc::SOL_SOCKET, libc::SO_KEEPALIVE),
        getsockopt(s, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE),
        getsockopt(s, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL),
    )
}

/// A listener whose accept queue is full: further connects hang (their
/// SYNs are dropped). Returns it with the clients that filled it.
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
    panic!("the accept queue never filled (backlog not applied?)");
}

#[test]
fn timeout_fails_a_connect_that_hangs() {
    let rt = rt();
    let (listener, fillers) = full_listener(&rt);
    // backlog(0) admits one queued connection (the kernel allows backlog + 1).
    assert!(fillers.len() <= 2, "{} connections queued", fillers.len());
    let addr = listener.local_addr().unwrap();
    let timeout = Duration::from_millis(300);
    let start = Instant::now();
    let err = rt
        .block_on(Dialer::new().timeout(timeout).connect(addr))
        .unwrap_err();
    let took = start.elapsed();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
    assert!(took + ROUNDING >= timeout, "fired early: {took:?}");
    assert!(took < timeout + GENEROUS, "fired late: {took:?}");
    // A deadline works the same way, and the earlier of the two applies.
    let start = Instant::now();
    let err = rt
        .block_on(
            Dialer::new()
                .timeout(Duration::from_secs(3600))
                .deadline(Instant::now() + Duration::from_millis(200))
                .connect(addr),
        )
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    assert!(start.elapsed() < Duration::from_millis(200) + GENEROUS);
}

/// Go's partial deadlines: when a name has several addresses, one that
/// hangs gets only its share of the timeout (at least 2 s), so the next is
/// still tried in time (a dead first record, an IPv6 route that drops
/// packets). With the whole budget spent on the first, the second was
/// tried only at the timeout.
#[test]
fn a_hung_address_leaves_time_for_the_next() {
    let rt = rt();
    let (hung, _fillers) = full_listener(&rt);
    let live = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addrs = [hung.local_addr().unwrap(), live.local_addr().unwrap()];
    let start = Instant::now();
    let stream = rt
        .block_on(
            Dialer::new()
                .timeout(Duration::from_secs(6))
                .connect(&addrs[..]),
        )
        .expect("the second address was not tried in time");
    assert_eq!(stream.peer_addr().unwrap(), addrs[1]);
    // The first attempt gave up at its share (3 s), not before, and the
    // connect succeeded within the timeout.
    let took = start.elapsed();
    assert!(took >= Duration::from_secs(3) - ROUNDING, "{took:?}");
    assert!(took < Duration::from_secs(6), "{took:?}");
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

#[test]
fn a_deadline_already_past_fails_at_once() {
    let rt = rt();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let start = Instant::now();
        let err = Dialer::new()
            .deadline(Instant::now())
            .connect(listener.local_addr().unwrap())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(err.to_string(), "i/o timeout");
        assert!(start.elapsed() < GENEROUS);
        // Nothing reached the listener.
        listener
            .set_deadline(Some(Instant::now() + Duration::from_millis(50)))
            .unwrap();
        let e = listener.accept().await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        // Duration::ZERO as a timeout is a deadline of now.
        let err = Dialer::new()
            .timeout(Duration::ZERO)
            .connect(listener.local_addr().unwrap())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    });
}

#[test]
fn a_timeout_does_not_hurt_a_fast_connect() {
    rt().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dialer = Dialer::new().timeout(Duration::from_secs(10));
        for _ in 0..3 {
            let c = dialer
                .connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            let (s, peer) = listener.accept().await.unwrap();
            assert_eq!(peer, c.local_addr().unwrap());
            c.write_all(b"ok").await.unwrap();
            let mut buf = [0; 2];
            s.read_exact(&mut buf).await.unwrap();
        }
        // Refused is still refused, not a timeout.
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let err = dialer.connect(closed).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    });
}

#[test]
fn local_addr_is_honoured() {
    rt().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        // 127.0.0.2 is loopback too, but never the kernel's own choice.
        let local: SocketAddr = "127.0.0.2:0".parse().unwrap();
        let c = Dialer::new()
            .local_addr(local)
            .connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (_s, peer) = listener.accept().await.unwrap();
        assert_eq!(c.local_addr().unwrap().ip(), local.ip());
        assert_eq!(peer.ip(), local.ip());
        assert_eq!(peer, c.local_addr().unwrap());
        // A fixed port too.
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.2:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let fixed = SocketAddr::from(([127, 0, 0, 2], port));
        let c = Dialer::new()
            .local_addr(fixed)
            .connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        assert_eq!(c.local_addr().unwrap(), fixed);
        // A local address of the other family is a clear error.
        let v6_target = SocketAddr::from(([0u16, 0, 0, 0, 0, 0, 0, 1], 9));
        let err = Dialer::new()
            .local_addr(local)
            .connect(v6_target)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
    });
}

#[test]
fn keep_alive_defaults_and_settings_are_visible_to_getsockopt() {
    rt().block_on(async {
        let plain = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = plain.local_addr().unwrap();

        // Dialer: Go's 15 s by default.
        let c = Dialer::new().connect(addr).await.unwrap();
        assert_eq!(keepalive_opts(&c), (1, 15, 15));
        assert_eq!(c.keepalive().unwrap(), Some(Duration::from_secs(15)));
        // Rounded up to whole seconds.
        let c = Dialer::new()
            .keep_alive(Some(Duration::from_millis(2500)))
            .connect(addr)
            .await
            .unwrap();
        assert_eq!(keepalive_opts(&c), (1, 3, 3));
        // Off.
        let c = Dialer::new().keep_alive(None).connect(addr).await.unwrap();
        assert_eq!(keepalive_opts(&c).0, 0);
        assert_eq!(c.keepalive().unwrap(), None);

        // The std-style constructors leave it off, on both ends.
        let c = TcpStream::connect(addr).await.unwrap();
        assert_eq!(keepalive_opts(&c).0, 0);
        // The four connections made so far, accepted by a plain listener.
        for _ in 0..4 {
            let (s, _) = plain.accept().await.unwrap();
            assert_eq!(keepalive_opts(&s).0, 0);
        }

        // set_keepalive on an open stream.
        c.set_keepalive(Some(Duration::from_secs(42))).unwrap();
        assert_eq!(keepalive_opts(&c), (1, 42, 42));
        c.set_keepalive(None).unwrap();
        assert_eq!(keepalive_opts(&c).0, 0);

        // ListenConfig: accepted connections get 15 s by default...
        let l = ListenConfig::new().bind("127.0.0.1:0").await.unwrap();
        let _c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        assert_eq!(keepalive_opts(&s), (1, 15, 15));
        // ...through incoming() too, or what is configured.
        let l = ListenConfig::new()
            .keep_alive(Some(Duration::from_secs(7)))
            .bind("127.0.0.1:0")
            .await
            .unwrap();
        let _c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let s = l.incoming().next().await.unwrap().unwrap();
        assert_eq!(keepalive_opts(&s), (1, 7, 7));
        let l = ListenConfig::new()
            .keep_alive(None)
            .bind("127.0.0.1:0")
            .await
            .unwrap();
        let _c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        assert_eq!(keepalive_opts(&s).0, 0);

        // On a closed stream: an error, not a panic.
        c.close().unwrap();
        assert_eq!(
            c.set_keepalive(None).unwrap_err().kind(),
            io::ErrorKind::NotConnected
        );
    });
}

#[test]
fn reuse_port_lets_two_listeners_share_a_port() {
    rt().block_on(async {
        let config = ListenConfig::new().reuse_port(true);
        let a = config.bind("127.0.0.1:0").await.unwrap();
        let addr = a.local_addr().unwrap();
        let b = config.bind(addr).await.unwrap();
        assert_eq!(b.local_addr().unwrap(), addr);
        assert_eq!(getsockopt(&a, libc::SOL_SOCKET, libc::SO_REUSEPORT), 1);
        // Without it (on either side) the port is taken.
        let err = ListenConfig::new().bind(addr).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        let err = TcpListener::bind(addr).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        // The kernel spreads connections over both (by a hash of the
        // client port: 32 connections all landing on one has odds 2^-31).
        let mut clients = Vec::new();
        for _ in 0..32 {
            clients.push(TcpStream::connect(addr).await.unwrap());
        }
        async fn count(l: &TcpListener) -> usize {
            l.set_deadline(Some(Instant::now() + Duration::from_millis(100)))
                .unwrap();
            let mut n = 0;
            while l.accept().await.is_ok() {
                n += 1;
            }
            n
        }
        let (na, nb) = (count(&a).await, count(&b).await);
        assert_eq!(na + nb, 32);
        assert!(na > 0 && nb > 0, "a {na}, b {nb}");
        // Default: off.
        let c = ListenConfig::new().bind("127.0.0.1:0").await.unwrap();
        assert_eq!(getsockopt(&c, libc::SOL_SOCKET, libc::SO_REUSEPORT), 0);
        assert_eq!(getsockopt(&c, libc::SOL_SOCKET, libc::SO_REUSEADDR), 1);
        let d = ListenConfig::new()
            .reuse_address(false)
            .bind("127.0.0.1:0")
            .await
            .unwrap();
        assert_eq!(getsockopt(&d, libc::SOL_SOCKET, libc::SO_REUSEADDR), 0);
    });
}

/// The backlog of a listening socket: Linux reports it in TCP_INFO's
/// `tcpi_sacked` for sockets in the LISTEN state.
fn listen_backlog(l: &TcpListener) -> u32 {
    // SAFETY: all-zero is a valid tcp_info.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info`/`len` describe a writable tcp_info; the fd is open.
    let r = unsafe {
        libc::getsockopt(
            l.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    assert_eq!(r, 0, "{}", io::Error::last_os_error());
    info.tcpi_sacked
}

#[test]
fn backlog_is_applied() {
    rt().block_on(async {
        let l = ListenConfig::new()
            .backlog(7)
            .bind("127.0.0.1:0")
            .await
            .unwrap();
        assert_eq!(listen_backlog(&l), 7);
        let l = ListenConfig::new().bind("127.0.0.1:0").await.unwrap();
        let somaxconn: u32 = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .map(|s| s.trim().parse().unwrap())
            .unwrap_or(4096);
        assert_eq!(listen_backlog(&l), 4096.min(somaxconn));
        // Absurd values are capped, not errors.
        let l = ListenConfig::new()
            .backlog(u32::MAX)
            .bind("127.0.0.1:0")
            .await
            .unwrap();
        assert_eq!(listen_backlog(&l), somaxconn);
    });
}

#[test]
fn buffer_sizes_are_set_before_connect_and_inherited_by_accepted_streams() {
    rt().block_on(async {
        // An explicit size is fixed (no autotuning) and reported doubled.
        let l = ListenConfig::new()
            .send_buffer_size(8192)
            .recv_buffer_size(8192)
            .bind("127.0.0.1:0")
            .await
            .unwrap();
        let c = Dialer::new()
            .send_buffer_size(8192)
            .recv_buffer_size(12288)
            .connect(l.local_addr().unwrap())
            .await
            .unwrap();
        let (s, _) = l.accept().await.unwrap();
        assert_eq!(c.send_buffer_size().unwrap(), 16384);
        assert_eq!(c.recv_buffer_size().unwrap(), 24576);
        assert_eq!(s.send_buffer_size().unwrap(), 16384);
        assert_eq!(s.recv_buffer_size().unwrap(), 16384);
        s.set_recv_buffer_size(4096).unwrap();
        assert_eq!(s.recv_buffer_size().unwrap(), 8192);
        // Zero is bad input.
        let e = s.set_send_buffer_size(0).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let e = Dialer::new()
            .recv_buffer_size(0)
            .connect(l.local_addr().unwrap())
            .await
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let e = ListenConfig::new()
            .send_buffer_size(0)
            .bind("127.0.0.1:0")
            .await
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    });
}

#[test]
fn unresolvable_addresses_are_errors() {
    rt().block_on(async {
        let e = Dialer::new()
            .connect("no-such-host.invalid:80")
            .await
            .unwrap_err();
        assert_ne!(e.kind(), io::ErrorKind::TimedOut);
        let e = ListenConfig::new()
            .bind("not an address")
            .await
            .unwrap_err();
        assert!(
            matches!(
                e.kind(),
                io::ErrorKind::InvalidInput | io::ErrorKind::Other | io::ErrorKind::NotFound
            ),
            "{e}"
        );
    });
}
