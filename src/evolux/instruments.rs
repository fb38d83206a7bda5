//! The client's own instruments: requests by status, their duration, body
//! bytes and records. Registered by [`crate::metrics`] into its registry.

use std::time::Duration;

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts, Registry};

/// The exporter's counters about its requests to the API.
#[derive(Clone, Debug)]
pub struct ApiMetrics {
    requests: IntCounterVec,
    duration: Histogram,
    bytes: IntCounter,
    records: IntCounter,
}

impl ApiMetrics {
    /// Creates the instruments and registers them in `registry`.
    pub fn register(registry: &Registry) -> Result<ApiMetrics, prometheus::Error> {
        let requests = IntCounterVec::new(
            Opts::new(
                "evolux_api_requests_total",
                "Requests to the Evolux API, by HTTP status code, or code=\"error\" when no response came back.",
            ),
            &["code"],
        )?;
        let duration = Histogram::with_opts(
            HistogramOpts::new(
                "evolux_api_request_duration_seconds",
                "Duration of requests to the Evolux API, body included.",
            )
            .buckets(vec![
                0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
            ]),
        )?;
        let bytes = IntCounter::new(
            "evolux_api_response_bytes_total",
            "Body bytes received from the Evolux API, as on the wire (gzip-compressed when the server compresses).",
        )?;
        let records = IntCounter::new(
            "evolux_api_records_total",
            "Records read from Evolux API responses.",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(bytes.clone()))?;
        registry.register(Box::new(records.clone()))?;
        Ok(ApiMetrics {
            requests,
            duration,
            bytes,
            records,
        })
    }

    /// Counts one request by its status code, or `error` when no response came.
    pub fn request(&self, code: &str) {
        self.requests.with_label_values(&[code]).inc();
    }

    /// Records how long a request took.
    pub fn observe(&self, d: Duration) {
        self.duration.observe(d.as_secs_f64());
    }

    /// Counts body bytes received, as on the wire (compressed or not).
    pub fn response_bytes(&self, n: u64) {
        self.bytes.inc_by(n);
    }

    /// Counts records read from a page.
    pub fn records(&self, n: u64) {
        self.records.inc_by(n);
    }
}
