//! [`ToSocketAddrs`]: the address arguments goro accepts, resolved without
//! blocking a worker.
//!
//! It is implemented for exactly the types `std::net::ToSocketAddrs` is.
//! Literal addresses (a `SocketAddr`, `(IpAddr, u16)`, `"127.0.0.1:80"`,
//! `"[::1]:80"`) are converted in place; anything that needs a name lookup
//! (`"localhost:80"`, `("example.com", 443)`) is resolved on the blocking
//! pool, so a slow DNS server never stalls the runtime.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Types that can be turned into socket addresses; see the module docs.
///
/// This trait is sealed: it has the same implementations as
/// `std::net::ToSocketAddrs` and no others.
pub trait ToSocketAddrs: sealed::Sealed {}

mod sealed {
    use super::Resolve;

    /// The conversion itself, hidden from the public API.
    pub trait Sealed {
        fn to_resolve(&self) -> Resolve;
    }
}

/// What an address argument needs: nothing, or a lookup.
#[doc(hidden)]
#[derive(Debug)]
pub enum Resolve {
    /// Already addresses (or a parse error).
    Ready(io::Result<Vec<SocketAddr>>),
    /// A `host:port` string to resolve off-worker.
    Lookup(String),
    /// A host and port to resolve off-worker.
    LookupHostPort(String, u16),
}

impl Resolve {
    /// Performs the lookup (if any) on the blocking pool.
    pub(crate) async fn run(self) -> io::Result<Vec<SocketAddr>> {
        let addrs = match self {
            Resolve::Ready(r) => r?,
            Resolve::Lookup(s) => {
                off_worker(move || lookup(std::net::ToSocketAddrs::to_socket_addrs(&s))).await?
            }
            Resolve::LookupHostPort(h, p) => {
                off_worker(move || {
                    lookup(std::net::ToSocketAddrs::to_socket_addrs(&(h.as_str(), p)))
                })
                .await?
            }
        };
        if addrs.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "could not resolve to any addresses",
            ));
        }
        Ok(addrs)
    }
}

/// Runs a lookup on the blocking pool. Only the runtime's shutdown cancels
/// it (nobody else holds its handle), so a cancelled lookup fails with the
/// shut-down error every other operation on that runtime returns.
async fn off_worker(
    f: impl FnOnce() -> io::Result<Vec<SocketAddr>> + Send + 'static,
) -> io::Result<Vec<SocketAddr>> {
    match crate::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) if e.is_cancelled() => Err(crate::poller::descriptor::shut_down_error()),
        Err(e) => Err(e.into()),
    }
}

fn lookup(r: io::Result<std::vec::IntoIter<SocketAddr>>) -> io::Result<Vec<SocketAddr>> {
    r.map(Iterator::collect)
}

/// Resolves `addr`.
pub(crate) async fn resolve<A: ToSocketAddrs>(addr: A) -> io::Result<Vec<SocketAddr>> {
    addr.to_resolve().run().await
}

fn ready(a: SocketAddr) -> Resolve {
    Resolve::Ready(Ok(vec![a]))
}

macro_rules! literal {
    ($($t:ty),*) => {$(
        impl ToSocketAddrs for $t {}
        impl sealed::Sealed for $t {
            fn to_resolve(&self) -> Resolve {
                ready(SocketAddr::from(*self))
            }
        }
    )*};
}

literal!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16)
);

impl ToSocketAddrs for str {}
impl sealed::Sealed for str {
    fn to_resolve(&self) -> Resolve {
        match self.parse::<SocketAddr>() {
            Ok(a) => ready(a),
            Err(_) => Resolve::Lookup(self.to_owned()),
        }
    }
}

impl ToSocketAddrs for String {}
impl sealed::Sealed for String {
    fn to_resolve(&self) -> Resolve {
        self.as_str().to_resolve()
    }
}

impl ToSocketAddrs for (&str, u16) {}
impl sealed::Sealed for (&str, u16) {
    fn to_resolve(&self) -> Resolve {
        match self.0.parse::<IpAddr>() {
            Ok(ip) => ready(SocketAddr::new(ip, self.1)),
            Err(_) => Resolve::LookupHostPort(self.0.to_owned(), self.1),
        }
    }
}

impl ToSocketAddrs for (String, u16) {}
impl sealed::Sealed for (String, u16) {
    fn to_resolve(&self) -> Resolve {
        (self.0.as_str(), self.1).to_resolve()
    }
}

impl ToSocketAddrs for &[SocketAddr] {}
impl sealed::Sealed for &[SocketAddr] {
    fn to_resolve(&self) -> Resolve {
        Resolve::Ready(Ok(self.to_vec()))
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}
impl<T: ToSocketAddrs + ?Sized> sealed::Sealed for &T {
    fn to_resolve(&self) -> Resolve {
        (**self).to_resolve()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::sealed::Sealed;
    use super::*;

    fn now(a: impl ToSocketAddrs) -> Vec<SocketAddr> {
        match a.to_resolve() {
            Resolve::Ready(r) => r.unwrap(),
            other => panic!("expected a literal, got {other:?}"),
        }
    }

    #[test]
    fn literals_need_no_lookup() {
        let want: SocketAddr = "127.0.0.1:80".parse().unwrap();
        assert_eq!(now(want), vec![want]);
        assert_eq!(now("127.0.0.1:80"), vec![want]);
        assert_eq!(now(String::from("127.0.0.1:80")), vec![want]);
        assert_eq!(now(("127.0.0.1", 80)), vec![want]);
        assert_eq!(now((Ipv4Addr::LOCALHOST, 80)), vec![want]);
        assert_eq!(now(&[want][..]), vec![want]);
        assert_eq!(now("[::1]:5").len(), 1);
    }

    #[test]
    fn names_are_looked_up() {
        assert!(matches!("localhost:80".to_resolve(), Resolve::Lookup(_)));
        assert!(matches!(
            ("localhost", 80).to_resolve(),
            Resolve::LookupHostPort(..)
        ));
    }
}
