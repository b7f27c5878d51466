//! tokio's I/O traits on goro streams (feature `tokio-io`): tokio-util's
//! `Framed` with a `LinesCodec` runs over goro `TcpStream`s on both ends,
//! on the goro runtime, with tokio built without its runtime.

use futures::{SinkExt, StreamExt};
use goro::net::{TcpListener, TcpStream, UnixStream};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::codec::{Framed, LinesCodec};

const LIMIT: Duration = Duration::from_secs(60);

fn run<T>(fut: impl Future<Output = T>) -> T {
    goro::block_on(goro::time::timeout(LIMIT, fut)).expect("test timed out")
}

#[test]
fn framed_lines_over_goro_tcp() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // The server shouts every line back until the client closes.
        let server = goro::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut lines = Framed::new(stream, LinesCodec::new_with_max_length(1024));
            let mut seen = 0;
            while let Some(line) = lines.next().await {
                match line {
                    Ok(line) => lines.send(line.to_uppercase()).await.unwrap(),
                    Err(e) => return (seen, Some(e)),
                }
                seen += 1;
            }
            (seen, None)
        });

        let stream = TcpStream::connect(addr).await.unwrap();
        let mut lines = Framed::new(stream, LinesCodec::new());
        let long = "x".repeat(900);
        for msg in ["hello", "goro", "", long.as_str()] {
            lines.send(msg).await.unwrap();
            assert_eq!(lines.next().await.unwrap().unwrap(), msg.to_uppercase());
        }
        // A line over the server's limit is a codec error there, not a hang.
        lines.send("y".repeat(5000)).await.unwrap();
        SinkExt::<&str>::close(&mut lines).await.unwrap();
        drop(lines);
        let (seen, err) = server.await.unwrap();
        assert_eq!(seen, 4);
        let err = err.expect("the over-long line is refused");
        assert!(
            matches!(
                err,
                tokio_util::codec::LinesCodecError::MaxLineLengthExceeded
            ),
            "{err}"
        );
    });
}

#[test]
fn tokio_read_write_ext_on_goro_unix_stream() {
    run(async {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        // Inherent methods of the same names take precedence: name the trait.
        AsyncWriteExt::write_all(&mut a, b"through tokio's traits")
            .await
            .unwrap();
        AsyncWriteExt::shutdown(&mut a).await.unwrap();
        let mut got = String::new();
        b.read_to_string(&mut got).await.unwrap();
        assert_eq!(got, "through tokio's traits");
    });
}
