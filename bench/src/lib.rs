//! Support code for goro's comparison benchmarks (not published).
//!
//! - [`rt`]: one trait over the runtimes under test (goro, tokio, smol) and
//!   the servers each of them runs;
//! - [`client`]: the in-process load clients and the `wrk` runner;
//! - [`sys`]: facts about the machine and the process (`/proc`);
//! - [`hyper_goro`]: hyper's I/O traits over goro's streams.

pub mod client;
pub mod hyper_goro;
pub mod rt;
pub mod sys;
