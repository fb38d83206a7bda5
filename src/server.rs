//! The exporter's HTTP server: `/metrics` (or `--web.telemetry-path`),
//! `/healthz`, `/readyz` and a landing page.
//!
//! `/metrics` serves the bytes the last poll rendered, gzipped when the
//! scraper accepts it; it never calls the API and never waits on a poll.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;

use crate::metrics::CONTENT_TYPE;
use crate::poller::Published;

#[derive(Clone)]
struct AppState {
    published: Arc<Published>,
    telemetry_path: Arc<str>,
}

/// The router, for tests that drive it without a socket.
pub fn router(published: Arc<Published>, telemetry_path: &str) -> Router {
    let state = AppState {
        published,
        telemetry_path: telemetry_path.into(),
    };
    Router::new()
        .route(telemetry_path, get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/", get(landing))
        .fallback(not_found)
        .with_state(state)
}

/// Serves on `listener` until `shutdown` resolves, then lets requests in
/// progress finish.
pub async fn serve(
    listener: TcpListener,
    published: Arc<Published>,
    telemetry_path: String,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(published, &telemetry_path))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let exposition = state.published.exposition();
    let gzip = accepts_gzip(&headers);
    let body = if gzip {
        exposition.gzip.clone()
    } else {
        exposition.plain.clone()
    };
    let mut resp = Response::new(Body::from(body));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if gzip {
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

async fn healthz() -> &'static str {
    "OK\n"
}

async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.published.is_ready() {
        (StatusCode::OK, "ready\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the first poll has not finished\n",
        )
    }
}

async fn landing(State(state): State<AppState>) -> Html<String> {
    let path = &state.telemetry_path;
    Html(format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Evolux Exporter</title></head>\n<body>\n<h1>Evolux Exporter</h1>\n<p>Subscriber counts of Evolux Chat campaigns by template and state, refreshed by a background poll.</p>\n<ul>\n<li><a href=\"{path}\">{path}</a>: metrics</li>\n<li><a href=\"/healthz\">/healthz</a>: liveness</li>\n<li><a href=\"/readyz\">/readyz</a>: readiness (after the first poll)</li>\n</ul>\n<p>Version {}</p>\n</body></html>\n",
        env!("CARGO_PKG_VERSION")
    ))
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
