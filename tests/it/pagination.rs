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
