//! The exporter against an upstream that misbehaves. Every fault ends the
//! poll with `evolux_campaign_up 0` and `evolux_up 0`, counts the request by
//! its code, keeps the last good counts, leaves `/metrics` answering at once,
//! and the next poll against a healthy upstream recovers.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::app::*;
use common::faults::{codes, impatient_client, requests_by_code, scrape_now};
use evolux_exporter::config::Config;
use evolux_exporter::model::{Failure, Reason};
use serde_json::{Value, json};
use wiremock::matchers::{header, path, query_param};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

const STATES: [&str; 6] = ["pending", "scheduled", "sent", "dnd", "completed", "error"];

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
            let s = (i * 7 + i / 3) % 6;
            per_state[s] += 1;
            json!({"state": STATES[s], "template_uuid": TEMPLATE_1})
        })
        .collect();
    (json!({"data": recs, "links": {"next": null}}), per_state)
}

/// Requests for one campaign's report.
fn report(campaign: &str) -> MockBuilder {
    Mock::given(path(REPORT_PATH)).and(query_param("campaigns[]", campaign))
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

    /// A poll against a healthy upstream gives up=1 and its new counts.
    async fn assert_recovers(&self) {
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
            codes(&[("200", self.campaigns.len() as f64)]),
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
    rig.assert_recovers().await;
    out
}

fn html_page() -> &'static str {
    "<!DOCTYPE html><html><head><title>Maintenance</title></head><body><h1>Down for maintenance</h1></body></html>"
}

#[tokio::test]
async fn unauthorized_is_not_retried() {
    fault(
        "401",
        &[],
        |_| {},
        vec![report(CAMPAIGN_A).respond_with(ResponseTemplate::new(401))],
        ("401", 1),
        Reason::Auth,
    )
    .await;
}

#[tokio::test]
async fn rate_limit_is_retried_after_retry_after_and_then_succeeds() {
    let rig = start(&[CAMPAIGN_A], &[], |_| {}).await;
    let (ok, after) = good(CAMPAIGN_A, AFTER);
    let out = rig
        .poll_with([
            report(CAMPAIGN_A)
                .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
                .up_to_n_times(1)
                .with_priority(1),
            ok,
        ])
        .await;
    assert!(
        out.took >= Duration::from_millis(900),
        "the retry came {:?} after the 429, before its Retry-After: 1",
        out.took
    );
    assert_eq!(out.codes, codes(&[("429", 1.0), ("200", 1.0)]));
    assert_eq!(out.requests, 2);
    let m = &out.metrics;
    assert_eq!(m.get("evolux_up", &[]), Some(1.0), "{}", m.0);
    assert_eq!(
        m.get("evolux_campaign_up", &[("campaign", CAMPAIGN_A)]),
        Some(1.0)
    );
    assert_counts(m, CAMPAIGN_A, after, "after the retry");
}

#[tokio::test]
async fn persistent_rate_limit_fails_after_max_retries() {
    let out = fault(
        "429 persisting",
        &["--evolux.max-retries=1"],
        |_| {},
        vec![
            report(CAMPAIGN_A)
                .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1")),
        ],
        ("429", 2),
        Reason::RateLimited,
    )
    .await;
    assert!(
        out.took >= Duration::from_millis(900),
        "Retry-After: 1 honoured: {:?}",
        out.took
    );
}

#[tokio::test]
async fn persistent_server_error_is_retried_max_retries_times() {
    // config() leaves --evolux.max-retries at its default, 3.
    fault(
        "500 persisting",
        &[],
        |c| assert_eq!(c.evolux.max_retries, 3),
        vec![
            report(CAMPAIGN_A)
                .respond_with(ResponseTemplate::new(500).set_body_string("internal error")),
        ],
        ("500", 4),
        Reason::ServerError,
    )
    .await;
}

#[tokio::test]
async fn request_timeout_counts_as_error() {
    let (resp, _) = good_response(AFTER);
    let out = fault(
        "timeout",
        &["--evolux.max-retries=1"],
        // config() passes --evolux.timeout=2s and clap refuses the flag
        // twice: set the field instead.
        |c| c.evolux.timeout = Duration::from_millis(500),
        vec![report(CAMPAIGN_A).respond_with(resp.set_delay(Duration::from_secs(3)))],
        ("error", 2),
        Reason::Timeout,
    )
    .await;
    assert!(
        out.took < Duration::from_millis(2500),
        "two 500 ms timeouts took {:?}",
        out.took
    );
}

#[tokio::test]
async fn html_maintenance_page_fails_the_poll() {
    fault(
        "HTML page",
        &[],
        |_| {},
        vec![
            report(CAMPAIGN_A)
                .respond_with(ResponseTemplate::new(200).set_body_raw(html_page(), "text/html")),
        ],
        ("200", 1),
        Reason::BadBody,
    )
    .await;
}

#[tokio::test]
async fn html_page_labelled_as_json_is_caught_by_the_scanner() {
    fault(
        "HTML page as application/json",
        &[],
        |_| {},
        vec![report(CAMPAIGN_A).respond_with(
            ResponseTemplate::new(200).set_body_raw(html_page(), "application/json"),
        )],
        ("200", 1),
        Reason::BadBody,
    )
    .await;
}

#[tokio::test]
async fn truncated_body_fails_the_poll() {
    fault(
        "truncated JSON",
        &[],
        |_| {},
        vec![
            report(CAMPAIGN_A).respond_with(
                ResponseTemplate::new(200)
                    .set_body_raw(r#"{"data":[{"state":"sent"},{"sta"#, "application/json"),
            ),
        ],
        ("200", 1),
        Reason::BadBody,
    )
    .await;
}

#[tokio::test]
async fn oversized_body_fails_the_poll() {
    let (recs, _) = records(CAMPAIGN_A, TEMPLATE_1, 20);
    let body = serde_json::to_vec(&json!({ "data": recs })).unwrap();
    assert!(body.len() > 5000, "a 5 KB body, got {}", body.len());
    let (small, _) = page(BEFORE);
    assert!(serde_json::to_vec(&small).unwrap().len() < 1024);
    fault(
        "oversized body",
        &["--evolux.max-response-size=1KiB"],
        |_| {},
        vec![
            report(CAMPAIGN_A)
                .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json")),
        ],
        ("200", 1),
        Reason::TooLarge,
    )
    .await;
}

#[tokio::test]
async fn next_link_to_another_host_is_not_followed() {
    let (mut body, _) = page(AFTER);
    body["links"]["next"] = json!(format!(
        "http://evil.example.invalid{REPORT_PATH}?campaigns%5B%5D={CAMPAIGN_A}&page=2"
    ));
    fault(
        "next link to another host",
        &[],
        |_| {},
        // The first page's records must not be counted: the query failed.
        vec![report(CAMPAIGN_A).respond_with(ResponseTemplate::new(200).set_body_json(body))],
        ("200", 1),
        Reason::BadBody,
    )
    .await;
}

#[tokio::test]
async fn next_link_looping_back_to_the_first_page_fails_quickly() {
    let (mut first, _) = page(AFTER);
    first["links"]["next"] = json!(format!("{REPORT_PATH}?campaigns%5B%5D={CAMPAIGN_A}&page=2"));
    let (mut second, _) = page(AFTER);
    // Exactly the first page's URL: the exporter sends only campaigns[].
    second["links"]["next"] = json!(format!("{REPORT_PATH}?campaigns%5B%5D={CAMPAIGN_A}"));
    let mocks = vec![
        report(CAMPAIGN_A)
            .respond_with(ResponseTemplate::new(200).set_body_json(first))
            .with_priority(5),
        report(CAMPAIGN_A)
            .and(query_param("page", "2"))
            .respond_with(ResponseTemplate::new(200).set_body_json(second))
            .with_priority(1),
    ];
    let out = tokio::time::timeout(
        Duration::from_secs(10),
        fault(
            "next links looping",
            &[],
            |_| {},
            mocks,
            ("200", 2),
            Reason::BadBody,
        ),
    )
    .await
    .expect("a looping next link ends the poll in bounded time");
    assert!(out.took < Duration::from_secs(2), "took {:?}", out.took);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_answer_at_once_while_a_poll_waits_on_a_slow_upstream() {
    let rig = start(&[CAMPAIGN_A], &["--evolux.max-retries=0"], |c| {
        c.evolux.timeout = Duration::from_secs(10)
    })
    .await;
    let (resp, after) = good_response(AFTER);
    rig.upstream.reset().await;
    rig.upstream
        .register(report(CAMPAIGN_A).respond_with(resp.set_delay(Duration::from_secs(3))))
        .await;
    let poller = rig.app.poller.clone();
    let poll = tokio::spawn(async move {
        let started = Instant::now();
        poller.poll_once().await;
        started.elapsed()
    });
    wait_for(
        "the slow request to reach the upstream",
        Duration::from_secs(5),
        || async { !rig.upstream.received_requests().await.unwrap().is_empty() },
    )
    .await;
    let mut scrapes = 0;
    while !poll.is_finished() {
        // scrape_now fails the test if /metrics takes 500 ms or more.
        let m = scrape_now(&impatient_client(), &rig.app).await;
        if poll.is_finished() {
            break;
        }
        // Still the previous poll's snapshot.
        assert_eq!(m.get("evolux_up", &[]), Some(1.0));
        assert_counts(&m, CAMPAIGN_A, rig.before, "during the slow poll");
        scrapes += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        scrapes >= 3,
        "only {scrapes} scrapes happened during the poll"
    );
    let took = poll.await.unwrap();
    assert!(took >= Duration::from_millis(2900), "took {took:?}");
    let m = scrape_now(&impatient_client(), &rig.app).await;
    assert_eq!(m.get("evolux_up", &[]), Some(1.0));
    assert_counts(&m, CAMPAIGN_A, after, "after the slow poll");
}

#[tokio::test]
async fn one_failing_campaign_does_not_stop_the_others() {
    let rig = start(
        &[CAMPAIGN_A, CAMPAIGN_B],
        &["--evolux.max-retries=1"],
        |_| {},
    )
    .await;
    let (ok_b, after_b) = good(CAMPAIGN_B, AFTER);
    let out = rig
        .poll_with([
            report(CAMPAIGN_A).respond_with(ResponseTemplate::new(500)),
            ok_b,
        ])
        .await;
    let m = &out.metrics;
    assert_down_keeping(m, CAMPAIGN_A, rig.before, "A failing");
    assert_eq!(
        m.get("evolux_campaign_up", &[("campaign", CAMPAIGN_B)]),
        Some(1.0)
    );
    assert_counts(m, CAMPAIGN_B, after_b, "B still polled");
    assert_eq!(out.codes, codes(&[("500", 2.0), ("200", 1.0)]));
    assert_eq!(
        rig.error(CAMPAIGN_A).map(|f| f.reason),
        Some(Reason::ServerError)
    );
    assert_eq!(rig.error(CAMPAIGN_B), None);
    rig.assert_recovers().await;
}

#[tokio::test]
async fn counts_are_removed_after_max_staleness_but_up_stays() {
    let spawned = Instant::now();
    let rig = start(&[CAMPAIGN_A], &["--evolux.max-retries=0"], |c| {
        c.poll.max_staleness = Duration::from_millis(300)
    })
    .await;
    let failing = || [report(CAMPAIGN_A).respond_with(ResponseTemplate::new(503))];
    let out = rig.poll_with(failing()).await;
    // The last success was after `spawned`; if this failed poll started
    // within 300 ms of it, the counts are still fresh.
    if spawned.elapsed() < Duration::from_millis(300) {
        assert_down_keeping(&out.metrics, CAMPAIGN_A, rig.before, "fresh failure");
    }
    wait_for("the counts to go stale", Duration::from_secs(5), || async {
        let out = rig.poll_with(failing()).await;
        subscriber_series(&out.metrics, CAMPAIGN_A) == 0
    })
    .await;
    let m = scrape_now(&impatient_client(), &rig.app).await;
    assert!(
        spawned.elapsed() >= Duration::from_millis(300),
        "removed before max_staleness"
    );
    assert_eq!(
        m.get("evolux_campaign_up", &[("campaign", CAMPAIGN_A)]),
        Some(0.0),
        "{}",
        m.0
    );
    assert_eq!(m.get("evolux_up", &[]), Some(0.0));
    assert_eq!(subscriber_series(&m, CAMPAIGN_A), 0, "{}", m.0);
    rig.assert_recovers().await;
}

#[tokio::test]
async fn rotated_token_file_is_picked_up_by_the_next_poll() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "old-token\n").unwrap();
    let upstream = MockServer::start().await;
    let (ok, counts) = good_response(AFTER);
    upstream
        .register(
            report(CAMPAIGN_A)
                .and(header("authorization", "Bearer new-token"))
                .respond_with(ok)
                .with_priority(1),
        )
        .await;
    upstream
        .register(
            report(CAMPAIGN_A)
                .respond_with(ResponseTemplate::new(401))
                .with_priority(10),
        )
        .await;
    // config() hands the test TOKEN over as EVOLUX_TOKEN; the file wins.
    let app = spawn_app(config(&[
        &format!("--evolux.url={}", upstream.uri()),
        &format!("--campaign={CAMPAIGN_A}"),
        &format!("--evolux.token-file={}", token_file.display()),
    ]))
    .await;
    app.wait_ready().await;
    let m = scrape_now(&impatient_client(), &app).await;
    assert_eq!(
        m.get("evolux_campaign_up", &[("campaign", CAMPAIGN_A)]),
        Some(0.0),
        "{}",
        m.0
    );
    assert_eq!(m.get("evolux_up", &[]), Some(0.0));
    assert_eq!(
        m.get("evolux_api_requests_total", &[("code", "401")]),
        Some(1.0)
    );
    assert_eq!(subscriber_series(&m, CAMPAIGN_A), 0);

    std::fs::write(&token_file, "new-token\n").unwrap();
    app.poller.poll_once().await;
    let m = scrape_now(&impatient_client(), &app).await;
    assert_eq!(
        m.get("evolux_campaign_up", &[("campaign", CAMPAIGN_A)]),
        Some(1.0),
        "{}",
        m.0
    );
    assert_eq!(m.get("evolux_up", &[]), Some(1.0));
    assert_counts(&m, CAMPAIGN_A, counts, "after the rotation");

    let auth: Vec<String> = upstream
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.headers["authorization"].to_str().unwrap().to_string())
        .collect();
    assert_eq!(auth, ["Bearer old-token", "Bearer new-token"]);
}
