//! An upstream that is not there, goes away, does not resolve, or stalls.

use super::*;

/// Nothing listens on the configured port: every attempt is counted as
/// `code="error"`, the exporter is ready (so /metrics says why) but down,
/// with no counts to show.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_refused_from_the_start_is_ready_but_down_without_counts() {
    logs();
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    wait_until_refused(addr, Duration::from_secs(5)).await;
    let campaign = new_campaign();
    let app = start_app(&format!("http://{addr}"), &[&campaign], &[], |_| {}).await;
    app.wait_ready().await;
    let first = app.scrape().await;
    let down = |m: &Metrics| {
        assert_eq!(m.get("evolux_up", &[]), Some(0.0), "{}", m.0);
        assert_eq!(
            m.get("evolux_campaign_up", &[("campaign", &campaign)]),
            Some(0.0)
        );
        assert_eq!(subscriber_series(m, &campaign), 0);
        assert_eq!(last_success(m, &campaign), None);
    };
    down(&first);
    assert_eq!(requests_by_code(&first), codes(&[("error", 4.0)]));
    let run = poll_scraping(&app, Duration::from_secs(5), down).await;
    down(&run.metrics);
    assert_eq!(run.codes, codes(&[("error", 4.0)]));
    assert_failed_as(&app, &campaign, Reason::Connection).await;
    assert_failure_logged(&campaign, 2, Reason::Connection);
}

/// The upstream answered the first poll, then went away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_that_goes_away_keeps_the_last_good_counts() {
    // Not from the pool: this one stops listening when dropped.
    let mut rig = rig_on(MockServer::builder().start().await, &[], |_| {}).await;
    let addr = *rig.upstream().address();
    drop(rig.upstream.take());
    wait_until_refused(addr, Duration::from_secs(5)).await;
    let run = poll_scraping(&rig.app, Duration::from_secs(5), rig.as_before()).await;
    rig.assert_kept(&run.metrics, "upstream gone");
    assert_eq!(run.codes, codes(&[("error", 4.0)]));
    rig.assert_failed_as(Reason::Connection).await;
    assert_failure_logged(&rig.campaign, 1, Reason::Connection);
}

/// A host under `.invalid` (RFC 6761) never resolves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_failure_from_the_start_is_ready_but_down_without_counts() {
    logs();
    let campaign = new_campaign();
    let app = start_app(
        "http://evolux-exporter-fault-test.invalid",
        &[&campaign],
        &["--evolux.max-retries=1"],
        |_| {},
    )
    .await;
    app.wait_ready().await;
    let down = |m: &Metrics| {
        assert_eq!(m.get("evolux_up", &[]), Some(0.0), "{}", m.0);
        assert_eq!(
            m.get("evolux_campaign_up", &[("campaign", &campaign)]),
            Some(0.0)
        );
        assert_eq!(subscriber_series(m, &campaign), 0);
    };
    down(&app.scrape().await);
    // config() sets --evolux.timeout=2s: even a resolver that hangs is cut.
    let run = poll_scraping(&app, Duration::from_secs(6), down).await;
    down(&run.metrics);
    assert_eq!(run.codes, codes(&[("error", 2.0)]));
    assert_failed_as(&app, &campaign, Reason::Connection).await;
    assert_failure_logged(&campaign, 2, Reason::Connection);
}

/// Headers and part of the first record, then silence: the request timeout
/// ends the poll, and `/metrics` keeps answering from the last snapshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_stalling_mid_stream_is_ended_by_the_request_timeout() {
    logs();
    let campaign = new_campaign();
    let (good, before) = page(&campaign, BEFORE);
    let (recovered, after) = page(&campaign, AFTER);
    let (good, recovered) = (good.to_string(), recovered.to_string());
    let partial = format!(
        r#"{{"data":[{},{{"state":"sent","name":"Maria do Carmo","phone_number":"5511"#,
        records(&campaign, TEMPLATE_1, 1).0[0]
    );
    let upstream = RawUpstream::start(move |n, mut stream| {
        let (good, recovered, partial) = (good.clone(), recovered.clone(), partial.clone());
        async move {
            if read_request_head(&mut stream).await.is_none() {
                return;
            }
            match n {
                0 => write_json(&mut stream, good.as_bytes()).await,
                1 => {
                    use tokio::io::AsyncWriteExt;
                    let head = json_head(64 * 1024);
                    let _ = stream.write_all(head.as_bytes()).await;
                    let _ = stream.write_all(partial.as_bytes()).await;
                    let _ = stream.flush().await;
                    hold_until_closed(&mut stream).await;
                }
                _ => write_json(&mut stream, recovered.as_bytes()).await,
            }
        }
    })
    .await;
    let timeout = Duration::from_millis(1500);
    let app = start_app(&upstream.url(), &[&campaign], &[], |c| {
        c.evolux.timeout = timeout
    })
    .await;
    app.wait_ready().await;
    let m = app.scrape().await;
    assert_counts(&m, &campaign, TEMPLATE_1, &six(before));
    let success = last_success(&m, &campaign).unwrap();

    let run = poll_scraping(&app, Duration::from_secs(5), |m| {
        assert_eq!(m.get("evolux_up", &[]), Some(1.0));
        assert_counts(m, &campaign, TEMPLATE_1, &six(before));
    })
    .await;
    assert!(
        run.took >= timeout - Duration::from_millis(100) && run.took < Duration::from_secs(4),
        "the poll took {:?} with a {timeout:?} timeout",
        run.took
    );
    assert!(
        run.scrapes >= 5,
        "only {} scrapes during the stall",
        run.scrapes
    );
    assert_eq!(upstream.connections(), 2, "a stalled body is not retried");
    // The response came; it was its body that failed.
    assert_eq!(run.codes, codes(&[("200", 1.0)]));
    let m = &run.metrics;
    assert_eq!(
        m.get("evolux_campaign_up", &[("campaign", &campaign)]),
        Some(0.0)
    );
    assert_eq!(m.get("evolux_up", &[]), Some(0.0));
    assert_counts(m, &campaign, TEMPLATE_1, &six(before));
    assert_eq!(last_success(m, &campaign), Some(success));
    assert_failed_as(&app, &campaign, Reason::Timeout).await;
    assert_failure_logged(&campaign, 1, Reason::Timeout);

    let run = poll_scraping(&app, Duration::from_secs(5), |_| {}).await;
    assert_eq!(run.metrics.get("evolux_up", &[]), Some(1.0));
    assert_counts(&run.metrics, &campaign, TEMPLATE_1, &six(after));
}
