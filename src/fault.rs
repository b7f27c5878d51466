//! Fault injection in the OS layer (feature `fault-injection`; tests only).
//!
//! With the feature on, the syscalls in `poller/epoll.rs` and
//! `net/socket.rs` ask this module, just before they run, whether to fail
//! instead. A test installs a seeded [`Schedule`] saying, per [`Syscall`],
//! how often each [`Fault`] happens; [`install`] returns a guard that
//! removes it. Without an installed schedule every hook is one relaxed
//! atomic load and nothing else; without the feature the hooks are not
//! compiled at all.
//!
//! # Faithfulness
//!
//! An injected failure must be one the kernel could really produce at that
//! point, or the test would report bugs that cannot happen. In particular
//! goro registers sockets edge-triggered and trusts two kernel promises: an
//! `EAGAIN` means the direction is empty, and a short TCP read or write
//! means the buffer was drained (or filled). A fake `EAGAIN` or short
//! transfer on a socket that is in fact still ready breaks both promises:
//! no further edge would come. So before injecting either, the injector
//! *re-arms* the descriptor with `EPOLL_CTL_MOD` (same interest, same
//! token), which makes the kernel queue a fresh event if the fd is ready —
//! exactly what the kernel does when more data arrives after an `EAGAIN`.
//! If the fd is not registered (so it cannot be re-armed) nothing is
//! injected. Other faults are injected instead of the call (`EINTR` before
//! any transfer, `EMFILE`/`ENFILE`/`ECONNABORTED` without consuming a queued
//! connection, `ENOMEM`/`ENOBUFS` before registering), except `EINTR` on
//! `connect`, which is reported *after* the kernel started the connection,
//! as a signal arriving during a blocking connect would be; the retry then
//! sees `EALREADY` or `EISCONN`. Short transfers apply only to stream
//! sockets (on a datagram socket a short `recv` would truncate a message).
//!
//! # Scope
//!
//! A schedule is process-wide: worker threads make the syscalls. At most one
//! schedule is installed at a time — [`install`] waits until the previous
//! guard is dropped — so tests in one binary that each install their own
//! schedule run one after another, and binaries that never install one are
//! not affected.
//!
//! Invariants: decisions for one [`Syscall`] come from its own seeded
//! counter (`splitmix64(seed, kind, n)`), so the sequence of decisions per
//! kind depends only on the seed; the registry of `fd → (epoll fd, token)`
//! used for re-arming is updated under one lock by `Epoll::add`, `delete`
//! and `close`, and re-arming holds that lock, so it never reaches an epoll
//! fd that has been closed.

use crate::sync::{Mutex, MutexGuard, RwLock};
use std::collections::HashMap;
use std::io;
use std::os::fd::RawFd;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A family of syscalls that can be made to fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Syscall {
    /// `epoll_wait`: [`Fault::Interrupted`].
    EpollWait,
    /// `epoll_ctl(EPOLL_CTL_ADD)` when a socket or `PollFd` is registered:
    /// [`Fault::OutOfMemory`], [`Fault::NoBufferSpace`].
    EpollCtl,
    /// `accept4`: [`Fault::Interrupted`], [`Fault::WouldBlock`],
    /// [`Fault::ProcessFdLimit`], [`Fault::SystemFdLimit`],
    /// [`Fault::ConnectionAborted`].
    Accept,
    /// `connect`: [`Fault::Interrupted`].
    Connect,
    /// `recv`, `readv`, `recvfrom`: [`Fault::Interrupted`],
    /// [`Fault::WouldBlock`], [`Fault::Short`].
    Recv,
    /// `send`, `sendmsg`, `sendto`: [`Fault::Interrupted`],
    /// [`Fault::WouldBlock`], [`Fault::Short`].
    Send,
}

impl Syscall {
    const ALL: [Syscall; 6] = [
        Syscall::EpollWait,
        Syscall::EpollCtl,
        Syscall::Accept,
        Syscall::Connect,
        Syscall::Recv,
        Syscall::Send,
    ];

    fn index(self) -> usize {
        self as usize
    }

    fn allows(self, fault: Fault) -> bool {
        use Fault::*;
        match self {
            Syscall::EpollWait | Syscall::Connect => fault == Interrupted,
            Syscall::EpollCtl => matches!(fault, OutOfMemory | NoBufferSpace),
            Syscall::Accept => matches!(
                fault,
                Interrupted | WouldBlock | ProcessFdLimit | SystemFdLimit | ConnectionAborted
            ),
            Syscall::Recv | Syscall::Send => matches!(fault, Interrupted | WouldBlock | Short),
        }
    }
}

/// A failure the kernel can report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// `EINTR`: a signal interrupted the call.
    Interrupted,
    /// A spurious `EAGAIN` (the descriptor is re-armed; see the module docs).
    WouldBlock,
    /// A short read or write on a stream socket: the call transfers between
    /// 1 and `len - 1` bytes (the descriptor is re-armed).
    Short,
    /// `ENOMEM`.
    OutOfMemory,
    /// `ENOBUFS`.
    NoBufferSpace,
    /// `EMFILE`: the process is out of file descriptors.
    ProcessFdLimit,
    /// `ENFILE`: the system is out of file descriptors.
    SystemFdLimit,
    /// `ECONNABORTED`: a queued connection was reset before `accept`.
    ConnectionAborted,
}

impl Fault {
    const ALL: [Fault; 8] = [
        Fault::Interrupted,
        Fault::WouldBlock,
        Fault::Short,
        Fault::OutOfMemory,
        Fault::NoBufferSpace,
        Fault::ProcessFdLimit,
        Fault::SystemFdLimit,
        Fault::ConnectionAborted,
    ];

    fn index(self) -> usize {
        self as usize
    }

    fn errno(self) -> i32 {
        match self {
            Fault::Interrupted => libc::EINTR,
            Fault::WouldBlock | Fault::Short => libc::EAGAIN,
            Fault::OutOfMemory => libc::ENOMEM,
            Fault::NoBufferSpace => libc::ENOBUFS,
            Fault::ProcessFdLimit => libc::EMFILE,
            Fault::SystemFdLimit => libc::ENFILE,
            Fault::ConnectionAborted => libc::ECONNABORTED,
        }
    }
}

const KINDS: usize = Syscall::ALL.len();
const FAULTS: usize = Fault::ALL.len();
/// Probabilities are kept in parts per million.
const PPM: u64 = 1_000_000;

/// A seeded, per-syscall plan of failures.
///
/// ```no_run
/// use goro::fault::{Fault, Schedule, Syscall};
/// let schedule = Schedule::new(42)
///     .fail(Syscall::Recv, Fault::Interrupted, 0.05)
///     .fail(Syscall::Recv, Fault::Short, 0.20);
/// let _guard = goro::fault::install(schedule);
/// // ... drive goro sockets; about 5% of recv calls now see EINTR ...
/// ```
#[derive(Debug, Clone)]
pub struct Schedule {
    seed: u64,
    /// Per-fault probabilities (ppm) for each syscall kind.
    ppm: [[u64; FAULTS]; KINDS],
}

impl Schedule {
    /// An empty schedule (nothing fails) with this seed.
    pub fn new(seed: u64) -> Schedule {
        Schedule {
            seed,
            ppm: [[0; FAULTS]; KINDS],
        }
    }

    /// Makes `call` fail with `fault` with this probability (0.0..=1.0,
    /// clamped). The probabilities of one syscall's faults add up (capped
    /// at 1).
    ///
    /// # Panics
    ///
    /// If `fault` is not one the kernel reports for `call` (see
    /// [`Syscall`]): such a schedule would test impossible situations.
    pub fn fail(mut self, call: Syscall, fault: Fault, probability: f64) -> Schedule {
        assert!(
            call.allows(fault),
            "goro::fault: {call:?} cannot fail with {fault:?}"
        );
        let p = if probability.is_nan() {
            0.0
        } else {
            probability.clamp(0.0, 1.0)
        };
        self.ppm[call.index()][fault.index()] = (p * PPM as f64).round() as u64;
        self
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The fault (if any) for the `n`th call of kind `call`.
    fn decide(&self, call: Syscall, n: u64) -> Option<Fault> {
        let rates = &self.ppm[call.index()];
        if rates.iter().all(|&p| p == 0) {
            return None;
        }
        let mut roll = splitmix64(self.seed ^ splitmix64(call.index() as u64 + 1) ^ n) % PPM;
        for fault in Fault::ALL {
            let p = rates[fault.index()];
            if roll < p {
                return Some(fault);
            }
            roll -= p;
        }
        None
    }
}

/// Counts of the faults injected since the schedule was installed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Injected {
    counts: [[u64; FAULTS]; KINDS],
}

impl Injected {
    /// How often `call` was made to fail with `fault`.
    pub fn count(&self, call: Syscall, fault: Fault) -> u64 {
        self.counts[call.index()][fault.index()]
    }

    /// All injections.
    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }
}

struct Installed {
    schedule: Schedule,
    calls: [AtomicU64; KINDS],
    injected: [[AtomicU64; FAULTS]; KINDS],
}

static ACTIVE: AtomicBool = AtomicBool::new(false);
static CURRENT: RwLock<Option<Installed>> = RwLock::new(None);
/// Held by the live [`FaultGuard`], so schedules never overlap.
static EXCLUSIVE: Mutex<()> = Mutex::new(());

/// Removes the schedule when dropped (returned by [`install`]).
#[must_use = "the schedule is removed when the guard is dropped"]
#[derive(Debug)]
pub struct FaultGuard {
    _exclusive: MutexGuard<'static, ()>,
}

impl Drop for FaultGuard {
    fn drop(&mut self) {
        clear();
    }
}

/// Installs `schedule` process-wide until the returned guard is dropped,
/// first waiting for any other installed schedule's guard to go.
pub fn install(schedule: Schedule) -> FaultGuard {
    let exclusive = EXCLUSIVE.lock();
    let installed = Installed {
        schedule,
        calls: Default::default(),
        injected: Default::default(),
    };
    *CURRENT.write() = Some(installed);
    ACTIVE.store(true, Ordering::SeqCst);
    FaultGuard {
        _exclusive: exclusive,
    }
}

/// Stops injecting faults at once (the guard still has to be dropped before
/// another schedule can be installed).
pub fn clear() {
    ACTIVE.store(false, Ordering::SeqCst);
    *CURRENT.write() = None;
}

/// What the current schedule has injected so far (all zero without one).
pub fn injected() -> Injected {
    let mut out = Injected::default();
    if let Some(cur) = CURRENT.read().as_ref() {
        for call in Syscall::ALL {
            for fault in Fault::ALL {
                out.counts[call.index()][fault.index()] =
                    cur.injected[call.index()][fault.index()].load(Ordering::Relaxed);
            }
        }
    }
    out
}

/// The hook: `Ok(n)` lets the call go ahead with at most `n` of its `len`
/// bytes (`n == len` unless a short transfer is injected); `Err` is the
/// error to report instead of making the call. `fd` is the descriptor the
/// call is made on (the epoll fd for `epoll_wait`).
pub(crate) fn allow(call: Syscall, fd: RawFd, len: usize) -> io::Result<usize> {
    if !ACTIVE.load(Ordering::Relaxed) {
        return Ok(len);
    }
    let guard = CURRENT.read();
    let Some(cur) = guard.as_ref() else {
        return Ok(len);
    };
    let n = cur.calls[call.index()].fetch_add(1, Ordering::Relaxed);
    let Some(fault) = cur.schedule.decide(call, n) else {
        return Ok(len);
    };
    let out = match fault {
        Fault::Short => {
            if len < 2 || !is_stream_socket(fd) || !rearm(fd) {
                return Ok(len);
            }
            let k = 1 + (splitmix64(cur.schedule.seed ^ n ^ 0x5eed) % (len as u64 - 1)) as usize;
            Ok(k)
        }
        Fault::WouldBlock if !rearm(fd) => return Ok(len),
        f => Err(io::Error::from_raw_os_error(f.errno())),
    };
    cur.injected[call.index()][fault.index()].fetch_add(1, Ordering::Relaxed);
    out
}

/// True if `connect` should report `EINTR` after it ran (see the module
/// docs); the caller then retries.
pub(crate) fn interrupts_connect(fd: RawFd) -> bool {
    allow(Syscall::Connect, fd, 0).is_err()
}

fn is_stream_socket(fd: RawFd) -> bool {
    let mut ty: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `ty`/`len` describe a writable int.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TYPE,
            (&mut ty as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    r == 0 && ty == libc::SOCK_STREAM
}

/// How a descriptor was registered: its epoll fd, interest and token.
#[derive(Clone, Copy)]
struct Registration {
    epfd: RawFd,
    events: u32,
    token: u64,
}

/// `fd → registration` for every registered descriptor.
static REGISTRY: LazyLock<Mutex<HashMap<RawFd, Registration>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn registry() -> MutexGuard<'static, HashMap<RawFd, Registration>> {
    REGISTRY.lock()
}

/// `Epoll::add` registered `fd` on `epfd` for `events` with `token`.
pub(crate) fn registered(epfd: RawFd, fd: RawFd, events: u32, token: u64) {
    registry().insert(
        fd,
        Registration {
            epfd,
            events,
            token,
        },
    );
}

/// `Epoll::delete` removed `fd`.
pub(crate) fn deregistered(fd: RawFd) {
    registry().remove(&fd);
}

/// `Epoll::close` is about to close `epfd`.
pub(crate) fn epoll_closing(epfd: RawFd) {
    registry().retain(|_, r| r.epfd != epfd);
}

/// Re-arms `fd` so the kernel reports it again if it is ready; false if it
/// is not registered.
fn rearm(fd: RawFd) -> bool {
    let reg = registry();
    let Some(&r) = reg.get(&fd) else {
        return false;
    };
    // `EPOLL_CTL_MOD` with the same interest and token: the kernel queues a
    // fresh event if the fd is ready.
    let mut ev = libc::epoll_event {
        events: r.events,
        u64: r.token,
    };
    // SAFETY: `ev` is valid for the call; the lock is held across it, so
    // `r.epfd` is still open (Epoll::close unregisters it first); a closed
    // `fd` is reported as an error.
    crate::sys::cvt(unsafe { libc::epoll_ctl(r.epfd, libc::EPOLL_CTL_MOD, fd, &mut ev) }).is_ok()
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_depend_only_on_seed_kind_and_count() {
        let s = Schedule::new(7).fail(Syscall::Recv, Fault::Interrupted, 0.3);
        let a: Vec<_> = (0..1000).map(|n| s.decide(Syscall::Recv, n)).collect();
        let b: Vec<_> = (0..1000).map(|n| s.decide(Syscall::Recv, n)).collect();
        assert_eq!(a, b);
        let hits = a.iter().filter(|d| d.is_some()).count();
        assert!((200..400).contains(&hits), "{hits} hits for p = 0.3");
        assert!((0..1000).all(|n| s.decide(Syscall::Send, n).is_none()));
        let other = Schedule::new(8).fail(Syscall::Recv, Fault::Interrupted, 0.3);
        let c: Vec<_> = (0..1000).map(|n| other.decide(Syscall::Recv, n)).collect();
        assert_ne!(a, c, "a different seed gives a different schedule");
    }

    #[test]
    fn probabilities_of_one_call_add_up() {
        let s = Schedule::new(1)
            .fail(Syscall::Accept, Fault::ProcessFdLimit, 0.5)
            .fail(Syscall::Accept, Fault::ConnectionAborted, 0.5);
        let mut seen = [0; 2];
        for n in 0..1000 {
            match s.decide(Syscall::Accept, n) {
                Some(Fault::ProcessFdLimit) => seen[0] += 1,
                Some(Fault::ConnectionAborted) => seen[1] += 1,
                other => panic!("unexpected decision {other:?}"),
            }
        }
        assert!(seen[0] > 400 && seen[1] > 400, "{seen:?}");
    }

    #[test]
    #[should_panic(expected = "cannot fail with")]
    fn impossible_faults_are_rejected() {
        let _ = Schedule::new(0).fail(Syscall::EpollWait, Fault::ProcessFdLimit, 0.1);
    }

    #[test]
    fn errnos_are_the_kernel_ones() {
        assert_eq!(Fault::Interrupted.errno(), libc::EINTR);
        assert_eq!(Fault::ProcessFdLimit.errno(), libc::EMFILE);
        assert_eq!(Fault::SystemFdLimit.errno(), libc::ENFILE);
        assert_eq!(Fault::NoBufferSpace.errno(), libc::ENOBUFS);
        assert_eq!(Fault::ConnectionAborted.errno(), libc::ECONNABORTED);
    }
}
