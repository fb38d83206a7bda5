//! Load and long-running tests: soak, memory, upstream limits, server abuse.
//!
//! Before this binary each of them was a binary of its own, run one after
//! the other; here [`ALONE`] keeps the measuring tests from running at the
//! same time, so that none measures latencies, memory or rates while another
//! loads the machine.

#[path = "../support/mod.rs"]
mod support;

// The parts of tests/support this binary uses besides support/mod.rs.
#[path = "../support/demo_pages.rs"]
mod demo_pages;
#[path = "../support/exporter_sigterm.rs"]
mod exporter_sigterm;
#[path = "../support/raw_http.rs"]
mod raw_http;

mod proc_stats;

mod memory;
mod server_abuse;
mod soak;
mod upstream_limits;

/// Held by each measuring test of this binary for its whole run.
pub static ALONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
