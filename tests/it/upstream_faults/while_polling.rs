//! What scrapes, other campaigns, staleness and the token file see while faults
//! happen.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_answer_at_once_while_a_poll_waits_on_a_slow_upstream() {
    let rig = start(&[CAMPAIGN_A], &["--evolux.max-retries=0"], |c| {
        c.evolux.timeout = Duration::from_secs(10)
    })
    .await;
    let (resp, after) = good_response(AFTER);
    rig.upstream.reset().await;
    rig.upstream
        .register(report(CAMPAIGN_A).respond_with(resp.set_delay(Duration::from_secs(3))))
        .await;
    let poller = rig.app.poller.clone();
    let poll = tokio::spawn(async move {
        let started = Instant::now();
        poller.poll_once().await;
        started.elapsed()
    });
    wait_for(
        "the slow request to reach the upstream",
        Duration::from_secs(5),
        || async { !rig.upstream.received_requests().await.unwrap().is_empty() },
    )
    .await;
    let mut scrapes = 0;
    while !poll.is_finished() {
        // scrape_now fails the test if /metrics takes 500 ms or more.
        let m = scrape_now(&impatient_client(), &rig.app).await;
        if poll.is_finished() {
            break;
        }
        // Still the previous poll's snapshot.
        assert_eq!(m.get("evolux_up", &[]), Some(1.0));
        assert_counts(&m, CAMPAIGN_A, rig.before, "during the slow poll");
        scrapes += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        scrapes >= 3,
        "only {scrapes} scrapes happened during the poll"
    );
    let took = poll.await.unwrap();
    assert!(took >= Duration::from_millis(2900), "took {took:?}");
    let m = scrape_now(&impatient_client(), &rig.app).await;
    assert_eq!(m.get("evolux_up", &[]), Some(1.0));
    assert_counts(&m, CAMPAIGN_A, after, "after the slow poll");
}

#[tokio::test]
async fn one_failing_campaign_does_not_stop_the_others() {
    let rig = start(
        &[CAMPAIGN_A, CAMPAIGN_B],
        &["--evolux.max-retries=1"],
        |_| {},
    )
    .await;
    let (ok_b, after_b) = good(CAMPAIGN_B, AFTER);
    let out = rig
        .poll_with([
            report(CAMPAIGN_A).respond_with(ResponseTemplate::new(500)),
            ok_b,
        ])
        .await;
    let m = &out.metrics;
    assert_down_keeping(m, CAMPAIGN_A, rig.before, "A failing");
    assert_eq!(
        m.get("evolux_campaign_up", &[("campaign", CAMPAIGN_B)]),
        Some(1.0)
    );
    assert_counts(m, CAMPAIGN_B, after_b, "B still polled");
    assert_eq!(out.codes, codes(&[("500", 2.0), ("200", 1.0)]));
    assert_eq!(
        rig.error(CAMPAIGN_A).map(|f| f.reason),
        Some(Reason::ServerError)
    );
    assert_eq!(rig.error(CAMPAIGN_B), None);
    rig.assert_recovers(1).await;
}

#[tokio::test]
async fn counts_are_removed_after_max_staleness_but_up_stays() {
    let spawned = Instant::now();
    let rig = start(&[CAMPAIGN_A], &["--evolux.max-retries=0"], |c| {
        c.poll.max_staleness = Duration::from_millis(300)
    })
    .await;
    let failing = || [report(CAMPAIGN_A).respond_with(ResponseTemplate::new(503))];
    let out = rig.poll_with(failing()).await;
    // The last success was after `spawned`; if this failed poll started
    // within 300 ms of it, the counts are still fresh.
    if spawned.elapsed() < Duration::from_millis(300) {
        assert_down_keeping(&out.metrics, CAMPAIGN_A, rig.before, "fresh failure");
    }
    wait_for("the counts to go stale", Duration::from_secs(5), || async {
        let out = rig.poll_with(failing()).await;
        subscriber_series(&out.metrics, CAMPAIGN_A) == 0
    })
    .await;
    let m = scrape_now(&impatient_client(), &rig.app).await;
    assert!(
        spawned.elapsed() >= Duration::from_millis(300),
        "removed before max_staleness"
    );
    assert_eq!(
        m.get("evolux_campaign_up", &[("campaign", CAMPAIGN_A)]),
        Some(0.0),
        "{}",
        m.0
    );
    assert_eq!(m.get("evolux_up", &[]), Some(0.0));
    assert_eq!(subscriber_series(&m, CAMPAIGN_A), 0, "{}", m.0);
    // Its counts expired: it is read anew, whole and checked.
    rig.assert_recovers(FIRST_POLL_READS).await;
}

#[tokio::test]
async fn rotated_token_file_is_picked_up_by_the_next_poll() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "old-token\n").unwrap();
    let upstream = MockServer::start().await;
    let (ok, counts) = good_response(AFTER);
    upstream
        .register(
            report(CAMPAIGN_A)
                .and(header("authorization", "Bearer new-token"))
                .respond_with(ok)
                .with_priority(1),
        )
        .await;
    upstream
        .register(
            report(CAMPAIGN_A)
                .respond_with(ResponseTemplate::new(401))
                .with_priority(10),
        )
        .await;
    // config() hands the test TOKEN over as EVOLUX_TOKEN; the file wins.
    let app = spawn_app(config(&[
        &format!("--evolux.url={}", upstream.uri()),
        &format!("--campaign={CAMPAIGN_A}"),
        &format!("--evolux.token-file={}", token_file.display()),
    ]))
    .await;
    app.wait_ready().await;
    let m = scrape_now(&impatient_client(), &app).await;
    assert_eq!(
        m.get("evolux_campaign_up", &[("campaign", CAMPAIGN_A)]),
        Some(0.0),
        "{}",
        m.0
    );
    assert_eq!(m.get("evolux_up", &[]), Some(0.0));
    assert_eq!(
        m.get("evolux_api_requests_total", &[("code", "401")]),
        Some(FIRST_POLL_READS as f64)
    );
    assert_eq!(subscriber_series(&m, CAMPAIGN_A), 0);

    std::fs::write(&token_file, "new-token\n").unwrap();
    app.poller.poll_once().await;
    let m = scrape_now(&impatient_client(), &app).await;
    assert_eq!(
        m.get("evolux_campaign_up", &[("campaign", CAMPAIGN_A)]),
        Some(1.0),
        "{}",
        m.0
    );
    assert_eq!(m.get("evolux_up", &[]), Some(1.0));
    assert_counts(&m, CAMPAIGN_A, counts, "after the rotation");

    let auth: Vec<String> = upstream
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.headers["authorization"].to_str().unwrap().to_string())
        .collect();
    // Each poll's three reads (the campaign is still new at the second).
    let mut expected = vec!["Bearer old-token"; FIRST_POLL_READS];
    expected.extend(vec!["Bearer new-token"; FIRST_POLL_READS]);
    assert_eq!(auth, expected);
}
