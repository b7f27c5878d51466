//! Helpers for `benches/compare.rs`.

pub mod client;
pub mod hyper_goro;
pub mod rt;
pub mod sys;
