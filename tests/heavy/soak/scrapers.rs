//! The soak's scrapers, and the sampler of the exporter's `/proc` stats.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::http::{HeaderValue, header};
use evolux_exporter::demo;

use crate::proc_stats::ProcStats;
use crate::support::metrics::Metrics;

#[derive(Default)]
pub struct ScrapeLog {
    pub ok: u64,
    pub failures: Vec<String>,
    pub max_latency: Duration,
    /// Scrapes that saw a campaign down (a failed query), for the report.
    pub saw_campaign_down: u64,
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
pub async fn scraper(base: String, mode: u8, stop: Arc<AtomicBool>) -> ScrapeLog {
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
pub struct Sample {
    pub at: Duration,
    pub stats: ProcStats,
}

pub fn max_of(samples: &[Sample], f: impl Fn(&ProcStats) -> u64) -> u64 {
    samples.iter().map(|s| f(&s.stats)).max().unwrap_or(0)
}
