//! The ecosystem examples run as their own processes and answer real
//! clients over loopback: `http` and `axum_hello` (hyper's client on goro),
//! `http_client` (against the `http` example), `tls_echo` (a rustls client
//! trusting a certificate made at test time with rcgen), `ws_echo` (an
//! async-tungstenite client) and `axum_graceful` (sent SIGTERM or SIGINT
//! with a request in flight and an idle connection open).

#[path = "../../tests/support/example_process.rs"]
mod example_process;

use bytes::Bytes;
use example_process::{ExampleProcess, run_example};
use futures::StreamExt;
use futures::io::{AsyncReadExt, AsyncWriteExt};
use futures_rustls::TlsConnector;
use futures_rustls::rustls::crypto::ring;
use futures_rustls::rustls::pki_types::ServerName;
use futures_rustls::rustls::{ClientConfig, RootCertStore};
use goro::compat::hyper::{Connector, Executor, Timer};
use goro::net::TcpStream;
use http_body_util::{BodyExt, Empty};
use hyper::StatusCode;
use hyper_util::client::legacy::Client;
use std::sync::Arc;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn run<T>(fut: impl Future<Output = T>) -> T {
    goro::block_on(goro::time::timeout(LIMIT, fut)).expect("test timed out")
}

fn client() -> Client<Connector, Empty<Bytes>> {
    Client::builder(Executor::new())
        .timer(Timer::new())
        .build(Connector::new().connect_timeout(Some(Duration::from_secs(10))))
}

/// GETs `url`: status, content type and body.
async fn get(client: &Client<Connector, Empty<Bytes>>, url: &str) -> (StatusCode, String, String) {
    let resp = client.get(url.parse().unwrap()).await.unwrap();
    let status = resp.status();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        content_type,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

#[test]
fn http_example_answers_hyper_client() {
    let server = ExampleProcess::start("http", &["--addr", "127.0.0.1:0", "--workers", "2"]);
    run(async {
        let client = client();
        for path in ["/", "/some/path"] {
            let (status, _, body) = get(&client, &format!("http://{}{path}", server.addr())).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(body, format!("Hello from goro! You asked for {path}\n"));
        }
    });
}

#[test]
fn http_client_example_fetches_from_http_example() {
    let server = ExampleProcess::start("http", &["--addr", "127.0.0.1:0"]);
    let url = format!("http://{}/from-client", server.addr());
    let out = run_example("http_client", &[&url]);
    assert!(out.status.success(), "http_client failed: {out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Hello from goro! You asked for /from-client\n"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("200 OK"));

    // Nobody listening: a clear error and a failure exit, promptly.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/", closed.local_addr().unwrap());
    drop(closed);
    let out = run_example("http_client", &[&dead]);
    assert!(!out.status.success());
    assert!(!out.stderr.is_empty(), "says why it failed");
}

#[test]
fn axum_hello_serves_routes_json_params_and_404() {
    let server = ExampleProcess::start("axum_hello", &["--addr", "127.0.0.1:0"]);
    let base = format!("http://{}", server.addr());
    run(async {
        let client = client();
        let (status, _, body) = get(&client, &format!("{base}/")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "Hello from axum on goro!\n");

        let (status, ctype, body) = get(&client, &format!("{base}/json")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(ctype, "application/json");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({ "message": "hello", "runtime": "goro" })
        );

        let (status, _, body) = get(&client, &format!("{base}/users/42")).await;
        assert_eq!(status, StatusCode::OK);
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json, serde_json::json!({ "id": 42, "name": "user 42" }));

        // A path parameter that does not parse is axum's 400, not a crash.
        let (status, _, _) = get(&client, &format!("{base}/users/abc")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);

        let (status, _, body) = get(&client, &format!("{base}/nope")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body, "no route for /nope\n");
    });
}

#[test]
fn tls_echo_answers_a_rustls_client() {
    // A certificate made now, for this run only.
    let dir = std::env::temp_dir().join(format!("goro-tls-echo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    std::fs::write(&cert_path, certified.cert.pem()).unwrap();
    std::fs::write(&key_path, certified.signing_key.serialize_pem()).unwrap();

    let server = ExampleProcess::start(
        "tls_echo",
        &[
            "--addr",
            "127.0.0.1:0",
            "--cert",
            cert_path.to_str().unwrap(),
            "--key",
            key_path.to_str().unwrap(),
        ],
    );
    let mut roots = RootCertStore::empty();
    roots.add(certified.cert.der().clone()).unwrap();
    let config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = TlsConnector::from(Arc::new(config));
    run(async {
        let tcp = TcpStream::connect(server.addr()).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let mut tls = connector.connect(name, tcp).await.unwrap();
        let msg: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
        tls.write_all(&msg).await.unwrap();
        tls.flush().await.unwrap();
        let mut back = vec![0u8; msg.len()];
        tls.read_exact(&mut back).await.unwrap();
        assert!(back == msg, "echoed bytes differ");
        // close_notify both ways: the server answers ours and then EOF.
        tls.close().await.unwrap();
        let mut rest = Vec::new();
        tls.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
    });
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ws_echo_echoes_text_and_binary_messages() {
    use async_tungstenite::tungstenite::Message;
    let server = ExampleProcess::start("ws_echo", &["--addr", "127.0.0.1:0"]);
    run(async {
        let tcp = TcpStream::connect(server.addr()).await.unwrap();
        let url = format!("ws://{}/", server.addr());
        let (mut ws, response) = async_tungstenite::client_async(url, tcp).await.unwrap();
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        let big = vec![0xA5u8; 200_000];
        let sent = [
            Message::text("hello over websocket"),
            Message::binary(vec![0u8, 1, 2, 255]),
            Message::binary(big),
        ];
        for msg in sent {
            ws.send(msg.clone()).await.unwrap();
            assert_eq!(ws.next().await.unwrap().unwrap(), msg);
        }
        ws.close(None).await.unwrap();
        // The server acknowledges the close; the stream then ends.
        while let Some(msg) = ws.next().await {
            match msg {
                Ok(Message::Close(_)) => {}
                Ok(other) => panic!("unexpected {other:?}"),
                Err(_) => break,
            }
        }
    });
}

/// One HTTP/1.1 connection made with hyper's low-level client: a sender
/// and the task driving the connection, which ends when the server
/// closes it.
async fn http1_connection(
    addr: &str,
) -> (
    hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
    goro::JoinHandle<hyper::Result<()>>,
) {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(tcp).await.unwrap();
    (sender, goro::spawn(conn))
}

fn get_request(path: &str) -> hyper::Request<Empty<Bytes>> {
    hyper::Request::get(path)
        .header("host", "localhost")
        .body(Empty::new())
        .unwrap()
}

/// The next data frame of a response body, as text ("" at its end).
async fn next_chunk(body: &mut hyper::body::Incoming) -> String {
    match body.frame().await {
        Some(frame) => {
            let data = frame.unwrap().into_data().expect("a data frame");
            String::from_utf8(data.to_vec()).unwrap()
        }
        None => String::new(),
    }
}

fn axum_graceful_finishes_the_request_in_flight_and_exits_0(signo: i32) {
    let mut server = ExampleProcess::start("axum_graceful", &["--addr", "127.0.0.1:0"]);
    let addr = server.addr().to_owned();
    run(async {
        // An idle keep-alive connection, after one request.
        let (mut idle, idle_conn) = http1_connection(&addr).await;
        let resp = idle.send_request(get_request("/")).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"Hello from axum on goro!\n");

        // A request in flight: its first chunk has arrived, so the server
        // is inside the handler when the signal comes.
        let (mut busy, _busy_conn) = http1_connection(&addr).await;
        let resp = busy.send_request(get_request("/slow/1500")).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let mut body = resp.into_body();
        assert_eq!(next_chunk(&mut body).await, "working\n");

        server.signal(signo);

        // The idle connection is closed by the server, well before the
        // slow request ends...
        goro::time::timeout(Duration::from_secs(5), idle_conn)
            .await
            .expect("the idle connection was not closed")
            .unwrap()
            .unwrap();
        // ...new connections are refused...
        let refused = async {
            while TcpStream::connect(addr.as_str()).await.is_ok() {
                goro::time::sleep(Duration::from_millis(20)).await;
            }
        };
        goro::time::timeout(Duration::from_secs(5), refused)
            .await
            .expect("still accepting after the signal");
        // ...and the request in flight completes.
        assert_eq!(next_chunk(&mut body).await, "done\n");
        assert_eq!(next_chunk(&mut body).await, "");
    });
    let status = server.wait(Duration::from_secs(10));
    assert!(status.success(), "axum_graceful exited with {status}");
}

#[test]
fn axum_graceful_on_sigterm_finishes_the_request_in_flight_and_exits_0() {
    axum_graceful_finishes_the_request_in_flight_and_exits_0(libc::SIGTERM);
}

#[test]
fn axum_graceful_on_sigint_does_the_same() {
    axum_graceful_finishes_the_request_in_flight_and_exits_0(libc::SIGINT);
}
