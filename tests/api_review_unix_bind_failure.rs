//! A Unix socket bound to a path creates the file at `bind(2)`; if what
//! follows fails (`listen`, or registering with a runtime that has shut
//! down, or `ENOMEM`), the caller gets an error and no socket — and must not
//! be left with the file, which makes every later bind of that path fail
//! with `AddrInUse`.

mod support;

use goro::net::{UnixDatagram, UnixListener};
use support::net::TempDir;

#[test]
fn a_failed_listener_bind_leaves_no_file_behind() {
    let dir = TempDir::new("bind-failure-listener");
    let path = dir.path("l.sock");
    let rt = support::rt::workers(1);
    let handle = rt.handle();
    drop(rt);
    {
        let _g = handle.enter();
        let e = UnixListener::bind(&path).unwrap_err();
        assert!(e.to_string().contains("shut down"), "{e}");
        let addr = std::os::unix::net::SocketAddr::from_pathname(&path).unwrap();
        assert!(UnixListener::bind_addr(&addr).is_err());
    }
    assert!(!path.exists(), "the failed bind left {path:?} behind");
    // So the path is free for a working runtime.
    let rt = support::rt::workers(1);
    let _g = rt.enter();
    let l = UnixListener::bind(&path).expect("the path is still taken");
    drop(l);
}

#[test]
fn a_failed_datagram_bind_leaves_no_file_behind() {
    let dir = TempDir::new("bind-failure-dgram");
    let path = dir.path("d.sock");
    let rt = support::rt::workers(1);
    let handle = rt.handle();
    drop(rt);
    {
        let _g = handle.enter();
        let e = UnixDatagram::bind(&path).unwrap_err();
        assert!(e.to_string().contains("shut down"), "{e}");
    }
    assert!(!path.exists(), "the failed bind left {path:?} behind");
    let rt = support::rt::workers(1);
    let _g = rt.enter();
    UnixDatagram::bind(&path).expect("the path is still taken");
}
