//! The API's vocabulary, shared by the tests (through `support/mod.rs`) and
//! the benchmarks (`#[path = "../tests/support/api.rs"]`).

/// The six states of a subscriber, from the crate: the one place the tests
/// and the benchmarks name the module they live in.
pub use evolux_exporter::model::STATES;

/// The report endpoint's path: the crate's (relative to the base URL),
/// with its leading slash.
pub const REPORT_PATH: &str = "/api/v1/reports/campaign/subscribers";

// The build fails if REPORT_PATH is not "/" + the crate's report path.
const _: () = {
    let (ours, the_crate) = (
        REPORT_PATH.as_bytes(),
        evolux_exporter::evolux::query::REPORT_PATH.as_bytes(),
    );
    assert!(ours.len() == the_crate.len() + 1 && ours[0] == b'/');
    let mut i = 0;
    while i < the_crate.len() {
        assert!(ours[i + 1] == the_crate[i]);
        i += 1;
    }
};
