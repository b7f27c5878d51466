//! Exponential back-off for accept loops and retried connects.
//!
//! When `accept` fails because the process ran out of descriptors or
//! memory (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`), retrying at once would
//! spin: the pending connection stays queued and, with an edge-triggered
//! poller, no new event arrives for it. [`AcceptBackoff`] waits 5 ms,
//! doubling up to 1 s (what Go's HTTP server does), and retries the syscall
//! directly; a successful accept resets the delay.
//!
//! [`AcceptBackoff::poll_next`] is the whole `incoming()` stream: it ends
//! (`None`, and `None` ever after) once the listener is closed, so an accept
//! loop that skips errors stops instead of spinning on "use of closed
//! network connection"; and once the listener's runtime has shut down,
//! after yielding "goro runtime is shut down" once, since every accept
//! would fail the same way from then on.

use super::socket;
use crate::poller::descriptor::is_shut_down_error;
use crate::time::{Sleep, sleep};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

/// The delay after `current`: `min` first, then doubling up to `max`.
pub(crate) fn next_delay(current: Duration, min: Duration, max: Duration) -> Duration {
    if current.is_zero() {
        min
    } else {
        (current * 2).min(max)
    }
}

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct AcceptBackoff {
    sleep: Option<Sleep>,
    delay: Duration,
    /// The listener was closed: the stream has ended.
    ended: bool,
}

impl AcceptBackoff {
    /// The next item of an `incoming()` stream: a connection, an error
    /// other than resource exhaustion, or `None` once the listener is
    /// closed. A closed goro socket fails with `NotConnected`, which
    /// `accept(2)` on a listening socket never returns otherwise.
    pub(crate) fn poll_next<S>(
        &mut self,
        cx: &mut Context<'_>,
        accept: impl FnMut(&mut Context<'_>) -> Poll<io::Result<S>>,
    ) -> Poll<Option<io::Result<S>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match ready!(self.poll_accept(cx, accept)) {
            Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                self.ended = true;
                self.sleep = None;
                Poll::Ready(None)
            }
            Err(e) if is_shut_down_error(&e) => {
                // Yielded once, so a loop that logs errors says why it
                // stopped; then the stream has ended.
                self.ended = true;
                self.sleep = None;
                Poll::Ready(Some(Err(e)))
            }
            r => Poll::Ready(Some(r)),
        }
    }

    /// True once [`poll_next`](Self::poll_next) has returned `None`.
    pub(crate) fn is_ended(&self) -> bool {
        self.ended
    }

    /// Polls `accept` until it succeeds or fails with an error other than
    /// resource exhaustion, sleeping between attempts on exhaustion.
    pub(crate) fn poll_accept<S>(
        &mut self,
        cx: &mut Context<'_>,
        mut accept: impl FnMut(&mut Context<'_>) -> Poll<io::Result<S>>,
    ) -> Poll<io::Result<S>> {
        loop {
            if let Some(sleep) = self.sleep.as_mut() {
                ready!(Pin::new(sleep).poll(cx));
                self.sleep = None;
            }
            match ready!(accept(cx)) {
                Ok(s) => {
                    self.delay = Duration::ZERO;
                    return Poll::Ready(Ok(s));
                }
                Err(e) if socket::is_resource_exhaustion(&e) => {
                    self.delay =
                        next_delay(self.delay, Duration::from_millis(5), Duration::from_secs(1));
                    self.sleep = Some(sleep(self.delay));
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap() {
        let (min, max) = (Duration::from_millis(5), Duration::from_secs(1));
        let mut d = Duration::ZERO;
        let mut seen = Vec::new();
        for _ in 0..10 {
            d = next_delay(d, min, max);
            seen.push(d.as_millis());
        }
        assert_eq!(seen, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
    }
}
