//! Sharding end to end: replicas given `--shard.index`/`--shard.count` and the same
//! configured campaigns split them, so that every campaign is polled by exactly one
//! replica and served by that replica only. This is what the StatefulSet of
//! `deploy/kubernetes/components/sharding` relies on, including the index taken from
//! the pod's name (`EVOLUX_SHARD_INDEX=evolux-exporter-1`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::app::*;
use crate::mock_api::*;
use crate::support::exporter::Exporter;
use crate::support::metrics::Metrics;
use crate::support::*;
use serde_json::json;
use wiremock::matchers::{path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SHARDS: u32 = 3;

/// Twelve campaigns; the i-th has `records_of(i)` subscribers upstream.
const CAMPAIGNS: [&str; 12] = [
    "f45d98dc-ac5e-48f2-9c01-ebe18f86d28b",
    "0c7e3f5a-9b2d-4d6e-8a1f-5c4b3a2e1d54",
    "5d2a8c4e-1f7b-4e3a-9d6c-8b5a4f3e2d65",
    "9a7e4c21-3b5d-4f60-8e19-2c6d8a0b4f73",
    "2b8f6d13-7c4a-4e95-b1d2-6f3a9c0e8b47",
    "c3e1a7f9-5d2b-4c68-9a04-1e7b3f6d2c58",
    "7e4b2c90-1a6f-4d3e-8c57-9b0d2e4f6a13",
    "d81f3a6c-9e2b-47d5-a3c0-5f8e1b7d4c26",
    "4a6c8e02-3f1d-4b79-9e5a-7c2d0b8f1e64",
    "e9d7b5a3-8c1f-4e26-b4d0-3a5c7e9f1b82",
    "1f3e5d7c-9b2a-4c84-8f6e-0d2b4a6c8e19",
    "b6a4c2e0-7d9f-4b13-a5e7-9f1d3b5a7c30",
];

fn records_of(i: usize) -> usize {
    5 + 3 * i
}

/// The upstream: each campaign's query answered with its own number of records.
async fn upstream() -> MockServer {
    let server = MockServer::start().await;
    for (i, campaign) in CAMPAIGNS.iter().enumerate() {
        let (recs, _) = records(campaign, TEMPLATE_1, records_of(i));
        Mock::given(path(REPORT_PATH))
            .and(query_param("campaigns[]", *campaign))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "data": recs })))
            .mount(&server)
            .await;
    }
    server
}

/// A config file naming all twelve campaigns (the same file for every replica).
fn config_file(dir: &Path) -> String {
    let mut text = String::from("campaigns:\n");
    for (i, c) in CAMPAIGNS.iter().enumerate() {
        text.push_str(&format!("  - uuid: {c}\n    name: Campaign {i}\n"));
    }
    let file = dir.join("config.yaml");
    std::fs::write(&file, text).unwrap();
    file.display().to_string()
}

async fn spawn_shard(upstream: &MockServer, file: &str, index: &str) -> TestApp {
    spawn_app(config(&[
        &format!("--evolux.url={}", upstream.uri()),
        &format!("--config.file={file}"),
        &format!("--shard.index={index}"),
        &format!("--shard.count={SHARDS}"),
    ]))
    .await
}

/// How many requests each campaign got (the `campaigns[]` parameter).
async fn requests_per_campaign(upstream: &MockServer) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for req in upstream.received_requests().await.unwrap() {
        let campaigns: Vec<String> = req
            .url
            .query_pairs()
            .filter(|(k, _)| k == "campaigns[]")
            .map(|(_, v)| v.into_owned())
            .collect();
        assert_eq!(
            campaigns.len(),
            1,
            "one campaign per query, never a discovery query: {}",
            req.url
        );
        *counts.entry(campaigns[0].clone()).or_default() += 1;
    }
    counts
}

/// The campaigns an exporter serves, per family that carries a `campaign` label.
fn served(m: &Metrics) -> BTreeMap<&'static str, BTreeSet<String>> {
    [
        "evolux_campaign_subscribers",
        "evolux_campaign_up",
        "evolux_campaign_info",
        "evolux_campaign_last_success_timestamp_seconds",
        "evolux_poll_duration_seconds",
    ]
    .into_iter()
    .map(|family| {
        let set = m
            .samples(family)
            .filter_map(|(labels, _)| {
                labels
                    .into_iter()
                    .find(|(k, _)| k == "campaign")
                    .map(|(_, v)| v)
            })
            .collect();
        (family, set)
    })
    .collect()
}

fn all_campaigns() -> BTreeSet<String> {
    CAMPAIGNS.iter().map(|c| c.to_string()).collect()
}

#[tokio::test]
async fn three_shards_poll_and_serve_each_campaign_exactly_once() {
    let upstream = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let file = config_file(dir.path());
    let mut apps = Vec::new();
    for i in 0..SHARDS {
        apps.push(spawn_shard(&upstream, &file, &i.to_string()).await);
    }
    for app in &apps {
        app.wait_ready().await;
    }

    // Poll round 1 (the one each replica runs at start-up): every campaign
    // read (its whole read and the two halves that check it) by exactly one
    // of the replicas.
    let once: BTreeMap<String, usize> = all_campaigns()
        .into_iter()
        .map(|c| (c, FIRST_POLL_READS))
        .collect();
    assert_eq!(requests_per_campaign(&upstream).await, once);

    // Each replica serves exactly the campaigns it polled, with the upstream's counts.
    let mut owner: BTreeMap<String, usize> = BTreeMap::new();
    let mut shares = Vec::new();
    for (i, app) in apps.iter().enumerate() {
        let m = app.scrape().await;
        assert_eq!(m.get("evolux_up", &[]), Some(1.0), "replica {i}");
        let families = served(&m);
        let share = families["evolux_campaign_up"].clone();
        assert!(
            !share.is_empty(),
            "replica {i} polls none of the 12 campaigns"
        );
        for (family, set) in &families {
            assert_eq!(set, &share, "replica {i}: {family} covers other campaigns");
        }
        for c in &share {
            let index = CAMPAIGNS.iter().position(|x| x == c).unwrap();
            assert_eq!(
                m.campaign_total(c),
                records_of(index) as f64,
                "replica {i}: campaign {c}"
            );
            assert_eq!(
                m.get(
                    "evolux_campaign_info",
                    &[
                        ("campaign", c),
                        ("campaign_name", &format!("Campaign {index}"))
                    ]
                ),
                Some(1.0)
            );
            if let Some(other) = owner.insert(c.clone(), i) {
                panic!("campaign {c} served by replicas {other} and {i}");
            }
        }
        shares.push(share);
    }
    assert_eq!(
        owner.keys().cloned().collect::<BTreeSet<_>>(),
        all_campaigns(),
        "the replicas together cover every campaign"
    );

    // Poll round 2, all replicas at once: again one query per campaign.
    futures_util::future::join_all(apps.iter().map(|a| a.poller.poll_once())).await;
    let twice: BTreeMap<String, usize> = all_campaigns()
        .into_iter()
        .map(|c| (c, FIRST_POLL_READS + 1))
        .collect();
    assert_eq!(requests_per_campaign(&upstream).await, twice);
    for (i, app) in apps.iter().enumerate() {
        assert_eq!(
            served(&app.scrape().await)["evolux_campaign_subscribers"],
            shares[i]
        );
    }
    for app in apps {
        app.shutdown().await.unwrap();
    }
}

/// What a StatefulSet pod gets: its name as the index.
#[tokio::test]
async fn a_pod_name_index_takes_the_ordinal() {
    let dir = tempfile::tempdir().unwrap();
    let file = config_file(dir.path());
    let mut polled = Vec::new();
    for index in ["1", "evolux-exporter-1"] {
        let upstream = upstream().await;
        let app = spawn_shard(&upstream, &file, index).await;
        app.wait_ready().await;
        let requested: BTreeSet<String> =
            requests_per_campaign(&upstream).await.into_keys().collect();
        assert_eq!(
            served(&app.scrape().await)["evolux_campaign_up"],
            requested,
            "{index}"
        );
        assert!(!requested.is_empty());
        polled.push(requested);
        app.shutdown().await.unwrap();
    }
    assert_eq!(polled[0], polled[1], "evolux-exporter-1 is shard 1");
}

/// Runs the binary with `--config.check` and the shard settings in the environment,
/// as the StatefulSet sets them.
fn check_with_env(file: &str, index: &str, count: &str) -> (bool, String, BTreeSet<String>) {
    let out = Exporter::new()
        .args([
            "--config.check",
            "--evolux.url=https://acme.evolux.cx",
            &format!("--config.file={file}"),
        ])
        .env("EVOLUX_TOKEN", "dummy-token")
        .env("EVOLUX_SHARD_INDEX", index)
        .env("EVOLUX_SHARD_COUNT", count)
        .run();
    // Another replica's campaigns are listed too, marked "not polled here".
    let owned = out
        .text
        .lines()
        .filter_map(|l| l.strip_prefix("    - "))
        .filter(|l| !l.ends_with("not polled here)"))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect();
    (out.success(), out.text, owned)
}

#[test]
fn pod_names_in_the_environment_partition_the_campaigns() {
    let dir = tempfile::tempdir().unwrap();
    let file = config_file(dir.path());
    let mut seen = BTreeSet::new();
    for i in 0..SHARDS {
        let (ok, text, owned) =
            check_with_env(&file, &format!("evolux-exporter-{i}"), &SHARDS.to_string());
        assert!(ok, "{text}");
        assert!(!owned.is_empty(), "shard {i} owns nothing:\n{text}");
        assert!(
            seen.is_disjoint(&owned),
            "shard {i} shares campaigns:\n{text}"
        );
        seen.extend(owned);
    }
    assert_eq!(seen, all_campaigns());

    // A pod beyond the count (replicas raised, EVOLUX_SHARD_COUNT not): refused.
    let (ok, text, _) = check_with_env(&file, "evolux-exporter-3", "3");
    assert!(!ok, "{text}");
    assert!(text.contains("shard.index"), "{text}");

    // Discovery (no configured campaigns) cannot be split.
    let empty = dir.path().join("empty.yaml");
    std::fs::write(&empty, "poll:\n  interval: 60s\n").unwrap();
    let (ok, text, _) = check_with_env(&empty.display().to_string(), "evolux-exporter-0", "3");
    assert!(!ok, "{text}");
    assert!(text.contains("shard.count"), "{text}");
}
