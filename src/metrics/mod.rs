//! Turning a [`Snapshot`] and the exporter's own counters into exposition
//! bytes (text format 0.0.4, via the `prometheus` crate), once per poll.
//!
//! `/metrics` then serves those bytes as they are, plain or gzipped: a
//! scrape costs a pointer copy, never an API call or a render, plus the
//! few hundred bytes of [`live`] (process figures, scrapes, reloads).

pub mod live;
mod snapshot;

pub use snapshot::snapshot_families;

use std::io::Write;
use std::time::SystemTime;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use prometheus::proto::{Gauge, LabelPair, Metric, MetricFamily, MetricType};
use prometheus::{Encoder, IntCounterVec, Opts, Registry, TextEncoder};

use crate::build_info::BUILD;
use crate::evolux::ApiMetrics;
use crate::model::{Reason, Snapshot};

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub(crate) const REFRESH_NOTE: &str =
    "Refreshed by a background poll every poll.interval, not per scrape.";

/// The long-lived metrics of the exporter itself.
#[derive(Debug)]
pub struct SelfMetrics {
    registry: Registry,
    /// The views' series of the poller's counters, merged into the
    /// families of `registry` when rendered.
    views: Registry,
    /// Handed to the API client.
    pub api: ApiMetrics,
    /// The poller's.
    pub poll: PollMetrics,
}

/// What a poll counter counts under: a campaign (its UUID, empty in
/// discovery) or a view (its name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    /// `campaign="<uuid>"`.
    Campaign(String),
    /// `view="<name>"`.
    View(String),
}

/// The poller's counters. A view's are the campaigns' families with a
/// `view` label where those have a `campaign` one: kept in a registry of
/// their own (two label sets cannot share one vector) and merged into the
/// same families when rendered.
#[derive(Clone, Debug)]
pub struct PollMetrics {
    mismatches: IntCounterVec,
    errors: IntCounterVec,
    view_mismatches: IntCounterVec,
    view_errors: IntCounterVec,
}

impl PollMetrics {
    fn register(registry: &Registry, views: &Registry) -> Result<PollMetrics, prometheus::Error> {
        let mismatches_opts = || {
            Opts::new(
                MISMATCHES,
                "Verifications (and first reads' two-half checks) whose unsegmented read disagreed with the sum of the parts; the campaign (or view) is then read whole until one agrees, or, for a silent cap, counted from segments split below it.",
            )
        };
        let errors_opts = || {
            Opts::new(
                POLL_ERRORS,
                "Failed reads of the campaign's (or view's) polls, by reason: auth, forbidden, not_found, rate_limited, server_error, http_other, timeout, connection, tls, bad_body, too_large, deadline, incomplete. In discovery, campaign=\"\".",
            )
        };
        let mismatches = IntCounterVec::new(mismatches_opts(), &["campaign"])?;
        let errors = IntCounterVec::new(errors_opts(), &["campaign", "reason"])?;
        let view_mismatches = IntCounterVec::new(mismatches_opts(), &["view"])?;
        let view_errors = IntCounterVec::new(errors_opts(), &["view", "reason"])?;
        registry.register(Box::new(mismatches.clone()))?;
        registry.register(Box::new(errors.clone()))?;
        views.register(Box::new(view_mismatches.clone()))?;
        views.register(Box::new(view_errors.clone()))?;
        Ok(PollMetrics {
            mismatches,
            errors,
            view_mismatches,
            view_errors,
        })
    }

    /// Counts a verification of `subject` that disagreed with its segments.
    pub fn verification_mismatch(&self, subject: &Subject) {
        match subject {
            Subject::Campaign(c) => self.mismatches.with_label_values(&[c]).inc(),
            Subject::View(v) => self.view_mismatches.with_label_values(&[v]).inc(),
        }
    }

    /// Counts a failed read of `subject` under `reason`.
    pub fn poll_error(&self, subject: &Subject, reason: Reason) {
        let reason = reason.metric_label();
        match subject {
            Subject::Campaign(c) => self.errors.with_label_values(&[c, reason]).inc(),
            Subject::View(v) => self.view_errors.with_label_values(&[v, reason]).inc(),
        }
    }
}

const MISMATCHES: &str = "evolux_campaign_verification_mismatches_total";
const POLL_ERRORS: &str = "evolux_campaign_poll_errors_total";

impl SelfMetrics {
    /// Registers the counters, the build info and the staleness bound
    /// (`poll.max-interval`, in seconds).
    pub fn new(max_interval_seconds: f64) -> Result<SelfMetrics, prometheus::Error> {
        let registry = Registry::new();
        let labels = BUILD.labels();
        let build_info = prometheus::IntGaugeVec::new(
            Opts::new(
                "evolux_exporter_build_info",
                "Version, git revision and branch, Rust toolchain and platform of the exporter, as --version prints them; always 1.",
            ),
            &labels.map(|(name, _)| name),
        )?;
        build_info
            .with_label_values(&labels.map(|(_, value)| value))
            .set(1);
        let max_interval = prometheus::Gauge::new(
            "evolux_poll_max_interval_seconds",
            "The staleness bound (poll.max-interval): no counted subscriber goes longer without being read again.",
        )?;
        max_interval.set(max_interval_seconds);
        registry.register(Box::new(build_info))?;
        registry.register(Box::new(max_interval))?;
        let api = ApiMetrics::register(&registry)?;
        let views = Registry::new();
        let poll = PollMetrics::register(&registry, &views)?;
        Ok(SelfMetrics {
            registry,
            views,
            api,
            poll,
        })
    }
}

/// One rendering of `/metrics`, shared by every scrape until the next poll.
#[derive(Clone, Debug, Default)]
pub struct Exposition {
    /// The text format.
    pub plain: Bytes,
    /// The same, gzipped.
    pub gzip: Bytes,
}

/// Renders the snapshot (the series cap already applied to it, see
/// [`Snapshot::cap_series`]) and the self-metrics.
pub fn render(snapshot: &Snapshot, self_metrics: &SelfMetrics) -> Exposition {
    let mut families = snapshot_families(snapshot);
    families.extend(self_metrics.registry.gather());
    for mut view_family in self_metrics.views.gather() {
        match families.iter_mut().find(|f| f.name() == view_family.name()) {
            Some(f) => f.mut_metric().extend(view_family.take_metric()),
            None => families.push(view_family),
        }
    }
    families.sort_by(|a, b| a.name().cmp(b.name()));
    let mut plain = Vec::with_capacity(64 * 1024);
    // Encoding into a Vec cannot fail but for a family without metrics,
    // which gather() and snapshot_families() never produce.
    if let Err(e) = TextEncoder::new().encode(&families, &mut plain) {
        tracing::error!(error = %e, "rendering metrics failed");
    }
    let gzip = gzip(&plain);
    Exposition {
        plain: Bytes::from(plain),
        gzip: Bytes::from(gzip),
    }
}

/// `data` as one gzip member, fast compression.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::with_capacity(data.len() / 8 + 64), Compression::fast());
    // Writing into a Vec never fails.
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

pub(crate) fn family(name: &str, help: &str, kind: MetricType) -> MetricFamily {
    let mut f = MetricFamily::default();
    f.set_name(name.to_string());
    f.set_help(help.to_string());
    f.set_field_type(kind);
    f
}

pub(crate) fn gauge(labels: &[(&str, &str)], value: f64) -> Metric {
    let mut g = Gauge::default();
    g.set_value(value);
    let mut m = Metric::from_gauge(g);
    m.set_label(
        labels
            .iter()
            .map(|(k, v)| {
                let mut l = LabelPair::default();
                l.set_name((*k).to_string());
                l.set_value((*v).to_string());
                l
            })
            .collect(),
    );
    m
}

pub(crate) fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::evolux::fields::ResponseLayout;
    use crate::model::{CampaignStatus, Failure, Reason, Tally};

    fn snapshot() -> Snapshot {
        let layout = ResponseLayout::default();
        let mut t = Tally::new(Some("c1"), 1000);
        for rec in [
            r#"{"state":"sent","template_uuid":"t1","template_name":"Boas \"vindas\"\n"}"#,
            r#"{"state":"error","template_uuid":"t2"}"#,
        ] {
            t.add(&layout.extract(rec.as_bytes()).unwrap().unwrap());
        }
        let (mut counted, names) = t.into_campaigns();
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let c1 = CampaignStatus {
            name: Some("Black Friday".into()),
            up: true,
            last_success: Some(at),
            poll_duration: Some(Duration::from_millis(1500)),
            counts: counted.pop().map(|(_, c, _)| std::sync::Arc::new(c)),
            error: None,
            segments: 7,
            refreshed: Some(at - Duration::from_secs(600)),
            failing_since: None,
        };
        let c2 = CampaignStatus {
            up: false,
            poll_duration: Some(Duration::from_millis(20)),
            error: Some(Failure::new(Reason::ServerError, "HTTP 500")),
            ..CampaignStatus::default()
        };
        Snapshot {
            campaigns: [("c1".to_string(), c1), ("c2".to_string(), c2)].into(),
            template_names: names.into_iter().collect(),
            up: Some(false),
            ..Snapshot::default()
        }
    }

    #[test]
    fn renders_the_design_metrics() {
        let self_metrics = SelfMetrics::new(1800.0).unwrap();
        self_metrics.api.request("200");
        let text = String::from_utf8(render(&snapshot(), &self_metrics).plain.to_vec()).unwrap();
        for line in [
            "# TYPE evolux_campaign_subscribers gauge",
            r#"evolux_campaign_subscribers{campaign="c1",template="t1",state="sent"} 1"#,
            r#"evolux_campaign_subscribers{campaign="c1",template="t1",state="pending"} 0"#,
            r#"evolux_campaign_subscribers{campaign="c1",template="t2",state="error"} 1"#,
            r#"evolux_campaign_info{campaign="c1",campaign_name="Black Friday"} 1"#,
            r#"evolux_template_info{template="t1",template_name="Boas \"vindas\""} 1"#,
            "evolux_up 0",
            r#"evolux_campaign_up{campaign="c1"} 1"#,
            r#"evolux_campaign_up{campaign="c2"} 0"#,
            r#"evolux_campaign_last_success_timestamp_seconds{campaign="c1"} 1700000000"#,
            r#"evolux_poll_duration_seconds{campaign="c1"} 1.5"#,
            r#"evolux_campaign_segments{campaign="c1"} 7"#,
            r#"evolux_campaign_refreshed_timestamp_seconds{campaign="c1"} 1699999400"#,
            "evolux_poll_max_interval_seconds 1800",
            "evolux_api_response_bytes_total 0",
            "evolux_api_records_total 0",
            r#"evolux_api_requests_total{code="200"} 1"#,
            "# TYPE evolux_api_request_duration_seconds histogram",
            "# TYPE evolux_exporter_build_info gauge",
            "evolux_series_dropped 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert_eq!(text.matches("evolux_campaign_subscribers{").count(), 12);
        assert!(!text.contains(r#"evolux_campaign_last_success_timestamp_seconds{campaign="c2"}"#));
    }

    #[test]
    fn the_series_cap_drops_whole_templates_and_says_so() {
        let self_metrics = SelfMetrics::new(1800.0).unwrap();
        let capped = snapshot().cap_series(6);
        assert_eq!((capped.series_dropped, capped.records_dropped), (6, 1));
        let e = render(&capped, &self_metrics);
        let text = String::from_utf8(e.plain.to_vec()).unwrap();
        assert_eq!(text.matches("evolux_campaign_subscribers{").count(), 6);
        assert!(text.contains("evolux_series_dropped 6"));
    }

    #[test]
    fn gzip_variant_holds_the_same_bytes() {
        let self_metrics = SelfMetrics::new(1800.0).unwrap();
        let e = render(&snapshot(), &self_metrics);
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&e.gzip[..]), &mut out)
            .unwrap();
        assert_eq!(out, e.plain);
    }

    #[test]
    fn a_build_from_a_git_checkout_knows_its_revision() {
        let checkout = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".git");
        let revision = option_env!("EVOLUX_GIT_REVISION");
        if checkout.exists() {
            let r = revision.expect("build.rs sets the revision from git");
            assert!(
                r.len() >= 7 && r.chars().all(|c| c.is_ascii_hexdigit()),
                "{r}"
            );
        }
    }
}
