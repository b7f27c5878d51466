//! The harness every integration test shares, one module a job:
//!
//! - [`backstop`]: the "I/O parked next to a long task" scenario of
//!   two scheduler tests;
//! - [`hang`]: a watchdog that aborts a hung test binary, and `run`/`within`
//!   helpers that turn a hang into a test failure;
//! - [`rt`]: runtime builders;
//! - [`net`]: connected socket pairs (TCP, Unix, `PollFd`) and temporary
//!   directories for socket paths;
//! - [`instants`]: instants in the past and absurdly far in the future;
//! - [`margins`]: retrying a timing scenario whose setup must beat a
//!   deadline, with growing margins;
//! - [`process`]: facts about this process (open fds, CPU time) and a lock
//!   for tests that measure them one at a time;
//! - [`data`]: deterministic test data and a small random generator;
//! - [`example_process`]: running an example binary as a child process;
//! - [`sleeps`]: polling a `Sleep` once, checking it did not complete early;
//! - [`drops`]: a drop counter, and waiting until a count says so;
//! - [`wakers`]: wakers standing for an awaiter (counting its wakes, or
//!   reporting the thread that woke it).
//!
//! A test file includes it with `mod support;` and uses what it needs; each
//! test binary compiles its own copy, so the statics here (the
//! one-at-a-time lock, counters) are per binary.

#![allow(dead_code)]

pub mod backstop;
pub mod data;
pub mod drops;
pub mod example_process;
pub mod hang;
pub mod instants;
pub mod margins;
pub mod net;
pub mod process;
pub mod rt;
pub mod sleeps;
pub mod wakers;

use std::io;

/// Fails the test unless `r` is an error of `kind`.
#[track_caller]
pub fn assert_kind<T: std::fmt::Debug>(r: io::Result<T>, kind: io::ErrorKind) {
    match r {
        Err(e) if e.kind() == kind => {}
        other => panic!("expected {kind:?}, got {other:?}"),
    }
}
