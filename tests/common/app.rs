#![allow(dead_code)]
//! `spawn_app()`: the real exporter on port 0, pointed at a wiremock
//! upstream, plus helpers to scrape and read its metrics.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use evolux_exporter::app::App;
use evolux_exporter::config::{Cli, Config};
use evolux_exporter::poller::Poller;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The token tests give the exporter.
pub const TOKEN: &str = "test-token-5f2b9c1e-do-not-leak";

/// Three campaign UUIDs for tests.
pub const CAMPAIGN_A: &str = "f45d98dc-ac5e-48f2-9c01-ebe18f86d28b";
pub const CAMPAIGN_B: &str = "0c7e3f5a-9b2d-4d6e-8a1f-5c4b3a2e1d54";
pub const CAMPAIGN_C: &str = "5d2a8c4e-1f7b-4e3a-9d6c-8b5a4f3e2d65";
pub const TEMPLATE_1: &str = "70f4ddb6-ece1-4e13-ab90-3698d9d72bf0";
pub const TEMPLATE_2: &str = "1b2e9c1e-5f8a-4c55-9a59-2f6e0c3d7a10";

/// The report endpoint's path.
pub const REPORT_PATH: &str = "/api/v1/reports/campaign/subscribers";

/// A config from command-line style arguments, with the test token, short
/// retry delays, and a poll interval long enough that only the first poll
/// runs by itself (tests call `poll_once` for the rest).
pub fn config(args: &[&str]) -> Config {
    let mut argv = vec![
        "evolux-exporter",
        "--poll.interval=1h",
        "--evolux.timeout=2s",
    ];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(argv).expect("test arguments parse");
    let mut config =
        Config::load_with_token(cli, Some(TOKEN.to_string())).expect("test config is valid");
    config.evolux.retry_base_delay = Duration::from_millis(10);
    config.evolux.retry_max_delay = Duration::from_secs(3);
    config
}

/// A running exporter.
pub struct TestApp {
    pub addr: SocketAddr,
    pub poller: Arc<Poller>,
    pub http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
}

/// Starts the exporter on 127.0.0.1:0 with `config`.
pub async fn spawn_app(config: Config) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let app = App::build(config).await.expect("app builds");
    let poller = app.poller.clone();
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(app.serve(listener, async move {
        let _ = rx.await;
    }));
    TestApp {
        addr,
        poller,
        http: reqwest::Client::builder()
            .no_gzip()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client"),
        shutdown: Some(tx),
        handle: Some(handle),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("request to the exporter")
    }

    /// The text of `/metrics`.
    pub async fn scrape(&self) -> Metrics {
        let resp = self.get("/metrics").await;
        assert_eq!(resp.status(), 200);
        Metrics(resp.text().await.expect("metrics body"))
    }

    /// Waits (up to 10 s) until `/readyz` says 200.
    pub async fn wait_ready(&self) {
        wait_for(
            "the exporter to be ready",
            Duration::from_secs(10),
            || async { self.get("/readyz").await.status() == 200 },
        )
        .await;
    }

    /// Stops the exporter and returns how `serve` ended.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let handle = self.handle.take().expect("not yet shut down");
        handle.await.expect("serve task")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Polls `cond` every 20 ms until it holds; panics after `deadline`.
pub async fn wait_for<F, Fut>(what: &str, deadline: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = tokio::time::Instant::now();
    loop {
        if cond().await {
            return;
        }
        if start.elapsed() > deadline {
            panic!("timed out after {deadline:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A scraped exposition, with lookups by name and labels.
#[derive(Debug, Clone)]
pub struct Metrics(pub String);

impl Metrics {
    /// The value of the one sample of `name` whose labels include `labels`.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found: Vec<f64> = self
            .samples(name)
            .filter(|(l, _)| {
                labels
                    .iter()
                    .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|(_, v)| v)
            .collect();
        assert!(
            found.len() <= 1,
            "{name}{labels:?} matches {} samples",
            found.len()
        );
        found.first().copied()
    }

    /// Every sample of `name`: its labels and value.
    pub fn samples<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = (Vec<(String, String)>, f64)> + 'a {
        self.0
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(move |line| {
                let (series, value) = line.rsplit_once(' ')?;
                let (n, labels) = match series.split_once('{') {
                    Some((n, rest)) => (n, rest.strip_suffix('}')?),
                    None => (series, ""),
                };
                if n != name {
                    return None;
                }
                Some((parse_labels(labels), value.parse().ok()?))
            })
    }

    /// Sum of `evolux_campaign_subscribers` for a campaign (all templates and states).
    pub fn campaign_total(&self, campaign: &str) -> f64 {
        self.samples("evolux_campaign_subscribers")
            .filter(|(l, _)| l.iter().any(|(k, v)| k == "campaign" && v == campaign))
            .map(|(_, v)| v)
            .sum()
    }
}

fn parse_labels(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some((key, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, e)) = chars.next() {
                        value.push(if e == 'n' { '\n' } else { e });
                    }
                }
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        out.push((key.trim_start_matches(',').to_string(), value));
        rest = &after[end..];
    }
    out
}

/// A JSON record as the API would send it, with personal data.
pub fn record(campaign: &str, template: &str, state: &str) -> serde_json::Value {
    serde_json::json!({
        "uuid": "0d3c2b1a-0000-4000-8000-000000000001",
        "name": "Maria do Carmo",
        "phone_number": "5511998811220",
        "state": state,
        "template_uuid": template,
        "template_name": "Boas-vindas",
        "campaign_uuid": campaign,
        "campaign_name": "Black Friday",
        "conversation_fields": {"CPF": "111.111.111-11"}
    })
}

/// `n` records spread over the six states in a fixed pattern; returns them
/// and the count per state.
pub fn records(campaign: &str, template: &str, n: usize) -> (Vec<serde_json::Value>, [u64; 6]) {
    const STATES: [&str; 6] = ["pending", "scheduled", "sent", "dnd", "completed", "error"];
    let mut per_state = [0u64; 6];
    let recs = (0..n)
        .map(|i| {
            let s = (i * 7 + i / 3) % 6;
            per_state[s] += 1;
            record(campaign, template, STATES[s])
        })
        .collect();
    (recs, per_state)
}
