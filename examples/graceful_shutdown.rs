//! A line-based server that shuts down gracefully on SIGINT or SIGTERM —
//! what `http.Server.Shutdown` does in Go, with plain goro.
//!
//! ```text
//! cargo run --release --example graceful_shutdown -- --addr 127.0.0.1:7070
//! nc 127.0.0.1 7070
//! echo hello        -> hello
//! sleep 3000        -> sleeping 3000 ms (at once), slept 3000 ms (3 s later)
//! ```
//!
//! On SIGINT (Ctrl-C) or SIGTERM it:
//! 1. stops accepting: the listener is closed, so new connections are
//!    refused;
//! 2. closes idle connections (those waiting for their next request) by
//!    setting a read deadline in the past, which wakes their pending read;
//! 3. lets connections in the middle of a request finish it and send the
//!    response, then closes them (a request is one complete line);
//! 4. waits for that up to 5 s, then exits with status 0, dropping
//!    whatever is still running.

use goro::net::{TcpListener, TcpStream};
use goro::runtime::Runtime;
use goro::signal::{Signal, SignalKind, signal};
use std::collections::HashMap;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

/// How long open connections get to finish their request after a signal.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);
/// Longest request line accepted.
const MAX_LINE: usize = 64 * 1024;

fn main() {
    let addr = match parse_args() {
        Ok(addr) => addr,
        Err(msg) => {
            eprintln!("{msg}\nusage: graceful_shutdown [--addr HOST:PORT]");
            std::process::exit(2);
        }
    };
    let rt = Runtime::new().unwrap_or_else(|e| fail("cannot start the runtime", e));
    if let Err(e) = rt.block_on(serve(addr)) {
        fail("server error", e);
    }
    // Whatever outlived DRAIN_LIMIT is dropped here; do not wait for it.
    rt.shutdown_timeout(Duration::from_millis(100));
}

fn fail(what: &str, e: io::Error) -> ! {
    eprintln!("graceful_shutdown: {what}: {e}");
    std::process::exit(1);
}

fn parse_args() -> Result<SocketAddr, String> {
    let mut addr = "127.0.0.1:7070".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = args.next().ok_or("--addr needs a value")?,
            a if a.starts_with("--addr=") => addr = a["--addr=".len()..].to_string(),
            "-h" | "--help" => return Err("a line-based server with graceful shutdown".into()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    addr.parse()
        .map_err(|e| format!("--addr {addr:?} is not HOST:PORT: {e}"))
}

async fn serve(addr: SocketAddr) -> io::Result<()> {
    // Listen for the signals first, so one that arrives during start-up is
    // not lost (and no longer kills the process).
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let listener = Arc::new(TcpListener::bind(addr).await?);
    println!("graceful_shutdown: listening on {}", listener.local_addr()?);
    let conns = Arc::new(Connections::default());
    let acceptor = goro::spawn(accept_loop(listener.clone(), conns.clone()));

    let which = first_of(&mut term, &mut int).await;
    eprintln!("{which} received: shutting down");

    // 1. Stop accepting; the accept loop ends and hands back its tasks.
    listener.close()?;
    let tasks = acceptor
        .await
        .map_err(|e| io::Error::other(e.to_string()))?;
    // 2. and 3. Idle connections end now, busy ones after their request.
    conns.shut_down();
    // 4. Wait for them, up to DRAIN_LIMIT.
    let start = Instant::now();
    let all_done = async {
        for task in tasks {
            let _ = task.await;
        }
    };
    match goro::time::timeout(DRAIN_LIMIT, all_done).await {
        Ok(()) => eprintln!("all connections finished in {:?}", start.elapsed()),
        Err(_) => eprintln!(
            "{} connection(s) still busy after {DRAIN_LIMIT:?}: dropping them",
            conns.len()
        ),
    }
    Ok(())
}

/// Waits for whichever signal comes first; returns its name.
async fn first_of(term: &mut Signal, int: &mut Signal) -> &'static str {
    poll_fn(|cx| {
        if term.poll_recv(cx).is_ready() {
            Poll::Ready("SIGTERM")
        } else if int.poll_recv(cx).is_ready() {
            Poll::Ready("SIGINT")
        } else {
            Poll::Pending
        }
    })
    .await
}

/// Accepts until the listener is closed; returns the connection tasks.
async fn accept_loop(
    listener: Arc<TcpListener>,
    conns: Arc<Connections>,
) -> Vec<goro::JoinHandle<()>> {
    let mut tasks: Vec<goro::JoinHandle<()>> = Vec::new();
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tasks.retain(|t| !t.is_finished());
                tasks.push(goro::spawn(handle(Arc::new(stream), conns.clone())));
            }
            // `close()` wakes a pending accept with NotConnected.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => return tasks,
            Err(e) => {
                // EMFILE and the like: back off and keep serving.
                eprintln!("accept: {e}");
                goro::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// The open connections, so shutdown can reach the idle ones.
#[derive(Default)]
struct Connections {
    next_id: AtomicU64,
    state: Mutex<ConnState>,
}

#[derive(Default)]
struct ConnState {
    shutting_down: bool,
    open: HashMap<u64, Arc<TcpStream>>,
}

impl Connections {
    fn lock(&self) -> std::sync::MutexGuard<'_, ConnState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tracks `stream`; returns its id.
    fn add(&self, stream: &Arc<TcpStream>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut st = self.lock();
        if st.shutting_down {
            // Accepted just before the listener closed: end it like an
            // idle connection.
            let _ = stream.set_read_deadline(Some(Instant::now()));
        }
        st.open.insert(id, stream.clone());
        id
    }

    fn remove(&self, id: u64) {
        self.lock().open.remove(&id);
    }

    fn len(&self) -> usize {
        self.lock().open.len()
    }

    fn is_shutting_down(&self) -> bool {
        self.lock().shutting_down
    }

    /// Makes every pending and future read fail at once (Go's deadline
    /// semantics), which ends idle connections; busy ones notice the flag
    /// after their response.
    fn shut_down(&self) {
        let mut st = self.lock();
        st.shutting_down = true;
        let now = Instant::now();
        for stream in st.open.values() {
            let _ = stream.set_read_deadline(Some(now));
        }
    }
}

/// Serves one connection: one request per line, one response line each.
async fn handle(stream: Arc<TcpStream>, conns: Arc<Connections>) {
    let id = conns.add(&stream);
    let mut buf = Vec::new();
    loop {
        let line = match read_line(&stream, &mut buf).await {
            Ok(Some(line)) => line,
            // EOF, a read error, or the shutdown deadline while idle.
            Ok(None) | Err(_) => break,
        };
        let Ok(response) = respond(&line, &stream).await else {
            break;
        };
        if stream.write_all(response.as_bytes()).await.is_err() {
            break;
        }
        if conns.is_shutting_down() {
            break; // the current request is done: do not read another
        }
    }
    conns.remove(id);
    // Dropping the last reference closes the connection.
}

/// Reads one line (without its `\n`), keeping what follows it in `buf`.
/// `Ok(None)` at end of stream.
async fn read_line(stream: &TcpStream, buf: &mut Vec<u8>) -> io::Result<Option<String>> {
    loop {
        if let Some(end) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=end).collect();
            let text = String::from_utf8_lossy(&line[..end]);
            return Ok(Some(text.trim_end_matches('\r').to_string()));
        }
        if buf.len() > MAX_LINE {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// `echo TEXT` → `TEXT`; `sleep MS` → `sleeping MS ms` at once (so a
/// client can tell the request is in flight), then `slept MS ms` after MS
/// milliseconds.
async fn respond(line: &str, stream: &TcpStream) -> io::Result<String> {
    let (cmd, arg) = line.split_once(' ').unwrap_or((line, ""));
    Ok(match cmd {
        "echo" => format!("{arg}\n"),
        "sleep" => match arg.trim().parse::<u64>() {
            Ok(ms) => {
                stream
                    .write_all(format!("sleeping {ms} ms\n").as_bytes())
                    .await?;
                goro::time::sleep(Duration::from_millis(ms)).await;
                format!("slept {ms} ms\n")
            }
            Err(_) => format!("error: sleep needs milliseconds, got {arg:?}\n"),
        },
        _ => format!("error: unknown command {cmd:?} (try: echo TEXT, sleep MS)\n"),
    })
}
