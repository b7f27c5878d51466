//! The out-of-process echo load generator: one thread, one epoll instance,
//! `conns` non-blocking connections playing ping-pong (send `size` bytes,
//! wait for the whole echo, send again), so every connection has exactly
//! one message in flight and a slow reply is a late reply.
//!
//! After `warmup` it reads the server's CPU time and starts counting: the
//! latency of every message completed in the `measure` window goes into a
//! [`Histogram`], each connection's completed messages into a service
//! count (fairness: a connection the server neglects completes fewer), and
//! `epoll_wait` calls and events into a batching figure. Every loop is
//! bounded by the window's end; a connection the server closes or breaks
//! ends the run with an error.

use crate::histogram::Histogram;
use crate::sys::process_cpu_ns;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// What to run.
#[derive(Clone, Debug)]
pub struct Load {
    /// Server address (loopback).
    pub addr: SocketAddr,
    /// Connections, each with one message in flight.
    pub conns: usize,
    /// Message size in bytes.
    pub size: usize,
    /// Time before measuring starts.
    pub warmup: Duration,
    /// Measured window.
    pub measure: Duration,
    /// Server process whose CPU time is read at both ends of the window.
    pub server_pid: Option<u32>,
}

/// What the measured window saw.
pub struct Report {
    /// Latency of every message completed in the window.
    pub latency: Histogram,
    /// Length of the window actually measured.
    pub elapsed: Duration,
    /// Server CPU nanoseconds in the window (0 without a pid).
    pub server_cpu_ns: u64,
    /// Messages each connection completed in the window.
    pub per_conn: Vec<u64>,
    /// `epoll_wait` calls and events returned in the window.
    pub waits: u64,
    /// Events returned by those calls.
    pub events: u64,
}

impl Report {
    /// One `key=value` line, the format the driver parses.
    pub fn line(&self) -> String {
        let n = self.latency.len();
        let secs = self.elapsed.as_secs_f64();
        let us = |q: f64| self.latency.quantile(q) as f64 / 1e3;
        let mut served = self.per_conn.clone();
        served.sort_unstable();
        let pick = |q: f64| served[((served.len() - 1) as f64 * q) as usize];
        format!(
            "msgs={n} msgs_per_sec={:.0} p50_us={:.1} p99_us={:.1} p999_us={:.1} max_us={:.1} \
             cpu_us_per_msg={:.3} events_per_wait={:.2} conn_msgs_min={} conn_msgs_p1={} \
             conn_msgs_median={} conn_msgs_max={}",
            n as f64 / secs,
            us(0.5),
            us(0.99),
            us(0.999),
            self.latency.max() as f64 / 1e3,
            self.server_cpu_ns as f64 / 1e3 / n.max(1) as f64,
            self.events as f64 / self.waits.max(1) as f64,
            pick(0.0),
            pick(0.01),
            pick(0.5),
            pick(1.0),
        )
    }
}

struct Conn {
    stream: TcpStream,
    /// Bytes of the current message written so far.
    written: usize,
    /// Bytes of its echo read so far.
    read: usize,
    sent_at: Instant,
    served: u64,
}

fn epoll_ctl(ep: i32, op: i32, fd: i32, events: u32, token: usize) -> io::Result<()> {
    let mut ev = libc::epoll_event {
        events,
        u64: token as u64,
    };
    // SAFETY: `ev` is a valid epoll_event for the duration of the call.
    if unsafe { libc::epoll_ctl(ep, op, fd, &mut ev) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Owned epoll descriptor.
struct Epoll(i32);

impl Drop for Epoll {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor and close it once.
        unsafe { libc::close(self.0) };
    }
}

/// Writes what is left of the current message; `Ok(false)` when the socket
/// buffer filled first (the caller then waits for `EPOLLOUT`).
fn push(c: &mut Conn, msg: &[u8]) -> io::Result<bool> {
    while c.written < msg.len() {
        match c.stream.write(&msg[c.written..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => c.written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Runs the load and returns what the measured window saw.
pub fn run(load: &Load) -> io::Result<Report> {
    let msg = vec![0x5au8; load.size];
    let mut buf = vec![0u8; load.size.max(16 * 1024)];
    // SAFETY: plain syscall; the result is checked.
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if ep < 0 {
        return Err(io::Error::last_os_error());
    }
    let ep = Epoll(ep);
    let mut conns = Vec::with_capacity(load.conns);
    for i in 0..load.conns {
        let stream = TcpStream::connect(load.addr)?;
        stream.set_nodelay(true)?;
        stream.set_nonblocking(true)?;
        epoll_ctl(
            ep.0,
            libc::EPOLL_CTL_ADD,
            stream.as_raw_fd(),
            libc::EPOLLIN as u32,
            i,
        )?;
        conns.push(Conn {
            stream,
            written: 0,
            read: 0,
            sent_at: Instant::now(),
            served: 0,
        });
    }
    let start = Instant::now();
    for (i, c) in conns.iter_mut().enumerate() {
        c.sent_at = Instant::now();
        if !push(c, &msg)? {
            let fd = c.stream.as_raw_fd();
            let ev = (libc::EPOLLIN | libc::EPOLLOUT) as u32;
            epoll_ctl(ep.0, libc::EPOLL_CTL_MOD, fd, ev, i)?;
        }
    }
    let measure_from = start + load.warmup;
    let end = measure_from + load.measure;
    let cpu = || load.server_pid.map_or(Ok(0), process_cpu_ns);
    let mut measuring = false;
    let mut cpu_start = 0;
    let mut latency = Histogram::default();
    let (mut waits, mut events_seen) = (0u64, 0u64);
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
    loop {
        let now = Instant::now();
        if !measuring && now >= measure_from {
            measuring = true;
            cpu_start = cpu()?;
            for c in &mut conns {
                c.served = 0;
            }
        }
        if now >= end {
            break;
        }
        let wait_until = if measuring { end } else { measure_from };
        let timeout_ms = wait_until
            .saturating_duration_since(now)
            .as_millis()
            .clamp(1, 100) as i32;
        // SAFETY: `events` has room for `len` entries and outlives the call.
        let n =
            unsafe { libc::epoll_wait(ep.0, events.as_mut_ptr(), events.len() as i32, timeout_ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if measuring {
            waits += 1;
            events_seen += n as u64;
        }
        for ev in &events[..n as usize] {
            let i = ev.u64 as usize;
            let flags = ev.events;
            let c = &mut conns[i];
            if flags & libc::EPOLLOUT as u32 != 0 && c.written < msg.len() && push(c, &msg)? {
                let ev = libc::EPOLLIN as u32;
                epoll_ctl(ep.0, libc::EPOLL_CTL_MOD, c.stream.as_raw_fd(), ev, i)?;
            }
            if flags & (libc::EPOLLIN | libc::EPOLLHUP | libc::EPOLLERR) as u32 == 0 {
                continue;
            }
            // Level-triggered: read what is there now; a partial echo comes
            // back as another event.
            match c.stream.read(&mut buf) {
                Ok(0) => return Err(io::Error::other(format!("server closed connection {i}"))),
                Ok(got) => c.read += got,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            if c.read > msg.len() {
                return Err(io::Error::other("server echoed more than was sent"));
            }
            if c.read == msg.len() && c.written == msg.len() {
                let done = Instant::now();
                if measuring {
                    latency.record(done.duration_since(c.sent_at).as_nanos() as u64);
                    c.served += 1;
                }
                c.read = 0;
                c.written = 0;
                c.sent_at = done;
                if !push(c, &msg)? {
                    let ev = (libc::EPOLLIN | libc::EPOLLOUT) as u32;
                    epoll_ctl(ep.0, libc::EPOLL_CTL_MOD, c.stream.as_raw_fd(), ev, i)?;
                }
            }
        }
    }
    let server_cpu_ns = cpu()?.saturating_sub(cpu_start);
    Ok(Report {
        latency,
        elapsed: load.measure,
        server_cpu_ns,
        per_conn: conns.iter().map(|c| c.served).collect(),
        waits,
        events: events_seen,
    })
}
