//! Fan-out benchmark: one poll of 200 configured campaigns of 5 000
//! subscribers each, against an upstream that answers every request after
//! 200 ms, with the request-rate and concurrency limits checked at the
//! upstream.
//!
//! Issue target: the poll ends within one 60 s interval, with at most
//! `--evolux.max-concurrency` requests in flight and at most
//! `--evolux.max-rps` started in any second.
//!
//! The upstream (axum, on its own thread and runtime) records each request's
//! arrival and the requests in flight (from the arrival to the hand-over of
//! the body's last chunk). The exporter is built in process (`App::build`)
//! and polled once with `poll_once`, with the default limits (4 in flight,
//! 10/s) and with 8 and 20.
//!
//! Run: `cargo bench --bench fanout` (`FANOUT_CAMPAIGNS=200`,
//! `FANOUT_SUBSCRIBERS=5000`).

#[path = "../tests/support/api.rs"]
mod api;

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::Response;
use axum::routing::get;
use bytes::Bytes;
use evolux_exporter::app::App;
use evolux_exporter::config::{Cli, Config};

use api::{REPORT_PATH, STATES};

const LATENCY: Duration = Duration::from_millis(200);
const TEMPLATES: usize = 5;
const CHUNK: usize = 64 * 1024;

/// What the upstream saw.
#[derive(Default)]
struct Upstream {
    /// Each campaign's answer, built before the poll so that the upstream's
    /// one thread does no heavy work while it timestamps arrivals.
    bodies: HashMap<String, Bytes>,
    starts: Mutex<Vec<Instant>>,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
    missing_campaign: AtomicU64,
}

/// Counts a request as in flight until dropped.
struct InFlight(Arc<Upstream>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

fn body(campaign: &str, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n * 430 + 64);
    out.extend_from_slice(b"{\"data\":[");
    for i in 0..n {
        if i > 0 {
            out.push(b',');
        }
        let t = i % TEMPLATES;
        let _ = write!(
            out,
            r#"{{"uuid":"0d3c2b1a-0000-4000-8000-{i:012x}","name":"Maria do Carmo {i}","phone_number":"55119{:08}","state":"{}","template_uuid":"70f4ddb6-ece1-4e13-ab90-{t:012x}","template_name":"Template {t}","campaign_uuid":"{campaign}","campaign_name":"Campanha","inserted_at":"2024-09-01T10:00:00.000Z","conversation_fields":{{"CPF":"111.222.333-{:02}","perfil":"Pessoa Física"}}}}"#,
            i % 100_000_000,
            STATES[(i * 7 + i / 3) % 6],
            i % 100,
        );
    }
    out.extend_from_slice(b"],\"links\":{\"next\":null}}");
    out
}

async fn report(
    State(up): State<Arc<Upstream>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let arrived = Instant::now();
    up.starts.lock().unwrap().push(arrived);
    let now = up.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    up.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let guard = InFlight(up.clone());
    let bytes = match q.get("campaigns[]").and_then(|c| up.bodies.get(c)) {
        Some(b) => b.clone(),
        None => {
            up.missing_campaign.fetch_add(1, Ordering::SeqCst);
            Bytes::from_static(br#"{"data":[],"links":{"next":null}}"#)
        }
    };
    tokio::time::sleep_until((arrived + LATENCY).into()).await;
    // The request stays in flight until its last chunk is handed over, so a
    // request the exporter starts after reading this one's body can never
    // overlap it here.
    let mut chunks: Vec<Bytes> = (0..bytes.len())
        .step_by(CHUNK)
        .map(|i| bytes.slice(i..(i + CHUNK).min(bytes.len())))
        .collect();
    chunks.reverse();
    let stream = futures_util::stream::unfold(
        (chunks, Some(guard)),
        |(mut chunks, mut guard)| async move {
            let chunk = chunks.pop()?;
            if chunks.is_empty() {
                drop(guard.take());
            }
            Some((Ok::<_, std::io::Error>(chunk), (chunks, guard)))
        },
    );
    let mut resp = Response::new(Body::from_stream(stream));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    resp
}

/// The upstream on its own thread and runtime; stops when `stop` is sent
/// or dropped.
fn start_upstream(
    up: Arc<Upstream>,
) -> (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    std::thread::JoinHandle<()>,
) {
    let (tx, rx) = mpsc::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
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
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
                .expect("upstream serves");
        });
    });
    (rx.recv().expect("upstream started"), stop, thread)
}

/// A campaign UUID per index.
fn campaign_uuid(c: usize) -> String {
    format!("5d2a8c4e-1f7b-4e3a-9d6c-{c:012x}")
}

struct Outcome {
    label: String,
    max_concurrency: usize,
    max_rps: f64,
    duration: Duration,
    requests: usize,
    max_in_flight: u64,
    max_per_second: usize,
    min_span: Option<Duration>,
    median_gap: Option<Duration>,
    campaigns_ok: usize,
    campaigns: usize,
    missing_campaign: u64,
}

/// The most starts within any `[t, t + width)`.
fn max_in_window(sorted: &[Instant], width: Duration) -> usize {
    let mut best = 0;
    let mut j = 0;
    for i in 0..sorted.len() {
        while j < sorted.len() && sorted[j] - sorted[i] < width {
            j += 1;
        }
        best = best.max(j - i);
    }
    best
}

/// The shortest time spanned by `rate + 1` consecutive starts (1 s when the
/// rate is kept exactly), and the median gap between consecutive starts.
fn spans(sorted: &[Instant], rate: usize) -> (Option<Duration>, Option<Duration>) {
    let min_span = (rate..sorted.len())
        .map(|k| sorted[k] - sorted[k - rate])
        .min();
    let mut gaps: Vec<Duration> = sorted.windows(2).map(|w| w[1] - w[0]).collect();
    gaps.sort();
    (min_span, gaps.get(gaps.len() / 2).copied())
}

fn run(campaigns: usize, subscribers: usize, extra: &[&str], label: &str) -> Outcome {
    let uuids: Vec<String> = (0..campaigns).map(campaign_uuid).collect();
    let up = Arc::new(Upstream {
        bodies: uuids
            .iter()
            .map(|u| (u.clone(), Bytes::from(body(u, subscribers))))
            .collect(),
        ..Upstream::default()
    });
    let (addr, stop_upstream, upstream_thread) = start_upstream(up.clone());
    let mut argv: Vec<String> = vec![
        "evolux-exporter".into(),
        format!("--evolux.url=http://{addr}"),
    ];
    argv.extend(uuids.iter().map(|u| format!("--campaign={u}")));
    argv.extend(extra.iter().map(|s| s.to_string()));
    let cli = Cli::try_parse_from(&argv).expect("arguments parse");
    let config = Config::load_with_token(cli, Some("x".into())).expect("config is valid");
    let max_concurrency = config.evolux.max_concurrency;
    let max_rps = config.evolux.max_rps;

    // As the binary: a multi-thread runtime, one worker per core.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (duration, snapshot) = rt.block_on(async {
        let app = App::build(config).await.expect("app builds");
        let t = Instant::now();
        let report = app.poller.poll_once().await;
        let d = t.elapsed();
        assert_eq!(report.queries, campaigns, "one query per campaign");
        (d, app.published.snapshot())
    });
    // The app (and its pooled connections) went with the block; now the
    // upstream can end.
    drop(rt);
    let _ = stop_upstream.send(());
    upstream_thread.join().expect("upstream thread");
    let campaigns_ok = uuids
        .iter()
        .filter(|u| {
            snapshot.campaigns.get(u.as_str()).is_some_and(|s| {
                s.up && s
                    .counts
                    .as_ref()
                    .is_some_and(|c| c.total() == subscribers as u64)
            })
        })
        .count();
    let starts = up.starts.lock().unwrap().clone();
    let mut sorted = starts.clone();
    sorted.sort();
    let max_per_second = max_in_window(&sorted, Duration::from_secs(1));
    let (min_span, median_gap) = spans(&sorted, max_rps.floor() as usize);
    Outcome {
        label: label.to_string(),
        max_concurrency,
        max_rps,
        duration,
        requests: starts.len(),
        max_in_flight: up.max_in_flight.load(Ordering::SeqCst),
        max_per_second,
        min_span,
        median_gap,
        campaigns_ok,
        campaigns,
        missing_campaign: up.missing_campaign.load(Ordering::SeqCst),
    }
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let campaigns = env_or("FANOUT_CAMPAIGNS", 200);
    let subscribers = env_or("FANOUT_SUBSCRIBERS", 5_000);
    println!(
        "fanout: {campaigns} campaigns × {subscribers} subscribers ({:.1} MB per answer), \
         upstream answers after {} ms",
        body(&campaign_uuid(0), subscribers).len() as f64 / 1e6,
        LATENCY.as_millis()
    );
    let outcomes = [
        run(campaigns, subscribers, &[], "defaults"),
        run(
            campaigns,
            subscribers,
            &["--evolux.max-concurrency=8", "--evolux.max-rps=20"],
            "--evolux.max-concurrency=8 --evolux.max-rps=20",
        ),
        // At 10/s and 200 ms, about 2 requests are in flight: the rate binds
        // and the concurrency cap is never reached. With a loose rate the
        // concurrency cap binds instead.
        run(
            campaigns,
            subscribers,
            &["--evolux.max-rps=100"],
            "--evolux.max-rps=100 (the concurrency cap binds)",
        ),
    ];

    println!();
    println!(
        "| limits | poll duration (target < 60 s) | lower bound | requests | max in flight | max starts in any [t, t+1 s) at the upstream | shortest span of rps+1 starts | median gap | campaigns up with {subscribers} |",
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut ok = true;
    let ms = |d: Option<Duration>| {
        d.map(|d| format!("{:.1} ms", d.as_secs_f64() * 1e3))
            .unwrap_or_else(|| "-".into())
    };
    for o in &outcomes {
        // The poll cannot beat either limit: requests / rps (the first
        // starts at once), or rounds of `max_concurrency` × 200 ms.
        let bound = ((o.requests.saturating_sub(1)) as f64 / o.max_rps)
            .max(o.requests.div_ceil(o.max_concurrency) as f64 * LATENCY.as_secs_f64());
        let in_flight_ok = o.max_in_flight <= o.max_concurrency as u64;
        let rate_ok = o.max_per_second as f64 <= o.max_rps;
        let duration_ok = o.duration < Duration::from_secs(60);
        let all_up = o.campaigns_ok == o.campaigns && o.missing_campaign == 0;
        ok &= in_flight_ok && rate_ok && duration_ok && all_up;
        let mark = |b: bool| if b { "" } else { " **over**" };
        println!(
            "| {} ({} in flight, {}/s) | {:.2} s{} | {bound:.1} s | {} | {} (≤ {}){} | {} (≤ {}){} | {} | {} | {}/{}{} |",
            o.label,
            o.max_concurrency,
            o.max_rps,
            o.duration.as_secs_f64(),
            mark(duration_ok),
            o.requests,
            o.max_in_flight,
            o.max_concurrency,
            mark(in_flight_ok),
            o.max_per_second,
            o.max_rps,
            mark(rate_ok),
            ms(o.min_span),
            ms(o.median_gap),
            o.campaigns_ok,
            o.campaigns,
            mark(all_up),
        );
    }
    println!();
    println!(
        "fanout: {}",
        if ok {
            "all targets met"
        } else {
            "a target was NOT met"
        }
    );
}
