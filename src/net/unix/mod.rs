//! Unix-domain sockets: [`UnixListener`], [`UnixStream`] and
//! [`UnixDatagram`] — the TCP and UDP shapes over filesystem paths.
//!
//! Addresses are `std::os::unix::net::SocketAddr`. Methods that take a path
//! (`bind`, `connect`, `send_to`) reject paths containing NUL bytes or
//! longer than the kernel's 107-byte limit with `InvalidInput`; on Linux the
//! `*_addr` variants also accept abstract-namespace addresses built with
//! `std::os::linux::net::SocketAddrExt::from_abstract_name`.

mod datagram;
mod listener;
mod stream;

pub use datagram::UnixDatagram;
pub use listener::{UnixIncoming, UnixListener};
pub use stream::UnixStream;
