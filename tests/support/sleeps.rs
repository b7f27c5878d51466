//! Helpers for tests of `Sleep`: poll one once, and check a completion
//! against its deadline.

use goro::time::Sleep;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Instant;

/// Polls `s` once (arming its timer) and says whether it completed.
pub async fn poll_once(s: &mut Sleep) -> bool {
    std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *s).poll(cx).is_ready())).await
}

/// Fails if `what`, which completed now, was due at `deadline` and
/// completed before it.
#[track_caller]
pub fn assert_not_early(deadline: Instant, what: &str) {
    let now = Instant::now();
    assert!(
        now >= deadline,
        "{what} completed {:?} before its deadline",
        deadline - now
    );
}
