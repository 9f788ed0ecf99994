//! Test support shared by Deckhand's suites (engine, CLI, chaos, benchmarks).

pub mod fault;
pub mod pg;
pub mod proxy;

pub use fault::{Fault, FaultKind, Plan};
pub use proxy::FaultProxy;
