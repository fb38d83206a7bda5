//! Bodies wiremock cannot serve: streamed without a Content-Length, endless,
//! trickling or long and steady. The size cap, the progress timeout and the
//! poll deadline bound them while they stream; a long body that keeps
//! streaming is read to the end; and two polls asked for at once never
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
    /// Chunks before the body ends; `None`: never.
    chunks: Option<u64>,
}

async fn endless_upstream(chunk_delay: Duration, request_delay: Duration) -> EndlessUpstream {
    let stream = Stream {
        chunk_delay,
        records: 200,
        chunks: None,
    };
    streaming_upstream(stream, request_delay).await
}

async fn streaming_upstream(stream: Stream, request_delay: Duration) -> EndlessUpstream {
    let Stream {
        chunk_delay,
        records,
        chunks,
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
                    Ok::<_, std::io::Error>(Bytes::from_static(b"{\"data\":["))
                });
                let body = futures_util::stream::unfold(0u64, move |i| async move {
                    if !chunk_delay.is_zero() {
                        tokio::time::sleep(chunk_delay).await;
                    }
                    if chunks.is_some_and(|n| i == n) {
                        return Some((Ok(Bytes::from_static(b"]}")), i + 1));
                    }
                    if chunks.is_some_and(|n| i > n) {
                        return None;
                    }
                    let mut chunk = String::new();
                    for j in 0..records {
                        chunk.push_str(if i == 0 && j == 0 { "" } else { "," });
                        chunk.push_str(
                            r#"{"state":"sent","template_uuid":"t","name":"Maria do Carmo"}"#,
                        );
                    }
                    Some((Ok(Bytes::from(chunk)), i + 1))
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
    let mut config = config(&[
        &format!("--evolux.url={}", upstream.url),
        &format!("--campaign={CAMPAIGN_A}"),
    ]);
    config.evolux.timeout = timeout;
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
    // The response came (200); it was the body that failed. Not retried.
    assert_eq!(
        m.get("evolux_api_requests_total", &[("code", "200")]),
        Some(1.0)
    );
}

#[tokio::test]
async fn a_trickling_body_is_cut_at_the_timeout() {
    // One 62-byte record every 50 ms: about 870 bytes in the 700 ms timeout,
    // short of the 16 KiB that count as progress.
    let stream = Stream {
        chunk_delay: Duration::from_millis(50),
        records: 1,
        chunks: None,
    };
    let upstream = streaming_upstream(stream, Duration::ZERO).await;
    let app = app_with_timeout(&upstream, Duration::from_millis(700)).await;
    let started = Instant::now();
    app.poller.poll_once().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "poll took {:?}",
        started.elapsed()
    );
    let snapshot = app.poller.published().snapshot();
    let error = snapshot.campaigns[CAMPAIGN_A].error.clone();
    assert!(
        error.as_ref().is_some_and(|f| f.reason == Reason::Timeout),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_body_streaming_steadily_for_three_timeouts_is_read_to_the_end() {
    // 200 records (12 KiB) every 20 ms for 1.8 s: three times the 600 ms
    // timeout, and never a pause as long as it.
    let stream = Stream {
        chunk_delay: Duration::from_millis(20),
        records: 200,
        chunks: Some(90),
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
    let mut config = config(&[
        &format!("--evolux.url={}", upstream.url),
        &format!("--campaign={CAMPAIGN_A}"),
    ]);
    config.evolux.timeout = Duration::from_millis(500);
    config.poll.deadline = Duration::from_millis(1500);
    let app = spawn_app(config).await;
    app.wait_ready().await;
    let started = Instant::now();
    let report = app.poller.poll_once().await;
    let took = started.elapsed();
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
    let app = spawn_app(config(&[
        &format!("--evolux.url={}", upstream.url),
        &format!("--campaign={CAMPAIGN_A}"),
        "--evolux.max-response-size=64KiB",
        "--evolux.max-concurrency=4",
    ]))
    .await;
    app.wait_ready().await;
    let (a, b) = tokio::join!(app.poller.poll_once(), app.poller.poll_once());
    assert_eq!((a.failed, b.failed), (1, 1));
    assert_eq!(
        upstream.max_in_flight.load(Ordering::SeqCst),
        1,
        "two polls ran at once"
    );
}
