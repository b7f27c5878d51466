//! The scenarios, by name, in the order they run.

mod net;
mod tasks;

use crate::cli::Cfg;
use crate::stats::Row;
pub use net::idle_child;
use net::*;
use tasks::*;

pub type Scenario = fn(&Cfg) -> Vec<Row>;

pub const SCENARIOS: &[(&str, Scenario)] = &[
    ("spawn_many", sc_spawn_many),
    ("spawn_many_remote", sc_spawn_many_remote),
    ("yield_many", sc_yield_many),
    ("ping_pong", sc_ping_pong),
    ("chained_spawn", sc_chained_spawn),
    ("timers", sc_timers),
    ("timeout_ready", sc_timeout_ready),
    ("tcp_echo", sc_tcp_echo),
    ("http", sc_http),
    ("idle_conns", sc_idle_conns),
    ("blocking_stall", sc_blocking_stall),
];
