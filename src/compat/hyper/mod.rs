//! hyper 1.x on goro (feature `hyper`).
//!
//! - goro's [`TcpStream`](crate::net::TcpStream) and
//!   [`UnixStream`](crate::net::UnixStream) (and shared references to them)
//!   implement `hyper::rt::Read` and `hyper::rt::Write`: hand them to
//!   `hyper::server::conn::http1::Builder::serve_connection` or to
//!   `hyper::client::conn::http1::handshake` as they are, no wrapper.
//! - [`Executor`] spawns hyper's background tasks (HTTP/2 streams, client
//!   connections) as goro tasks.
//! - [`Timer`] gives hyper goro timers, which its timeouts need
//!   (`header_read_timeout`, HTTP/2 keep-alive, the client pool's idle
//!   timeout). Without a timer hyper 1.x silently disables its default
//!   header-read timeout and panics if one is set explicitly.
//! - [`Connector`] dials TCP connections with goro, with a connect timeout,
//!   for `hyper_util::client::legacy::Client`.
//!
//! A server, the way `examples/http.rs` in the `goro-ecosystem` package
//! serves:
//!
//! ```no_run
//! use goro::compat::hyper::Timer;
//! use goro::net::TcpListener;
//! use hyper::server::conn::http1;
//! use hyper::service::service_fn;
//! use std::time::Duration;
//!
//! # fn main() -> std::io::Result<()> {
//! goro::block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:8080").await?;
//!     loop {
//!         let (stream, _) = listener.accept().await?;
//!         goro::spawn(async move {
//!             let service = service_fn(|_req| async {
//!                 Ok::<_, std::convert::Infallible>(hyper::Response::new(String::from("hi\n")))
//!             });
//!             let _ = http1::Builder::new()
//!                 .timer(Timer::new())
//!                 .header_read_timeout(Duration::from_secs(10))
//!                 .serve_connection(stream, service)
//!                 .await;
//!         });
//!     }
//! })
//! # }
//! ```

mod connector;
mod executor;
mod io;
mod timer;

pub use connector::Connector;
pub use executor::Executor;
pub use timer::Timer;
