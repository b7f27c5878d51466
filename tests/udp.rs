//! `UdpSocket`: datagrams with and without `connect`, zero-length and
//! truncated datagrams, peeking, the poll methods, socket options, ICMP
//! errors, Go's deadline rules, `close` waking blocked tasks, bad addresses,
//! std conversions, and many tasks sharing one socket.
//!
//! Timing assertions: "at once" means within [`PROMPT`]; a firing deadline
//! must not fire before its instant and must fire within [`LATE`] after it.
//! Both bounds are generous because the test machine is small and busy.

mod support;

use goro::net::UdpSocket;
use goro::time::{sleep, sleep_until, timeout};
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::assert_kind;
use support::hang::run;
use support::instants::past;
use support::margins::{Setup, before, with_margins};

/// Upper bound for "fails at once".
const PROMPT: Duration = Duration::from_secs(3);
/// Upper bound for how late a deadline may fire.
const LATE: Duration = Duration::from_secs(5);

async fn bound() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").await.unwrap()
}

/// Two sockets connected to each other.
async fn connected_pair() -> (UdpSocket, UdpSocket) {
    let (a, b) = (bound().await, bound().await);
    a.connect(b.local_addr().unwrap()).await.unwrap();
    b.connect(a.local_addr().unwrap()).await.unwrap();
    (a, b)
}

#[test]
fn send_to_and_recv_from() {
    run(async {
        let (a, b) = (bound().await, bound().await);
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        assert!(a_addr.ip().is_loopback() && a_addr.port() != 0);
        assert_eq!(a.send_to(b"hello", b_addr).await.unwrap(), 5);
        let mut buf = [0; 64];
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"hello"[..], a_addr));
        // Reply to the address the datagram came from, given as a string.
        b.send_to(b"world", from.to_string()).await.unwrap();
        let (n, from) = a.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"world"[..], b_addr));
    });
}

#[test]
fn bind_and_send_to_with_names() {
    run(async {
        let b = bound().await;
        let port = b.local_addr().unwrap().port();
        // "localhost" needs a lookup (on the blocking pool); it may resolve
        // to ::1 first, which a 127.0.0.1 socket must skip.
        let named = UdpSocket::bind(("localhost", 0)).await.unwrap();
        assert!(named.local_addr().unwrap().ip().is_loopback());
        if named.local_addr().unwrap().is_ipv4() {
            named.send_to(b"x", ("localhost", port)).await.unwrap();
            let (n, from) = b.recv_from(&mut [0; 4]).await.unwrap();
            assert_eq!((n, from), (1, named.local_addr().unwrap()));
        }

        let a = bound().await;
        a.send_to(b"y", format!("127.0.0.1:{port}")).await.unwrap();
        // Of several addresses, the first of the socket's family is used.
        let v6: SocketAddr = format!("[::1]:{port}").parse().unwrap();
        let addrs = [v6, b.local_addr().unwrap()];
        a.send_to(b"z", &addrs[..]).await.unwrap();
        let mut buf = [0; 4];
        let (n, _) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"y");
        let (n, _) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"z");
    });
}

#[test]
fn bad_addresses_are_errors_not_panics() {
    run(async {
        let a = bound().await;
        for bad in [
            "not an address",
            "127.0.0.1",
            "127.0.0.1:99999",
            "nonexistent.invalid:80",
            "",
        ] {
            let r = timeout(Duration::from_secs(30), a.send_to(b"x", bad)).await;
            assert!(matches!(r, Ok(Err(_))), "send_to {bad:?}: {r:?}");
            let r = timeout(Duration::from_secs(30), a.connect(bad)).await;
            assert!(matches!(r, Ok(Err(_))), "connect {bad:?}: {r:?}");
            let r = timeout(Duration::from_secs(30), UdpSocket::bind(bad)).await;
            assert!(matches!(r, Ok(Err(_))), "bind {bad:?}: {r:?}");
        }
        let none: &[SocketAddr] = &[];
        assert!(a.send_to(b"x", none).await.is_err());
        assert!(UdpSocket::bind(none).await.is_err());
        // The socket still works afterwards.
        let b = bound().await;
        a.send_to(b"ok", b.local_addr().unwrap()).await.unwrap();
        assert_eq!(b.recv(&mut [0; 4]).await.unwrap(), 2);
    });
}

#[test]
fn bind_to_a_port_in_use_fails() {
    run(async {
        let a = bound().await;
        let r = UdpSocket::bind(a.local_addr().unwrap()).await;
        assert_kind(r, io::ErrorKind::AddrInUse);
    });
}

#[test]
fn connect_send_recv_and_peer_filtering() {
    run(async {
        let (a, b) = connected_pair().await;
        assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
        assert_eq!(b.peer_addr().unwrap(), a.local_addr().unwrap());
        // A third socket's datagram is not delivered to the connected `b`.
        let stranger = bound().await;
        stranger
            .send_to(b"stranger", b.local_addr().unwrap())
            .await
            .unwrap();
        assert_eq!(a.send(b"friend").await.unwrap(), 6);
        let mut buf = [0; 16];
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"friend"[..], a.local_addr().unwrap()));
        b.send(b"back").await.unwrap();
        let n = a.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"back");
    });
}

#[test]
fn unconnected_peer_addr_and_send_fail() {
    run(async {
        let a = bound().await;
        assert_kind(a.peer_addr(), io::ErrorKind::NotConnected);
        // Linux: send on an unconnected UDP socket is EDESTADDRREQ.
        assert!(a.send(b"x").await.is_err());
    });
}

#[test]
fn zero_length_datagrams_are_sent_and_received() {
    run(async {
        let (a, b) = (bound().await, bound().await);
        assert_eq!(a.send_to(&[], b.local_addr().unwrap()).await.unwrap(), 0);
        let mut buf = [0; 8];
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!((n, from), (0, a.local_addr().unwrap()));

        // An empty buffer still waits for (and consumes) a datagram.
        b.set_read_deadline(Some(Instant::now() + Duration::from_millis(100)))
            .unwrap();
        assert_kind(b.recv(&mut []).await, io::ErrorKind::TimedOut);
        b.set_read_deadline(None).unwrap();
        a.send_to(b"dropped", b.local_addr().unwrap())
            .await
            .unwrap();
        a.send_to(b"next", b.local_addr().unwrap()).await.unwrap();
        assert_eq!(b.recv_from(&mut []).await.unwrap().0, 0);
        let (n, _) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"next");

        // Connected sockets too.
        let (c, d) = connected_pair().await;
        assert_eq!(c.send(&[]).await.unwrap(), 0);
        assert_eq!(d.recv(&mut buf).await.unwrap(), 0);
    });
}

#[test]
fn long_datagrams_are_truncated_and_boundaries_kept() {
    run(async {
        let (a, b) = connected_pair().await;
        a.send(b"0123456789").await.unwrap();
        a.send(b"ab").await.unwrap();
        let mut small = [0; 4];
        assert_eq!(b.recv(&mut small).await.unwrap(), 4);
        assert_eq!(&small, b"0123");
        // The rest of the first datagram is gone; the next one is whole.
        let mut buf = [0; 16];
        let n = b.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"ab");
    });
}

#[test]
fn peek_and_peek_from_do_not_consume() {
    run(async {
        let (a, b) = (bound().await, bound().await);
        a.send_to(b"first", b.local_addr().unwrap()).await.unwrap();
        let mut buf = [0; 16];
        let (n, from) = b.peek_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"first"[..], a.local_addr().unwrap()));
        let (n2, from2) = b.peek_from(&mut buf).await.unwrap();
        assert_eq!((n2, from2), (n, from));
        assert_eq!(b.recv_from(&mut buf).await.unwrap(), (n, from));

        let (c, d) = connected_pair().await;
        c.send(b"second").await.unwrap();
        assert_eq!(d.peek(&mut buf).await.unwrap(), 6);
        assert_eq!(d.recv(&mut buf).await.unwrap(), 6);
        assert_eq!(&buf[..6], b"second");
    });
}

#[test]
fn recv_waits_for_a_datagram() {
    run(async {
        let (a, b) = (bound().await, Arc::new(bound().await));
        let to = b.local_addr().unwrap();
        let waiter = goro::spawn({
            let b = b.clone();
            async move {
                let mut buf = [0; 8];
                let (n, _) = b.recv_from(&mut buf).await.unwrap();
                buf[..n].to_vec()
            }
        });
        sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished());
        a.send_to(b"late", to).await.unwrap();
        assert_eq!(waiter.await.unwrap(), b"late");
    });
}

#[test]
fn poll_methods() {
    run(async {
        let (a, b) = (bound().await, bound().await);
        let to = b.local_addr().unwrap();
        let n = poll_fn(|cx| a.poll_send_to(cx, b"poll", to)).await.unwrap();
        assert_eq!(n, 4);
        let mut buf = [0; 8];
        let (n, from) = poll_fn(|cx| b.poll_recv_from(cx, &mut buf)).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"poll"[..], a.local_addr().unwrap()));

        let (c, d) = connected_pair().await;
        let n = poll_fn(|cx| c.poll_send(cx, b"xyz")).await.unwrap();
        assert_eq!(n, 3);
        let n = poll_fn(|cx| d.poll_recv(cx, &mut buf)).await.unwrap();
        assert_eq!(&buf[..n], b"xyz");
    });
}

#[test]
fn readable_and_writable() {
    run(async {
        let (a, b) = (bound().await, Arc::new(bound().await));
        a.writable().await.unwrap();
        let waiter = goro::spawn({
            let b = b.clone();
            async move { b.readable().await }
        });
        sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished());
        a.send_to(b"r", b.local_addr().unwrap()).await.unwrap();
        waiter.await.unwrap().unwrap();
        assert_eq!(b.recv(&mut [0; 4]).await.unwrap(), 1);
    });
}

#[test]
fn socket_options() {
    run(async {
        let a = UdpSocket::bind("0.0.0.0:0").await.unwrap();
        assert!(!a.broadcast().unwrap());
        a.set_broadcast(true).unwrap();
        assert!(a.broadcast().unwrap());
        a.set_ttl(17).unwrap();
        assert_eq!(a.ttl().unwrap(), 17);
        assert!(a.multicast_loop_v4().unwrap());
        a.set_multicast_loop_v4(false).unwrap();
        assert!(!a.multicast_loop_v4().unwrap());
        a.set_multicast_ttl_v4(8).unwrap();
        assert_eq!(a.multicast_ttl_v4().unwrap(), 8);
        assert!(a.take_error().unwrap().is_none());
        // A socket of the other family refuses the v6 options cleanly.
        assert!(a.set_multicast_loop_v6(true).is_err());
    });
}

#[test]
fn multicast_on_loopback_if_available() {
    run(async {
        let group = std::net::Ipv4Addr::new(239, 255, 71, 17);
        let rx = UdpSocket::bind("0.0.0.0:0").await.unwrap();
        if let Err(e) = rx.join_multicast_v4(group, std::net::Ipv4Addr::LOCALHOST) {
            eprintln!("skipping: no multicast on loopback here ({e})");
            return;
        }
        rx.leave_multicast_v4(group, std::net::Ipv4Addr::LOCALHOST)
            .unwrap();
        // Leaving twice is an error, not a panic.
        assert!(
            rx.leave_multicast_v4(group, std::net::Ipv4Addr::LOCALHOST)
                .is_err()
        );
    });
}

#[test]
fn ipv6_if_available() {
    run(async {
        let Ok(a) = UdpSocket::bind("[::1]:0").await else {
            eprintln!("skipping: no IPv6 loopback here");
            return;
        };
        let b = UdpSocket::bind("[::1]:0").await.unwrap();
        a.send_to(b"six", b.local_addr().unwrap()).await.unwrap();
        let mut buf = [0; 8];
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"six"[..], a.local_addr().unwrap()));
        a.set_multicast_loop_v6(false).unwrap();
        assert!(!a.multicast_loop_v6().unwrap());
    });
}

#[test]
fn icmp_port_unreachable_is_connection_refused() {
    run(async {
        let a = bound().await;
        let closed = {
            let gone = bound().await;
            gone.local_addr().unwrap()
        };
        a.connect(closed).await.unwrap();
        a.send(b"anyone?").await.unwrap();
        // The ICMP error arrives as EPOLLERR; recv reports it instead of
        // waiting for a datagram that never comes.
        let r = timeout(PROMPT, a.recv(&mut [0; 8])).await;
        match r {
            Ok(Err(e)) => assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused),
            other => panic!("expected ConnectionRefused, got {other:?}"),
        }

        // take_error sees (and clears) the same error.
        a.send(b"again").await.unwrap();
        let start = Instant::now();
        let err = loop {
            if let Some(e) = a.take_error().unwrap() {
                break e;
            }
            assert!(start.elapsed() < PROMPT, "no ICMP error arrived");
            sleep(Duration::from_millis(5)).await;
        };
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
        assert!(a.take_error().unwrap().is_none());
    });
}

#[test]
fn past_read_deadline_fails_a_pending_recv() {
    run(async {
        let a = Arc::new(bound().await);
        let waiter = goro::spawn({
            let a = a.clone();
            async move { a.recv_from(&mut [0; 8]).await }
        });
        sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished());
        let set = Instant::now();
        a.set_read_deadline(Some(past())).unwrap();
        assert_kind(waiter.await.unwrap(), io::ErrorKind::TimedOut);
        assert!(set.elapsed() < PROMPT);
        // And later receives, until the deadline changes.
        assert_kind(a.recv(&mut [0; 8]).await, io::ErrorKind::TimedOut);
        assert_kind(a.peek_from(&mut [0; 8]).await, io::ErrorKind::TimedOut);
        // Writes are not affected by the read deadline.
        a.send_to(b"self", a.local_addr().unwrap()).await.unwrap();
        a.set_read_deadline(None).unwrap();
        assert_eq!(a.recv(&mut [0; 8]).await.unwrap(), 4);
    });
}

#[test]
fn future_read_deadline_fires_not_before() {
    run(async {
        let a = bound().await;
        let deadline = Instant::now() + Duration::from_millis(150);
        a.set_read_deadline(Some(deadline)).unwrap();
        assert_kind(a.recv_from(&mut [0; 8]).await, io::ErrorKind::TimedOut);
        let now = Instant::now();
        assert!(now >= deadline, "fired {:?} early", deadline - now);
        assert!(now - deadline < LATE, "fired {:?} late", now - deadline);
    });
}

#[test]
fn moving_the_deadline_later_keeps_the_recv_waiting() {
    run(async {
        with_margins("recv deadline moved later", |k| async move {
            let (a, b) = (bound().await, Arc::new(bound().await));
            let to = b.local_addr().unwrap();
            let first = Instant::now() + Duration::from_millis(150) * k;
            b.set_read_deadline(Some(first)).unwrap();
            let waiter = goro::spawn({
                let b = b.clone();
                async move { b.recv(&mut [0; 8]).await }
            });
            sleep(Duration::from_millis(20) * k).await;
            b.set_read_deadline(Some(Instant::now() + Duration::from_secs(30)))
                .unwrap();
            if before(first) == Setup::Missed {
                return Setup::Missed;
            }
            // Well past the first deadline the recv is still waiting...
            sleep_until(first + Duration::from_millis(250) * k).await;
            assert!(!waiter.is_finished(), "the old deadline fired");
            // ...and gets the datagram.
            a.send_to(b"kept", to).await.unwrap();
            assert_eq!(waiter.await.unwrap().unwrap(), 4);
            Setup::Met
        })
        .await;
    });
}

#[test]
fn clearing_the_deadline_removes_the_timeout() {
    run(async {
        with_margins("recv deadline cleared", |k| async move {
            let (a, b) = (bound().await, Arc::new(bound().await));
            let to = b.local_addr().unwrap();
            let first = Instant::now() + Duration::from_millis(100) * k;
            b.set_read_deadline(Some(first)).unwrap();
            let waiter = goro::spawn({
                let b = b.clone();
                async move { b.recv(&mut [0; 8]).await }
            });
            sleep(Duration::from_millis(10) * k).await;
            b.set_read_deadline(None).unwrap();
            if before(first) == Setup::Missed {
                return Setup::Missed;
            }
            sleep_until(first + Duration::from_millis(200) * k).await;
            assert!(!waiter.is_finished(), "the cleared deadline fired");
            a.send_to(b"ok", to).await.unwrap();
            assert_eq!(waiter.await.unwrap().unwrap(), 2);
            Setup::Met
        })
        .await;
    });
}

#[test]
fn expired_deadline_fails_even_with_a_datagram_queued() {
    run(async {
        let (a, b) = (bound().await, bound().await);
        a.send_to(b"queued", b.local_addr().unwrap()).await.unwrap();
        b.readable().await.unwrap();
        b.set_read_deadline(Some(past())).unwrap();
        assert_kind(b.recv(&mut [0; 8]).await, io::ErrorKind::TimedOut);
        b.set_read_deadline(Some(Instant::now() + Duration::from_secs(30)))
            .unwrap();
        assert_eq!(b.recv(&mut [0; 8]).await.unwrap(), 6);
    });
}

#[test]
fn write_deadline_and_combined_deadline() {
    run(async {
        let (a, b) = (bound().await, bound().await);
        let to = b.local_addr().unwrap();
        a.set_write_deadline(Some(past())).unwrap();
        assert_kind(a.send_to(b"x", to).await, io::ErrorKind::TimedOut);
        assert_kind(
            poll_fn(|cx| a.poll_send_to(cx, b"x", to)).await,
            io::ErrorKind::TimedOut,
        );
        a.set_write_deadline(None).unwrap();
        a.send_to(b"x", to).await.unwrap();

        a.set_deadline(Some(past())).unwrap();
        assert_kind(a.send_to(b"x", to).await, io::ErrorKind::TimedOut);
        assert_kind(a.recv(&mut [0; 8]).await, io::ErrorKind::TimedOut);
        a.set_deadline(None).unwrap();
        a.send_to(b"y", to).await.unwrap();
        assert_eq!(b.recv(&mut [0; 8]).await.unwrap(), 1);
    });
}

#[test]
fn close_wakes_a_blocked_recv_with_not_connected() {
    run(async {
        let a = Arc::new(bound().await);
        let waiters: Vec<_> = (0..3)
            .map(|i| {
                let a = a.clone();
                goro::spawn(async move {
                    let mut buf = [0; 8];
                    if i == 0 {
                        a.recv_from(&mut buf).await.map(|(n, _)| n)
                    } else {
                        a.recv(&mut buf).await
                    }
                })
            })
            .collect();
        sleep(Duration::from_millis(50)).await;
        let closed = Instant::now();
        a.close().unwrap();
        for w in waiters {
            assert_kind(w.await.unwrap(), io::ErrorKind::NotConnected);
        }
        assert!(closed.elapsed() < PROMPT);
    });
}

#[test]
fn operations_after_close_fail_with_not_connected() {
    run(async {
        let a = bound().await;
        a.close().unwrap();
        use io::ErrorKind::NotConnected;
        assert_kind(a.close(), NotConnected);
        assert_kind(a.recv(&mut [0; 8]).await, NotConnected);
        assert_kind(a.recv_from(&mut [0; 8]).await, NotConnected);
        assert_kind(a.peek(&mut [0; 8]).await, NotConnected);
        assert_kind(a.send(b"x").await, NotConnected);
        assert_kind(a.send_to(b"x", "127.0.0.1:9").await, NotConnected);
        assert_kind(a.connect("127.0.0.1:9").await, NotConnected);
        assert_kind(a.readable().await, NotConnected);
        assert_kind(a.writable().await, NotConnected);
        assert_kind(a.local_addr(), NotConnected);
        assert_kind(a.set_read_deadline(None), NotConnected);
        assert_kind(a.set_ttl(3), NotConnected);
        assert_kind(a.into_std(), NotConnected);
    });
}

#[test]
fn from_std_and_into_std() {
    run(async {
        let std_a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let a_addr = std_a.local_addr().unwrap();
        let a = UdpSocket::from_std(std_a).unwrap();
        // SAFETY: fcntl on a live fd we own, only reading its flags.
        let flags = unsafe { libc::fcntl(a.as_raw_fd(), libc::F_GETFL) };
        assert!(
            flags & libc::O_NONBLOCK != 0,
            "from_std must set O_NONBLOCK"
        );
        assert_eq!(a.local_addr().unwrap(), a_addr);
        let b = bound().await;
        b.send_to(b"in", a_addr).await.unwrap();
        assert_eq!(a.recv(&mut [0; 4]).await.unwrap(), 2);

        // Back to std: the fd leaves the poller and keeps working.
        let std_a = a.into_std().unwrap();
        assert_eq!(std_a.local_addr().unwrap(), a_addr);
        std_a.set_nonblocking(false).unwrap();
        std_a
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        b.send_to(b"out", a_addr).await.unwrap();
        let mut buf = [0; 8];
        assert_eq!(std_a.recv(&mut buf).unwrap(), 3);
        // And can be registered again (it was deregistered).
        let a = UdpSocket::from_std(std_a).unwrap();
        b.send_to(b"again", a_addr).await.unwrap();
        assert_eq!(a.recv(&mut buf).await.unwrap(), 5);
    });
}

#[test]
fn many_tasks_share_one_socket_without_losing_wakeups() {
    run(async {
        const TASKS: usize = 16;
        const EACH: usize = 50;
        let server = Arc::new(bound().await);
        let client = bound().await;
        let to = server.local_addr().unwrap();
        let handles: Vec<_> = (0..TASKS)
            .map(|_| {
                let server = server.clone();
                goro::spawn(async move {
                    let mut got = Vec::new();
                    let mut buf = [0; 8];
                    for _ in 0..EACH {
                        let n = server.recv(&mut buf).await.unwrap();
                        got.push(u32::from_le_bytes(buf[..n].try_into().unwrap()));
                    }
                    got
                })
            })
            .collect();
        // Paced so the receive queue never overflows (UDP may drop then).
        for i in 0..(TASKS * EACH) as u32 {
            client.send_to(&i.to_le_bytes(), to).await.unwrap();
            if i % 32 == 31 {
                sleep(Duration::from_millis(1)).await;
            }
        }
        let mut all: Vec<u32> = Vec::new();
        for h in handles {
            all.extend(h.await.unwrap());
        }
        all.sort_unstable();
        assert_eq!(all, (0..(TASKS * EACH) as u32).collect::<Vec<_>>());
    });
}

#[test]
fn ping_pong_echo() {
    run(async {
        let server = bound().await;
        let to = server.local_addr().unwrap();
        let echo = goro::spawn(async move {
            let mut buf = [0; 64];
            loop {
                let (n, from) = server.recv_from(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                server.send_to(&buf[..n], from).await.unwrap();
            }
        });
        let client = bound().await;
        client.connect(to).await.unwrap();
        let mut buf = [0; 64];
        for i in 0..500u32 {
            let msg = format!("message {i}");
            client.send(msg.as_bytes()).await.unwrap();
            let n = client.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], msg.as_bytes());
        }
        client.send(&[]).await.unwrap();
        echo.await.unwrap();
    });
}

#[test]
fn dropping_a_pending_recv_leaves_the_socket_usable() {
    run(async {
        let (a, b) = (bound().await, bound().await);
        let r = timeout(Duration::from_millis(30), b.recv(&mut [0; 8])).await;
        assert!(r.is_err(), "nothing was sent: {r:?}");
        a.send_to(b"after", b.local_addr().unwrap()).await.unwrap();
        assert_eq!(b.recv(&mut [0; 8]).await.unwrap(), 5);
    });
}

#[test]
fn debug_output_names_the_addresses() {
    run(async {
        let a = bound().await;
        let s = format!("{a:?}");
        assert!(s.contains("UdpSocket") && s.contains("127.0.0.1"), "{s}");
    });
}
