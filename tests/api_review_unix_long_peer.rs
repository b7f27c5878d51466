//! Peers bound to a pathname that fills all 108 bytes of `sun_path` (no
//! terminating NUL: Linux allows it, std cannot express it as a
//! `SocketAddr::from_pathname`). A goro listener must still accept their
//! connections — any local process can bind such a path, and an accept
//! loop that stops on the error would let it take the server down — and a
//! datagram from one must not be consumed and then lost to an address
//! conversion error.

mod support;

use goro::net::{UnixDatagram, UnixListener};
use std::ffi::OsStr;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use support::hang::run;
use support::net::TempDir;

/// A `sockaddr_un` whose `sun_path` holds `path`'s bytes, and its length
/// (the whole struct when the path fills `sun_path`).
fn sockaddr(path: &[u8]) -> (libc::sockaddr_un, libc::socklen_t) {
    // SAFETY: all-zero is a valid sockaddr_un.
    let mut sa: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    sa.sun_family = libc::AF_UNIX as libc::sa_family_t;
    assert!(path.len() <= sa.sun_path.len());
    for (d, s) in sa.sun_path.iter_mut().zip(path) {
        *d = *s as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    (sa, len)
}

/// A socket of type `ty` bound to a 108-byte path in `dir`.
fn bound_to_full_path(dir: &TempDir, ty: i32, tag: &str) -> (OwnedFd, Vec<u8>) {
    let base = dir.path(tag);
    let mut path = base.to_str().unwrap().as_bytes().to_vec();
    path.push(b'-');
    assert!(path.len() < 108, "temp dir path too long for this test");
    path.resize(108, b'x');
    // SAFETY: plain syscall; checked below.
    let fd = unsafe { libc::socket(libc::AF_UNIX, ty | libc::SOCK_CLOEXEC, 0) };
    assert!(fd >= 0);
    // SAFETY: a fresh fd we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let (sa, len) = sockaddr(&path);
    // SAFETY: `sa` is a valid sockaddr_un of `len` bytes.
    let r = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sa as *const libc::sockaddr_un).cast(),
            len,
        )
    };
    assert_eq!(r, 0, "bind: {}", std::io::Error::last_os_error());
    (fd, path)
}

fn connect(fd: &OwnedFd, to: &Path) {
    let (sa, len) = sockaddr(to.to_str().unwrap().as_bytes());
    // SAFETY: `sa` is a valid sockaddr_un of `len` bytes.
    let r = unsafe {
        libc::connect(
            fd.as_raw_fd(),
            (&sa as *const libc::sockaddr_un).cast(),
            len,
        )
    };
    assert_eq!(r, 0, "connect: {}", std::io::Error::last_os_error());
}

#[test]
fn accept_from_a_client_bound_to_a_full_length_path() {
    run(async {
        let dir = TempDir::new("full-path-peer");
        let lpath = dir.path("l.sock");
        let listener = UnixListener::bind(&lpath).unwrap();
        let (client, path) = bound_to_full_path(&dir, libc::SOCK_STREAM, "c");
        connect(&client, &lpath);
        let client = std::os::unix::net::UnixStream::from(client);
        let (server, peer) = listener
            .accept()
            .await
            .expect("accept failed because of the client's address");
        // The peer's address is the client's own, as std reports it.
        let want = client.local_addr().unwrap();
        assert_eq!(peer.as_pathname(), want.as_pathname());
        assert_eq!(
            peer.as_pathname().unwrap().as_os_str().len(),
            path.len(),
            "{peer:?}"
        );
        // And the connection works.
        (&client).write_all(b"hi").unwrap();
        let mut b = [0u8; 2];
        server.read_exact(&mut b).await.unwrap();
        assert_eq!(&b, b"hi");
        // The listener keeps accepting.
        let _c2 = std::os::unix::net::UnixStream::connect(&lpath).unwrap();
        listener.accept().await.unwrap();
        let _ = std::fs::remove_file(OsStr::from_bytes(&path));
    });
}

#[test]
fn datagram_from_a_sender_bound_to_a_full_length_path_is_not_lost() {
    run(async {
        let dir = TempDir::new("full-path-dgram");
        let rpath = dir.path("r.sock");
        let receiver = UnixDatagram::bind(&rpath).unwrap();
        let (sender, path) = bound_to_full_path(&dir, libc::SOCK_DGRAM, "s");
        let sender = std::os::unix::net::UnixDatagram::from(sender);
        sender.send_to(b"one", &rpath).unwrap();
        sender.send_to(b"two", &rpath).unwrap();
        let mut b = [0u8; 8];
        let (n, _from) = receiver
            .peek_from(&mut b)
            .await
            .expect("peek_from failed because of the sender's address");
        assert_eq!(&b[..n], b"one");
        let (n, from) = receiver
            .recv_from(&mut b)
            .await
            .expect("recv_from failed because of the sender's address");
        assert_eq!(&b[..n], b"one");
        // std cannot hold that address: the sender is reported unnamed.
        assert!(from.is_unnamed(), "{from:?}");
        let (n, _from) = receiver.recv_from(&mut b).await.unwrap();
        assert_eq!(&b[..n], b"two");
        let _ = std::fs::remove_file(OsStr::from_bytes(&path));
    });
}
