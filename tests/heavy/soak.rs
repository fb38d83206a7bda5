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
//! `cargo test --test soak` runs a 20 s form; the full soak is ignored by
//! default: `SOAK_SECS=600 cargo test --test soak -- --ignored --nocapture`
//! (600 s when `SOAK_SECS` is unset).


use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use crate::support::app::Metrics;
use crate::support::exporter::{Exporter, ProcStats, panics_in};
use evolux_exporter::demo::{self, DEMO_TOKEN, DemoOptions};
use futures_util::StreamExt;

/// Simulated seconds the upstream's clock moves every [`TICK`].
const TICK: Duration = Duration::from_secs(2);
/// Records per page of the faulty upstream: more pages, more requests.
const PAGE_SIZE: usize = 1000;
/// Share (in %) of requests answered 500, cut off halfway, delayed 300 ms.
const FAULT_500_PCT: u32 = 2;
const FAULT_TRUNCATE_PCT: u32 = 2;
const FAULT_SLOW_PCT: u32 = 3;
/// Share of requests the demo itself answers 503 with `Retry-After: 1`.
const DEMO_FAULT_RATE: f64 = 0.03;

// ---------------------------------------------------------------------------
// The upstream.

/// The faulty upstream's clock and what it did.
#[derive(Default)]
struct Upstream {
    /// Simulated time (f64 bits) the demo answers for.
    sim_t: AtomicU64,
    requests: AtomicU64,
    injected_500: AtomicU64,
    injected_503: AtomicU64,
    truncated: AtomicU64,
    slowed: AtomicU64,
}

impl Upstream {
    fn now(&self) -> f64 {
        f64::from_bits(self.sim_t.load(Ordering::Relaxed))
    }

    fn set(&self, t: f64) {
        self.sim_t.store(t.to_bits(), Ordering::Relaxed);
    }
}

#[derive(Clone, Copy)]
enum Fault {
    None,
    Status500,
    Status503,
    Truncate,
    Slow,
}

/// Pins `at=` to the test's clock, then maybe breaks the response. The
/// first requests get one fault of each kind for sure (request 8 is slow
/// whatever else); after that, faults are random.
async fn faulty(State(up): State<Arc<Upstream>>, mut req: Request, next: Next) -> Response {
    let n = up.requests.fetch_add(1, Ordering::Relaxed);
    let fault = match n {
        2 => Fault::Status503,
        4 => Fault::Status500,
        8 => Fault::Slow,
        // Only a 200 can be cut off: until one has been, try every request.
        6.. if up.truncated.load(Ordering::Relaxed) == 0 => Fault::Truncate,
        _ => match fastrand::u32(0..100) {
            x if x < FAULT_500_PCT => Fault::Status500,
            x if x < FAULT_500_PCT + FAULT_TRUNCATE_PCT => Fault::Truncate,
            x if x < FAULT_500_PCT + FAULT_TRUNCATE_PCT + FAULT_SLOW_PCT => Fault::Slow,
            _ => Fault::None,
        },
    };
    match fault {
        Fault::Status500 => {
            up.injected_500.fetch_add(1, Ordering::Relaxed);
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "{\"error\":\"injected\"}",
            )
                .into_response();
        }
        Fault::Status503 => {
            up.injected_503.fetch_add(1, Ordering::Relaxed);
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "1")],
                "{\"error\":\"injected\"}",
            )
                .into_response();
        }
        Fault::Slow => {
            up.slowed.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        Fault::None | Fault::Truncate => {}
    }
    // The first page of a query carries no `at`: pin it to our clock. The
    // next links carry the `at` of their first page.
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    if !query.split('&').any(|kv| kv.starts_with("at=")) {
        let at = format!("at={}", up.now());
        let pq = if query.is_empty() {
            format!("{path}?{at}")
        } else {
            format!("{path}?{query}&{at}")
        };
        *req.uri_mut() = Uri::try_from(pq).expect("a valid URI");
    }
    let resp = next.run(req).await;
    if !matches!(fault, Fault::Truncate) || resp.status() != StatusCode::OK {
        return resp;
    }
    up.truncated.fetch_add(1, Ordering::Relaxed);
    let (mut parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .expect("demo body");
    let half = bytes.slice(..bytes.len() / 2);
    parts.headers.remove(header::CONTENT_LENGTH);
    // The head and the first half go out; a moment later the connection
    // is cut (an error at once would abort it before the head is sent).
    let first = futures_util::stream::once(async move { Ok::<_, std::io::Error>(half) });
    let cut = futures_util::stream::once(async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        Err(std::io::Error::other("injected: body cut off"))
    });
    Response::from_parts(parts, Body::from_stream(first.chain(cut)))
}

/// Serves `router` on 127.0.0.1:0 in the background.
async fn serve(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

/// (campaign, template, state) → subscribers.
type Counts = BTreeMap<(String, String, String), u64>;

/// Counts every record the fault-free demo at `truth` serves for simulated
/// time `t`, following the next links.
async fn truth_at(http: &reqwest::Client, truth: SocketAddr, t: f64) -> Counts {
    let mut counts = Counts::new();
    let mut url = format!("http://{truth}/api/v1/reports/campaign/subscribers?at={t}");
    let mut pages = 0;
    loop {
        let resp = http
            .get(&url)
            .header(header::AUTHORIZATION, format!("Bearer {DEMO_TOKEN}"))
            .send()
            .await
            .expect("truth request");
        assert_eq!(resp.status(), 200, "truth page {pages}");
        let body = resp.bytes().await.expect("truth page");
        let page: serde_json::Value = serde_json::from_slice(&body).expect("truth page JSON");
        for rec in page["data"].as_array().expect("data array") {
            let field = |k: &str| rec[k].as_str().expect(k).to_string();
            *counts
                .entry((
                    field("campaign_uuid"),
                    field("template_uuid"),
                    field("state"),
                ))
                .or_default() += 1;
        }
        pages += 1;
        match page["links"]["next"].as_str() {
            Some(next) => url = format!("http://{truth}{next}"),
            None => break,
        }
    }
    // Cross-check with the simulation itself, by campaign and state.
    let uuids: Vec<&str> = demo::campaigns().map(|(uuid, _)| uuid).collect();
    let mut by_state: BTreeMap<(String, String), u64> = BTreeMap::new();
    for s in demo::subscribers_at(t) {
        *by_state
            .entry((uuids[s.campaign].to_string(), s.state.to_string()))
            .or_default() += 1;
    }
    let mut served: BTreeMap<(String, String), u64> = BTreeMap::new();
    for ((c, _, s), n) in &counts {
        *served.entry((c.clone(), s.clone())).or_default() += n;
    }
    assert_eq!(served, by_state, "the demo API serves its simulation");
    counts
}

/// The exporter's `evolux_campaign_subscribers`, without the zero series.
fn scraped_counts(m: &Metrics) -> Counts {
    let mut out = Counts::new();
    for (labels, v) in m.samples("evolux_campaign_subscribers") {
        if v == 0.0 {
            continue;
        }
        let get = |k: &str| {
            labels
                .iter()
                .find(|(lk, _)| lk == k)
                .map(|(_, lv)| lv.clone())
                .unwrap_or_default()
        };
        out.insert((get("campaign"), get("template"), get("state")), v as u64);
    }
    out
}

/// Differences between two count maps, for messages.
fn diff(expected: &Counts, got: &Counts) -> Vec<String> {
    let mut keys: Vec<_> = expected.keys().chain(got.keys()).collect();
    keys.sort();
    keys.dedup();
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

// ---------------------------------------------------------------------------
// Scrapers and the sampler.

#[derive(Default)]
struct ScrapeLog {
    ok: u64,
    failures: Vec<String>,
    max_latency: Duration,
    /// Scrapes that saw a campaign down (a failed query), for the report.
    saw_campaign_down: u64,
}

impl ScrapeLog {
    fn fail(&mut self, what: String) {
        if self.failures.len() < 20 {
            self.failures.push(what);
        } else if self.failures.len() == 20 {
            self.failures.push("…".into());
        }
    }
}

/// Checks a `/metrics` body: whole, and no campaign's total went down
/// since the last one this scraper saw (the upstream's totals only grow).
fn check_metrics(
    text: &str,
    last: &mut HashMap<String, f64>,
    log: &mut ScrapeLog,
    who: &str,
) -> bool {
    if !text.ends_with('\n') || !text.contains("evolux_exporter_build_info") {
        log.fail(format!("{who}: a truncated body of {} bytes", text.len()));
        return false;
    }
    let m = Metrics(text.to_string());
    for (uuid, _) in demo::campaigns() {
        let total = m.campaign_total(uuid);
        let before = last.insert(uuid.to_string(), total).unwrap_or(0.0);
        if total < before {
            log.fail(format!(
                "{who}: campaign {uuid} went from {before} to {total} subscribers"
            ));
        }
    }
    if m.samples("evolux_campaign_up").any(|(_, v)| v == 0.0) {
        log.saw_campaign_down += 1;
    }
    true
}

/// Scrapes until `stop`: `mode` 0 is keep-alive plain, 1 keep-alive gzip,
/// 2 a new connection per request, rotating /metrics, /healthz, /readyz.
async fn scraper(base: String, mode: u8, stop: Arc<AtomicBool>) -> ScrapeLog {
    let who = ["keep-alive", "keep-alive gzip", "new connections"][mode as usize];
    let mut builder = reqwest::Client::builder()
        .no_gzip()
        .timeout(Duration::from_secs(5));
    if mode == 2 {
        builder = builder.pool_max_idle_per_host(0);
    }
    let http = builder.build().expect("client");
    let mut log = ScrapeLog::default();
    let mut last = HashMap::new();
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let path = match (mode, i % 3) {
            (2, 1) => "/healthz",
            (2, 2) => "/readyz",
            _ => "/metrics",
        };
        i += 1;
        let mut req = http.get(format!("{base}{path}"));
        if mode == 1 {
            req = req.header(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        }
        let started = Instant::now();
        let result = async {
            let resp = req.send().await.map_err(|e| format!("{e:?}"))?;
            let status = resp.status();
            let gzipped = resp
                .headers()
                .get(header::CONTENT_ENCODING)
                .is_some_and(|v| v == "gzip");
            let body = resp.bytes().await.map_err(|e| format!("body: {e:?}"))?;
            Ok::<_, String>((status, gzipped, body))
        }
        .await;
        log.max_latency = log.max_latency.max(started.elapsed());
        let (status, gzipped, body) = match result {
            Ok(r) => r,
            Err(e) => {
                log.fail(format!("{who} {path}: {e}"));
                continue;
            }
        };
        if status != 200 {
            log.fail(format!("{who} {path}: HTTP {status}"));
            continue;
        }
        if path == "/metrics" {
            let text = if mode == 1 {
                if !gzipped {
                    log.fail(format!("{who}: not gzipped"));
                    continue;
                }
                let mut out = String::new();
                if let Err(e) = flate2::read::GzDecoder::new(&body[..]).read_to_string(&mut out) {
                    log.fail(format!("{who}: bad gzip: {e}"));
                    continue;
                }
                out
            } else {
                String::from_utf8_lossy(&body).into_owned()
            };
            if !check_metrics(&text, &mut last, &mut log, who) {
                continue;
            }
        }
        log.ok += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    log
}

/// One reading of the exporter's `/proc` stats.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Duration,
    stats: ProcStats,
}

fn max_of(samples: &[Sample], f: impl Fn(&ProcStats) -> u64) -> u64 {
    samples.iter().map(|s| f(&s.stats)).max().unwrap_or(0)
}

// ---------------------------------------------------------------------------
// The soak.

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
    let mut exporter = Exporter::start(
        &args,
        &[("EVOLUX_TOKEN", DEMO_TOKEN)],
        Duration::from_secs(60),
    )
    .await;
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
        last = scraped_counts(&Metrics(text));
        if last == expected {
            break true;
        }
        if settle_started.elapsed() > Duration::from_secs(60) {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let settle_took = settle_started.elapsed();
    let final_metrics = Metrics(
        http.get(format!("{base}/metrics"))
            .send()
            .await
            .expect("scrape")
            .text()
            .await
            .expect("body"),
    );

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
async fn short_soak() {
    soak(Duration::from_secs(20)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: SOAK_SECS=600 cargo test --test soak -- --ignored --nocapture"]
async fn full_soak() {
    soak(soak_secs()).await;
}
