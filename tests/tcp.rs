//! Integration tests of `goro::net::{TcpListener, TcpStream}`: binding,
//! accepting, connecting (addresses, strings, names), the inherent I/O
//! methods, `futures-io` on `TcpStream` and `&TcpStream`, sharing through an
//! `Arc`, std interop, and error cases.

mod support;

use futures::FutureExt;
use futures::io::{AsyncReadExt, AsyncWriteExt};
use futures::stream::StreamExt;
use goro::net::{TcpListener, TcpStream};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use support::data::pattern;
use support::hang::within;
use support::rt::workers;

const LIMIT: Duration = Duration::from_secs(60);

/// Runs `fut` on a fresh two-worker runtime, failing after `LIMIT`.
fn run<F>(fut: F) -> F::Output
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    within(LIMIT, move || workers(2).block_on(fut))
}

async fn listener() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("local_addr");
    (l, addr)
}

/// A connected pair: (client, server side).
async fn pair() -> (TcpStream, TcpStream) {
    let (l, addr) = listener().await;
    let client = goro::spawn(async move { TcpStream::connect(addr).await });
    let (server, _) = l.accept().await.expect("accept");
    (client.await.unwrap().expect("connect"), server)
}

// ----- bind, accept, connect --------------------------------------------------------

#[test]
fn bind_accept_and_addresses() {
    run(async {
        let (l, addr) = listener().await;
        assert_eq!(addr.ip().to_string(), "127.0.0.1");
        assert_ne!(addr.port(), 0, "port 0 is replaced by the kernel's choice");
        let client = goro::spawn(async move { TcpStream::connect(addr).await.unwrap() });
        let (server, peer) = l.accept().await.unwrap();
        let client = client.await.unwrap();
        assert_eq!(client.peer_addr().unwrap(), addr);
        assert_eq!(server.local_addr().unwrap(), addr);
        assert_eq!(client.local_addr().unwrap(), peer);
        assert_eq!(server.peer_addr().unwrap(), peer);
        // Debug output does not panic and mentions the addresses.
        let dbg = format!("{client:?} {l:?}");
        assert!(dbg.contains(&addr.to_string()), "{dbg}");
    });
}

#[test]
fn connect_with_strings_tuples_and_names() {
    run(async {
        let (l, addr) = listener().await;
        let port = addr.port();
        let acceptor = goro::spawn(async move {
            for _ in 0..5 {
                let (s, _) = l.accept().await.unwrap();
                let mut b = [0u8; 1];
                s.read_exact(&mut b).await.unwrap();
                s.write_all(&[b[0] + 1]).await.unwrap();
            }
        });
        let literal = format!("127.0.0.1:{port}");
        let named = format!("localhost:{port}");
        let streams = [
            TcpStream::connect(addr).await.expect("SocketAddr"),
            TcpStream::connect(literal.as_str()).await.expect("&str"),
            TcpStream::connect(literal.clone()).await.expect("String"),
            TcpStream::connect(("127.0.0.1", port))
                .await
                .expect("(&str, u16)"),
            // Name resolution (runs on the blocking pool); localhost may
            // resolve to ::1 first, which refuses, then 127.0.0.1.
            TcpStream::connect(named.as_str())
                .await
                .expect("localhost:port"),
        ];
        for (i, s) in streams.iter().enumerate() {
            assert_eq!(s.peer_addr().unwrap(), addr);
            s.write_all(&[i as u8]).await.unwrap();
            let mut b = [0u8; 1];
            s.read_exact(&mut b).await.unwrap();
            assert_eq!(b[0], i as u8 + 1);
        }
        acceptor.await.unwrap();
    });
}

#[test]
fn bind_with_a_name() {
    run(async {
        let l = TcpListener::bind("localhost:0")
            .await
            .expect("bind localhost:0");
        let addr = l.local_addr().unwrap();
        assert!(addr.ip().is_loopback());
        let c = TcpStream::connect(addr).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        c.write_all(b"x").await.unwrap();
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await.unwrap();
        assert_eq!(&b, b"x");
    });
}

#[test]
fn connect_to_a_closed_port_is_refused() {
    // Reserve a port, then free it: nothing listens there.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let errs = run(async move {
        let a = TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port)))
            .await
            .unwrap_err();
        let b = TcpStream::connect(format!("127.0.0.1:{port}"))
            .await
            .unwrap_err();
        (a, b)
    });
    assert_eq!(errs.0.kind(), ErrorKind::ConnectionRefused, "{:?}", errs.0);
    assert_eq!(errs.1.kind(), ErrorKind::ConnectionRefused, "{:?}", errs.1);
}

#[test]
fn unparsable_addresses_are_errors_not_panics() {
    let results = run(async {
        let mut out = Vec::new();
        for bad in [
            "",
            "not an address",
            "127.0.0.1",
            "127.0.0.1:notaport",
            "127.0.0.1:99999",
            "[::1",
            ":80",
            "no-such-host.invalid:80",
        ] {
            let c = TcpStream::connect(bad).await.map(|_| ());
            let b = TcpListener::bind(bad).await.map(|_| ());
            out.push((bad, c, b));
        }
        let t = TcpStream::connect(("no-such-host.invalid", 80)).await;
        out.push((
            "(no-such-host.invalid, 80)",
            t.map(|_| ()),
            Err(ErrorKind::Other.into()),
        ));
        let empty: &[SocketAddr] = &[];
        let e = TcpStream::connect(empty).await;
        out.push(("&[]", e.map(|_| ()), Err(ErrorKind::Other.into())));
        out
    });
    for (addr, connect, bind) in results {
        assert!(connect.is_err(), "connect({addr:?}) should fail");
        assert!(bind.is_err(), "bind({addr:?}) should fail");
    }
}

#[test]
fn bind_to_a_port_in_use_fails() {
    run(async {
        let (_l, addr) = listener().await;
        let err = TcpListener::bind(addr).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse);
    });
}

// ----- inherent I/O ---------------------------------------------------------------

#[test]
fn read_write_read_exact_write_all() {
    run(async {
        let (c, s) = pair().await;
        assert_eq!(c.write(b"hello").await.unwrap(), 5);
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello");

        // `read` returns what is there (at least one byte, at most the buffer).
        s.write_all(b"abc").await.unwrap();
        let mut big = [0u8; 64];
        let mut got = Vec::new();
        while got.len() < 3 {
            let n = c.read(&mut big).await.unwrap();
            assert!(n > 0);
            got.extend_from_slice(&big[..n]);
        }
        assert_eq!(got, b"abc");

        // A payload larger than the socket buffers, read concurrently.
        let data = pattern(4 << 20, 7);
        let expect = data.clone();
        let s = Arc::new(s);
        let reader = {
            let s = s.clone();
            goro::spawn(async move {
                let mut buf = vec![0u8; expect.len()];
                s.read_exact(&mut buf).await.unwrap();
                assert!(buf == expect, "payload corrupted");
            })
        };
        c.write_all(&data).await.unwrap();
        reader.await.unwrap();
    });
}

#[test]
fn read_exact_at_eof_is_unexpected_eof() {
    run(async {
        let (c, s) = pair().await;
        c.write_all(b"ab").await.unwrap();
        drop(c);
        let mut buf = [0u8; 4];
        let err = s.read_exact(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
    });
}

#[test]
fn peek_does_not_consume() {
    run(async {
        let (c, s) = pair().await;
        c.write_all(b"hello world").await.unwrap();
        let mut buf = [0u8; 32];
        let mut n = 0;
        for _ in 0..1000 {
            n = s.peek(&mut buf).await.unwrap();
            if n == 11 {
                break;
            }
            goro::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(&buf[..n], b"hello world");
        // Peeking again sees the same bytes.
        let n2 = s.peek(&mut buf).await.unwrap();
        assert_eq!(&buf[..n2], b"hello world");
        let mut all = [0u8; 11];
        s.read_exact(&mut all).await.unwrap();
        assert_eq!(&all, b"hello world");
    });
}

#[test]
fn shutdown_write_gives_eof_to_the_peer() {
    run(async {
        let (c, s) = pair().await;
        c.write_all(b"bye").await.unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let mut buf = [0u8; 16];
        let mut got = Vec::new();
        loop {
            let n = s.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"bye");
        // EOF is sticky.
        assert_eq!(s.read(&mut buf).await.unwrap(), 0);
        // Half-close: the other direction still works.
        s.write_all(b"reply").await.unwrap();
        let mut r = [0u8; 5];
        c.read_exact(&mut r).await.unwrap();
        assert_eq!(&r, b"reply");
        // Writing after our own shutdown(Write) fails.
        let err = c.write(b"more").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe, "{err:?}");
    });
}

#[test]
fn writing_to_a_closed_peer_errors_without_sigpipe() {
    run(async {
        let (c, s) = pair().await;
        drop(s);
        // The first writes may succeed (buffered); soon the peer's RST makes
        // them fail. The process must not die of SIGPIPE.
        let chunk = [0u8; 1024];
        let mut err = None;
        for _ in 0..1000 {
            match c.write(&chunk).await {
                Ok(_) => goro::time::sleep(Duration::from_millis(1)).await,
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        let err = err.expect("writes to a closed peer eventually fail");
        assert!(
            matches!(
                err.kind(),
                ErrorKind::BrokenPipe | ErrorKind::ConnectionReset
            ),
            "{err:?}"
        );
    });
}

#[test]
fn zero_length_reads_and_writes_return_at_once() {
    run(async {
        let (c, s) = pair().await;
        // Nothing is buffered on either side, yet empty operations complete
        // on the first poll.
        let mut empty = [0u8; 0];
        assert_eq!(
            c.read(&mut empty).now_or_never().map(|r| r.unwrap()),
            Some(0)
        );
        assert_eq!(c.write(&[]).now_or_never().map(|r| r.unwrap()), Some(0));
        assert_eq!(
            s.peek(&mut empty).now_or_never().map(|r| r.unwrap()),
            Some(0)
        );
        assert!(matches!(
            c.read_exact(&mut empty).now_or_never(),
            Some(Ok(()))
        ));
        assert!(matches!(c.write_all(&[]).now_or_never(), Some(Ok(()))));
        // Through futures-io too.
        let mut r = &s;
        assert_eq!(
            AsyncReadExt::read(&mut r, &mut empty)
                .now_or_never()
                .map(|r| r.unwrap()),
            Some(0)
        );
        let mut w = &c;
        assert_eq!(
            AsyncWriteExt::write(&mut w, &[])
                .now_or_never()
                .map(|r| r.unwrap()),
            Some(0)
        );
        // The connection is unaffected.
        c.write_all(b"z").await.unwrap();
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await.unwrap();
        assert_eq!(&b, b"z");
    });
}

#[test]
fn nodelay_and_ttl() {
    run(async {
        let (c, _s) = pair().await;
        c.set_nodelay(true).unwrap();
        assert!(c.nodelay().unwrap());
        c.set_nodelay(false).unwrap();
        assert!(!c.nodelay().unwrap());
        c.set_ttl(42).unwrap();
        assert_eq!(c.ttl().unwrap(), 42);
    });
}

// ----- std interop ------------------------------------------------------------------

#[test]
fn from_std_and_into_std() {
    run(async {
        // A std listener wrapped by goro; a std client on a plain thread.
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_listener.local_addr().unwrap();
        let l = TcpListener::from_std(std_listener).unwrap();
        assert_eq!(l.local_addr().unwrap(), addr);
        let client = std::thread::spawn(move || {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.write_all(b"from std").unwrap();
            let mut b = [0u8; 7];
            s.read_exact(&mut b).unwrap();
            b
        });
        let (s, _) = l.accept().await.unwrap();
        let mut b = [0u8; 8];
        s.read_exact(&mut b).await.unwrap();
        assert_eq!(&b, b"from std");
        s.write_all(b"to std!").await.unwrap();
        let got = goro::spawn_blocking(move || client.join().unwrap())
            .await
            .unwrap();
        assert_eq!(&got, b"to std!");

        // A std stream wrapped by goro.
        let std_client = goro::spawn_blocking(move || std::net::TcpStream::connect(addr))
            .await
            .unwrap()
            .unwrap();
        let c = TcpStream::from_std(std_client).unwrap();
        let (s, _) = l.accept().await.unwrap();
        c.write_all(b"wrapped").await.unwrap();
        let mut b = [0u8; 7];
        s.read_exact(&mut b).await.unwrap();
        assert_eq!(&b, b"wrapped");

        // Back to std: still connected, usable with blocking I/O.
        let mut back = c.into_std().unwrap();
        back.set_nonblocking(false).unwrap();
        s.write_all(b"back").await.unwrap();
        let got = goro::spawn_blocking(move || {
            let mut b = [0u8; 4];
            back.read_exact(&mut b).unwrap();
            back.write_all(b"ok").unwrap();
            b
        })
        .await
        .unwrap();
        assert_eq!(&got, b"back");
        let mut b = [0u8; 2];
        s.read_exact(&mut b).await.unwrap();
        assert_eq!(&b, b"ok");

        // The listener back to std too.
        let std_l = l.into_std().unwrap();
        assert_eq!(std_l.local_addr().unwrap(), addr);
    });
}

#[test]
fn std_blocking_client_on_a_plain_thread() {
    run(async {
        let (l, addr) = listener().await;
        let server = goro::spawn(async move {
            let (s, _) = l.accept().await.unwrap();
            let mut buf = [0u8; 8];
            loop {
                match s.read(&mut buf).await.unwrap() {
                    0 => break,
                    n => s.write_all(&buf[..n]).await.unwrap(),
                }
            }
        });
        let (tx, rx) = async_channel::bounded(1);
        std::thread::spawn(move || {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            for i in 0..200u64 {
                s.write_all(&i.to_le_bytes()).unwrap();
                let mut b = [0u8; 8];
                s.read_exact(&mut b).unwrap();
                assert_eq!(u64::from_le_bytes(b), i);
            }
            drop(s);
            tx.send_blocking(()).unwrap();
        });
        rx.recv().await.expect("the std client finished");
        server.await.unwrap();
    });
}

#[test]
fn goro_client_against_a_std_server_thread() {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = std_listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = std_listener.accept().unwrap();
        let mut buf = [0u8; 1024];
        let mut total = 0;
        loop {
            let n = s.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            total += n;
            s.write_all(&buf[..n]).unwrap();
        }
        total
    });
    run(async move {
        let c = TcpStream::connect(addr).await.unwrap();
        for i in 0..200u64 {
            c.write_all(&i.to_le_bytes()).await.unwrap();
            let mut b = [0u8; 8];
            c.read_exact(&mut b).await.unwrap();
            assert_eq!(u64::from_le_bytes(b), i);
        }
    });
    assert_eq!(server.join().unwrap(), 200 * 8);
}

// ----- incoming ---------------------------------------------------------------------

#[test]
fn incoming_yields_connections() {
    run(async {
        let (l, addr) = listener().await;
        let clients: Vec<_> = (0..5u8)
            .map(|i| {
                goro::spawn(async move {
                    let c = TcpStream::connect(addr).await.unwrap();
                    c.write_all(&[i]).await.unwrap();
                    let mut b = [0u8; 1];
                    c.read_exact(&mut b).await.unwrap();
                    assert_eq!(b[0], i * 2);
                })
            })
            .collect();
        let mut incoming = l.incoming();
        let mut seen = Vec::new();
        for _ in 0..5 {
            let s = StreamExt::next(&mut incoming)
                .await
                .expect("never ends")
                .unwrap();
            let mut b = [0u8; 1];
            s.read_exact(&mut b).await.unwrap();
            s.write_all(&[b[0] * 2]).await.unwrap();
            seen.push(b[0]);
        }
        seen.sort();
        assert_eq!(seen, vec![0, 1, 2, 3, 4]);
        for c in clients {
            c.await.unwrap();
        }
        // The inherent `next` works as well.
        let c = goro::spawn(async move { TcpStream::connect(addr).await.unwrap() });
        let mut inc = l.incoming();
        let s = goro::net::Incoming::next(&mut inc).await.unwrap().unwrap();
        let c = c.await.unwrap();
        assert_eq!(s.peer_addr().unwrap(), c.local_addr().unwrap());
    });
}

// ----- futures-io -------------------------------------------------------------------

#[test]
fn futures_io_on_owned_stream() {
    run(async {
        let (mut c, mut s) = pair().await;
        AsyncWriteExt::write_all(&mut c, b"owned ping")
            .await
            .unwrap();
        AsyncWriteExt::flush(&mut c).await.unwrap();
        let mut buf = [0u8; 10];
        AsyncReadExt::read_exact(&mut s, &mut buf).await.unwrap();
        assert_eq!(&buf, b"owned ping");
        // Vectored write, then close (shutdown write) → EOF for the peer.
        let parts = [std::io::IoSlice::new(b"ab"), std::io::IoSlice::new(b"cd")];
        let n = AsyncWriteExt::write_vectored(&mut c, &parts).await.unwrap();
        assert!(n > 0);
        AsyncWriteExt::write_all(&mut c, &b"abcd"[n..])
            .await
            .unwrap();
        AsyncWriteExt::close(&mut c).await.unwrap();
        let mut rest = Vec::new();
        AsyncReadExt::read_to_end(&mut s, &mut rest).await.unwrap();
        assert_eq!(rest, b"abcd");
    });
}

#[test]
fn futures_io_on_shared_reference() {
    run(async {
        let (c, s) = pair().await;
        let mut w = &c;
        let mut r = &s;
        AsyncWriteExt::write_all(&mut w, b"by reference")
            .await
            .unwrap();
        let mut buf = [0u8; 12];
        AsyncReadExt::read_exact(&mut r, &mut buf).await.unwrap();
        assert_eq!(&buf, b"by reference");
        // Vectored read.
        AsyncWriteExt::write_all(&mut w, b"0123456789")
            .await
            .unwrap();
        let mut got = Vec::new();
        while got.len() < 10 {
            let (mut a, mut b) = ([0u8; 3], [0u8; 7]);
            let mut bufs = [
                std::io::IoSliceMut::new(&mut a),
                std::io::IoSliceMut::new(&mut b),
            ];
            let n = AsyncReadExt::read_vectored(&mut r, &mut bufs)
                .await
                .unwrap();
            assert!(n > 0);
            let mut joined = a.to_vec();
            joined.extend_from_slice(&b);
            got.extend_from_slice(&joined[..n]);
        }
        assert_eq!(got, b"0123456789");
        AsyncWriteExt::close(&mut w).await.unwrap();
        let mut rest = Vec::new();
        assert_eq!(
            AsyncReadExt::read_to_end(&mut r, &mut rest).await.unwrap(),
            0
        );
    });
}

#[test]
fn arc_stream_split_into_reader_and_writer_tasks() {
    run(async {
        let (l, addr) = listener().await;
        // Echo server using futures::io::copy on one stream's two halves.
        let server = goro::spawn(async move {
            let (s, _) = l.accept().await.unwrap();
            let (mut r, mut w) = (&s, &s);
            let n = futures::io::copy(&mut r, &mut w).await.unwrap();
            s.shutdown(Shutdown::Write).unwrap();
            n
        });
        let c = Arc::new(TcpStream::connect(addr).await.unwrap());
        let data = pattern(1 << 20, 3);
        let writer = {
            let c = c.clone();
            let data = data.clone();
            goro::spawn(async move {
                let mut w = &*c;
                for chunk in data.chunks(4096 + 17) {
                    AsyncWriteExt::write_all(&mut w, chunk).await.unwrap();
                }
                AsyncWriteExt::close(&mut w).await.unwrap();
            })
        };
        let reader = {
            let c = c.clone();
            goro::spawn(async move {
                let mut r = &*c;
                let mut got = Vec::new();
                AsyncReadExt::read_to_end(&mut r, &mut got).await.unwrap();
                got
            })
        };
        writer.await.unwrap();
        let got = reader.await.unwrap();
        assert_eq!(got.len(), data.len());
        assert!(got == data, "echoed data differs");
        assert_eq!(server.await.unwrap(), data.len() as u64);
    });
}

#[test]
fn futures_io_copy_into_a_vec() {
    run(async {
        let (c, s) = pair().await;
        let data = pattern(300_000, 9);
        let d = data.clone();
        let sender = goro::spawn(async move {
            c.write_all(&d).await.unwrap();
            // Dropping the stream closes it: EOF for the copy.
        });
        let mut sink: Vec<u8> = Vec::new();
        let mut r = &s;
        let n = futures::io::copy(&mut r, &mut sink).await.unwrap();
        sender.await.unwrap();
        assert_eq!(n, data.len() as u64);
        assert!(sink == data);
    });
}

#[test]
fn simultaneous_large_transfers_both_ways() {
    // Both sides write more than the socket buffers hold before reading,
    // so both writers must park on EAGAIN and be woken by the other side.
    run(async {
        let (c, s) = pair().await;
        let (c, s) = (Arc::new(c), Arc::new(s));
        let a = pattern(2 << 20, 1);
        let b = pattern(2 << 20, 2);
        let mut tasks = Vec::new();
        for (from, to, data) in [(c.clone(), s.clone(), a), (s.clone(), c.clone(), b)] {
            let expect = data.clone();
            tasks.push(goro::spawn(async move {
                from.write_all(&data).await.unwrap();
            }));
            tasks.push(goro::spawn(async move {
                let mut got = vec![0u8; expect.len()];
                to.read_exact(&mut got).await.unwrap();
                assert!(got == expect);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
}

#[test]
fn many_connections_echo() {
    run(async {
        let (l, addr) = listener().await;
        goro::spawn(async move {
            loop {
                let Ok((s, _)) = l.accept().await else { break };
                goro::spawn(async move {
                    let mut buf = [0u8; 64];
                    loop {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                if s.write_all(&buf[..n]).await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                });
            }
        });
        let clients: Vec<_> = (0..200u32)
            .map(|i| {
                goro::spawn(async move {
                    let c = TcpStream::connect(addr).await.unwrap();
                    for j in 0..20u32 {
                        let msg = (i * 1000 + j).to_le_bytes();
                        c.write_all(&msg).await.unwrap();
                        let mut b = [0u8; 4];
                        c.read_exact(&mut b).await.unwrap();
                        assert_eq!(b, msg);
                    }
                })
            })
            .collect();
        for c in clients {
            c.await.unwrap();
        }
    });
}

#[test]
fn streams_work_across_runtimes_and_threads() {
    // A stream created in one runtime, used from a task of another.
    let rt1 = workers(2);
    let rt2 = workers(2);
    within(LIMIT, move || {
        let (c, s) = rt1.block_on(pair());
        let h = rt2.spawn(async move {
            c.write_all(b"cross").await.unwrap();
            c
        });
        let got = rt1.block_on(async move {
            let mut b = [0u8; 5];
            s.read_exact(&mut b).await.unwrap();
            b
        });
        assert_eq!(&got, b"cross");
        drop(rt2.block_on(h).unwrap());
    });
}

#[test]
fn end_of_stream_after_a_short_read_is_seen() {
    // The peer's last bytes and its FIN arrive together, so the poller
    // reports them in one event. The read that returns those bytes is short,
    // which tells goro the buffer is drained; the end of stream behind them
    // must still be seen by the next read instead of waiting for an event
    // that will never come.
    run(async {
        for round in 0..200 {
            let (l, addr) = listener().await;
            let peer = std::thread::spawn(move || {
                let mut s = std::net::TcpStream::connect(addr).unwrap();
                std::io::Write::write_all(&mut s, b"last words").unwrap();
                s.shutdown(Shutdown::Write).unwrap();
            });
            let (s, _) = l.accept().await.unwrap();
            peer.join().unwrap();
            // Let the data and the FIN both land before reading.
            goro::time::sleep(Duration::from_millis(1)).await;
            let mut buf = [0u8; 64];
            let mut got = 0;
            loop {
                let n = goro::time::timeout(Duration::from_secs(5), s.read(&mut buf[got..]))
                    .await
                    .unwrap_or_else(|_| panic!("round {round}: read hung after {got} bytes"))
                    .unwrap();
                if n == 0 {
                    break;
                }
                got += n;
            }
            assert_eq!(&buf[..got], b"last words");
        }
    });
}
