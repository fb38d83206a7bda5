//! Bodies wiremock cannot serve: streamed without a Content-Length, endless
//! or trickling. The size cap and the request timeout bound them while they
//! stream; and two polls asked for at once never overlap.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::routing::get;
use bytes::Bytes;
use common::app::*;

/// An upstream on loopback whose body is `{"data":[` and then records for
/// ever, `chunk_delay` apart; counts requests in flight at once.
struct EndlessUpstream {
    url: String,
    max_in_flight: Arc<AtomicUsize>,
}

async fn endless_upstream(chunk_delay: Duration, request_delay: Duration) -> EndlessUpstream {
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
                let records = futures_util::stream::unfold(0u64, move |i| async move {
                    if !chunk_delay.is_zero() {
                        tokio::time::sleep(chunk_delay).await;
                    }
                    let mut chunk = String::new();
                    for j in 0..200 {
                        chunk.push_str(if i == 0 && j == 0 { "" } else { "," });
                        chunk.push_str(
                            r#"{"state":"sent","template_uuid":"t","name":"Maria do Carmo"}"#,
                        );
                    }
                    Some((Ok(Bytes::from(chunk)), i + 1))
                });
                Body::from_stream(futures_util::StreamExt::chain(head, records))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    EndlessUpstream { url, max_in_flight }
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
    let error = status.error.as_deref().unwrap_or_default();
    assert!(error.contains("max-response-size"), "{error}");
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
    let upstream = endless_upstream(Duration::from_millis(50), Duration::ZERO).await;
    let mut config = config(&[
        &format!("--evolux.url={}", upstream.url),
        &format!("--campaign={CAMPAIGN_A}"),
    ]);
    config.evolux.timeout = Duration::from_millis(700);
    let app = spawn_app(config).await;
    app.wait_ready().await;
    let started = Instant::now();
    app.poller.poll_once().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "poll took {:?}",
        started.elapsed()
    );
    let snapshot = app.poller.published().snapshot();
    let error = snapshot.campaigns[CAMPAIGN_A]
        .error
        .clone()
        .unwrap_or_default();
    assert!(error.contains("timed out"), "{error}");
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
