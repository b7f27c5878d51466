//! Datagram operations shared by [`UdpSocket`](super::UdpSocket) and
//! [`UnixDatagram`](super::UnixDatagram), as `stream.rs` is for streams.
//!
//! Both types are an [`Fd`] over a datagram socket, and each operation is
//! one syscall retried under the direction's lock (`Fd::op`) or polled
//! statelessly (`Fd::poll_io`); only the address type differs, which the
//! `recv_from` family takes as a type parameter. A datagram operation never
//! clears readiness on a short transfer: one datagram says nothing about
//! the next, so only `EAGAIN` does. A datagram longer than the buffer is
//! truncated (the rest is discarded), as `recv(2)` does.

use super::socket::{self, FromSockAddr, SockAddr};
use crate::io::fd::Fd;
use crate::poller::Direction;
use std::io;
use std::task::{Context, Poll};

impl Fd {
    /// Sends `buf` as one datagram to the connected peer.
    pub(crate) async fn datagram_send(&self, buf: &[u8]) -> io::Result<usize> {
        self.op(Direction::Write, |fd| socket::send(fd, buf)).await
    }

    /// Receives one datagram from the connected peer; `flags` may hold
    /// `MSG_PEEK` (the datagram stays queued).
    pub(crate) async fn datagram_recv(&self, buf: &mut [u8], flags: i32) -> io::Result<usize> {
        self.op(Direction::Read, |fd| socket::recv(fd, buf, flags))
            .await
    }

    /// Sends `buf` as one datagram to `addr`.
    pub(crate) async fn datagram_send_to(&self, buf: &[u8], addr: &SockAddr) -> io::Result<usize> {
        self.op(Direction::Write, |fd| socket::send_to(fd, buf, addr))
            .await
    }

    /// Receives one datagram and its sender's address; `flags` as for
    /// [`datagram_recv`](Self::datagram_recv).
    pub(crate) async fn datagram_recv_from<A: FromSockAddr>(
        &self,
        buf: &mut [u8],
        flags: i32,
    ) -> io::Result<(usize, A)> {
        self.op(Direction::Read, |fd| socket::recv_from(fd, buf, flags))
            .await
    }

    /// Polls to receive one datagram from the connected peer.
    pub(crate) fn poll_datagram_recv(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_io(cx, Direction::Read, |fd| socket::recv(fd, buf, 0))
    }

    /// Polls to send one datagram to the connected peer.
    pub(crate) fn poll_datagram_send(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_io(cx, Direction::Write, |fd| socket::send(fd, buf))
    }

    /// Polls to receive one datagram and its sender's address.
    pub(crate) fn poll_datagram_recv_from<A: FromSockAddr>(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, A)>> {
        self.poll_io(cx, Direction::Read, |fd| socket::recv_from(fd, buf, 0))
    }

    /// Polls to send one datagram to `addr`.
    pub(crate) fn poll_datagram_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        addr: &SockAddr,
    ) -> Poll<io::Result<usize>> {
        self.poll_io(cx, Direction::Write, |fd| socket::send_to(fd, buf, addr))
    }
}
