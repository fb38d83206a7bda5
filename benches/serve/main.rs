//! Serve benchmark: `/metrics` with ~10 000 series under `wrk`, against
//! nginx serving the same bytes as a static file, idle and while a heavy
//! poll streams through the parser.
//!
//! Issue target: the exporter's throughput is at least half of nginx's
//! (plain and gzip), and its p99 latency does not change while a poll runs.
//!
//! - An upstream (axum, on its own thread and runtime) answers the report
//!   with records of 84 campaigns × 20 templates (10 080 series). The first
//!   poll gets a small body; the next poll's request is held until the bench
//!   says "heavy", so the idle runs see no poll work at all.
//! - The real exporter binary polls it every second (`--poll.interval=1s`,
//!   so heavy polls run back to back) and serves on an ephemeral port.
//! - nginx (2 workers, sendfile, gzip_static) serves the exporter's own plain
//!   and gzip bodies as `metrics` and `metrics.gz`.
//! - `wrk -t2 -c50 --latency` against each, idle, then during two kinds of
//!   heavy poll: *paced* (one ~150 MB page streamed in 64 KiB chunks over
//!   `SERVE_PACE_SECS`, as from a slow remote server) and *unpaced* (150 MB
//!   pages chained by next links, as fast as loopback and the parser go:
//!   the parser busy the whole run). nginx is measured during the polls too,
//!   as a control for the CPU the poll takes from everybody on 2 cores.
//! - Before the wrk runs of each phase, a light scraper (one connection, a
//!   gzip GET every 5 ms) against both: with the CPU left to the poll, its
//!   p99 shows how long the server takes to get to a request while the
//!   poll's parsing runs, apart from contention with wrk.
//!
//! The first heavy poll's logged duration includes the time its request
//! was held during the idle runs.
//!
//! Run: `cargo bench --bench serve` (`SERVE_DURATION=10` seconds per wrk
//! run, `SERVE_REPEATS=3` wrk runs per cell, medians reported,
//! `SERVE_PROBE_SECS=5` per light-scraper run, `SERVE_PACE_SECS=20`,
//! `SERVE_HEAVY_RECORDS=300000`; `SERVE_EXPORTER=path` runs another build
//! of the exporter, to compare a change). Skips when
//! `wrk` or `nginx` is not installed.

#[path = "../../tests/support/api.rs"]
mod api;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::Response;
use axum::routing::get;
use bytes::Bytes;
use tokio::sync::watch;

use api::{REPORT_PATH, STATES};

mod checks;
mod children;
mod upstream;
use checks::*;
use children::*;
use upstream::*;

const CHUNK: usize = 64 * 1024;
const CAMPAIGNS: usize = 84;
const TEMPLATES: usize = 20;
const PAIRS: usize = CAMPAIGNS * TEMPLATES;
const SERIES_NAME: &str = "evolux_campaign_subscribers{";

struct Row {
    target: &'static str,
    variant: &'static str,
    phase: &'static str,
    r: WrkResult,
    note: String,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    for tool in ["wrk", "nginx"] {
        if !have(tool) {
            println!(
                "serve: SKIPPED: `{tool}` is not installed \
                 (apt-get install --no-install-recommends wrk nginx-light)"
            );
            return;
        }
    }
    let secs: u64 = env_or("SERVE_DURATION", 10);
    let pace = Duration::from_secs(env_or("SERVE_PACE_SECS", 20));
    let heavy_records: usize = env_or("SERVE_HEAVY_RECORDS", 300_000);
    let probe_secs: f64 = env_or("SERVE_PROBE_SECS", 5.0);
    let repeats: usize = env_or("SERVE_REPEATS", 3).max(1);

    let t = Instant::now();
    let small = records_part(PAIRS * 3);
    let heavy = records_part(heavy_records);
    println!(
        "serve: upstream bodies: small {} records ({:.1} MB), heavy {heavy_records} records \
         ({:.0} MB, {} chunks of 64 KiB), built in {:.1} s",
        PAIRS * 3,
        small.len() as f64 / 1e6,
        heavy.len() as f64 / 1e6,
        heavy.len().div_ceil(CHUNK),
        t.elapsed().as_secs_f64()
    );
    let (mode_tx, _) = watch::channel(Mode::Hold);
    let up = Arc::new(Upstream {
        small,
        heavy,
        pace,
        mode: mode_tx,
        first_requests: AtomicU64::new(0),
        bytes_sent: AtomicU64::new(0),
        active_streams: AtomicU64::new(0),
    });
    let upstream = start_upstream(up.clone());

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");

    let (exporter, addr, polls) = start_exporter(upstream);
    let exporter_url = format!("http://{addr}/metrics");
    let (plain, gz) = rt.block_on(async {
        wait_status(
            &client,
            &format!("http://{addr}/readyz"),
            "the exporter's /readyz",
            Duration::from_secs(30),
        )
        .await;
        let plain = http_get(&client, &exporter_url, false)
            .await
            .expect("plain scrape");
        let gz = http_get(&client, &exporter_url, true)
            .await
            .expect("gzip scrape");
        (plain, gz)
    });
    assert_eq!(plain.status, 200);
    assert_eq!(
        gz.encoding.as_deref(),
        Some("gzip"),
        "exporter gzip variant"
    );
    assert!(
        gunzip(&gz.body) == plain.body,
        "the gzip body is not the plain body"
    );
    let series = count_series(&plain.body);
    println!(
        "serve: exporter at {addr}: {series} `evolux_campaign_subscribers` series, \
         body {:.2} MB plain, {:.0} KB gzip",
        plain.body.len() as f64 / 1e6,
        gz.body.len() as f64 / 1e3
    );
    assert!(
        (9_900..=10_100).contains(&series),
        "expected ≈10 000 series, got {series}"
    );

    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("metrics"), &plain.body).expect("write metrics");
    std::fs::write(dir.path().join("metrics.gz"), &gz.body).expect("write metrics.gz");
    let (nginx, nginx_addr) = start_nginx(dir.path());
    let nginx_url = format!("http://{nginx_addr}/metrics");
    rt.block_on(async {
        wait_status(&client, &nginx_url, "nginx", Duration::from_secs(10)).await;
        let p = http_get(&client, &nginx_url, false).await.expect("nginx");
        assert!(p.body == plain.body, "nginx serves another body");
        let g = http_get(&client, &nginx_url, true).await.expect("nginx gz");
        assert_eq!(g.encoding.as_deref(), Some("gzip"), "nginx gzip_static");
        assert!(g.body == gz.body, "nginx serves another gzip body");
    });
    println!("serve: nginx at {nginx_addr}, serving the same bytes");
    if let Ok(bin) = std::env::var("SERVE_EXPORTER") {
        println!("serve: exporter binary from SERVE_EXPORTER: {bin}");
    }
    println!("serve: load before the runs: {}", loadavg());

    let mut rows: Vec<Row> = Vec::new();
    let targets = [
        ("exporter", exporter_url.as_str()),
        ("nginx", nginx_url.as_str()),
    ];
    let mut run = |target: &'static str, url: &str, gzip: bool, phase: &'static str| {
        let polls_before = polls.lock().unwrap().len();
        let bytes_before = up.bytes_sent.load(Ordering::SeqCst);
        let active_before = up.active_streams.load(Ordering::SeqCst);
        let r = wrk(url, gzip, secs);
        let active_after = up.active_streams.load(Ordering::SeqCst);
        let streamed = up.bytes_sent.load(Ordering::SeqCst) - bytes_before;
        let finished = polls.lock().unwrap().len() - polls_before;
        let note = if phase == "idle" {
            format!("upstream streamed {:.1} MB", streamed as f64 / 1e6)
        } else {
            format!(
                "upstream streamed {:.0} MB/s; streams active at start/end {active_before}/{active_after}; polls finished {finished}",
                streamed as f64 / 1e6 / secs as f64,
            )
        };
        let variant = if gzip { "gzip" } else { "plain" };
        eprintln!(
            "  {target:8} {variant:5} {phase:14} {:>9.0} req/s  p50 {:>9}  p99 {:>9}  {note}",
            r.rps,
            ms(r.p50),
            ms(r.p99)
        );
        rows.push(Row {
            target,
            variant,
            phase,
            r,
            note,
        });
    };

    let mut probes: Vec<ProbeRow> = Vec::new();
    let mut probe_phase = |phase: &'static str| {
        for (target, url) in targets {
            let latencies = rt.block_on(probe(&client, url, probe_secs));
            let row = ProbeRow {
                target,
                phase,
                latencies,
            };
            eprintln!(
                "  {target:8} probe {phase:14} {:>5} requests  p50 {:>9}  p99 {:>9}  max {:>9}",
                row.latencies.len(),
                ms(row.quantile(0.5)),
                ms(row.quantile(0.99)),
                ms(row.quantile(1.0))
            );
            probes.push(row);
        }
    };

    // Idle: the exporter's second poll is held at the upstream.
    probe_phase("idle");
    for _ in 0..repeats {
        for gzip in [false, true] {
            for (target, url) in targets {
                run(target, url, gzip, "idle");
            }
        }
    }

    // Paced heavy polls, back to back.
    up.mode.send_replace(Mode::Paced);
    wait_until(
        || up.active_streams.load(Ordering::SeqCst) > 0,
        "a paced stream",
    );
    std::thread::sleep(Duration::from_secs(1));
    probe_phase("paced poll");
    for _ in 0..repeats {
        for gzip in [false, true] {
            for (target, url) in targets {
                run(target, url, gzip, "paced poll");
            }
        }
    }

    // Unpaced: a poll of chained 150 MB pages that lasts past the runs.
    up.mode.send_replace(Mode::Unpaced);
    let pages_before = up.first_requests.load(Ordering::SeqCst);
    wait_until(
        || up.first_requests.load(Ordering::SeqCst) > pages_before,
        "an unpaced poll",
    );
    std::thread::sleep(Duration::from_secs(1));
    probe_phase("unpaced poll");
    for _ in 0..repeats {
        for gzip in [false, true] {
            for (target, url) in targets {
                run(target, url, gzip, "unpaced poll");
            }
        }
    }
    up.mode.send_replace(Mode::Done);
    drop(nginx);
    drop(exporter);

    let polls = polls.lock().unwrap();
    let durations: Vec<String> = polls
        .iter()
        .filter(|(_, l)| l.contains("poll finished"))
        .filter_map(|(_, l)| {
            Some(format!(
                "{} ms ({} pages, {} records)",
                field(l, "duration_ms")?,
                field(l, "pages")?,
                field(l, "records")?
            ))
        })
        .collect();
    let warnings = polls
        .iter()
        .filter(|(_, l)| l.contains("level=warn"))
        .count();

    println!();
    println!(
        "serve: wrk -t2 -c50 -d{secs}s --latency, {repeats} runs per cell (medians), 2 cores shared by wrk, the exporter \
         (2 tokio workers), nginx (2 workers) and the upstream; load after: {}",
        loadavg()
    );
    println!();
    // Each cell is the median of the repeats (each quantity on its own);
    // requests are summed.
    let get = |target: &str, variant: &str, phase: &str| {
        let runs: Vec<&Row> = rows
            .iter()
            .filter(|o| o.target == target && o.variant == variant && o.phase == phase)
            .collect();
        assert!(!runs.is_empty(), "every run was made");
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let secs = |f: fn(&WrkResult) -> Duration| {
            Duration::from_secs_f64(median(runs.iter().map(|o| f(&o.r).as_secs_f64()).collect()))
        };
        WrkResult {
            rps: median(runs.iter().map(|o| o.r.rps).collect()),
            p50: secs(|r| r.p50),
            p99: secs(|r| r.p99),
            requests: runs.iter().map(|o| o.r.requests).sum(),
            errors: runs
                .iter()
                .map(|o| o.r.errors.as_str())
                .filter(|e| !e.is_empty())
                .collect::<Vec<_>>()
                .join("; "),
        }
    };
    println!(
        "| target | variant | phase | req/s | p50 | p99 | vs nginx (same variant, phase) | notes |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for phase in ["idle", "paced poll", "unpaced poll"] {
        for variant in ["plain", "gzip"] {
            for target in ["exporter", "nginx"] {
                let r = get(target, variant, phase);
                let nginx_rps = get("nginx", variant, phase).rps;
                let errors = if r.errors.is_empty() {
                    String::new()
                } else {
                    format!("; **{}**", r.errors)
                };
                let notes: Vec<&str> = rows
                    .iter()
                    .filter(|o| o.target == target && o.variant == variant && o.phase == phase)
                    .map(|o| o.note.as_str())
                    .collect();
                println!(
                    "| {target} | {variant} | {phase} | {:.0} | {} | {} | {:.2}× | {} requests in {} runs; {}{errors} |",
                    r.rps,
                    ms(r.p50),
                    ms(r.p99),
                    r.rps / nginx_rps,
                    r.requests,
                    notes.len(),
                    notes.join(" / ")
                );
            }
        }
    }

    println!();
    println!(
        "| target | variant | p99 idle | p99 paced poll | × idle | p99 unpaced poll | × idle |"
    );
    println!("|---|---|---|---|---|---|---|");
    for target in ["exporter", "nginx"] {
        for variant in ["plain", "gzip"] {
            let idle = get(target, variant, "idle").p99;
            let paced = get(target, variant, "paced poll").p99;
            let unpaced = get(target, variant, "unpaced poll").p99;
            println!(
                "| {target} | {variant} | {} | {} | {:.2}× | {} | {:.2}× |",
                ms(idle),
                ms(paced),
                paced.as_secs_f64() / idle.as_secs_f64(),
                ms(unpaced),
                unpaced.as_secs_f64() / idle.as_secs_f64(),
            );
        }
    }

    println!();
    println!("Light scraper (1 connection, a gzip GET every 5 ms, {probe_secs} s per row):");
    println!();
    println!("| target | phase | requests | p50 | p99 | p99.9 | max |");
    println!("|---|---|---|---|---|---|---|");
    for p in &probes {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            p.target,
            p.phase,
            p.latencies.len(),
            ms(p.quantile(0.5)),
            ms(p.quantile(0.99)),
            ms(p.quantile(0.999)),
            ms(p.quantile(1.0))
        );
    }
    let probe_p99 = |target: &str, phase: &str| {
        probes
            .iter()
            .find(|p| p.target == target && p.phase == phase)
            .map(|p| p.quantile(0.99).as_secs_f64())
            .expect("every probe was made")
    };

    println!();
    for variant in ["plain", "gzip"] {
        let ratio = get("exporter", variant, "idle").rps / get("nginx", variant, "idle").rps;
        println!(
            "- throughput {variant}: {ratio:.2}× nginx (target ≥ 0.50): {}",
            if ratio >= 0.5 { "met" } else { "NOT met" }
        );
    }
    for variant in ["plain", "gzip"] {
        let idle = get("exporter", variant, "idle").p99.as_secs_f64();
        for phase in ["paced poll", "unpaced poll"] {
            let during = get("exporter", variant, phase).p99.as_secs_f64();
            let control = get("nginx", variant, phase).p99.as_secs_f64()
                / get("nginx", variant, "idle").p99.as_secs_f64();
            println!(
                "- p99 {variant} during a {phase}: {:.2}× idle (nginx control {control:.2}×; \
                 \"unchanged\" read as ≤ 1.20×): {}",
                during / idle,
                if during / idle <= 1.2 {
                    "met"
                } else {
                    "NOT met"
                }
            );
        }
    }
    for phase in ["paced poll", "unpaced poll"] {
        println!(
            "- light scraper p99 during a {phase}: exporter {:.2}× idle, nginx control {:.2}× idle",
            probe_p99("exporter", phase) / probe_p99("exporter", "idle"),
            probe_p99("nginx", phase) / probe_p99("nginx", "idle"),
        );
    }
    println!(
        "- polls finished: {} ({warnings} warnings logged)",
        durations.join(", ")
    );
}

fn wait_until(cond: impl Fn() -> bool, what: &str) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
