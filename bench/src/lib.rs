//! Support code for goro's comparison benchmarks (not published).
//!
//! - [`rt`]: one trait over the runtimes under test (goro, tokio, smol) and
//!   the servers each of them runs;
//! - [`client`]: the in-process load clients and the `wrk` runner;
//! - [`stats`]: the median both harnesses report;
//! - [`sys`]: facts about the machine and the process (`/proc`);
//! - [`hyper_goro`]: hyper's I/O traits over goro's streams;
//! - [`serve`]: the body of the `server-goro`/`server-tokio`/`server-smol`
//!   processes of the out-of-process benchmark (`benches/net`);
//! - [`loadgen`]: its single-threaded epoll load generator, recording into a
//!   [`histogram::Histogram`].

pub mod client;
pub mod histogram;
pub mod hyper_goro;
pub mod loadgen;
pub mod rt;
pub mod serve;
pub mod stats;
pub mod sys;
