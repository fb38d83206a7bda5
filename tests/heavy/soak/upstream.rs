//! The soak's upstream: the demo API on the test's clock, with faults, and
//! the truth counted from a fault-free instance of it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use evolux_exporter::demo;
use futures_util::StreamExt;

use super::{FAULT_500_PCT, FAULT_SLOW_PCT, FAULT_TRUNCATE_PCT};

/// The faulty upstream's clock and what it did.
#[derive(Default)]
pub struct Upstream {
    /// Simulated time (f64 bits) the demo answers for.
    sim_t: AtomicU64,
    pub requests: AtomicU64,
    pub injected_500: AtomicU64,
    pub injected_503: AtomicU64,
    pub truncated: AtomicU64,
    pub slowed: AtomicU64,
}

impl Upstream {
    pub fn now(&self) -> f64 {
        f64::from_bits(self.sim_t.load(Ordering::Relaxed))
    }

    pub fn set(&self, t: f64) {
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
pub async fn faulty(State(up): State<Arc<Upstream>>, mut req: Request, next: Next) -> Response {
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

use crate::demo_pages::count_pages;
pub use crate::demo_pages::{Counts, diff, serve};

/// Counts every record the fault-free demo at `truth` serves for simulated
/// time `t`, following the next links.
pub async fn truth_at(http: &reqwest::Client, truth: SocketAddr, t: f64) -> Counts {
    let counts = count_pages(http, truth, &format!("at={t}")).await;
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
