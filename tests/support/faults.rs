//! Helpers for the upstream fault tests: the exporter's own log lines
//! captured in memory, a poll run while `/metrics` is scraped, and a raw TCP
//! upstream for faults wiremock cannot produce.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use evolux_exporter::poller::PollReport;
use evolux_exporter::telemetry::{LogConfig, LogFormat, LogLevel};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::app::{TOKEN, TestApp};
use crate::support::metrics::Metrics;

/// The personal data in `mock_api::record()`: none of it may be logged.
pub const PERSONAL_DATA: [&str; 4] = [
    "Maria do Carmo",
    "5511998811220",
    "111.111.111-11",
    "0d3c2b1a-0000-4000-8000-000000000001",
];

/// The token, and the marks of a report query string.
pub const NEVER_SHOWN: [&str; 4] = [TOKEN, "Bearer", "campaigns%5B%5D=", "campaigns[]="];

/// A campaign UUID of its own for each test, so that its log lines can be
/// told from those of the tests running alongside.
pub fn new_campaign() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Everything the exporter logs, from every thread, in its production
/// logfmt format at debug level.
pub struct Logs(Arc<Mutex<Vec<u8>>>);

struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

static LOGS: OnceLock<Logs> = OnceLock::new();

/// The log capture, installed as the global subscriber on first use. A
/// global one (rather than `set_default`) also sees the poller thread and
/// the tasks on the runtime's workers.
pub fn logs() -> &'static Logs {
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = buf.clone();
        evolux_exporter::telemetry::init(
            LogConfig {
                level: LogLevel::Debug,
                format: LogFormat::Logfmt,
            },
            move || SharedBuf(writer.clone()),
        )
        .expect("the fault tests own the global subscriber");
        Logs(buf)
    })
}

impl Logs {
    /// All lines so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }

    /// The lines that contain every one of `needles`.
    pub fn lines_with(&self, needles: &[&str]) -> Vec<String> {
        self.text()
            .lines()
            .filter(|l| needles.iter().all(|n| l.contains(n)))
            .map(str::to_owned)
            .collect()
    }

    /// No line so far holds the token, a query string (filters may be
    /// personal data) or a subscriber's personal data.
    pub fn assert_clean(&self) {
        let text = self.text();
        for secret in NEVER_SHOWN.iter().chain(PERSONAL_DATA.iter()) {
            assert!(!text.contains(secret), "the logs leak {secret:?}:\n{text}");
        }
    }
}

/// A client for `/metrics` that gives up after 500 ms.
pub fn impatient_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_gzip()
        .timeout(Duration::from_millis(500))
        .build()
        .expect("client")
}

/// `/metrics`, which must answer (head and body) within 500 ms.
pub async fn scrape_now(client: &reqwest::Client, app: &TestApp) -> Metrics {
    let started = Instant::now();
    let resp = client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("/metrics answers within 500 ms");
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.expect("/metrics body within 500 ms");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "/metrics took {:?}",
        started.elapsed()
    );
    Metrics(text)
}

/// `evolux_api_requests_total` by code.
pub fn requests_by_code(m: &Metrics) -> BTreeMap<String, f64> {
    m.samples("evolux_api_requests_total")
        .filter_map(|(labels, v)| {
            let code = labels.into_iter().find(|(k, _)| k == "code")?.1;
            Some((code, v))
        })
        .collect()
}

/// `pairs` as a map, to compare with [`requests_by_code`] differences.
pub fn codes(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
    pairs.iter().map(|(c, n)| (c.to_string(), *n)).collect()
}

/// What [`poll_scraping`] saw.
pub struct PollRun {
    /// What `poll_once` returned.
    pub report: PollReport,
    /// When it started (wall clock), and how long it took.
    pub started_at: SystemTime,
    pub took: Duration,
    /// Scrapes made while the poll ran that were served from the snapshot
    /// published before it (each was handed to `during`).
    pub scrapes: usize,
    /// Increments of `evolux_api_requests_total` during the poll, by code.
    pub codes: BTreeMap<String, f64>,
    /// `/metrics` right after the poll.
    pub metrics: Metrics,
}

/// Runs one `poll_once` (on a task of its own) and scrapes `/metrics` with a
/// 500 ms client timeout every 25 ms until it ends; panics unless the poll
/// ends within `deadline`. Each scrape served from the snapshot published
/// before the poll is handed to `during`: the snapshot is swapped before the
/// exposition bytes, so if it is still the old one after a scrape answered,
/// that scrape read the old bytes.
pub async fn poll_scraping(
    app: &TestApp,
    deadline: Duration,
    mut during: impl FnMut(&Metrics),
) -> PollRun {
    let client = impatient_client();
    let initial = app.poller.published().snapshot();
    let before = requests_by_code(&scrape_now(&client, app).await);
    let poller = app.poller.clone();
    let started_at = SystemTime::now();
    let started = Instant::now();
    let poll = tokio::spawn(async move { poller.poll_once().await });
    let mut scrapes = 0;
    while !poll.is_finished() && started.elapsed() < deadline {
        let m = scrape_now(&client, app).await;
        if Arc::ptr_eq(&initial, &app.poller.published().snapshot()) {
            during(&m);
            scrapes += 1;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let left = deadline.saturating_sub(started.elapsed());
    let report = match tokio::time::timeout(left, poll).await {
        Ok(r) => r.expect("the poll task did not panic"),
        Err(_) => panic!("the poll did not end within {deadline:?}"),
    };
    let took = started.elapsed();
    let metrics = scrape_now(&client, app).await;
    let mut codes = requests_by_code(&metrics);
    for (code, n) in codes.iter_mut() {
        *n -= before.get(code).copied().unwrap_or(0.0);
    }
    codes.retain(|_, n| *n != 0.0);
    PollRun {
        report,
        started_at,
        took,
        scrapes,
        codes,
        metrics,
    }
}

/// An upstream on a loopback port that hands each accepted connection, with
/// its index (0, 1, ...), to a handler written against the raw socket.
pub struct RawUpstream {
    pub addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    accept: JoinHandle<()>,
}

impl RawUpstream {
    pub async fn start<F, Fut>(handler: F) -> RawUpstream
    where
        F: Fn(usize, TcpStream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let connections = Arc::new(AtomicUsize::new(0));
        let count = connections.clone();
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let n = count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(handler(n, stream));
            }
        });
        RawUpstream {
            addr,
            connections,
            accept,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for RawUpstream {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Reads a request head (up to the blank line); `None` if the client went
/// away first or sent more than 64 KiB.
pub async fn read_request_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 || head.len() > 64 * 1024 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// A `200 OK` JSON head declaring `content_length` bytes, closing the
/// connection after the body.
pub fn json_head(content_length: usize) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {content_length}\r\nConnection: close\r\n\r\n"
    )
}

/// Writes a whole `200 OK` JSON response, then closes.
pub async fn write_json(stream: &mut TcpStream, body: &[u8]) {
    let _ = stream.write_all(json_head(body.len()).as_bytes()).await;
    let _ = stream.write_all(body).await;
    let _ = stream.shutdown().await;
}

/// Keeps the connection open, saying nothing, until the client closes it.
pub async fn hold_until_closed(stream: &mut TcpStream) {
    let mut buf = [0u8; 1024];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            return;
        }
    }
}

/// Waits (up to `deadline`) until nothing listens on `addr` any more.
pub async fn wait_until_refused(addr: SocketAddr, deadline: Duration) {
    crate::support::wait_for("the port to refuse connections", deadline, || async move {
        matches!(
            TcpStream::connect(addr).await,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused
        )
    })
    .await;
}
