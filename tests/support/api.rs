//! The API's vocabulary, shared by the tests (through `support/mod.rs`) and
//! the benchmarks (`#[path = "../tests/support/api.rs"]`).

/// The six states of a subscriber, from the crate: the one place the tests
/// and the benchmarks name the module they live in.
pub use evolux_exporter::aggregate::STATES;

/// The report endpoint's path.
pub const REPORT_PATH: &str = "/api/v1/reports/campaign/subscribers";
