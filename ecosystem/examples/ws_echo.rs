//! A WebSocket echo server: async-tungstenite over goro `TcpStream`s.
//!
//! ```text
//! cargo run --release -p goro-ecosystem --example ws_echo -- --addr 127.0.0.1:9001
//! websocat ws://127.0.0.1:9001/        # or any WebSocket client
//! ```
//!
//! async-tungstenite speaks `futures-io`, which goro's streams implement, so
//! the upgrade handshake and the frames run straight on a goro socket. Text
//! and binary messages come back as they went; pings are answered by
//! tungstenite itself; a close frame is answered with one (the closing
//! handshake), then the server hangs up.

use async_tungstenite::tungstenite::Message;
use futures::StreamExt;
use goro::net::{TcpListener, TcpStream};
use goro_ecosystem::{Flags, runtime};
use std::io;

fn main() -> io::Result<()> {
    let flags = Flags::from_env("ws_echo [--addr HOST:PORT] [--workers N]")?;
    let addr = flags.get_or("addr", "127.0.0.1:9001");
    runtime(&flags)?.block_on(async {
        let listener = TcpListener::bind(&addr).await?;
        println!("ws_echo: listening on ws://{}/", listener.local_addr()?);
        let mut incoming = listener.incoming();
        // The loop ends once the listener is closed.
        while let Some(stream) = incoming.next().await {
            let stream = stream?;
            goro::spawn(async move {
                if let Err(e) = serve(stream).await {
                    eprintln!("ws_echo: {e}");
                }
            });
        }
        Ok(())
    })
}

async fn serve(stream: TcpStream) -> Result<(), async_tungstenite::tungstenite::Error> {
    let _ = stream.set_nodelay(true);
    let mut ws = async_tungstenite::accept_async(stream).await?;
    while let Some(msg) = ws.next().await {
        match msg? {
            msg @ (Message::Text(_) | Message::Binary(_)) => ws.send(msg).await?,
            // Pings are answered by tungstenite.
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
            // tungstenite has queued the answering Close frame, which goes
            // out on the next read or flush: flush it (completing the
            // closing handshake), then hang up.
            Message::Close(_) => {
                futures::SinkExt::flush(&mut ws).await?;
                break;
            }
        }
    }
    Ok(())
}
