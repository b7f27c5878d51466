//! The process-wide half of signal handling: the self-pipe, one delivery
//! counter per signal number, and the `sigaction` handler that bumps the
//! counter and writes the pipe.
//!
//! Invariants:
//! - The pipe is created once, before the first handler is installed, and
//!   never closed: the handler may run on any thread at any time, so the
//!   write end it uses must never be a closed (and possibly reused) fd.
//!   Runtimes read it through their own `dup` of the read end.
//! - The handler only does async-signal-safe things: atomic adds, one
//!   `write(2)` to a non-blocking pipe (a full pipe drops the byte, which is
//!   fine: the byte only says "look at the counters", and a full pipe has
//!   unread bytes saying so already), a call to the handler it replaced,
//!   and saving/restoring `errno`. No locks, no allocation.
//! - The counter is bumped *before* the byte is written, so whoever reads
//!   the byte and then loads the counters sees the new value.
//! - A handler, once installed for a signal number, stays installed for the
//!   life of the process (as in tokio and Go's `os/signal`): the signal's
//!   default action (e.g. SIGINT terminating the process) no longer applies.
//! - The handler replaced at install time is saved once and called after
//!   ours if it was a function (not `SIG_DFL`/`SIG_IGN`), with the same
//!   arguments, so another library's handler keeps working.

use crate::sync::Mutex;
use crate::sys::cvt;
use std::cell::UnsafeCell;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};

/// One more than the highest signal number on Linux (`_NSIG`).
pub(crate) const NSIG: usize = 65;

/// Deliveries seen by the handler, per signal number.
static DELIVERIES: [AtomicU64; NSIG] = [const { AtomicU64::new(0) }; NSIG];

/// The pipe's write end (-1 until created).
static PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);

/// The handler each installation replaced.
static PREVIOUS: [Previous; NSIG] = [const { Previous::empty() }; NSIG];

/// Installation state, only touched outside signal handlers.
static INSTALL: Mutex<Install> = Mutex::new(Install {
    pipe_read: -1,
    installed: [false; NSIG],
});

struct Install {
    pipe_read: RawFd,
    installed: [bool; NSIG],
}

/// A saved `sigaction`, written once (before `saved` is set) and only read
/// after `saved` is seen set.
struct Previous {
    saved: AtomicBool,
    action: UnsafeCell<MaybeUninit<libc::sigaction>>,
}

// SAFETY: `action` is written once, by the installer holding `INSTALL`,
// before `saved` is stored with Release; readers load `saved` with Acquire
// first and never write it. So there is never a concurrent write and read.
unsafe impl Sync for Previous {}

impl Previous {
    const fn empty() -> Previous {
        Previous {
            saved: AtomicBool::new(false),
            action: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    fn get(&self) -> Option<&libc::sigaction> {
        if !self.saved.load(Ordering::Acquire) {
            return None;
        }
        // SAFETY: `saved` is set only after `action` was initialised, and it
        // is never written again (see the `Sync` impl).
        Some(unsafe { (*self.action.get()).assume_init_ref() })
    }
}

/// How many times `signo` has been delivered since the process started
/// (counting only deliveries after its handler was installed).
pub(crate) fn deliveries(signo: usize) -> u64 {
    DELIVERIES[signo].load(Ordering::SeqCst)
}

/// Every signal's delivery count.
pub(crate) fn all_deliveries() -> [u64; NSIG] {
    std::array::from_fn(deliveries)
}

/// Creates the self-pipe (once per process) and installs the handler for
/// `signo` (once per signal number).
///
/// `signo` must already be validated (see `kind.rs`).
pub(crate) fn install(signo: usize) -> io::Result<()> {
    let mut st = INSTALL.lock();
    if st.pipe_read < 0 {
        let (r, w) = new_pipe()?;
        st.pipe_read = r;
        PIPE_WRITE.store(w, Ordering::Release);
    }
    if st.installed[signo] {
        return Ok(());
    }
    // SAFETY: zeroed is a valid `sigaction` (empty mask, no flags) that we
    // fill in below; `sigaction` reads `new` and writes `old`, both valid.
    let old = unsafe {
        let mut new: libc::sigaction = std::mem::zeroed();
        new.sa_sigaction = on_signal as *const () as libc::sighandler_t;
        new.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART | libc::SA_ONSTACK;
        libc::sigemptyset(&mut new.sa_mask);
        let mut old: libc::sigaction = std::mem::zeroed();
        // One call swaps the handlers atomically, so `old` is exactly what
        // ours replaced. A delivery before `PREVIOUS` is filled in below is
        // not chained (there is nothing else we could do about it).
        if libc::sigaction(signo as libc::c_int, &new, &mut old) != 0 {
            return Err(io::Error::last_os_error());
        }
        old
    };
    let prev = &PREVIOUS[signo];
    if !prev.saved.load(Ordering::Relaxed) {
        // SAFETY: we hold `INSTALL` and `saved` is false, so nobody reads or
        // writes `action` now (see the `Sync` impl).
        unsafe { (*prev.action.get()).write(old) };
        prev.saved.store(true, Ordering::Release);
    }
    st.installed[signo] = true;
    Ok(())
}

/// A new, non-blocking, close-on-exec `dup` of the self-pipe's read end.
/// Call after [`install`].
pub(crate) fn dup_reader() -> io::Result<OwnedFd> {
    let read = INSTALL.lock().pipe_read;
    if read < 0 {
        return Err(io::Error::other("goro: signal pipe not created"));
    }
    // SAFETY: `read` is the pipe's read end, open for the life of the process.
    let fd = cvt(unsafe { libc::fcntl(read, libc::F_DUPFD_CLOEXEC, 0) })?;
    // SAFETY: `fd` is a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Reads everything buffered in the pipe (through any of its read ends).
pub(crate) fn drain(fd: RawFd) {
    let mut buf = [0u8; 128];
    loop {
        // SAFETY: `buf` is valid for `buf.len()` bytes; `fd` is open (the
        // caller holds it).
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n > 0 {
            continue;
        }
        if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        return; // empty (EAGAIN), or an error nothing can fix
    }
}

/// Creates the self-pipe, both ends non-blocking and close-on-exec.
fn new_pipe() -> io::Result<(RawFd, RawFd)> {
    let mut fds = [-1; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) })?;
    Ok((fds[0], fds[1]))
}

/// The signal handler. Async-signal-safe: see the module docs.
extern "C" fn on_signal(signo: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: `__errno_location` returns this thread's errno slot.
    let errno = unsafe { libc::__errno_location() };
    // SAFETY: as above; reading our own thread's errno.
    let saved_errno = unsafe { *errno };
    let index = signo as usize;
    if let Some(count) = DELIVERIES.get(index) {
        count.fetch_add(1, Ordering::SeqCst);
        let fd = PIPE_WRITE.load(Ordering::Acquire);
        if fd >= 0 {
            let byte = signo as u8;
            // SAFETY: `fd` is the pipe's write end, never closed; the buffer
            // is one valid byte. A failure (full pipe) is harmless.
            unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
        }
        if let Some(prev) = PREVIOUS[index].get() {
            // SAFETY: `prev` is the handler installed before ours, called the
            // way its flags say it expects.
            unsafe { chain(prev, signo, info, ctx) };
        }
    }
    // SAFETY: restoring this thread's errno, as on entry.
    unsafe { *errno = saved_errno };
}

/// Calls the handler that `prev` describes, if it is a function.
///
/// # Safety
/// `prev` must be a `sigaction` returned by the kernel; the arguments must
/// be the ones our handler received.
unsafe fn chain(
    prev: &libc::sigaction,
    signo: libc::c_int,
    info: *mut libc::siginfo_t,
    ctx: *mut libc::c_void,
) {
    let handler = prev.sa_sigaction;
    if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
        return;
    }
    if prev.sa_flags & libc::SA_SIGINFO != 0 {
        type Action = extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void);
        // SAFETY: with SA_SIGINFO the kernel would call it as an `Action`.
        let f: Action = unsafe { std::mem::transmute::<libc::sighandler_t, Action>(handler) };
        f(signo, info, ctx);
    } else {
        type Handler = extern "C" fn(libc::c_int);
        // SAFETY: without SA_SIGINFO the kernel would call it as a `Handler`.
        let f: Handler = unsafe { std::mem::transmute::<libc::sighandler_t, Handler>(handler) };
        f(signo);
    }
}
