//! Connected socket pairs on loopback, temporary directories for the
//! paths of Unix sockets, and reading an int socket option back from the
//! kernel.

use goro::io::PollFd;
use goro::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A connected TCP pair (client, server) through `listener`.
pub async fn tcp_pair_on(listener: &TcpListener) -> (TcpStream, TcpStream) {
    let c = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (s, _) = listener.accept().await.unwrap();
    (c, s)
}

/// A connected TCP pair (client, server) through a fresh listener.
pub async fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    tcp_pair_on(&l).await
}

/// A connected Unix stream pair (client, server) through a listener at a
/// path in `dir`.
pub async fn unix_pair_in(dir: &TempDir) -> (UnixStream, UnixStream) {
    let path = dir.path("pair.sock");
    let l = UnixListener::bind(&path).unwrap();
    let c = UnixStream::connect(&path).await.unwrap();
    let (s, _) = l.accept().await.unwrap();
    (c, s)
}

/// A `PollFd` over one end of a std Unix socket pair, and the other end.
pub fn poll_fd_pair() -> (PollFd<StdUnixStream>, StdUnixStream) {
    let (a, b) = StdUnixStream::pair().unwrap();
    (PollFd::new(a).unwrap(), b)
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `goro-<pid>-<tag>-<n>` under the temp dir (emptied first if
    /// a crashed run left it behind).
    pub fn new(tag: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("goro-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// `name` inside the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An int socket option as the kernel reports it (getsockopt(2)).
pub fn getsockopt_int(fd: &impl AsRawFd, level: libc::c_int, name: libc::c_int) -> io::Result<i32> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value`/`len` describe a writable int; the caller's fd is
    // open for the call.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if r == 0 {
        Ok(value)
    } else {
        Err(io::Error::last_os_error())
    }
}
