//! The upstream of the limits test: 300 campaigns' plans, and a server
//! that records every arrival and how many requests are in flight.

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
use serde_json::json;

use super::{SLOW, SLOW_CAMPAIGNS, STATES, TEMPLATES};
use crate::support::REPORT_PATH;

/// What a campaign's upstream does once before answering properly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
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
    pub fn status(self) -> Option<(StatusCode, Option<&'static str>)> {
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
pub struct Plan {
    pub uuid: String,
    /// Per page, its records as (template, state).
    pub pages: Vec<Vec<(&'static str, &'static str)>>,
    pub fault: Fault,
    /// The page that fails once.
    pub fault_page: usize,
    pub latency: Duration,
    /// Next links as absolute URLs, else as paths.
    pub absolute_links: bool,
}

impl Plan {
    pub fn new(i: usize) -> Plan {
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
    pub fn requests(&self) -> usize {
        self.pages.len() + usize::from(self.fault != Fault::None)
    }

    /// Expected (template, state) counts.
    pub fn counts(&self) -> BTreeMap<(&'static str, &'static str), u64> {
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
pub struct Log {
    pub arrivals: Vec<Instant>,
    pub in_flight: usize,
    pub max_in_flight: usize,
    /// (campaign, page) to the arrival of each request for it.
    pub requests: HashMap<(String, usize), Vec<Instant>>,
    /// Status code to responses.
    pub codes: BTreeMap<u16, u64>,
}

/// Counts a request out of flight once, when its body ends or is dropped.
pub struct InFlight {
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

pub fn lock(log: &Mutex<Log>) -> std::sync::MutexGuard<'_, Log> {
    log.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct Upstream {
    pub origin: String,
    pub log: Arc<Mutex<Log>>,
}

pub async fn handle(
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
    // A first read's check (its two halves carry `start`/`end`; the whole
    // read, with no window, does not): counted against the limits, answered
    // with no records at once, kept out of the per-page log.
    let check = q.iter().any(|(k, _)| k == "start" || k == "end");
    let attempt = {
        let mut l = lock(&log);
        l.in_flight += 1;
        l.max_in_flight = l.max_in_flight.max(l.in_flight);
        l.arrivals.push(arrived);
        if check {
            *l.codes.entry(200).or_default() += 1;
            l.in_flight -= 1;
            return ([(CONTENT_TYPE, "application/json")], r#"{"data":[]}"#).into_response();
        }
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
pub fn start_upstream(plans: Arc<HashMap<String, Plan>>) -> Upstream {
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
