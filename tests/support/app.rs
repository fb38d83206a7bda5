//! `spawn_app()`: the exporter in this process (`App::build`, `serve`) on
//! port 0, pointed at a wiremock upstream (see `mock_api.rs`), with helpers
//! to scrape it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use evolux_exporter::app::App;
use evolux_exporter::config::{Cli, Config};
use evolux_exporter::poller::Poller;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::support::metrics::Metrics;
use crate::support::wait_for;

/// The token tests give the exporter.
pub const TOKEN: &str = "test-token-5f2b9c1e-do-not-leak";

/// Requests of a campaign's first poll: its two halves, which check the
/// whole read for a silent cap, then the whole read.
pub const FIRST_POLL_READS: usize = 3;

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
    let handle = tokio::spawn(app.serve(vec![listener], async move {
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
