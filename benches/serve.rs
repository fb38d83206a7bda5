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

#[path = "../tests/support/api.rs"]
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

const CHUNK: usize = 64 * 1024;
const CAMPAIGNS: usize = 84;
const TEMPLATES: usize = 20;
const PAIRS: usize = CAMPAIGNS * TEMPLATES;
const SERIES_NAME: &str = "evolux_campaign_subscribers{";

// ---------------------------------------------------------------- bodies

fn campaign_uuid(c: usize) -> String {
    format!("f45d98dc-ac5e-48f2-9c01-{c:012x}")
}

fn template_uuid(t: usize) -> String {
    format!("70f4ddb6-ece1-4e13-ab90-{t:012x}")
}

/// `{"data":[r,r,...` (no closing bracket: the tail is added per request)
/// with `n` records cycling over every (campaign, template) pair, shaped
/// like the API's: UUIDs, names, phone number, times, custom fields.
fn records_part(n: usize) -> Bytes {
    let campaigns: Vec<String> = (0..CAMPAIGNS).map(campaign_uuid).collect();
    let templates: Vec<String> = (0..TEMPLATES).map(template_uuid).collect();
    let mut out = Vec::with_capacity(n * 480 + 16);
    out.extend_from_slice(b"{\"data\":[");
    for i in 0..n {
        if i > 0 {
            out.push(b',');
        }
        let pair = i % PAIRS;
        let (c, t) = (pair / TEMPLATES, pair % TEMPLATES);
        let s = (i / PAIRS * 7 + i / 3) % 6;
        let _ = write!(
            out,
            r#"{{"uuid":"0d3c2b1a-0000-4000-8000-{i:012x}","name":"Maria do Carmo Silva {i}","phone_number":"55119{:08}","state":"{}","template_uuid":"{}","template_name":"Template {t:02} - Comunicado","campaign_uuid":"{}","campaign_name":"Campanha {c:02} - Novembro","inserted_at":"2024-09-{:02}T10:{:02}:00.000Z","updated_at":"2024-09-{:02}T11:{:02}:00.000Z","conversation_fields":{{"CPF":"111.222.333-{:02}","perfil":"Pessoa Jurídica","cidade":"São Paulo"}}}}"#,
            i % 100_000_000,
            STATES[s],
            templates[t],
            campaigns[c],
            1 + i % 28,
            i % 60,
            1 + i % 28,
            i % 60,
            i % 100,
        );
    }
    Bytes::from(out)
}

fn tail(next: Option<u64>) -> Bytes {
    match next {
        Some(page) => Bytes::from(format!(
            "],\"links\":{{\"next\":\"{REPORT_PATH}?page={page}\"}}}}"
        )),
        None => Bytes::from_static(b"],\"links\":{\"next\":null}}"),
    }
}

// ---------------------------------------------------------------- upstream

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// Hold new polls' first request until the mode changes.
    Hold,
    /// One heavy page, paced over `pace`.
    Paced,
    /// Heavy pages chained by next links, unpaced: a poll that never ends.
    Unpaced,
    /// Small bodies, pages end: lets the exporter wind down.
    Done,
}

struct Upstream {
    small: Bytes,
    heavy: Bytes,
    pace: Duration,
    mode: watch::Sender<Mode>,
    first_requests: AtomicU64,
    bytes_sent: AtomicU64,
    active_streams: AtomicU64,
}

/// Counts a stream as active until it is dropped.
struct StreamGuard(Arc<Upstream>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.active_streams.fetch_sub(1, Ordering::SeqCst);
    }
}

fn stream_body(up: Arc<Upstream>, records: Bytes, tail: Bytes, pace: Option<Duration>) -> Body {
    let mut chunks: Vec<Bytes> = (0..records.len())
        .step_by(CHUNK)
        .map(|i| records.slice(i..(i + CHUNK).min(records.len())))
        .collect();
    chunks.push(tail);
    let period = pace.map(|p| p / chunks.len() as u32);
    up.active_streams.fetch_add(1, Ordering::SeqCst);
    let guard = StreamGuard(up);
    let start = tokio::time::Instant::now();
    let state = (chunks.into_iter().enumerate(), guard);
    Body::from_stream(futures_util::stream::unfold(
        state,
        move |(mut it, guard)| async move {
            let (i, chunk) = it.next()?;
            if let Some(p) = period {
                tokio::time::sleep_until(start + p * i as u32).await;
            }
            guard
                .0
                .bytes_sent
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
            Some((Ok::<_, std::io::Error>(chunk), (it, guard)))
        },
    ))
}

async fn report(
    State(up): State<Arc<Upstream>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let page: Option<u64> = q.get("page").and_then(|p| p.parse().ok());
    let body = match page {
        None => {
            if up.first_requests.fetch_add(1, Ordering::SeqCst) == 0 {
                stream_body(up.clone(), up.small.clone(), tail(None), None)
            } else {
                let mut rx = up.mode.subscribe();
                let mode = *rx
                    .wait_for(|m| *m != Mode::Hold)
                    .await
                    .expect("mode sender lives as long as the upstream");
                match mode {
                    Mode::Paced => {
                        stream_body(up.clone(), up.heavy.clone(), tail(None), Some(up.pace))
                    }
                    Mode::Unpaced => stream_body(up.clone(), up.heavy.clone(), tail(Some(2)), None),
                    _ => stream_body(up.clone(), up.small.clone(), tail(None), None),
                }
            }
        }
        Some(n) => {
            if *up.mode.borrow() == Mode::Unpaced {
                stream_body(up.clone(), up.heavy.clone(), tail(Some(n + 1)), None)
            } else {
                Body::from(r#"{"data":[],"links":{"next":null}}"#)
            }
        }
    };
    let mut resp = Response::new(body);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    resp
}

/// Starts the upstream on its own thread and current-thread runtime.
fn start_upstream(up: Arc<Upstream>) -> SocketAddr {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("upstream runtime");
        rt.block_on(async move {
            let app = axum::Router::new()
                .route(REPORT_PATH, get(report))
                .with_state(up);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind upstream");
            tx.send(listener.local_addr().expect("addr")).expect("send");
            axum::serve(listener, app).await.expect("upstream serves");
        });
    });
    rx.recv().expect("upstream started")
}

// ---------------------------------------------------------------- children

/// A child process, stopped (SIGTERM, then SIGKILL after 5 s) on drop.
struct ChildGuard {
    name: &'static str,
    child: Child,
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("{} did not stop on SIGTERM; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The exporter's log lines about polls, as they come.
type PollLog = Arc<Mutex<Vec<(Instant, String)>>>;

fn start_exporter(upstream: SocketAddr) -> (ChildGuard, SocketAddr, PollLog) {
    // SERVE_EXPORTER: another build of the exporter, to compare a change.
    let bin = std::env::var("SERVE_EXPORTER")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_evolux-exporter").to_string());
    let mut child = Command::new(&bin)
        .args([
            &format!("--evolux.url=http://{upstream}"),
            "--web.listen-address=127.0.0.1:0",
            "--log.level=info",
            "--poll.interval=1s",
            // Heavy polls take minutes by design: neither the request nor
            // the poll may time out while the bench runs.
            "--evolux.timeout=10m",
            // 84 × 20 × 6 = 10 080 series, just over the default cap.
            "--poll.max-series=20000",
        ])
        .env("EVOLUX_TOKEN", "x")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the exporter");
    let stderr = child.stderr.take().expect("piped stderr");
    let guard = ChildGuard {
        name: "evolux-exporter",
        child,
    };
    let polls: PollLog = Arc::default();
    let (tx, rx) = mpsc::channel();
    let log = polls.clone();
    // Reads stderr to the end, so the exporter never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if line.contains("msg=\"evolux-exporter started\"")
                && let Some(addr) = field(&line, "address")
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(addr.parse::<SocketAddr>());
            }
            if line.contains("poll finished") || line.contains("level=warn") {
                log.lock().unwrap().push((Instant::now(), line));
            } else if line.contains("level=error") {
                eprintln!("exporter: {line}");
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the exporter logs its address within 30 s")
        .expect("a socket address in the log line");
    (guard, addr, polls)
}

/// The value of `key=` in a logfmt line.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let start = line.find(&format!(" {key}="))? + key.len() + 2;
    let rest = &line[start..];
    if let Some(quoted) = rest.strip_prefix('"') {
        return quoted.split('"').next();
    }
    rest.split(' ').next()
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn start_nginx(dir: &Path) -> (ChildGuard, SocketAddr) {
    let port = free_port();
    let user = if is_root() { "user root;\n" } else { "" };
    let d = dir.display();
    let conf = format!(
        "{user}daemon off;
worker_processes 2;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    default_type text/plain;
    # hyper keeps a connection for ever; nginx closes after 1000 requests
    # by default, which would cost it reconnects the exporter does not pay.
    keepalive_requests 1000000;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {d};
        location = /metrics {{ gzip_static on; }}
    }}
}}
"
    );
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf).expect("writing nginx.conf");
    let child = Command::new("nginx")
        .arg("-p")
        .arg(dir)
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-c")
        .arg(&conf_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting nginx");
    (
        ChildGuard {
            name: "nginx",
            child,
        },
        SocketAddr::from(([127, 0, 0, 1], port)),
    )
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool} >/dev/null 2>&1"))
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

// ---------------------------------------------------------------- HTTP checks

struct Got {
    status: u16,
    encoding: Option<String>,
    body: Vec<u8>,
}

async fn http_get(client: &reqwest::Client, url: &str, gzip: bool) -> reqwest::Result<Got> {
    let mut req = client.get(url);
    if gzip {
        req = req.header(header::ACCEPT_ENCODING, "gzip");
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let encoding = resp
        .headers()
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = resp.bytes().await?.to_vec();
    Ok(Got {
        status,
        encoding,
        body,
    })
}

async fn wait_status(client: &reqwest::Client, url: &str, what: &str, within: Duration) {
    let start = Instant::now();
    loop {
        if let Ok(g) = http_get(client, url, false).await
            && g.status == 200
        {
            return;
        }
        assert!(
            start.elapsed() < within,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

fn count_series(body: &[u8]) -> usize {
    String::from_utf8_lossy(body)
        .lines()
        .filter(|l| l.starts_with(SERIES_NAME))
        .count()
}

// ---------------------------------------------------------------- wrk

#[derive(Debug, Clone)]
struct WrkResult {
    rps: f64,
    p50: Duration,
    p99: Duration,
    requests: u64,
    errors: String,
}

fn parse_latency(s: &str) -> Option<Duration> {
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (num, unit) = s.split_at(split);
    let v: f64 = num.parse().ok()?;
    let secs = match unit {
        "us" => v / 1e6,
        "ms" => v / 1e3,
        "s" => v,
        "m" => v * 60.0,
        "h" => v * 3600.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(secs))
}

fn parse_wrk(out: &str) -> Option<WrkResult> {
    let mut rps = None;
    let mut p50 = None;
    let mut p99 = None;
    let mut requests = 0;
    let mut errors = Vec::new();
    for line in out.lines() {
        let t = line.trim();
        let words: Vec<&str> = t.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", v] => rps = v.parse().ok(),
            ["50%", v] => p50 = parse_latency(v),
            ["99%", v] => p99 = parse_latency(v),
            [n, "requests", "in", ..] => requests = n.parse().unwrap_or(0),
            _ if t.starts_with("Socket errors") || t.starts_with("Non-2xx") => {
                errors.push(t.to_string())
            }
            _ => {}
        }
    }
    Some(WrkResult {
        rps: rps?,
        p50: p50?,
        p99: p99?,
        requests,
        errors: errors.join("; "),
    })
}

fn wrk(url: &str, gzip: bool, secs: u64) -> WrkResult {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", "-c50", &format!("-d{secs}s"), "--latency"]);
    if gzip {
        cmd.args(["-H", "Accept-Encoding: gzip"]);
    }
    let out = cmd.arg(url).output().expect("running wrk");
    let text = String::from_utf8_lossy(&out.stdout);
    parse_wrk(&text).unwrap_or_else(|| {
        panic!(
            "could not read wrk's output:\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

// ---------------------------------------------------------------- probe

/// Latencies seen by a light scraper: one connection, one gzip GET every
/// 5 ms. It leaves the CPU to the poll, so what it sees is how long the
/// server takes to get to a request, not the CPU wrk takes from everybody.
async fn probe(client: &reqwest::Client, url: &str, secs: f64) -> Vec<Duration> {
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let mut out = Vec::new();
    while Instant::now() < end {
        tick.tick().await;
        let t = Instant::now();
        let got = http_get(client, url, true).await.expect("probe request");
        assert_eq!(got.status, 200, "probe status");
        out.push(t.elapsed());
    }
    out.sort();
    out
}

struct ProbeRow {
    target: &'static str,
    phase: &'static str,
    /// Sorted latencies.
    latencies: Vec<Duration>,
}

impl ProbeRow {
    fn quantile(&self, q: f64) -> Duration {
        let v = &self.latencies;
        v[((v.len() - 1) as f64 * q).round() as usize]
    }
}

// ---------------------------------------------------------------- main

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
