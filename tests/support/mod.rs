//! Support shared by the three test binaries (`it`, `heavy`, `deploy`).
//!
//! Each binary's `main.rs` includes this module with
//! `#[path = "../support/mod.rs"] mod support;`: what is here is used by all
//! three. The other files of this directory are used by some of them only;
//! a binary declares those it uses with `#[path = "../support/<file>.rs"]`
//! (see each `main.rs`), so that nothing in a binary is dead code:
//!
//! - `exporter_sigterm.rs`: SIGTERM to a started exporter (`it`, `heavy`);
//! - `exporter_once.rs`: the binary run to completion (`it`, `deploy`);
//! - `mock_api.rs`: the mock Evolux API on wiremock (`it`, `deploy`);
//! - `app.rs`: the exporter in-process, on a wiremock upstream (`it`);
//! - `ranged.rs`, `faults.rs`: the mock API's ranged responder and the fault
//!   helpers (`it`);
//! - `demo_pages.rs`: what the demo API serves for a query, counted page by
//!   page (`it`, `heavy`);
//! - `raw_http.rs`: HTTP/1.1 byte for byte over TCP (`heavy`);
//! - `tools.rs`, `dashboard_queries.rs`, `prometheus.rs`: outside tools
//!   (`deploy`).
//!
//! `api.rs` (the states, from the crate, and the report path) is also
//! included by the benchmarks.

use std::future::Future;
use std::time::Duration;

mod api;
pub mod exporter;
pub mod metrics;

pub use api::{REPORT_PATH, STATES};

/// A campaign UUID for tests.
pub const CAMPAIGN_A: &str = "f45d98dc-ac5e-48f2-9c01-ebe18f86d28b";
/// Two template UUIDs for tests.
pub const TEMPLATE_1: &str = "70f4ddb6-ece1-4e13-ab90-3698d9d72bf0";
pub const TEMPLATE_2: &str = "1b2e9c1e-5f8a-4c55-9a59-2f6e0c3d7a10";

/// Polls `cond` every 20 ms until it holds; panics after `deadline`.
pub async fn wait_for<F, Fut>(what: &str, deadline: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = tokio::time::Instant::now();
    loop {
        if cond().await {
            return;
        }
        if start.elapsed() > deadline {
            panic!("timed out after {deadline:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
