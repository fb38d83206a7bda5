//! Load and long-running tests: soak, memory, upstream limits, server abuse.

#[path = "../support/mod.rs"]
mod support;

mod memory;
mod server_abuse;
mod soak;
mod upstream_limits;
