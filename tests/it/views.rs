//! Views end to end against the ranged responder (which applies
//! `campaigns[]`, `start`/`end` and the custom field `perfil` as the API
//! does): a view over every campaign, over one and over two equal one
//! unsegmented query with the same filters, poll after poll, while the
//! data changes; complementary views of a campaign sum to its counts; a
//! view with fixed bounds counts that range and never asks beyond it; a
//! reload that adds a view is not ready until the view is read.

use std::collections::BTreeMap;

use crate::app::*;
use crate::mock_api::CAMPAIGN_B;
use crate::ranged::Ranged;
use crate::segments::{DAY_MS, HOUR_MS, now_ms, ranged_upstream};
use crate::support::metrics::Metrics;
use crate::support::{CAMPAIGN_A, REPORT_PATH};

const CAMPAIGN_C: &str = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d";
const PJ: &str = "Pessoa Jurídica";
const PF: &str = "Pessoa Física";

/// (campaign, state) to subscribers.
type Counts = BTreeMap<(String, String), u64>;

/// Subscribers of A, B and C over the last 40 days: PJ, PF, or no perfil.
fn populate(ranged: &Ranged) {
    let now = now_ms();
    let states = ["pending", "sent", "completed", "error", "dnd"];
    for (c, campaign) in [CAMPAIGN_A, CAMPAIGN_B, CAMPAIGN_C].iter().enumerate() {
        for i in 0..90i64 {
            let at = now - 5_000 - i * 11 * HOUR_MS - c as i64 * 7_919;
            let perfil = match (i + c as i64) % 3 {
                0 => Some(PJ),
                1 => Some(PF),
                // Campaign A: everyone has a perfil (the complement test).
                _ if *campaign == CAMPAIGN_A => Some(PF),
                _ => None,
            };
            ranged.insert_with(campaign, at, states[i as usize % states.len()], perfil);
        }
    }
}

/// What one unsegmented query with these parameters answers, by campaign
/// and state: the truth a view must equal.
async fn truth(upstream: &str, params: &[(&str, &str)]) -> Counts {
    let mut url = url::Url::parse(&format!("{upstream}{REPORT_PATH}")).unwrap();
    url.query_pairs_mut().extend_pairs(params);
    let text = reqwest::get(url).await.unwrap().text().await.unwrap();
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut out = Counts::new();
    for r in body["data"].as_array().unwrap() {
        let key = (
            r["campaign_uuid"].as_str().unwrap().to_string(),
            r["state"].as_str().unwrap().to_string(),
        );
        *out.entry(key).or_default() += 1;
    }
    out
}

/// The samples of `family` labelled `key="value"`, by campaign and state,
/// zeros left out.
fn counts_of(m: &Metrics, family: &str, key: &str, value: &str) -> Counts {
    let mut out = Counts::new();
    for ((campaign, _template, state), n) in
        crate::demo_pages::scraped(m, family, Some((key, value)))
    {
        *out.entry((campaign, state)).or_default() += n;
    }
    out
}

/// A view's exported counts.
fn view_counts(m: &Metrics, view: &str) -> Counts {
    counts_of(m, "evolux_view_subscribers", "view", view)
}

/// A campaign's exported counts.
fn campaign_counts(m: &Metrics, campaign: &str) -> Counts {
    counts_of(m, "evolux_campaign_subscribers", "campaign", campaign)
}

fn sum(a: &Counts, b: &Counts) -> Counts {
    let mut out = a.clone();
    for (k, v) in b {
        *out.entry(k.clone()).or_default() += v;
    }
    out
}

/// Writes `yaml` to a file that lives as long as the returned directory.
fn config_file(yaml: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, yaml).unwrap();
    let arg = format!("--config.file={}", path.display());
    (dir, arg)
}

/// The exporter reading campaign A by segments (`--poll.max-interval=8h`)
/// and the views of `yaml` from `upstream`, ready; the directory holds its
/// config file.
async fn segmented_with(
    upstream: &wiremock::MockServer,
    yaml: &str,
) -> (tempfile::TempDir, TestApp) {
    let (dir, file) = config_file(yaml);
    let app = spawn_app(config(&[
        &format!("--evolux.url={}", upstream.uri()),
        &format!("--campaign={CAMPAIGN_A}"),
        "--poll.max-interval=8h",
        &file,
    ]))
    .await;
    app.wait_ready().await;
    (dir, app)
}

fn field(value: &str) -> [(&'static str, String); 2] {
    [
        ("conversation_field_key", "perfil".to_string()),
        ("conversation_field_value", value.to_string()),
    ]
}

#[tokio::test]
async fn views_equal_one_unsegmented_query_with_their_filters_poll_after_poll() {
    let ranged = Ranged::default();
    populate(&ranged);
    let upstream = ranged_upstream(&ranged).await;
    let yaml = format!(
        "views:
  - name: pj-all
    filters: {{conversation_field_key: perfil, conversation_field_value: {PJ}}}
  - name: pj-a
    campaigns: [{CAMPAIGN_A}]
    filters: {{conversation_field_key: perfil, conversation_field_value: {PJ}}}
  - name: pf-a
    campaigns: [{CAMPAIGN_A}]
    filters: {{conversation_field_key: perfil, conversation_field_value: {PF}}}
  - name: pf-bc
    campaigns: [{CAMPAIGN_B}, {CAMPAIGN_C}]
    filters: {{conversation_field_key: perfil, conversation_field_value: {PF}}}
"
    );
    let (_dir, app) = segmented_with(&upstream, &yaml).await;

    let uri = upstream.uri();
    let check = |m: Metrics, round: &'static str| {
        let uri = uri.clone();
        async move {
            let pj = field(PJ);
            let pf = field(PF);
            let p = |f: &[(&'static str, String); 2], campaigns: &[&'static str]| {
                let mut v: Vec<(&str, String)> = campaigns
                    .iter()
                    .map(|c| ("campaigns[]", c.to_string()))
                    .collect();
                v.extend(f.iter().cloned());
                v
            };
            for (view, params) in [
                ("pj-all", p(&pj, &[])),
                ("pj-a", p(&pj, &[CAMPAIGN_A])),
                ("pf-a", p(&pf, &[CAMPAIGN_A])),
                ("pf-bc", p(&pf, &[CAMPAIGN_B, CAMPAIGN_C])),
            ] {
                let params: Vec<(&str, &str)> =
                    params.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let expected = truth(&uri, &params).await;
                assert!(!expected.is_empty(), "{round}: {view} selects somebody");
                assert_eq!(view_counts(&m, view), expected, "{round}: view {view}");
                assert_eq!(
                    m.get("evolux_view_up", &[("view", view)]),
                    Some(1.0),
                    "{round}"
                );
            }
            // The complementary views of A sum to A's own counts, which keep
            // their meaning (every subscriber of A).
            let a = campaign_counts(&m, CAMPAIGN_A);
            assert_eq!(
                a,
                truth(&uri, &[("campaigns[]", CAMPAIGN_A)]).await,
                "{round}"
            );
            assert_eq!(
                sum(&view_counts(&m, "pj-a"), &view_counts(&m, "pf-a")),
                a,
                "{round}: pj-a + pf-a = A"
            );
            // Campaigns a view found are not campaigns polled.
            assert_eq!(
                m.get("evolux_campaign_up", &[("campaign", CAMPAIGN_B)]),
                None
            );
        }
    };
    check(app.scrape().await, "first poll").await;
    // Every view's reads carried its filter and its campaigns.
    let arrivals = ranged.arrivals();
    let filtered: Vec<_> = arrivals.iter().filter(|a| a.field).collect();
    assert!(
        filtered.iter().any(|a| a.campaigns.is_empty()),
        "pj-all asks for every campaign"
    );
    assert!(
        filtered
            .iter()
            .any(|a| a.campaigns == [CAMPAIGN_B, CAMPAIGN_C])
    );
    assert!(
        arrivals
            .iter()
            .any(|a| !a.field && a.campaigns == [CAMPAIGN_A])
    );

    // The data changes: new subscribers, old ones change state, one of A
    // changes perfil (its views trade it, A's total stays).
    let now = now_ms();
    ranged.insert_with(CAMPAIGN_C, now - 1_000, "pending", Some(PJ));
    ranged.insert_with(CAMPAIGN_A, now - 2_000, "pending", Some(PF));
    ranged.set_state(now - 5_000 - 30 * 11 * HOUR_MS, "error");
    {
        let mut subs = ranged.subs.lock().unwrap();
        let s = subs
            .iter_mut()
            .find(|s| s.campaign == CAMPAIGN_A && s.perfil.as_deref() == Some(PF))
            .unwrap();
        s.perfil = Some(PJ.into());
    }
    // Segments are read by time: the second poll verifies every one.
    for round in ["second poll", "third poll"] {
        app.poller.poll_once().await;
        let m = app.scrape().await;
        if round == "third poll" {
            check(m, round).await;
        }
    }
    // Views were read by segments, as campaigns are.
    let ranged_view_reads = ranged
        .arrivals()
        .iter()
        .filter(|a| a.field && (a.start.is_some() || a.end.is_some()))
        .count();
    assert!(
        ranged_view_reads > 4,
        "{ranged_view_reads} segment reads of views"
    );
}

#[tokio::test]
async fn a_view_with_fixed_bounds_counts_that_range_and_never_asks_beyond_it() {
    let ranged = Ranged::default();
    populate(&ranged);
    let upstream = ranged_upstream(&ranged).await;
    let now = now_ms();
    let to_rfc = |ms: i64| {
        chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    let (start, end) = (now - 20 * DAY_MS, now - 10 * DAY_MS);
    let yaml = format!(
        "views:
  - name: range
    filters:
      start: {}
      end: {}
      conversation_field_key: perfil
      conversation_field_value: {PJ}
",
        to_rfc(start),
        to_rfc(end)
    );
    let (_dir, app) = segmented_with(&upstream, &yaml).await;
    let expected = truth(
        &upstream.uri(),
        &[
            ("start", &to_rfc(start)),
            ("end", &to_rfc(end)),
            ("conversation_field_key", "perfil"),
            ("conversation_field_value", PJ),
        ],
    )
    .await;
    assert!(!expected.is_empty());
    let mut reads_per_poll = Vec::new();
    for _ in 0..3 {
        let m = app.scrape().await;
        assert_eq!(view_counts(&m, "range"), expected);
        reads_per_poll.push(ranged.arrivals().iter().filter(|a| a.field).count());
        // A subscriber inserted after the bound is not the view's.
        ranged.insert_with(CAMPAIGN_A, now_ms() - 500, "sent", Some(PJ));
        app.poller.poll_once().await;
    }
    let view_reads: Vec<_> = ranged.arrivals().into_iter().filter(|a| a.field).collect();
    reads_per_poll.push(view_reads.len());
    assert!(view_reads.len() >= 3, "{view_reads:?}");
    let ms = |v: &Option<String>| {
        v.as_deref().map(|s| {
            chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .timestamp_millis()
        })
    };
    for a in &view_reads {
        let (s, e) = (ms(&a.start), ms(&a.end));
        assert!(
            s.is_some_and(|s| s >= start) && e.is_some_and(|e| e <= end),
            "a read beyond the bounds: {a:?}"
        );
    }
    // Nothing in it changed and its segments are not due again within the
    // hour: once verified (the second poll), the next polls read nothing
    // of it.
    let last = reads_per_poll.len() - 1;
    assert_eq!(
        reads_per_poll[last],
        reads_per_poll[last - 1],
        "reads of the view after each poll: {reads_per_poll:?}"
    );
}

#[tokio::test]
async fn a_reload_that_adds_a_view_is_not_ready_until_the_view_is_read() {
    let ranged = Ranged::default();
    populate(&ranged);
    let upstream = ranged_upstream(&ranged).await;
    let url = format!("--evolux.url={}", upstream.uri());
    let campaign = format!("--campaign={CAMPAIGN_A}");
    let app = spawn_app(config(&[&url, &campaign])).await;
    app.wait_ready().await;
    let yaml = format!(
        "views:\n  - name: pj\n    filters: {{conversation_field_key: perfil, conversation_field_value: {PJ}}}\n"
    );
    let (_dir, file) = config_file(&yaml);
    let reloaded = config(&[&url, &campaign, &file]);
    app.poller
        .set_campaigns(reloaded.poll_campaigns(), reloaded.poll_views());
    let not_ready = app.get("/readyz").await;
    assert_eq!(not_ready.status(), 503, "the view is not read yet");
    // Until a poll takes the reload in, the snapshot cannot name it.
    assert_eq!(
        not_ready.text().await.unwrap(),
        "not ready: not every campaign and view has been read yet\n"
    );
    app.poller.poll_once().await;
    assert_eq!(app.get("/readyz").await.status(), 200);
    let m = app.scrape().await;
    let expected = truth(
        &upstream.uri(),
        &field(PJ)
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect::<Vec<_>>(),
    )
    .await;
    assert_eq!(view_counts(&m, "pj"), expected);
    // And a reload that drops it takes its series away.
    app.poller
        .set_campaigns(reloaded.poll_campaigns(), Vec::new());
    app.poller.poll_once().await;
    let m = app.scrape().await;
    assert_eq!(m.samples("evolux_view_subscribers").count(), 0, "{}", m.0);
    assert_eq!(m.get("evolux_view_up", &[("view", "pj")]), None);
}

#[tokio::test]
async fn a_failing_view_is_down_on_its_own_and_keeps_its_last_counts() {
    use wiremock::matchers::{method, path, query_param};
    use wiremock::{Mock, ResponseTemplate};

    let ranged = Ranged::default();
    populate(&ranged);
    let upstream = ranged_upstream(&ranged).await;
    let yaml = format!(
        "views:\n  - name: pj\n    filters: {{conversation_field_key: perfil, conversation_field_value: {PJ}}}\n"
    );
    let (_dir, file) = config_file(&yaml);
    let app = spawn_app(config(&[
        &format!("--evolux.url={}", upstream.uri()),
        &format!("--campaign={CAMPAIGN_A}"),
        "--evolux.max-retries=0",
        &file,
    ]))
    .await;
    app.wait_ready().await;
    let before = view_counts(&app.scrape().await, "pj");
    assert!(!before.is_empty());
    // From now on the server fails the view's queries, and only those.
    let _failing = Mock::given(method("GET"))
        .and(path(REPORT_PATH))
        .and(query_param("conversation_field_key", "perfil"))
        .respond_with(ResponseTemplate::new(500))
        .with_priority(1)
        .mount_as_scoped(&upstream)
        .await;
    app.poller.poll_once().await;
    let m = app.scrape().await;
    assert_eq!(m.get("evolux_view_up", &[("view", "pj")]), Some(0.0));
    assert_eq!(
        m.get("evolux_campaign_up", &[("campaign", CAMPAIGN_A)]),
        Some(1.0)
    );
    assert_eq!(
        m.get("evolux_up", &[]),
        Some(0.0),
        "every target counts for evolux_up"
    );
    assert_eq!(view_counts(&m, "pj"), before, "last good counts kept");
    let errors = m
        .get(
            "evolux_campaign_poll_errors_total",
            &[("view", "pj"), ("reason", "server_error")],
        )
        .unwrap_or(0.0);
    assert!(errors >= 1.0, "{}", m.0);
    assert!(
        m.samples("evolux_campaign_poll_errors_total")
            .all(|(l, _)| !l.iter().any(|(k, v)| k == "campaign" && v == CAMPAIGN_A)),
        "the campaign's reads did not fail"
    );
    // The status page says which view fails and why, no filter value.
    let page = app.get("/").await.text().await.unwrap();
    assert!(!page.contains(PJ), "the filter value is on the status page");
}
