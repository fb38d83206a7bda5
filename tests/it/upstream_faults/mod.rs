//! The exporter against an upstream that misbehaves. Every fault ends the
//! poll with `evolux_campaign_up 0` and `evolux_up 0`, counts the request by
//! its code, keeps the last good counts, leaves `/metrics` answering at once,
//! and the next poll against a healthy upstream recovers.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::app::*;
use crate::faults::{codes, impatient_client, requests_by_code, scrape_now};
use crate::mock_api::*;
use crate::support::metrics::Metrics;
use crate::support::*;
use evolux_exporter::config::Config;
use evolux_exporter::model::{Failure, Reason};
use serde_json::{Value, json};
use wiremock::matchers::{header, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

mod bodies_and_links;
mod statuses;
mod while_polling;

/// Records served by the healthy upstream before the fault...
const BEFORE: usize = 9;
/// ...and after it, on recovery.
const AFTER: usize = 4;

/// A page of `n` compact records (small enough that `BEFORE` of them fit in
/// 1 KiB), spread over the states; returns the body and the count per state.
/// The campaign is the query's, so the records need not name it.
fn page(n: usize) -> (Value, [u64; 6]) {
    let mut per_state = [0u64; 6];
    let recs: Vec<Value> = (0..n)
        .map(|i| {
            let s = state_index(i);
            per_state[s] += 1;
            json!({"state": STATES[s], "template_uuid": TEMPLATE_1})
        })
        .collect();
    (json!({"data": recs, "links": {"next": null}}), per_state)
}

/// A healthy answer with `n` records.
fn good_response(n: usize) -> (ResponseTemplate, [u64; 6]) {
    let (body, counts) = page(n);
    (ResponseTemplate::new(200).set_body_json(body), counts)
}

/// A healthy upstream for `campaign`, at a low priority (10) so that a
/// fault mounted at the default priority or above wins.
fn good(campaign: &str, n: usize) -> (Mock, [u64; 6]) {
    let (resp, counts) = good_response(n);
    (
        report(campaign).respond_with(resp).with_priority(10),
        counts,
    )
}

fn assert_counts(m: &Metrics, campaign: &str, expected: [u64; 6], what: &str) {
    for (state, want) in STATES.iter().zip(expected) {
        let got = m.get(
            "evolux_campaign_subscribers",
            &[
                ("campaign", campaign),
                ("template", TEMPLATE_1),
                ("state", state),
            ],
        );
        assert_eq!(
            got,
            Some(want as f64),
            "{what}: {campaign}/{state}\n{}",
            m.0
        );
    }
    assert_eq!(
        m.campaign_total(campaign),
        expected.iter().sum::<u64>() as f64,
        "{what}: {campaign} has series other than the expected ones\n{}",
        m.0
    );
}

fn subscriber_series(m: &Metrics, campaign: &str) -> usize {
    m.samples("evolux_campaign_subscribers")
        .filter(|(l, _)| l.iter().any(|(k, v)| k == "campaign" && v == campaign))
        .count()
}

/// The exporter started against a healthy upstream whose first poll counted
/// `BEFORE` records for each campaign.
struct Rig {
    app: TestApp,
    upstream: MockServer,
    campaigns: Vec<&'static str>,
    before: [u64; 6],
}

/// What one `poll_once` did.
struct Outcome {
    took: Duration,
    /// Requests the upstream received during the poll.
    requests: usize,
    /// Increments of `evolux_api_requests_total` during the poll, by code.
    codes: BTreeMap<String, f64>,
    /// `/metrics` right after the poll.
    metrics: Metrics,
}

async fn start(campaigns: &[&'static str], args: &[&str], tweak: impl FnOnce(&mut Config)) -> Rig {
    let upstream = MockServer::start().await;
    let mut before = [0; 6];
    for c in campaigns {
        let (mock, counts) = good(c, BEFORE);
        before = counts;
        upstream.register(mock).await;
    }
    let url = format!("--evolux.url={}", upstream.uri());
    let campaign_args: Vec<String> = campaigns
        .iter()
        .map(|c| format!("--campaign={c}"))
        .collect();
    let mut argv: Vec<&str> = vec![url.as_str()];
    argv.extend(campaign_args.iter().map(String::as_str));
    argv.extend_from_slice(args);
    let mut config = config(&argv);
    tweak(&mut config);
    let app = spawn_app(config).await;
    app.wait_ready().await;
    let m = scrape_now(&impatient_client(), &app).await;
    assert_eq!(m.get("evolux_up", &[]), Some(1.0), "first poll\n{}", m.0);
    for c in campaigns {
        assert_counts(&m, c, before, "first poll");
    }
    Rig {
        app,
        upstream,
        campaigns: campaigns.to_vec(),
        before,
    }
}

impl Rig {
    /// Replaces the upstream's behaviour with `mocks`, then polls once.
    async fn poll_with(&self, mocks: impl IntoIterator<Item = Mock>) -> Outcome {
        self.upstream.reset().await;
        for m in mocks {
            self.upstream.register(m).await;
        }
        let before = requests_by_code(&scrape_now(&impatient_client(), &self.app).await);
        let started = Instant::now();
        self.app.poller.poll_once().await;
        let took = started.elapsed();
        let metrics = scrape_now(&impatient_client(), &self.app).await;
        let mut codes = requests_by_code(&metrics);
        for (code, n) in codes.iter_mut() {
            *n -= before.get(code).copied().unwrap_or(0.0);
        }
        codes.retain(|_, n| *n != 0.0);
        let requests = self.upstream.received_requests().await.unwrap().len();
        Outcome {
            took,
            requests,
            codes,
            metrics,
        }
    }

    /// Why the campaign's last poll failed, as the snapshot says.
    fn error(&self, campaign: &str) -> Option<Failure> {
        self.app
            .poller
            .published()
            .snapshot()
            .campaigns
            .get(campaign)
            .and_then(|s| s.error.clone())
    }

    /// A poll against a healthy upstream gives up=1 and its new counts,
    /// with `reads` requests per campaign.
    async fn assert_recovers(&self, reads: usize) {
        let mut mocks = Vec::new();
        let mut after = [0; 6];
        for c in &self.campaigns {
            let (mock, counts) = good(c, AFTER);
            after = counts;
            mocks.push(mock);
        }
        let out = self.poll_with(mocks).await;
        let m = &out.metrics;
        assert_eq!(m.get("evolux_up", &[]), Some(1.0), "recovery\n{}", m.0);
        for c in &self.campaigns {
            assert_eq!(
                m.get("evolux_campaign_up", &[("campaign", c)]),
                Some(1.0),
                "recovery of {c}"
            );
            assert_counts(m, c, after, "recovery");
            assert_eq!(self.error(c), None, "recovery of {c}");
        }
        assert_eq!(
            out.codes,
            codes(&[("200", (reads * self.campaigns.len()) as f64)]),
            "recovery"
        );
    }
}

/// The campaign is down, and so is the exporter, with the counts of the last
/// good poll.
fn assert_down_keeping(m: &Metrics, campaign: &str, kept: [u64; 6], what: &str) {
    assert_eq!(
        m.get("evolux_campaign_up", &[("campaign", campaign)]),
        Some(0.0),
        "{what}\n{}",
        m.0
    );
    assert_eq!(m.get("evolux_up", &[]), Some(0.0), "{what}");
    assert_counts(m, campaign, kept, what);
    assert!(
        m.get(
            "evolux_campaign_last_success_timestamp_seconds",
            &[("campaign", campaign)]
        )
        .is_some(),
        "{what}: the last success is still reported"
    );
}

/// One fault, start to recovery: a single campaign, `mocks` answering the
/// poll after the first, `code` counted `n` times, and `n` requests seen.
async fn fault(
    what: &str,
    args: &[&str],
    tweak: impl FnOnce(&mut Config),
    mocks: Vec<Mock>,
    (code, n): (&str, usize),
    reason: Reason,
) -> Outcome {
    let rig = start(&[CAMPAIGN_A], args, tweak).await;
    let out = rig.poll_with(mocks).await;
    assert_down_keeping(&out.metrics, CAMPAIGN_A, rig.before, what);
    assert_eq!(out.codes, codes(&[(code, n as f64)]), "{what}");
    assert_eq!(out.requests, n, "{what}: requests the upstream saw");
    let error = rig.error(CAMPAIGN_A);
    assert_eq!(
        error.as_ref().map(|f| f.reason),
        Some(reason),
        "{what}: the failure {error:?}"
    );
    rig.assert_recovers(1).await;
    out
}

fn html_page() -> &'static str {
    "<!DOCTYPE html><html><head><title>Maintenance</title></head><body><h1>Down for maintenance</h1></body></html>"
}
