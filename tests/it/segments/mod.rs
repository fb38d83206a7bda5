//! Segmented polling end to end, against an upstream that applies `start`
//! and `end` as the API document says: the queries tile the insertion axis
//! at the millisecond, changes show within their bounds, a server that
//! reads the range otherwise is caught by verification, gzip is asked for
//! and decoded, and a `Retry-After` holds back every read.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use crate::app::*;
use crate::mock_api::*;
use crate::ranged::Ranged;
use crate::support::metrics::Metrics;
use crate::support::*;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

mod limits;
mod reads;

pub(crate) const HOUR_MS: i64 = 3_600_000;
pub(crate) const DAY_MS: i64 = 24 * HOUR_MS;

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The end of the second `ms` falls in, or of the one before (how cuts are placed).
fn second_end(ms: i64) -> i64 {
    ms - (ms + 1).rem_euclid(1000)
}

pub(crate) async fn ranged_upstream(ranged: &Ranged) -> MockServer {
    let upstream = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(REPORT_PATH))
        .respond_with(ranged.clone())
        .mount(&upstream)
        .await;
    upstream
}

pub(crate) fn subscribers(m: &Metrics, campaign: &str, state: &str) -> f64 {
    m.get(
        "evolux_campaign_subscribers",
        &[("campaign", campaign), ("state", state)],
    )
    .unwrap_or(0.0)
}
