//! Runs an example binary of the package under test as a child process and
//! finds the address it listens on.
//!
//! Every example prints `NAME: listening on ADDR` (ADDR may be a URL or a
//! socket path) as its first line once its socket is bound, so tests pass
//! port 0 and read the real address back: no port races. The child is
//! killed when the [`ExampleProcess`] is dropped, including when a test
//! panics. `cargo test` builds the package's examples next to the test
//! binary (`target/<profile>/examples/`); when one is missing or older than
//! its source (`cargo test --test NAME` builds no example) it is built with
//! the same cargo, profile and package features.

// Also included by path from the ecosystem package's tests, which use
// only part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::Duration;

/// How long an example may take to print its address.
const STARTUP: Duration = Duration::from_secs(60);

/// A running example, killed on drop.
pub struct ExampleProcess {
    child: Child,
    addr: String,
}

impl ExampleProcess {
    /// Starts example `name` with `args` and waits for its address.
    pub fn start(name: &str, args: &[&str]) -> ExampleProcess {
        let mut child = Command::new(example_path(name))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start example {name}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(first)) = lines.next() {
                let _ = tx.send(first);
            }
            // Keep draining so the child never blocks on a full pipe.
            for _ in lines {}
        });
        let mut process = ExampleProcess {
            child,
            addr: String::new(),
        };
        let line = rx
            .recv_timeout(STARTUP)
            .unwrap_or_else(|_| panic!("example {name} printed no address within {STARTUP:?}"));
        process.addr = listening_addr(name, &line).unwrap_or_else(|| {
            panic!("example {name} printed {line:?}, not `{name}: listening on ADDR`")
        });
        process
    }

    /// The address (`host:port` or a socket path) the example listens on.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Sends signal `signo` to the example.
    pub fn signal(&self, signo: i32) {
        // SAFETY: kill(2) of our own child, which is not reaped before
        // `wait` or drop, so its pid cannot have been reused.
        let r = unsafe { libc::kill(self.child.id() as libc::pid_t, signo) };
        assert_eq!(r, 0, "kill: {}", std::io::Error::last_os_error());
    }

    /// Waits for the example to exit, at most `limit`; panics if it is
    /// still running then.
    pub fn wait(&mut self, limit: Duration) -> std::process::ExitStatus {
        let end = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                std::time::Instant::now() < end,
                "example still running after {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for ExampleProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs example `name` with `args` to completion (a client example).
pub fn run_example(name: &str, args: &[&str]) -> Output {
    Command::new(example_path(name))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run example {name}: {e}"))
}

/// The address in `NAME: listening on ADDR[ ...]` (what the README says
/// every example prints), URL scheme and trailing slash removed.
fn listening_addr(name: &str, line: &str) -> Option<String> {
    let rest = line.strip_prefix(name)?.strip_prefix(": listening on ")?;
    let token = rest.split_whitespace().next()?;
    let token = token
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_start_matches("ws://")
        .trim_end_matches('/');
    Some(token.to_owned())
}

/// `target/<profile>/examples/NAME`, (re)built first if it is missing or
/// older than its source (`cargo test --test NAME` builds no example, so an
/// example edited since the last full build would be stale; a full
/// `cargo test` has just built them all, so it never builds here).
fn example_path(name: &str) -> PathBuf {
    static BUILD: Mutex<()> = Mutex::new(());
    // The test binary is target/<profile>/deps/TEST-HASH.
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test binary in target/<profile>/deps");
    let path = profile_dir.join("examples").join(name);
    let _guard = BUILD.lock().unwrap_or_else(|p| p.into_inner());
    let modified = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(format!("{name}.rs"));
    if modified(&path) < modified(&source) {
        let mut cargo = Command::new(env!("CARGO"));
        cargo.args([
            "build",
            "--quiet",
            "-p",
            env!("CARGO_PKG_NAME"),
            "--example",
            name,
        ]);
        // The package features this test was built with, so the example
        // links the same library build (no rebuild of the crate). Packages
        // without these features (goro-ecosystem) see them off.
        #[allow(unexpected_cfgs)]
        let features: Vec<&str> = [
            ("hyper", cfg!(feature = "hyper")),
            ("tokio-io", cfg!(feature = "tokio-io")),
        ]
        .into_iter()
        .filter_map(|(f, on)| on.then_some(f))
        .collect();
        if !features.is_empty() {
            cargo.args(["--features", &features.join(",")]);
        }
        if profile_dir.file_name().is_some_and(|p| p == "release") {
            cargo.arg("--release");
        }
        let status = cargo.status().expect("run cargo to build the example");
        assert!(status.success(), "building example {name} failed");
    }
    path
}
