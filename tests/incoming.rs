//! `incoming()` ends (yields `None`) once its listener is closed, for TCP
//! and Unix listeners, and works with `futures::StreamExt`.

mod support;

use futures::StreamExt;
use goro::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use std::sync::Arc;
use std::time::Duration;
use support::rt::workers;

/// Runs a test body on a fresh two-worker runtime.
fn run<F: std::future::Future<Output = ()> + Send + 'static>(f: F) {
    workers(2).block_on(f);
}

const PROMPT: Duration = Duration::from_secs(5);

#[test]
fn tcp_accept_loop_ends_when_listener_closes() {
    run(async {
        let listener = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
        let addr = listener.local_addr().unwrap();
        let server = {
            let listener = listener.clone();
            goro::spawn(async move {
                let (mut served, mut errors) = (0, 0u64);
                let mut incoming = listener.incoming();
                // The idiomatic StreamExt loop; skipping errors must not spin.
                while let Some(conn) = StreamExt::next(&mut incoming).await {
                    match conn {
                        Ok(c) => {
                            c.write_all(b"x").await.unwrap();
                            served += 1;
                        }
                        Err(_) => {
                            errors += 1;
                            assert!(errors < 1000, "incoming() spins on errors");
                        }
                    }
                }
                // Fused: still ended.
                assert!(incoming.next().await.is_none());
                assert!(futures::stream::FusedStream::is_terminated(&incoming));
                (served, errors)
            })
        };
        for _ in 0..3 {
            let c = TcpStream::connect(addr).await.unwrap();
            c.read_exact(&mut [0; 1]).await.unwrap();
        }
        goro::time::sleep(Duration::from_millis(20)).await;
        listener.close().unwrap();
        let (served, errors) = goro::time::timeout(PROMPT, server)
            .await
            .expect("the accept loop did not end after close")
            .unwrap();
        assert_eq!((served, errors), (3, 0));
    });
}

#[test]
fn tcp_inherent_next_and_stream_next_agree() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _c1 = TcpStream::connect(addr).await.unwrap();
        let _c2 = TcpStream::connect(addr).await.unwrap();
        let mut incoming = listener.incoming();
        // Both spellings compile with StreamExt in scope and have one type.
        let a: Option<std::io::Result<TcpStream>> = incoming.next().await;
        let b: Option<std::io::Result<TcpStream>> = StreamExt::next(&mut incoming).await;
        assert!(a.unwrap().is_ok() && b.unwrap().is_ok());
        // Closed before anyone polls: ends at once.
        listener.close().unwrap();
        assert!(incoming.next().await.is_none());
        assert!(listener.incoming().next().await.is_none());
    });
}

#[test]
fn tcp_incoming_deadline_errors_do_not_end_the_stream() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        listener
            .set_deadline(Some(std::time::Instant::now()))
            .unwrap();
        let mut incoming = listener.incoming();
        let err = incoming.next().await.unwrap().unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        listener.set_deadline(None).unwrap();
        let _c = TcpStream::connect(addr).await.unwrap();
        assert!(incoming.next().await.unwrap().is_ok());
    });
}

#[test]
fn unix_accept_loop_ends_when_listener_closes() {
    run(async {
        let path =
            std::env::temp_dir().join(format!("goro-test-incoming-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = Arc::new(UnixListener::bind(&path).unwrap());
        let server = {
            let listener = listener.clone();
            goro::spawn(async move {
                let mut served = 0;
                let mut incoming = listener.incoming();
                while let Some(conn) = incoming.next().await {
                    conn.unwrap().write_all(b"y").await.unwrap();
                    served += 1;
                }
                assert!(StreamExt::next(&mut incoming).await.is_none());
                served
            })
        };
        for _ in 0..2 {
            let c = UnixStream::connect(&path).await.unwrap();
            c.read_exact(&mut [0; 1]).await.unwrap();
        }
        listener.close().unwrap();
        let served = goro::time::timeout(PROMPT, server)
            .await
            .expect("the unix accept loop did not end after close")
            .unwrap();
        assert_eq!(served, 2);
        let _ = std::fs::remove_file(&path);
    });
}
