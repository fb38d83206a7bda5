//! First contact with servers paginated the way common web frameworks do
//! it (tests/support/paged.rs): exact counts with no configuration where a
//! server says enough, exact counts with `response.pagination` where it
//! does not, and a failed read (`incomplete`), never a wrong count shown
//! as true, where the pages and the stated total disagree.

use std::time::{SystemTime, UNIX_EPOCH};

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

use crate::app::{TestApp, config, spawn_app};
use crate::paged::{Paged, ServerStyle};
use crate::support::metrics::Metrics;
use crate::support::{CAMPAIGN_A, REPORT_PATH, STATES, TEMPLATE_1};

/// Records of the campaign in each test: three pages of 200, and a bit.
const RECORDS: usize = 610;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A wiremock upstream serving `paged`.
async fn upstream(paged: &Paged) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(REPORT_PATH))
        .respond_with(paged.clone())
        .mount(&server)
        .await;
    server
}

/// The exporter on `server`, polling CAMPAIGN_A, with `extra` arguments.
async fn exporter(server: &MockServer, extra: &[&str]) -> TestApp {
    let mut args = vec![
        format!("--evolux.url={}", server.uri()),
        format!("--campaign={CAMPAIGN_A}"),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let app = spawn_app(config(&args)).await;
    app.wait_ready().await;
    app
}

/// The campaign's counts by state, as exported.
fn by_state(m: &Metrics) -> Vec<Option<f64>> {
    STATES
        .iter()
        .map(|s| {
            m.get(
                "evolux_campaign_subscribers",
                &[
                    ("campaign", CAMPAIGN_A),
                    ("template", TEMPLATE_1),
                    ("state", s),
                ],
            )
        })
        .collect()
}

fn expected(counts: [u64; 6]) -> Vec<Option<f64>> {
    counts.iter().map(|c| Some(*c as f64)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_style_that_says_enough_is_counted_exactly_without_configuration() {
    for style in ServerStyle::ALL
        .into_iter()
        .filter(|s| *s != ServerStyle::Silent)
    {
        let paged = Paged::new(style, 200);
        let counts = paged.add(CAMPAIGN_A, RECORDS, now_ms() - 60_000);
        let server = upstream(&paged).await;
        let app = exporter(&server, &[]).await;
        let m = app.scrape().await;
        assert_eq!(
            m.get("evolux_campaign_up", &[("campaign", CAMPAIGN_A)]),
            Some(1.0),
            "{style:?}:\n{}",
            m.0
        );
        assert_eq!(by_state(&m), expected(counts), "{style:?}");
        app.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_says_nothing_is_counted_exactly_with_its_pagination_stated() {
    let paged = Paged::new(ServerStyle::Silent, 200);
    let counts = paged.add(CAMPAIGN_A, RECORDS, now_ms() - 60_000);
    let server = upstream(&paged).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.yml");
    std::fs::write(
        &file,
        "response:\n  pagination: {style: page, param: page, size_param: per_page, size: 200}\n",
    )
    .unwrap();
    let app = exporter(&server, &[&format!("--config.file={}", file.display())]).await;
    let m = app.scrape().await;
    assert_eq!(
        m.get("evolux_campaign_up", &[("campaign", CAMPAIGN_A)]),
        Some(1.0),
        "{}",
        m.0
    );
    assert_eq!(by_state(&m), expected(counts));
    app.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stated_total_the_pages_do_not_reach_fails_as_incomplete() {
    for style in [
        ServerStyle::Drf,
        ServerStyle::LinkHeader,
        ServerStyle::Offset,
    ] {
        let mut paged = Paged::new(style, 200);
        paged.total_skew = 7;
        paged.add(CAMPAIGN_A, RECORDS, now_ms() - 60_000);
        let server = upstream(&paged).await;
        let app = exporter(&server, &[]).await;
        let m = app.scrape().await;
        assert_eq!(
            m.get("evolux_campaign_up", &[("campaign", CAMPAIGN_A)]),
            Some(0.0),
            "{style:?}:\n{}",
            m.0
        );
        assert_eq!(m.campaign_total(CAMPAIGN_A), 0.0, "{style:?} counts shown");
        let incomplete = m.get(
            "evolux_campaign_poll_errors_total",
            &[("campaign", CAMPAIGN_A), ("reason", "incomplete")],
        );
        assert!(incomplete.is_some_and(|n| n >= 1.0), "{style:?}:\n{}", m.0);
        app.shutdown().await.unwrap();
    }
}

/// For any number of records, any page size, any style and any of its
/// hints left out (a server that says nothing at all included): once the
/// exporter is ready, the campaign is either up with exact counts, or down
/// with a reason (`incomplete` or `bad_body`) and no counts. A server that
/// states all its hints is always up.
#[test]
fn any_server_is_counted_exactly_or_reported_down_never_wrong() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestCaseError, TestRunner};

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        proptest::sample::select(ServerStyle::ALL.to_vec()),
        0usize..700,
        5usize..260,
        0u32..32,
    );
    let result = runner.run(&strategy, |(style, n, size, drop)| {
        rt.block_on(async {
            let mut paged = Paged::new(style, size);
            paged.drop = drop & ((1 << style.hints().len()) - 1);
            let counts = paged.add(CAMPAIGN_A, n, now_ms() - 60_000);
            let server = upstream(&paged).await;
            let app = exporter(&server, &["--evolux.max-rps=100000"]).await;
            let m = app.scrape().await;
            let up = m.get("evolux_campaign_up", &[("campaign", CAMPAIGN_A)]);
            let case = format!(
                "{style:?}, {n} records, {size} a page, hints dropped {:#b}",
                paged.drop
            );
            match up {
                Some(1.0) => {
                    let got = by_state(&m);
                    // No records: no series at all is also exact.
                    let exact =
                        got == expected(counts) || (n == 0 && got.iter().all(Option::is_none));
                    prop_assert!(exact, "{}: up with {:?}, truth {:?}", case, got, counts);
                }
                Some(0.0) => {
                    prop_assert!(
                        paged.drop != 0 || style == ServerStyle::Silent,
                        "{}: down though every hint was stated:\n{}",
                        case,
                        m.0
                    );
                    prop_assert_eq!(m.campaign_total(CAMPAIGN_A), 0.0, "{}: counts shown", case);
                    let reasons: Vec<String> = m
                        .samples("evolux_campaign_poll_errors_total")
                        .flat_map(|(l, _)| {
                            l.into_iter().filter(|(k, _)| k == "reason").map(|(_, v)| v)
                        })
                        .collect();
                    prop_assert!(
                        reasons.iter().all(|r| r == "incomplete" || r == "bad_body")
                            && !reasons.is_empty(),
                        "{}: reasons {:?}",
                        case,
                        reasons
                    );
                }
                other => {
                    return Err(TestCaseError::fail(format!(
                        "{case}: evolux_campaign_up {other:?}"
                    )));
                }
            }
            app.shutdown()
                .await
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// `--evolux.diagnose` against each style: the style and total it found,
/// exit 0 where the exporter can count exactly, and 1 with the cap named
/// for a server that cuts its answers without a word; nothing personal
/// printed (`run_diagnose` checks).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diagnose_names_each_style_and_catches_the_silent_one() {
    let named = [
        (ServerStyle::Drf, "link", Some("/count")),
        (ServerStyle::Laravel, "link", Some("/total")),
        (ServerStyle::LinkHeader, "header", Some("X-Total-Count")),
        (ServerStyle::MetaPage, "page", Some("/meta/total")),
        (ServerStyle::Offset, "offset", Some("/total")),
        (ServerStyle::Cursor, "cursor", None),
    ];
    for (style, name, total_at) in named {
        let paged = Paged::new(style, 200);
        paged.add(CAMPAIGN_A, RECORDS, now_ms() - 60_000);
        let server = upstream(&paged).await;
        let (code, out, err) =
            crate::diagnose::run_diagnose(&server, &[&format!("--campaign={CAMPAIGN_A}")]).await;
        assert_eq!(code, 0, "{style:?}:\n{out}\n{err}");
        assert!(
            out.contains(&format!("pagination       {name}, 4 pages read")),
            "{style:?}:\n{out}"
        );
        match total_at {
            Some(at) => assert!(
                out.contains(&format!(
                    "stated {RECORDS} (at {at}); read {RECORDS} records"
                )),
                "{style:?}:\n{out}"
            ),
            None => assert!(out.contains("not stated"), "{style:?}:\n{out}"),
        }
        assert!(out.contains("no cap seen"), "{style:?}:\n{out}");
    }
    let paged = Paged::new(ServerStyle::Silent, 200);
    paged.add(CAMPAIGN_A, RECORDS, now_ms() - 60_000);
    let server = upstream(&paged).await;
    let (code, out, _) =
        crate::diagnose::run_diagnose(&server, &[&format!("--campaign={CAMPAIGN_A}")]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("cuts answers at 200 records"), "{out}");
    assert!(out.contains("response.pagination"), "{out}");
}
