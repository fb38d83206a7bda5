//! `--evolux.max-concurrency` and `--evolux.max-rps`, measured where they
//! matter: at the upstream.
//!
//! One poll of a large configuration (300 campaigns, some paginated over 2 or
//! 3 pages by next links, some answering 429 or 503 once, with and without
//! `Retry-After`, each with a small latency) against an upstream that records
//! the arrival of every request and how many are in flight, from arrival
//! until the last byte of the body has been handed to the connection.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use bytes::Bytes;
use evolux_exporter::app::App;
use evolux_exporter::config::{Cli, Config};
use serde_json::json;

const REPORT_PATH: &str = "/api/v1/reports/campaign/subscribers";
const TEMPLATES: [&str; 2] = [
    "70f4ddb6-ece1-4e13-ab90-3698d9d72bf0",
    "1b2e9c1e-5f8a-4c55-9a59-2f6e0c3d7a10",
];
/// The six states and one the API may add, kept as its own value.
const STATES: [&str; 7] = [
    "pending",
    "scheduled",
    "sent",
    "dnd",
    "completed",
    "error",
    "bounced",
];

const CAMPAIGNS: usize = 300;
const MAX_CONCURRENCY: usize = 6;
const MAX_RPS: f64 = 200.0;
/// The first campaigns answer slowly, so that the concurrency limit binds;
/// the rest answer fast, so that the rate limit binds.
const SLOW_CAMPAIGNS: usize = 24;
const SLOW: Duration = Duration::from_millis(80);

/// What a campaign's upstream does once before answering properly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    None,
    /// 429 without `Retry-After`: the exporter's own backoff.
    TooMany,
    /// 429 with `Retry-After: 0`.
    TooManyRetryNow,
    /// 429 with `Retry-After: 1`: the retry must wait a second.
    TooManyRetryInASecond,
    /// 503 without `Retry-After`.
    Unavailable,
    /// 503 with `Retry-After: 0`.
    UnavailableRetryNow,
}

impl Fault {
    fn status(self) -> Option<(StatusCode, Option<&'static str>)> {
        match self {
            Fault::None => None,
            Fault::TooMany => Some((StatusCode::TOO_MANY_REQUESTS, None)),
            Fault::TooManyRetryNow => Some((StatusCode::TOO_MANY_REQUESTS, Some("0"))),
            Fault::TooManyRetryInASecond => Some((StatusCode::TOO_MANY_REQUESTS, Some("1"))),
            Fault::Unavailable => Some((StatusCode::SERVICE_UNAVAILABLE, None)),
            Fault::UnavailableRetryNow => Some((StatusCode::SERVICE_UNAVAILABLE, Some("0"))),
        }
    }
}

/// One campaign's upstream behaviour and records.
#[derive(Clone, Debug)]
struct Plan {
    uuid: String,
    /// Per page, its records as (template, state).
    pages: Vec<Vec<(&'static str, &'static str)>>,
    fault: Fault,
    /// The page that fails once.
    fault_page: usize,
    latency: Duration,
    /// Next links as absolute URLs, else as paths.
    absolute_links: bool,
}

impl Plan {
    fn new(i: usize) -> Plan {
        let pages = match i % 5 {
            3 => 2,
            4 => 3,
            _ => 1,
        };
        let fault = if i % 100 == 7 {
            Fault::TooManyRetryInASecond
        } else {
            match i % 10 {
                1 => Fault::TooMany,
                2 => Fault::TooManyRetryNow,
                5 => Fault::Unavailable,
                6 if i % 20 == 6 => Fault::UnavailableRetryNow,
                _ => Fault::None,
            }
        };
        let latency = if i < SLOW_CAMPAIGNS {
            SLOW
        } else {
            Duration::from_millis(2 + (i % 4) as u64)
        };
        Plan {
            uuid: format!("{i:08x}-0000-4000-8000-{i:012x}"),
            pages: (0..pages)
                .map(|p| {
                    (0..(i * 7 + p * 3) % 9)
                        .map(|k| {
                            (
                                TEMPLATES[(i + k) % 2],
                                STATES[(i + k * 5 + p) % STATES.len()],
                            )
                        })
                        .collect()
                })
                .collect(),
            fault,
            fault_page: (i / 10) % pages,
            latency,
            absolute_links: i % 2 == 1,
        }
    }

    /// Page `page`'s body: `{"data": [...]}` with the next link at
    /// `links.next` or `next`, or a top-level array for a last page.
    fn body(&self, page: usize, origin: &str) -> Vec<u8> {
        let records: Vec<serde_json::Value> = self.pages[page]
            .iter()
            .map(|(template, state)| {
                json!({
                    "uuid": "0d3c2b1a-0000-4000-8000-000000000001",
                    "name": "Maria do Carmo",
                    "phone_number": "5511998811220",
                    "state": state,
                    "template": {"uuid": template, "name": "Boas-vindas"},
                    "campaign_uuid": self.uuid,
                    "conversation_fields": {"CPF": "111.111.111-11"}
                })
            })
            .collect();
        let next = (page + 1 < self.pages.len()).then(|| {
            let origin = if self.absolute_links { origin } else { "" };
            format!(
                "{origin}{REPORT_PATH}?campaigns[]={}&page={}",
                self.uuid,
                page + 1
            )
        });
        let doc = match (next, page % 2) {
            (Some(next), 0) => json!({"links": {"next": next}, "data": records}),
            (Some(next), _) => json!({"data": records, "next": next}),
            (None, _) if self.pages.len() == 1 => json!(records),
            (None, _) => json!({"data": records, "links": {"next": null}}),
        };
        serde_json::to_vec(&doc).expect("serializable")
    }

    /// Requests the exporter must make for this campaign.
    fn requests(&self) -> usize {
        self.pages.len() + usize::from(self.fault != Fault::None)
    }

    /// Expected (template, state) counts.
    fn counts(&self) -> BTreeMap<(&'static str, &'static str), u64> {
        let mut out = BTreeMap::new();
        for page in &self.pages {
            for r in page {
                *out.entry(*r).or_default() += 1;
            }
        }
        out
    }
}

/// What the upstream saw.
#[derive(Debug, Default)]
struct Log {
    arrivals: Vec<Instant>,
    in_flight: usize,
    max_in_flight: usize,
    /// (campaign, page) to the arrival of each request for it.
    requests: HashMap<(String, usize), Vec<Instant>>,
    /// Status code to responses.
    codes: BTreeMap<u16, u64>,
}

/// Counts a request out of flight once, when its body ends or is dropped.
struct InFlight {
    log: Arc<Mutex<Log>>,
    done: bool,
}

impl InFlight {
    fn done(&mut self) {
        if !self.done {
            self.done = true;
            lock(&self.log).in_flight -= 1;
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.done();
    }
}

fn lock(log: &Mutex<Log>) -> std::sync::MutexGuard<'_, Log> {
    log.lock().unwrap_or_else(|e| e.into_inner())
}

struct Upstream {
    origin: String,
    log: Arc<Mutex<Log>>,
}

async fn handle(
    q: Vec<(String, String)>,
    plans: Arc<HashMap<String, Plan>>,
    log: Arc<Mutex<Log>>,
    origin: Arc<str>,
) -> Response {
    let arrived = Instant::now();
    let campaign = q
        .iter()
        .find(|(k, _)| k == "campaigns[]")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let page = q
        .iter()
        .find(|(k, _)| k == "page")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let attempt = {
        let mut l = lock(&log);
        l.in_flight += 1;
        l.max_in_flight = l.max_in_flight.max(l.in_flight);
        l.arrivals.push(arrived);
        let seen = l.requests.entry((campaign.clone(), page)).or_default();
        seen.push(arrived);
        seen.len() - 1
    };
    let mut in_flight = InFlight {
        log: log.clone(),
        done: false,
    };
    let Some(plan) = plans.get(&campaign).filter(|p| page < p.pages.len()) else {
        *lock(&log).codes.entry(404).or_default() += 1;
        in_flight.done();
        return StatusCode::NOT_FOUND.into_response();
    };
    tokio::time::sleep(plan.latency).await;
    if let (0, true, Some((status, retry_after))) =
        (attempt, page == plan.fault_page, plan.fault.status())
    {
        *lock(&log).codes.entry(status.as_u16()).or_default() += 1;
        // Out of flight before the response is written: the exporter cannot
        // see it end any earlier, so this never overstates the concurrency.
        in_flight.done();
        let mut resp = (status, "slow down").into_response();
        if let Some(v) = retry_after {
            resp.headers_mut()
                .insert(RETRY_AFTER, v.parse().expect("header value"));
        }
        return resp;
    }
    *lock(&log).codes.entry(200).or_default() += 1;
    let body = Bytes::from(plan.body(page, &origin));
    let half = body.len() / 2;
    let chunks = vec![body.slice(..half), body.slice(half..)];
    // The body streams in two chunks; the request leaves flight when the
    // stream ends, before hyper writes the final chunk that lets the client
    // see the end of the body (and so release its permit).
    let stream = futures_util::stream::unfold(
        (chunks.into_iter(), in_flight),
        |(mut it, mut guard)| async move {
            match it.next() {
                Some(chunk) => {
                    tokio::task::yield_now().await;
                    Some((Ok::<_, Infallible>(chunk), (it, guard)))
                }
                None => {
                    guard.done();
                    None
                }
            }
        },
    );
    (
        [(CONTENT_TYPE, "application/json")],
        Body::from_stream(stream),
    )
        .into_response()
}

/// Starts the upstream on a thread and runtime of its own, so that its clock
/// readings do not wait on the exporter's tasks.
fn start_upstream(plans: Arc<HashMap<String, Plan>>) -> Upstream {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    std_listener.set_nonblocking(true).expect("nonblocking");
    let origin = format!("http://{}", std_listener.local_addr().expect("addr"));
    let log = Arc::new(Mutex::new(Log::default()));
    let (origin_arc, log_arc): (Arc<str>, _) = (origin.clone().into(), log.clone());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("upstream runtime");
        rt.block_on(async move {
            let app = axum::Router::new().route(
                REPORT_PATH,
                get(move |Query(q): Query<Vec<(String, String)>>| {
                    handle(q, plans.clone(), log_arc.clone(), origin_arc.clone())
                }),
            );
            let listener = tokio::net::TcpListener::from_std(std_listener)
                .expect("listener")
                .tap_io(|tcp| {
                    let _ = tcp.set_nodelay(true);
                });
            axum::serve(listener, app).await
        })
    });
    Upstream { origin, log }
}

/// The samples of an exposition: (name, labels) to value.
fn samples(text: &str) -> HashMap<(String, BTreeMap<String, String>), f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (name, labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.strip_suffix('}')?),
                None => (series, ""),
            };
            let labels = labels
                .split(',')
                .filter(|p| !p.is_empty())
                .filter_map(|p| {
                    let (k, v) = p.split_once('=')?;
                    Some((k.to_string(), v.trim_matches('"').to_string()))
                })
                .collect();
            Some(((name.to_string(), labels), value.parse().ok()?))
        })
        .collect()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The most arrivals in any window `[t, t + 1 s)`, and where it starts.
fn max_per_second(sorted: &[Instant]) -> (usize, usize) {
    let mut best = (0, 0);
    let mut end = 0;
    for (start, t) in sorted.iter().enumerate() {
        while end < sorted.len() && sorted[end] < *t + Duration::from_secs(1) {
            end += 1;
        }
        if end - start > best.0 {
            best = (end - start, start);
        }
    }
    best
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_and_rate_limits_hold_at_the_upstream_for_300_campaigns() {
    let plans: Vec<Plan> = (0..CAMPAIGNS).map(Plan::new).collect();
    let by_uuid: Arc<HashMap<String, Plan>> =
        Arc::new(plans.iter().map(|p| (p.uuid.clone(), p.clone())).collect());
    let upstream = start_upstream(by_uuid);

    let campaigns: Vec<&str> = plans.iter().map(|p| p.uuid.as_str()).collect();
    let cli = Cli::try_parse_from([
        "evolux-exporter".to_string(),
        format!("--evolux.url={}", upstream.origin),
        "--poll.interval=1h".into(),
        "--evolux.timeout=5s".into(),
        format!("--evolux.max-concurrency={MAX_CONCURRENCY}"),
        format!("--evolux.max-rps={MAX_RPS}"),
        format!("--campaign={}", campaigns.join(",")),
    ])
    .expect("arguments parse");
    let mut config = Config::load_with_token(cli, Some("test-token".into())).expect("config");
    config.evolux.retry_base_delay = Duration::from_millis(10);
    config.evolux.retry_max_delay = Duration::from_secs(3);
    let app = App::build(config).await.expect("app builds");

    let started = Instant::now();
    let report = app.poller.poll_once().await;
    let took = started.elapsed();

    // Every campaign answered in full, with the right counts.
    let pages: usize = plans.iter().map(|p| p.pages.len()).sum();
    assert_eq!(report.queries, CAMPAIGNS);
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(report.pages, pages);
    let snapshot = app.poller.published().snapshot();
    assert_eq!(snapshot.up, Some(true));
    assert_eq!(snapshot.campaigns.len(), CAMPAIGNS);
    for plan in &plans {
        let status = &snapshot.campaigns[&plan.uuid];
        assert!(status.up, "{}: {:?}", plan.uuid, status.error);
        let counts = status.counts.as_ref().expect("counts");
        let mut got = BTreeMap::new();
        for (template, states) in &counts.templates {
            for (state, n) in states.iter().filter(|(_, n)| *n > 0) {
                let t = TEMPLATES
                    .iter()
                    .find(|t| **t == template.as_ref())
                    .expect("a known template");
                let s = STATES.iter().find(|s| **s == state).expect("a known state");
                got.insert((*t, *s), n);
            }
        }
        assert_eq!(got, plan.counts(), "counts of {}", plan.uuid);
    }

    // The upstream saw each page once, and a failed page once more.
    let log = lock(&upstream.log);
    for plan in &plans {
        for page in 0..plan.pages.len() {
            let seen = log
                .requests
                .get(&(plan.uuid.clone(), page))
                .map_or(0, Vec::len);
            let want = 1 + usize::from(plan.fault != Fault::None && page == plan.fault_page);
            assert_eq!(seen, want, "requests for {} page {page}", plan.uuid);
        }
    }
    let total: usize = plans.iter().map(Plan::requests).sum();
    assert_eq!(log.arrivals.len(), total, "requests at the upstream");
    assert_eq!(log.in_flight, 0, "requests left in flight");

    // Retry-After: 1 was waited out.
    for plan in plans
        .iter()
        .filter(|p| p.fault == Fault::TooManyRetryInASecond)
    {
        let seen = &log.requests[&(plan.uuid.clone(), plan.fault_page)];
        let gap = seen[1] - seen[0];
        assert!(
            gap >= Duration::from_secs(1),
            "{} retried {gap:?} after a 429 with Retry-After: 1",
            plan.uuid
        );
    }

    // Retries are counted, by status code, as the upstream answered them.
    let fault_count = |code: u16| -> u64 {
        plans
            .iter()
            .filter(|p| p.fault.status().is_some_and(|(s, _)| s.as_u16() == code))
            .count() as u64
    };
    assert_eq!(log.codes.get(&200).copied(), Some(pages as u64));
    assert_eq!(log.codes.get(&429).copied(), Some(fault_count(429)));
    assert_eq!(log.codes.get(&503).copied(), Some(fault_count(503)));
    assert_eq!(log.codes.len(), 3, "{:?}", log.codes);
    let exposition = app.published.exposition();
    let text = std::str::from_utf8(&exposition.plain).expect("UTF-8 exposition");
    let m = samples(text);
    for (code, n) in &log.codes {
        let got = m.get(&(
            "evolux_api_requests_total".to_string(),
            labels(&[("code", &code.to_string())]),
        ));
        assert_eq!(
            got,
            Some(&(*n as f64)),
            "evolux_api_requests_total{{code={code}}}"
        );
    }
    assert_eq!(m.get(&("evolux_up".into(), labels(&[]))), Some(&1.0));
    for plan in &plans {
        let up = m.get(&(
            "evolux_campaign_up".into(),
            labels(&[("campaign", &plan.uuid)]),
        ));
        assert_eq!(up, Some(&1.0), "evolux_campaign_up of {}", plan.uuid);
    }

    // The limits, at the upstream.
    let mut arrivals = log.arrivals.clone();
    arrivals.sort();
    let (most, at) = max_per_second(&arrivals);
    let span = arrivals[arrivals.len() - 1] - arrivals[0];
    let min_gap = arrivals
        .windows(2)
        .map(|w| w[1] - w[0])
        .min()
        .unwrap_or_default();
    eprintln!(
        "{} requests ({} pages, {} retries) in {took:?}; upstream: first to last \
         arrival {span:?}, max in flight {} (limit {MAX_CONCURRENCY}), max starts in \
         any 1 s window {most} at +{:?} (limit {MAX_RPS}), min gap between arrivals \
         {min_gap:?}",
        arrivals.len(),
        pages,
        arrivals.len() - pages,
        log.max_in_flight,
        arrivals[at] - arrivals[0],
    );
    assert!(
        log.max_in_flight <= MAX_CONCURRENCY,
        "{} requests in flight at once, limit {MAX_CONCURRENCY}",
        log.max_in_flight
    );
    assert!(
        most as f64 <= MAX_RPS,
        "{most} requests started within one second, limit {MAX_RPS}"
    );
    // Over the whole poll too: n requests need n - 1 periods of 1/max-rps.
    assert!(
        span.as_secs_f64() >= (arrivals.len() - 1) as f64 / MAX_RPS,
        "{} requests in {span:?}",
        arrivals.len()
    );
    // The test pushed against both limits, so it shows they hold.
    assert_eq!(
        log.max_in_flight, MAX_CONCURRENCY,
        "the slow campaigns should fill every slot"
    );
    assert!(
        most as f64 >= MAX_RPS / 2.0,
        "only {most} starts in the busiest second: the rate limit was not exercised"
    );
}
