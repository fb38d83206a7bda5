//! Counting what the demo API serves for a query, page by page with
//! `serde_json`, following its next links: the truth the soak (`heavy`)
//! and the views' demo tests (`it`) compare the exporter with.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::http::header;
use evolux_exporter::demo::DEMO_TOKEN;

/// Records by (campaign, template, state).
pub type Counts = BTreeMap<(String, String, String), u64>;

/// Every record the demo at `upstream` serves for the report query
/// `query`, counted by campaign, template and state.
pub async fn count_pages(http: &reqwest::Client, upstream: SocketAddr, query: &str) -> Counts {
    let mut counts = Counts::new();
    let mut url = format!("http://{upstream}/api/v1/reports/campaign/subscribers?{query}");
    for page in 0.. {
        let resp = http
            .get(&url)
            .header(header::AUTHORIZATION, format!("Bearer {DEMO_TOKEN}"))
            .send()
            .await
            .expect("truth request");
        assert_eq!(resp.status(), 200, "truth page {page} of {query}");
        let bytes = resp.bytes().await.expect("truth page");
        let body: serde_json::Value = serde_json::from_slice(&bytes).expect("truth page JSON");
        for rec in body["data"].as_array().expect("data array") {
            let field = |k: &str| rec[k].as_str().expect(k).to_string();
            *counts
                .entry((
                    field("campaign_uuid"),
                    field("template_uuid"),
                    field("state"),
                ))
                .or_default() += 1;
        }
        match body["links"]["next"].as_str() {
            Some(next) => url = format!("http://{upstream}{next}"),
            None => break,
        }
    }
    counts
}

/// The series where `expected` and `got` differ, for messages.
pub fn diff(expected: &Counts, got: &Counts) -> Vec<String> {
    let keys: std::collections::BTreeSet<_> = expected.keys().chain(got.keys()).collect();
    keys.into_iter()
        .filter_map(|k| {
            let (e, g) = (
                expected.get(k).copied().unwrap_or(0),
                got.get(k).copied().unwrap_or(0),
            );
            (e != g).then(|| format!("{k:?}: truth {e}, exporter {g}"))
        })
        .collect()
}

/// Serves `router` (the demo API) on 127.0.0.1:0 in the background.
pub async fn serve(router: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

/// `family`'s non-zero series (those labelled `filter`, if given) as the
/// exporter serves them, by campaign, template and state.
pub fn scraped(
    m: &crate::support::metrics::Metrics,
    family: &str,
    filter: Option<(&str, &str)>,
) -> Counts {
    let mut out = Counts::new();
    for (labels, v) in m.samples(family) {
        let get = |k: &str| {
            labels
                .iter()
                .find(|(lk, _)| lk == k)
                .map(|(_, lv)| lv.clone())
                .unwrap_or_default()
        };
        if v == 0.0 || filter.is_some_and(|(k, value)| get(k) != value) {
            continue;
        }
        let key = (get("campaign"), get("template"), get("state"));
        assert!(out.insert(key.clone(), v as u64).is_none(), "{key:?} twice");
    }
    out
}
