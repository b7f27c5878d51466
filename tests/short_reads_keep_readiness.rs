//! A short read does not make goro forget that a stream is readable: bytes
//! still queued behind a point where Linux ends a read early are read by
//! the next `read`, through the inherent method and through `AsyncRead`.
//!
//! What this guards: goro treated a short successful read on a stream
//! socket as proof that the receive queue was empty and cleared the
//! direction's readiness, so the next read parked without a syscall and
//! waited for a new edge. Linux stops a stream read early while data is
//! still queued, with no later event:
//! - TCP: a read stops at the urgent mark (`tcp_recvmsg_locked`: "Stop if
//!   we have read anything"); the bytes after it were announced by the edge
//!   the first reader consumed;
//! - Unix stream: a read stops after a message that carried SCM_RIGHTS fds
//!   (`unix_stream_read_generic`), and, with SO_PASSCRED on, where the
//!   writer's credentials change.
//!
//! Without the fix the second `read` parks forever although bytes are
//! readable (Go, which reads until `EAGAIN`, returns them).

use goro::runtime::Builder;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BOUND: Duration = Duration::from_secs(3);

#[test]
fn tcp_read_after_urgent_mark_sees_the_rest() {
    let rt = Builder::new().worker_threads(2).build().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (ours, _) = listener.accept().unwrap();
    peer.set_nodelay(true).unwrap();
    peer.write_all(b"abc").unwrap();
    // SAFETY: one byte from a live buffer.
    let n = unsafe { libc::send(peer.as_raw_fd(), b"X".as_ptr().cast(), 1, libc::MSG_OOB) };
    assert_eq!(n, 1);
    peer.write_all(b"def").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let (tx, rx) = mpsc::channel::<(Vec<u8>, io::Result<Vec<u8>>)>();
    rt.spawn(async move {
        let s = goro::net::TcpStream::from_std(ours).unwrap();
        // Let the poller deliver the (single) edge for everything queued.
        goro::time::sleep(Duration::from_millis(200)).await;
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).await.unwrap();
        let first = buf[..n].to_vec();
        s.set_read_deadline(Some(Instant::now() + BOUND)).unwrap();
        let second = s.read(&mut buf).await.map(|n| buf[..n].to_vec());
        tx.send((first, second)).unwrap();
    });
    let (first, second) = rx.recv_timeout(BOUND + Duration::from_secs(10)).unwrap();
    drop(peer);
    assert_eq!(
        first, b"abc",
        "setup: the read should stop at the urgent mark"
    );
    assert_eq!(
        second.expect("queued bytes after the urgent mark were never read"),
        b"def"
    );
}

/// Sends `data` with one fd attached (SCM_RIGHTS).
fn send_with_fd(sock: i32, data: &[u8], fd: i32) {
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut _,
        iov_len: data.len(),
    };
    // SAFETY: CMSG_SPACE is a pure computation.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<i32>() as u32) } as usize;
    let mut cbuf = vec![0u8; space];
    // SAFETY: zeroed msghdr is valid; every pointer set below is live.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: msg_control has room for one cmsg with one int.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<i32>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<i32>(), fd);
        assert_eq!(libc::sendmsg(sock, &msg, 0), data.len() as isize);
    }
}

#[test]
fn unix_read_after_fd_passing_message_sees_the_rest() {
    let rt = Builder::new().worker_threads(2).build().unwrap();
    let (mut peer, ours) = std::os::unix::net::UnixStream::pair().unwrap();
    let devnull = std::fs::File::open("/dev/null").unwrap();
    send_with_fd(peer.as_raw_fd(), b"abc", devnull.as_raw_fd());
    peer.write_all(b"def").unwrap();
    let (tx, rx) = mpsc::channel::<(Vec<u8>, io::Result<Vec<u8>>)>();
    rt.spawn(async move {
        let s = goro::net::UnixStream::from_std(ours).unwrap();
        goro::time::sleep(Duration::from_millis(200)).await;
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).await.unwrap();
        let first = buf[..n].to_vec();
        s.set_read_deadline(Some(Instant::now() + BOUND)).unwrap();
        let second = s.read(&mut buf).await.map(|n| buf[..n].to_vec());
        tx.send((first, second)).unwrap();
    });
    let (first, second) = rx.recv_timeout(BOUND + Duration::from_secs(10)).unwrap();
    drop(peer);
    assert_eq!(
        first, b"abc",
        "setup: the read should stop after the fd-carrying skb"
    );
    assert_eq!(
        second.expect("queued bytes after the fd-carrying message were never read"),
        b"def"
    );
}

/// The same through `futures_io::AsyncRead`.
#[test]
fn unix_async_read_after_fd_passing_message_sees_the_rest() {
    let rt = Builder::new().worker_threads(2).build().unwrap();
    let (mut peer, ours) = std::os::unix::net::UnixStream::pair().unwrap();
    let devnull = std::fs::File::open("/dev/null").unwrap();
    send_with_fd(peer.as_raw_fd(), b"abc", devnull.as_raw_fd());
    peer.write_all(b"def").unwrap();
    let (tx, rx) = mpsc::channel::<(Vec<u8>, Result<io::Result<Vec<u8>>, goro::time::Elapsed>)>();
    rt.spawn(async move {
        let mut s = goro::net::UnixStream::from_std(ours).unwrap();
        goro::time::sleep(Duration::from_millis(200)).await;
        let mut buf = [0u8; 64];
        let n = futures::io::AsyncReadExt::read(&mut s, &mut buf)
            .await
            .unwrap();
        let first = buf[..n].to_vec();
        let second = goro::time::timeout(BOUND, futures::io::AsyncReadExt::read(&mut s, &mut buf))
            .await
            .map(|r| r.map(|n| buf[..n].to_vec()));
        tx.send((first, second)).unwrap();
    });
    let (first, second) = rx.recv_timeout(BOUND + Duration::from_secs(10)).unwrap();
    drop(peer);
    assert_eq!(first, b"abc");
    assert_eq!(
        second.expect("timed out: queued bytes never read").unwrap(),
        b"def"
    );
}
