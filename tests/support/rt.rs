//! Runtime builders for tests that need their own runtime rather than the
//! default one.

use goro::runtime::{Builder, Runtime};

/// A runtime with `n` worker threads.
pub fn workers(n: usize) -> Runtime {
    Builder::new()
        .worker_threads(n)
        .build()
        .expect("build runtime")
}

/// A runtime with one worker thread: everything lands on its one P, which
/// is what the hand-off tests need.
pub fn one_worker() -> Runtime {
    workers(1)
}
