//! The router: `/metrics` (or `--web.telemetry-path`) with its scrape-time
//! part, the probes `/healthz` and `/-/healthy`, `/readyz` and `/-/ready`,
//! `POST /-/reload` (with `--web.enable-lifecycle`) and a landing page.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;

use crate::build_info::BUILD;
use crate::metrics::live::LiveMetrics;
use crate::metrics::{CONTENT_TYPE, gzip};
use crate::poller::Published;
use crate::status::{self, PageFacts, PollFacts};

/// Re-reads the configuration and applies it; `Err` says why it was
/// refused (the last good configuration keeps running).
pub type ReloadHook =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// What the handlers read.
#[derive(Clone)]
pub struct Endpoints {
    /// The poll's snapshot and bytes.
    pub published: Arc<Published>,
    /// The scrape-time part of `/metrics`.
    pub live: Arc<LiveMetrics>,
    /// Path of the metrics endpoint.
    pub telemetry_path: Arc<str>,
    /// `POST /-/reload`: `None` unless `--web.enable-lifecycle`.
    pub reload: Option<ReloadHook>,
    /// What the status page shows besides the snapshot, and its cache.
    pub status: Arc<StatusPage>,
}

/// The status page's facts and its last rendering, so that it is rendered
/// at most once per poll (and `?refresh` value).
#[derive(Debug)]
pub struct StatusPage {
    /// When the process started.
    pub started: SystemTime,
    /// The configured limits, by flag name.
    pub limits: Vec<(String, String)>,
    /// The API's proxy, as shown (no credentials).
    pub proxy: String,
    cache: Mutex<Option<(PageKey, Bytes)>>,
}

/// What a rendering depends on: the snapshot, the poll, the refresh.
type PageKey = (usize, Option<SystemTime>, Option<u32>);

impl StatusPage {
    /// The page's facts; nothing rendered yet. `proxy`: the API's proxy,
    /// as shown (no credentials).
    pub fn new(started: SystemTime, limits: Vec<(String, String)>, proxy: String) -> StatusPage {
        StatusPage {
            started,
            limits,
            proxy,
            cache: Mutex::new(None),
        }
    }
}

/// The router, for tests that drive it without a socket.
pub fn router(endpoints: Endpoints) -> Router {
    let telemetry_path = endpoints.telemetry_path.clone();
    Router::new()
        .route(&telemetry_path, get(metrics))
        .route("/healthz", get(healthy))
        .route("/-/healthy", get(healthy))
        .route("/readyz", get(ready))
        .route("/-/ready", get(ready))
        .route("/-/reload", post(reload).put(reload))
        .route("/", get(status_page))
        .fallback(not_found)
        .with_state(endpoints)
}

/// Counts each answered request for the metrics path by its status, as
/// the outermost layer (so refusals by authentication count too).
pub async fn count_scrapes(State(e): State<Endpoints>, req: Request, next: Next) -> Response {
    let scrape = req.uri().path() == &*e.telemetry_path;
    let resp = next.run(req).await;
    if scrape {
        e.live.count_scrape(resp.status().as_u16());
    }
    resp
}

/// The poll's bytes as they are, then the scrape-time part: plain, or each
/// as a gzip member of one gzip stream.
async fn metrics(State(e): State<Endpoints>, headers: HeaderMap) -> Response {
    let exposition = e.published.exposition();
    let live = e.live.render();
    let gzip_wanted = accepts_gzip(&headers);
    let (polled, live) = if gzip_wanted {
        (exposition.gzip.clone(), Bytes::from(gzip(live.as_bytes())))
    } else {
        (exposition.plain.clone(), Bytes::from(live))
    };
    let chunks = futures_util::stream::iter([Ok::<_, Infallible>(polled), Ok(live)]);
    let mut resp = Response::new(Body::from_stream(chunks));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if gzip_wanted {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    resp
}

/// Whether `Accept-Encoding` lists gzip with a non-zero quality.
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let q_zero = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !q_zero
        })
}

async fn healthy() -> &'static str {
    "OK\n"
}

async fn ready(State(e): State<Endpoints>) -> (StatusCode, String) {
    if e.published.is_ready() {
        return (StatusCode::OK, "ready\n".into());
    }
    let snapshot = e.published.snapshot();
    let views = snapshot
        .waiting
        .iter()
        .filter(|w| w.starts_with("view:"))
        .count();
    let campaigns = snapshot.waiting.len() - views;
    let why = match (campaigns, views) {
        (0, 0) => "not ready: not every campaign and view has been read yet\n".to_string(),
        (c, 0) => format!("not ready: {c} campaigns waiting for a first read\n"),
        (0, v) => format!("not ready: {v} views waiting for a first read\n"),
        (c, v) => format!("not ready: {c} campaigns and {v} views waiting for a first read\n"),
    };
    (StatusCode::SERVICE_UNAVAILABLE, why)
}

/// `POST /-/reload`: 403 unless `--web.enable-lifecycle`, as Prometheus
/// answers; 500 with the reason when the configuration is refused.
async fn reload(State(e): State<Endpoints>) -> (StatusCode, String) {
    let Some(reload) = &e.reload else {
        return (
            StatusCode::FORBIDDEN,
            "Lifecycle API is not enabled (--web.enable-lifecycle).\n".into(),
        );
    };
    match reload().await {
        Ok(()) => (StatusCode::OK, "configuration reloaded\n".into()),
        Err(reason) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("configuration refused, the last good one keeps running: {reason}\n"),
        ),
    }
}

/// `?refresh=N`: reload the page every N seconds (1 to 3600).
#[derive(Debug, serde::Deserialize)]
struct PageQuery {
    refresh: Option<String>,
}

/// The status page, from the current snapshot, rendered at most once per
/// poll and refresh value.
async fn status_page(State(e): State<Endpoints>, Query(q): Query<PageQuery>) -> Html<Bytes> {
    let refresh = q
        .refresh
        .and_then(|r| r.parse::<u32>().ok())
        .filter(|n| (1..=3600).contains(n));
    let snapshot = e.published.snapshot();
    let last_poll = e.published.last_poll();
    let key = (
        Arc::as_ptr(&snapshot) as usize,
        last_poll.as_ref().map(|(ended, _)| *ended),
        refresh,
    );
    let mut cache = e.status.cache.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((k, page)) = cache.as_ref()
        && *k == key
    {
        return Html(page.clone());
    }
    let facts = PageFacts {
        build: &BUILD,
        started: e.status.started,
        now: SystemTime::now(),
        last_poll: last_poll.map(|(ended, r)| PollFacts {
            ended,
            duration: r.duration,
            reads: r.queries,
            failed_reads: r.failed_reads,
            records: r.records,
            bytes: r.bytes,
        }),
        ready: e.published.is_ready(),
        limits: &e.status.limits,
        telemetry_path: &e.telemetry_path,
        proxy: &e.status.proxy,
    };
    let page = Bytes::from(status::render(&snapshot, &facts, refresh));
    *cache = Some((key, page.clone()));
    Html(page)
}

async fn not_found() -> impl IntoResponse {
    (StatusCode::NOT_FOUND, "not found\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn gzip_negotiation() {
        assert!(accepts_gzip(&headers("gzip")));
        assert!(accepts_gzip(&headers("deflate, gzip;q=0.5")));
        assert!(accepts_gzip(&headers("*")));
        assert!(!accepts_gzip(&headers("gzip;q=0")));
        assert!(!accepts_gzip(&headers("identity")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
