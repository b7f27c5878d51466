//! TCP: [`TcpListener`] and [`TcpStream`], and Go's [`Dialer`] and
//! [`ListenConfig`] for socket options set before `connect`/`listen`.

mod dialer;
mod listen_config;
mod listener;
mod options;
mod stream;

pub use dialer::Dialer;
pub use listen_config::ListenConfig;
pub use listener::{Incoming, TcpListener};
pub use stream::TcpStream;
