//! Unix signals as async streams: [`ctrl_c`], [`signal`], [`Signal`],
//! [`SignalKind`].
//!
//! ```no_run
//! use goro::signal::{SignalKind, signal};
//!
//! # fn main() -> std::io::Result<()> {
//! goro::block_on(async {
//!     let mut term = signal(SignalKind::terminate())?;
//!     let mut hup = signal(SignalKind::hangup())?;
//!     loop {
//!         // (a real program would also select on its work)
//!         if hup.recv().await.is_some() {
//!             println!("reloading");
//!         }
//!         # break;
//!     }
//!     term.recv().await;
//!     println!("shutting down");
//!     Ok(())
//! })
//! # }
//! ```
//!
//! # Design: a self-pipe on the netpoller
//!
//! A signal handler runs on whatever thread the kernel picks — any thread
//! that does not block the signal, including threads goro did not create —
//! and it may interrupt that thread anywhere, even inside `malloc` or while
//! holding a lock. So it can do almost nothing: only *async-signal-safe*
//! operations (POSIX `signal-safety(7)`). goro's handler (`handler.rs`)
//! does exactly two things, like Go's runtime and tokio: it bumps a
//! per-signal delivery counter (an atomic) and writes one byte to a
//! non-blocking **self-pipe**. It saves and restores `errno`, takes no lock,
//! allocates nothing, and chains to the handler it replaced, if any.
//!
//! Everything else happens in ordinary code. Each runtime with listeners
//! registers its own `dup` of the pipe's read end **once on its epoll**,
//! exactly like a socket (through [`PollFd`](crate::io::PollFd)), and runs
//! a small *driver* task on it (`hub.rs`): when the pipe becomes readable
//! it drains it, compares the counters with the counts last dispatched, and
//! wakes the listeners of every signal that moved — in every runtime, since
//! a drain by one runtime can hide the pipe's readiness from the others'
//! epoll. No thread is dedicated to signals,
//! nobody blocks in `sigwait`, and no mask has to be set on every thread
//! (which a library cannot do for threads it does not create) — the reason
//! goro does not use `signalfd`, which only sees signals blocked on every
//! thread of the process.
//!
//! # Semantics
//!
//! - Each [`Signal`] sees every delivery made after it was created, and
//!   several listeners of one signal (in one runtime or several) each see
//!   each delivery.
//! - **Deliveries coalesce**: several deliveries between two polls of one
//!   listener yield one item (the kernel itself merges a standard signal
//!   that arrives while one is pending). A listener learns "at least one
//!   since last time", never how many.
//! - The first listener for a signal installs goro's handler for it, with
//!   `SA_RESTART`, for the rest of the process; from then on, the signal's
//!   default action no longer applies (SIGINT no longer kills the process,
//!   even after every listener is dropped). A handler that was installed
//!   before (by another library) keeps being called after goro's.
//! - `SIGKILL` and `SIGSTOP` cannot be caught; fault signals (`SIGSEGV`,
//!   `SIGBUS`, `SIGILL`, `SIGFPE`, `SIGTRAP`, `SIGSYS`) and the real-time
//!   signals the C library reserves are refused: [`signal`] returns an
//!   `InvalidInput` error for them.
//! - A listener belongs to the runtime current when it was created (the
//!   default runtime outside any). Once that runtime shuts down, its stream
//!   ends: [`Signal::recv`] returns `None`, and [`ctrl_c`] an error. It can
//!   be polled from any executor.
//! - Each runtime with listeners runs one extra task (the driver), visible
//!   in its metrics' live-task count.

mod handler;
mod hub;
mod kind;

pub use kind::SignalKind;

use futures_core::Stream;
use hub::Hub;
use std::fmt;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Listens for `kind`: a stream with one item per delivery (deliveries
/// between two polls coalesce into one; see the [module docs](self)).
///
/// Installs goro's handler for the signal on first use, for the life of the
/// process. Fails with `InvalidInput` for signals that cannot or must not be
/// handled (`SIGKILL`, `SIGSTOP`, `SIGSEGV`, …, out-of-range numbers), and
/// with an error if the current runtime has shut down.
///
/// ```
/// use goro::signal::{SignalKind, signal};
/// # goro::block_on(async {
/// let mut usr1 = signal(SignalKind::user_defined1())?;
/// // SAFETY: kill(2) at our own pid, for a signal we now handle.
/// unsafe { libc::kill(libc::getpid(), libc::SIGUSR1) };
/// assert_eq!(usr1.recv().await, Some(()));
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    let signo = kind.validate()?;
    let shared = crate::runtime::current_scheduler();
    handler::install(signo)?;
    let hub = Hub::for_runtime(&shared)?;
    // Read the counter after the handler is installed: every delivery
    // counted from here on is one this listener has not seen.
    let seen = handler::deliveries(signo);
    let id = hub.add(signo);
    Ok(Signal {
        hub,
        id,
        signo,
        kind,
        seen,
        ended: false,
    })
}

/// Completes at the next `SIGINT` (Ctrl-C) delivered after this call.
///
/// The listener is set up when `ctrl_c()` is called, not when the future is
/// first polled, so a Ctrl-C in between is not missed. The future fails if
/// the handler cannot be installed or the runtime shuts down first.
///
/// ```no_run
/// # goro::block_on(async {
/// goro::signal::ctrl_c().await?;
/// println!("interrupted; exiting");
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
pub fn ctrl_c() -> impl Future<Output = io::Result<()>> + Send + 'static {
    let listener = signal(SignalKind::interrupt());
    async move {
        match listener?.recv().await {
            Some(()) => Ok(()),
            None => Err(hub::shut_down()),
        }
    }
}

/// A stream of deliveries of one signal, from [`signal`].
///
/// Yields `()` per delivery (coalesced: see the [module docs](self)) and
/// ends when its runtime shuts down. Dropping it stops listening (the
/// process-wide handler stays installed).
pub struct Signal {
    hub: Arc<Hub>,
    id: u64,
    signo: usize,
    kind: SignalKind,
    /// The delivery count this listener has reported up to.
    seen: u64,
    ended: bool,
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal")
            .field("kind", &self.kind)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl Signal {
    /// Waits for the next delivery: `Some(())`, or `None` once the runtime
    /// this listener belongs to has shut down.
    ///
    /// ```
    /// # goro::block_on(async {
    /// let mut usr2 = goro::signal::signal(goro::signal::SignalKind::user_defined2())?;
    /// // SAFETY: raise(3) of a signal we now handle.
    /// unsafe { libc::raise(libc::SIGUSR2) };
    /// assert_eq!(usr2.recv().await, Some(()));
    /// # Ok::<(), std::io::Error>(()) }).unwrap();
    /// ```
    pub async fn recv(&mut self) -> Option<()> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next delivery (see [`recv`](Self::recv)).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        if self.ended {
            return Poll::Ready(None);
        }
        if let Some(ready) = self.check() {
            return Poll::Ready(ready);
        }
        self.hub.set_waker(self.id, cx.waker());
        // Re-check after publishing the waker (see hub.rs).
        match self.check() {
            Some(ready) => Poll::Ready(ready),
            None => {
                let signo = self.kind.as_raw_value();
                crate::taskinfo::record::waiting_on(crate::taskinfo::record::Wait::Signal(signo));
                Poll::Pending
            }
        }
    }

    /// A delivery not yet reported, or the end of the stream.
    fn check(&mut self) -> Option<Option<()>> {
        let now = handler::deliveries(self.signo);
        if now != self.seen {
            self.seen = now;
            return Some(Some(()));
        }
        if self.hub.is_closed() {
            self.ended = true;
            return Some(None);
        }
        None
    }
}

impl Stream for Signal {
    type Item = ();

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<()>> {
        self.get_mut().poll_recv(cx)
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        self.hub.remove(self.id);
    }
}
