//! Ingest benchmark: counting a large report body, three ways, on the same
//! bytes, with the medians and ratios printed as a table.
//!
//! - `serde_json::from_slice` into a `Vec` of borrowed typed records, then
//!   counting: the usual way to write it (the whole body in memory).
//! - the exporter's push parser over the body in 64 KiB chunks, in memory.
//! - the exporter's real client polling the body over loopback HTTP.
//!
//! Run: `cargo bench --bench ingest` (`INGEST_RECORDS=100000` for a
//! shorter run, `INGEST_RUNS` for more repetitions, `INGEST_WRITE=FILE` to
//! write the data set to a file and stop).

#[path = "../tests/support/api.rs"]
mod api;
#[path = "support/body.rs"]
mod body;
mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::routing::get;
use bytes::Bytes;
use evolux_exporter::config::{Cli, Config};
use evolux_exporter::evolux::EvoluxClient;
use evolux_exporter::evolux::fields::ResponseLayout;
use evolux_exporter::evolux::scanner::BodyScanner;
use evolux_exporter::metrics::SelfMetrics;
use evolux_exporter::model::Tally;
use serde::Deserialize;

const CHUNK: usize = 64 * 1024;

#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow)]
    state: &'a str,
    #[serde(borrow)]
    template_uuid: &'a str,
    #[serde(borrow)]
    campaign_uuid: &'a str,
}

#[derive(Deserialize)]
struct Page<'a> {
    #[serde(borrow)]
    data: Vec<Record<'a>>,
}

fn serde_baseline(body: &[u8]) -> u64 {
    let page: Page = serde_json::from_slice(body).expect("valid JSON");
    let mut counts: HashMap<(&str, &str, &str), u64> = HashMap::new();
    for r in &page.data {
        *counts
            .entry((r.campaign_uuid, r.template_uuid, r.state))
            .or_default() += 1;
    }
    counts.values().sum()
}

fn push_parser(body: &[u8], layout: &ResponseLayout) -> u64 {
    let mut tally = Tally::new(None, 100_000);
    let mut scanner = BodyScanner::new(layout);
    for chunk in body.chunks(CHUNK) {
        scanner.feed(chunk, &mut tally).expect("valid body");
    }
    scanner.finish().expect("whole body");
    tally.records
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let n: u64 = std::env::var("INGEST_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let runs: usize = std::env::var("INGEST_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let (body, _) = body::body(n, 42);
    if let Ok(path) = std::env::var("INGEST_WRITE") {
        // For benches/compare.sh: the same bytes, for the peer tools.
        std::fs::write(&path, &body).expect("write the data set");
        println!("wrote {n} records ({} bytes) to {path}", body.len());
        return;
    }
    let mb = body.len() as f64 / 1e6;
    println!("ingest: {n} records, {mb:.0} MB of JSON, median of {runs} runs");
    let layout = ResponseLayout::default();

    let time = |f: &dyn Fn() -> u64| -> Duration {
        median(
            (0..runs)
                .map(|_| {
                    let t = Instant::now();
                    assert_eq!(f(), n);
                    t.elapsed()
                })
                .collect(),
        )
    };
    let serde = time(&|| serde_baseline(&body));
    let push = time(&|| push_parser(&body, &layout));

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let shared = Bytes::from(body);
    let http = rt.block_on(async {
        let served = shared.clone();
        let app = axum::Router::new().route(
            api::REPORT_PATH,
            get(move || {
                let b = served.clone();
                async move {
                    let chunks = (0..b.len()).step_by(CHUNK).map(move |i| {
                        Ok::<_, std::io::Error>(b.slice(i..(i + CHUNK).min(b.len())))
                    });
                    Body::from_stream(futures_util::stream::iter(chunks.collect::<Vec<_>>()))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let cli = Cli::try_parse_from([
            "bench",
            &format!("--evolux.url=http://{addr}"),
            "--evolux.timeout=10m",
            "--evolux.max-rps=1000",
        ])
        .unwrap();
        let config = Config::load_with_token(cli, Some("t".into())).unwrap();
        let metrics = SelfMetrics::new(1800.0).unwrap();
        let client = EvoluxClient::new(
            &config.evolux,
            Arc::new(config.response.clone()),
            metrics.api.clone(),
        )
        .unwrap();
        let mut times = Vec::new();
        for _ in 0..runs {
            let mut tally = Tally::new(None, 100_000);
            let t = Instant::now();
            client.run_query(&[], &mut tally).await.expect("poll");
            times.push(t.elapsed());
            assert_eq!(tally.records, n);
        }
        median(times)
    });

    println!();
    println!("| method | median | MB/s | records/s | vs serde_json::from_slice |");
    println!("|---|---|---|---|---|");
    for (name, d) in [
        (
            "serde_json::from_slice into Vec<borrowed record> (body in memory)",
            serde,
        ),
        ("push parser, 64 KiB chunks, in memory", push),
        ("exporter client, streamed over loopback HTTP", http),
    ] {
        let s = d.as_secs_f64();
        println!(
            "| {name} | {:.0} ms | {:.0} | {:.2} M | {:.2}× |",
            s * 1e3,
            mb / s,
            n as f64 / s / 1e6,
            serde.as_secs_f64() / s
        );
    }
}
