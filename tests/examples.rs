//! The lean examples (`echo`, `chat`, `proxy`, `udp_echo`, `unix_echo`)
//! run as their own processes and answer real clients over loopback, the
//! way the README tells people to try them. The clients are plain blocking
//! `std` sockets: nothing of goro on the client side.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream, UdpSocket};
use std::os::unix::net::UnixStream;
use std::time::Duration;
use support::example_process::ExampleProcess;

/// Generous: the suite runs on a loaded 2-core machine.
const IO_TIMEOUT: Duration = Duration::from_secs(20);

fn tcp(addr: &str) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream
}

/// Writes 200 kB from a thread, then `finish` half-closes; reads everything
/// back until end of stream (concurrently, so neither side's buffers fill
/// up) and checks it is what was sent.
fn echo_round_trip<W: Write + Send + 'static>(
    mut reader: impl Read,
    mut writer: W,
    finish: impl FnOnce(W) + Send + 'static,
) {
    let msg: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let sent = msg.clone();
    let sender = std::thread::spawn(move || {
        writer.write_all(&sent).unwrap();
        finish(writer);
    });
    let mut back = Vec::new();
    reader.read_to_end(&mut back).unwrap();
    sender.join().unwrap();
    assert_eq!(back.len(), msg.len(), "echoed length");
    assert!(back == msg, "echoed bytes differ");
}

#[test]
fn echo_echoes_over_tcp() {
    let server = ExampleProcess::start("echo", &["--addr", "127.0.0.1:0", "--workers", "2"]);
    let mut stream = tcp(server.addr());
    stream.write_all(b"hello goro\n").unwrap();
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line).unwrap();
    assert_eq!(line, "hello goro\n");
    let stream = tcp(server.addr());
    let writer = stream.try_clone().unwrap();
    echo_round_trip(stream, writer, |w| w.shutdown(Shutdown::Write).unwrap());
}

#[test]
fn chat_relays_lines_between_clients() {
    let server = ExampleProcess::start("chat", &["--addr", "127.0.0.1:0"]);
    let alice = tcp(server.addr());
    let mut alice_lines = BufReader::new(alice.try_clone().unwrap()).lines();
    // Alice is registered (and will hear Bob join) once she is welcomed.
    let welcome = alice_lines.next().unwrap().unwrap();
    assert_eq!(
        welcome,
        format!("* welcome, you are {}", alice.local_addr().unwrap())
    );
    let mut bob = tcp(server.addr());
    let bob_addr = bob.local_addr().unwrap();
    // Alice hears Bob join, so Bob is registered before he speaks.
    let joined = alice_lines.next().unwrap().unwrap();
    assert_eq!(joined, format!("* {bob_addr} joined"));
    bob.write_all(b"hi alice\n").unwrap();
    let said = alice_lines.next().unwrap().unwrap();
    assert_eq!(said, format!("{bob_addr}: hi alice"));
    drop(bob);
    let left = alice_lines.next().unwrap().unwrap();
    assert_eq!(left, format!("* {bob_addr} left"));
}

#[test]
fn proxy_forwards_to_upstream_both_ways() {
    let echo = ExampleProcess::start("echo", &["--addr", "127.0.0.1:0"]);
    let proxy = ExampleProcess::start(
        "proxy",
        &["--listen", "127.0.0.1:0", "--upstream", echo.addr()],
    );
    assert_ne!(proxy.addr(), echo.addr());
    let stream = tcp(proxy.addr());
    let writer = stream.try_clone().unwrap();
    // End of stream crosses the proxy too: read_to_end returns.
    echo_round_trip(stream, writer, |w| w.shutdown(Shutdown::Write).unwrap());
}

#[test]
fn udp_echo_returns_each_datagram_to_its_sender() {
    let server = ExampleProcess::start("udp_echo", &["--addr", "127.0.0.1:0"]);
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    client.connect(server.addr()).unwrap();
    let mut buf = [0u8; 2048];
    for msg in [&b"one"[..], b"two", &[7u8; 1400]] {
        // UDP may drop a datagram even on loopback under load: resend a few times.
        let got = (0..20).find_map(|_| {
            client.send(msg).unwrap();
            client.recv(&mut buf).ok()
        });
        let n = got.expect("no echo after 20 tries");
        assert_eq!(&buf[..n], msg);
    }
}

#[test]
fn unix_echo_echoes_over_a_socket_path() {
    let path = std::env::temp_dir().join(format!("goro-unix-echo-{}.sock", std::process::id()));
    let path_str = path.to_str().unwrap();
    let server = ExampleProcess::start("unix_echo", &["--path", path_str]);
    assert_eq!(server.addr(), path_str);
    let stream = UnixStream::connect(&path).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let writer = stream.try_clone().unwrap();
    echo_round_trip(stream, writer, |w| w.shutdown(Shutdown::Write).unwrap());
    drop(server);
    let _ = std::fs::remove_file(&path);
}
