//! A TLS echo server: rustls (ring provider) over goro `TcpStream`s.
//!
//! ```text
//! cargo run --release -p goro-ecosystem --example tls_echo -- --addr 127.0.0.1:7443
//! openssl s_client -connect 127.0.0.1:7443 -quiet    # type a line, get it back
//! ```
//!
//! `futures-rustls` wraps any `futures-io` stream, and goro's streams are
//! `futures-io` streams, so no adapter is needed. With `--cert CERT.pem
//! --key KEY.pem` it serves that certificate chain and key; without them it
//! makes a self-signed certificate for `localhost` and `127.0.0.1` at
//! start-up (with `rcgen`) and writes it to `--write-cert PATH` if given, so
//! a client can trust it (`openssl s_client -CAfile PATH ...`).

use futures::io::{AsyncReadExt, AsyncWriteExt};
use futures_rustls::TlsAcceptor;
use futures_rustls::rustls::crypto::ring;
use futures_rustls::rustls::pki_types::pem::PemObject;
use futures_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use futures_rustls::rustls::{self, ServerConfig};
use goro::net::{TcpListener, TcpStream};
use goro_ecosystem::{Flags, invalid, runtime};
use std::io;
use std::sync::Arc;

const USAGE: &str = "tls_echo [--addr HOST:PORT] [--cert CERT.pem --key KEY.pem] \
                     [--write-cert PATH] [--workers N]";

fn main() -> io::Result<()> {
    let flags = Flags::from_env(USAGE)?;
    let addr = flags.get_or("addr", "127.0.0.1:7443");
    let (chain, key) = match (flags.get("cert"), flags.get("key")) {
        (Some(cert), Some(key)) => load(cert, key)?,
        (None, None) => self_signed(flags.get("write-cert"))?,
        _ => return Err(invalid(format!("--cert and --key go together ({USAGE})"))),
    };
    let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|e| invalid(format!("TLS configuration: {e}")))?;
    let acceptor = TlsAcceptor::from(Arc::new(config));
    runtime(&flags)?.block_on(async {
        let listener = TcpListener::bind(&addr).await?;
        println!("tls_echo: listening on {}", listener.local_addr()?);
        let mut incoming = listener.incoming();
        // The loop ends once the listener is closed.
        while let Some(stream) = incoming.next().await {
            let stream = stream?;
            let acceptor = acceptor.clone();
            goro::spawn(async move {
                if let Err(e) = serve(acceptor, stream).await {
                    eprintln!("tls_echo: {e}");
                }
            });
        }
        Ok(())
    })
}

/// Completes the handshake (bounded by a deadline, as a Go server sets
/// one), then echoes until the client closes.
async fn serve(acceptor: TlsAcceptor, stream: TcpStream) -> io::Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    stream.set_deadline(Some(deadline))?;
    let stream = Arc::new(stream);
    let mut tls = acceptor.accept(SharedStream(stream.clone())).await?;
    stream.set_deadline(None)?;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = tls.read(&mut buf).await?;
        if n == 0 {
            // close_notify from the client: answer with ours.
            return tls.close().await;
        }
        tls.write_all(&buf[..n]).await?;
        tls.flush().await?;
    }
}

/// An `Arc<TcpStream>` as a `futures-io` stream (goro implements the traits
/// for `&TcpStream`), so the server can still set deadlines on the socket
/// rustls owns.
struct SharedStream(Arc<TcpStream>);

impl futures::io::AsyncRead for SharedStream {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<io::Result<usize>> {
        std::pin::Pin::new(&mut &*self.0).poll_read(cx, buf)
    }
}

impl futures::io::AsyncWrite for SharedStream {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        std::pin::Pin::new(&mut &*self.0).poll_write(cx, buf)
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut &*self.0).poll_flush(cx)
    }

    fn poll_close(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut &*self.0).poll_close(cx)
    }
}

type Identity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// Reads a PEM certificate chain and private key.
fn load(cert: &str, key: &str) -> io::Result<Identity> {
    let pem_err = |what: &str, path: &str, e: rustls::pki_types::pem::Error| {
        invalid(format!("{what} {path}: {e}"))
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| pem_err("certificate", cert, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_err("certificate", cert, e))?;
    if chain.is_empty() {
        return Err(invalid(format!("no certificate in {cert}")));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| pem_err("key", key, e))?;
    Ok((chain, key))
}

/// A fresh self-signed certificate for `localhost` and `127.0.0.1`,
/// written as PEM to `write_cert` if given.
fn self_signed(write_cert: Option<&str>) -> io::Result<Identity> {
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let certified = rcgen::generate_simple_self_signed(names)
        .map_err(|e| io::Error::other(format!("generating a certificate: {e}")))?;
    if let Some(path) = write_cert {
        std::fs::write(path, certified.cert.pem())?;
    }
    let key = PrivateKeyDer::try_from(certified.signing_key.serialize_der())
        .map_err(|e| invalid(format!("generated key: {e}")))?;
    Ok((vec![certified.cert.der().clone()], key))
}
