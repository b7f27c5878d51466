//! A line-based chat server: every line a client sends goes to every other
//! client.
//!
//! ```text
//! cargo run --release --example chat -- --addr 127.0.0.1:7001
//! nc 127.0.0.1 7001      # in two or more terminals
//! ```
//!
//! One task per connection reads lines; each connection also has an outbox
//! (an `async-channel`) drained by a writer task, so a slow client never
//! blocks the others. Idle clients are dropped after five minutes via a read
//! deadline, as a Go server would do.

use futures::io::{AsyncBufReadExt, BufReader};
use goro::net::{TcpListener, TcpStream};
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Peers = Arc<Mutex<HashMap<SocketAddr, async_channel::Sender<Arc<str>>>>>;

const IDLE: Duration = Duration::from_secs(300);

fn main() -> io::Result<()> {
    let mut addr = String::from("127.0.0.1:7001");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => {
                addr = args.next().ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidInput, "--addr needs a value")
                })?
            }
            _ => {
                println!("usage: chat [--addr HOST:PORT]");
                return Ok(());
            }
        }
    }
    goro::block_on(async {
        let listener = TcpListener::bind(&addr).await?;
        println!("chat: listening on {}", listener.local_addr()?);
        let peers: Peers = Arc::default();
        let mut incoming = listener.incoming();
        // The loop ends once the listener is closed.
        while let Some(stream) = incoming.next().await {
            let stream = stream?;
            goro::spawn(client(stream, peers.clone()));
        }
        Ok(())
    })
}

async fn client(stream: TcpStream, peers: Peers) {
    let Ok(me) = stream.peer_addr() else { return };
    let stream = Arc::new(stream);
    let (tx, rx) = async_channel::bounded::<Arc<str>>(64);
    // Greet the newcomer once it is registered: from then on it hears
    // everyone else.
    let _ = tx.try_send(format!("* welcome, you are {me}\n").into());
    peers.lock().unwrap().insert(me, tx);
    broadcast(&peers, me, format!("* {me} joined\n").into());

    let out = stream.clone();
    let writer = goro::spawn(async move {
        while let Ok(line) = rx.recv().await {
            if out.write_all(line.as_bytes()).await.is_err() {
                break;
            }
        }
    });

    let mut lines = BufReader::new(&*stream).lines();
    loop {
        if stream
            .set_read_deadline(Some(Instant::now() + IDLE))
            .is_err()
        {
            break;
        }
        match futures::StreamExt::next(&mut lines).await {
            Some(Ok(line)) => broadcast(&peers, me, format!("{me}: {line}\n").into()),
            _ => break, // EOF, error, or idle deadline
        }
    }
    peers.lock().unwrap().remove(&me);
    writer.abort();
    broadcast(&peers, me, format!("* {me} left\n").into());
}

/// Queues `line` for every client but `from`; a client whose outbox is full
/// misses the line rather than slowing everyone down.
fn broadcast(peers: &Peers, from: SocketAddr, line: Arc<str>) {
    for (addr, tx) in peers.lock().unwrap().iter() {
        if *addr != from {
            let _ = tx.try_send(line.clone());
        }
    }
}
