//! The `ws_echo` example completes the WebSocket closing handshake: a
//! client's Close frame is answered with the server's own (RFC 6455
//! §5.5.1) before the connection ends. tungstenite queues that reply when
//! it reads the Close and sends it on the next read or flush, so a server
//! that stops at the Close without flushing hangs up without it, and the
//! client sees an abnormal closure (1006) instead of a clean one.

#[path = "../../tests/support/example_process.rs"]
mod example_process;

use async_tungstenite::tungstenite::Message;
use example_process::ExampleProcess;
use futures::StreamExt;
use goro::net::TcpStream;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn ws_echo_answers_a_close_frame_with_its_own() {
    let server = ExampleProcess::start("ws_echo", &["--addr", "127.0.0.1:0"]);
    goro::block_on(goro::time::timeout(LIMIT, async {
        let tcp = TcpStream::connect(server.addr()).await.unwrap();
        let url = format!("ws://{}/", server.addr());
        let (mut ws, _) = async_tungstenite::client_async(url, tcp).await.unwrap();
        ws.send(Message::text("last words")).await.unwrap();
        assert_eq!(
            ws.next().await.unwrap().unwrap(),
            Message::text("last words")
        );
        ws.close(None).await.unwrap();
        match ws.next().await {
            Some(Ok(Message::Close(_))) => {}
            other => panic!("the server did not answer the close frame: {other:?}"),
        }
        // The handshake is complete: the stream ends cleanly.
        assert!(ws.next().await.is_none(), "more after the close handshake");
    }))
    .expect("test timed out");
}
