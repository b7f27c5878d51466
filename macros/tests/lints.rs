//! The code `#[goro::main]` and `#[goro::test]` generate passes clippy's
//! pedantic lints that the user's own function could trip only because
//! of the expansion: `cargo clippy -p goro-macros --all-targets` checks
//! this file with the lints below denied.

#![deny(clippy::unused_async)]

/// A body without `.await` is fine for an `async fn main`/test: the
/// macros make it an inner `async fn`, which must not be reported as
/// needlessly async.
#[goro::test]
async fn body_without_await() {
    assert_eq!(1 + 1, 2);
}

#[goro::test(worker_threads = 1)]
async fn body_without_await_returning_result() -> std::io::Result<()> {
    Ok(())
}
