//! Networking on the netpoller: TCP ([`TcpListener`], [`TcpStream`], with
//! Go's [`Dialer`] and [`ListenConfig`] for options), UDP
//! ([`UdpSocket`]) and Unix-domain sockets ([`UnixListener`],
//! [`UnixStream`], [`UnixDatagram`]), with Go's `net.Conn` semantics
//! (deadlines, `close` waking blocked tasks, shared use through `&self`).
//!
//! Every socket is non-blocking and registered once with the runtime's
//! epoll instance when it is created; operations try the syscall first and
//! park in the descriptor's read or write slot on `EAGAIN`.

pub(crate) mod addr;
mod backoff;
mod datagram;
pub(crate) mod socket;
mod sockopt;
pub(crate) mod stream;
mod tcp;
mod udp;
mod unix;

pub use addr::ToSocketAddrs;
pub use tcp::{Dialer, Incoming, ListenConfig, TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixIncoming, UnixListener, UnixStream};
