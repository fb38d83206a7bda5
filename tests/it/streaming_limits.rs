//! Bodies wiremock cannot serve: streamed without a Content-Length, endless,
//! trickling, going silent, or long and steady. The size cap, the idle
//! timeout (`--evolux.timeout`: no body byte for that long) and the poll
//! deadline bound them while they stream; a body that keeps bringing bytes,
//! however few, is read to the end; and two polls asked for at once never
//! overlap.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::app::*;
use crate::support::*;
use axum::body::Body;
use axum::routing::get;
use bytes::Bytes;
use evolux_exporter::model::Reason;
use evolux_exporter::poller::PollReport;

/// An upstream on loopback whose body is `{"data":[` and then records for
/// ever, `chunk_delay` apart; counts requests in flight at once.
struct EndlessUpstream {
    url: String,
    max_in_flight: Arc<AtomicUsize>,
}

/// The shape of the upstream's body.
#[derive(Clone, Copy)]
struct Stream {
    /// Wait before each chunk.
    chunk_delay: Duration,
    /// Records in a chunk.
    records: usize,
    /// What comes after the chunks of records.
    end: End,
}

/// How the upstream's body ends.
#[derive(Clone, Copy)]
enum End {
    /// It never does: chunks of records for ever.
    Never,
    /// After this many chunks of records, `]}` (one more `chunk_delay`
    /// later) and the end of the body.
    After(u64),
    /// After this many chunks of records, nothing more: the body stays open
    /// and silent, as does the connection.
    SilentAfter(u64),
}

/// The body's first bytes.
const HEAD: &[u8] = b"{\"data\":[";

/// The `i`th chunk of records, `records` of them.
fn records_chunk(i: u64, records: usize) -> String {
    let mut chunk = String::new();
    for j in 0..records {
        chunk.push_str(if i == 0 && j == 0 { "" } else { "," });
        chunk.push_str(r#"{"state":"sent","template_uuid":"t","name":"Maria do Carmo"}"#);
    }
    chunk
}

async fn endless_upstream(chunk_delay: Duration, request_delay: Duration) -> EndlessUpstream {
    let stream = Stream {
        chunk_delay,
        records: 200,
        end: End::Never,
    };
    streaming_upstream(stream, request_delay).await
}

async fn streaming_upstream(stream: Stream, request_delay: Duration) -> EndlessUpstream {
    let Stream {
        chunk_delay,
        records,
        end,
    } = stream;
    let in_flight = Arc::new(AtomicUsize::new(0));
    let max_in_flight = Arc::new(AtomicUsize::new(0));
    let (now, max) = (in_flight.clone(), max_in_flight.clone());
    let app = axum::Router::new().route(
        REPORT_PATH,
        get(move || {
            let (now, max) = (now.clone(), max.clone());
            async move {
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                max.fetch_max(n, Ordering::SeqCst);
                tokio::time::sleep(request_delay).await;
                now.fetch_sub(1, Ordering::SeqCst);
                let head = futures_util::stream::once(async {
                    Ok::<_, std::io::Error>(Bytes::from_static(HEAD))
                });
                let body = futures_util::stream::unfold(0u64, move |i| async move {
                    match end {
                        End::After(n) if i > n => return None,
                        End::SilentAfter(n) if i >= n => return std::future::pending().await,
                        _ => {}
                    }
                    if !chunk_delay.is_zero() {
                        tokio::time::sleep(chunk_delay).await;
                    }
                    if matches!(end, End::After(n) if i == n) {
                        return Some((Ok(Bytes::from_static(b"]}")), i + 1));
                    }
                    Some((Ok(Bytes::from(records_chunk(i, records))), i + 1))
                });
                Body::from_stream(futures_util::StreamExt::chain(head, body))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    EndlessUpstream { url, max_in_flight }
}

/// The exporter polling campaign A of `upstream`, with `timeout`, after its first poll.
async fn app_with_timeout(upstream: &EndlessUpstream, timeout: Duration) -> TestApp {
    app_with_limits(upstream, timeout, None).await
}

/// The exporter polling `upstream` with `--evolux.timeout` and, when
/// given, a poll deadline; ready (its first poll done).
async fn app_with_limits(
    upstream: &EndlessUpstream,
    timeout: Duration,
    deadline: Option<Duration>,
) -> TestApp {
    let mut config = config(&[
        &format!("--evolux.url={}", upstream.url),
        &format!("--campaign={CAMPAIGN_A}"),
    ]);
    config.evolux.timeout = timeout;
    // One read a poll (a new campaign's whole read without its check): a
    // poll's time is one read's.
    config.poll.budget = 1;
    if let Some(d) = deadline {
        config.poll.deadline = d;
    }
    let app = spawn_app(config).await;
    app.wait_ready().await;
    app
}

#[tokio::test]
async fn an_endless_body_is_cut_at_the_size_cap() {
    let upstream = endless_upstream(Duration::ZERO, Duration::ZERO).await;
    let app = spawn_app(config(&[
        &format!("--evolux.url={}", upstream.url),
        &format!("--campaign={CAMPAIGN_A}"),
        "--evolux.max-response-size=1MiB",
    ]))
    .await;
    app.wait_ready().await;
    let snapshot = app.poller.published().snapshot();
    let status = &snapshot.campaigns[CAMPAIGN_A];
    assert!(!status.up);
    let reason = status.error.as_ref().map(|f| f.reason);
    assert_eq!(reason, Some(Reason::TooLarge), "{:?}", status.error);
    let m = app.scrape().await;
    assert_eq!(
        m.get("evolux_campaign_up", &[("campaign", CAMPAIGN_A)]),
        Some(0.0)
    );
    // The responses came (200: the whole read and the two halves that
    // check it); it was the bodies that failed. Not retried.
    assert_eq!(
        m.get("evolux_api_requests_total", &[("code", "200")]),
        Some(FIRST_POLL_READS as f64)
    );
}

/// `poll_once`, failing the test rather than hanging if the poll outlasts
/// `within`.
async fn poll_within(app: &TestApp, within: Duration) -> (PollReport, Duration) {
    let started = Instant::now();
    let report = tokio::time::timeout(within, app.poller.poll_once())
        .await
        .unwrap_or_else(|_| panic!("the poll did not end within {within:?}"));
    (report, started.elapsed())
}

#[tokio::test]
async fn a_small_body_trickling_in_over_three_timeouts_is_read_to_the_end() {
    // One 62-byte record every 100 ms, ten of them, then the end: about
    // 650 bytes in 1.1 s, well under 16 KiB, over more than three of the
    // 300 ms timeouts; never silent for one.
    let stream = Stream {
        chunk_delay: Duration::from_millis(100),
        records: 1,
        end: End::After(10),
    };
    let upstream = streaming_upstream(stream, Duration::ZERO).await;
    let app = app_with_timeout(&upstream, Duration::from_millis(300)).await;
    let (report, took) = poll_within(&app, Duration::from_secs(10)).await;
    assert_eq!(
        report.failed,
        0,
        "{:?}",
        app.poller.published().snapshot().campaigns
    );
    assert!(
        took >= Duration::from_millis(1100),
        "the body ended early: {took:?}"
    );
    assert_eq!(report.records, 10);
    let sent = HEAD.len() + (0..10).map(|i| records_chunk(i, 1).len()).sum::<usize>() + 2;
    assert!(sent < 1024, "not a small body: {sent} bytes");
    assert_eq!(report.bytes, sent as u64);
    let m = app.scrape().await;
    assert_eq!(
        m.get(
            "evolux_campaign_subscribers",
            &[("campaign", CAMPAIGN_A), ("state", "sent")]
        ),
        Some(10.0)
    );
}

#[tokio::test]
async fn a_body_that_goes_silent_is_cut_one_timeout_after_its_last_byte() {
    // One record every 100 ms for 1 s (more than two 400 ms timeouts), then
    // nothing, the connection held open: cut 400 ms after the last byte.
    let timeout = Duration::from_millis(400);
    let streamed = Duration::from_millis(1000);
    let stream = Stream {
        chunk_delay: Duration::from_millis(100),
        records: 1,
        end: End::SilentAfter(10),
    };
    let upstream = streaming_upstream(stream, Duration::ZERO).await;
    let app = app_with_timeout(&upstream, timeout).await;
    let (report, took) = poll_within(&app, Duration::from_secs(10)).await;
    assert_eq!(report.failed, 1);
    // Not before: the bytes kept it alive, and the silence lasted a timeout.
    assert!(
        took >= streamed + timeout - Duration::from_millis(20),
        "cut after {took:?}, before the body went silent for {timeout:?}"
    );
    // Not much after: about one timeout of silence.
    assert!(
        took < streamed + timeout + Duration::from_millis(1500),
        "cut after {took:?}, long after the body went silent"
    );
    let error = app.poller.published().snapshot().campaigns[CAMPAIGN_A]
        .error
        .clone();
    let error = error.expect("the read failed");
    assert_eq!(error.reason, Reason::Timeout, "{error:?}");
    // Every byte sent was read before the cut.
    let sent = HEAD.len() + (0..10).map(|i| records_chunk(i, 1).len()).sum::<usize>();
    assert!(
        error.message.contains(&format!(
            "after {sent} bytes: no body byte for 400ms (--evolux.timeout)"
        )),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_endless_trickle_is_cut_at_the_poll_deadline_not_the_timeout() {
    // One 62-byte record every 50 ms, for ever: far below 16 KiB per 300 ms
    // timeout, but never silent for one. Only the poll's deadline ends it.
    let stream = Stream {
        chunk_delay: Duration::from_millis(50),
        records: 1,
        end: End::Never,
    };
    let upstream = streaming_upstream(stream, Duration::ZERO).await;
    let app = app_with_limits(
        &upstream,
        Duration::from_millis(300),
        Some(Duration::from_millis(1500)),
    )
    .await;
    let (report, took) = poll_within(&app, Duration::from_secs(10)).await;
    assert_cut_at_the_deadline(&app, &report, took);
}

#[tokio::test]
async fn a_body_streaming_steadily_for_three_timeouts_is_read_to_the_end() {
    // 200 records (12 KiB) every 20 ms for 1.8 s: three times the 600 ms
    // timeout, and never a pause as long as it.
    let stream = Stream {
        chunk_delay: Duration::from_millis(20),
        records: 200,
        end: End::After(90),
    };
    let upstream = streaming_upstream(stream, Duration::ZERO).await;
    let app = app_with_timeout(&upstream, Duration::from_millis(600)).await;
    let started = Instant::now();
    let report = app.poller.poll_once().await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1800),
        "the body ended early: {took:?}"
    );
    assert_eq!(
        report.failed,
        0,
        "{:?}",
        app.poller.published().snapshot().campaigns
    );
    assert_eq!(report.records, 90 * 200);
    let m = app.scrape().await;
    assert_eq!(
        m.get(
            "evolux_campaign_subscribers",
            &[("campaign", CAMPAIGN_A), ("state", "sent")]
        ),
        Some(18_000.0)
    );
}

#[tokio::test]
async fn an_endless_steady_body_is_cut_at_the_poll_deadline() {
    // Progress all the time, never an end: the poll's deadline ends it.
    let upstream = endless_upstream(Duration::from_millis(10), Duration::ZERO).await;
    let app = app_with_limits(
        &upstream,
        Duration::from_millis(500),
        Some(Duration::from_millis(1500)),
    )
    .await;
    let started = Instant::now();
    let report = app.poller.poll_once().await;
    assert_cut_at_the_deadline(&app, &report, started.elapsed());
}

/// The poll took the 1.5 s deadline (and not much more) and its one read
/// failed as `deadline`.
fn assert_cut_at_the_deadline(app: &TestApp, report: &PollReport, took: Duration) {
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(5),
        "poll took {took:?}"
    );
    assert_eq!(report.failed, 1);
    let snapshot = app.poller.published().snapshot();
    let error = snapshot.campaigns[CAMPAIGN_A].error.clone();
    assert_eq!(error.map(|f| f.reason), Some(Reason::Deadline));
}

#[tokio::test]
async fn polls_never_overlap() {
    // Each request waits 300 ms before answering (with an endless body cut
    // at 64 KiB, so each poll fails fast after that).
    let upstream = endless_upstream(Duration::ZERO, Duration::from_millis(300)).await;
    let mut config = config(&[
        &format!("--evolux.url={}", upstream.url),
        &format!("--campaign={CAMPAIGN_A}"),
        "--evolux.max-response-size=64KiB",
        "--evolux.max-concurrency=4",
    ]);
    // One read a poll (a new campaign's whole read without its check), so
    // two reads in flight can only be two polls.
    config.poll.budget = 1;
    let app = spawn_app(config).await;
    app.wait_ready().await;
    let (a, b) = tokio::join!(app.poller.poll_once(), app.poller.poll_once());
    assert_eq!((a.failed, b.failed), (1, 1));
    assert_eq!(
        upstream.max_in_flight.load(Ordering::SeqCst),
        1,
        "two polls ran at once"
    );
}
