//! `--evolux.max-concurrency` and `--evolux.max-rps`, measured where they
//! matter: at the upstream.
//!
//! One poll of a large configuration (300 campaigns, some paginated over 2 or
//! 3 pages by next links, some answering 429 or 503 once, with and without
//! `Retry-After`, each with a small latency) against an upstream that records
//! the arrival of every request and how many are in flight, from arrival
//! until the last byte of the body has been handed to the connection.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use evolux_exporter::app::App;
use evolux_exporter::config::{Cli, Config};

use crate::support::metrics::Metrics;
use crate::support::{TEMPLATE_1, TEMPLATE_2};

mod upstream;
use upstream::{Fault, Plan, lock, start_upstream};

const TEMPLATES: [&str; 2] = [TEMPLATE_1, TEMPLATE_2];
/// The six states and one the API may add, kept as its own value.
const STATES: [&str; 7] = {
    let s = crate::support::STATES;
    [s[0], s[1], s[2], s[3], s[4], s[5], "bounced"]
};

pub const CAMPAIGNS: usize = 300;
pub const MAX_CONCURRENCY: usize = 6;
pub const MAX_RPS: f64 = 200.0;
/// The first campaigns answer slowly, so that the concurrency limit binds;
/// the rest answer fast, so that the rate limit binds.
pub const SLOW_CAMPAIGNS: usize = 24;
pub const SLOW: Duration = Duration::from_millis(80);

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
    let _alone = crate::ALONE.lock().await;
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

    // Every campaign answered in full, with the right counts; before its
    // whole read, its first read's check made two more (one page each).
    let pages: usize = plans.iter().map(|p| p.pages.len()).sum();
    let checks = 2 * CAMPAIGNS;
    assert_eq!(report.queries, CAMPAIGNS + checks);
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(report.pages, pages + checks);
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
    assert_eq!(
        log.arrivals.len(),
        total + checks,
        "requests at the upstream"
    );
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
    assert_eq!(log.codes.get(&200).copied(), Some((pages + checks) as u64));
    assert_eq!(log.codes.get(&429).copied(), Some(fault_count(429)));
    assert_eq!(log.codes.get(&503).copied(), Some(fault_count(503)));
    assert_eq!(log.codes.len(), 3, "{:?}", log.codes);
    let exposition = app.published.exposition();
    let text = std::str::from_utf8(&exposition.plain).expect("UTF-8 exposition");
    let m = Metrics(text.to_string());
    for (code, n) in &log.codes {
        let got = m.get("evolux_api_requests_total", &[("code", &code.to_string())]);
        assert_eq!(
            got,
            Some(*n as f64),
            "evolux_api_requests_total{{code={code}}}"
        );
    }
    assert_eq!(m.get("evolux_up", &[]), Some(1.0));
    for plan in &plans {
        let up = m.get("evolux_campaign_up", &[("campaign", &plan.uuid)]);
        assert_eq!(up, Some(1.0), "evolux_campaign_up of {}", plan.uuid);
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
