//! A connector for `hyper_util::client::legacy::Client` that dials with goro.
//!
//! [`Connector`] is a `tower_service::Service<Uri>` whose connections are
//! goro [`TcpStream`]s. It speaks plain `http://` (wrap it for TLS, the way
//! `hyper-rustls` wraps hyper-util's `HttpConnector`), resolves the host off
//! the workers (as goro's `connect` does), tries each resolved address in
//! turn, and gives up after the connect timeout (Go's `net.Dialer.Timeout`:
//! one budget for resolving and every attempt, of which each address gets
//! an equal share of what is left, at least 2 s, so that one address that
//! hangs does not use it all up). `TCP_NODELAY` is set, as Go sets it on
//! every TCP connection.

use crate::net::addr::resolve;
use crate::net::{Dialer, TcpStream};
use hyper::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The connect timeout of a new [`Connector`] (that of Go's
/// `http.DefaultTransport`).
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Dials `http://` URIs with goro for `hyper_util`'s legacy `Client`.
///
/// `Client::builder(Executor::new()).timer(Timer::new()).build(Connector::new())`
/// gives a client that runs entirely on goro; see
/// `ecosystem/examples/http_client.rs` for the whole program. Used
/// directly, as the `tower_service::Service` hyper-util calls, it dials the
/// URI's host and port:
///
/// ```
/// use goro::compat::hyper::Connector;
/// use std::time::Duration;
/// use tower_service::Service;
///
/// # fn main() -> std::io::Result<()> {
/// goro::block_on(async {
///     let listener = goro::net::TcpListener::bind("127.0.0.1:0").await?;
///     let uri = format!("http://{}/", listener.local_addr()?).parse().unwrap();
///     let mut connector = Connector::new().connect_timeout(Some(Duration::from_secs(5)));
///     let stream = connector.call(uri).await?;
///     assert_eq!(stream.peer_addr()?, listener.local_addr()?);
///     Ok(())
/// })
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Connector {
    connect_timeout: Option<Duration>,
}

impl Default for Connector {
    fn default() -> Connector {
        Connector::new()
    }
}

impl Connector {
    /// A connector with a 30 s connect timeout.
    pub fn new() -> Connector {
        Connector {
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
        }
    }

    /// Sets how long resolving and connecting may take in all; `None` waits
    /// as long as the kernel does. When the host has several addresses,
    /// each attempt gets an equal share of the time left (at least 2 s of
    /// it), as in Go.
    pub fn connect_timeout(mut self, timeout: Option<Duration>) -> Connector {
        self.connect_timeout = timeout;
        self
    }

    async fn dial(self, uri: Uri) -> io::Result<TcpStream> {
        let (host, port) = host_and_port(&uri)?;
        let target = HostPort(&host, port);
        let deadline = self
            .connect_timeout
            .map(|limit| crate::time::clock::saturating_add(Instant::now(), limit));
        let timed_out = || timed_out(target, self.connect_timeout);
        // Name the address in every failure, as Go's `dial tcp ADDR: ...`
        // does: hyper's error otherwise says only "Connection refused".
        let lookup = resolve((&*host, port));
        let addrs = match deadline {
            Some(deadline) => crate::time::timeout_at(deadline, lookup)
                .await
                .map_err(|_| timed_out())?,
            None => lookup.await,
        }
        .map_err(|e| io::Error::new(e.kind(), format!("connect to {target}: {e}")))?;
        // Keep-alive stays at the OS default (off), as `TcpStream::connect`.
        let dialer = Dialer::new().keep_alive(None);
        let stream = dialer
            .connect_in_turn(&addrs, deadline)
            .await
            .map_err(|(addr, e)| {
                dial_error(target, addr, e, addrs.len() == 1, self.connect_timeout)
            })?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}

/// The connect timeout expired (after `limit`).
fn timed_out(target: HostPort<'_>, limit: Option<Duration>) -> io::Error {
    let limit = limit.unwrap_or_default();
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("connect to {target} timed out after {limit:?}"),
    )
}

/// The error for a dial of `target` that failed with `e` on `addr` (the
/// only address if `only`), naming the address.
fn dial_error(
    target: HostPort<'_>,
    addr: SocketAddr,
    e: io::Error,
    only: bool,
    limit: Option<Duration>,
) -> io::Error {
    match e.kind() {
        // goro's own timeout (the kernel's `ETIMEDOUT` has an OS code and
        // its own message, also without a connect timeout).
        io::ErrorKind::TimedOut if only && limit.is_some() && e.raw_os_error().is_none() => {
            timed_out(target, limit)
        }
        _ => {
            let via = match target.is(&addr) {
                true => String::new(),
                false => format!(" ({addr})"),
            };
            io::Error::new(e.kind(), format!("connect to {target}{via}: {e}"))
        }
    }
}

/// A host and port as an address is written: IPv6 literals in brackets.
#[derive(Clone, Copy)]
struct HostPort<'a>(&'a str, u16);

impl HostPort<'_> {
    /// True if `addr` is this host and port written as an address.
    fn is(&self, addr: &SocketAddr) -> bool {
        addr.port() == self.1 && self.0.parse::<IpAddr>() == Ok(addr.ip())
    }
}

impl std::fmt::Display for HostPort<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.contains(':') {
            true => write!(f, "[{}]:{}", self.0, self.1),
            false => write!(f, "{}:{}", self.0, self.1),
        }
    }
}

/// The host (IPv6 brackets removed) and port (80 if none) of an `http` URI.
fn host_and_port(uri: &Uri) -> io::Result<(String, u16)> {
    let invalid = |msg: String| io::Error::new(io::ErrorKind::InvalidInput, msg);
    match uri.scheme_str() {
        Some("http") | None => {}
        Some(other) => {
            return Err(invalid(format!(
                "goro's Connector dials plain http, not {other}: wrap it for TLS ({uri})"
            )));
        }
    }
    let host = uri
        .host()
        .ok_or_else(|| invalid(format!("no host in URI {uri}")))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Ok((host.to_owned(), uri.port_u16().unwrap_or(80)))
}

impl tower_service::Service<Uri> for Connector {
    type Response = TcpStream;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<TcpStream>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        Box::pin(self.clone().dial(uri))
    }
}

impl Connection for TcpStream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl Connection for crate::net::UnixStream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_port_of_uris() {
        let hp = |s: &str| host_and_port(&s.parse().unwrap());
        assert_eq!(
            hp("http://example.com/x").unwrap(),
            ("example.com".into(), 80)
        );
        assert_eq!(
            hp("http://127.0.0.1:8080/").unwrap(),
            ("127.0.0.1".into(), 8080)
        );
        assert_eq!(hp("http://[::1]:9/").unwrap(), ("::1".into(), 9));
        let err = hp("https://example.com/").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(hp("/just/a/path").is_err());
    }

    /// A failed connect keeps its kind and names the address it tried.
    #[test]
    fn connect_errors_name_the_address() {
        use tower_service::Service;
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = closed.local_addr().unwrap();
        drop(closed);
        let uri: Uri = format!("http://{addr}/").parse().unwrap();
        let err = crate::block_on(Connector::new().call(uri)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
        let msg = err.to_string();
        assert!(msg.contains(&format!("connect to {addr}: ")), "{msg}");
    }

    /// Only goro's own timeout is reported as the connect timeout: the
    /// kernel's `ETIMEDOUT` (its SYN retries ran out, with or without a
    /// connect timeout) keeps its own message.
    #[test]
    fn a_kernel_timeout_is_not_the_connect_timeout() {
        let target = HostPort("127.0.0.1", 80);
        let addr: SocketAddr = "127.0.0.1:80".parse().unwrap();
        for limit in [None, Some(Duration::from_secs(300))] {
            let e = io::Error::from_raw_os_error(libc::ETIMEDOUT);
            let e = dial_error(target, addr, e, true, limit);
            assert_eq!(e.kind(), io::ErrorKind::TimedOut);
            let msg = e.to_string();
            assert!(msg.starts_with("connect to 127.0.0.1:80: "), "{msg}");
            assert!(!msg.contains("timed out after"), "{msg}");
        }
        let ours = crate::poller::descriptor::timeout_error();
        let e = dial_error(target, addr, ours, true, Some(Duration::from_secs(30)));
        assert_eq!(e.to_string(), "connect to 127.0.0.1:80 timed out after 30s");
    }

    /// An IPv6 literal is named in brackets, as addresses are written.
    #[test]
    fn ipv6_hosts_are_named_in_brackets() {
        assert_eq!(HostPort("::1", 8080).to_string(), "[::1]:8080");
        assert_eq!(HostPort("example.com", 80).to_string(), "example.com:80");
        assert!(HostPort("::1", 9).is(&"[::1]:9".parse().unwrap()));
        assert!(!HostPort("localhost", 9).is(&"127.0.0.1:9".parse().unwrap()));
    }
}
