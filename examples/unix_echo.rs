//! An echo server on a Unix domain socket.
//!
//! ```text
//! cargo run --release --example unix_echo -- --path /tmp/goro-echo.sock
//! nc -U /tmp/goro-echo.sock
//! ```
//!
//! The same shape as the TCP `echo` example, over a path: one task per
//! connection reads and writes back what it read. A stale socket file left
//! by an earlier run is removed before binding (anything else at the path
//! is left alone and binding fails).

use goro::net::{UnixListener, UnixStream};
use std::io;
use std::os::unix::fs::FileTypeExt;

fn main() -> io::Result<()> {
    let mut path = String::from("/tmp/goro-echo.sock");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--path" => {
                path = args.next().ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "unix_echo: --path needs a value",
                    )
                })?
            }
            _ => {
                println!("usage: unix_echo [--path SOCKET_PATH]");
                return Ok(());
            }
        }
    }
    if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_socket()) {
        std::fs::remove_file(&path)?;
    }
    goro::block_on(async {
        let listener = UnixListener::bind(&path)?;
        println!("unix_echo: listening on {path}");
        loop {
            let (stream, _) = listener.accept().await?;
            goro::spawn(serve(stream));
        }
    })
}

async fn serve(stream: UnixStream) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if stream.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}
