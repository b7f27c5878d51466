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
//! goro's streams go to hyper as they are, owned or shared:
//!
//! ```
//! fn hyper_io<T: hyper::rt::Read + hyper::rt::Write + Unpin>() {}
//! hyper_io::<goro::net::TcpStream>();
//! hyper_io::<&'static goro::net::UnixStream>();
//! ```
//!
//! Whole programs live in the `goro-ecosystem` workspace member, where the
//! heavier crates they need (hyper's server and client, `http-body-util`,
//! axum) are dependencies and their tests run them:
//! `ecosystem/examples/http.rs` serves HTTP/1.1 with a header-read timeout
//! (`cargo run --release -p goro-ecosystem --example http`),
//! `ecosystem/examples/http_client.rs` fetches through
//! `hyper_util`'s `Client` with this [`Connector`], and
//! `ecosystem/examples/axum_hello.rs` runs an axum router. This crate's
//! own doc examples use only what the `hyper` feature brings in, so
//! `cargo test` here needs no extra dependencies.

mod connector;
mod executor;
mod io;
mod timer;

pub use connector::Connector;
pub use executor::Executor;
pub use timer::Timer;
