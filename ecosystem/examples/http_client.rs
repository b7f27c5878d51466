//! An HTTP client: `hyper_util`'s legacy `Client` dialing with goro.
//!
//! ```text
//! cargo run --release -p goro-ecosystem --example http -- --addr 127.0.0.1:8080 &
//! cargo run --release -p goro-ecosystem --example http_client -- http://127.0.0.1:8080/hello
//! ```
//!
//! `goro::compat::hyper::Connector` opens the TCP connections (with a
//! connect timeout, `--connect-timeout-ms`), `Executor` runs the client's
//! connection tasks on goro and `Timer` drives its pool's idle expiry. The
//! response status goes to stderr and the body to stdout; a non-2xx status
//! exits with code 1, like `curl --fail`.

use bytes::Bytes;
use goro::compat::hyper::{Connector, Executor, Timer};
use goro_ecosystem::{Flags, invalid};
use http_body_util::{BodyExt, Empty};
use hyper::Uri;
use hyper_util::client::legacy::Client;
use std::io::{self, Write};
use std::time::Duration;

const USAGE: &str = "http_client URL [--connect-timeout-ms MS] [--timeout-ms MS]";

fn main() -> io::Result<()> {
    let flags = Flags::from_env(USAGE)?;
    let [url] = flags.positional() else {
        return Err(invalid(format!("one URL, please (usage: {USAGE})")));
    };
    let uri: Uri = url
        .parse()
        .map_err(|e| invalid(format!("bad URL {url:?}: {e}")))?;
    let connect_timeout = flags.parsed::<u64>("connect-timeout-ms")?.unwrap_or(5_000);
    let timeout = flags.parsed::<u64>("timeout-ms")?.unwrap_or(30_000);
    let connector = Connector::new().connect_timeout(Some(Duration::from_millis(connect_timeout)));
    let client: Client<Connector, Empty<Bytes>> = Client::builder(Executor::new())
        .timer(Timer::new())
        .pool_timer(Timer::new())
        .build(connector);
    let status = goro::block_on(goro::time::timeout(Duration::from_millis(timeout), async {
        let response = client.get(uri).await.map_err(io::Error::other)?;
        let status = response.status();
        eprintln!("{:?} {status}", response.version());
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(io::Error::other)?;
        io::stdout().write_all(&body.to_bytes())?;
        Ok::<_, io::Error>(status)
    }))??;
    if !status.is_success() {
        std::process::exit(1);
    }
    Ok(())
}
