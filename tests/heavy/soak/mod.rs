//! Soak: the real binary polls a faulty upstream every 2 s while it is
//! scraped without pause; at the end its RSS, open fds and threads have not
//! grown since warm-up, every scrape was a 200, and its counts equal the
//! upstream's truth.
//!
//! The upstream is the exporter's own demo API (`evolux_exporter::demo`),
//! served by the test with a clock the test controls: a middleware pins the
//! demo's simulated time (`at=`) to a value that advances every 2 s (so the
//! truth changes during the soak) and is frozen at the end (so the truth
//! settles and can be counted). `--demo` itself cannot be used for that: the
//! binary's demo runs on its own clock, and its counts at the instant of a
//! poll are not observable from outside. The middleware also injects faults
//! on top of the demo's own 503s (`Retry-After: 1`): 500s, bodies cut off
//! halfway (the query fails, the campaign keeps its last counts), and slow
//! responses.
//!
//! The truth is counted by the test from a second, fault-free instance of
//! the demo API at the frozen time, page by page with `serde_json`, and
//! cross-checked against `demo::subscribers_at`.
//!
//! `cargo test --test heavy soak::` runs a 20 s form; the full soak is ignored
//! by default: `SOAK_SECS=600 cargo test --test heavy soak:: -- --ignored --nocapture`
//! (600 s when `SOAK_SECS` is unset).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use evolux_exporter::demo::{self, DEMO_TOKEN, DemoOptions};

use crate::proc_stats::{ProcStats, panics_in};
use crate::support::exporter::Exporter;
use crate::support::metrics::Metrics;

mod scrapers;
mod upstream;
use scrapers::{Sample, max_of, scraper};
use upstream::{Upstream, diff, faulty, serve, truth_at};

/// Simulated seconds the upstream's clock moves every [`TICK`].
const TICK: Duration = Duration::from_secs(2);
/// Records per page of the faulty upstream: more pages, more requests.
const PAGE_SIZE: usize = 1000;
/// Share (in %) of requests answered 500, cut off halfway, delayed 300 ms.
pub const FAULT_500_PCT: u32 = 2;
pub const FAULT_TRUNCATE_PCT: u32 = 2;
pub const FAULT_SLOW_PCT: u32 = 3;
/// Share of requests the demo itself answers 503 with `Retry-After: 1`.
/// Each one pauses every request to the upstream for a second, as a server
/// that says it is overloaded asks (the limiter honours it for all reads), so
/// this rate bounds how much of the soak the poller spends waiting: at 3%
/// of some 800 requests, the pauses filled most of a 20 s soak and a slow
/// machine finished only four polls. The middleware's own 503 (request 2)
/// makes sure at least one is seen.
const DEMO_FAULT_RATE: f64 = 0.01;

async fn soak(duration: Duration) {
    // The faulty upstream, on the test's clock.
    let up = Arc::new(Upstream::default());
    let upstream = serve(
        demo::router(DemoOptions {
            fault_rate: DEMO_FAULT_RATE,
            page_size: PAGE_SIZE,
            speed: 1.0,
        })
        .layer(axum::middleware::from_fn_with_state(up.clone(), faulty)),
    )
    .await;
    // The same API without faults, for the truth.
    let truth = serve(demo::router(DemoOptions {
        fault_rate: 0.0,
        page_size: 5000,
        speed: 1.0,
    }))
    .await;

    let mut args = vec![
        format!("--evolux.url=http://{upstream}/"),
        "--poll.interval=2s".into(),
        "--poll.max-staleness=1h".into(),
        "--evolux.timeout=10s".into(),
        "--evolux.max-retries=5".into(),
        "--evolux.max-rps=100".into(),
    ];
    args.extend(demo::campaigns().map(|(uuid, _)| format!("--campaign={uuid}")));
    let mut exporter = Exporter::new()
        .args(args)
        .env("EVOLUX_TOKEN", DEMO_TOKEN)
        .spawn()
        .await;
    exporter.wait_ready(Duration::from_secs(60)).await;
    let pid = exporter.pid;
    let base = exporter.url("");
    let at_ready = exporter.stats();

    // The clock: the truth changes every TICK.
    let started = Instant::now();
    let frozen = Arc::new(AtomicBool::new(false));
    let clock = {
        let (up, frozen) = (up.clone(), frozen.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(TICK).await;
                if frozen.load(Ordering::Relaxed) {
                    return;
                }
                up.set(started.elapsed().as_secs() as f64);
            }
        })
    };

    // The scrapers and the sampler.
    let stop = Arc::new(AtomicBool::new(false));
    let scrapers: Vec<_> = (0..3u8)
        .map(|mode| tokio::spawn(scraper(base.clone(), mode, stop.clone())))
        .collect();
    let sampler = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut samples = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                samples.push(Sample {
                    at: started.elapsed(),
                    stats: ProcStats::of(pid),
                });
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            samples
        })
    };

    // Soak, keeping an eye on the child.
    while started.elapsed() < duration {
        tokio::time::sleep(Duration::from_secs(1)).await;
        exporter.assert_running("during the soak");
        let secs = started.elapsed().as_secs();
        if secs.is_multiple_of(60) && secs > 0 {
            println!("{secs} s: {}", exporter.stats());
        }
    }

    // Freeze the truth a minute ahead (so that it differs from anything
    // polled so far) and wait for the exporter to show it.
    frozen.store(true, Ordering::Relaxed);
    clock.await.expect("clock");
    let final_t = up.now() + 60.0;
    up.set(final_t);
    let http = reqwest::Client::builder()
        .no_gzip()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let expected = truth_at(&http, truth, final_t).await;
    let settle_started = Instant::now();
    let mut last;
    let settled = loop {
        let text = http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .expect("scrape")
            .text()
            .await
            .expect("body");
        last = crate::demo_pages::scraped(&Metrics(text), "evolux_campaign_subscribers", None);
        if last == expected {
            break true;
        }
        if settle_started.elapsed() > Duration::from_secs(60) {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let settle_took = settle_started.elapsed();
    let final_metrics = exporter.scrape().await;

    // Stop scraping; the scrapers' connections go away.
    stop.store(true, Ordering::Relaxed);
    let mut logs = Vec::new();
    for s in scrapers {
        logs.push(s.await.expect("scraper"));
    }
    let samples = sampler.await.expect("sampler");
    drop(http);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let quiet = exporter.stats();
    let soaked = started.elapsed();

    let stopped = exporter.stop(Duration::from_secs(15)).await;
    let polls = stopped
        .logs
        .lines()
        .filter(|l| l.contains("poll finished"))
        .count();
    let failed_queries = stopped
        .logs
        .lines()
        .filter(|l| l.contains("campaign poll failed"))
        .count();

    // The numbers.
    let warmup = (duration / 4).clamp(Duration::from_secs(5), Duration::from_secs(60));
    let warm: Vec<Sample> = samples.iter().copied().filter(|s| s.at <= warmup).collect();
    let tail_len = (samples.len() / 5).max(3).min(samples.len());
    let tail = &samples[samples.len() - tail_len..];
    let (warm_rss, end_rss) = (max_of(&warm, |s| s.rss_kb), max_of(tail, |s| s.rss_kb));
    let (warm_fds, end_fds) = (max_of(&warm, |s| s.fds), max_of(tail, |s| s.fds));
    let (warm_threads, end_threads) = (max_of(&warm, |s| s.threads), max_of(tail, |s| s.threads));
    let scrapes: u64 = logs.iter().map(|l| l.ok).sum();
    let failures: Vec<&String> = logs.iter().flat_map(|l| &l.failures).collect();
    let api = |code: &str| {
        final_metrics
            .get("evolux_api_requests_total", &[("code", code)])
            .unwrap_or(0.0)
    };
    println!("soak of {duration:?} (whole run {soaked:?}, warm-up {warmup:?}):");
    println!("  exporter at ready: {at_ready}; quiet at the end: {quiet}");
    println!(
        "  RSS: warm-up max {:.1} MiB, end max {:.1} MiB, overall {:.1}..{:.1} MiB over {} samples",
        warm_rss as f64 / 1024.0,
        end_rss as f64 / 1024.0,
        samples.iter().map(|s| s.stats.rss_kb).min().unwrap_or(0) as f64 / 1024.0,
        max_of(&samples, |s| s.rss_kb) as f64 / 1024.0,
        samples.len()
    );
    println!(
        "  fds: warm-up max {warm_fds}, end max {end_fds}; threads: warm-up max {warm_threads}, end max {end_threads}"
    );
    println!(
        "  scrapes: {scrapes} answered ({}), {} failures, max latency {:?}; {} saw a campaign down",
        logs.iter()
            .map(|l| l.ok.to_string())
            .collect::<Vec<_>>()
            .join(" / "),
        failures.len(),
        logs.iter().map(|l| l.max_latency).max().unwrap_or_default(),
        logs.iter().map(|l| l.saw_campaign_down).sum::<u64>()
    );
    println!(
        "  upstream: {} requests, injected {} × 500, {} × 503, {} cut-off bodies, {} slow; exporter saw 200: {}, 500: {}, 503: {}, error: {}",
        up.requests.load(Ordering::Relaxed),
        up.injected_500.load(Ordering::Relaxed),
        up.injected_503.load(Ordering::Relaxed),
        up.truncated.load(Ordering::Relaxed),
        up.slowed.load(Ordering::Relaxed),
        api("200"),
        api("500"),
        api("503"),
        api("error")
    );
    println!(
        "  polls: {polls}, failed campaign queries: {failed_queries}; settled on the truth at t={final_t} ({} records) in {settle_took:?}",
        expected.values().sum::<u64>()
    );

    // The assertions.
    assert!(
        settled,
        "the exporter's counts never matched the upstream's truth at t={final_t}:\n{}",
        diff(&expected, &last).join("\n")
    );
    assert!(
        failures.is_empty(),
        "{} scrapes failed:\n{}",
        failures.len(),
        failures
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        scrapes >= duration.as_secs() * 10,
        "only {scrapes} scrapes in {duration:?}"
    );
    assert!(
        stopped.status.success(),
        "exit after SIGTERM: {}\n{}",
        stopped.status,
        stopped.logs
    );
    assert!(panics_in(&stopped.logs).is_empty(), "{}", stopped.logs);
    // The faults happened and were seen.
    assert!(up.truncated.load(Ordering::Relaxed) >= 1);
    assert!(up.slowed.load(Ordering::Relaxed) >= 1);
    assert!(
        api("500") >= 1.0 && api("503") >= 1.0,
        "{}",
        final_metrics.0
    );
    assert!(failed_queries >= 1, "a cut-off body fails its query");
    assert!(polls as u64 >= duration.as_secs() / 4, "only {polls} polls");
    // Flat resources.
    assert!(
        end_rss <= warm_rss + warm_rss / 5 + 8 * 1024,
        "RSS grew: {:.1} MiB at the end, {:.1} MiB during warm-up",
        end_rss as f64 / 1024.0,
        warm_rss as f64 / 1024.0
    );
    // Under load the count moves with the connections in flight: up to 4
    // to the upstream (--evolux.max-concurrency), the scrapers', and the
    // settling loop's at the end.
    assert!(
        end_fds <= warm_fds + 6,
        "open fds grew: {end_fds} at the end, {warm_fds} during warm-up"
    );
    // Once the scrapers are gone, only idle upstream connections may differ.
    assert!(
        quiet.fds <= at_ready.fds + 4,
        "open fds once the scrapers left: {}, at ready: {}",
        quiet.fds,
        at_ready.fds
    );
    assert!(
        end_threads <= warm_threads + 2,
        "threads grew: {end_threads} at the end, {warm_threads} during warm-up"
    );
}

/// Duration of the full soak: `SOAK_SECS`, else 600 s.
fn soak_secs() -> Duration {
    let secs = std::env::var("SOAK_SECS")
        .ok()
        .map(|v| v.parse::<u64>().expect("SOAK_SECS is a number of seconds"))
        .unwrap_or(600);
    Duration::from_secs(secs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_soak_leaves_resources_flat_and_counts_true() {
    let _alone = crate::ALONE.lock().await;
    soak(Duration::from_secs(20)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: SOAK_SECS=600 cargo test --test heavy soak:: -- --ignored --nocapture"]
async fn long_soak_leaves_resources_flat_and_counts_true() {
    let _alone = crate::ALONE.lock().await;
    soak(soak_secs()).await;
}
