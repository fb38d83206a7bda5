//! The upstream faults `upstream_faults.rs` and `streaming_limits.rs` leave
//! out, one by one, as a user sees them: the poll ends within a bounded
//! time, `/metrics` answers within 500 ms while it runs, the request counter,
//! `evolux_campaign_up` and `evolux_up` say what happened, a failed campaign
//! keeps its last good counts (and its last success time), and a warn line
//! names the campaign and the cause without the token or personal data.
//!
//! Each test has a campaign UUID of its own, so that its log lines can be
//! picked out of the capture the tests of this file share.

mod common;

use std::time::{Duration, SystemTime};

use common::app::*;
use common::faults::*;
use evolux_exporter::config::Config;
use evolux_exporter::evolux::client::MAX_PAGES;
use evolux_exporter::model::{Failure, Reason};
use serde_json::{Value, json};
use wiremock::matchers::{path, query_param};
use wiremock::{Mock, MockBuilder, MockServer, Request, ResponseTemplate};

const STATES: [&str; 6] = ["pending", "scheduled", "sent", "dnd", "completed", "error"];

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

/// Requests for one campaign's report.
fn report(campaign: &str) -> MockBuilder {
    Mock::given(path(REPORT_PATH)).and(query_param("campaigns[]", campaign))
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

/// 403 and 404 fail at once; 429 without `Retry-After`, 500 and 502 are
/// retried with backoff, then fail. Either way the counts stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_statuses_keep_the_last_good_counts() {
    for f in STATUS_FAULTS {
        let what = format!("HTTP {}", f.status);
        let rig = rig(&[], |c| assert_eq!(c.evolux.max_retries, 3)).await;
        rig.arm([report(&rig.campaign)
            .respond_with(ResponseTemplate::new(f.status).set_body_json(echoing_body()))])
            .await;
        let run = poll_scraping(&rig.app, Duration::from_secs(5), rig.as_before()).await;
        assert_eq!(run.report.failed, 1, "{what}");
        rig.assert_kept(&run.metrics, &what);
        assert_eq!(
            run.codes,
            codes(&[(&f.status.to_string(), f.requests as f64)]),
            "{what}"
        );
        assert_eq!(rig.requests().await, f.requests, "{what}: requests");
        rig.assert_failed_as(f.reason).await;
        assert_failure_logged(&rig.campaign, 1, f.reason);
        rig.assert_recovers(&what).await;
    }
}

/// `Retry-After` as an HTTP-date: in the past it means now, a couple of
/// seconds ahead is waited for, an hour ahead (past `retry_max_delay`, 3 s in
/// tests) fails the poll at once instead of stalling it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_with_an_http_date_retry_after() {
    struct Case {
        /// Whole seconds from the next whole second.
        offset_secs: i64,
        /// Most the poll may take.
        max: Duration,
        succeeds: bool,
    }
    let cases = [
        Case {
            offset_secs: -60,
            max: Duration::from_millis(800),
            succeeds: true,
        },
        // Waited for: between 1 and 2 s from now.
        Case {
            offset_secs: 1,
            max: Duration::from_millis(2900),
            succeeds: true,
        },
        Case {
            offset_secs: 3600,
            max: Duration::from_millis(800),
            succeeds: false,
        },
    ];
    for case in cases {
        let what = format!("Retry-After {:+} s as a date", case.offset_secs);
        let rig = rig(&[], |_| {}).await;
        // A whole second, so that the date says exactly `at`.
        let unix = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
            + 1
            + case.offset_secs;
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(unix as u64);
        let date = httpdate::fmt_http_date(at);
        let (ok, after) = good_response(&rig.campaign, AFTER);
        rig.arm([
            report(&rig.campaign)
                .respond_with(
                    ResponseTemplate::new(429)
                        .insert_header("Retry-After", date.as_str())
                        .set_body_json(echoing_body()),
                )
                .up_to_n_times(1)
                .with_priority(1),
            report(&rig.campaign).respond_with(ok).with_priority(10),
        ])
        .await;
        let run = poll_scraping(&rig.app, Duration::from_secs(6), rig.as_before()).await;
        assert!(
            run.took <= case.max,
            "{what}: the poll took {:?}, more than {:?}",
            run.took,
            case.max
        );
        let m = &run.metrics;
        if case.succeeds {
            assert_eq!(run.codes, codes(&[("429", 1.0), ("200", 1.0)]), "{what}");
            assert_eq!(rig.requests().await, 2, "{what}");
            assert_eq!(m.get("evolux_up", &[]), Some(1.0), "{what}\n{}", m.0);
            assert_counts(m, &rig.campaign, TEMPLATE_1, &six(after));
            assert!(last_success(m, &rig.campaign).unwrap() > rig.last_success);
            if case.offset_secs > 0 {
                // The retry waited for the date (10 ms for clock reading).
                let ended = run.started_at + run.took + Duration::from_millis(10);
                assert!(
                    ended >= at,
                    "{what}: the poll ended at {ended:?}, before {at:?}"
                );
                assert!(
                    run.scrapes >= 5,
                    "{what}: only {} scrapes while the poll waited",
                    run.scrapes
                );
            }
        } else {
            assert_eq!(run.codes, codes(&[("429", 1.0)]), "{what}");
            assert_eq!(rig.requests().await, 1, "{what}");
            rig.assert_kept(m, &what);
            rig.assert_failed_as(Reason::RateLimited).await;
            assert_failure_logged(&rig.campaign, 1, Reason::RateLimited);
        }
    }
}

/// Nothing listens on the configured port: every attempt is counted as
/// `code="error"`, the exporter is ready (so /metrics says why) but down,
/// with no counts to show.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_refused_from_the_start() {
    logs();
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    wait_until_refused(addr, Duration::from_secs(5)).await;
    let campaign = new_campaign();
    let app = start_app(&format!("http://{addr}"), &[&campaign], &[], |_| {}).await;
    app.wait_ready().await;
    let first = app.scrape().await;
    let down = |m: &Metrics| {
        assert_eq!(m.get("evolux_up", &[]), Some(0.0), "{}", m.0);
        assert_eq!(
            m.get("evolux_campaign_up", &[("campaign", &campaign)]),
            Some(0.0)
        );
        assert_eq!(subscriber_series(m, &campaign), 0);
        assert_eq!(last_success(m, &campaign), None);
    };
    down(&first);
    assert_eq!(requests_by_code(&first), codes(&[("error", 4.0)]));
    let run = poll_scraping(&app, Duration::from_secs(5), down).await;
    down(&run.metrics);
    assert_eq!(run.codes, codes(&[("error", 4.0)]));
    assert_failed_as(&app, &campaign, Reason::Connection).await;
    assert_failure_logged(&campaign, 2, Reason::Connection);
}

/// The upstream answered the first poll, then went away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_that_goes_away_keeps_the_last_good_counts() {
    // Not from the pool: this one stops listening when dropped.
    let mut rig = rig_on(MockServer::builder().start().await, &[], |_| {}).await;
    let addr = *rig.upstream().address();
    drop(rig.upstream.take());
    wait_until_refused(addr, Duration::from_secs(5)).await;
    let run = poll_scraping(&rig.app, Duration::from_secs(5), rig.as_before()).await;
    rig.assert_kept(&run.metrics, "upstream gone");
    assert_eq!(run.codes, codes(&[("error", 4.0)]));
    rig.assert_failed_as(Reason::Connection).await;
    assert_failure_logged(&rig.campaign, 1, Reason::Connection);
}

/// A host under `.invalid` (RFC 6761) never resolves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_failure_from_the_start() {
    logs();
    let campaign = new_campaign();
    let app = start_app(
        "http://evolux-exporter-fault-test.invalid",
        &[&campaign],
        &["--evolux.max-retries=1"],
        |_| {},
    )
    .await;
    app.wait_ready().await;
    let down = |m: &Metrics| {
        assert_eq!(m.get("evolux_up", &[]), Some(0.0), "{}", m.0);
        assert_eq!(
            m.get("evolux_campaign_up", &[("campaign", &campaign)]),
            Some(0.0)
        );
        assert_eq!(subscriber_series(m, &campaign), 0);
    };
    down(&app.scrape().await);
    // config() sets --evolux.timeout=2s: even a resolver that hangs is cut.
    let run = poll_scraping(&app, Duration::from_secs(6), down).await;
    down(&run.metrics);
    assert_eq!(run.codes, codes(&[("error", 2.0)]));
    assert_failed_as(&app, &campaign, Reason::Connection).await;
    assert_failure_logged(&campaign, 2, Reason::Connection);
}

/// Headers and part of the first record, then silence: the request timeout
/// ends the poll, and `/metrics` keeps answering from the last snapshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_stalling_mid_stream_is_ended_by_the_request_timeout() {
    logs();
    let campaign = new_campaign();
    let (good, before) = page(&campaign, BEFORE);
    let (recovered, after) = page(&campaign, AFTER);
    let (good, recovered) = (good.to_string(), recovered.to_string());
    let partial = format!(
        r#"{{"data":[{},{{"state":"sent","name":"Maria do Carmo","phone_number":"5511"#,
        records(&campaign, TEMPLATE_1, 1).0[0]
    );
    let upstream = RawUpstream::start(move |n, mut stream| {
        let (good, recovered, partial) = (good.clone(), recovered.clone(), partial.clone());
        async move {
            if read_request_head(&mut stream).await.is_none() {
                return;
            }
            match n {
                0 => write_json(&mut stream, good.as_bytes()).await,
                1 => {
                    use tokio::io::AsyncWriteExt;
                    let head = json_head(64 * 1024);
                    let _ = stream.write_all(head.as_bytes()).await;
                    let _ = stream.write_all(partial.as_bytes()).await;
                    let _ = stream.flush().await;
                    hold_until_closed(&mut stream).await;
                }
                _ => write_json(&mut stream, recovered.as_bytes()).await,
            }
        }
    })
    .await;
    let timeout = Duration::from_millis(1500);
    let app = start_app(&upstream.url(), &[&campaign], &[], |c| {
        c.evolux.timeout = timeout
    })
    .await;
    app.wait_ready().await;
    let m = app.scrape().await;
    assert_counts(&m, &campaign, TEMPLATE_1, &six(before));
    let success = last_success(&m, &campaign).unwrap();

    let run = poll_scraping(&app, Duration::from_secs(5), |m| {
        assert_eq!(m.get("evolux_up", &[]), Some(1.0));
        assert_counts(m, &campaign, TEMPLATE_1, &six(before));
    })
    .await;
    assert!(
        run.took >= timeout - Duration::from_millis(100) && run.took < Duration::from_secs(4),
        "the poll took {:?} with a {timeout:?} timeout",
        run.took
    );
    assert!(
        run.scrapes >= 5,
        "only {} scrapes during the stall",
        run.scrapes
    );
    assert_eq!(upstream.connections(), 2, "a stalled body is not retried");
    // The response came; it was its body that failed.
    assert_eq!(run.codes, codes(&[("200", 1.0)]));
    let m = &run.metrics;
    assert_eq!(
        m.get("evolux_campaign_up", &[("campaign", &campaign)]),
        Some(0.0)
    );
    assert_eq!(m.get("evolux_up", &[]), Some(0.0));
    assert_counts(m, &campaign, TEMPLATE_1, &six(before));
    assert_eq!(last_success(m, &campaign), Some(success));
    assert_failed_as(&app, &campaign, Reason::Timeout).await;
    assert_failure_logged(&campaign, 1, Reason::Timeout);

    let run = poll_scraping(&app, Duration::from_secs(5), |_| {}).await;
    assert_eq!(run.metrics.get("evolux_up", &[]), Some(1.0));
    assert_counts(&run.metrics, &campaign, TEMPLATE_1, &six(after));
}

/// Bytes that are not UTF-8 inside strings. In a field nobody reads (a name,
/// a custom field) they are skipped; as a state or template they become the
/// label `invalid`; a `\u` escape that is no character makes the record
/// invalid: skipped, counted and logged. The poll succeeds and /metrics
/// stays valid UTF-8.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_in_string_fields() {
    let rig = rig(&[], |_| {}).await;
    let t1 = TEMPLATE_1.as_bytes();
    let records: Vec<Vec<u8>> = vec![
        [
            &b"{\"state\":\"sent\",\"template_uuid\":\""[..],
            t1,
            b"\",\"name\":\"Maria do Carmo \xff\xfe\",\"phone_number\":\"5511998811220\"}",
        ]
        .concat(),
        [
            &b"{\"state\":\"sent\",\"template_uuid\":\""[..],
            t1,
            b"\",\"conversation_fields\":{\"CPF\":\"111.111.111-11\xc0\"}}",
        ]
        .concat(),
        [
            &b"{\"state\":\"\xc3\x28\",\"template_uuid\":\""[..],
            t1,
            b"\"}",
        ]
        .concat(),
        b"{\"state\":\"dnd\",\"template_uuid\":\"\xed\xa0\x80-template\"}".to_vec(),
        [
            &b"{\"state\":\"completed\",\"template_uuid\":\""[..],
            t1,
            b"\",\"template_name\":\"Boas-vindas \xff\"}",
        ]
        .concat(),
        [
            &b"{\"state\":\"\\ud800\",\"template_uuid\":\""[..],
            t1,
            b"\",\"name\":\"Maria do Carmo\"}",
        ]
        .concat(),
    ];
    let mut body = b"{\"data\":[".to_vec();
    body.extend(records.join(&b","[..]));
    body.extend_from_slice(b"]}");
    assert!(std::str::from_utf8(&body).is_err());
    rig.arm([report(&rig.campaign)
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))])
        .await;
    let run = poll_scraping(&rig.app, Duration::from_secs(5), rig.as_before()).await;
    assert_eq!(run.report.failed, 0);
    assert_eq!(
        run.report.records, 5,
        "the record with \\ud800 is not counted"
    );
    assert_eq!(run.codes, codes(&[("200", 1.0)]));
    let m = &run.metrics;
    assert_eq!(m.get("evolux_up", &[]), Some(1.0), "{}", m.0);
    assert_eq!(
        m.get("evolux_campaign_up", &[("campaign", &rig.campaign)]),
        Some(1.0)
    );
    let mut t1_counts = six([0, 0, 2, 0, 1, 0]);
    t1_counts.push(("invalid", 1));
    assert_counts(m, &rig.campaign, TEMPLATE_1, &t1_counts);
    assert_counts(m, &rig.campaign, "invalid", &six([0, 0, 0, 1, 0, 0]));
    assert_eq!(subscriber_series(m, &rig.campaign), 13);

    let raw = rig.app.get("/metrics").await.bytes().await.unwrap();
    let text = std::str::from_utf8(&raw).expect("/metrics is UTF-8");
    for secret in PERSONAL_DATA {
        assert!(!text.contains(secret), "/metrics leaks {secret}");
    }
    let warned = logs().lines_with(&[
        &format!("campaign={}", rig.campaign),
        "invalid=1",
        "not valid JSON were skipped",
    ]);
    assert_eq!(warned.len(), 1, "{}", logs().text());
    assert!(warned[0].contains("level=warn"));
    logs().assert_clean();
}

/// A million nested arrays. Never a stack overflow: unclosed, it is a
/// truncated body; closed, as the whole body, it is a records array holding
/// one element that is not a record, which fails the query; inside a
/// record, the record passes the 1 MiB record limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_nested_a_million_levels_deep() {
    const DEPTH: usize = 1_000_000;
    let open = "[".repeat(DEPTH);
    let close = "]".repeat(DEPTH);

    // `[[[[…` and the body ends.
    let rig = rig(&[], |_| {}).await;
    rig.arm([report(&rig.campaign)
        .respond_with(ResponseTemplate::new(200).set_body_raw(open.clone(), "application/json"))])
        .await;
    let run = poll_scraping(&rig.app, Duration::from_secs(10), rig.as_before()).await;
    rig.assert_kept(&run.metrics, "unclosed nesting");
    assert_eq!(run.codes, codes(&[("200", 1.0)]));
    rig.assert_failed_as(Reason::BadBody).await;
    assert_failure_logged(&rig.campaign, 1, Reason::BadBody);
    rig.assert_recovers("unclosed nesting").await;

    // A record with a million-deep value: over the record size limit.
    let rig = rig_with_body(format!(
        r#"{{"data":[{{"state":"sent","template_uuid":"{TEMPLATE_1}","extra":{open}{close}}}]}}"#
    ))
    .await;
    let run = poll_scraping(&rig.app, Duration::from_secs(10), rig.as_before()).await;
    rig.assert_kept(&run.metrics, "deep record");
    rig.assert_failed_as(Reason::BadBody).await;
    assert_failure_logged(&rig.campaign, 1, Reason::BadBody);

    // `[[[[…]]]]`, closed: valid JSON, read as a records array whose one
    // element is not a record. Nothing usable came: the query fails and
    // the last good counts stay.
    let rig = rig_with_body(format!("{open}{close}")).await;
    let run = poll_scraping(&rig.app, Duration::from_secs(10), rig.as_before()).await;
    assert_eq!(run.report.failed, 1);
    rig.assert_kept(&run.metrics, "closed nesting");
    rig.assert_failed_as(Reason::BadBody).await;
    assert_failure_logged(&rig.campaign, 1, Reason::BadBody);
    logs().assert_clean();
}

/// A rig whose upstream answers the next poll with `body` (as JSON).
async fn rig_with_body(body: String) -> Rig {
    let rig = rig(&[], |_| {}).await;
    rig.arm([report(&rig.campaign)
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))])
        .await;
    rig
}

/// Fields of the wrong JSON type are treated as missing: the record still
/// counts, under `template="unknown"` / `state="unknown"`, never dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_of_the_wrong_type_count_as_unknown() {
    let rig = rig(&[], |_| {}).await;
    let body = json!({"data": [
        {"state": 3, "template": [TEMPLATE_1], "name": "Maria do Carmo"},
        {"state": "sent", "template_uuid": 42},
        {"state": {"value": "sent"}, "template_uuid": TEMPLATE_1},
        {"state": null, "template": {"uuid": [TEMPLATE_1]}},
        {"state": ["dnd"], "template_uuid": TEMPLATE_1, "template_name": 7},
        {"state": "sent", "template_uuid": TEMPLATE_1, "campaign_uuid": 99, "campaign_name": ["x"]},
        {"state": true, "template_uuid": false},
        {"state": "completed", "template_uuid": TEMPLATE_1},
    ]});
    rig.arm([report(&rig.campaign).respond_with(ResponseTemplate::new(200).set_body_json(body))])
        .await;
    let run = poll_scraping(&rig.app, Duration::from_secs(5), rig.as_before()).await;
    assert_eq!(run.report.failed, 0);
    assert_eq!(run.report.records, 8);
    assert_eq!(run.codes, codes(&[("200", 1.0)]));
    let m = &run.metrics;
    assert_eq!(m.get("evolux_up", &[]), Some(1.0), "{}", m.0);
    let mut t1 = six([0, 0, 1, 0, 1, 0]);
    t1.push(("unknown", 2));
    assert_counts(m, &rig.campaign, TEMPLATE_1, &t1);
    let mut unknown = six([0, 0, 1, 0, 0, 0]);
    unknown.push(("unknown", 3));
    assert_counts(m, &rig.campaign, "unknown", &unknown);
    assert_eq!(m.campaign_total(&rig.campaign), 8.0);
    // Every element was an object: nothing was skipped, nothing warned about.
    assert!(
        logs()
            .lines_with(&[&format!("campaign={}", rig.campaign), "level=warn"])
            .is_empty(),
        "{}",
        logs().text()
    );
    logs().assert_clean();
}

/// Every page links to a next one (`page=N+1`) with the same records: the
/// page cap ends the query, and none of those records is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_pagination_is_cut_at_the_page_cap() {
    // The rate limit (10/s by default) would stretch 10 000 pages over 17
    // minutes: lift it.
    let rig = rig(&[], |c| c.evolux.max_rps = 1e6).await;
    let campaign = rig.campaign.clone();
    let endless = move |req: &Request| {
        let n: usize = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "page")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(1);
        let (mut body, _) = page(&campaign, 2);
        // A relative reference: the query only.
        body["links"]["next"] = json!(format!("?campaigns%5B%5D={campaign}&page={}", n + 1));
        ResponseTemplate::new(200).set_body_json(body)
    };
    rig.arm([report(&rig.campaign).respond_with(endless)]).await;
    let run = poll_scraping(&rig.app, Duration::from_secs(45), rig.as_before()).await;
    rig.assert_kept(&run.metrics, "endless pages");
    assert_eq!(run.codes, codes(&[("200", MAX_PAGES as f64)]));
    let requests = rig.upstream().received_requests().await.unwrap();
    assert_eq!(requests.len(), MAX_PAGES);
    let last = requests.last().unwrap().url.to_string();
    assert!(
        last.ends_with(&format!("&page={MAX_PAGES}")),
        "the last page asked for: {last}"
    );
    rig.assert_failed_as(Reason::BadBody).await;
    assert_failure_logged(&rig.campaign, 1, Reason::BadBody);
    // About 11 s on an idle 2-core machine, all of it with /metrics answering.
    assert!(
        run.scrapes >= 10,
        "only {} scrapes during {:?} of pages",
        run.scrapes,
        run.took
    );
}

/// `campaigns[]` is a filter (docs/evolux-api.md): for a UUID no campaign has,
/// the API has no records to return, so it answers like any filter that
/// matches nothing: 200 with an empty list. The query succeeded, so the
/// campaign is up; no template was seen, so there is no
/// `evolux_campaign_subscribers` series to zero-fill (the design gives six
/// states to each (campaign, template) seen). Its last success time shows
/// it was polled, and a warning says it is empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaign_that_does_not_exist_is_up_without_series() {
    logs();
    let (real, missing) = (new_campaign(), new_campaign());
    let upstream = MockServer::start().await;
    let (ok, counts) = good_response(&real, BEFORE);
    upstream.register(report(&real).respond_with(ok)).await;
    upstream
        .register(report(&missing).respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": [], "links": {"next": null}})),
        ))
        .await;
    let app = start_app(&upstream.uri(), &[&real, &missing], &[], |_| {}).await;
    app.wait_ready().await;
    let check = |m: &Metrics| {
        assert_eq!(m.get("evolux_up", &[]), Some(1.0), "{}", m.0);
        for c in [&real, &missing] {
            assert_eq!(m.get("evolux_campaign_up", &[("campaign", c)]), Some(1.0));
            assert!(last_success(m, c).is_some());
        }
        assert_counts(m, &real, TEMPLATE_1, &six(counts));
        assert_eq!(subscriber_series(m, &missing), 0, "{}", m.0);
        assert_eq!(
            m.get("evolux_campaign_info", &[("campaign", &missing)]),
            None
        );
    };
    check(&app.scrape().await);
    let run = poll_scraping(&app, Duration::from_secs(5), check).await;
    check(&run.metrics);
    assert_eq!(run.codes, codes(&[("200", 2.0)]));
    // A mistyped UUID must not be silent: one warning, when it is first
    // found empty, not one per poll.
    let warned = logs().lines_with(&[
        &format!("campaign={missing}"),
        "level=warn",
        "configured campaign returned no subscribers",
    ]);
    assert_eq!(warned.len(), 1, "{}", logs().text());
    assert!(
        logs()
            .lines_with(&[&format!("campaign={real}"), "no subscribers"])
            .is_empty()
    );
    logs().assert_clean();
}
