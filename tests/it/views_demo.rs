//! Views (`views:`) against the exporter's own demo API: what a view
//! exports equals, series by series, what one unsegmented query with the
//! same filters finds, and `--demo` runs its views `pj` and `pf`.
//!
//! The demo's data moves with its clock, so the upstream here is the demo
//! router behind a middleware that pins its simulated time (`at=`) for every
//! request, as the soak does: the exporter's reads (segments, halves, pages)
//! and the test's truth then all see one moment. The truth is counted from
//! the same API, page by page with `serde_json`, and cross-checked against
//! the simulation itself (`demo::subscribers_at` and `demo::perfil`).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::Uri;
use axum::middleware::Next;
use axum::response::Response;
use evolux_exporter::app::App;
use evolux_exporter::config::{Cli, Config};
use evolux_exporter::demo::{self, DEMO_TOKEN, DemoOptions, PERFIL_PF, PERFIL_PJ};

use crate::app::{TestApp, spawn_app};
use crate::demo_pages::{Counts, count_pages, diff, scraped};
use crate::support::metrics::Metrics;
use crate::support::wait_for;

/// The simulated second every request of these tests is answered for.
const AT: f64 = 0.0;
/// The demo's busiest campaign (Agendamentos), for the one-campaign views.
const AGENDAMENTOS: &str = "a8e6c4b2-3d5f-4a7e-8c9b-2f1e0d9c8b76";

/// Adds `at=` to requests that carry none (the first page of a query; the
/// next links carry their first page's).
async fn pin(State(at): State<f64>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    if !query.split('&').any(|kv| kv.starts_with("at=")) {
        let pq = if query.is_empty() {
            format!("{path}?at={at}")
        } else {
            format!("{path}?{query}&at={at}")
        };
        *req.uri_mut() = Uri::try_from(pq).expect("a valid URI");
    }
    next.run(req).await
}

/// The demo API without faults, its clock pinned at [`AT`], on 127.0.0.1:0.
async fn pinned_demo() -> SocketAddr {
    let router = demo::router(DemoOptions {
        fault_rate: 0.0,
        page_size: 5000,
        speed: 1.0,
    })
    .layer(axum::middleware::from_fn_with_state(AT, pin));
    crate::demo_pages::serve(router).await
}

/// The exporter in-process on the pinned demo, with `yaml` as its config
/// file, once its first poll has read every campaign and view.
async fn exporter_on(upstream: SocketAddr, yaml: &str) -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("config.yaml");
    std::fs::write(&file, yaml).expect("write the config file");
    let cli = Cli::try_parse_from([
        "evolux-exporter".to_string(),
        format!("--evolux.url=http://{upstream}/"),
        format!("--config.file={}", file.display()),
        "--poll.interval=1h".into(),
        "--evolux.timeout=10s".into(),
        // The default rate limit would make the first reads' checks and
        // segments take most of a minute.
        "--evolux.max-rps=100".into(),
    ])
    .expect("arguments parse");
    let mut config =
        Config::load_with_token(cli, Some(DEMO_TOKEN.to_string())).expect("config is valid");
    config.evolux.retry_base_delay = Duration::from_millis(10);
    let app = spawn_app(config).await;
    wait_ready(&app).await;
    (app, dir)
}

/// Waits (up to 60 s: the machine may be busy) for `/readyz` to say 200.
async fn wait_ready(app: &TestApp) {
    wait_for(
        "the exporter to be ready",
        Duration::from_secs(60),
        || async { app.get("/readyz").await.status() == 200 },
    )
    .await;
}

/// What one query (`query`: URL-encoded filters, `campaigns[]` included)
/// finds at [`AT`], every page of it, by campaign, template and state.
async fn truth(upstream: SocketAddr, query: &str) -> Counts {
    let http = reqwest::Client::builder()
        .no_gzip()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    count_pages(&http, upstream, query).await
}

/// The simulation's own count at [`AT`] of the subscribers with `perfil`
/// (in `campaign` if given), by campaign, template and state.
fn simulated(perfil: &str, campaign: Option<&str>) -> Counts {
    let campaigns: Vec<&str> = demo::campaigns().map(|(uuid, _)| uuid).collect();
    let templates: Vec<&str> = [
        "70f4ddb6-ece1-4e13-ab90-3698d9d72bf0",
        "1b2e9c1e-5f8a-4c55-9a59-2f6e0c3d7a10",
        "c6a0f7d2-8e4b-4f0f-8c1e-6d5b2a9e4f21",
        "3e8d5a7b-2c1f-4e9a-b6d0-9f4c8e2a1b32",
        "9a4f2e6c-7d3b-4a8e-9c5f-1e0d6b3a7c43",
    ]
    .into();
    let mut counts = Counts::new();
    for s in demo::subscribers_at(AT) {
        let c = campaigns[s.campaign];
        if demo::perfil(&s) != perfil || campaign.is_some_and(|want| want != c) {
            continue;
        }
        *counts
            .entry((c.into(), templates[s.template].into(), s.state.into()))
            .or_default() += 1;
    }
    counts
}

fn view(m: &Metrics, name: &str) -> Counts {
    scraped(m, "evolux_view_subscribers", Some(("view", name)))
}

fn total(c: &Counts) -> u64 {
    c.values().sum()
}

fn enc(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

fn perfil_query(value: &str) -> String {
    format!(
        "conversation_field_key=perfil&conversation_field_value={}",
        enc(value)
    )
}

fn assert_up(m: &Metrics, name: &str) {
    assert_eq!(
        m.get("evolux_view_up", &[("view", name)]),
        Some(1.0),
        "evolux_view_up{{view={name:?}}}\n{}",
        m.0
    );
}

/// A view over every campaign with `perfil = Pessoa Jurídica` exports what
/// one query with that filter and no `campaigns[]` finds, series by series.
#[tokio::test]
async fn a_view_over_every_campaign_counts_what_its_one_query_finds() {
    let upstream = pinned_demo().await;
    let yaml = format!(
        "campaigns:\n  - uuid: {AGENDAMENTOS}\nviews:\n  - name: pj\n    filters:\n      conversation_field_key: perfil\n      conversation_field_value: {PERFIL_PJ}\n"
    );
    let (app, _dir) = exporter_on(upstream, &yaml).await;
    let m = app.scrape().await;
    assert_up(&m, "pj");

    let expected = truth(upstream, &perfil_query(PERFIL_PJ)).await;
    assert_eq!(
        expected,
        simulated(PERFIL_PJ, None),
        "the demo API serves its simulation"
    );
    // The filter narrows: not everyone is PJ; and the view spans every
    // demo campaign, not only the configured one.
    let everyone = truth(upstream, "").await;
    assert!(
        0 < total(&expected) && total(&expected) < total(&everyone),
        "pj {} of {}",
        total(&expected),
        total(&everyone)
    );
    let campaigns: BTreeSet<&str> = expected.keys().map(|(c, _, _)| c.as_str()).collect();
    assert_eq!(campaigns.len(), demo::campaigns().count());

    let got = view(&m, "pj");
    assert!(
        got == expected,
        "view pj differs from its query:\n{}",
        diff(&expected, &got).join("\n")
    );
}

/// A view of one campaign exports what the query with `campaigns[]` = that
/// campaign and the same filter finds, and nothing of the other campaigns.
#[tokio::test]
async fn a_view_of_one_campaign_counts_what_its_one_query_finds() {
    let upstream = pinned_demo().await;
    let yaml = format!(
        "campaigns:\n  - uuid: {AGENDAMENTOS}\nviews:\n  - name: agendamentos-pj\n    campaigns: [{AGENDAMENTOS}]\n    filters:\n      conversation_field_key: perfil\n      conversation_field_value: {PERFIL_PJ}\n"
    );
    let (app, _dir) = exporter_on(upstream, &yaml).await;
    let m = app.scrape().await;
    assert_up(&m, "agendamentos-pj");

    let query = format!("campaigns%5B%5D={AGENDAMENTOS}&{}", perfil_query(PERFIL_PJ));
    let expected = truth(upstream, &query).await;
    assert_eq!(expected, simulated(PERFIL_PJ, Some(AGENDAMENTOS)));
    assert!(total(&expected) > 0);
    assert!(expected.keys().all(|(c, _, _)| c == AGENDAMENTOS));

    let got = view(&m, "agendamentos-pj");
    assert!(
        got == expected,
        "view agendamentos-pj differs from its query:\n{}",
        diff(&expected, &got).join("\n")
    );
}

/// Two views of one campaign, `perfil` PJ and PF, add up series by series
/// to the campaign's own `evolux_campaign_subscribers`.
#[tokio::test]
async fn complementary_views_of_a_campaign_add_up_to_the_campaign() {
    let upstream = pinned_demo().await;
    let yaml = format!(
        "campaigns:\n  - uuid: {AGENDAMENTOS}\nviews:\n  - name: pj\n    campaigns: [{AGENDAMENTOS}]\n    filters:\n      conversation_field_key: perfil\n      conversation_field_value: {PERFIL_PJ}\n  - name: pf\n    campaigns: [{AGENDAMENTOS}]\n    filters:\n      conversation_field_key: perfil\n      conversation_field_value: {PERFIL_PF}\n"
    );
    let (app, _dir) = exporter_on(upstream, &yaml).await;
    let m = app.scrape().await;
    assert_up(&m, "pj");
    assert_up(&m, "pf");

    let campaign = scraped(
        &m,
        "evolux_campaign_subscribers",
        Some(("campaign", AGENDAMENTOS)),
    );
    let everyone = truth(upstream, &format!("campaigns%5B%5D={AGENDAMENTOS}")).await;
    assert!(
        campaign == everyone,
        "the campaign differs from its query:\n{}",
        diff(&everyone, &campaign).join("\n")
    );
    let (pj, pf) = (view(&m, "pj"), view(&m, "pf"));
    assert!(total(&pj) > 0 && total(&pf) > 0, "pj {pj:?}\npf {pf:?}");
    let mut sum = pj.clone();
    for (k, n) in &pf {
        *sum.entry(k.clone()).or_default() += n;
    }
    assert!(
        sum == campaign,
        "pj + pf differs from the campaign:\n{}",
        diff(&campaign, &sum).join("\n")
    );
}

/// `--demo` without a config file runs the views `pj` and `pf` across every
/// campaign: both up, both with subscribers, PJ the smaller share.
#[tokio::test]
async fn demo_mode_runs_the_views_pj_and_pf() {
    let cli = Cli::try_parse_from([
        "evolux-exporter",
        "--demo",
        "--poll.interval=1h",
        "--evolux.max-rps=100",
    ])
    .expect("arguments parse");
    let config = Config::load_with_token(cli, None).expect("--demo needs no token");
    assert!(config.demo);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = App::build_with_demo(
        config,
        DemoOptions {
            fault_rate: 0.0,
            ..DemoOptions::default()
        },
    )
    .await
    .expect("app builds");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let serve = tokio::spawn(app.serve(vec![listener], async move {
        let _ = rx.await;
    }));
    let http = reqwest::Client::builder()
        .no_gzip()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let get = |path: &'static str| {
        let http = http.clone();
        async move {
            http.get(format!("http://{addr}{path}"))
                .send()
                .await
                .expect("request to the exporter")
        }
    };
    wait_for("--demo to be ready", Duration::from_secs(60), || async {
        get("/readyz").await.status() == 200
    })
    .await;
    let m = Metrics(get("/metrics").await.text().await.expect("metrics body"));
    let mut totals = BTreeMap::new();
    for name in ["pj", "pf"] {
        assert_up(&m, name);
        let counts = view(&m, name);
        let campaigns: BTreeSet<&str> = counts.keys().map(|(c, _, _)| c.as_str()).collect();
        assert_eq!(
            campaigns.len(),
            demo::campaigns().count(),
            "view {name} spans every campaign: {campaigns:?}"
        );
        totals.insert(name, total(&counts));
    }
    assert!(
        totals["pj"] > 0 && totals["pj"] < totals["pf"],
        "{totals:?}"
    );
    let views: BTreeSet<String> = m
        .samples("evolux_view_up")
        .filter_map(|(l, _)| l.into_iter().find(|(k, _)| k == "view").map(|(_, v)| v))
        .collect();
    assert_eq!(views, BTreeSet::from(["pf".into(), "pj".into()]));
    let _ = tx.send(());
    serve
        .await
        .expect("serve task")
        .expect("serve ends cleanly");
}
