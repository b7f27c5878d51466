//! `#[goro::test]` (and, through a test binary's helper, `#[goro::main]`'s
//! expansion) run their bodies on a goro runtime. Compile errors for misuse
//! are checked with trybuild in `macros/tests/ui.rs`.

#![cfg(feature = "macros")]

use std::time::Duration;

#[goro::test]
async fn runs_on_a_goro_runtime() {
    // Inside the body, this runtime is current.
    assert!(goro::runtime::Handle::try_current().is_some());
    let h = goro::spawn(async { 2 + 2 });
    assert_eq!(h.await.unwrap(), 4);
    goro::time::sleep(Duration::from_millis(1)).await;
}

#[goro::test(worker_threads = 3)]
async fn worker_threads_are_applied() {
    let handle = goro::runtime::Handle::current();
    let workers = handle.metrics().workers.len();
    assert_eq!(workers, 3);
}

#[goro::test]
async fn may_return_a_result() -> std::io::Result<()> {
    let listener = goro::net::TcpListener::bind("127.0.0.1:0").await?;
    let _c = goro::net::TcpStream::connect(listener.local_addr()?).await?;
    listener.accept().await?;
    Ok(())
}

#[goro::test]
#[should_panic(expected = "inside the body")]
async fn panics_fail_the_test() {
    panic!("inside the body");
}

#[goro::test]
async fn early_return_and_question_mark_keep_the_type() -> Result<(), String> {
    let v: u8 = "7".parse().map_err(|e| format!("{e}"))?;
    if goro::spawn(async move { v == 7 }).await.unwrap() {
        return Ok(());
    }
    Err("unreachable".into())
}

mod main_expansion {
    // `#[goro::main]` works on any function name, so it can be called here.
    #[goro::main(worker_threads = 2)]
    async fn main() -> u32 {
        goro::spawn(async { 7 }).await.unwrap()
    }

    #[test]
    fn main_builds_a_runtime_and_returns_the_body_output() {
        assert_eq!(main(), 7);
    }
}
