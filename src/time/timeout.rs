//! [`timeout`]: bound how long a future may take.

use super::clock;
use super::sleep::{Sleep, sleep_until};
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Runs `future`, failing with [`Elapsed`] if it has not completed within
/// `duration`.
///
/// The timer is armed only if the future is not ready on its first poll, so
/// wrapping an already-ready future costs no timer at all.
///
/// ```
/// # goro::block_on(async {
/// use std::time::Duration;
/// let slow = goro::time::sleep(Duration::from_secs(10));
/// assert!(goro::time::timeout(Duration::from_millis(5), slow).await.is_err());
/// assert_eq!(goro::time::timeout(Duration::from_secs(1), async { 7 }).await.unwrap(), 7);
/// # });
/// ```
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    timeout_at(clock::instant_after(duration), future)
}

/// Like [`timeout`], with an absolute deadline.
///
/// ```
/// # goro::block_on(async {
/// use std::time::{Duration, Instant};
/// let at = Instant::now() + Duration::from_millis(5);
/// let r = goro::time::timeout_at(at, std::future::pending::<()>()).await;
/// assert!(r.is_err());
/// # });
/// ```
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep_until(deadline),
    }
}

pin_project_lite::pin_project! {
    /// Future returned by [`timeout`] and [`timeout_at`].
    ///
    /// ```
    /// # goro::block_on(async {
    /// let t: goro::time::Timeout<_> = goro::time::timeout(std::time::Duration::from_secs(1), async { 3 });
    /// assert_eq!(t.await.unwrap(), 3);
    /// # });
    /// ```
    #[derive(Debug)]
    #[must_use = "futures do nothing unless awaited"]
    pub struct Timeout<F> {
        #[pin]
        future: F,
        sleep: Sleep,
    }
}

impl<F> Timeout<F> {
    /// The wrapped future.
    ///
    /// ```
    /// let t = goro::time::timeout(std::time::Duration::from_secs(1), async { 1 });
    /// let _inner = t.get_ref();
    /// ```
    pub fn get_ref(&self) -> &F {
        &self.future
    }

    /// Unwraps the future, cancelling the timeout.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let t = goro::time::timeout(std::time::Duration::from_secs(1), async { 1 });
    /// assert_eq!(t.into_inner().await, 1); // no timeout any more
    /// # });
    /// ```
    pub fn into_inner(self) -> F {
        self.future
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(v) = this.future.poll(cx) {
            return Poll::Ready(Ok(v));
        }
        match Pin::new(this.sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The error of a [`timeout`] whose deadline passed first.
///
/// ```
/// # goro::block_on(async {
/// let e = goro::time::timeout(std::time::Duration::ZERO, std::future::pending::<()>())
///     .await
///     .unwrap_err();
/// let io: std::io::Error = e.into();
/// assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
/// # });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for io::Error {
    fn from(e: Elapsed) -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, e)
    }
}
