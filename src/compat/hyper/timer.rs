//! hyper's `Timer` on goro: hyper's sleeps are goro [`Sleep`]s.
//!
//! hyper 1.x measures its timeouts (header read, HTTP/2 keep-alive pings,
//! the client pool's idle expiry) with the timer it is given. Each sleep is
//! a goro timer, armed on the P of the worker that first polls it and
//! cancelled in O(1) when hyper drops it. [`Timer::reset`] moves a goro
//! sleep's deadline in place instead of allocating a new one.

use crate::time::Sleep;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// goro's timers for hyper.
///
/// Give it to hyper's connection builders (`http1::Builder::timer`, as
/// `ecosystem/examples/http.rs` does) and to hyper-util's `Client`. What
/// hyper then does with it:
///
/// ```
/// use goro::compat::hyper::Timer;
/// use hyper::rt::Timer as _;
/// use std::time::{Duration, Instant};
///
/// goro::block_on(async {
///     let start = Instant::now();
///     Timer::new().sleep(Duration::from_millis(20)).await;
///     assert!(start.elapsed() >= Duration::from_millis(20));
/// });
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Timer;

impl Timer {
    /// The timer (it holds no state: timers live in the goro runtime).
    pub fn new() -> Timer {
        Timer
    }
}

/// A goro [`Sleep`] as a `hyper::rt::Sleep`.
#[derive(Debug)]
struct HyperSleep(Sleep);

impl Future for HyperSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.get_mut().0).poll(cx)
    }
}

impl hyper::rt::Sleep for HyperSleep {}

impl hyper::rt::Timer for Timer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HyperSleep(crate::time::sleep(duration)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HyperSleep(crate::time::sleep_until(deadline)))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<HyperSleep>() {
            Some(ours) => ours.get_mut().0.reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::rt::Timer as _;

    /// A reset moves the deadline of a goro sleep, earlier or later.
    #[test]
    fn reset_moves_the_deadline() {
        crate::block_on(async {
            let timer = Timer::new();
            let start = Instant::now();
            let mut sleep = timer.sleep(Duration::from_secs(3600));
            timer.reset(&mut sleep, Instant::now() + Duration::from_millis(20));
            sleep.as_mut().await;
            let took = start.elapsed();
            assert!(took >= Duration::from_millis(20), "fired early: {took:?}");
            assert!(took < Duration::from_secs(10), "reset ignored: {took:?}");
        });
    }
}
