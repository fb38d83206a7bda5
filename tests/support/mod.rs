//! Support shared by the three test binaries (`it`, `heavy`, `deploy`).
//!
//! Each binary's `main.rs` includes this module with
//! `#[path = "../support/mod.rs"] mod support;`: what is here is used by all
//! three. The other files of this directory are used by some of them only;
//! a binary declares those it uses with `#[path = "../support/<file>.rs"]`
//! (see each `main.rs`), so that nothing in a binary is dead code:
//!
//! - `exporter_sigterm.rs`: talking to a started exporter, SIGTERM (`it`, `heavy`);
//! - `exporter_once.rs`: the binary run to completion (`it`, `deploy`);
//! - `app.rs`: the exporter in-process, on a wiremock upstream (`it`, `deploy`);
//! - `mock_api.rs`: the mock Evolux API on wiremock (`it`, `deploy`);
//! - `ranged.rs`, `faults.rs`: its ranged responder and fault helpers (`it`);
//! - `raw_http.rs`: HTTP/1.1 byte for byte over TCP (`heavy`);
//! - `tools.rs`, `dashboards.rs`, `prometheus.rs`: outside tools (`deploy`).

use std::future::Future;
use std::time::Duration;

pub mod exporter;
pub mod metrics;

/// The six states of a subscriber, from the crate: the one place the tests
/// name the module they live in.
pub use evolux_exporter::aggregate::STATES;

/// The report endpoint's path.
pub const REPORT_PATH: &str = "/api/v1/reports/campaign/subscribers";

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
