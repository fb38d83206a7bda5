//! The upstream faults `upstream_faults` and `streaming_limits` leave
//! out, one by one, as a user sees them: the poll ends within a bounded
//! time, `/metrics` answers within 500 ms while it runs, the request counter,
//! `evolux_campaign_up` and `evolux_up` say what happened, a failed campaign
//! keeps its last good counts (and its last success time), and a warn line
//! names the campaign and the cause without the token or personal data.
//!
//! Each test has a campaign UUID of its own, so that its log lines can be
//! picked out of the capture that the tests of this binary share.

use std::time::{Duration, SystemTime};

use crate::app::*;
use crate::faults::*;
use crate::mock_api::*;
use crate::support::metrics::Metrics;
use crate::support::*;
use evolux_exporter::config::Config;
use evolux_exporter::evolux::client::MAX_PAGES;
use evolux_exporter::model::{Failure, Reason};
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

mod bodies;
mod network;
mod statuses;

/// Records served by the healthy upstream before the fault...
const BEFORE: usize = 9;
/// ...and after it.
const AFTER: usize = 4;

/// A page of `n` records of `campaign` (with names, phones and CPFs) under
/// TEMPLATE_1, and the count per state.
fn page(campaign: &str, n: usize) -> (Value, [u64; 6]) {
    let (recs, counts) = records(campaign, TEMPLATE_1, n);
    (json!({"data": recs, "links": {"next": null}}), counts)
}

fn good_response(campaign: &str, n: usize) -> (ResponseTemplate, [u64; 6]) {
    let (body, counts) = page(campaign, n);
    (ResponseTemplate::new(200).set_body_json(body), counts)
}

/// An exporter for `campaigns` against `url`, with `args` on top of
/// `config()`'s and `tweak` applied to the result.
async fn start_app(
    url: &str,
    campaigns: &[&str],
    args: &[&str],
    tweak: impl FnOnce(&mut Config),
) -> TestApp {
    let mut argv = vec![format!("--evolux.url={url}")];
    argv.extend(campaigns.iter().map(|c| format!("--campaign={c}")));
    argv.extend(args.iter().map(|a| a.to_string()));
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let mut config = config(&argv);
    tweak(&mut config);
    spawn_app(config).await
}

fn assert_counts(m: &Metrics, campaign: &str, template: &str, expected: &[(&str, u64)]) {
    let got: Vec<(String, u64)> = m
        .samples("evolux_campaign_subscribers")
        .filter(|(l, _)| {
            l.iter().any(|(k, v)| k == "campaign" && v == campaign)
                && l.iter().any(|(k, v)| k == "template" && v == template)
        })
        .map(|(l, v)| {
            let state = l.into_iter().find(|(k, _)| k == "state").unwrap().1;
            (state, v as u64)
        })
        .collect();
    let mut got = got;
    got.sort();
    let mut want: Vec<(String, u64)> = expected.iter().map(|(s, n)| (s.to_string(), *n)).collect();
    want.sort();
    assert_eq!(got, want, "{campaign}/{template}\n{}", m.0);
}

/// The six states with the counts of `records()`.
fn six(counts: [u64; 6]) -> Vec<(&'static str, u64)> {
    STATES.iter().copied().zip(counts).collect()
}

fn subscriber_series(m: &Metrics, campaign: &str) -> usize {
    m.samples("evolux_campaign_subscribers")
        .filter(|(l, _)| l.iter().any(|(k, v)| k == "campaign" && v == campaign))
        .count()
}

fn last_success(m: &Metrics, campaign: &str) -> Option<f64> {
    m.get(
        "evolux_campaign_last_success_timestamp_seconds",
        &[("campaign", campaign)],
    )
}

/// One warn line per failed poll of `campaign` so far, `times` of them, the
/// last one naming `reason`; and no line anywhere leaks a secret.
fn assert_failure_logged(campaign: &str, times: usize, reason: Reason) {
    let lines = logs().lines_with(&[
        &format!("campaign={campaign}"),
        "campaign poll failed; keeping its last good counts",
    ]);
    assert_eq!(
        lines.len(),
        times,
        "failure lines for {campaign}:\n{}",
        logs().text()
    );
    let last = lines.last().unwrap();
    assert!(last.contains("level=warn"), "{last}");
    let label = format!("reason={}", reason.metric_label());
    assert!(
        last.contains(&label),
        "the log line should say {label}: {last}"
    );
    logs().assert_clean();
}

/// The error text must not hold the token, the query or personal data either.
/// Why the campaign's last poll failed, as the snapshot says.
fn campaign_error(app: &TestApp, campaign: &str) -> Option<Failure> {
    app.poller
        .published()
        .snapshot()
        .campaigns
        .get(campaign)
        .and_then(|s| s.error.clone())
}

/// The campaign's last poll failed as `reason`, the failure is counted
/// under that reason, and its message leaks nothing.
async fn assert_failed_as(app: &TestApp, campaign: &str, reason: Reason) {
    let failure = campaign_error(app, campaign);
    assert_eq!(
        failure.as_ref().map(|f| f.reason),
        Some(reason),
        "{failure:?}"
    );
    let m = app.scrape().await;
    let counted = m.get(
        "evolux_campaign_poll_errors_total",
        &[("campaign", campaign), ("reason", reason.metric_label())],
    );
    assert!(counted.is_some_and(|n| n >= 1.0), "{}", m.0);
    let error = failure.map(|f| f.message).unwrap_or_default();
    for secret in PERSONAL_DATA.iter().chain(NEVER_SHOWN.iter()) {
        assert!(
            !error.contains(secret),
            "the error leaks {secret:?}: {error}"
        );
    }
}

/// The exporter after a first good poll of a campaign of its own on a
/// wiremock upstream.
struct Rig {
    app: TestApp,
    upstream: Option<MockServer>,
    campaign: String,
    before: [u64; 6],
    last_success: f64,
}

async fn rig(args: &[&str], tweak: impl FnOnce(&mut Config)) -> Rig {
    rig_on(MockServer::start().await, args, tweak).await
}

async fn rig_on(upstream: MockServer, args: &[&str], tweak: impl FnOnce(&mut Config)) -> Rig {
    logs();
    let campaign = new_campaign();
    let (ok, before) = good_response(&campaign, BEFORE);
    upstream.register(report(&campaign).respond_with(ok)).await;
    let app = start_app(&upstream.uri(), &[&campaign], args, tweak).await;
    app.wait_ready().await;
    let m = app.scrape().await;
    assert_eq!(m.get("evolux_up", &[]), Some(1.0), "first poll\n{}", m.0);
    assert_counts(&m, &campaign, TEMPLATE_1, &six(before));
    let last_success = last_success(&m, &campaign).expect("a last success");
    Rig {
        app,
        upstream: Some(upstream),
        campaign,
        before,
        last_success,
    }
}

impl Rig {
    fn upstream(&self) -> &MockServer {
        self.upstream.as_ref().expect("the upstream is running")
    }

    /// Replaces the upstream's behaviour with `mocks`.
    async fn arm(&self, mocks: impl IntoIterator<Item = Mock>) {
        self.upstream().reset().await;
        for m in mocks {
            self.upstream().register(m).await;
        }
    }

    /// Requests the upstream received since it was last armed.
    async fn requests(&self) -> usize {
        self.upstream().received_requests().await.unwrap().len()
    }

    /// The campaign's last poll failed as `reason` (see [`assert_failed_as`]).
    async fn assert_failed_as(&self, reason: Reason) {
        assert_failed_as(&self.app, &self.campaign, reason).await;
    }

    /// What every scrape shows until the poll under test publishes.
    fn as_before(&self) -> impl FnMut(&Metrics) + '_ {
        |m: &Metrics| {
            assert_eq!(m.get("evolux_up", &[]), Some(1.0), "{}", m.0);
            assert_eq!(
                m.get("evolux_campaign_up", &[("campaign", &self.campaign)]),
                Some(1.0)
            );
            assert_counts(m, &self.campaign, TEMPLATE_1, &six(self.before));
        }
    }

    /// Down, with the first poll's counts and last success time.
    fn assert_kept(&self, m: &Metrics, what: &str) {
        assert_eq!(
            m.get("evolux_campaign_up", &[("campaign", &self.campaign)]),
            Some(0.0),
            "{what}\n{}",
            m.0
        );
        assert_eq!(m.get("evolux_up", &[]), Some(0.0), "{what}");
        assert_counts(m, &self.campaign, TEMPLATE_1, &six(self.before));
        assert_eq!(
            subscriber_series(m, &self.campaign),
            6,
            "{what}: only the kept series"
        );
        assert_eq!(
            last_success(m, &self.campaign),
            Some(self.last_success),
            "{what}: the last success time stays that of the good poll"
        );
    }

    /// A poll against a healthy upstream brings the campaign back.
    async fn assert_recovers(&self, what: &str) {
        let (ok, after) = good_response(&self.campaign, AFTER);
        self.arm([report(&self.campaign).respond_with(ok)]).await;
        let run = poll_scraping(&self.app, Duration::from_secs(5), |_| {}).await;
        let m = &run.metrics;
        assert_eq!(m.get("evolux_up", &[]), Some(1.0), "{what}: recovery");
        assert_eq!(
            m.get("evolux_campaign_up", &[("campaign", &self.campaign)]),
            Some(1.0),
            "{what}: recovery"
        );
        assert_counts(m, &self.campaign, TEMPLATE_1, &six(after));
        assert_eq!(run.codes, codes(&[("200", 1.0)]), "{what}: recovery");
    }
}

/// A body that echoes the token and a subscriber, as an error page might.
fn echoing_body() -> Value {
    json!({
        "error": "nope",
        "authorization": format!("Bearer {TOKEN}"),
        "subscriber": {"name": "Maria do Carmo", "phone_number": "5511998811220"}
    })
}

struct StatusFault {
    status: u16,
    /// Requests the poll makes: 1, or 1 + `--evolux.max-retries` (3).
    requests: usize,
    reason: Reason,
}

const STATUS_FAULTS: [StatusFault; 5] = [
    StatusFault {
        status: 403,
        requests: 1,
        reason: Reason::Forbidden,
    },
    StatusFault {
        status: 404,
        requests: 1,
        reason: Reason::NotFound,
    },
    StatusFault {
        status: 429,
        requests: 4,
        reason: Reason::RateLimited,
    },
    StatusFault {
        status: 500,
        requests: 4,
        reason: Reason::ServerError,
    },
    StatusFault {
        status: 502,
        requests: 4,
        reason: Reason::ServerError,
    },
];
