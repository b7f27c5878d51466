//! A connector for `hyper_util::client::legacy::Client` that dials with goro.
//!
//! [`Connector`] is a `tower_service::Service<Uri>` whose connections are
//! goro [`TcpStream`]s. It speaks plain `http://` (wrap it for TLS, the way
//! `hyper-rustls` wraps hyper-util's `HttpConnector`), resolves the host off
//! the workers (goro's `connect` does), tries each resolved address in turn,
//! and gives up after the connect timeout (Go's `net.Dialer.Timeout`:
//! one budget for resolving and every attempt). `TCP_NODELAY` is set, as Go
//! sets it on every TCP connection.

use crate::net::TcpStream;
use hyper::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

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
    /// as long as the kernel does.
    pub fn connect_timeout(mut self, timeout: Option<Duration>) -> Connector {
        self.connect_timeout = timeout;
        self
    }

    async fn dial(self, uri: Uri) -> io::Result<TcpStream> {
        let (host, port) = host_and_port(&uri)?;
        // Name the address in every failure, as Go's `dial tcp ADDR: ...`
        // does: hyper's error otherwise says only "Connection refused".
        let named =
            |e: io::Error| io::Error::new(e.kind(), format!("connect to {host}:{port}: {e}"));
        let connect = TcpStream::connect((host.clone(), port));
        let stream = match self.connect_timeout {
            Some(limit) => crate::time::timeout(limit, connect).await.map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("connect to {host}:{port} timed out after {limit:?}"),
                )
            })?,
            None => connect.await,
        }
        .map_err(named)?;
        stream.set_nodelay(true)?;
        Ok(stream)
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
}
