//! The exporter end to end against a wiremock upstream: what it asks, and
//! that it counts exactly what it is served, whatever the response shape.

use crate::app::*;
use crate::mock_api::*;
use crate::support::metrics::Metrics;
use crate::support::*;
use serde_json::json;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// A third campaign.
const CAMPAIGN_C: &str = "5d2a8c4e-1f7b-4e3a-9d6c-8b5a4f3e2d65";

fn assert_counts(m: &Metrics, campaign: &str, template: &str, expected: [u64; 6]) {
    for (state, want) in STATES.iter().zip(expected) {
        let got = m.get(
            "evolux_campaign_subscribers",
            &[
                ("campaign", campaign),
                ("template", template),
                ("state", state),
            ],
        );
        assert_eq!(
            got,
            Some(want as f64),
            "{campaign}/{template}/{state}\n{}",
            m.0
        );
    }
}

#[tokio::test]
async fn sends_campaign_window_filters_and_bearer_token() {
    let upstream = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(REPORT_PATH))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(query_param("campaigns[]", CAMPAIGN_A))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(FIRST_POLL_READS as u64)
        .mount(&upstream)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.yaml");
    std::fs::write(
        &file,
        format!(
            "campaigns:\n  - uuid: {CAMPAIGN_A}\n    name: Black Friday\n    window: 7d\n    filters:\n      template_uuid: {TEMPLATE_1}\n      state: error\n      timezone: America/Sao_Paulo\n      conversation_field_key: perfil\n      conversation_field_value: Pessoa Jurídica\n"
        ),
    )
    .unwrap();
    let app = spawn_app(config(&[
        &format!("--evolux.url={}", upstream.uri()),
        &format!("--config.file={}", file.display()),
    ]))
    .await;
    app.wait_ready().await;

    let requests = upstream.received_requests().await.unwrap();
    // The whole read comes after the two halves that check it.
    assert_eq!(requests.len(), FIRST_POLL_READS);
    let req: &Request = &requests[FIRST_POLL_READS - 1];
    let pairs: Vec<(String, String)> = req
        .url
        .query_pairs()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    let get = |k: &str| {
        pairs
            .iter()
            .filter(|(pk, _)| pk == k)
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(get("campaigns[]"), [CAMPAIGN_A]);
    assert_eq!(get("template_uuid"), [TEMPLATE_1]);
    assert_eq!(get("state"), ["error"]);
    assert_eq!(get("timezone"), ["America/Sao_Paulo"]);
    assert_eq!(get("conversation_field_key"), ["perfil"]);
    assert_eq!(get("conversation_field_value"), ["Pessoa Jurídica"]);
    // The window is a start seven days back and no end: nothing inserted
    // since the read began is left out, whatever the server's clock says.
    let start = chrono::DateTime::parse_from_rfc3339(get("start")[0]).unwrap();
    assert!(get("end").is_empty(), "{pairs:?}");
    let start_text = get("start")[0];
    assert!(
        start_text.ends_with('Z') && start_text.len() == 24,
        "{start_text}"
    );
    assert!(
        (chrono::Utc::now() - chrono::Duration::days(7) - start.with_timezone(&chrono::Utc))
            .num_seconds()
            .abs()
            < 60
    );

    let m = app.scrape().await;
    assert_eq!(
        m.get("evolux_campaign_up", &[("campaign", CAMPAIGN_A)]),
        Some(1.0)
    );
    assert_eq!(
        m.get(
            "evolux_campaign_info",
            &[("campaign", CAMPAIGN_A), ("campaign_name", "Black Friday")]
        ),
        Some(1.0)
    );
    assert_eq!(m.get("evolux_up", &[]), Some(1.0));
    assert_eq!(
        m.get("evolux_api_requests_total", &[("code", "200")]),
        Some(FIRST_POLL_READS as f64)
    );
}

#[tokio::test]
async fn one_query_per_configured_campaign() {
    let upstream = MockServer::start().await;
    for (campaign, n) in [(CAMPAIGN_A, 5usize), (CAMPAIGN_B, 8), (CAMPAIGN_C, 13)] {
        let (recs, _) = records(campaign, TEMPLATE_1, n);
        Mock::given(path(REPORT_PATH))
            .and(query_param("campaigns[]", campaign))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": recs})))
            .expect(FIRST_POLL_READS as u64)
            .mount(&upstream)
            .await;
    }
    let app = spawn_app(config(&[
        &format!("--evolux.url={}", upstream.uri()),
        &format!("--campaign={CAMPAIGN_A}"),
        &format!("--campaign={CAMPAIGN_B},{CAMPAIGN_C}"),
    ]))
    .await;
    app.wait_ready().await;
    let m = app.scrape().await;
    assert_eq!(m.campaign_total(CAMPAIGN_A), 5.0);
    assert_eq!(m.campaign_total(CAMPAIGN_B), 8.0);
    assert_eq!(m.campaign_total(CAMPAIGN_C), 13.0);
}

/// The response shapes of docs/evolux-api.md, each counted without configuration.
#[tokio::test]
async fn counts_equal_records_served_for_every_shape() {
    let (recs, per_state) = records(CAMPAIGN_A, TEMPLATE_1, 250);
    let nested: Vec<serde_json::Value> = recs
        .iter()
        .map(|r| {
            json!({
                "name": r["name"], "phone_number": r["phone_number"], "state": r["state"],
                "template": {"uuid": r["template_uuid"], "name": "Boas-vindas"},
                "campaign": {"uuid": r["campaign_uuid"], "name": "Black Friday"}
            })
        })
        .collect();
    let shapes = [
        ("top-level array", json!(recs)),
        (
            "data envelope",
            json!({"data": recs, "links": {"next": null}}),
        ),
        ("nested objects", json!({"data": nested, "next": null})),
    ];
    for (shape, body) in shapes {
        let upstream = MockServer::start().await;
        Mock::given(path(REPORT_PATH))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&upstream)
            .await;
        let app = spawn_app(config(&[
            &format!("--evolux.url={}", upstream.uri()),
            &format!("--campaign={CAMPAIGN_A}"),
        ]))
        .await;
        app.wait_ready().await;
        let m = app.scrape().await;
        assert_counts(&m, CAMPAIGN_A, TEMPLATE_1, per_state);
        assert_eq!(m.campaign_total(CAMPAIGN_A), 250.0, "{shape}");
        assert_eq!(
            m.get(
                "evolux_template_info",
                &[("template", TEMPLATE_1), ("template_name", "Boas-vindas")]
            ),
            Some(1.0),
            "{shape}"
        );
        app.shutdown().await.unwrap();
    }
}

/// Pagination by `links.next` (a path) and by `next` (an absolute URL).
#[tokio::test]
async fn follows_next_links_across_pages() {
    for style in ["links.next path", "next absolute"] {
        let upstream = MockServer::start().await;
        let mut expected = [0u64; 6];
        let pages = 4;
        for page in 1..=pages {
            let (recs, per_state) = records(
                CAMPAIGN_A,
                if page % 2 == 0 {
                    TEMPLATE_2
                } else {
                    TEMPLATE_1
                },
                30 + page,
            );
            if page % 2 == 1 {
                for (e, n) in expected.iter_mut().zip(per_state) {
                    *e += n;
                }
            }
            let next = (page < pages).then(|| {
                let p = format!(
                    "{REPORT_PATH}?campaigns%5B%5D={CAMPAIGN_A}&page={}",
                    page + 1
                );
                if style == "next absolute" {
                    format!("{}{p}", upstream.uri())
                } else {
                    p
                }
            });
            let body = if style == "next absolute" {
                json!({"data": recs, "next": next})
            } else {
                json!({"links": {"next": next, "prev": null}, "data": recs})
            };
            let mut mock = Mock::given(path(REPORT_PATH));
            if page > 1 {
                mock = mock.and(query_param("page", page.to_string().as_str()));
            }
            mock.respond_with(ResponseTemplate::new(200).set_body_json(body))
                .expect(FIRST_POLL_READS as u64)
                .with_priority(if page > 1 { 1 } else { 5 })
                .mount(&upstream)
                .await;
        }
        let app = spawn_app(config(&[
            &format!("--evolux.url={}", upstream.uri()),
            &format!("--campaign={CAMPAIGN_A}"),
        ]))
        .await;
        app.wait_ready().await;
        let m = app.scrape().await;
        assert_eq!(
            m.campaign_total(CAMPAIGN_A),
            (31 + 32 + 33 + 34) as f64,
            "{style}"
        );
        assert_counts(&m, CAMPAIGN_A, TEMPLATE_1, expected);
        // Every page carried the token.
        for req in upstream.received_requests().await.unwrap() {
            assert_eq!(
                req.headers["authorization"],
                format!("Bearer {TOKEN}").as_str()
            );
        }
        // Four pages for each of the first poll's reads.
        assert_eq!(
            m.get("evolux_api_requests_total", &[("code", "200")]),
            Some((4 * FIRST_POLL_READS) as f64)
        );
        app.shutdown().await.unwrap();
    }
}

/// Without configured campaigns: one query, grouped by the records' campaign.
#[tokio::test]
async fn discovers_campaigns_from_the_records() {
    let upstream = MockServer::start().await;
    let (mut recs, a_states) = records(CAMPAIGN_A, TEMPLATE_1, 40);
    let (b, b_states) = records(CAMPAIGN_B, TEMPLATE_2, 25);
    recs.extend(b);
    Mock::given(path(REPORT_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": recs})))
        .expect(1)
        .mount(&upstream)
        .await;
    let app = spawn_app(config(&[
        &format!("--evolux.url={}", upstream.uri()),
        "--poll.window=1d",
    ]))
    .await;
    app.wait_ready().await;
    let req = &upstream.received_requests().await.unwrap()[0];
    assert!(
        !req.url.query_pairs().any(|(k, _)| k == "campaigns[]"),
        "discovery must not filter by campaign"
    );
    assert!(req.url.query_pairs().any(|(k, _)| k == "start"));
    let m = app.scrape().await;
    assert_counts(&m, CAMPAIGN_A, TEMPLATE_1, a_states);
    assert_counts(&m, CAMPAIGN_B, TEMPLATE_2, b_states);
    assert_eq!(
        m.get("evolux_campaign_up", &[("campaign", CAMPAIGN_B)]),
        Some(1.0)
    );
    // The poll's report (and its log line's `campaigns=`) counts the
    // campaigns exported, not the one discovery query.
    upstream.reset().await;
    Mock::given(path(REPORT_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": recs})))
        .mount(&upstream)
        .await;
    let report = app.poller.poll_once().await;
    assert_eq!((report.campaigns, report.failed), (2, 0), "{report:?}");
}

/// Zero-filled states, unknown states kept, names from the records.
#[tokio::test]
async fn every_template_gets_all_six_states_and_odd_states_are_kept() {
    let upstream = MockServer::start().await;
    let body = json!([
        record(CAMPAIGN_A, TEMPLATE_1, "sent"),
        record(CAMPAIGN_A, TEMPLATE_1, "queued_by_meta"),
        {"state": "error", "campaign_uuid": CAMPAIGN_A},
    ]);
    Mock::given(path(REPORT_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&upstream)
        .await;
    let app = spawn_app(config(&[
        &format!("--evolux.url={}", upstream.uri()),
        &format!("--campaign={CAMPAIGN_A}"),
    ]))
    .await;
    app.wait_ready().await;
    let m = app.scrape().await;
    assert_counts(&m, CAMPAIGN_A, TEMPLATE_1, [0, 0, 1, 0, 0, 0]);
    assert_eq!(
        m.get(
            "evolux_campaign_subscribers",
            &[("template", TEMPLATE_1), ("state", "queued_by_meta")]
        ),
        Some(1.0)
    );
    assert_counts(&m, CAMPAIGN_A, "unknown", [0, 0, 0, 0, 0, 1]);
    // The campaign's name came from the records.
    assert_eq!(
        m.get(
            "evolux_campaign_info",
            &[("campaign", CAMPAIGN_A), ("campaign_name", "Black Friday")]
        ),
        Some(1.0)
    );
}

/// `response:` pointers in the config file read a body of another shape.
#[tokio::test]
async fn json_pointer_overrides_read_another_shape() {
    let upstream = MockServer::start().await;
    let body = json!({"result": {"items": [
        {"status": {"code": "completed"}, "tpl": {"id": TEMPLATE_2}},
        {"status": {"code": "error"}, "tpl": {"id": TEMPLATE_2}},
    ]}, "paging": {"after": null}});
    Mock::given(path(REPORT_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&upstream)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.yaml");
    std::fs::write(
        &file,
        "response:\n  records: /result/items\n  next: /paging/after\n  state: /status/code\n  template: [/tpl/id]\n",
    )
    .unwrap();
    let app = spawn_app(config(&[
        &format!("--evolux.url={}", upstream.uri()),
        &format!("--campaign={CAMPAIGN_A}"),
        &format!("--config.file={}", file.display()),
    ]))
    .await;
    app.wait_ready().await;
    let m = app.scrape().await;
    assert_counts(&m, CAMPAIGN_A, TEMPLATE_2, [0, 0, 0, 0, 1, 1]);
}

#[tokio::test]
async fn readiness_waits_for_the_first_poll() {
    let upstream = MockServer::start().await;
    Mock::given(path(REPORT_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([]))
                .set_delay(std::time::Duration::from_millis(800)),
        )
        .mount(&upstream)
        .await;
    let app = spawn_app(config(&[
        &format!("--evolux.url={}", upstream.uri()),
        &format!("--campaign={CAMPAIGN_A}"),
    ]))
    .await;
    assert_eq!(app.get("/readyz").await.status(), 503);
    assert_eq!(app.get("/healthz").await.status(), 200);
    // /metrics answers before the first poll, with the self-metrics.
    let m = app.scrape().await;
    assert!(m.0.contains("evolux_exporter_build_info"));
    assert_eq!(m.get("evolux_up", &[]), None);
    app.wait_ready().await;
    assert_eq!(app.scrape().await.get("evolux_up", &[]), Some(1.0));
}

#[tokio::test]
async fn landing_page_links_the_telemetry_path_which_serves_plain_and_gzip_and_other_paths_404() {
    let upstream = MockServer::start().await;
    Mock::given(path(REPORT_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([record(CAMPAIGN_A, TEMPLATE_1, "sent")])),
        )
        .mount(&upstream)
        .await;
    let app = spawn_app(config(&[
        &format!("--evolux.url={}", upstream.uri()),
        &format!("--campaign={CAMPAIGN_A}"),
        "--web.telemetry-path=/custom-metrics",
    ]))
    .await;
    app.wait_ready().await;
    let landing = app.get("/").await.text().await.unwrap();
    assert!(landing.contains("href=\"/custom-metrics\""), "{landing}");
    assert_eq!(app.get("/metrics").await.status(), 404);
    assert_eq!(app.get("/nope").await.status(), 404);

    let plain = app
        .http
        .get(app.url("/custom-metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        plain.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let plain = plain.bytes().await.unwrap();
    let gz = app
        .http
        .get(app.url("/custom-metrics"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    let gz = gz.bytes().await.unwrap();
    let mut unzipped = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::MultiGzDecoder::new(&gz[..]),
        &mut unzipped,
    )
    .unwrap();
    // The poll's part is the same bytes; the scrape-time part follows it
    // in both (its figures move between the two scrapes).
    let live = evolux_exporter::metrics::live::PART_START;
    let split = |body: &[u8]| {
        let text = String::from_utf8(body.to_vec()).unwrap();
        let at = text.find(live).expect("the scrape-time part");
        (text[..at].to_string(), text[at..].to_string())
    };
    let ((polled, live_plain), (polled_gz, live_gz)) = (split(&plain), split(&unzipped));
    assert_eq!(polled, polled_gz);
    assert!(polled.contains("evolux_up 1"), "{polled}");
    for part in [live_plain, live_gz] {
        assert!(
            part.contains("evolux_exporter_scrapes_total{code=\"200\"}"),
            "{part}"
        );
    }
    assert!(gz.len() < plain.len());
}

#[tokio::test]
async fn shutdown_ends_serving_cleanly_and_closes_the_port() {
    let upstream = MockServer::start().await;
    Mock::given(path(REPORT_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&upstream)
        .await;
    let app = spawn_app(config(&[&format!("--evolux.url={}", upstream.uri())])).await;
    app.wait_ready().await;
    let addr = app.addr;
    tokio::time::timeout(std::time::Duration::from_secs(5), app.shutdown())
        .await
        .expect("shutdown within 5 s")
        .expect("clean shutdown");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still listening after shutdown"
    );
}
