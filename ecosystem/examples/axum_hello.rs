//! An axum app on goro: a `Router` served through hyper, no tokio runtime.
//!
//! ```text
//! cargo run --release -p goro-ecosystem --example axum_hello -- --addr 127.0.0.1:3000
//! curl http://127.0.0.1:3000/
//! curl http://127.0.0.1:3000/json
//! curl http://127.0.0.1:3000/users/42
//! curl -i http://127.0.0.1:3000/nope      # 404
//! wrk -t1 -c100 -d5s http://127.0.0.1:3000/
//! ```
//!
//! `axum::serve` is tokio-only, but a `Router` is just a tower `Service`:
//! each connection is a goro `TcpStream` handed to hyper's `serve_connection`,
//! whose service calls a clone of the router. axum is built with its default
//! features off (only `json`), so neither tokio's runtime nor `axum::serve`
//! is compiled.

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, Uri};
use axum::response::Json;
use axum::routing::get;
use goro::compat::hyper::Timer;
use goro::net::{TcpListener, TcpStream};
use goro_ecosystem::{Flags, runtime};
use serde_json::{Value, json};
use std::io;
use std::time::Duration;
use tower_service::Service;

/// The app: a text root, a JSON route, a path parameter and a 404 fallback.
fn app() -> Router {
    Router::new()
        .route("/", get(|| async { "Hello from axum on goro!\n" }))
        .route(
            "/json",
            get(|| async { Json(json!({ "message": "hello", "runtime": "goro" })) }),
        )
        .route("/users/{id}", get(user))
        .fallback(not_found)
}

async fn user(Path(id): Path<u64>) -> Json<Value> {
    Json(json!({ "id": id, "name": format!("user {id}") }))
}

async fn not_found(uri: Uri) -> (StatusCode, String) {
    (
        StatusCode::NOT_FOUND,
        format!("no route for {}\n", uri.path()),
    )
}

fn main() -> io::Result<()> {
    let flags = Flags::from_env("axum_hello [--addr HOST:PORT] [--workers N]")?;
    let addr = flags.get_or("addr", "127.0.0.1:3000");
    let app = app();
    runtime(&flags)?.block_on(async {
        let listener = TcpListener::bind(&addr).await?;
        println!(
            "axum_hello: listening on http://{}/",
            listener.local_addr()?
        );
        let mut incoming = listener.incoming();
        // The loop ends once the listener is closed.
        while let Some(stream) = incoming.next().await {
            let stream = stream?;
            goro::spawn(serve(stream, app.clone()));
        }
        Ok(())
    })
}

async fn serve(stream: TcpStream, app: Router) {
    let _ = stream.set_nodelay(true);
    // A Router is always ready, so `call` needs no `poll_ready` first.
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        app.clone().call(req)
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(Timer::new())
        .header_read_timeout(Duration::from_secs(30))
        .serve_connection(stream, service);
    let _ = conn.await;
}
