//! Segmented polling end to end, against an upstream that applies `start`
//! and `end` as the API document says: the queries tile the insertion axis
//! at the millisecond, changes show within their bounds, a server that
//! reads the range otherwise is caught by verification, gzip is asked for
//! and decoded, and a `Retry-After` holds back every read.

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use common::app::*;
use common::ranged::Ranged;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The end of the second `ms` falls in, or of the one before (how cuts are placed).
fn second_end(ms: i64) -> i64 {
    ms - (ms + 1).rem_euclid(1000)
}

async fn ranged_upstream(ranged: &Ranged) -> MockServer {
    let upstream = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(REPORT_PATH))
        .respond_with(ranged.clone())
        .mount(&upstream)
        .await;
    upstream
}

fn subscribers(m: &Metrics, campaign: &str, state: &str) -> f64 {
    m.get(
        "evolux_campaign_subscribers",
        &[("campaign", campaign), ("state", state)],
    )
    .unwrap_or(0.0)
}

#[tokio::test]
async fn segment_queries_tile_the_axis_at_the_millisecond_and_count_boundary_subscribers_once() {
    let ranged = Ranged::default();
    // Subscribers on both sides of every place the first segments may be
    // cut (one interval, 1 h, 1 d, 7 d, 30 d and 365 d before the seal),
    // for each second the first poll may start in.
    let before = now_ms();
    let interval = HOUR_MS;
    let mut inserted = 0;
    for back in [0, HOUR_MS, DAY_MS, 7 * DAY_MS, 30 * DAY_MS, 365 * DAY_MS] {
        for second in 0..4 {
            let cut = second_end(before + second * 1000 - interval) - back;
            for off in -1..=2 {
                ranged.insert(CAMPAIGN_A, cut + off, "sent");
                inserted += 1;
            }
        }
    }
    let upstream = ranged_upstream(&ranged).await;
    let app = spawn_app(config(&[
        &format!("--evolux.url={}", upstream.uri()),
        &format!("--campaign={CAMPAIGN_A}"),
        "--poll.max-interval=8h",
    ]))
    .await;
    app.wait_ready().await;

    // The first poll is the start-up verification: every segment, then the
    // whole campaign, then the newest segment again.
    let arrivals = ranged.arrivals();
    assert!(arrivals.iter().all(|a| a.gzip), "gzip is asked for");
    let whole: Vec<_> = arrivals
        .iter()
        .filter(|a| a.start.is_none() && a.end.is_none())
        .collect();
    assert_eq!(whole.len(), 1, "one unsegmented read");
    let mut ranges: Vec<(Option<String>, Option<String>)> = arrivals
        .iter()
        .filter(|a| a.start.is_some() || a.end.is_some())
        .map(|a| (a.start.clone(), a.end.clone()))
        .collect();
    ranges.sort();
    ranges.dedup();
    assert_eq!(ranges.len(), 7, "{ranges:?}");
    // Sorted by start, `None` (the oldest) first: each end is followed by a
    // start one millisecond later, as `...59.999Z` then `...00.000Z`.
    assert!(ranges[0].0.is_none() && ranges[6].1.is_none(), "{ranges:?}");
    for pair in ranges.windows(2) {
        let end = pair[0].1.as_deref().expect("an end");
        let start = pair[1].0.as_deref().expect("a start");
        assert!(
            end.ends_with(".999Z") && start.ends_with(".000Z"),
            "{end} {start}"
        );
        let end_ms = chrono::DateTime::parse_from_rfc3339(end)
            .unwrap()
            .timestamp_millis();
        let start_ms = chrono::DateTime::parse_from_rfc3339(start)
            .unwrap()
            .timestamp_millis();
        assert_eq!(start_ms, end_ms + 1, "{end} then {start}");
    }
    let m = app.scrape().await;
    assert_eq!(
        subscribers(&m, CAMPAIGN_A, "sent"),
        inserted as f64,
        "{}",
        m.0
    );
    assert_eq!(
        m.get("evolux_campaign_segments", &[("campaign", CAMPAIGN_A)]),
        Some(7.0)
    );
    assert_eq!(
        m.get(
            "evolux_campaign_verification_mismatches_total",
            &[("campaign", CAMPAIGN_A)]
        ),
        None,
        "the verification agreed"
    );
    assert_eq!(
        m.get("evolux_poll_max_interval_seconds", &[]),
        Some(8.0 * 3600.0)
    );
    // Records read: every segment once, the whole campaign once, and the
    // newest segment again.
    let newest_start = chrono::DateTime::parse_from_rfc3339(ranges[6].0.as_deref().unwrap())
        .unwrap()
        .timestamp_millis();
    let newest = ranged
        .subs
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.at_ms >= newest_start)
        .count();
    assert_eq!(
        m.get("evolux_api_records_total", &[]),
        Some((2 * inserted + newest) as f64)
    );
    let refreshed = m
        .get(
            "evolux_campaign_refreshed_timestamp_seconds",
            &[("campaign", CAMPAIGN_A)],
        )
        .expect("refreshed");
    assert!(
        (refreshed - before as f64 / 1000.0).abs() < 10.0,
        "{refreshed}"
    );
}

#[tokio::test]
async fn changes_show_in_the_newest_segment_within_an_interval_and_in_old_ones_within_max_interval()
{
    let ranged = Ranged::default();
    let now = now_ms();
    let old = now - 3 * DAY_MS;
    ranged.insert(CAMPAIGN_A, old, "sent");
    ranged.insert(CAMPAIGN_A, now - 2 * HOUR_MS, "sent");
    let upstream = ranged_upstream(&ranged).await;
    let mut config = config(&[
        &format!("--evolux.url={}", upstream.uri()),
        &format!("--campaign={CAMPAIGN_A}"),
        "--evolux.max-rps=100",
        "--poll.verify-interval=0",
    ]);
    // A poll every 500 ms, every segment read again within 3 s.
    config.poll.interval = Duration::from_millis(500);
    config.poll.max_interval = Duration::from_secs(3);
    let app = spawn_app(config).await;
    app.wait_ready().await;
    // Let the old segment settle into its longest gap.
    tokio::time::sleep(Duration::from_secs(5)).await;

    ranged.insert(CAMPAIGN_A, now_ms(), "pending");
    let inserted = Instant::now();
    wait_for("the insert to show", Duration::from_secs(5), || async {
        subscribers(&app.scrape().await, CAMPAIGN_A, "pending") == 1.0
    })
    .await;
    let took = inserted.elapsed();
    assert!(
        took <= Duration::from_millis(1500),
        "an insert took {took:?}, over an interval and its slack"
    );

    ranged.set_state(old, "completed");
    let changed = Instant::now();
    wait_for(
        "the old change to show",
        Duration::from_secs(10),
        || async { subscribers(&app.scrape().await, CAMPAIGN_A, "completed") == 1.0 },
    )
    .await;
    let took = changed.elapsed();
    assert!(
        took <= Duration::from_millis(4000),
        "an old change took {took:?}, over max-interval and a poll"
    );
    let m = app.scrape().await;
    assert_eq!(subscribers(&m, CAMPAIGN_A, "sent"), 1.0, "{}", m.0);
    // Staleness stays within the bound.
    let refreshed = m
        .get(
            "evolux_campaign_refreshed_timestamp_seconds",
            &[("campaign", CAMPAIGN_A)],
        )
        .unwrap();
    let age = now_ms() as f64 / 1000.0 - refreshed;
    assert!(age <= 3.0 + 1.5, "worst staleness {age}s");
}

#[tokio::test]
async fn a_server_that_ignores_start_and_end_is_caught_falls_back_to_whole_reads_and_recovers() {
    let ranged = Ranged::default();
    let now = now_ms();
    for h in 0..50 {
        ranged.insert(CAMPAIGN_A, now - h * 7 * HOUR_MS, "sent");
    }
    ranged.ignore_range.store(true, Ordering::SeqCst);
    let upstream = ranged_upstream(&ranged).await;
    let mut config = config(&[
        &format!("--evolux.url={}", upstream.uri()),
        &format!("--campaign={CAMPAIGN_A}"),
        "--poll.max-interval=8h",
        "--evolux.max-rps=100",
    ]);
    // Verify at every poll.
    config.poll.verify_interval = Some(Duration::from_millis(1));
    let app = spawn_app(config).await;
    app.wait_ready().await;
    let mismatches = |m: &Metrics| {
        m.get(
            "evolux_campaign_verification_mismatches_total",
            &[("campaign", CAMPAIGN_A)],
        )
    };
    let m = app.scrape().await;
    assert_eq!(mismatches(&m), Some(1.0), "{}", m.0);
    assert_eq!(
        subscribers(&m, CAMPAIGN_A, "sent"),
        50.0,
        "whole reads count right"
    );
    assert_eq!(
        m.get("evolux_campaign_segments", &[("campaign", CAMPAIGN_A)]),
        Some(1.0)
    );
    assert_eq!(
        m.get("evolux_campaign_up", &[("campaign", CAMPAIGN_A)]),
        Some(1.0)
    );

    // Still wrong: verified again (and disagreeing), counted by whole reads.
    ranged.clear_arrivals();
    app.poller.poll_once().await;
    let m = app.scrape().await;
    assert_eq!(mismatches(&m), Some(2.0));
    assert_eq!(subscribers(&m, CAMPAIGN_A, "sent"), 50.0);
    assert!(
        ranged
            .arrivals()
            .iter()
            .any(|a| a.start.is_none() && a.end.is_none())
    );

    // Fixed: the next verification agrees and segments come back.
    ranged.ignore_range.store(false, Ordering::SeqCst);
    app.poller.poll_once().await;
    let m = app.scrape().await;
    assert_eq!(mismatches(&m), Some(2.0));
    assert_eq!(
        m.get("evolux_campaign_segments", &[("campaign", CAMPAIGN_A)]),
        Some(7.0)
    );
    assert_eq!(subscribers(&m, CAMPAIGN_A, "sent"), 50.0);
    // And it stays segmented: the next verification agrees too.
    app.poller.poll_once().await;
    let m = app.scrape().await;
    assert_eq!(
        m.get("evolux_campaign_segments", &[("campaign", CAMPAIGN_A)]),
        Some(7.0)
    );
    assert_eq!(mismatches(&m), Some(2.0));
}

#[tokio::test]
async fn a_gzip_bomb_fails_the_read_at_the_decoded_limit() {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(b"{\"data\":[").unwrap();
    let spaces = vec![b' '; 1 << 20];
    for _ in 0..256 {
        enc.write_all(&spaces).unwrap();
    }
    enc.write_all(b"]}").unwrap();
    let bomb = enc.finish().unwrap();
    let upstream = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(REPORT_PATH))
        .and(query_param("campaigns[]", CAMPAIGN_A))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-encoding", "gzip")
                .set_body_raw(bomb.clone(), "application/json"),
        )
        .mount(&upstream)
        .await;
    let app = spawn_app(config(&[
        &format!("--evolux.url={}", upstream.uri()),
        &format!("--campaign={CAMPAIGN_A}"),
        "--evolux.max-response-size=16MiB",
    ]))
    .await;
    app.wait_ready().await;
    let snapshot = app.poller.published().snapshot();
    let error = snapshot.campaigns[CAMPAIGN_A]
        .error
        .clone()
        .map(|f| f.message)
        .unwrap_or_default();
    assert!(error.contains("max-response-size"), "{error}");
    let m = app.scrape().await;
    assert_eq!(
        m.get("evolux_campaign_up", &[("campaign", CAMPAIGN_A)]),
        Some(0.0)
    );
    // Bytes are counted as on the wire: a fraction of the compressed body
    // (the read stopped at 16 MiB decoded), not hundreds of megabytes.
    let wire = m.get("evolux_api_response_bytes_total", &[]).unwrap();
    assert!(
        wire > 0.0 && wire <= bomb.len() as f64,
        "{wire} of {}",
        bomb.len()
    );
}

#[tokio::test]
async fn a_retry_after_holds_back_every_read_to_the_server() {
    let upstream = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(REPORT_PATH))
        .and(query_param("campaigns[]", CAMPAIGN_A))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&upstream)
        .await;
    Mock::given(method("GET"))
        .and(path(REPORT_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"data": []})))
        .with_priority(5)
        .mount(&upstream)
        .await;
    // One request at a time: A goes first and is refused; B's read is next
    // in line. Without a shared pause B would start at once.
    let app = spawn_app(config(&[
        &format!("--evolux.url={}", upstream.uri()),
        &format!("--campaign={CAMPAIGN_A}"),
        &format!("--campaign={CAMPAIGN_B}"),
        "--evolux.max-concurrency=1",
    ]))
    .await;
    app.wait_ready().await;
    let requests = upstream.received_requests().await.unwrap();
    let campaign_of = |r: &wiremock::Request| {
        r.url
            .query_pairs()
            .find(|(k, _)| k == "campaigns[]")
            .map(|(_, v)| v.into_owned())
    };
    let order: Vec<String> = requests.iter().filter_map(campaign_of).collect();
    assert_eq!(
        order,
        [CAMPAIGN_A, CAMPAIGN_B, CAMPAIGN_A],
        "A refused, then B, then A"
    );
    let snapshot = app.poller.published().snapshot();
    let b = &snapshot.campaigns[CAMPAIGN_B];
    assert!(b.up, "{:?}", b.error);
    let waited = b.poll_duration.unwrap();
    assert!(
        waited >= Duration::from_millis(950),
        "B's read went after {waited:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_due_reads_are_spread_over_polls_within_the_limits() {
    const N: usize = 40;
    const MAX_RPS: f64 = 100.0;
    const MAX_CONCURRENCY: usize = 4;
    const BUDGET: usize = 150;
    let ranged = Ranged::default();
    ranged.delay_ms.store(15, Ordering::SeqCst);
    let campaigns: Vec<String> = (0..N)
        .map(|i| format!("00000000-0000-4000-8000-{i:012}"))
        .collect();
    let now = now_ms();
    for (i, c) in campaigns.iter().enumerate() {
        for k in 0..5 {
            ranged.insert(c, now - (i as i64 + 1) * k * DAY_MS - 1000, "sent");
        }
    }
    let upstream = ranged_upstream(&ranged).await;
    let mut config = config(&[
        &format!("--evolux.url={}", upstream.uri()),
        &format!("--campaign={}", campaigns.join(",")),
        "--poll.max-interval=8h",
        &format!("--evolux.max-rps={MAX_RPS}"),
        &format!("--evolux.max-concurrency={MAX_CONCURRENCY}"),
    ]);
    // 40 campaigns of 7 segments, each verified at start-up: 360 reads
    // due, against 150 a poll.
    config.poll.budget = BUDGET;
    let app = spawn_app(config).await;
    app.wait_ready().await;
    let complete = |m: &Metrics| {
        campaigns
            .iter()
            .filter(|c| m.campaign_total(c) == 5.0)
            .count()
    };
    let mut polls = 1;
    let mut reads = vec![ranged.arrivals().len()];
    while complete(&app.scrape().await) < N {
        assert!(
            polls < 6,
            "{} of {N} campaigns complete after {polls} polls",
            complete(&app.scrape().await)
        );
        let before = ranged.arrivals().len();
        let report = app.poller.poll_once().await;
        assert_eq!(report.queries, ranged.arrivals().len() - before);
        reads.push(report.queries);
        polls += 1;
    }
    assert!(
        polls >= 3,
        "360 reads cannot fit two polls of {BUDGET}: {reads:?}"
    );
    assert!(
        reads.iter().all(|r| *r <= BUDGET),
        "reads per poll {reads:?}"
    );
    // Every poll read every campaign's newest segment.
    let arrivals = ranged.arrivals();
    let newest = arrivals
        .iter()
        .filter(|a| a.start.is_some() && a.end.is_none())
        .count();
    assert!(
        newest >= N * polls,
        "{newest} newest reads in {polls} polls"
    );
    // At the upstream: never more in flight than allowed (each answer is
    // held 15 ms, inside the client's permit), never more starts in a second.
    let starts: Vec<Instant> = arrivals.iter().map(|a| a.at).collect();
    let held = Duration::from_millis(15);
    for (i, s) in starts.iter().enumerate() {
        let overlapping = starts[..i].iter().filter(|t| **t + held > *s).count() + 1;
        assert!(
            overlapping <= MAX_CONCURRENCY,
            "{overlapping} in flight at request {i}"
        );
        let in_second = starts[i..]
            .iter()
            .take_while(|t| **t < *s + Duration::from_secs(1))
            .count();
        assert!(
            in_second as f64 <= MAX_RPS,
            "{in_second} starts within a second of request {i}"
        );
    }
}

#[tokio::test]
async fn an_absurd_retry_after_fails_the_read_without_stopping_the_poll() {
    let upstream = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(REPORT_PATH))
        .and(query_param("campaigns[]", CAMPAIGN_A))
        .respond_with(
            ResponseTemplate::new(429).insert_header("retry-after", "18446744073709551615"),
        )
        .mount(&upstream)
        .await;
    Mock::given(method("GET"))
        .and(path(REPORT_PATH))
        .and(query_param("campaigns[]", CAMPAIGN_B))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"data": [
                {"state": "sent", "template_uuid": TEMPLATE_1}
            ]})),
        )
        .mount(&upstream)
        .await;
    let app = spawn_app(config(&[
        &format!("--evolux.url={}", upstream.uri()),
        &format!("--campaign={CAMPAIGN_A}"),
        &format!("--campaign={CAMPAIGN_B}"),
    ]))
    .await;
    app.wait_ready().await;
    let snapshot = app.poller.published().snapshot();
    let a = &snapshot.campaigns[CAMPAIGN_A];
    assert!(!a.up);
    assert!(
        a.error
            .as_ref()
            .is_some_and(|f| f.message.contains("Retry-After")),
        "{:?}",
        a.error
    );
    assert!(snapshot.campaigns[CAMPAIGN_B].up);
    // The poller is alive: a second poll runs and ends.
    let report = app.poller.poll_once().await;
    assert_eq!(report.failed, 1);
    assert_eq!(subscribers(&app.scrape().await, CAMPAIGN_B, "sent"), 1.0);
}
