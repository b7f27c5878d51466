//! `Builder::dump_on_signal`: a runtime-internal task that prints
//! [`Handle::dump`](super::Handle::dump) to stderr each time a signal
//! arrives (Go prints its goroutine dump on `SIGQUIT`, but then exits; this
//! keeps the program running).
//!
//! The signal comes through `goro::signal` (the self-pipe on the
//! netpoller), so printing happens in ordinary task context, never in a
//! signal handler. The task holds only a weak reference to the runtime: it
//! never keeps one alive, and it ends with it.

use super::Runtime;
use crate::signal::SignalKind;
use std::io;
use std::sync::Arc;

/// Name of the dumping task (it appears in its own dumps).
const TASK_NAME: &str = "goro-dump-on-signal";

/// Starts the dumping task on `rt` for `kind`. Fails if the signal cannot
/// be listened to (`goro::signal::signal`'s errors).
pub(crate) fn start(rt: &Runtime, kind: SignalKind) -> io::Result<()> {
    let handle = rt.handle();
    let mut signal = {
        let _entered = handle.enter();
        crate::signal::signal(kind)?
    };
    let weak = Arc::downgrade(&handle.shared);
    let _detached = crate::task::Builder::new().name(TASK_NAME).spawn_on(
        async move {
            while signal.recv().await.is_some() {
                let Some(shared) = weak.upgrade() else { break };
                let dump = shared.dump();
                drop(shared);
                eprintln!(
                    "goro: signal {} received: dumping tasks\n{dump:#}",
                    kind.as_raw_value()
                );
            }
        },
        &handle,
    );
    Ok(())
}
