//! Memory benchmark: peak resident memory (VmHWM) of the whole exporter
//! process while it polls a response of 1 000 and of 1 000 000 records
//! (about 500 MB of JSON), streamed over loopback HTTP.
//!
//! Run: `cargo bench --bench rss`. The upstream is this bench process; the
//! exporter is the real release binary, one fresh process per size.

#[path = "../tests/support/api.rs"]
mod api;
#[path = "support/body.rs"]
mod body;
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::routing::get;
use bytes::Bytes;

const CHUNK: usize = 64 * 1024;

struct Exporter(Child);

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// VmHWM (peak resident set) of a process, in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .expect("VmHWM")
}

/// Starts the exporter against `url`, waits for its first poll; returns the
/// process and how long the poll took.
fn poll_with_exporter(url: &str, campaign: &str) -> (Exporter, Duration) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_evolux-exporter"))
        .args([
            &format!("--evolux.url={url}"),
            &format!("--campaign={campaign}"),
            "--web.listen-address=127.0.0.1:0",
            "--poll.interval=1h",
            "--evolux.timeout=10m",
        ])
        .env("EVOLUX_TOKEN", "bench")
        // The upstream is on loopback over http://: a developer's proxy
        // variables would stop start-up (a proxy would see the token).
        .envs(no_proxy_vars())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the exporter (cargo bench builds it)");
    let stderr = child.stderr.take().expect("stderr");
    let exporter = Exporter(child);
    for line in BufReader::new(stderr).lines() {
        let line = line.expect("exporter log");
        if line.contains("msg=\"poll finished\"") {
            assert!(line.contains("failed=0"), "poll failed: {line}");
            return (exporter, started.elapsed());
        }
    }
    panic!("the exporter exited before its first poll finished");
}

fn main() {
    let body: Arc<Mutex<Bytes>> = Arc::new(Mutex::new(Bytes::new()));
    let served = body.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let addr = rt.block_on(async move {
        let app = axum::Router::new().route(
            api::REPORT_PATH,
            get(move || {
                let b = served.lock().map(|b| b.clone()).unwrap_or_default();
                async move {
                    let chunks: Vec<Result<Bytes, std::io::Error>> = (0..b.len())
                        .step_by(CHUNK)
                        .map(|i| Ok(b.slice(i..(i + CHUNK).min(b.len()))))
                        .collect();
                    Body::from_stream(futures_util::stream::iter(chunks))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    });
    let url = format!("http://{addr}");
    let campaign = support::campaign_uuids()[0].clone();

    println!("| records | JSON | poll time | exporter peak RSS (VmHWM) | vs 1 000 records |");
    println!("|---|---|---|---|---|");
    let mut base = None;
    for n in [1_000u64, 1_000_000] {
        let (bytes, _) = body::body(n, 42);
        let size = bytes.len();
        *body.lock().expect("body lock") = Bytes::from(bytes);
        let (exporter, took) = poll_with_exporter(&url, &campaign);
        let rss = peak_rss(exporter.0.id());
        let base_rss = *base.get_or_insert(rss);
        println!(
            "| {n} | {:.0} MB | {:.2} s | {:.1} MB | {:+.1}% |",
            size as f64 / 1e6,
            took.as_secs_f64(),
            rss as f64 / 1e6,
            (rss as f64 / base_rss as f64 - 1.0) * 100.0
        );
        drop(exporter);
    }
}

/// The proxy variables, each set empty (which counts as unset).
fn no_proxy_vars() -> impl Iterator<Item = (&'static str, &'static str)> {
    evolux_exporter::evolux::proxy::PROXY_VARIABLES
        .into_iter()
        .map(|name| (name, ""))
}
