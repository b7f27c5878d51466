//! [`SignalKind`]: which signal to listen for, and which ones may not be
//! listened for.

use std::fmt;
use std::io;

/// A signal number that [`signal`](super::signal) can listen for.
///
/// The named constructors cover the signals servers usually handle;
/// [`from_raw`](Self::from_raw) accepts any number, which
/// [`signal`](super::signal) then validates.
///
/// ```
/// use goro::signal::SignalKind;
/// assert_eq!(SignalKind::terminate().as_raw_value(), libc::SIGTERM);
/// assert_eq!(SignalKind::from_raw(libc::SIGHUP), SignalKind::hangup());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignalKind(libc::c_int);

impl SignalKind {
    /// Any signal number (validated when you listen for it).
    pub const fn from_raw(signo: i32) -> SignalKind {
        SignalKind(signo)
    }

    /// The signal number.
    pub const fn as_raw_value(&self) -> i32 {
        self.0
    }

    /// `SIGINT`: Ctrl-C in a terminal.
    pub const fn interrupt() -> SignalKind {
        SignalKind(libc::SIGINT)
    }

    /// `SIGTERM`: the polite "please exit" (`kill`, systemd, Kubernetes).
    pub const fn terminate() -> SignalKind {
        SignalKind(libc::SIGTERM)
    }

    /// `SIGHUP`: the terminal went away; daemons often reload on it.
    pub const fn hangup() -> SignalKind {
        SignalKind(libc::SIGHUP)
    }

    /// `SIGQUIT`: Ctrl-\ in a terminal.
    pub const fn quit() -> SignalKind {
        SignalKind(libc::SIGQUIT)
    }

    /// `SIGUSR1`.
    pub const fn user_defined1() -> SignalKind {
        SignalKind(libc::SIGUSR1)
    }

    /// `SIGUSR2`.
    pub const fn user_defined2() -> SignalKind {
        SignalKind(libc::SIGUSR2)
    }

    /// `SIGCHLD`: a child process stopped or exited.
    pub const fn child() -> SignalKind {
        SignalKind(libc::SIGCHLD)
    }

    /// `SIGWINCH`: the terminal was resized.
    pub const fn window_change() -> SignalKind {
        SignalKind(libc::SIGWINCH)
    }

    /// `SIGPIPE`: a write to a pipe or socket with no reader (Rust programs
    /// ignore it by default; the write fails with `BrokenPipe` either way).
    pub const fn pipe() -> SignalKind {
        SignalKind(libc::SIGPIPE)
    }

    /// `SIGALRM`: an `alarm(2)` or `setitimer(2)` timer expired.
    pub const fn alarm() -> SignalKind {
        SignalKind(libc::SIGALRM)
    }

    /// Checks that a handler may be installed for this signal; returns its
    /// index into the per-signal tables.
    pub(crate) fn validate(self) -> io::Result<usize> {
        let signo = self.0;
        let refuse = |why: &str| {
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("goro: cannot listen for signal {signo}: {why}"),
            ))
        };
        if signo < 1 || signo > libc::SIGRTMAX() || signo as usize >= super::handler::NSIG {
            return refuse("not a valid signal number");
        }
        match signo {
            libc::SIGKILL | libc::SIGSTOP => refuse("it cannot be caught"),
            libc::SIGSEGV
            | libc::SIGBUS
            | libc::SIGILL
            | libc::SIGFPE
            | libc::SIGTRAP
            | libc::SIGSYS => refuse(
                "it reports a fault in the thread that raised it; \
                 a handler that returns would fault again",
            ),
            _ if signo > 31 && signo < libc::SIGRTMIN() => {
                refuse("it is reserved by the C library")
            }
            _ => Ok(signo as usize),
        }
    }
}

impl fmt::Debug for SignalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            libc::SIGINT => "SIGINT",
            libc::SIGTERM => "SIGTERM",
            libc::SIGHUP => "SIGHUP",
            libc::SIGQUIT => "SIGQUIT",
            libc::SIGUSR1 => "SIGUSR1",
            libc::SIGUSR2 => "SIGUSR2",
            libc::SIGCHLD => "SIGCHLD",
            libc::SIGWINCH => "SIGWINCH",
            libc::SIGPIPE => "SIGPIPE",
            libc::SIGALRM => "SIGALRM",
            n => return write!(f, "SignalKind({n})"),
        };
        f.write_str(name)
    }
}

impl From<SignalKind> for i32 {
    fn from(kind: SignalKind) -> i32 {
        kind.0
    }
}

#[cfg(test)]
mod tests {
    use super::SignalKind;

    #[test]
    fn forbidden_and_out_of_range_signals_are_refused() {
        for signo in [
            0,
            -1,
            libc::SIGKILL,
            libc::SIGSTOP,
            libc::SIGSEGV,
            libc::SIGBUS,
            libc::SIGILL,
            libc::SIGFPE,
            32,
            libc::SIGRTMAX() + 1,
            1000,
        ] {
            let e = SignalKind::from_raw(signo).validate().unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{signo}");
            assert!(e.to_string().contains(&signo.to_string()), "{e}");
        }
        for kind in [
            SignalKind::interrupt(),
            SignalKind::terminate(),
            SignalKind::user_defined1(),
            SignalKind::from_raw(libc::SIGRTMIN()),
            SignalKind::from_raw(libc::SIGRTMAX()),
        ] {
            assert!(kind.validate().is_ok(), "{kind:?}");
        }
    }
}
